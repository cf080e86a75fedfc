"""Example streams for the monitor's tests, benchmark and docs: human text that may turn degenerate.

The human side is Python's documentation, split into sentences and shuffled by the seed:
:func:`reference_docs` is the first ``n`` of them, and :func:`docs_stream` draws the stream
from the rest (no sentence is both reference and stream; repeated sentences count once). From document ``drift_at`` on the
stream is machine-made instead: sentences of a bigram model (the audit calibration's
:func:`~tailguard.audit.calibration.bigram_sentences`) fitted to only ``narrow`` human
sentences, the way a model trained on too little of its own output forgets the tails.

Run as a program it is the generator process of the tests: it writes the stream as JSONL,
one line at a time (flushed, ``--delay`` seconds apart), to ``--out`` or stdout.

>>> stream = docs_stream(0, 40, drift_at=20)
>>> len(stream), len(set(stream[:20]) & set(reference_docs(0, 600)))
(40, 0)
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np

#: Sentences kept back as the reference before the stream is drawn.
REFERENCE_POOL = 600


def _shuffled(seed: int) -> list[str]:
    from tailguard.data import python_docs_sentences

    docs = list(dict.fromkeys(python_docs_sentences()))  # a sentence the docs repeat is one sentence
    return [docs[i] for i in np.random.default_rng(seed).permutation(len(docs))]


def reference_docs(seed: int, n: int = REFERENCE_POOL) -> list[str]:
    """``n`` (at most :data:`REFERENCE_POOL`) human sentences: the reference of seed ``seed``."""
    return _shuffled(seed)[: min(n, REFERENCE_POOL)]


def docs_stream(seed: int, n: int, *, drift_at: int | None = None, narrow: int = 40) -> list[str]:
    """``n`` documents: human sentences (drawn with replacement from outside the reference) up to
    ``drift_at``, then bigram sentences of a model fitted to ``narrow`` human sentences."""
    from tailguard.audit.calibration import bigram_sentences

    pool = _shuffled(seed)[REFERENCE_POOL:]
    rng = np.random.default_rng([seed, 1])
    n_human = n if drift_at is None else min(drift_at, n)
    human = [pool[i] for i in rng.integers(len(pool), size=n_human)]
    if n_human == n:
        return human
    fitted_on = [pool[i] for i in rng.choice(len(pool), narrow, replace=False)]
    return human + bigram_sentences(fitted_on, n - n_human, rng)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("-n", type=int, required=True, help="documents to write")
    parser.add_argument("--drift-at", type=int, default=None, help="the first machine-made document")
    parser.add_argument("--start", type=int, default=0, help="skip the stream's first documents (a second "
                        "writer continues the first one's stream)")
    parser.add_argument("--out", default="-", help="JSONL file to append to (default: stdout)")
    parser.add_argument("--delay", type=float, default=0.0, help="seconds between lines")
    parser.add_argument("--reference", default=None, help="also write the reference here (JSONL)")
    args = parser.parse_args(argv)
    if args.reference:
        with open(args.reference, "w", encoding="utf-8") as fh:
            fh.writelines(json.dumps({"text": t}) + "\n" for t in reference_docs(args.seed))
    out = sys.stdout if args.out == "-" else open(args.out, "a", encoding="utf-8")  # noqa: SIM115
    try:
        docs = docs_stream(args.seed, args.start + args.n, drift_at=args.drift_at)[args.start:]
        for i, text in enumerate(docs, start=args.start):
            out.write(json.dumps({"text": text, "i": i}) + "\n")
            out.flush()
            if args.delay:
                time.sleep(args.delay)
    except BrokenPipeError:  # the monitor stopped reading (it alarmed): not an error of the generator
        return 0
    finally:
        if out is not sys.stdout:
            out.close()
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
