"""What a policy returns: the chosen rows, every excluded row with its reason, and mix statistics.

Exclusions are stored as arrays (row, reason code) with a small table of reason
texts, so a simulator composing 100 generations × 20 seeds pays no per-item
Python cost; :meth:`Selection.excluded_pairs` gives the ``(row, reason)`` list.

>>> import numpy as np
>>> stats = MixStats.from_arrays(origin=np.array([0, 1, 3]), depth=np.array([0, 2, 1]))
>>> stats.human_fraction, stats.unknown_fraction, stats.max_synthetic_depth
(0.3333333333333333, 0.3333333333333333, 2)
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from tailguard.errors import ParameterError
from tailguard.origins import Origin

_HUMAN, _UNKNOWN = int(Origin.HUMAN), int(Origin.UNKNOWN)


@dataclass(frozen=True)
class MixStats:
    """The numbers the gate judges a training mix by."""

    n: int
    n_human: int
    n_unknown: int
    max_synthetic_depth: int

    @property
    def human_fraction(self) -> float:
        return self.n_human / self.n if self.n else 0.0

    @property
    def unknown_fraction(self) -> float:
        return self.n_unknown / self.n if self.n else 0.0

    @classmethod
    def from_arrays(cls, origin: np.ndarray, depth: np.ndarray, *, extra_human: int = 0) -> MixStats:
        """Statistics of the rows ``origin``/``depth`` plus ``extra_human`` human rows of depth 0."""
        return cls(
            n=int(origin.shape[0]) + extra_human,
            n_human=int(np.count_nonzero(origin == _HUMAN)) + extra_human,
            n_unknown=int(np.count_nonzero(origin == _UNKNOWN)),
            max_synthetic_depth=int(depth.max()) if depth.shape[0] else 0,
        )

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["human_fraction"] = self.human_fraction
        d["unknown_fraction"] = self.unknown_fraction
        return d


@dataclass(frozen=True, eq=False)
class Selection:
    """A composed training set.

    Attributes:
        indices: rows of the pool in the training set, sorted. Rows repeat only
            when ``tail-preserve`` was allowed to draw with replacement.
        fresh_indices: rows of ``fresh_human`` in the training set (``fresh:F``).
        excluded: pool rows left out; ``excluded_reason`` holds a code per row
            into ``reasons``, ``excluded_score`` the step's score of the row (NaN
            where the step gives none; ``filter``: ``P(machine-made)``).
        fresh_excluded: ``fresh_human`` rows not drawn, with ``fresh_excluded_reason``.
        stats: :class:`MixStats` of the training set (fresh rows count as human, depth 0).
        policy: the canonical spec of the policy that made it.
    """

    indices: np.ndarray
    fresh_indices: np.ndarray
    excluded: np.ndarray
    excluded_reason: np.ndarray
    fresh_excluded: np.ndarray
    fresh_excluded_reason: np.ndarray
    reasons: tuple[str, ...]
    stats: MixStats
    policy: str
    excluded_score: np.ndarray | None = None

    def __len__(self) -> int:
        return int(self.indices.shape[0] + self.fresh_indices.shape[0])

    def excluded_pairs(self) -> list[tuple[int, str]]:
        """``(pool row, reason)`` for every excluded pool row."""
        return [(int(i), self.reasons[c]) for i, c in zip(self.excluded, self.excluded_reason, strict=True)]

    def excluded_triples(self) -> list[tuple[int, str, float | None]]:
        """``(pool row, reason, score)`` for every excluded pool row (score None where the step gives none)."""
        scores = self.excluded_score if self.excluded_score is not None else np.full(self.excluded.shape[0], np.nan)
        return [(int(i), self.reasons[c], None if np.isnan(s) else float(s))
                for i, c, s in zip(self.excluded, self.excluded_reason, scores, strict=True)]

    def fresh_excluded_pairs(self) -> list[tuple[int, str]]:
        """``(fresh row, reason)`` for every fresh human row that was not drawn."""
        return [(int(i), self.reasons[c]) for i, c in zip(self.fresh_excluded, self.fresh_excluded_reason, strict=True)]

    def reason_counts(self) -> dict[str, int]:
        """How many rows (pool and fresh) each reason excluded."""
        codes = np.concatenate([self.excluded_reason, self.fresh_excluded_reason]).astype(np.int64)
        counts = np.bincount(codes, minlength=len(self.reasons)) if codes.size else np.zeros(len(self.reasons))
        return {r: int(c) for r, c in zip(self.reasons, counts, strict=True) if c}

    def gather(self, values: Any, fresh_values: Any = None) -> np.ndarray:
        """The training set's rows of a pool-aligned array, then the drawn fresh rows.

        >>> import numpy as np
        >>> from tailguard.policy import parse_policy, Pool
        >>> pool = Pool(origin=["human", "synthetic"], round=[0, 1])
        >>> sel = parse_policy("replace").compose(pool, current_round=1, rng=0)
        >>> sel.gather(np.array([10.0, 20.0])).tolist()
        [20.0]
        """
        picked = np.asarray(values)[self.indices]
        if self.fresh_indices.shape[0] == 0:
            return picked
        if fresh_values is None:
            raise ParameterError("this selection drew fresh human rows; pass fresh_values to gather them")
        return np.concatenate([picked, np.asarray(fresh_values)[self.fresh_indices]])
