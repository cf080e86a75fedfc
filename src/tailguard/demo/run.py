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

from tailguard.errors import UnsafePathError

FAMILIES = ("gmm", "ngram", "digits")
POLICIES = ("replace", "accumulate", "anchor:0.2")


@dataclass(frozen=True)
class DemoSettings:
    """How big the demo runs. ``default()`` fits in about 3 minutes on 2 cores."""

    generations: int = 10
    seeds: int = 6
    sample_sizes: tuple[tuple[str, int], ...] = (("gmm", 500), ("ngram", 600), ("digits", 500))
    detection_images: int = 120
    workers: int = 2

    @classmethod
    def default(cls) -> DemoSettings:
        return cls()

    @classmethod
    def quick(cls) -> DemoSettings:
        """Small settings for tests and smoke runs (seconds, not minutes)."""
        return cls(generations=3, seeds=2, sample_sizes=(("gmm", 200), ("ngram", 200), ("digits", 300)),
                   detection_images=20, workers=1)

    def sample_size(self, family: str) -> int:
        return dict(self.sample_sizes)[family]


@dataclass
class FamilyOutcome:
    """One family's simulation and the audits of its last generation per policy."""

    family: str
    results: Any  # SimulationResults
    audits: dict[str, Any] = field(default_factory=dict)  # policy -> AuditReport of the last generation
    baseline: Any = None  # AuditReport of generation 0 (shared by all policies): the model's own error
    report_path: Path | None = None

    def tail_change(self, policy: str) -> dict[str, float]:
        """Median relative change of each tail metric from generation 0 to the last."""
        out = {}
        for metric in self.results.tail_metrics():
            med = self.results.summary(policy, metric)["median"]
            first, last = med[0], med[-1]
            if first is not None and last is not None and first != 0:
                out[metric] = (last - first) / abs(first)
        return out

    def worst_tail_change(self, policy: str) -> float:
        changes = self.tail_change(policy)
        return min(changes.values()) if changes else float("nan")


@dataclass
class DemoResult:
    out_dir: Path
    report: Path
    ledger_url: str
    ingested: dict[str, int]
    families: list[FamilyOutcome]
    elapsed_s: float

    def verdict_table(self) -> list[dict[str, Any]]:
        """One row per (family, policy): worst tail change, audit verdict and diagnosis."""
        rows = []
        for fam in self.families:
            for policy in fam.results.policies:
                report = fam.audits.get(policy)
                rows.append({
                    "family": fam.family,
                    "policy": policy,
                    "worst_tail_change": fam.worst_tail_change(policy),
                    "baseline_verdict": fam.baseline.verdict if fam.baseline is not None else "n/a",
                    "verdict": report.verdict if report is not None else "n/a",
                    "diagnosis": report.diagnosis.mode if report is not None else "n/a",
                })
        return rows


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


def _audit_inputs(family: Any, setup: Any, samples: np.ndarray) -> tuple[Any, Any]:
    """(candidate, reference) for auditing one generation's samples against held-out human data."""
    if family.sample_kind == "text":
        return (family.render_text(samples, setup, limit=len(samples)),
                family.render_text(setup.heldout, setup, limit=len(setup.heldout)))
    return family.features(samples), family.features(setup.heldout)


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
    from tailguard.audit import AuditConfig, audit
    from tailguard.demo.report import write_demo_report
    from tailguard.ledger import Ledger
    from tailguard.simulate import simulate, write_report
    from tailguard.simulate.family import get_family
    from tailguard.simulate.seeding import stream

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
            say(f"auditing generation 0 and the last {name} generation against held-out human data")
            setup = family.setup(settings.sample_size(name), stream(entropy, seed=0, generation=0, purpose="setup"))
            targets = [("generation-0", "generation 0 (all policies)", results.first_samples(results.policies[0]))]
            targets += [(policy, f"generation {settings.generations} under {policy}", results.last_samples(policy))
                        for policy in results.policies]
            for key, label, samples in targets:
                candidate, reference = _audit_inputs(family, setup, samples)
                report = audit(candidate, reference, config=AuditConfig(quick=True), seed=entropy)
                report.candidate = f"{name} {label}"
                report.reference = f"held-out human {name} data"
                report.write(out_dir / "audits" / f"{name}-{key.replace(':', '_')}")
                if key == "generation-0":
                    outcome.baseline = report
                else:
                    outcome.audits[key] = report
            outcomes.append(outcome)
    result = DemoResult(out_dir, out_dir / "report.html", ledger_url, ingested, outcomes,
                        time.perf_counter() - start)
    write_demo_report(result)
    return result
