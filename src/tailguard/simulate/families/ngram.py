"""The n-gram family: a word n-gram language model trained on its own text.

Human data are sentences of the Python documentation (``pydoc_data.topics``, via
:func:`tailguard.data.text.python_docs_tokens`), as rows of word ids padded with
-1 (at most ``max_len`` words). Each generation counts the n-grams of its
training sentences (the maximum-likelihood model, as a sorted table of context and
pair keys) and samples new sentences word by word, vectorised across sentences.

Metrics (the Nature paper's two perplexities, plus the tails):

- ``heldout_perplexity``: perplexity of held-out human sentences under model n;
- ``gen0_perplexity``: perplexity of model n's sentences under model 0 (falls as
  the text becomes "more probable", i.e. more average);
- ``vocab_ratio``: words model n can still produce / model 0's (a lost word never
  comes back under ``replace``);
- ``tail_vocab_ratio``: the same for the human tail vocabulary (the words outside
  the head that makes 80% of the corpus' tokens);
- ``tail_token_ratio``: share of tokens from the tail vocabulary in ``eval_size`` model
  sentences / the same share in held-out human text;
- ``distinct_2``: distinct bigrams / bigrams in the model's sentences.

Perplexities use an interpolated model, λ·P_MLE(w | context) + (1 − λ)·P_add-one(w),
over the whole corpus vocabulary, so unseen words cost a finite amount.

>>> fam = NgramFamily(max_len=20)
>>> rng = np.random.default_rng(0)
>>> s = fam.setup(300, rng)
>>> m = fam.fit(s.train, rng)
>>> fam.sample(m, 2, rng).shape
(2, 20)
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from tailguard.errors import ParameterError
from tailguard.simulate.family import EvalContext, Family, MetricSpec, Setup, register_family
from tailguard.validation import Float, Int

PAD = -1


@lru_cache(maxsize=4)
def corpus(max_len: int) -> tuple[np.ndarray, tuple[str, ...], np.ndarray]:
    """(sentences as padded id rows, vocabulary, tail-word mask) of the Python-docs corpus."""
    from tailguard.data.text import python_docs_tokens

    sentences = [s[:max_len] for s in python_docs_tokens() if s]
    vocab = tuple(sorted({w for s in sentences for w in s}))
    index = {w: i for i, w in enumerate(vocab)}
    rows = np.full((len(sentences), max_len), PAD, dtype=np.int32)
    for i, s in enumerate(sentences):
        rows[i, : len(s)] = [index[w] for w in s]
    counts = np.bincount(rows[rows >= 0], minlength=len(vocab))
    order = np.argsort(-counts, kind="stable")
    head = np.cumsum(counts[order]) <= 0.8 * counts.sum()
    tail = np.ones(len(vocab), dtype=bool)
    tail[order[head]] = False
    rows.setflags(write=False)
    return rows, vocab, tail


@dataclass(frozen=True)
class NgramModel:
    """Counts of an order-n model as sorted key tables (no Python dicts: sampling is vectorised)."""

    order: int
    base: int  # key base: vocabulary + BOS + EOS
    ctx_keys: np.ndarray  # sorted unique context keys
    ctx_start: np.ndarray  # first pair row of each context
    ctx_total: np.ndarray  # total count of each context
    pair_keys: np.ndarray  # sorted ctx_key * base + next
    pair_next: np.ndarray
    cum: np.ndarray  # global cumulative pair counts
    unigram: np.ndarray  # counts of each token id (vocabulary + EOS)

    @property
    def bos(self) -> int:
        return self.base - 2

    @property
    def eos(self) -> int:
        return self.base - 1


def _events(rows: np.ndarray, order: int, base: int) -> tuple[np.ndarray, np.ndarray]:
    """Context keys and next tokens of every position of every sentence (with BOS/EOS)."""
    n, width = rows.shape
    bos, eos = base - 2, base - 1
    lengths = np.count_nonzero(rows >= 0, axis=1)
    seq = np.full((n, order - 1 + width + 1), PAD, dtype=np.int64)
    seq[:, : order - 1] = bos
    seq[:, order - 1 : order - 1 + width] = rows
    seq[np.arange(n), order - 1 + lengths] = eos
    keys, nxt = [], []
    for p in range(order - 1, seq.shape[1]):
        tok = seq[:, p]
        valid = tok != PAD
        key = np.zeros(n, dtype=np.int64)
        for j in range(order - 1):
            key = key * base + seq[:, p - order + 1 + j]
        keys.append(key[valid])
        nxt.append(tok[valid])
    return np.concatenate(keys), np.concatenate(nxt)


def _contexts(tokens: np.ndarray, order: int, base: int) -> np.ndarray:
    """Context keys from the last order-1 generated tokens (n, order-1)."""
    key = np.zeros(len(tokens), dtype=np.int64)
    for j in range(order - 1):
        key = key * base + tokens[:, j]
    return key


@register_family
class NgramFamily(Family):
    """Word n-gram LM on the Python documentation."""

    name = "ngram"
    params = {
        "order": Int(min=2, max=3),
        "max_len": Int(min=3, max=200),
        "heldout_size": Int(min=10),
        "eval_size": Int(min=10),
        "interpolation": Float(min=0.0, max=1.0, max_open=True),
    }
    defaults = {"order": 2, "max_len": 40, "heldout_size": 500, "eval_size": 500, "interpolation": 0.8}
    metrics = (
        MetricSpec("heldout_perplexity", False, description="held-out human text under model n"),
        MetricSpec("gen0_perplexity", False, description="model n's text under model 0"),
        MetricSpec("vocab_ratio", True, tail=True, description="words model n can produce / model 0's"),
        MetricSpec("tail_vocab_ratio", True, tail=True, description="tail words model n can produce / model 0's"),
        MetricSpec("tail_token_ratio", True, description="share of tail-word tokens / human share"),
        MetricSpec("distinct_2", True, description="distinct bigrams / bigrams in model text"),
    )
    sample_kind = "text"

    def _corpus(self) -> tuple[np.ndarray, tuple[str, ...], np.ndarray]:
        return corpus(self._params["max_len"])

    def setup(self, sample_size: int, rng: np.random.Generator) -> Setup:
        rows, vocab, tail = self._corpus()
        held = self._params["heldout_size"]
        if sample_size + held > len(rows):
            raise ParameterError(
                f"The 'sample_size' parameter of ngram must be an int <= {len(rows) - held} "
                f"(the corpus has {len(rows)} sentences, {held} held out). Got {sample_size}."
            )
        perm = rng.permutation(len(rows))
        heldout = rows[perm[:held]]
        share = float(tail[heldout[heldout >= 0]].mean())
        return Setup(
            train=rows[perm[held : held + sample_size]].copy(),
            heldout=heldout,
            fresh=rows[perm[held + sample_size :]].copy(),
            extra={"vocab": vocab, "tail": tail, "human_tail_share": share},
        )

    @property
    def base(self) -> int:
        return len(self._corpus()[1]) + 2

    def fit(self, data: np.ndarray, rng: np.random.Generator) -> NgramModel:
        order, base = self._params["order"], self.base
        keys, nxt = _events(np.asarray(data), order, base)
        pair, counts = np.unique(keys * base + nxt, return_counts=True)
        ctx = pair // base
        ctx_keys, ctx_start = np.unique(ctx, return_index=True)
        ctx_total = np.add.reduceat(counts, ctx_start)
        unigram = np.delete(np.bincount(nxt, minlength=base), base - 2)  # drop BOS: words, then EOS
        return NgramModel(order, base, ctx_keys, ctx_start, ctx_total, pair, pair % base, np.cumsum(counts), unigram)

    def sample(self, model: NgramModel, n: int, rng: np.random.Generator) -> np.ndarray:
        width = self._params["max_len"]
        out = np.full((n, width), PAD, dtype=np.int32)
        hist = np.full((n, model.order - 1), model.bos, dtype=np.int64)
        active = np.arange(n)
        for pos in range(width):
            if len(active) == 0:
                break
            c = np.searchsorted(model.ctx_keys, _contexts(hist[active], model.order, model.base))
            start = model.ctx_start[c]
            base_cum = np.where(start > 0, model.cum[np.maximum(start - 1, 0)], 0)
            target = base_cum + rng.random(len(active)) * model.ctx_total[c]
            tok = model.pair_next[np.searchsorted(model.cum, target, side="right")]
            done = tok == model.eos
            keep = active[~done]
            out[keep, pos] = tok[~done]
            if model.order > 1:
                hist[keep] = np.column_stack([hist[keep][:, 1:], tok[~done]]) if model.order > 2 else tok[~done, None]
            active = keep
        return out

    def log_probs(self, model: NgramModel, rows: np.ndarray) -> np.ndarray:
        """Interpolated log-probability of every token (and EOS) of ``rows``."""
        lam = self._params["interpolation"]
        keys, nxt = _events(np.asarray(rows), model.order, model.base)
        v = model.base - 1  # vocabulary + EOS
        uni_idx = np.where(nxt == model.eos, v - 1, nxt)
        p_uni = (model.unigram[uni_idx] + 1.0) / (model.unigram.sum() + v)
        pk = keys * model.base + nxt
        i = np.clip(np.searchsorted(model.pair_keys, pk), 0, len(model.pair_keys) - 1)
        found = model.pair_keys[i] == pk
        count = np.where(found, model.cum[i] - np.where(i > 0, model.cum[np.maximum(i - 1, 0)], 0), 0)
        c = np.clip(np.searchsorted(model.ctx_keys, keys), 0, len(model.ctx_keys) - 1)
        total = np.where(model.ctx_keys[c] == keys, model.ctx_total[c], 0)
        p_ml = np.divide(count, total, out=np.zeros(len(keys)), where=total > 0)
        return np.log(lam * p_ml + (1 - lam) * p_uni)

    def perplexity(self, model: NgramModel, rows: np.ndarray) -> float:
        return float(np.exp(-np.mean(self.log_probs(model, rows))))

    def evaluate(self, model: NgramModel, samples: np.ndarray, ctx: EvalContext) -> dict[str, float]:
        text = self.sample(model, self._params["eval_size"], ctx.rng)
        toks = text[text >= 0]
        tail = ctx.setup.extra["tail"]
        alive, alive0 = model.unigram[:-1] > 0, ctx.model0.unigram[:-1] > 0
        left, right = text[:, :-1], text[:, 1:]
        ok = (left >= 0) & (right >= 0)
        bigrams = left[ok].astype(np.int64) * model.base + right[ok]
        return {
            "heldout_perplexity": self.perplexity(model, ctx.setup.heldout),
            "gen0_perplexity": self.perplexity(ctx.model0, text),
            "vocab_ratio": alive.sum() / max(alive0.sum(), 1),
            "tail_vocab_ratio": (alive & tail).sum() / max((alive0 & tail).sum(), 1),
            "tail_token_ratio": float(tail[toks].mean()) / ctx.setup.extra["human_tail_share"] if len(toks) else 0.0,
            "distinct_2": float(len(np.unique(bigrams)) / len(bigrams)) if len(bigrams) else 0.0,
        }

    def features(self, data: np.ndarray) -> np.ndarray:
        """Bag-of-words counts hashed to 64 dimensions (for ``filter``/``tail-preserve``)."""
        rows = np.asarray(data)
        out = np.zeros((len(rows), 64))
        r, c = np.nonzero(rows >= 0)
        np.add.at(out, (r, rows[r, c] % 64), 1.0)
        return out

    def render_text(self, data: np.ndarray, setup: Setup, limit: int = 8) -> list[str]:
        vocab = setup.extra["vocab"]
        return [" ".join(vocab[t] for t in row if t >= 0) for row in np.asarray(data)[:limit]]
