"""The ``diversity`` package's text statistics on a corpus written by ``benchmarks/metrics_text.py``.

Runs in the ``diversity`` peer venv (``benchmarks/peers/venv.py``: diversity 0.3.1
needs sentence-transformers<6 and transformers<5). Reads a JSON object on stdin:
``corpus`` (path of a JSON list of documents), ``bleu_docs`` (how many
documents self-BLEU gets), ``repeat`` (calls of the first two functions, whose
least CPU time is kept; self-BLEU is called once) and ``bleu_module`` (below).
Prints one JSON line with each function's value and CPU seconds:

* ``ngram_diversity_score(docs, 4)``: the sum over n = 1..4 of distinct n-grams /
  all n-grams of ``" ".join(docs).split(" ")`` (n-grams cross documents), rounded
  to 3 decimals;
* ``compression_ratio(docs, "gzip")``: bytes of ``" ".join(docs)`` / its gzip size
  (written to a temporary folder), rounded to 3 decimals;
* ``homogenization_score(docs[:bleu_docs], "bleu")``: self-BLEU, the mean over
  documents of the corpus BLEU of all the others against it, rounded to 3
  decimals. It loads the BLEU metric with ``evaluate.load("bleu")``, which reads
  ``./bleu/bleu.py`` when there is one and otherwise fetches the script from the
  Hugging Face Hub. With ``bleu_module`` (a folder holding the metric's files as
  ``bleu/``) the script runs from that folder, so it works offline; otherwise
  offline it fails and the error is returned instead.
"""

from __future__ import annotations

import json
import os
import sys
import time


def _cpu(fn, repeat=1):
    """``fn()`` and the least CPU seconds of ``repeat`` calls."""
    best = float("inf")
    for _ in range(repeat):
        t = time.process_time()
        out = fn()
        best = min(best, time.process_time() - t)
    return out, best


def main() -> None:
    job = json.loads(sys.stdin.read())
    import importlib.metadata as md

    from diversity import compression_ratio, homogenization_score, ngram_diversity_score

    with open(job["corpus"], encoding="utf-8") as f:
        docs = json.load(f)
    out: dict = {"version": md.version("diversity")}
    repeat = int(job.get("repeat", 1))
    out["ngram_diversity"], out["ngram_diversity_s"] = _cpu(lambda: ngram_diversity_score(docs, 4), repeat)
    out["compression_ratio"], out["compression_ratio_s"] = _cpu(lambda: compression_ratio(docs, "gzip"), repeat)
    try:
        if job.get("bleu_module"):
            os.chdir(job["bleu_module"])
        sample = docs[: int(job["bleu_docs"])]
        out["self_bleu"], out["self_bleu_s"] = _cpu(lambda: homogenization_score(sample, "bleu", verbose=False))
    except Exception as exc:  # the peer's own failure, reported beside the figures
        out["self_bleu_error"] = f"{type(exc).__name__}: {str(exc)[:160]}"
    print(json.dumps(out))


if __name__ == "__main__":
    main()
