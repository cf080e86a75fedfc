"""Calibration of the "what was lost" lists: how often random halves list anything, and
how often a planted loss is named, over many seeded splits of the built-in real data.

Null scenarios split one dataset into two random halves (candidate, reference): nothing
should be listed as lost. Power scenarios plant a loss in the candidate half and check
that the lost item itself is named:

- ``docs/words``: five words found in 25-40 reference paragraphs, every candidate
  paragraph holding one removed;
- ``docs/long``: candidate paragraphs longer than the reference's 95th percentile (tokens) removed;
- ``wine/alcohol``: 1,000 rows resampled from wine without the rows above the 95th
  percentile of alcohol, against all of wine (178 rows: halves are too small to tell);
- ``breast_cancer/worst_area``: rows above the reference's 95th percentile of ``worst area`` removed;
- ``digits/class``: the reference's rarest class removed;
- ``images/typical``: digit images, the candidate's sparsest 20% (own k-NN radius) removed.

Usage::

    python benchmarks/losses.py [--trials 40]

The figures in docs/audit.md ("What was lost") come from this script.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import numpy as np


def _frame(data: Any) -> Any:
    import pandas as pd

    return pd.DataFrame(np.asarray(data.X), columns=list(data.feature_names))


def _halves(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    order = np.random.default_rng(1000 + seed).permutation(n)
    return order[: n // 2], order[n // 2 :]


def scenarios() -> dict[str, Callable[[int], bool]]:
    """Each scenario maps a seed to True when the trial "fires" (anything listed / the planted item named)."""
    from tailguard.audit.inputs import as_input
    from tailguard.audit.losses import find_losses, tokens
    from tailguard.data import load_breast_cancer, load_digits, load_wine
    from tailguard.data.text import python_docs_paragraphs
    from tailguard.metrics.knn import build_index, kth_neighbour_sq_radii

    docs = python_docs_paragraphs()
    wine, cancer = _frame(load_wine()), _frame(load_breast_cancer())
    digits = load_digits()
    table = _frame(digits)
    images = np.clip(np.rint(digits.images * 255 / 16), 0, 255).astype(np.uint8)

    def run(cand: Any, ref: Any, seed: int, cand_labels: Any = None, ref_labels: Any = None) -> Any:
        return find_losses(
            as_input(cand, labels=cand_labels), as_input(ref, name="reference", labels=ref_labels), seed=seed
        )

    def null(get: Callable[[np.ndarray], tuple[Any, Any]], n: int) -> Callable[[int], bool]:
        def trial(seed: int) -> bool:
            a, b = _halves(n, seed)
            (cand, cand_labels), (ref, ref_labels) = get(b), get(a)
            return run(cand, ref, seed, cand_labels, ref_labels).n_lost > 0

        return trial

    def words(seed: int) -> bool:
        a, b = _halves(len(docs), seed)
        ref = [docs[i] for i in a]
        df: dict[str, int] = {}
        for d in ref:
            for w in set(tokens(d)):
                df[w] = df.get(w, 0) + 1
        rng = np.random.default_rng(seed)
        pool = sorted(w for w, c in df.items() if 25 <= c <= 40 and w.isalpha())
        planted = set(rng.choice(pool, 5, replace=False).tolist())
        cand = [docs[i] for i in b if not set(tokens(docs[i])) & planted]
        losses = run(cand, ref, seed)
        return planted <= {t.text for t in losses.terms[0].lost}

    def long_docs(seed: int) -> bool:
        a, b = _halves(len(docs), seed)
        ref = [docs[i] for i in a]
        p95 = np.quantile([len(tokens(d)) for d in ref], 0.95, method="inverted_cdf")
        losses = run([docs[i] for i in b if len(tokens(docs[i])) <= p95], ref, seed)
        return any(t.lost and t.side == "upper" and t.quantile == 0.95 for t in losses.lengths.tails)

    def alcohol(seed: int) -> bool:
        p95 = np.quantile(wine["alcohol"], 0.95, method="inverted_cdf")
        kept = wine[wine["alcohol"] <= p95]
        cand = kept.iloc[np.random.default_rng(seed).integers(0, len(kept), 1000)]
        return ("alcohol", "upper") in {(t.feature, t.side) for t in run(cand, wine, seed).columns.lost}

    def worst_area(seed: int) -> bool:
        a, b = _halves(len(cancer), seed)
        ref, cand = cancer.iloc[a], cancer.iloc[b]
        p95 = np.quantile(ref["worst area"], 0.95, method="inverted_cdf")
        losses = run(cand[cand["worst area"] <= p95], ref, seed)
        return ("worst area", "upper") in {(t.feature, t.side) for t in losses.columns.lost}

    def rarest_class(seed: int) -> bool:
        a, b = _halves(len(table), seed)
        rarest = int(np.argmin(np.bincount(digits.y[a])))
        keep = b[digits.y[b] != rarest]
        losses = run(table.iloc[keep], table.iloc[a], seed, digits.y[keep], digits.y[a])
        return [c.label for c in losses.classes.lost] == [str(rarest)]

    def typical_images(seed: int) -> bool:
        a, b = _halves(len(images), seed)
        cand = as_input(images[b])
        radius = kth_neighbour_sq_radii(build_index(cand.vectors), cand.vectors, 5)
        keep = radius <= np.quantile(radius, 0.8)
        cand = replace(cand, n=int(keep.sum()), vectors=cand.vectors[keep])
        losses = find_losses(cand, as_input(images[a], name="reference"), seed=seed)
        return losses.rarity.lost and all(e.thumbnail for e in losses.rarity.examples)

    return {
        "docs/null": null(lambda i: ([docs[j] for j in i], None), len(docs)),
        "wine/null": null(lambda i: (wine.iloc[i], None), len(wine)),
        "breast_cancer/null": null(lambda i: (cancer.iloc[i], None), len(cancer)),
        "digits/null": null(lambda i: (table.iloc[i], digits.y[i]), len(table)),
        "images/null": null(lambda i: (images[i], digits.y[i]), len(images)),
        "docs/words": words,
        "docs/long": long_docs,
        "wine/alcohol": alcohol,
        "breast_cancer/worst_area": worst_area,
        "digits/class": rarest_class,
        "images/typical": typical_images,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=40)
    args = parser.parse_args(argv)
    for name, trial in scenarios().items():
        start = time.perf_counter()
        fired = sum(trial(seed) for seed in range(args.trials))
        what = "listed anything" if name.endswith("/null") else "named the planted loss"
        print(f"{name:26s} {fired:3d}/{args.trials} {what}  ({time.perf_counter() - start:.1f} s)", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
