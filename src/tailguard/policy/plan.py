"""A compiled plan: a source-only policy as one function of the pool's rounds.

The composer (:mod:`tailguard.policy.composer`) builds an exclusion log, a reason for every row
left out and the mix's statistics. The simulator's generation loop needs none of that: only the
indices of the next training set. For a policy made of one source step that chooses by round
alone (its :meth:`~tailguard.policy.steps.Step.candidates` hook: ``replace``, ``accumulate``,
``accumulate-subsample`` and any plug-in source written that way), :func:`compile_policy` gives a
:class:`CompiledPolicy` whose :meth:`~CompiledPolicy.select` returns exactly the composer's
``Selection.indices`` from the same generator (tested on random pools), with the same errors,
without building a :class:`~tailguard.policy.pool.Pool` every generation.

Any other policy (a filter, dedup, fresh, anchor or sampler step, or a source that overrides
``apply``) compiles to ``None``, and the loop runs the composer.

>>> import numpy as np
>>> from tailguard.policy import parse_policy
>>> rounds = np.array([0, 0, 1, 1, 2, 2])
>>> plan = compile_policy(parse_policy("accumulate-subsample"))
>>> plan.select(rounds, current_round=2, target_size=3, rng=lambda: np.random.default_rng(0)).tolist()
[3, 4, 5]
>>> compile_policy(parse_policy("replace")).select(rounds, current_round=2, target_size=2, rng=None).tolist()
[4, 5]
>>> compile_policy(parse_policy("replace+anchor:0.2")) is None
True
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from tailguard.errors import EmptyDatasetError, ParameterError
from tailguard.policy.composer import check_request
from tailguard.policy.steps import Step, has_candidates

if TYPE_CHECKING:
    from tailguard.policy.spec import Policy


@dataclass(frozen=True)
class CompiledPolicy:
    """The indices a source-only policy selects, from the pool's rounds (see the module docstring)."""

    policy: Policy
    source: Step

    def select(
        self,
        rounds: np.ndarray,
        *,
        current_round: int,
        target_size: int | None,
        rng: Callable[[], np.random.Generator] | None,
    ) -> np.ndarray:
        """The sorted pool indices of the training set: the composer's ``Selection.indices``.

        ``rng`` makes the generator when a draw is needed (``None`` where the caller knows none is:
        an error then says so), so a caller with positioned streams positions one only when used.
        """
        src = self.source
        check_request(rounds.shape[0], target_size)
        keep = src.candidates(rounds, current_round) & (rounds <= current_round)
        idx = keep.nonzero()[0]
        if idx.shape[0] == 0:
            raise EmptyDatasetError(src.empty_message(current_round))
        if src.requires_target_size and target_size is None:
            raise ParameterError(f"{src.spec()} holds the size fixed: pass target_size")
        count = (target_size if target_size is not None else idx.shape[0]) if src.fixed_size else idx.shape[0]
        if count >= idx.shape[0]:
            return idx.astype(np.int64, copy=False)
        if rng is None:
            raise ParameterError(f"{self.policy} draws {count} of {idx.shape[0]} candidates: pass rng")
        return np.sort(rng().choice(idx, size=count, replace=False)).astype(np.int64, copy=False)


def compile_policy(policy: Policy) -> CompiledPolicy | None:
    """The plan of a policy whose only step is a source with ``candidates`` (else ``None``)."""
    steps = policy.steps
    source = policy.source
    if any(step.kind != "source" for step in steps) or not has_candidates(type(source)):
        return None
    return CompiledPolicy(policy=policy, source=source)
