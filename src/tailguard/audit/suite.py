"""The metric suite that fits each modality, resolved against the metric registry.

A suite is a list of :class:`SuiteEntry`: a metric name (with aliases, looked up
in :data:`~tailguard.metrics.base.METRICS`), its parameters and whether it runs
in ``quick`` mode. Parameters a metric does not declare are dropped (and the
seed is passed to every metric that takes one), so a suite never hard-codes a
metric's private knobs.

>>> entries = suite_for("vectors")
>>> entries[0].names[0]
'tail_mass'
>>> [e.label for e in suite_for("vectors", metrics=["vendi"])]
['vendi']
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from tailguard.errors import UnknownChoiceError


@dataclass(frozen=True)
class SuiteEntry:
    """One metric in a suite. ``names`` are tried in order (registry aliases)."""

    names: tuple[str, ...]
    params: Mapping[str, Any] = field(default_factory=dict)
    quick: bool = True
    label: str = ""
    #: Skipped without a note when the data has no view for it (e.g. no labels given).
    optional: bool = False
    #: Fed the audit's standardized vectors (``True``) or the vectors in their own units.
    standardized: bool = True

    def __post_init__(self) -> None:
        if not self.label:
            object.__setattr__(self, "label", self.names[0])


def _e(
    *names: str, quick: bool = True, label: str = "", optional: bool = False, standardized: bool = True, **params: Any
) -> SuiteEntry:
    return SuiteEntry(tuple(names), params, quick, label, optional, standardized)


#: Metrics on vectors (tabular data and any embedding). Tails first.
VECTOR_SUITE: tuple[SuiteEntry, ...] = (
    _e("tail_mass"),
    _e("rare_mode_coverage"),
    # Point-to-point rarity in the data's own units: per-feature scaling blows up
    # near-constant columns (edge pixels), whose stray values would then decide
    # which points count as rare. See docs/audit.md.
    _e("nn_distance_tail", standardized=False),
    _e("prdc"),
    _e("covariance"),
    _e("vendi"),
    _e("bulk_moments"),
    _e("psi"),
    _e("ks"),
    _e("mmd", quick=False),
    _e("c2st", quick=False),
)

#: Metrics on raw documents (the vector suite runs on their embeddings too).
TEXT_SUITE: tuple[SuiteEntry, ...] = (
    _e("text_stats"),
    _e("near_duplicates"),
)

#: Metrics on one label per sample (or per box).
CATEGORY_SUITE: tuple[SuiteEntry, ...] = (
    _e("lost_categories"),
    _e("missing_mass"),
    _e("hill_numbers"),
)

#: Metrics on detection labels.
LABEL_SUITE: tuple[SuiteEntry, ...] = (
    _e("class_share"),
    _e("box_geometry"),
)

#: Category metrics run on vectors, images and text only when labels are given.
OPTIONAL_CATEGORIES: tuple[SuiteEntry, ...] = tuple(
    SuiteEntry(e.names, e.params, e.quick, e.label, True, e.standardized) for e in CATEGORY_SUITE
)

SUITES: dict[str, tuple[SuiteEntry, ...]] = {
    "vectors": VECTOR_SUITE + OPTIONAL_CATEGORIES,
    "images": VECTOR_SUITE + OPTIONAL_CATEGORIES,
    "text": VECTOR_SUITE + TEXT_SUITE + OPTIONAL_CATEGORIES,
    "categorical": CATEGORY_SUITE,
    "detection": LABEL_SUITE + CATEGORY_SUITE + VECTOR_SUITE[:2],
}


def suite_for(
    modality: str,
    *,
    metrics: Iterable[str] | None = None,
    quick: bool = False,
) -> list[SuiteEntry]:
    """The entries for ``modality``; ``metrics`` restricts them to the named ones
    (any alias), ``quick`` drops the expensive ones (permutation tests, classifiers)."""
    try:
        entries = list(SUITES[modality])
    except KeyError:
        raise UnknownChoiceError("modality", modality, SUITES) from None
    if metrics is not None:
        wanted = list(metrics)
        known = {n for e in _all_entries() for n in e.names}
        for name in wanted:
            if name not in known:
                from tailguard.metrics.base import METRICS

                if name not in METRICS:
                    raise UnknownChoiceError("metric", name, sorted(known | set(METRICS.names())))
        chosen = [e for e in entries if set(e.names) & set(wanted)]
        covered = {n for e in chosen for n in e.names}
        # Registered metrics outside the modality's suite can still be asked for by name.
        chosen += [_e(name) for name in wanted if name not in covered]
        entries = chosen
    if quick:
        entries = [e for e in entries if e.quick]
    return entries


def _all_entries() -> list[SuiteEntry]:
    return [e for suite in SUITES.values() for e in suite]
