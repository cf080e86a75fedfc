"""Data of unknown origin: the machine-made share, the filter and dedup, on mixtures with exact truth.

Human text is real and of two sources: the Python documentation's paragraphs
(``pydoc_data``) and Debian's ``fortunes``. It is cut into three disjoint parts
per trial (seeded): the **reference**, the candidate's **human** documents, and a
**source** part. Machine-made text is made here (``tailguard.data.machine_text``):

* ``markov``: a word-trigram chain trained on the reference, as generation 1 of a
  self-consuming loop is trained on the human data the reference comes from;
* ``markov-disjoint``: the same chain trained on the source part, text the
  reference never saw (reported, no target: see docs/unknown-origin.md);
* ``paraphrase``: heuristic paraphrases (synonyms, dropped function words, swapped
  clauses) of source documents;
* ``spam``: template spam with slot fillers.

For each kind and machine-made share (0, 10, 30, 60%), ``--trials`` seeded trials
score the candidate (``tailguard.scoring.score``), and report the estimate and its
95% CI beside the truth, the CI's coverage, the filter's keep and drop rates
(``tailguard.policy.filtering.machine_made``, ``keep_human=0.95``: the decision
``filter`` makes), dedup's recall and precision on the planted spam clusters, and
the domain check on an all-human dictionary candidate (GCIDE). ``--scale N``
scores a candidate of N documents (30% machine-made, all kinds) against 10 000
reference documents and reports the time and the peak RSS.

Usage::

    python benchmarks/unknown_origin.py [--trials 10] [--n 4000] [--kinds markov,spam] [--scale 300000]
"""

from __future__ import annotations

import argparse
import platform
import resource
import sys
import time
import warnings

import numpy as np

from tailguard.data import fortunes_texts, gcide_entries, python_docs_paragraphs
from tailguard.data.machine_text import build_mixture, split_human
from tailguard.policy.dedup import text_duplicates
from tailguard.policy.filtering import machine_made
from tailguard.policy.steps import POLICIES
from tailguard.scoring import score

SHARES = (0.0, 0.1, 0.3, 0.6)
DEDUP_JACCARD = float(POLICIES.get("dedup").defaults["jaccard"])  # what the dedup step uses
KINDS = ("markov", "markov-disjoint", "paraphrase", "spam")
TARGET_KINDS = ("markov", "spam")


def human_pool() -> list[str]:
    return python_docs_paragraphs() + fortunes_texts()


def split_parts(pool: list[str], n_reference: int, n_candidate: int, seed: int) -> list[list[str]]:
    """Reference, candidate-human and source parts (the pool repeats a few texts, which split_human keeps once)."""
    ref_f, cand_f = 1.02 * n_reference / len(pool), 1.05 * n_candidate / len(pool)
    ref, human, source = split_human(pool, np.random.default_rng([seed, 7]), [ref_f, cand_f, 0.99 - ref_f - cand_f])
    return [ref[:n_reference], human, source]


def mixture(kind: str, share: float, n: int, parts: list[list[str]], seed: int):
    ref, human, source = parts
    base = "markov" if kind.startswith("markov") else kind
    src = ref if kind == "markov" else source
    return build_mixture(human, base, share, n, np.random.default_rng([seed, 11]),
                         source_docs=src if base != "spam" else None, replace=False)


def pair_scores(labels: np.ndarray, truth: np.ndarray) -> tuple[float, float]:
    """Pairwise precision and recall of predicted clusters against true ones (truth -1: a singleton)."""
    def pairs(groups: np.ndarray) -> set[tuple[int, int]]:
        out: set[tuple[int, int]] = set()
        order = np.argsort(groups, kind="stable")
        g = groups[order]
        for lo, hi in zip(np.r_[0, np.flatnonzero(np.diff(g)) + 1], np.r_[np.flatnonzero(np.diff(g)) + 1, g.size],
                          strict=True):
            members = order[lo:hi]
            if members.size > 1 and g[lo] >= 0:
                out.update((int(a), int(b)) for i, a in enumerate(members) for b in members[i + 1 :])
        return out

    predicted, true = pairs(labels), pairs(truth)
    precision = len(predicted & true) / len(predicted) if predicted else float("nan")
    recall = len(predicted & true) / len(true) if true else float("nan")
    return precision, recall


def run_grid(args: argparse.Namespace) -> None:
    pool = human_pool()
    print(f"human pool: {len(pool)} documents (Python docs paragraphs + Debian fortunes); "
          f"reference {args.reference}, candidate {args.n} per trial, {args.trials} trials")
    print()
    print("| kind | true share | mean estimate | max abs error | CI covers truth | mean CI | trials |")
    print("|---|---|---|---|---|---|---|")
    filter_rows, dedup_rows, warns, times = [], [], 0, []
    for kind in args.kinds:
        for share in SHARES:
            ests, cover, widths = [], 0, []
            for trial in range(args.trials):
                parts = split_parts(pool, args.reference, args.n, trial)
                mix = mixture(kind, share, args.n, parts, trial)
                start = time.perf_counter()
                result = score(list(mix.texts), parts[0], seed=trial)
                times.append(time.perf_counter() - start)
                est = result.share
                ests.append(est.estimate)
                cover += est.ci[0] <= mix.share <= est.ci[1]
                widths.append(est.ci[1] - est.ci[0])
                warns += bool(result.domain.warn)
                if share == 0.3:
                    out = machine_made(list(mix.texts), parts[0], keep_human=0.95, seed=trial)
                    machine = np.asarray(mix.is_machine)
                    filter_rows.append((kind, float(1 - out.drop[~machine].mean()), float(out.drop[machine].mean())))
                    if kind == "spam":
                        truth = np.where(machine, np.asarray(mix.cluster), -1)
                        labels = result.table["cluster_id"].to_numpy()
                        p, r = pair_scores(labels, truth)
                        dropped = text_duplicates(list(mix.texts), np.zeros(mix.n, bool), jaccard=DEDUP_JACCARD)
                        removable = int(machine.sum()) - len(set(truth[machine].tolist()))
                        dedup_rows.append((p, r, float((dropped & machine).sum() / max(removable, 1)),
                                           float((dropped & machine).sum() / max(dropped.sum(), 1))))
            ests_a = np.array(ests)
            print(f"| {kind} | {share:.0%} | {ests_a.mean():.3f} | {np.abs(ests_a - share).max():.3f} | "
                  f"{cover}/{args.trials} | {np.mean(widths):.3f} | {args.trials} |", flush=True)
    print()
    print(f"score time per trial ({args.reference} + {args.n} documents): median {np.median(times):.1f} s; "
          f"domain warnings on same-domain mixtures: {warns} of {len(times)}")
    print()
    print("filter (keep_human=0.95) at a 30% share:")
    print("| kind | human kept | machine-made dropped | trials |")
    print("|---|---|---|---|")
    for kind in args.kinds:
        rows = [r for r in filter_rows if r[0] == kind]
        if rows:
            print(f"| {kind} | {np.mean([r[1] for r in rows]):.1%} (min {min(r[1] for r in rows):.1%}) | "
                  f"{np.mean([r[2] for r in rows]):.1%} (min {min(r[2] for r in rows):.1%}) | {len(rows)} |")
    if dedup_rows:
        d = np.array(dedup_rows)
        print()
        print(f"near-duplicate clusters (word-bigram Jaccard >= {DEDUP_JACCARD:g}) on planted spam (30% share, "
              f"{len(d)} trials): pairwise precision "
              f"{np.nanmean(d[:, 0]):.3f}, recall {np.nanmean(d[:, 1]):.3f}; dedup drops {np.mean(d[:, 2]):.1%} of "
              f"the removable spam copies, and {np.mean(d[:, 3]):.1%} of what it drops is spam")


def run_domain(args: argparse.Namespace) -> None:
    pool = human_pool()
    rng = np.random.default_rng(3)
    ref = [pool[i] for i in rng.permutation(len(pool))[: args.reference]]
    gc = gcide_entries()
    cand = [gc[i] for i in rng.permutation(len(gc))[: args.n]]
    result = score(cand, ref, seed=3)
    d = result.domain
    print()
    print(f"domain check, all-human GCIDE dictionary entries ({len(cand)}) against the reference: warn={d.warn}, "
          f"novelty AUC {d.auc:.3f} (95% CI {d.ci[0]:.3f}-{d.ci[1]:.3f}); share estimate "
          f"{result.share.estimate:.3f} (the estimate is meaningless here, which is what the warning says)")


def run_scale(args: argparse.Namespace) -> None:
    pool = human_pool()
    parts = split_human(pool, np.random.default_rng(0), [0.7, 0.15, 0.15])
    ref = parts[0][:10_000]
    mix = build_mixture(parts[1], ["markov", "paraphrase", "spam"], 0.3, args.scale, np.random.default_rng(1),
                        source_docs=parts[2], replace=True)
    texts = list(mix.texts)
    start = time.perf_counter()
    result = score(texts, ref, seed=0)
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2
    print()
    print(f"scale: {len(texts)} candidate + {len(ref)} reference documents scored in {seconds:.1f} s, peak RSS "
          f"{peak:.2f} GB (this process, mixture included); share estimate {result.share.estimate:.3f} "
          f"[{result.share.ci[0]:.3f}, {result.share.ci[1]:.3f}] against a true 0.300")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trials", type=int, default=10)
    parser.add_argument("--n", type=int, default=4000, help="candidate documents per trial")
    parser.add_argument("--reference", type=int, default=4000, help="reference documents per trial")
    parser.add_argument("--kinds", type=lambda s: s.split(","), default=list(KINDS))
    parser.add_argument("--scale", type=int, default=0, help="also score a candidate of this many documents")
    parser.add_argument("--only-scale", action="store_true")
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore")
    print(f"# unknown origin ({platform.python_version()}, {platform.machine()})")
    if not args.only_scale:
        run_grid(args)
        run_domain(args)
    if args.scale:
        run_scale(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
