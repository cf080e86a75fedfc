"""The ``diversity`` package's text statistics on a corpus written by ``benchmarks/metrics_text.py``.

Runs in the ``diversity`` peer venv (``benchmarks/peers/venv.py``: diversity 0.3.1
needs sentence-transformers<6 and transformers<5). Reads a JSON object on stdin:
``corpus`` (path of a JSON list of documents) and ``bleu_docs`` (how many
documents self-BLEU gets). Prints one JSON line with each function's value and
CPU seconds:

* ``ngram_diversity_score(docs, 4)``: the sum over n = 1..4 of distinct n-grams /
  all n-grams of ``" ".join(docs).split(" ")`` (n-grams cross documents), rounded
  to 3 decimals;
* ``compression_ratio(docs, "gzip")``: bytes of ``" ".join(docs)`` / its gzip size
  (written to a temporary folder), rounded to 3 decimals;
* ``homogenization_score(docs[:bleu_docs], "bleu")``: self-BLEU. It loads the
  BLEU metric with ``evaluate.load("bleu")``, which fetches a script from the
  Hugging Face Hub; offline it fails and the error is returned instead.
"""

from __future__ import annotations

import json
import sys
import time


def _cpu(fn):
    t = time.process_time()
    out = fn()
    return out, time.process_time() - t


def main() -> None:
    job = json.loads(sys.stdin.read())
    import importlib.metadata as md

    from diversity import compression_ratio, homogenization_score, ngram_diversity_score

    with open(job["corpus"], encoding="utf-8") as f:
        docs = json.load(f)
    out: dict = {"version": md.version("diversity")}
    out["ngram_diversity"], out["ngram_diversity_s"] = _cpu(lambda: ngram_diversity_score(docs, 4))
    out["compression_ratio"], out["compression_ratio_s"] = _cpu(lambda: compression_ratio(docs, "gzip"))
    try:
        sample = docs[: int(job["bleu_docs"])]
        out["self_bleu"], out["self_bleu_s"] = _cpu(lambda: homogenization_score(sample, "bleu", verbose=False))
    except Exception as exc:  # the peer's own failure, reported beside the figures
        out["self_bleu_error"] = f"{type(exc).__name__}: {str(exc)[:160]}"
    print(json.dumps(out))


if __name__ == "__main__":
    main()
