"""Run the demo: ingest, simulate, audit, report (see :mod:`tailguard.demo`)."""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from tailguard.demo.evidence import (
    AVERAGE_HELD,
    Change,
    Headline,
    PolicyEvidence,
    audit_changes,
    headline,
    metric_change,
    simulation_changes,
    stated_test,
)
from tailguard.errors import UnsafePathError
from tailguard.simulate.stats import METHOD
from tailguard.simulate.theory import COLLAPSE_CHANGE

FAMILIES = ("gmm", "ngram", "digits", "pseudolabel")
POLICIES = ("replace", "accumulate", "anchor:0.2")
#: each family's average score: where it holds while a metric falls, the report names the averages trap
AVERAGE_METRICS = {"pseudolabel": "accuracy", "digits": "fidelity"}


@dataclass(frozen=True)
class DemoSettings:
    """How big the demo runs. ``default()`` fits in about 3 minutes on 2 cores."""

    generations: int = 10
    seeds: int = 6
    sample_sizes: tuple[tuple[str, int], ...] = (("gmm", 500), ("ngram", 600), ("digits", 500), ("pseudolabel", 500))
    detection_images: int = 120
    workers: int = 2
    #: the figures draw the 10–90% spread of the seeds (dotted) beside the mean and its CI band
    spread: bool = True

    @classmethod
    def default(cls) -> DemoSettings:
        return cls()

    @classmethod
    def quick(cls) -> DemoSettings:
        """Small settings for tests and smoke runs (seconds, not minutes)."""
        return cls(generations=3, seeds=2,
                   sample_sizes=(("gmm", 200), ("ngram", 200), ("digits", 300), ("pseudolabel", 500)),
                   detection_images=20, workers=1)

    def sample_size(self, family: str) -> int:
        return dict(self.sample_sizes)[family]


@dataclass
class FamilyOutcome:
    """One family's simulation and the audits of its last generation per policy."""

    family: str
    results: Any  # SimulationResults
    #: policy -> AuditReport of the last generation against held-out human data, generation 0 as the
    #: baseline; its ``baseline_verdict`` is generation 0's own verdict (the model's own error)
    audits: dict[str, Any] = field(default_factory=dict)
    report_path: Path | None = None

    def evidence(self, policy: str) -> PolicyEvidence:
        """The policy's per-metric changes from generation 0 to the last (simulation and audit)."""
        report = self.audits.get(policy)
        changes = simulation_changes(self.results, policy)
        unjudged = sorted({f"simulation: {c.reason}" for c in changes if c.status == "insufficient" and c.reason})
        if report is not None:
            changes += audit_changes(report)
        audit_reason = "not audited" if report is None else report.insufficient_reason
        reasons = unjudged + ([audit_reason] if audit_reason else [])
        return PolicyEvidence(
            self.family,
            policy,
            tuple(changes),
            audit_verdict=report.verdict if report is not None else "insufficient",
            baseline_verdict=(report.baseline_verdict or "insufficient") if report is not None else "insufficient",
            diagnosis=report.diagnosis.mode if report is not None else "n/a",
            insufficient_reason="; ".join(reasons),
        )

    def simulation_changes(self) -> list[Change]:
        """Every policy's simulated tail-metric changes (what :func:`stated_test` describes)."""
        return [c for p in self.results.policies for c in simulation_changes(self.results, p)]

    def headline(self) -> Headline:
        """What the report claims about this family, derived from :meth:`evidence` alone."""
        average = AVERAGE_METRICS.get(self.family)
        averages = {p: metric_change(self.results, p, average) if average else None for p in self.results.policies}
        return headline(self.family, [self.evidence(p) for p in self.results.policies], averages)


@dataclass
class DemoResult:
    out_dir: Path
    report: Path
    ledger_url: str
    ingested: dict[str, int]
    families: list[FamilyOutcome]
    elapsed_s: float
    settings: DemoSettings = field(default_factory=DemoSettings)

    def stated_test(self) -> list[str]:
        """The simulation test the report used, written from its settings and this run's changes."""
        return stated_test([c for fam in self.families for c in fam.simulation_changes()])

    def verdict_table(self) -> list[dict[str, Any]]:
        """One row per (family, policy): trend, worst change, audit verdicts, diagnosis."""
        rows = []
        for fam in self.families:
            for policy in fam.results.policies:
                rows.append(fam.evidence(policy).to_dict())
        return rows

    def to_dict(self) -> dict[str, Any]:
        """``demo.json``: the verdict table, every change behind it and each family's claims."""
        return {
            "elapsed_s": round(self.elapsed_s, 1),
            "ledger_url": self.ledger_url,
            "ingested": self.ingested,
            "simulation_test": {**METHOD, "collapse_change": COLLAPSE_CHANGE, "average_held": AVERAGE_HELD,
                                "statement": self.stated_test()},
            "rows": self.verdict_table(),
            "headlines": [fam.headline().to_dict() for fam in self.families],
        }

    def write_json(self) -> Path:
        path = self.out_dir / "demo.json"
        path.write_text(json.dumps(self.to_dict(), indent=1, allow_nan=False), encoding="utf-8")
        return path


def _fresh_dir(out: Path) -> None:
    """Clear a previous demo's outputs, but never a folder that isn't one of ours."""
    if out.exists():
        marker = out / ".tailguard-demo"
        if any(out.iterdir()) and not marker.exists():
            raise UnsafePathError(
                "exists and is not a tailguard demo folder; choose another --out or empty it", path=out
            )
        shutil.rmtree(out)
    out.mkdir(parents=True)
    (out / ".tailguard-demo").write_text("made by `tailguard demo`; deleted and rewritten on each run\n")


def _ingest_human_data(ledger: Any, data_dir: Path, settings: DemoSettings) -> dict[str, int]:
    """Write the built-in real datasets as files and ingest each as a human version."""
    from tailguard import data

    data_dir.mkdir(parents=True, exist_ok=True)
    digits = data.load_digits()
    np.save(data_dir / "digits.npy", np.asarray(digits.X, dtype=np.float32))
    for name, loader in (("wine", data.load_wine), ("breast_cancer", data.load_breast_cancer)):
        table = loader()
        header = ",".join(str(f).replace(",", " ") for f in table.feature_names)
        np.savetxt(data_dir / f"{name}.csv", table.X, delimiter=",", header=header, comments="")
    with open(data_dir / "python_docs.jsonl", "w", encoding="utf-8") as fh:
        for doc in data.python_docs_paragraphs():
            fh.write(json.dumps({"text": doc}) + "\n")
    yaml_path = data.make_detection_dataset(data_dir / "detection", settings.detection_images, seed=0, imgsz=96)
    counts = {}
    for name, path in (
        ("digits", data_dir / "digits.npy"),
        ("wine", data_dir / "wine.csv"),
        ("breast_cancer", data_dir / "breast_cancer.csv"),
        ("python_docs", data_dir / "python_docs.jsonl"),
        ("detection", yaml_path),
    ):
        report = ledger.ingest(path, origin="human", verified_by="tailguard-demo", as_version=f"human-{name}")
        counts[name] = report.added + report.existing
    return counts


def run_demo(
    out: str | Path = "demo-report",
    *,
    settings: DemoSettings | None = None,
    progress: Callable[[str], None] | None = None,
    entropy: int = 0,
) -> DemoResult:
    """Run the main job and write ``out/report.html``; returns what it found.

    ``progress`` is called with a short message before each step.
    """
    from tailguard.demo.report import write_demo_report
    from tailguard.ledger import Ledger
    from tailguard.simulate import simulate, write_report
    from tailguard.simulate.audits import audit_last_generations
    from tailguard.simulate.family import get_family

    settings = settings or DemoSettings.default()
    say = progress or (lambda _msg: None)
    start = time.perf_counter()
    out_dir = Path(out).resolve()
    _fresh_dir(out_dir)
    ledger_url = f"sqlite:///{out_dir / 'ledger.db'}"
    outcomes = []
    with Ledger.open(ledger_url) as ledger:
        say("ingesting the built-in human data into a fresh ledger")
        ingested = _ingest_human_data(ledger, out_dir / "data", settings)
        for name in FAMILIES:
            say(f"simulating {name} under {', '.join(POLICIES)}")
            family = get_family(name)
            results = simulate(
                family,
                list(POLICIES),
                generations=settings.generations,
                seeds=settings.seeds,
                sample_size=settings.sample_size(name),
                workers=settings.workers,
                ledger=ledger,
                out=out_dir / "simulations" / name,
                entropy=entropy,
            )
            fam_report = write_report(results, str(out_dir / "simulations" / name))
            outcome = FamilyOutcome(name, results, report_path=Path(fam_report))
            say(f"auditing the last {name} generations against held-out human data, generation 0 as the baseline")
            for policy, report in audit_last_generations(results, family, entropy=entropy).items():
                report.write(out_dir / "audits" / f"{name}-{policy.replace(':', '_')}")
                outcome.audits[policy] = report
            outcomes.append(outcome)
    result = DemoResult(out_dir, out_dir / "report.html", ledger_url, ingested, outcomes,
                        time.perf_counter() - start, settings)
    result.write_json()
    write_demo_report(result)
    return result


