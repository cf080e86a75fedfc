"""What the steps that remove candidates see and return: :class:`StepState` in, exclusions out.

A step of kind ``source``, ``filter`` or ``dedup`` implements ``apply(state)`` and returns
either ``(keep_mask, reason)`` (a boolean mask over the pool and the reason of every row it
does not keep) or a list of :class:`Exclusion` (several reasons, optional scores). The
composer marks each dropped row with the first reason that hit it and never asks which step
it is, so a step registered by a plug-in behaves as itself. The built-in filter and dedup
logic lives here as functions of the state.

>>> import numpy as np
>>> from tailguard.policy.pool import Pool
>>> pool = Pool(origin=["human"] * 2 + ["synthetic"] * 2, round=[0, 0, 1, 1])
>>> state = StepState(pool=pool, current_round=1, target_size=2, rng=np.random.default_rng(0), reference=None,
...                   open=np.ones(4, dtype=bool))
>>> [e.drop.tolist() for e in exclusions((pool.round == 1, "old"), state)]
[[True, True, False, False]]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from tailguard.errors import EmptyDatasetError, ParameterError
from tailguard.policy.pool import Pool


@dataclass(frozen=True)
class StepState:
    """What a step sees: the pool, the round, the size asked for, a seeded generator, the human
    reference (``None``: the pool's human rows) and ``open``, the rows no earlier step dropped."""

    pool: Pool
    current_round: int
    target_size: int | None
    rng: np.random.Generator
    reference: Pool | None
    open: np.ndarray

    @property
    def eligible(self) -> np.ndarray:
        """Rows produced no later than the current round."""
        return self.pool.round <= self.current_round

    def with_open(self, open_rows: np.ndarray) -> StepState:
        return replace(self, open=open_rows)


@dataclass(frozen=True)
class Exclusion:
    """Rows a step drops (``drop``: a boolean mask over the pool), why, and an optional score per row."""

    drop: np.ndarray
    reason: str
    score: np.ndarray | None = None


def exclusions(outcome: Any, state: StepState) -> list[Exclusion]:
    """A step's ``apply`` result as a list of :class:`Exclusion` (checked: masks over the whole pool)."""
    if isinstance(outcome, tuple) and len(outcome) == 2 and isinstance(outcome[1], str):
        keep, reason = outcome
        items = [Exclusion(~np.asarray(keep, dtype=bool), reason)]
    elif isinstance(outcome, Sequence) and all(isinstance(e, Exclusion) for e in outcome):
        items = list(outcome)
    else:
        raise ParameterError(
            "a policy step's apply(state) must return (keep_mask, reason) or a list of Exclusion. "
            f"Got {type(outcome).__name__}."
        )
    n = len(state.pool)
    for e in items:
        mask = np.asarray(e.drop)
        if mask.dtype != bool or mask.shape != (n,):
            raise ParameterError(
                f"a policy step's mask must be a boolean array of the pool's length {n}. "
                f"Got {mask.dtype} of shape {mask.shape} (reason {e.reason!r})."
            )
    return items


def reference_for(step: str, state: StepState) -> Pool:
    """The human reference of ``step``: the one given, else the pool's eligible human rows."""
    reference, pool = state.reference, state.pool
    if reference is not None:
        if len(reference) == 0:
            raise EmptyDatasetError(f"{step}: the reference pool is empty")
        return reference
    human = pool.is_human & state.eligible
    if not human.any():
        raise ParameterError(
            f"{step} needs a human reference: pass reference=Pool(...) or include human rows in the pool"
        )
    return pool.subset(human)


def features_of(step: str, what: str, pool: Pool) -> np.ndarray:
    """``pool.features``, or a one-line error naming the step that needs them."""
    if pool.features is None:
        raise ParameterError(f"{step} needs features: the {what} has no features array")
    return pool.features


def _fmt(x: float) -> str:
    return f"{x:g}"


def filter_exclusions(params: dict[str, Any], state: StepState) -> list[Exclusion]:
    """The ``filter`` step: degenerate texts, then non-human rows that score as machine-made."""
    from tailguard.policy.degenerate import degenerate_texts
    from tailguard.policy.filtering import machine_made

    pool, reference = state.pool, state.reference
    n = len(pool)
    ref = reference_for("filter", state)
    texts = pool.texts is not None and (ref.texts is not None or reference is None)
    out: list[Exclusion] = []
    open_rows = state.open.copy()
    if pool.texts is not None:
        cand = np.flatnonzero(open_rows)
        ref_texts = ref.texts if ref.texts is not None else pool.texts[pool.is_human & state.eligible]
        deg = degenerate_texts(list(pool.texts[cand]), pool.is_human[cand], list(ref_texts),
                               repetition=params["repetition"])
        for mask, reason in (
            (deg.empty, "filter: degenerate text (no words)"),
            (deg.repetitive, f"filter: degenerate text (repetitive: >= {deg.repetition_threshold:.3g} of its "
             "word 3-grams repeat, or one word repeated)"),
        ):
            hit = np.zeros(n, dtype=bool)
            hit[cand[mask]] = True
            out.append(Exclusion(hit, reason))
            open_rows &= ~hit
    cand = np.flatnonzero(open_rows & ~pool.is_human)
    if cand.size == 0:
        return out
    if texts:
        ref_side: Any = list(ref.texts if ref.texts is not None else pool.texts[pool.is_human & state.eligible])
        cand_side: Any = list(pool.texts[cand])
    else:
        ref_side = features_of("filter", "reference", ref)
        cand_side = features_of("filter", "pool", pool)[cand]
    made = machine_made(cand_side, ref_side, keep_human=params["keep_human"], support=params["support"],
                        k=params["k"], folds=params["folds"], seed=int(state.rng.integers(2**31)))
    hit = np.zeros(n, dtype=bool)
    hit[cand[made.drop]] = True
    score = np.full(n, np.nan)
    score[cand] = made.probability
    out.append(Exclusion(hit, f"filter: machine-made score (human-likeness below {made.threshold:.3g}, the human "
                         f"reference's {1 - made.keep_human:.0%} quantile)", score))
    return out


def dedup_exclusions(params: dict[str, Any], state: StepState) -> list[Exclusion]:
    """The ``dedup`` step: one representative of each near-duplicate cluster, never dropping human rows."""
    from tailguard.policy.dedup import text_duplicates, vector_duplicates

    pool = state.pool
    n = len(pool)
    rows = np.flatnonzero(state.open)
    if rows.size < 2:
        return []
    hit = np.zeros(n, dtype=bool)
    if pool.texts is not None:
        drop = text_duplicates(list(pool.texts[rows]), pool.is_human[rows], jaccard=params["jaccard"])
        reason = (f"dedup: near-duplicate text (word-bigram Jaccard >= {_fmt(params['jaccard'])} with a kept "
                  "representative)")
    else:
        ref = reference_for("dedup", state)
        drop, radius = vector_duplicates(features_of("dedup", "pool", pool)[rows], pool.is_human[rows],
                                         features_of("dedup", "reference", ref),
                                         duplicate_quantile=params["duplicate_quantile"], knn=params["knn"])
        reason = f"dedup: near-duplicate of a kept row (distance <= {radius:.4g})"
    hit[rows[drop]] = True
    return [Exclusion(hit, reason)]
