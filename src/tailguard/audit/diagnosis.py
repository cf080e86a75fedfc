"""Names the most likely failure mode from the audit's signals, with the evidence.

The modes are told apart by what moved:

- ``model_collapse``: tails and diversity lost relative to the human reference;
- ``mode_collapse``: a near-duplicate explosion and a tiny Vendi score within one output set;
- ``overfitting``: the train/validation gap (needs ``train_metrics``);
- ``catastrophic_forgetting``: an old task's metric dropped (needs ``old_task_metrics``);
- ``drift``: the distribution shifted (drift tests fire) without losing spread;
- ``domain_mismatch`` (text; set by :mod:`tailguard.audit.domain`): the reference does
  not represent the candidate's domain, so what moved is not evidence of collapse;
- ``none``: nothing beyond tolerance.

Each mode gets a score in [0, 1]; the top one is the diagnosis and its
confidence is the score less half the runner-up's.

``train_metrics`` is ``{"train": {"loss": 0.1}, "val": {"loss": 0.6}}`` (a list
per metric for a history: one value per epoch); ``old_task_metrics`` is
``{"before": {"task_a/accuracy": 0.91}, "after": {"task_a/accuracy": 0.52}}``.
Names containing ``loss`` or ``error`` are lower-is-better, others higher-is-better.

>>> d = diagnose([], Thresholds.default(), old_task_metrics={"before": {"acc": 0.9}, "after": {"acc": 0.5}})
>>> d.mode, d.evidence[0]
('catastrophic_forgetting', 'old-task acc fell from 0.9 to 0.5 (44% worse)')
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from tailguard.audit.results import Diagnosis, MetricRow
from tailguard.audit.thresholds import Thresholds, is_flagged
from tailguard.errors import BadInputError

MODES = ("none", "model_collapse", "mode_collapse", "overfitting", "catastrophic_forgetting", "drift")
#: Modes set outside :func:`diagnose`, from checks that are not metric rows.
OTHER_MODES = ("domain_mismatch",)
SEVERITY = {"ok": 0.0, "warn": 0.6, "collapse": 1.0}
DRIFT_HINTS = ("mmd", "ks", "psi", "c2st", "auc")

#: What each mode means, for docs and the report's legend. The diagnosis's ``summary`` is not
#: taken from here: it is written from the rows that fired (see :func:`diagnose`).
MEANINGS = {
    "none": "no failure signal beyond tolerance",
    "model_collapse": "tails and diversity lost relative to the human reference (typical of training on "
    "generated data)",
    "mode_collapse": "the outputs repeat themselves (near-duplicates, tiny Vendi score)",
    "overfitting": "the gap between training and validation metrics is large or growing",
    "catastrophic_forgetting": "an old task's metric dropped after new training",
    "drift": "the distribution moved, but its spread and tails are intact",
    "domain_mismatch": "the reference does not represent the candidate's domain: the metrics measure the "
    "difference of domain, not collapse",
}


def _lower_is_better(name: str) -> bool:
    n = name.lower()
    return "loss" in n or "error" in n or "perplexity" in n


def _last(v: Any, what: str) -> float:
    if isinstance(v, list | tuple):
        if not v:
            raise BadInputError(f"{what} is an empty list")
        v = v[-1]
    try:
        f = float(v)
    except (TypeError, ValueError):
        raise BadInputError(f"{what} must be a number or a list of numbers, got {v!r}") from None
    if not math.isfinite(f):
        raise BadInputError(f"{what} is not finite ({v!r})")
    return f


def _rel_worse(name: str, good: float, other: float) -> float:
    """How much worse ``other`` is than ``good``, relative to ``good`` (positive = worse)."""
    scale = max(abs(good), 1e-12)
    return (other - good) / scale if _lower_is_better(name) else (good - other) / scale


def normalise_train_metrics(train_metrics: Mapping[str, Any]) -> dict[str, tuple[Any, Any]]:
    """``{name: (train, val)}`` from ``{"train": {...}, "val": {...}}`` or flat
    ``{"train_loss": ..., "val_loss": ...}``."""
    if not isinstance(train_metrics, Mapping):
        raise BadInputError("train metrics must be a mapping with 'train' and 'val'", path="train_metrics")
    if "train" in train_metrics and ("val" in train_metrics or "validation" in train_metrics):
        train = train_metrics["train"]
        val = train_metrics.get("val", train_metrics.get("validation"))
        if not isinstance(train, Mapping) or not isinstance(val, Mapping):
            raise BadInputError("'train' and 'val' must map metric names to values", path="train_metrics")
        pairs = {k: (train[k], val[k]) for k in train if k in val}
    else:
        pairs = {}
        for key, value in train_metrics.items():
            if key.startswith("train_"):
                base = key[len("train_"):]
                for vkey in (f"val_{base}", f"validation_{base}"):
                    if vkey in train_metrics:
                        pairs[base] = (value, train_metrics[vkey])
    if not pairs:
        raise BadInputError(
            "no metric appears in both train and val (expected {'train': {...}, 'val': {...}})",
            path="train_metrics",
        )
    return pairs


def _overfitting(train_metrics: Mapping[str, Any], limit: float) -> tuple[float, list[str]]:
    score, evidence = 0.0, []
    for name, (tr, va) in normalise_train_metrics(train_metrics).items():
        t, v = _last(tr, f"train {name}"), _last(va, f"val {name}")
        gap = _rel_worse(name, t, v)
        line = f"train {name} {t:.4g} vs val {v:.4g}: val is {gap:.0%} worse"
        if isinstance(tr, list | tuple) and isinstance(va, list | tuple) and len(tr) >= 2 and len(va) >= 2:
            g0 = _rel_worse(name, _last(tr[:1], name), _last(va[:1], name))
            line += f" (gap {'grew' if gap > g0 else 'did not grow'} from {g0:.0%} over {len(tr)} epochs)"
            if gap <= g0:
                gap *= 0.5  # a large but stable gap is weaker evidence of overfitting
        evidence.append(line)
        score = max(score, min(1.0, gap / (2 * limit)) if gap > 0 else 0.0)
    return score, evidence


def _forgetting(old_task_metrics: Mapping[str, Any], limit: float) -> tuple[float, list[str]]:
    if not isinstance(old_task_metrics, Mapping) or "before" not in old_task_metrics or "after" not in old_task_metrics:
        raise BadInputError("old-task metrics must be {'before': {...}, 'after': {...}}", path="old_task_metrics")
    before, after = old_task_metrics["before"], old_task_metrics["after"]
    if not isinstance(before, Mapping) or not isinstance(after, Mapping):
        raise BadInputError("'before' and 'after' must map metric names to values", path="old_task_metrics")
    common = [k for k in before if k in after]
    if not common:
        raise BadInputError("no metric appears in both 'before' and 'after'", path="old_task_metrics")
    score, evidence = 0.0, []
    for name in common:
        b, a = _last(before[name], f"before {name}"), _last(after[name], f"after {name}")
        drop = _rel_worse(name, b, a)
        verb = "rose" if a > b else "fell"
        evidence.append(f"old-task {name} {verb} from {b:.4g} to {a:.4g} ({abs(drop):.0%} {'worse' if drop > 0 else 'better'})")
        score = max(score, min(1.0, drop / (2 * limit)) if drop > 0 else 0.0)
    return score, evidence


def _severity(rows: Sequence[MetricRow]) -> float:
    return max((SEVERITY[r.status] for r in rows), default=0.0)


def _find(rows: Sequence[MetricRow], *hints: str, family: str | None = None) -> list[MetricRow]:
    out = []
    for r in rows:
        text = f"{r.metric} {r.name}".lower()
        if (family is None or r.family == family) and all(h in text for h in hints):
            out.append(r)
    return out


def _describe(r: MetricRow) -> str:
    ref = f" vs reference {r.reference_value:.4g}" if r.reference_value is not None else ""
    base = f", baseline {r.baseline_value:.4g}" if r.baseline_value is not None else ""
    return f"{r.name} = {r.value:.4g}{ref}{base} ({r.status}: {r.reason})"


def _fired(rows: Sequence[MetricRow]) -> list[MetricRow]:
    """Rows flagged worse (the only rows a diagnosis may cite)."""
    return [r for r in rows if is_flagged(r.status) and (r.degradation is None or r.degradation > 0)]


def _change(r: MetricRow, t: Thresholds) -> str:
    """``name`` with its change, as the table shows it (e.g. ``recall 40% worse (collapse)``)."""
    if r.degradation is not None and math.isfinite(r.degradation):
        if t.rule_for(r.family, r.metric, r.value_name).kind != "excess":  # a relative change
            return f"{r.name} {r.degradation:.0%} worse ({r.status})"
        return f"{r.name} {r.degradation:.3g} worse ({r.status})"  # excess rules: a difference of shares
    return f"{r.name} {r.value:.3g} ({r.status})"


def _names(rows: Sequence[MetricRow], t: Thresholds, limit: int = 4) -> str:
    shown = ", ".join(_change(r, t) for r in rows[:limit])
    return shown + (f" and {len(rows) - limit} more" if len(rows) > limit else "")


def _against(rows: Sequence[MetricRow]) -> str:
    return "the baseline" if any(r.baseline_value is not None for r in rows) else "the reference"


def _summary(mode: str, rows: Sequence[MetricRow], cited: Sequence[MetricRow], extra: Sequence[str],
             t: Thresholds) -> str:
    """The diagnosis's sentence, written only from the rows it cites (and the extra inputs' lines)."""
    fired = _fired(rows)
    judged = [r for r in rows if r.reason != "reported only"]
    if mode == "none":
        if not fired:
            return f"No failure mode: all {len(judged)} judged metrics are within tolerance of {_against(rows)}."
        return (f"No failure mode stands out: {len(fired)} metric(s) flagged ({_names(fired, t)}) do not form the "
                f"pattern of any mode.")
    if mode == "model_collapse":
        tails = [r for r in cited if r.family == "tails"]
        div = [r for r in cited if r.family != "tails"]
        parts = []
        if tails:
            parts.append(f"{len(tails)} tail metric(s) fell ({_names(tails, t)})")
        if div:
            parts.append(f"{len(div)} diversity/fidelity metric(s) fell ({_names(div, t)})")
        kept = "" if (tails and div) else (
            "; no diversity or fidelity metric fell" if tails else "; no tail metric fell")
        return f"Model collapse against {_against(rows)}: " + " and ".join(parts) + kept + "."
    if mode == "mode_collapse":
        return "Mode collapse: " + "; ".join(extra) + "."
    if mode == "drift":
        return (f"Drift: {_names(cited, t)} moved beyond tolerance, while no tail, diversity or fidelity metric "
                f"fell" + (f" ({extra[0]})" if extra else "") + ".")
    if mode == "overfitting":
        return "Overfitting: " + "; ".join(extra[:2]) + "."
    return "Catastrophic forgetting: " + "; ".join(extra[:2]) + "."


def diagnose(
    rows: Sequence[MetricRow],
    thresholds: Thresholds,
    *,
    train_metrics: Mapping[str, Any] | None = None,
    old_task_metrics: Mapping[str, Any] | None = None,
) -> Diagnosis:
    """Score every mode from the judged rows and the optional extra inputs."""
    x = thresholds.extras
    scores = dict.fromkeys(MODES, 0.0)
    evidence: dict[str, list[str]] = {m: [] for m in MODES}

    fired = _fired(rows)
    cited: dict[str, list[MetricRow]] = {m: [] for m in MODES}
    lost_tails = [r for r in fired if r.family == "tails"]
    lost_div = [r for r in fired if r.family in ("diversity", "fidelity")]
    tail_sev, div_sev = _severity(lost_tails), _severity(lost_div)
    scores["model_collapse"] = 0.5 * tail_sev + 0.5 * div_sev
    cited["model_collapse"] = sorted(lost_tails + lost_div, key=lambda r: -SEVERITY[r.status])[:8]
    evidence["model_collapse"] = [_describe(r) for r in cited["model_collapse"]]

    # Mode collapse: duplicates within the candidate and a tiny Vendi score, each flagged.
    dup_rows = [r for r in fired if r.family == "duplicates" and "ref" not in r.name.lower()
                and r.value >= x.get("mode_collapse_duplicate_rate", 0.3)]
    vendi_rows = [r for r in _find(fired, "vendi") if r.reference_value
                  and r.value / r.reference_value <= x.get("mode_collapse_vendi_ratio", 0.25)]
    if dup_rows:
        top = max(dup_rows, key=lambda r: r.value)
        evidence["mode_collapse"].append(f"near-duplicate rate within the candidate {top.value:.1%} ({top.name}, "
                                         f"{top.status})")
        cited["mode_collapse"].append(top)
    if vendi_rows:
        low = min(vendi_rows, key=lambda r: r.value / r.reference_value)  # type: ignore[operator]
        evidence["mode_collapse"].append(f"Vendi score only {low.value / low.reference_value:.1%} of the "  # type: ignore[operator]
                                         f"reference's ({low.name}, {low.status})")
        cited["mode_collapse"].append(low)
    scores["mode_collapse"] = 0.5 * bool(dup_rows) + 0.5 * bool(vendi_rows)
    if dup_rows and vendi_rows:
        scores["mode_collapse"] = 1.0  # the specific signature wins over the general loss
        scores["model_collapse"] = min(scores["model_collapse"], 0.9)

    # Drift: drift tests flagged while the spread is kept (no tail, diversity or fidelity row fell).
    moved = [r for r in fired if r.family in ("drift", "bulk") or any(h in r.metric.lower() for h in DRIFT_HINTS)]
    cov = [r for r in _find(rows, "trace") if r.ratio is not None]
    spread_kept = all(r.ratio >= x.get("drift_spread_kept", 0.9) for r in cov) and tail_sev == 0 and div_sev == 0
    scores["drift"] = _severity(moved) * (1.0 if spread_kept else 0.3)
    cited["drift"] = moved[:6]
    evidence["drift"] = [_describe(r) for r in moved[:6]]
    if moved and spread_kept:
        evidence["drift"].append("spread kept: no tail or diversity loss"
                                 + (f", covariance trace ratio {cov[0].ratio:.3g}" if cov else ""))

    if train_metrics is not None:
        scores["overfitting"], evidence["overfitting"] = _overfitting(train_metrics, x.get("overfitting_gap", 0.1))
    if old_task_metrics is not None:
        scores["catastrophic_forgetting"], evidence["catastrophic_forgetting"] = _forgetting(
            old_task_metrics, x.get("forgetting_drop", 0.1)
        )

    rounded = {m: round(s, 3) for m, s in scores.items() if m != "none"}
    ranked = sorted((m for m in MODES if m != "none"), key=lambda m: -scores[m])
    top, second = ranked[0], ranked[1]
    if scores[top] < 0.3:
        fired_lines = tuple(_describe(r) for r in fired[:8]) or ("no failure signal beyond tolerance",)
        return Diagnosis("none", round(1.0 - scores[top], 3), fired_lines, rounded,
                         _summary("none", rows, fired, (), thresholds), tuple(r.name for r in fired[:8]))
    confidence = max(0.0, min(1.0, scores[top] - 0.5 * scores[second]))
    extra = evidence[top] if top in ("mode_collapse", "overfitting", "catastrophic_forgetting") else []
    if top == "drift" and cov:
        extra = [f"covariance trace ratio {cov[0].ratio:.3g}"]
    return Diagnosis(top, round(confidence, 3), tuple(evidence[top]), rounded,
                     _summary(top, rows, cited[top], extra, thresholds), tuple(r.name for r in cited[top]))
