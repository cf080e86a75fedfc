"""The composer: apply a policy's steps to a pool, in one fixed order, and log every exclusion.

The composer calls each step's hook (:mod:`tailguard.policy.steps`: ``apply``, ``fixed_size``,
``fresh_count``, ``min_human_fraction``, ``regions``) and never switches on a step's name, so a
step a plug-in registers runs its own logic. Order of application, by kind (whatever order the
spec names the steps in), with what the built-in steps do:

1. **source** picks the candidates. ``replace``: rows with ``round == current_round``;
   ``accumulate`` / ``accumulate-subsample``: rows with ``round <= current_round``.
   Rows from later rounds are never candidates. Without a source step, ``replace``.
2. **filter** drops non-human candidates that are degenerate texts (when the pool
   carries ``texts``; see :mod:`tailguard.policy.degenerate`), then those whose
   machine-made score is past the threshold that keeps ``keep_human`` of human
   documents (see :mod:`tailguard.policy.filtering`); each keeps its ``P(machine-made)``.
   **dedup** then keeps one representative of each near-duplicate cluster
   (see :mod:`tailguard.policy.dedup`).
3. **size**: ``replace`` and ``accumulate-subsample`` fix the size ``T`` to
   ``target_size`` (``replace`` without one: the number of candidates;
   ``accumulate-subsample`` requires it); ``accumulate`` keeps every candidate.
4. **fresh:F** draws ``ceil(F × target_size)`` (or ``F ×`` candidates) human rows
   from ``fresh_human``; with a fixed size they take part of ``T``.
5. **anchor:F** sets the human budget to at least ``ceil(F × T)`` (counting fresh
   rows), adding human rows the source left out (e.g. round 0 under ``replace``),
   and caps the non-human budget so the human fraction is ``>= F`` even when
   human rows run short.
6. **draw**: the budgets are filled by a seeded uniform draw without
   replacement, or, with **tail-preserve**, by a stratified draw that gives each
   reference class or density band its reference share (drawing rare rows again
   when ``allow_repeats``).

Every pool row ends either in ``Selection.indices`` or in ``Selection.excluded``
with the reason of the first step that left it out (and, for ``filter``'s
machine-made test, its ``P(machine-made)``).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from tailguard.errors import BadInputError, EmptyDatasetError, ParameterError
from tailguard.origins import Origin
from tailguard.policy.candidates import StepState, exclusions
from tailguard.policy.pool import Pool
from tailguard.policy.selection import MixStats, Selection
from tailguard.policy.tails import RegionModel, stratified_draw

if TYPE_CHECKING:
    from tailguard.policy.spec import Policy

_EPS = 1e-9


class _ExclusionLog:
    """Reason code per pool row (-1: not excluded); the first reason given sticks."""

    def __init__(self, n: int):
        self.code = np.full(n, -1, dtype=np.int32)
        self.score = np.full(n, np.nan)
        self.reasons: list[str] = []
        self._ids: dict[str, int] = {}

    def reason_id(self, reason: str) -> int:
        if reason not in self._ids:
            self._ids[reason] = len(self.reasons)
            self.reasons.append(reason)
        return self._ids[reason]

    def mark(self, mask: np.ndarray, reason: str, score: np.ndarray | None = None) -> None:
        mask = mask & (self.code < 0)
        if mask.any():
            self.code[mask] = self.reason_id(reason)
            if score is not None:
                self.score[mask] = score[mask]

    @property
    def open(self) -> np.ndarray:
        return self.code < 0


def as_rng(rng: Any) -> np.random.Generator:
    """A ``numpy`` Generator from a Generator, a seed, or ``None`` (seed 0: seeded by default)."""
    if isinstance(rng, np.random.Generator):
        return rng
    return np.random.default_rng(0 if rng is None else rng)


def _fmt(x: float) -> str:
    return f"{x:g}"


def check_request(n: int, target_size: int | None) -> None:
    """Refuse an empty pool and a ``target_size`` that is not an int >= 1 (the composer's and the plan's check)."""
    if n == 0:
        raise EmptyDatasetError("the pool is empty; a policy needs at least one candidate row")
    if target_size is not None and (
        isinstance(target_size, bool) or not isinstance(target_size, int | np.integer) or target_size < 1
    ):
        raise ParameterError(f"The 'target_size' parameter of compose must be an int >= 1. Got {target_size!r}.")


def compose(
    policy: Policy,
    pool: Pool,
    *,
    current_round: int | None = None,
    target_size: int | None = None,
    rng: Any = None,
    reference: Pool | None = None,
    fresh_human: Pool | None = None,
    allow_repeats: bool = True,
) -> Selection:
    """Compose one training set; see the module docstring for the order of steps."""
    gen = as_rng(rng)
    n = len(pool)
    check_request(n, target_size)
    cur = int(pool.round.max()) if current_round is None else int(current_round)
    log = _ExclusionLog(n)
    source = policy.source
    src = source.spec()

    # 1. source, 2. filter, dedup: each step's own apply(); the first reason that drops a row sticks
    eligible = pool.round <= cur
    log.mark(~eligible, f"{src}: produced after the current round {cur}")

    def run(step: Any) -> None:
        state = StepState(pool=pool, current_round=cur, target_size=target_size, rng=gen, reference=reference,
                          open=log.open.copy())
        for exc in exclusions(step.apply(state), state):
            log.mark(np.asarray(exc.drop, dtype=bool), exc.reason, exc.score)

    run(source)
    if not log.open.any():
        raise EmptyDatasetError(source.empty_message(cur))
    if source.requires_target_size and target_size is None:
        raise ParameterError(f"{src} holds the size fixed: pass target_size")
    for step in policy.steps:
        if step.kind in ("filter", "dedup"):
            run(step)
    cand_mask = log.open.copy()
    n_cand = int(cand_mask.sum())
    if n_cand == 0:
        raise EmptyDatasetError(f"{policy}: every candidate was filtered out; nothing is left to train on")

    # 3. size
    fixed = bool(source.fixed_size)
    size = (target_size if target_size is not None else n_cand) if fixed else n_cand

    # 4. fresh
    fresh_idx = np.zeros(0, dtype=np.int64)
    fresh_excl = np.zeros(0, dtype=np.int64)
    fresh_code = np.zeros(0, dtype=np.int32)
    fstep = policy.fresh_step
    if fstep is not None:
        base = target_size if target_size is not None else n_cand
        n_fresh = int(fstep.fresh_count(base, size, fixed))
        have = 0 if fresh_human is None else len(fresh_human)
        if have < n_fresh:
            raise BadInputError(
                f"{fstep.spec()} needs {n_fresh} fresh human rows this round but fresh_human has {have}"
            )
        assert fresh_human is not None or n_fresh == 0
        if fresh_human is not None and n_fresh:
            not_human = np.flatnonzero(fresh_human.origin != Origin.HUMAN)
            if not_human.size:
                raise BadInputError(
                    f"fresh_human must hold only human rows; row {int(not_human[0])} is "
                    f"{Origin(int(fresh_human.origin[not_human[0]])).label}"
                )
        fresh_idx = np.sort(gen.choice(have, size=n_fresh, replace=False)) if n_fresh else fresh_idx
        rest = np.ones(have, dtype=bool)
        rest[fresh_idx] = False
        fresh_excl = np.flatnonzero(rest)
        code = log.reason_id(f"{fstep.spec()}: not drawn this round ({n_fresh} of {have} fresh human rows)")
        fresh_code = np.full(fresh_excl.shape[0], code, dtype=np.int32)
    n_fresh = int(fresh_idx.shape[0])
    budget = max(size - n_fresh, 0) if fixed else n_cand

    # 5./6. budgets and draws
    sampler = policy.sampler_step
    regions = None
    if sampler is not None:
        regions = sampler.regions(StepState(pool=pool, current_round=cur, target_size=target_size, rng=gen,
                                            reference=reference, open=log.open.copy()))

    def draw(mask: np.ndarray, count: int) -> np.ndarray:
        idx = np.flatnonzero(mask)
        if regions is None:
            if count >= idx.shape[0]:
                return idx
            return np.sort(gen.choice(idx, size=count, replace=False))
        labels = _assign(regions, pool, idx)
        return idx[stratified_draw(labels, regions.shares, count, gen, allow_repeats=allow_repeats)]

    chooser = sampler.spec() if sampler is not None else src
    anchor = policy.anchor_step
    if anchor is None:
        count = min(budget, n_cand)
        chosen = [draw(cand_mask, count)]
        not_drawn = {
            "all": f"{chooser}: not drawn (size {size} from {n_cand} candidates"
            + (f" and {n_fresh} fresh rows)" if n_fresh else ")")
        }
    else:
        frac = float(anchor.min_human_fraction)
        human_c = cand_mask & pool.is_human
        other_c = cand_mask & ~pool.is_human
        extra_h = pool.is_human & eligible & ~cand_mask
        nh_c, no_c, nh_x = int(human_c.sum()), int(other_c.sum()), int(extra_h.sum())
        if fixed:
            need = max(math.ceil(frac * size - _EPS) - n_fresh, 0)
            natural = nh_c if budget >= n_cand else round(budget * nh_c / n_cand)
            h = min(max(need, natural), nh_c + nh_x, budget)
            s = min(budget - h, no_c)
        else:
            h, s = nh_c + nh_x, no_c
        hh = h + n_fresh
        s_max = math.floor(hh * (1 - frac) / frac + _EPS)
        while s_max > 0 and hh / (hh + s_max) < frac:
            s_max -= 1
        s = min(s, s_max)
        if h <= nh_c:
            human_rows = draw(human_c, h)
        else:
            human_rows = np.concatenate([np.flatnonzero(human_c), draw(extra_h, h - nh_c)])
            log.code[human_rows] = -1  # rows the source left out, brought back by the anchor
        chosen = [human_rows, draw(other_c, s)]
        spec = anchor.spec()
        not_drawn = {
            "human": f"{chooser}: not drawn (human budget {h} of {nh_c} candidates)",
            "other": f"{spec}: not drawn (non-human budget {s} of {no_c} keeps the human fraction >= "
            f"{_fmt(frac)})" + (f"; {sampler.spec()} chose which" if sampler is not None else ""),
        }

    indices = np.sort(np.concatenate(chosen)).astype(np.int64)
    left = cand_mask.copy()
    left[indices] = False
    if "all" in not_drawn:
        log.mark(left, not_drawn["all"])
    else:
        log.mark(left & pool.is_human, not_drawn["human"])
        log.mark(left & ~pool.is_human, not_drawn["other"])
    log.code[indices] = -1
    excluded = np.flatnonzero(log.code >= 0)
    stats = MixStats.from_arrays(pool.origin[indices], pool.depth[indices], extra_human=n_fresh)  # type: ignore[index]
    return Selection(
        indices=indices,
        fresh_indices=fresh_idx.astype(np.int64),
        excluded=excluded,
        excluded_reason=log.code[excluded],
        excluded_score=log.score[excluded],
        fresh_excluded=fresh_excl,
        fresh_excluded_reason=fresh_code,
        reasons=tuple(log.reasons),
        stats=stats,
        policy=str(policy),
    )


def _assign(model: RegionModel, pool: Pool, idx: np.ndarray) -> np.ndarray:
    if model.uses_classes:
        return model.assign_classes(np.asarray(pool.classes)[idx])
    return model.assign_features(pool.features[idx])  # type: ignore[index]
