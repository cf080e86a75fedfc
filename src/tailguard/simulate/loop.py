"""The generation loop of one chain: one family, one policy, one seed.

Generation n is the n-th fitted model:

1. generation 0 fits model 0 on the seed's human training data;
2. model n samples M new rows (round n+1, synthetic, depth = 1 + the deepest row it
   was trained on);
3. the policy composes the training set of model n+1 from the pool of every row
   so far (and, for ``fresh:F``, from a reservoir of unused human rows);
4. model n's metrics are measured against held-out human data.

The chain checkpoints after every generation when given a directory, and then
continues from its last finished generation when run again.

>>> from tailguard.simulate.family import get_family
>>> res = run_chain(get_family("gaussian"), "replace", seed=0, generations=3, sample_size=20)
>>> res.metrics["variance_ratio"].shape
(4,)
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from tailguard.errors import BadInputError
from tailguard.origins import Origin
from tailguard.simulate import checkpoint
from tailguard.simulate.family import EvalContext, Family, Setup
from tailguard.simulate.seeding import ChainStreams

HUMAN, SYNTHETIC = int(Origin.HUMAN), int(Origin.SYNTHETIC)  # HUMAN is 0: _Chain.record counts zeros


@dataclass
class ChainResult:
    """Per-generation metrics of one chain plus the samples of its first and last model."""

    policy: str
    seed: int
    metrics: dict[str, np.ndarray]  # name -> (generations + 1,)
    first: np.ndarray
    last: np.ndarray
    train_size: np.ndarray
    human_fraction: np.ndarray
    resumed_from: int | None = None
    lineage: dict[str, Any] = field(default_factory=dict)
    directions: dict[str, bool] = field(default_factory=dict)  # higher_is_better of audit metrics


def _needs_features(policy: Any) -> bool:
    return bool(getattr(policy, "needs_features", False))


def _parse(policy: Any) -> Any:
    if not isinstance(policy, str):
        return policy
    from tailguard.policy import parse_policy

    return parse_policy(policy)


def _header(
    family: Family, policy: str, seed: int, sample_size: int, entropy: int, audit: tuple[str, ...] = ()
) -> dict[str, Any]:
    return {
        "audit_metrics": list(audit),
        "family": family.name,
        "family_config": family.config_id,
        "policy": policy,
        "seed": int(seed),
        "sample_size": int(sample_size),
        "entropy": int(entropy),
    }


class _Rows:
    """Every row of a chain's pool (data, origin, depth, round), in buffers that grow by doubling.

    A generation appends M rows and may drop rows no policy step can select any more; copying the
    whole pool for each (``np.concatenate``) made ``accumulate`` quadratic in the generations. The
    properties are views of the first ``n`` rows, valid until the next append or drop.
    """

    __slots__ = ("_data", "_depth", "_origin", "_round", "n")

    def __init__(self, data: np.ndarray, origin: np.ndarray, depth: np.ndarray, rnd: np.ndarray):
        self.reset(data, origin, depth, rnd)

    def reset(self, data: np.ndarray, origin: np.ndarray, depth: np.ndarray, rnd: np.ndarray) -> None:
        self._data, self._origin, self._depth, self._round = data.copy(), origin.copy(), depth.copy(), rnd.copy()
        self.n = len(data)

    @property
    def data(self) -> np.ndarray:
        return self._data[: self.n]

    @property
    def origin(self) -> np.ndarray:
        return self._origin[: self.n]

    @property
    def depth(self) -> np.ndarray:
        return self._depth[: self.n]

    @property
    def round(self) -> np.ndarray:
        return self._round[: self.n]

    def append(self, rows: np.ndarray, origin: int, depth: int, rnd: int) -> None:
        k = len(rows)
        end = self.n + k
        if end > len(self._data):
            cap = max(end, 2 * len(self._data))
            self._data, self._origin, self._depth, self._round = (
                _grown(a, cap) for a in (self._data, self._origin, self._depth, self._round))
        self._data[self.n : end] = rows
        self._origin[self.n : end] = origin
        self._depth[self.n : end] = depth
        self._round[self.n : end] = rnd
        self.n = end

    def take(self, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(data, origin, depth) of the rows ``idx`` (within the first ``n``). ``take`` copies what fancy
        indexing copies, at a quarter of its fixed cost (the loop asks for three columns a generation)."""
        n = self.n
        return (self._data[:n].take(idx, axis=0), self._origin[:n].take(idx), self._depth[:n].take(idx))

    def keep(self, mask: np.ndarray) -> None:
        """Keep the rows of ``mask`` (over the first ``n``), in their order."""
        rows = mask.nonzero()[0]  # once, then ``take``: four boolean indexings cost twice as much
        k = rows.shape[0]
        for buf in (self._data, self._origin, self._depth, self._round):
            buf[:k] = buf[: self.n].take(rows, axis=0)
        self.n = k


def _grown(buf: np.ndarray, rows: int) -> np.ndarray:
    out = np.empty((rows, *buf.shape[1:]), dtype=buf.dtype)
    out[: len(buf)] = buf
    return out


class _Chain:
    """Mutable state of one chain between generations."""

    def __init__(self, family: Family, policy: Any, seed: int, sample_size: int, entropy: int):
        self.family, self.policy, self.seed, self.m, self.entropy = family, policy, seed, sample_size, entropy
        self.streams = ChainStreams(entropy, seed)
        self.setup: Setup = family.setup(sample_size, self.rng(0, "setup"))
        train = np.asarray(self.setup.train)
        if len(train) == 0:
            raise BadInputError(f"family {family.name!r} produced no human training data")
        self.rows = _Rows(train, np.full(len(train), HUMAN, dtype=np.int8), np.zeros(len(train), dtype=np.int64),
                          np.zeros(len(train), dtype=np.int64))
        self._min_synthetic_round: int | None = None  # of the pool's non-human rows: prune's quick exit
        self._prune_at = 0  # prune once the pool holds this many rows
        n_fresh = 0 if self.setup.fresh is None else len(self.setup.fresh)
        self.fresh_used = np.zeros(n_fresh, dtype=bool)
        self.metric_names: list[str] = [m.name for m in family.metrics]
        self.metrics: list[list[float]] = []
        self.train_size: list[int] = []
        self.human_fraction: list[float] = []
        self._reference = None
        self._heldout_inputs: dict[str, Any] = {}  # held-out data as each kind of metric reads it
        self.audit_directions: dict[str, bool] = {}
        self.keep_all = False  # True while recording lineage: pool indices must stay stable
        # a source-only policy selects by round alone: no Pool, no exclusion log per generation
        compile_plan = getattr(policy, "compile", None)
        self.plan = compile_plan() if compile_plan is not None else None

    def rng(self, generation: int, purpose: str) -> np.random.Generator:
        return self.streams.get(generation, purpose)

    @property
    def data(self) -> np.ndarray:
        return self.rows.data

    @property
    def origin(self) -> np.ndarray:
        return self.rows.origin

    @property
    def depth(self) -> np.ndarray:
        return self.rows.depth

    @property
    def round(self) -> np.ndarray:
        return self.rows.round

    # -- pool -----------------------------------------------------------------
    def _pool(self, rows: np.ndarray, origin: np.ndarray, depth: np.ndarray, rnd: np.ndarray) -> Any:
        from tailguard.policy import Pool

        feats = self.family.features(rows) if _needs_features(self.policy) else None
        classes = self.family.classes(rows)
        return Pool(origin=origin, depth=depth, round=rnd, features=feats, classes=classes)

    def reference(self) -> Any:
        if self._reference is None:
            n = len(self.setup.train)
            self._reference = self._pool(
                np.asarray(self.setup.train), np.zeros(n, np.int8), np.zeros(n, np.int64), np.zeros(n, np.int64)
            )
        return self._reference

    def prune(self, generation: int) -> None:
        """Drop the synthetic rows that the policy can no longer select (``Policy.oldest_round``) once the
        pool has grown 4-fold since the last prune: under ``replace`` the pool then holds the human rows
        and the newest rounds instead of every round so far. Selections are unchanged (tested); lineage
        recording keeps every row."""
        if self.keep_all or self._min_synthetic_round is None or self.rows.n < self._prune_at:
            return
        oldest = self.policy.oldest_round(generation) if hasattr(self.policy, "oldest_round") else None
        if oldest is None or self._min_synthetic_round >= oldest:
            return
        self.rows.keep((self.origin == HUMAN) | (self.round >= oldest))
        # next time when the pool has grown 4-fold: the cost is amortised over generations and the
        # pool stays within 4x what the policy can select (which rows remain never changes a selection)
        self._prune_at = 4 * self.rows.n
        self._recount_synthetic()

    def _recount_synthetic(self) -> None:
        synthetic = self.round[self.origin != HUMAN]
        self._min_synthetic_round = int(synthetic.min()) if len(synthetic) else None

    def compose(self, generation: int) -> np.ndarray:
        """Pool rows of model ``generation``'s training set (generation >= 1)."""
        self.prune(generation)
        if self.plan is not None:  # the composer's indices from the same stream (tailguard.policy.plan)
            return self.plan.select(self.round, current_round=generation, target_size=self.m,
                                    rng=lambda: self.streams.get(generation, "compose"))
        pool = self._pool(self.data, self.origin, self.depth, self.round)
        fresh_pool, fresh_idx = None, np.zeros(0, dtype=np.int64)
        if self.setup.fresh is not None and getattr(self.policy, "fresh_step", None) is not None:
            fresh_idx = np.flatnonzero(~self.fresh_used)
            rows = np.asarray(self.setup.fresh)[fresh_idx]
            k = len(rows)
            fresh_pool = self._pool(rows, np.zeros(k, np.int8), np.zeros(k, np.int64), np.full(k, generation))
        sel = self.policy.compose(
            pool,
            current_round=generation,
            target_size=self.m,
            rng=self.streams.get(generation, "compose"),
            reference=self.reference(),
            fresh_human=fresh_pool,
        )
        idx = np.asarray(sel.indices, dtype=np.int64)
        fresh_sel = np.asarray(sel.fresh_indices, dtype=np.int64)
        if len(fresh_sel):
            # fresh rows join the pool as human data of this round, so later rounds can keep them
            chosen = fresh_idx[fresh_sel]
            self.fresh_used[chosen] = True
            start = len(self.data)
            self._append(np.asarray(self.setup.fresh)[chosen], HUMAN, 0, generation)
            idx = np.concatenate([idx, np.arange(start, start + len(chosen))])
        if len(idx) == 0:
            raise BadInputError(f"policy {self.policy} composed an empty training set at generation {generation}")
        return idx

    def _append(self, rows: np.ndarray, origin: int, depth: int, rnd: int) -> None:
        self.rows.append(rows, origin, depth, rnd)
        if origin != HUMAN and len(rows):
            low = self._min_synthetic_round
            self._min_synthetic_round = rnd if low is None else min(low, rnd)

    def record(self, values: dict[str, float], origin: np.ndarray, depth: np.ndarray) -> int:
        """Keep one generation's metrics and its training set's size and human fraction (``origin`` and
        ``depth``: of its training rows); returns the depth of the rows its model produces."""
        self.metrics.append([float(values.get(k, np.nan)) for k in self.metric_names])
        size = len(origin)
        self.train_size.append(size)
        self.human_fraction.append((size - np.count_nonzero(origin)) / size)  # the human rows: origin 0
        return int(np.maximum.reduce(depth)) + 1

    # -- audit-suite metrics ------------------------------------------------
    def audit(self, samples: np.ndarray, names: tuple[str, ...]) -> dict[str, float]:
        """``audit_<value>`` for each value of each named metric (tailguard.metrics) of the
        samples' features against the held-out human features."""
        import tailguard.metrics  # noqa: F401  (registers the metrics)
        from tailguard.metrics.base import METRICS

        out: dict[str, float] = {}
        inputs: dict[str, tuple[Any, Any] | None] = {}  # one conversion of the samples per kind
        for name in names:
            cls = METRICS.get(name)
            kind = "text" if cls.input_kind == "text" else "vectors"
            if kind not in inputs:
                inputs[kind] = self._audit_inputs(samples, kind)
            sides = inputs[kind]
            if sides is None:
                continue
            params = {"seed": int(self.seed)} if "seed" in cls.params else {}
            if "n_boot" in cls.params:
                params["n_boot"] = 10  # the simulator keeps values only, not their CIs
            metric = cls(**params).update(sides[0])
            if cls.requires_reference:
                metric.update_reference(sides[1])
            for v in metric.result().values:
                out[f"audit_{v.name}"] = float(v.value)
                self.audit_directions[f"audit_{v.name}"] = bool(v.higher_is_better)
        return out

    def _audit_inputs(self, samples: np.ndarray, kind: str) -> tuple[Any, Any] | None:
        """(samples, held-out) as a metric of ``kind`` reads them: documents (``Family.texts``) for text
        metrics, else feature vectors (``Family.features``); None when the family gives neither."""
        convert = self.family.texts if kind == "text" else self.family.features
        mine = convert(samples)
        if mine is None:
            return None
        if kind not in self._heldout_inputs:
            self._heldout_inputs[kind] = convert(np.asarray(self.setup.heldout))
        return mine, self._heldout_inputs[kind]

    # -- checkpoint -----------------------------------------------------------
    def state(self, header: dict[str, Any]) -> checkpoint.ChainState:
        return checkpoint.ChainState(
            header=header,
            data=self.data,
            origin=self.origin,
            depth=self.depth,
            round=self.round,
            fresh_used=self.fresh_used,
            metric_names=self.metric_names,
            metrics=np.asarray(self.metrics, dtype=float).reshape(len(self.metrics), len(self.metric_names)),
            train_size=np.asarray(self.train_size, dtype=np.int64),
            human_fraction=np.asarray(self.human_fraction, dtype=float),
        )

    def restore(self, st: checkpoint.ChainState) -> None:
        self.rows.reset(st.data, st.origin, st.depth, st.round)
        self._recount_synthetic()
        self.fresh_used = st.fresh_used
        self.metric_names = st.metric_names
        self.metrics = st.metrics.tolist()
        self.train_size = st.train_size.tolist()
        self.human_fraction = st.human_fraction.tolist()


_single_thread_depth = 0  # how many one_blas_thread blocks are open in this process


@contextmanager
def one_blas_thread() -> Iterator[None]:
    """Limit BLAS/OpenMP to one thread: the models are small, so threads only fight each other (and the
    other worker processes), and one thread per chain is many times faster. Re-entering is free, so a
    caller running many chains enters it once (setting the limits costs milliseconds)."""
    global _single_thread_depth
    if _single_thread_depth:
        yield
        return
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1):
        _single_thread_depth += 1
        try:
            yield
        finally:
            _single_thread_depth -= 1


def run_chain(
    family: Family,
    policy: Any,
    *,
    seed: int,
    generations: int,
    sample_size: int,
    entropy: int = 0,
    checkpoint_dir: str | Path | None = None,
    resume: bool = True,
    on_generation: Callable[[int], None] | None = None,
    record_lineage: bool = False,
    audit_metrics: tuple[str, ...] | None = None,
) -> ChainResult:
    """Run (or continue) one chain and return its metrics.

    ``policy`` is a spec string or a parsed policy. ``on_generation(n)`` is called
    after each finished generation (progress bars). With ``record_lineage`` the
    result's ``lineage`` holds the whole pool (``rows``, ``origin``, ``round``,
    ``depth``), each generation's training rows (``train``: pool indices) and the
    pool rows it produced (``produced``: [start, end)), for the ledger; only the
    generations run in this call are listed (``first_generation``).
    ``resume=False`` ignores an existing checkpoint and overwrites it.
    """
    with one_blas_thread():
        return _run_chain(
            family,
            policy,
            seed,
            generations,
            sample_size,
            entropy,
            checkpoint_dir,
            resume,
            on_generation,
            record_lineage,
            family.audit_metrics if audit_metrics is None else tuple(audit_metrics),
        )


def _run_chain(
    family: Family,
    policy: Any,
    seed: int,
    generations: int,
    sample_size: int,
    entropy: int,
    checkpoint_dir: str | Path | None,
    resume: bool,
    on_generation: Callable[[int], None] | None,
    record_lineage: bool,
    audit_metrics: tuple[str, ...],
) -> ChainResult:
    spec = str(policy)
    parsed = _parse(policy)
    chain = _Chain(family, parsed, seed, sample_size, entropy)
    chain.keep_all = record_lineage
    header = _header(family, spec, seed, sample_size, entropy, audit_metrics)
    path = checkpoint.chain_path(checkpoint_dir, spec, seed) if checkpoint_dir is not None else None
    resumed_from = None
    if path is not None and resume:
        st = checkpoint.load(path, header)
        if st is not None:
            chain.restore(st)
            chain.audit_directions = dict(st.header.get("audit_directions", {}))
            resumed_from = st.done
    start = len(chain.metrics)
    result_lineage: dict[str, Any] = {}
    # model 0 and its samples are needed by every generation's metrics; they are
    # a pure function of the seed's streams, so a resumed chain rebuilds them exactly
    setup, streams, rows = chain.setup, chain.streams, chain.rows
    model0 = family.fit(setup.train, streams.get(0, "fit"))
    samples0 = family.sample_chain(model0, sample_size, streams.get(0, "sample"), setup)
    samples = samples0
    eval_cache: dict[str, Any] = {}  # EvalContext.cache: one dict for the chain
    for g in range(start, generations + 1):
        if g == 0:
            model, samples = model0, samples0
            idx = np.arange(len(setup.train))
            _, origin, tdepth = rows.take(idx)
        else:
            idx = chain.compose(g)
            data, origin, tdepth = rows.take(idx)
            model = family.fit(data, streams.get(g, "fit"))
            samples = family.sample_chain(model, sample_size, streams.get(g, "sample"), setup)
        values = family.evaluate(model, samples,
                                 EvalContext(setup, model0, samples0, g, streams.get(g, "evaluate"), eval_cache))
        if audit_metrics:
            values.update(chain.audit(samples, audit_metrics))
            if not chain.metrics:  # names are fixed by the first generation (and stored in checkpoints)
                chain.metric_names = [m.name for m in family.metrics] + sorted(set(values) - set(chain.metric_names))
        depth = chain.record(values, origin, tdepth)
        start_row = rows.n
        chain._append(np.asarray(samples), SYNTHETIC, depth, g + 1)
        if record_lineage:
            result_lineage.setdefault("train", []).append(idx)
            result_lineage.setdefault("produced", []).append((start_row, rows.n))
        if path is not None:
            checkpoint.save(path, chain.state({**header, "audit_directions": chain.audit_directions}))
        if on_generation is not None:
            on_generation(g)
    if start > generations:  # already finished: the last samples are in the pool
        samples = chain.data[(chain.round == generations + 1) & (chain.origin == SYNTHETIC)]
    if record_lineage:
        result_lineage.update(
            rows=chain.data,
            origin=chain.origin,
            round=chain.round,
            depth=chain.depth,
            first_generation=start,
            human=np.asarray(chain.setup.train),
            setup=chain.setup,
        )
    metrics = np.asarray(chain.metrics, dtype=float)[: generations + 1]
    return ChainResult(
        policy=spec,
        seed=seed,
        metrics={name: metrics[:, j].copy() for j, name in enumerate(chain.metric_names)},
        first=np.asarray(samples0),
        last=np.asarray(samples),
        train_size=np.asarray(chain.train_size[: generations + 1]),
        human_fraction=np.asarray(chain.human_fraction[: generations + 1]),
        resumed_from=resumed_from,
        lineage=result_lineage,
        directions=chain.audit_directions,
    )
