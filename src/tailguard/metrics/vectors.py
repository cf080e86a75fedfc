"""Shared base of the metrics over 2-D float vectors (tails, fidelity, diversity, drift).

A :class:`VectorMetric` keeps candidate and reference rows in two seeded
:class:`~tailguard.metrics.rows.RowStore` s (all rows, or a bottom-k hash sample
of ``max_samples`` rows), checks every batch (finite, 2-D, same number of
columns on both sides) and computes in ``result()``. Subclasses implement
``_compute(cand, ref) -> (values, details)``.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from tailguard.errors import BadInputError, IncompatibleMergeError
from tailguard.metrics.base import Metric, MetricResult, MetricValue
from tailguard.metrics.rows import RowStore, as_vectors
from tailguard.validation import Constraint, Float, Int

#: Parameters every vector metric has.
COMMON_PARAMS: dict[str, Constraint] = {
    "seed": Int(min=0),
    "max_samples": Int(min=2, optional=True),
    "ci_level": Float(min=0.5, max=1.0, max_open=True),
    "expected_rows": Int(min=1, optional=True),
    "reference_rows": Int(min=1, optional=True),
}
#: ``expected_rows``: the candidate's row count when known in advance (a streamed audit sets it),
#: which lets each shard keep only the rows its ``max_samples`` sample can end up holding;
#: ``reference_rows`` the same for the reference.
COMMON_DEFAULTS: dict[str, Any] = {"seed": 0, "max_samples": None, "ci_level": 0.95, "expected_rows": None,
                                   "reference_rows": None}

#: The audit modalities whose data are vectors (tabular rows, image features, text embeddings).
VECTOR_MODALITIES: tuple[str, ...] = ("vectors", "images", "text")


def equal_n(x: np.ndarray, n: int) -> np.ndarray:
    """The first ``n`` rows in canonical (hash) order: a seeded uniform subsample."""
    return x[: min(n, len(x))]


def require_rows(metric: str, needed: int, got: int) -> None:
    """Raise :class:`BadInputError` when a side has fewer than ``needed`` rows."""
    if got < needed:
        raise BadInputError(f"{metric} needs at least {needed} rows per side (after equal-N); got {got}")


class VectorMetric(Metric):
    """Base of metrics whose batches are 2-D float arrays (rows x features)."""

    input_kind: ClassVar[str] = "vectors"
    requires_reference: ClassVar[bool] = True
    #: The fewest rows per side ``result()`` accepts.
    min_rows: ClassVar[int] = 2
    #: The pruned sample is the same sample (or an error), so results stay comparable.
    result_neutral: ClassVar[tuple[str, ...]] = ("expected_rows", "reference_rows")

    def __init__(self, **params: Any):
        super().__init__(**params)
        cap = self._params.get("max_samples")
        self._cand = RowStore(cap=cap, seed=self._params["seed"], expected_rows=self._params.get("expected_rows"))
        self._ref = RowStore(cap=cap, seed=self._params["seed"], expected_rows=self._params.get("reference_rows"))

    @property
    def n_candidate(self) -> int:
        return self._cand.n_seen

    @property
    def n_reference(self) -> int:
        return self._ref.n_seen

    def _update(self, batch: Any, *, reference: bool) -> None:
        what = f"{'reference' if reference else 'candidate'} batch of {self.name}"
        dim = self._cand.dim if self._cand.dim is not None else self._ref.dim
        x = as_vectors(batch, what=what, dim=dim)
        (self._ref if reference else self._cand).add(x)

    def _merge(self, other: VectorMetric) -> None:
        self._cand.merge(other._cand)
        self._ref.merge(other._ref)

    def sample_spec(self) -> tuple[Any, ...] | None:
        """What makes two metrics' row samples the same sample of the same rows: ``(cap, seed,
        expected_rows, reference_rows)``; ``None`` when the class keeps state beyond its two
        :class:`~tailguard.metrics.rows.RowStore` s (it overrides ``_update`` or ``_merge``), so
        its samples cannot stand in for its whole state.

        Metrics fed the same rows with equal specs hold equal samples, so a runner feeds one of
        them and lends its samples to the rest (:meth:`share_samples`): nine vector metrics of a
        streamed audit then keep one copy of the rows, not nine.
        """
        own = type(self)
        if own._update is not VectorMetric._update or own._merge is not VectorMetric._merge:
            return None
        p = self._params
        return (p.get("max_samples"), p["seed"], p.get("expected_rows"), p.get("reference_rows"))

    @property
    def samples(self) -> tuple[RowStore, RowStore]:
        """The candidate's and the reference's row samples."""
        return self._cand, self._ref

    def share_samples(self, samples: tuple[RowStore, RowStore]) -> None:
        """Use ``samples`` (another metric's :attr:`samples`, of an equal :meth:`sample_spec`, fed the
        same rows) as this metric's own; both then read the same arrays, which ``rows()`` hands out
        read-only so no metric can change another's data.

        >>> from tailguard.metrics.drift import KS
        >>> from tailguard.metrics.bulk import BulkMoments
        >>> rng = np.random.default_rng(0)
        >>> fed = KS().update(rng.normal(size=(50, 2))).update_reference(rng.normal(size=(50, 2)))
        >>> lent = BulkMoments()
        >>> lent.share_samples(fed.samples)
        >>> lent.n_candidate, lent.samples[0] is fed.samples[0]
        (50, True)
        """
        cand, ref = samples
        mine = (self._params.get("max_samples"), self._params["seed"])
        for store, rows in ((cand, "expected_rows"), (ref, "reference_rows")):
            if (store.cap, store.seed, store.expected_rows) != (*mine, self._params.get(rows)):
                raise IncompatibleMergeError(f"{self.name} cannot share a row sample kept under another "
                                             "cap, seed or expected row count")
        self._cand, self._ref = cand, ref

    def _rows(self, store: RowStore, what: str) -> np.ndarray:
        x = store.require(f"{what} of {self.name}")
        if len(x) < self.min_rows:
            raise BadInputError(f"{self.name} needs at least {self.min_rows} {what} rows; got {len(x)}")
        return x

    def result(self) -> MetricResult:
        cand = self._rows(self._cand, "candidate")
        ref: np.ndarray | None = None
        if self.requires_reference or self._ref.n_seen:
            ref = self._rows(self._ref, "reference")
        values, details = self._compute(cand, ref)
        return MetricResult(
            metric=self.name,
            family=self.family,
            config_id=self.config_id,
            n=self._cand.n_seen,
            n_reference=self._ref.n_seen if ref is not None else None,
            values=tuple(values),
            details=details,
        )

    def _compute(self, cand: np.ndarray, ref: np.ndarray | None) -> tuple[list[MetricValue], dict[str, Any]]:
        raise NotImplementedError
