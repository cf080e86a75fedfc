"""What ``filter`` drops from text before any feature is compared: degenerate model output.

The tests are the audit's own (same tokeniser, same n-gram order, same MinHash
and LSH, same thresholds by default):

* **no words**: the text has no word token (the tokeniser of
  :mod:`tailguard.metrics.tokenize`), e.g. ``""`` or ``". . ."``;
* **repetitive**: the share of the text's word 3-grams that repeat an earlier
  3-gram of the same text (``text_stats``' ``repetition_rate``, per text) is at
  least ``repetition`` and above ``q``, the 0.999 quantile of the reference
  texts' shares (so at most about 0.1% of genuine texts that look like the
  reference are dropped), or a text of three or more words uses a single word;
* **near-duplicate**: the text is in a cluster of estimated word-3-shingle
  Jaccard ``>= jaccard`` (``near_duplicates``: MinHash + LSH, connected
  components) that holds an earlier text. Human texts come first, then the
  others in pool order; every human text is kept, and of the others only a
  cluster's first one when the cluster holds no human text. What is left has
  one text per cluster, plus the human texts, so the mix's ``duplicate_rate``
  is at most the human texts' own.

Human texts are never dropped.

>>> human = ["the cat sat on the mat", "a dog ran in the park"]
>>> texts = human + ["", "the the the the the", "the cat sat on the mat", "birds sing at dawn in the garden"]
>>> out = degenerate_texts(texts, [True, True, False, False, False, False], human)
>>> out.empty.tolist(), out.repetitive.tolist(), out.duplicate.tolist()
([False, False, True, False, False, False], [False, False, False, True, False, False], [False, False, False, False, True, False])
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from tailguard.metrics.duplicates import NearDuplicateMetric, duplicate_clusters
from tailguard.metrics.minhash import MinHasher, optimal_bands
from tailguard.metrics.text import TextStatsMetric, repetition_parts
from tailguard.metrics.tokenize import encode_texts, tokenize

#: The reference quantile of the per-text repetition share that the threshold never goes below.
REFERENCE_QUANTILE = 0.999
#: The audit's defaults these tests share.
REPETITION_N = int(TextStatsMetric.defaults["repetition_n"])
NEAR_DUPLICATES = {key: NearDuplicateMetric.defaults[key] for key in ("num_perm", "shingle_size", "threshold", "seed")}


@dataclass(frozen=True)
class DegenerateOutcome:
    """Masks over the texts given to :func:`degenerate_texts`, and the threshold used."""

    empty: np.ndarray
    repetitive: np.ndarray
    duplicate: np.ndarray
    repetition_threshold: float
    jaccard: float

    @property
    def any(self) -> np.ndarray:
        return self.empty | self.repetitive | self.duplicate


def repetition_shares(texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per text: the share of its word 3-grams that repeat an earlier one in it, its word count
    and its number of distinct words.

    >>> share, words, distinct = repetition_shares(["a b a b a b", "one two three", ""])
    >>> share.round(2).tolist(), words.tolist(), distinct.tolist()
    ([0.5, 0.0, 0.0], [6, 3, 0], [2, 3, 0])
    """
    tok = tokenize(encode_texts(list(texts), what="filter texts"))
    rep, total = repetition_parts(tok, REPETITION_N)
    share = np.where(total > 0, rep / np.maximum(total, 1), 0.0)
    rep1, words = repetition_parts(tok, 1)
    return share, words.astype(np.int64), (words - rep1).astype(np.int64)


def degenerate_texts(
    texts: Sequence[str],
    is_human: Sequence[bool] | np.ndarray,
    reference_texts: Sequence[str],
    *,
    repetition: float = 0.5,
    jaccard: float | None = None,
) -> DegenerateOutcome:
    """Decide, for each text, whether ``filter`` drops it as degenerate (see the module docstring)."""
    human = np.asarray(is_human, dtype=bool)
    n = len(texts)
    share, words, distinct = repetition_shares(texts)
    ref_share = repetition_shares(reference_texts)[0] if len(reference_texts) else np.zeros(0)
    ref_q = float(np.quantile(ref_share, REFERENCE_QUANTILE)) if ref_share.size else 0.0
    other = ~human
    empty = other & (words == 0)
    repetitive = other & ~empty & (((share >= repetition) & (share > ref_q)) | ((words >= 3) & (distinct == 1)))
    threshold = float(max(repetition, ref_q))
    jac = float(NEAR_DUPLICATES["threshold"] if jaccard is None else jaccard)
    duplicate = np.zeros(n, dtype=bool)
    rows = np.flatnonzero(~(empty | repetitive))
    if rows.size > 1:
        hasher = MinHasher(NEAR_DUPLICATES["num_perm"], NEAR_DUPLICATES["shingle_size"], NEAR_DUPLICATES["seed"])
        sig, no_words = hasher.signatures([texts[i] for i in rows], what="filter texts")
        rows = rows[~no_words]  # human texts without words: nothing to compare
        sig = sig[~no_words]
        labels = duplicate_clusters(sig, optimal_bands(NEAR_DUPLICATES["num_perm"], jac), jac)
        has_human = np.zeros(int(labels.max()) + 1, dtype=bool)
        has_human[labels[human[rows]]] = True
        others = np.flatnonzero(~human[rows])  # in pool order, which is their rank among themselves
        _, first = np.unique(labels[others], return_index=True)
        kept_first = np.zeros(others.size, dtype=bool)
        kept_first[first] = True
        drop = has_human[labels[others]] | ~kept_first
        duplicate[rows[others[drop]]] = True
    return DegenerateOutcome(empty, repetitive, duplicate, threshold, jac)
