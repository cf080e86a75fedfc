"""Benchmarks of the text metrics: MinHash against datasketch, and text-statistics throughput.

Run on its own::

    .venv/bin/python benchmarks/metrics_text.py [--text-mb 200] [--minhash-docs 20000] [--text-sections diversity]

or through ``benchmarks/metrics.py``, which calls :func:`run`. Figures are
printed side by side with the peer's, measured in the same run. Throughputs are
per core: bytes or documents divided by the CPU time of this single-threaded
process (``time.process_time``), with wall time beside it.

* **MinHash** (``num_perm=128``, word 3-shingles): documents are the paragraphs
  of the Python docs (``pydoc_data.topics``, at least 5 words), repeated to
  ``--minhash-docs``. datasketch 2.0.0 gets pre-built shingles and its batch API
  (``MinHash.update_batch``); its shingling time (Python regex) is shown
  separately. tailguard's time starts from the raw strings. Accuracy: each
  paragraph of >= 20 words is paired with a copy in which a random 0-60% of
  words are replaced; both libraries' estimates are compared with the exact
  Jaccard, with each other, and with datasketch under another seed (the noise
  floor between two independent hash families).
* **Text statistics**: ``text_stats`` over the Python docs repeated to
  ``--text-mb`` megabytes, in batches of 500 documents, then ``result()``.
  Repetition keeps the distinct n-gram sets small, so a second corpus of
  ``--varied-mb`` megabytes makes every copy different: in copy ``r`` a seeded
  30% of the words get the suffix ``r``, which drives the distinct sets past
  ``max_exact`` and into HyperLogLog.
* **Beside diversity 0.3.1** (``--diversity-mb``, its own virtualenv, see
  ``benchmarks/peers/venv.py``): the varied Python docs normalised to
  lower-case words joined by single spaces, so both libraries read the same
  words. One row per statistic, each timed on both sides from the same
  documents: distinct-1..4 of the corpus as one sequence
  (``ngram_diversity_score``) against ``tailguard.metrics.text.distinct_ngrams``
  of the joined corpus, the compression ratio of every document
  (``compression_ratio``, gzip) against ``compression_ratio`` (zstd), and
  self-BLEU of the first ``--diversity-bleu-docs`` documents
  (``homogenization_score(..., "bleu")``, which needs
  ``--diversity-bleu-module`` offline) against ``sentence_self_bleu``; then the
  whole ``text_stats`` pass against the sum of the peer's rows.
"""

from __future__ import annotations

import argparse
import importlib.metadata as md
import re
import resource
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from tailguard.metrics.minhash import MinHasher, jaccard_estimate
from tailguard.metrics.text import TextStatsMetric

_WORD = re.compile(r"[a-z0-9_\x80-\U0010ffff]+")
_SECTIONS = ["minhash", "rensa", "diversity", "text", "varied"]
_REPEAT = 3  # calls per timed statistic beside diversity (the least CPU time is kept, on both sides)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of this benchmark (``benchmarks/metrics.py`` may add them to its own parser)."""
    parser.add_argument("--text-mb", type=float, default=200.0, help="size of the text-statistics corpus")
    parser.add_argument("--minhash-docs", type=int, default=20_000, help="documents for the MinHash speed test")
    parser.add_argument("--num-perm", type=int, default=128)
    parser.add_argument("--varied-mb", type=float, default=50.0, help="size of the varied-text corpus (0 to skip)")
    parser.add_argument("--diversity-mb", type=float, default=5.0, help="corpus size beside diversity (0 to skip)")
    parser.add_argument("--diversity-bleu-docs", type=int, default=100, help="documents for diversity's self-BLEU")
    parser.add_argument(
        "--diversity-bleu-module",
        default=None,
        help="folder holding evaluate's 'bleu' metric as bleu/bleu.py, so diversity's self-BLEU runs offline",
    )
    parser.add_argument(
        "--text-sections",
        nargs="*",
        choices=_SECTIONS,
        default=None,
        help="run only these parts of this benchmark (default: all)",
    )


def _pydoc_topics() -> list[str]:
    from pydoc_data.topics import topics

    return list(topics.values())


def _paragraphs(min_words: int) -> list[str]:
    return [p for t in _pydoc_topics() for p in t.split("\n\n") if len(p.split()) >= min_words]


def _shingles(doc: str, k: int = 3) -> list[bytes]:
    """The same shingles tailguard uses: lower-cased word 3-grams (the whole doc if shorter)."""
    t = _WORD.findall(doc.lower())
    if len(t) < k:
        return [w.encode() for w in t]
    return [" ".join(t[i : i + k]).encode() for i in range(len(t) - k + 1)]


def _timed(fn: Any) -> tuple[Any, float, float]:
    c0, w0 = time.process_time(), time.perf_counter()
    out = fn()
    return out, time.process_time() - c0, time.perf_counter() - w0


def bench_minhash(n_docs: int, num_perm: int) -> None:
    import datasketch
    from datasketch import MinHash

    paras = _paragraphs(5)
    docs = (paras * (n_docs // len(paras) + 1))[:n_docs]
    print(
        f"\n== MinHash, num_perm={num_perm}, {n_docs} docs (Python-docs paragraphs, mean "
        f"{np.mean([len(d.split()) for d in docs]):.0f} words)"
    )

    shingled, c_sh, _ = _timed(lambda: [_shingles(d) for d in docs])

    def ds_all() -> list[Any]:
        out = []
        for s in shingled:
            m = MinHash(num_perm=num_perm, seed=1)
            m.update_batch(s)
            out.append(m)
        return out

    _, c_ds, w_ds = _timed(ds_all)
    hasher = MinHasher(num_perm=num_perm, shingle_size=3, seed=1)
    _, c_tg, w_tg = _timed(lambda: hasher.signatures(docs))
    print(
        f"  datasketch {datasketch.__version__}: {n_docs / c_ds:10.0f} docs/s per core (MinHash only, "
        f"wall {n_docs / w_ds:.0f}); +shingling {n_docs / (c_ds + c_sh):.0f} docs/s"
    )
    print(f"  tailguard        : {n_docs / c_tg:10.0f} docs/s per core (from raw text, wall {n_docs / w_tg:.0f})")
    print(f"  speed-up         : {c_ds / c_tg:.1f}x vs datasketch MinHash only, {(c_ds + c_sh) / c_tg:.1f}x end to end")

    # accuracy on pairs with known Jaccard
    base, other, ex = _jaccard_pairs()

    def ds_est(seed: int) -> np.ndarray:
        out = []
        for a, b in zip(base, other, strict=True):
            m1, m2 = MinHash(num_perm=num_perm, seed=seed), MinHash(num_perm=num_perm, seed=seed)
            m1.update_batch(_shingles(a))
            m2.update_batch(_shingles(b))
            out.append(m1.jaccard(m2))
        return np.array(out)

    ds1, ds2 = ds_est(1), ds_est(2)
    ours = jaccard_estimate(hasher.signatures(base)[0], hasher.signatures(other)[0])
    print(f"  Jaccard on {len(base)} pairs (exact mean {ex.mean():.3f}):")
    print(
        f"    mean estimate        tailguard {ours.mean():.4f}   datasketch {ds1.mean():.4f}   "
        f"difference {ours.mean() - ds1.mean():+.4f}"
    )
    print(
        f"    mean |est - exact|   tailguard {np.abs(ours - ex).mean():.4f}   datasketch {np.abs(ds1 - ex).mean():.4f}"
    )
    print(
        f"    mean |tailguard - datasketch| per pair {np.abs(ours - ds1).mean():.4f}; "
        f"datasketch seed 1 vs seed 2 {np.abs(ds1 - ds2).mean():.4f} (noise floor)"
    )


def bench_rensa(n_docs: int, num_perm: int) -> None:
    """tailguard beside rensa (Rust MinHash): speed on the same documents, Jaccard on the same pairs."""
    try:
        import rensa
        from rensa import RMinHash
    except ImportError:
        print("\n== MinHash vs rensa: not run (rensa==0.5.0 from the bench extra is not installed)")
        return
    version = md.version("rensa")
    paras = _paragraphs(5)
    docs = (paras * (n_docs // len(paras) + 1))[:n_docs]
    print(f"\n== MinHash vs rensa {version} (RMinHash), num_perm={num_perm}, {n_docs} docs")
    shingled, c_sh, _ = _timed(lambda: [_shingles(d) for d in docs])

    def per_doc() -> list[list[int]]:
        out = []
        for s in shingled:
            m = RMinHash(num_perm=num_perm, seed=1)
            m.update(s)
            out.append(m.digest())
        return out

    _, c_one, _ = _timed(per_doc)
    _, c_bulk, _ = _timed(lambda: RMinHash.digest_matrix_from_token_sets(shingled, num_perm=num_perm, seed=1))
    hasher = MinHasher(num_perm=num_perm, shingle_size=3, seed=1)
    _, c_tg, w_tg = _timed(lambda: hasher.signatures(docs))
    rows = [
        ("rensa RMinHash.update per doc", c_one, c_one + c_sh),
        ("rensa digest_matrix_from_token_sets", c_bulk, c_bulk + c_sh),
    ]
    print(f"  shingling for rensa (Python regex, as for datasketch): {n_docs / c_sh:.0f} docs/s per core")
    for name, c_mh, c_all in rows:
        print(f"  {name:36s}: {n_docs / c_mh:9.0f} docs/s MinHash only, {n_docs / c_all:9.0f} from raw text")
    print(f"  tailguard MinHasher.signatures      :           {n_docs / c_tg:9.0f} from raw text (wall {n_docs / w_tg:.0f})")
    best = min(c_bulk + c_sh, c_one + c_sh)
    print(
        f"  ratio (tailguard / rensa docs/s)    : {best / c_tg:.2f}x end to end against rensa's fastest, "
        f"{c_bulk / c_tg:.2f}x against its bulk MinHash alone (tokens given)"
    )
    del rensa

    base, other, ex = _jaccard_pairs()
    m1 = RMinHash.digest_matrix_from_token_sets([_shingles(a) for a in base], num_perm=num_perm, seed=1).to_rows()
    m2 = RMinHash.digest_matrix_from_token_sets([_shingles(b) for b in other], num_perm=num_perm, seed=1).to_rows()
    rs = jaccard_estimate(np.array(m1, dtype=np.uint64), np.array(m2, dtype=np.uint64))
    ours = jaccard_estimate(hasher.signatures(base)[0], hasher.signatures(other)[0])
    print(
        f"  Jaccard on {len(base)} pairs (exact mean {ex.mean():.4f}): mean estimate tailguard {ours.mean():.4f}, "
        f"rensa {rs.mean():.4f} (difference {ours.mean() - rs.mean():+.4f}; target within 0.02)"
    )
    print(
        f"    mean |est - exact| tailguard {np.abs(ours - ex).mean():.4f}, rensa {np.abs(rs - ex).mean():.4f}; "
        f"max |est - exact| tailguard {np.abs(ours - ex).max():.4f}, rensa {np.abs(rs - ex).max():.4f}"
    )


def _jaccard_pairs() -> tuple[list[str], list[str], np.ndarray]:
    """1,000 paragraphs of >= 20 words, each with a copy in which a random 0-60% of words are replaced."""
    rng = np.random.default_rng(0)
    base = [" ".join(_WORD.findall(p.lower())) for p in _paragraphs(20)][:1000]
    other = []
    for d in base:
        frac = rng.uniform(0, 0.6)
        other.append(" ".join(w if rng.random() >= frac else f"x{rng.integers(10**9)}" for w in d.split()))

    def exact(a: str, b: str) -> float:
        sa, sb = set(_shingles(a)), set(_shingles(b))
        return len(sa & sb) / len(sa | sb)

    return base, other, np.array([exact(a, b) for a, b in zip(base, other, strict=True)])


def bench_diversity(target_mb: float, bleu_docs: int, bleu_module: str | None = None) -> None:
    """text_stats beside the ``diversity`` package (its own venv), statistic by statistic, on the same corpus.

    Each row times one statistic on both sides from the same documents (the least
    CPU seconds of ``_REPEAT`` calls, the peer's in its own process; self-BLEU and the
    whole pass are called once): distinct-1..4 of the corpus
    as one sequence (diversity's definition), the compression ratio of every
    document, and self-BLEU of the first ``bleu_docs`` documents (the same sample
    for both). Then the whole ``text_stats`` pass (every value) against the sum of
    the peer's rows. diversity's self-BLEU loads ``evaluate.load("bleu")``, which
    fetches a script from the Hugging Face Hub; offline it runs only when
    ``bleu_module`` is a folder holding that metric's files as ``bleu/`` (the peer
    then runs from that folder).
    """
    import json
    import tempfile

    from tailguard.metrics.bleu import self_bleu_summary, sentence_self_bleu
    from tailguard.metrics.text import compression_ratio, distinct_ngrams
    from tailguard.metrics.tokenize import encode_texts, tokenize

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from peers.venv import run_peer

    topics = _pydoc_topics()
    unit = sum(len(t.encode()) for t in topics)
    # Words lower-cased and joined by single spaces: diversity's tokens (split on " ") are then tailguard's.
    corpus = [" ".join(_WORD.findall(t.lower())) for t in _varied(topics, max(1, round(target_mb * 1e6 / unit)))]
    corpus = [d for d in corpus if d]
    mb = sum(len(d.encode()) for d in corpus) / 1e6
    sample = corpus[:bleu_docs]
    print(f"\n== text statistics vs diversity: {mb:.1f} MB, {len(corpus)} documents (varied Python docs, normalised)")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "corpus.json"
        path.write_text(json.dumps(corpus), encoding="utf-8")
        job = {"corpus": str(path), "bleu_docs": bleu_docs, "bleu_module": bleu_module, "repeat": _REPEAT}
        peer = run_peer("diversity", "diversity_text.py", job)
    if "error" in peer:
        print(f"  diversity: not run: {peer['error']}")
        return

    def least(fn: Any) -> tuple[Any, float]:
        """``fn()`` and the least CPU seconds of ``_REPEAT`` calls (as the peer script does)."""
        runs = [_timed(fn) for _ in range(_REPEAT)]
        return runs[0][0], min(c for _, c, _ in runs)

    tg_ngram, c_ngram = least(lambda: distinct_ngrams([" ".join(corpus)], 4))
    tg_comp, c_comp = least(lambda: compression_ratio(corpus))
    tg_bleu, c_bleu, _ = _timed(lambda: self_bleu_summary(sentence_self_bleu(tokenize(encode_texts(sample))))[0])
    m = TextStatsMetric()

    def feed() -> None:
        for i in range(0, len(corpus), 500):
            m.update(corpus[i : i + 500])

    _, c_up, _ = _timed(feed)
    res, c_res, _ = _timed(m.result)
    c_tg = c_up + c_res

    print(
        f"  diversity {peer['version']} beside tailguard, CPU seconds on the same documents (the least of "
        f"{_REPEAT} calls for the first two rows, one call for self-BLEU and text_stats):"
    )
    print(f"  {'statistic':44s} {'tailguard':>10s} {'diversity':>10s} {'ratio':>7s}  values (tailguard; diversity)")

    def row(name: str, c_ours: float, key: str, values: str) -> None:
        c_peer = peer.get(f"{key}_s")
        theirs = f"{c_peer:10.3f}" if c_peer is not None else f"{'not run':>10s}"
        ratio = f"{c_peer / c_ours:6.1f}x" if c_peer is not None else f"{'-':>7s}"
        print(f"  {name:44s} {c_ours:10.3f} {theirs} {ratio}  {values}")

    same = "equal" if round(sum(tg_ngram), 3) == peer["ngram_diversity"] else "DIFFERENT"
    row(
        "distinct-1..4 summed, corpus as one sequence",
        c_ngram,
        "ngram_diversity",
        f"{sum(tg_ngram):.6f} ({', '.join(f'{v:.4f}' for v in tg_ngram)}); {peer['ngram_diversity']:.3f}: "
        f"{same} at its 3 decimals",
    )
    row(
        f"compression ratio, all {len(corpus)} documents",
        c_comp,
        "compression_ratio",
        f"{tg_comp:.3f} (zstd level 3, joined by newlines); {peer['compression_ratio']:.3f} "
        f"(gzip level 9, joined by spaces): definitions differ",
    )
    bleu_theirs = f"{peer['self_bleu']:.3f}" if "self_bleu" in peer else peer.get("self_bleu_error", "not run")
    row(
        f"self-BLEU, the first {len(sample)} documents",
        c_bleu,
        "self_bleu",
        f"{tg_bleu:.4f} (mean sentence BLEU-4 of each against the others, NLTK method1); {bleu_theirs} "
        f"(mean corpus BLEU of the others against each): definitions differ",
    )
    c_two = peer["ngram_diversity_s"] + peer["compression_ratio_s"]
    c_all = c_two + peer.get("self_bleu_s", 0.0)
    k = res.details["sample_documents"]
    print(
        f"  text_stats, all {len(res.values)} values: {c_tg:.3f} s ({mb / c_tg:.2f} MB/s per core) = update "
        f"{c_up:.3f} s ({mb / c_up:.2f} MB/s: distinct-n, vocabulary, hapax, MATTR, repetition, lengths) + result "
        f"{c_res:.3f} s (self-BLEU of its {k}-document sample, compression of it and of 20 half-samples for the CI, "
        f"Zipf fit)"
    )
    print(
        f"    against diversity's distinct-n + compression rows ({c_two:.3f} s): {c_two / c_tg:.1f}x"
        + (
            f"; with its self-BLEU of {len(sample)} documents ({c_all:.3f} s): {c_all / c_tg:.1f}x"
            if "self_bleu_s" in peer
            else ""
        )
    )
    inside = ", ".join(f"{res.value(name).value:.4f}" for name in ("distinct_1", "distinct_2", "distinct_3", "distinct_4"))
    print(
        f"  text_stats values: distinct_1..4 {inside} (n-grams inside documents), "
        f"compression_ratio {res.value('compression_ratio').value:.3f} (the same documents in its sample's seeded "
        f"hash order), self_bleu {res.value('self_bleu').value:.4f} (its {k}-document sample)"
    )


def _varied(topics: list[str], reps: int) -> list[str]:
    rng = np.random.default_rng(0)
    out = []
    for r in range(reps):
        for t in topics:
            words = t.split(" ")
            mark = rng.random(len(words)) < 0.3
            out.append(" ".join(f"{w}{r}" if m else w for w, m in zip(words, mark, strict=True)))
    return out


def bench_text_stats(target_mb: float, *, varied: bool = False) -> None:
    topics = _pydoc_topics()
    unit = sum(len(t.encode()) for t in topics)
    reps = max(1, round(target_mb * 1e6 / unit))
    corpus = _varied(topics, reps) if varied else topics * reps
    mb = sum(len(t.encode()) for t in corpus) / 1e6
    what = "varied copies of the Python docs (30% of words suffixed per copy)" if varied else "the Python docs"
    print(f"\n== text_stats on {what} x{reps}: {mb:.1f} MB, {len(corpus)} documents")
    m = TextStatsMetric()

    def feed() -> None:
        for i in range(0, len(corpus), 500):
            m.update(corpus[i : i + 500])

    _, c_up, w_up = _timed(feed)
    res, c_res, w_res = _timed(m.result)
    cpu, wall = c_up + c_res, w_up + w_res
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"  update {c_up:.1f} s CPU ({w_up:.1f} s wall), result {c_res:.1f} s CPU ({w_res:.1f} s wall)")
    print(f"  throughput {mb / cpu:.1f} MB/s per core ({mb / wall:.1f} MB/s wall); peak RSS {rss:.0f} MiB")
    print(f"  vocabulary mode {res.details['candidate_vocabulary_mode']}")
    print("  values: " + ", ".join(f"{v.name}={v.value:.4g}" for v in res.values))


def run(args: argparse.Namespace | None = None) -> None:
    """Run both benchmarks and print their figures (``args`` as built by :func:`add_arguments`)."""
    defaults = argparse.ArgumentParser()
    add_arguments(defaults)
    opts = vars(defaults.parse_args([]))
    if args is not None:
        opts.update({k: v for k, v in vars(args).items() if k in opts})
    chosen = opts["text_sections"] or _SECTIONS
    if "minhash" in chosen:
        bench_minhash(opts["minhash_docs"], opts["num_perm"])
    if "rensa" in chosen:
        bench_rensa(opts["minhash_docs"], opts["num_perm"])
    if "diversity" in chosen and opts["diversity_mb"] > 0:
        bench_diversity(opts["diversity_mb"], opts["diversity_bleu_docs"], opts["diversity_bleu_module"])
    if "text" in chosen:
        bench_text_stats(opts["text_mb"])
    if "varied" in chosen and opts["varied_mb"] > 0:
        bench_text_stats(opts["varied_mb"], varied=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_arguments(parser)
    run(parser.parse_args())
