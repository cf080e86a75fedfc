"""Documented, overridable thresholds that turn a metric value into a status.

Every row of an audit (one :class:`~tailguard.metrics.base.MetricValue`) is
matched against an ordered list of rules; the first rule whose pattern matches
``"family/metric/value"`` (``fnmatch`` syntax) decides its status:

``ratio``
    The *degradation* is ``1 - value/reference`` when higher is better and
    ``value/reference - 1`` when lower is better (positive means worse).
    ``warn`` and ``collapse`` are degradation levels (0.15 = 15% worse).
``abs_ratio``
    Like ``ratio`` but a change in either direction counts: ``|ratio - 1|``.
``excess``
    The degradation is the plain difference ``value - reference`` (lower is better)
    or ``reference - value`` (higher is better), for shares whose reference is
    near zero (duplicate rates, lost-category shares).
``value``
    The value itself is compared with ``warn``/``collapse``: below them when
    higher is better (a p-value, a coverage), above them when lower is better
    (a duplicate rate, a PSI, a classifier AUC).
``info``
    Reported, never flagged.

With ``require_significance`` (the default), a row whose candidate confidence
interval still reaches the reference value (for ``ratio`` rules) is not
flagged: a flag needs a deviation beyond the threshold *and* beyond sampling
noise. The defaults are tuned by ``benchmarks/calibration.py`` (see
``docs/audit.md``): two halves of the same human data pass, a 10% shrink of the
standard deviation or the loss of the rarest 5% does not.

:meth:`Thresholds.default` is assembled, not listed here: :data:`GENERIC_RULES`, then
every registered metric's own ``default_rules`` (declared on its class), then
:data:`FAMILY_RULES`; a new metric brings its rules with it.

>>> t = Thresholds.default()
>>> t.rule_for("tails", "tail_mass", "tail_mass_ratio_0.01").kind
'ratio'
>>> custom = t.with_overrides({"tails/*": {"kind": "ratio", "warn": 0.5, "collapse": 0.9}})
>>> custom.rule_for("tails", "tail_mass", "anything").warn
0.5
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

from tailguard.errors import BadInputError, MissingInputError, ParameterError, UnknownChoiceError

STATUSES = ("ok", "warn", "collapse")
#: A row's status when too few rows back it to judge it: shown, never counted as ``ok``
#: (see :func:`tailguard.audit.verdict.insufficiency`) and never as a flag.
INSUFFICIENT = "insufficient"
ROW_STATUSES = (*STATUSES, INSUFFICIENT)
RULE_KINDS = ("ratio", "abs_ratio", "excess", "value", "info")
#: Rows judged on fewer rows per side than this (unless a value declares its own
#: ``min_n``) are ``insufficient``: a bootstrap over a handful of rows has no spread to trust.
MIN_ROWS_JUDGED = 10


def worst(statuses: list[str] | tuple[str, ...]) -> str:
    """The worst of ``statuses`` (``ok`` when empty); ``insufficient`` rows do not count here.

    >>> worst(["ok", "collapse", "warn", "insufficient"])
    'collapse'
    """
    rank = max((STATUSES.index(s) for s in statuses if s in STATUSES), default=0)
    return STATUSES[rank]


def is_flagged(status: str) -> bool:
    """Whether a row's status is a flag (``warn`` or ``collapse``).

    >>> is_flagged("warn"), is_flagged("ok"), is_flagged("insufficient")
    (True, False, False)
    """
    return status in STATUSES[1:]


@dataclass(frozen=True)
class Rule:
    """How one kind of row is judged. ``warn <= collapse`` in degradation units
    (for ``value`` rules: in the order of badness)."""

    kind: str
    warn: float = math.inf
    collapse: float = math.inf
    #: For ``value`` rules on statistics with a known sampling floor: the value is first
    #: reduced by ``noise * (1/n + 1/n_reference) ** noise_power`` (PSI: a chi-square
    #: over n, power 1; mean |z| shifts: power 1/2).
    noise: float = 0.0
    noise_power: float = 1.0

    def __post_init__(self) -> None:
        if self.kind not in RULE_KINDS:
            raise UnknownChoiceError("threshold rule kind", self.kind, RULE_KINDS)
        for name in ("warn", "collapse", "noise", "noise_power"):
            v = getattr(self, name)
            if not isinstance(v, int | float) or isinstance(v, bool) or math.isnan(v):
                raise ParameterError(f"The {name!r} parameter of Rule must be a number. Got {v!r}.")

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"kind": self.kind, "warn": _json_float(self.warn), "collapse": _json_float(self.collapse)}
        if self.noise:
            d["noise"] = self.noise
            d["noise_power"] = self.noise_power
        return d


def _json_float(v: float) -> float | str:
    return v if math.isfinite(v) else ("inf" if v > 0 else "-inf")


def degradation(
    kind: str, value: float, reference_value: float | None, higher_is_better: bool
) -> float | None:
    """Signed degradation of ``value`` against ``reference_value`` (positive = worse).

    >>> round(degradation("ratio", 0.8, 1.0, True), 3)
    0.2
    >>> round(degradation("ratio", 1.5, 1.0, False), 3)
    0.5
    >>> degradation("ratio", 1.0, None, True) is None
    True
    """
    if reference_value is None or not math.isfinite(value) or not math.isfinite(reference_value):
        return None
    if kind == "excess":
        return (reference_value - value) if higher_is_better else (value - reference_value)
    if reference_value == 0:
        if value == 0:
            return 0.0
        ratio = math.inf if value > 0 else -math.inf
    else:
        ratio = value / reference_value
    if kind == "abs_ratio":
        return abs(ratio - 1.0)
    return (1.0 - ratio) if higher_is_better else (ratio - 1.0)


@dataclass(frozen=True)
class Judgement:
    """A row's status and why."""

    status: str
    degradation: float | None
    reason: str


@dataclass(frozen=True)
class Thresholds:
    """An ordered list of ``(pattern, Rule)``; first match wins.

    Patterns are matched against ``"family/metric/value"``.
    """

    rules: tuple[tuple[str, Rule], ...]
    require_significance: bool = True
    ci_widening: float = math.sqrt(2)
    # Diagnosis and averages-trap knobs (documented in docs/audit.md).
    extras: Mapping[str, float] = field(default_factory=dict)

    # -- construction ------------------------------------------------------
    @classmethod
    def default(cls) -> Thresholds:
        """The documented defaults (see the module docstring and docs/audit.md): the generic
        rules, each registered metric's ``default_rules``, then the family rules."""
        return cls(rules=tuple(default_rules()), require_significance=True, extras=dict(DEFAULT_EXTRAS))

    def with_overrides(
        self, rules: Mapping[str, Mapping[str, Any]] | None = None, **extras: Any
    ) -> Thresholds:
        """A copy whose ``rules`` take precedence over the current ones."""
        new_rules = [(pattern, _rule_from(pattern, spec)) for pattern, spec in (rules or {}).items()]
        require = extras.pop("require_significance", self.require_significance)
        widening = float(extras.pop("ci_widening", self.ci_widening))
        if not math.isfinite(widening) or widening < 1.0:
            raise ParameterError(f"The 'ci_widening' parameter of Thresholds must be a float >= 1. Got {widening!r}.")
        unknown = set(extras) - set(DEFAULT_EXTRAS)
        if unknown:
            raise UnknownChoiceError("threshold setting", sorted(unknown)[0], [*DEFAULT_EXTRAS, "rules"])
        return Thresholds(
            rules=tuple(new_rules) + self.rules,
            require_significance=bool(require),
            ci_widening=widening,
            extras={**self.extras, **{k: float(v) for k, v in extras.items()}},
        )

    @classmethod
    def from_file(cls, path: str | Path) -> Thresholds:
        """Defaults overridden by a JSON or YAML file::

            rules:
              "tails/*": {kind: ratio, warn: 0.2, collapse: 0.5}
            require_significance: true
            averages_tolerance: 0.05
        """
        p = Path(path)
        if not p.is_file():
            raise MissingInputError("thresholds file not found", path=p)
        text = p.read_text(encoding="utf-8")
        try:
            if p.suffix.lower() in (".yaml", ".yml"):
                import yaml

                data = yaml.safe_load(text)
            else:
                data = json.loads(text)
        except Exception as exc:
            raise BadInputError(f"cannot parse thresholds: {exc}", path=p) from None
        if not isinstance(data, dict):
            raise BadInputError("thresholds must be a mapping with a 'rules' key", path=p)
        data = dict(data)
        rules = data.pop("rules", {}) or {}
        if not isinstance(rules, dict):
            raise BadInputError("'rules' must map a pattern to {kind, warn, collapse}", path=p)
        try:
            return cls.default().with_overrides(rules, **data)
        except (ParameterError, UnknownChoiceError) as exc:
            raise BadInputError(str(exc), path=p) from None

    # -- use ---------------------------------------------------------------
    def rule_for(self, family: str, metric: str, value_name: str) -> Rule:
        key = f"{family}/{metric}/{value_name}"
        for pattern, rule in self.rules:
            if fnmatchcase(key, pattern):
                return rule
        return Rule("info")

    def pattern_for(self, family: str, metric: str, value_name: str) -> str:
        key = f"{family}/{metric}/{value_name}"
        for pattern, _ in self.rules:
            if fnmatchcase(key, pattern):
                return pattern
        return "(none)"

    def judge(
        self,
        family: str,
        metric: str,
        value_name: str,
        value: float,
        reference_value: float | None,
        higher_is_better: bool,
        ci: tuple[float, float] | None = None,
        n: int | None = None,
        n_reference: int | None = None,
        min_n: int | None = None,
    ) -> Judgement:
        """Status of one row under the first matching rule (``n``/``n_reference``: sample sizes).

        A row backed by fewer than ``min_n`` rows on either side (default
        :data:`MIN_ROWS_JUDGED`), or without a finite value, is ``insufficient``.
        """
        rule = self.rule_for(family, metric, value_name)
        if rule.kind == "info":
            return Judgement("ok", None, "reported only")
        if value is None or not math.isfinite(value):
            return Judgement(INSUFFICIENT, None, "not measured (no finite value)")
        floor = MIN_ROWS_JUDGED if min_n is None else max(int(min_n), 1)
        short = [f"{side} {size}" for side, size in (("candidate", n), ("reference", n_reference))
                 if size is not None and size < floor]
        if short:
            return Judgement(INSUFFICIENT, None, f"needs at least {floor} rows per side to be judged; "
                                                 f"has {', '.join(short)}")
        if rule.kind == "value":
            if rule.noise and n and n_reference:
                shift = rule.noise * (1.0 / n + 1.0 / n_reference) ** rule.noise_power
                value -= shift
                ci = (ci[0] - shift, ci[1] - shift) if ci is not None else None
            if self.require_significance and ci is not None:
                # Judge the interval's most favourable end: a flag needs the whole interval past the limit.
                value = max(ci) if higher_is_better else min(ci)
            bad = -value if higher_is_better else value
            warn, collapse = (-rule.warn, -rule.collapse) if higher_is_better else (rule.warn, rule.collapse)
            if bad >= collapse:
                status = "collapse"
            elif bad >= warn:
                status = "warn"
            else:
                status = "ok"
            cmp = "<=" if higher_is_better else ">="
            limit = rule.collapse if status == "collapse" else rule.warn
            what = "noise-corrected value" if rule.noise and n and n_reference else "value"
            if self.require_significance and ci is not None:
                what = f"CI end of the {what}"
            reason = f"{what} {value:.4g} {cmp} {limit:.4g}" if status != "ok" else "within limits"
            return Judgement(status, None, reason)
        d = degradation(rule.kind, value, reference_value, higher_is_better)
        if d is None:
            return Judgement("ok", None, "no reference value")
        if d >= rule.collapse:
            status = "collapse"
        elif d >= rule.warn:
            status = "warn"
        else:
            return Judgement("ok", d, "within limits")
        if self.require_significance and ci is not None and reference_value is not None:
            # The reference value is itself a same-size estimate with about the same noise,
            # so the interval of the difference is about sqrt(2) wider than the candidate's.
            w = self.ci_widening
            lo, hi = value - w * (value - min(ci)), value + w * (max(ci) - value)
            if lo <= reference_value <= hi:
                return Judgement("ok", d, f"{d:.1%} worse but within noise: the widened CI "
                                          f"[{lo:.4g}, {hi:.4g}] reaches the reference {reference_value:.4g}")
        limit = rule.collapse if status == "collapse" else rule.warn
        if rule.kind == "excess":
            return Judgement(status, d, f"{d:.3g} worse than the reference (limit {limit:.3g})")
        return Judgement(status, d, f"{d:.1%} worse than the reference (limit {limit:.0%})")

    def to_dict(self) -> dict[str, Any]:
        return {
            "rules": [{"pattern": p, **r.to_dict()} for p, r in self.rules],
            "require_significance": self.require_significance,
            "ci_widening": self.ci_widening,
            **dict(self.extras),
        }


def _rule_from(pattern: str, spec: Mapping[str, Any]) -> Rule:
    if isinstance(spec, Rule):
        return spec
    if not isinstance(spec, Mapping):
        raise ParameterError(f"The rule for {pattern!r} must be a mapping with kind, warn, collapse. Got {spec!r}.")
    keys = ["kind", "warn", "collapse", "noise", "noise_power"]
    unknown = set(spec) - set(keys)
    if unknown:
        raise UnknownChoiceError(f"key of the rule for {pattern!r}", sorted(unknown)[0], keys)
    try:
        return Rule(
            kind=spec.get("kind", "ratio"),
            warn=float(spec.get("warn", math.inf)),
            collapse=float(spec.get("collapse", math.inf)),
            noise=float(spec.get("noise", 0.0)),
            noise_power=float(spec.get("noise_power", 1.0)),
        )
    except (TypeError, ValueError):
        raise ParameterError(f"The rule for {pattern!r} must have numeric warn/collapse/noise. Got {spec!r}.") from None


#: Knobs used outside row statuses.
DEFAULT_EXTRAS: dict[str, float] = {
    # Bulk rows (means, medians, PSI) count as "within tolerance" for the averages
    # trap when their status is ok.
    # Diagnosis: a within-candidate duplicate rate above this is a "duplicate explosion".
    "mode_collapse_duplicate_rate": 0.3,
    # ... and a Vendi ratio below this is "tiny diversity".
    "mode_collapse_vendi_ratio": 0.25,
    # Overfitting: relative train/val gap above this.
    "overfitting_gap": 0.1,
    # Forgetting: relative drop of an old-task metric above this.
    "forgetting_drop": 0.1,
    # Spread counts as kept when the covariance-trace ratio is above this.
    "drift_spread_kept": 0.9,
}

#: Rules that come before every metric's own: p-values and raw test statistics are
#: shown, effect sizes are judged.
GENERIC_RULES: tuple[tuple[str, Rule], ...] = (
    ("*/*/*p_value*", Rule("info")),
    ("*/*/*pvalue*", Rule("info")),
    ("*/*/*_n", Rule("info")),
)

#: Rules that come after every metric's own: the fallback of each family.
FAMILY_RULES: tuple[tuple[str, Rule], ...] = (
    ("drift/*", Rule("info")),  # MMD statistic, KS maxima: drift alone is reported
    # Duplicates inside the candidate, and near-copies of the reference, beyond the
    # reference's own rates (its same-size duplicate rate; its leave-one-out copy rate,
    # which counts the boilerplate a corpus repeats within itself).
    ("duplicates/*", Rule("excess", warn=0.05, collapse=0.2)),
    ("tails/*", Rule("ratio", warn=0.1, collapse=0.5)),
    ("fidelity/*", Rule("ratio", warn=0.15, collapse=0.4)),
    ("diversity/*", Rule("ratio", warn=0.15, collapse=0.4)),
    ("text/*", Rule("ratio", warn=0.1, collapse=0.3)),
    ("labels/*", Rule("ratio", warn=0.2, collapse=0.5)),
    ("bulk/*", Rule("abs_ratio", warn=0.1, collapse=0.3)),
)


def metric_rules() -> list[tuple[str, Rule]]:
    """Every registered metric's ``default_rules``, metric by metric in suite order
    (``order``, then name), each metric's own rules in the order it declares them.

    >>> ("fidelity/prdc/density", Rule("ratio", warn=0.4, collapse=0.7)) in metric_rules()
    True
    """
    from tailguard.audit.suite import registered_metrics

    out: list[tuple[str, Rule]] = []
    for cls in sorted(registered_metrics(), key=lambda c: (c.order, c.name)):
        for pattern, spec in cls.default_rules:
            try:
                out.append((pattern, _rule_from(pattern, spec)))
            except (ParameterError, UnknownChoiceError) as exc:
                raise ParameterError(f"metric {cls.name!r} declares a bad default rule: {exc}") from None
    return out


def default_rules() -> list[tuple[str, Rule]]:
    """The default rules, first match wins: :data:`GENERIC_RULES`, then every metric's
    declared rules (:func:`metric_rules`), then :data:`FAMILY_RULES`. Tuned by
    ``benchmarks/calibration.py``; docs/audit.md lists them in this order.

    >>> rules = default_rules()
    >>> rules[0][0], rules[-1][0]
    ('*/*/*p_value*', 'bulk/*')
    """
    return [*GENERIC_RULES, *metric_rules(), *FAMILY_RULES]
