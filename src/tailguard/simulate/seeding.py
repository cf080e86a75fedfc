"""Seeded random streams: one independent stream per (seed, generation, purpose).

Every random draw of a run comes from the stream of (entropy, seed, generation, purpose):
a :class:`numpy.random.Philox` counter-based generator whose 128-bit key is derived from
(entropy, seed) by a :class:`numpy.random.SeedSequence` and whose counter starts at
(0, 0, generation, purpose). Philox encrypts its counter under the key, so each
(generation, purpose) owns a disjoint block of 2¹²⁸ outputs of its seed's sequence. Hence

- a resumed run draws exactly what the uninterrupted run would have drawn;
- all policies of one seed share their human data and their model 0, and draw the same
  numbers for the same purpose of the same generation (common random numbers make policy
  comparisons sharper: the comparison is *paired* by seed);
- results do not depend on how chains were spread over worker processes, nor on which code
  path (the generic loop or a family's vectorised path) ran them.

:func:`stream` builds a new generator; :class:`ChainStreams` moves one cached generator per
purpose to the asked position instead (about 0.3 µs rather than 10 µs), for loops that ask for
thousands of streams. A generator it hands out is valid until the same purpose is asked for
again, so pass it on, never keep it.

>>> a = stream(7, seed=0, generation=3, purpose="fit").normal()
>>> b = stream(7, seed=0, generation=3, purpose="fit").normal()
>>> c = ChainStreams(7, seed=0).get(3, "fit").normal()
>>> a == b == c
True
>>> a == stream(7, seed=0, generation=3, purpose="sample").normal()
False
"""

from __future__ import annotations

import numpy as np

PURPOSES = {"setup": 0, "fit": 1, "sample": 2, "compose": 3, "evaluate": 4}


def stream_key(entropy: int, seed: int) -> np.ndarray:
    """The Philox key (two uint64 words) of one seed of one run."""
    return np.random.SeedSequence([int(entropy), int(seed)]).generate_state(2, dtype=np.uint64)


def _state(key: np.ndarray, generation: int, purpose: str) -> dict:
    """Philox's state at the start of one stream, in Python ints and lists rather than numpy arrays:
    the state setter reads them word by word, and a list's items are read about 3x faster."""
    return {
        "bit_generator": "Philox",
        "state": {"counter": [0, 0, int(generation), PURPOSES[purpose]], "key": [int(k) for k in key]},
        "buffer": [0, 0, 0, 0],
        "buffer_pos": 4,
        "has_uint32": 0,
        "uinteger": 0,
    }


def stream(entropy: int, *, seed: int, generation: int, purpose: str) -> np.random.Generator:
    """A new generator for one purpose of one generation of one seed."""
    key = stream_key(entropy, seed)
    bit = np.random.Philox(key=key)
    bit.state = _state(key, generation, purpose)
    return np.random.Generator(bit)


class ChainStreams:
    """The streams of one seed, handing out one reused generator per purpose (see the module docstring)."""

    __slots__ = ("_gens", "entropy", "key", "seed")

    def __init__(self, entropy: int, seed: int):
        self.entropy, self.seed = int(entropy), int(seed)
        self.key = stream_key(entropy, seed)
        # purpose -> (generator, its bit generator, the state it is set to, that state's counter)
        self._gens: dict[str, tuple[np.random.Generator, np.random.Philox, dict, list[int]]] = {}

    def get(self, generation: int, purpose: str) -> np.random.Generator:
        """The generator of ``purpose`` at ``generation``, positioned at the stream's start."""
        entry = self._gens.get(purpose)
        if entry is None:
            bit = np.random.Philox(key=self.key)
            state = _state(self.key, 0, purpose)
            entry = self._gens[purpose] = (np.random.Generator(bit), bit, state, state["state"]["counter"])
        gen, bit, state, counter = entry
        # the setter copies the values, so the dict is ours to reuse: only the generation word changes
        counter[2] = generation
        bit.state = state
        return gen
