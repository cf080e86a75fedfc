"""What ``filter`` drops from text before any feature is compared: degenerate model output.

The tests are the audit's own (same tokeniser, same n-gram order, same MinHash
and LSH, same thresholds by default):

* **no words**: the text has no word token (the tokeniser of
  :mod:`tailguard.metrics.tokenize`), e.g. ``""`` or ``". . ."``;
* **repetitive**: the share of the text's word 3-grams that repeat an earlier
  3-gram of the same text (``text_stats``' ``repetition_rate``, per text) is at
  least ``repetition`` and above ``q``, the 0.999 quantile of the reference
  texts' shares (so at most about 0.1% of genuine texts that look like the
  reference are dropped), or a text of three or more words uses a single word.

Near-duplicates are the ``dedup`` step's (:mod:`tailguard.policy.dedup`).
Human texts are never dropped.

>>> human = ["the cat sat on the mat", "a dog ran in the park"]
>>> texts = human + ["", "the the the the the", "the cat sat on the mat", "birds sing at dawn in the garden"]
>>> out = degenerate_texts(texts, [True, True, False, False, False, False], human)
>>> out.empty.tolist(), out.repetitive.tolist()
([False, False, True, False, False, False], [False, False, False, True, False, False])
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from tailguard.metrics.text import TextStatsMetric, repetition_parts
from tailguard.metrics.tokenize import encode_texts, tokenize

#: The reference quantile of the per-text repetition share that the threshold never goes below.
REFERENCE_QUANTILE = 0.999
#: The audit's n-gram order for repetition.
REPETITION_N = int(TextStatsMetric.defaults["repetition_n"])


@dataclass(frozen=True)
class DegenerateOutcome:
    """Masks over the texts given to :func:`degenerate_texts`, and the threshold used."""

    empty: np.ndarray
    repetitive: np.ndarray
    repetition_threshold: float

    @property
    def any(self) -> np.ndarray:
        return self.empty | self.repetitive


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
) -> DegenerateOutcome:
    """Decide, for each text, whether ``filter`` drops it as degenerate (see the module docstring)."""
    human = np.asarray(is_human, dtype=bool)
    share, words, distinct = repetition_shares(texts)
    ref_share = repetition_shares(reference_texts)[0] if len(reference_texts) else np.zeros(0)
    ref_q = float(np.quantile(ref_share, REFERENCE_QUANTILE)) if ref_share.size else 0.0
    other = ~human
    empty = other & (words == 0)
    repetitive = other & ~empty & (((share >= repetition) & (share > ref_q)) | ((words >= 3) & (distinct == 1)))
    return DegenerateOutcome(empty, repetitive, float(max(repetition, ref_q)))
