"""Seeded random streams: one independent stream per (seed, generation, purpose).

Every random draw of a run comes from ``stream(entropy, seed, generation, purpose)``
(a :class:`numpy.random.SeedSequence` keyed by all four), so

- a resumed run draws exactly what the uninterrupted run would have drawn;
- all policies of one seed share their human data and their model 0
  (common random numbers make policy comparisons sharper);
- results do not depend on how chains were spread over worker processes.

>>> a = stream(7, seed=0, generation=3, purpose="fit").normal()
>>> b = stream(7, seed=0, generation=3, purpose="fit").normal()
>>> a == b
True
"""

from __future__ import annotations

import numpy as np

PURPOSES = {"setup": 0, "fit": 1, "sample": 2, "compose": 3, "evaluate": 4, "vectorised": 5}


def stream(entropy: int, *, seed: int, generation: int, purpose: str) -> np.random.Generator:
    """The generator for one purpose of one generation of one seed."""
    return np.random.default_rng(np.random.SeedSequence([int(entropy), int(seed), int(generation), PURPOSES[purpose]]))
