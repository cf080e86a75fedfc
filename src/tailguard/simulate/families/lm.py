"""The ``lm`` family: a small GPT-2 trained on its own beam-search text (Shumailov et al., Nature 2024).

The recipe of the paper, scaled to a CPU:

- **Corpus.** Real English from installed packages: Debian ``fortunes`` (``corpus=fortunes``), the
  King James Bible of ``bible-kjv-text`` (``corpus=bible``) or Python's own documentation
  (``corpus=python-docs``, always there). ``corpus=auto`` picks the Bible, then fortunes, then the
  Python docs, whichever is installed first; the name used is stored in the run's parameters
  (``results.json``).
- **Base model.** The paper fine-tunes a pre-trained OPT-125m. No weights can be downloaded here,
  so the family pre-trains its own base once per process: a byte-level BPE (``tokenizers``) and a
  ``GPT2LMHeadModel`` built from a ``GPT2Config``, trained on a fixed half of the corpus's documents
  (``pretrain_share``; ``base_seed`` fixes the split and the weights). The other half is the
  human data the chains draw from, so no seed's training or held-out text was seen in pre-training.
- **Rows.** A row is ``[prompt | text]``, two blocks of ``block`` (64) token ids. A human row is
  two consecutive blocks of the document stream; a synthetic row keeps its parent's prompt and holds
  model n's continuation of it as its text. Models train on the text half only.
- **Generations.** Every generation fine-tunes the base model on the text of its training rows for
  ``epochs`` epochs at ``finetune_lr`` (generation 0 on human text). Then it writes the next
  ``block`` tokens after each prompt with ``num_beams``-way beam search and ``repetition_penalty``
  (the paper's settings: 5 beams, penalty 3.0), a synthetic set of the same size. With ``prompts=human`` (the default, the paper's reading) every generation writes one
  continuation after each human prompt of the seed's training set, whatever rows it was trained on;
  with ``prompts=own`` a row's prompt is its parent's text, so each generation continues the previous
  one's text, and degeneration compounds far faster.
  ``replace`` keeps no original data; ``anchor:0.1`` keeps 10% (the paper's second setting).

Metrics of model n (``block`` tokens are one document here):

- ``heldout_perplexity``: perplexity of the text of held-out human rows under model n, and
  ``heldout_perplexity_ratio``, the same over model 0's (the paper's headline: it rises with no
  original data, and barely with 10% kept);
- ``gen0_perplexity``: model n's text under model 0 (falls: the text becomes "more probable"), with
  ``gen0_perplexity_p05/_p50/_p95``, quantiles of the per-block perplexities (the paper's histogram:
  its body falls while a long tail grows);
- ``distinct_1``, ``distinct_2`` (distinct word uni/bigrams over all of them, in model n's text),
  ``vocabulary_size`` (distinct words) and ``rare_word_recall``: the share of the seed's rare human
  words (outside the most frequent words that make 80% of the corpus's tokens, and present in its
  human training blocks) that model n still writes;
- the audit suite's ``text_stats`` against the held-out human text (``audit_distinct_2``,
  ``audit_self_bleu``...).

The base is trained once per process; with ``cache_dir`` it is also kept on disk (``cache_dir/base-<hash>``,
written atomically) and loaded by later runs and resumes of the same configuration instead of re-trained.

Sizes are CPU-sized by default. ``device=cuda`` trains and generates on a GPU; ``--param`` raises
``n_layer``, ``n_embd``, ``epochs`` and the rest for a larger run (``benchmarks/lm_collapse.py``).

>>> fam = LmFamily(corpus="python-docs", vocab_size=300, n_layer=1, n_head=2, n_embd=16,
...                pretrain_blocks=40, pretrain_epochs=1, heldout_size=10, epochs=1, block=16)
>>> rng = np.random.default_rng(0)
>>> s = fam.setup(12, rng)
>>> m = fam.fit(s.train, rng)
>>> fam.sample(m, 3, rng).shape  # [prompt | text], 16 tokens each
(3, 32)
"""

from __future__ import annotations

import re
import shutil
from collections import Counter
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np

from tailguard.dependencies import require
from tailguard.errors import ParameterError
from tailguard.simulate.families import lm_backend as backend
from tailguard.simulate.family import EvalContext, Family, MetricSpec, Setup, register_family
from tailguard.validation import Custom, Float, Int, OneOf, Str

CORPORA = ("auto", "fortunes", "bible", "python-docs")
WORD = re.compile(r"[a-z0-9']+")


def _corpus_documents(name: str) -> list[str]:
    from tailguard.data import text

    if name == "fortunes":
        return text.fortunes_texts()
    if name == "bible":
        return text.bible_passages()
    return text.python_docs_paragraphs()


def resolve_corpus(name: str) -> str:
    """``auto`` -> ``bible`` when Debian's bible-kjv is installed, else ``fortunes`` when its fortunes are,
    else ``python-docs`` (always there). The Bible comes first: 800k words of narrative English let a
    small model become a fair model of its corpus (held-out perplexity about 57 at the default size)."""
    if name != "auto":
        return name
    from tailguard.data import text

    if shutil.which(text.BIBLE_PROGRAM) and text.BIBLE_DATA.exists():
        return "bible"
    if text.FORTUNES_DIR.is_dir() and any(text.FORTUNES_DIR.iterdir()):
        return "fortunes"
    return "python-docs"


def words(text: str) -> list[str]:
    """Lower-case word tokens (letters, digits, apostrophes) of ``text``."""
    return WORD.findall(text.lower())


@dataclass
class Base:
    """What every chain of one configuration shares: the tokenizer, the pre-trained model, the pool of
    human ``[prompt | text]`` rows (documents never seen in pre-training) and the corpus's rare words."""

    tokenizer: Any
    model: Any
    pool: np.ndarray
    rare_words: frozenset[str]


@dataclass
class LmModel:
    """A fine-tuned GPT-2 and the ``[prompt | text]`` rows it was trained on (it writes one continuation
    per row)."""

    net: Any
    rows: np.ndarray


_BASES: dict[str, Base] = {}


def clear_base_cache() -> None:
    """Forget the bases trained in this process (the next chain trains or loads its base again)."""
    _BASES.clear()


def _pick(rows: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """All of ``rows`` in order when ``n`` is their number (the recipe: one continuation each), else ``n``
    drawn from them (with replacement when there are fewer)."""
    k = len(rows)
    return rows if n == k else rows[rng.choice(k, size=n, replace=n > k)]


def _device_ok(value: Any) -> bool:
    return isinstance(value, str) and re.fullmatch(r"cpu|cuda(:\d+)?|mps", value) is not None


@register_family
class LmFamily(Family):
    """A small GPT-2 fine-tuned recursively on its own beam-search continuations."""

    name = "lm"
    params = {
        "corpus": OneOf(CORPORA),
        "block": Int(min=4, max=512),
        "vocab_size": Int(min=260, max=65536),
        "n_layer": Int(min=1, max=48),
        "n_head": Int(min=1, max=64),
        "n_embd": Int(min=8, max=4096),
        "pretrain_share": Float(min=0.05, max=0.95),
        "pretrain_blocks": Int(min=1),
        "pretrain_epochs": Int(min=1),
        "epochs": Int(min=1),
        "lr": Float(min=0.0, min_open=True),
        "finetune_lr": Float(min=0.0, min_open=True),
        "batch": Int(min=1),
        "prompts": OneOf(("human", "own")),
        "num_beams": Int(min=1, max=32),
        "repetition_penalty": Float(min=1.0),
        "heldout_size": Int(min=2),
        "base_seed": Int(min=0),
        "device": Custom("'cpu', 'cuda', 'cuda:N' or 'mps'", _device_ok),
        "cache_dir": Str(optional=True),
    }
    defaults = {
        "corpus": "auto", "block": 64, "vocab_size": 4096, "n_layer": 2, "n_head": 4, "n_embd": 128,
        "pretrain_share": 0.5, "pretrain_blocks": 8000, "pretrain_epochs": 3, "epochs": 5, "lr": 1e-3,
        "finetune_lr": 1e-4,
        "batch": 16, "prompts": "human", "num_beams": 5, "repetition_penalty": 3.0, "heldout_size": 200, "base_seed": 0,
        "device": "cpu", "cache_dir": None,
    }
    #: where the pre-trained base is kept changes no result
    result_neutral = ("cache_dir",)
    metrics = (
        MetricSpec("heldout_perplexity", False, description="held-out human text under model n"),
        MetricSpec("heldout_perplexity_ratio", False, description="held-out perplexity / model 0's"),
        MetricSpec("gen0_perplexity", False, description="model n's text under model 0"),
        MetricSpec("gen0_perplexity_p05", False, description="5% quantile of per-block perplexity under model 0"),
        MetricSpec("gen0_perplexity_p50", False, description="median per-block perplexity under model 0"),
        MetricSpec("gen0_perplexity_p95", False, description="95% quantile of per-block perplexity under model 0"),
        MetricSpec("distinct_1", True, description="distinct words / words in model n's text"),
        MetricSpec("distinct_2", True, tail=True, description="distinct word bigrams / bigrams in model n's text"),
        MetricSpec("vocabulary_size", True, description="distinct words in model n's text"),
        MetricSpec("rare_word_recall", True, tail=True,
                   description="share of the seed's rare human words that model n still writes", optional=True),
    )
    sample_kind = "text"
    audit_metrics = ("text_stats",)

    def __init__(self, **params: Any):
        super().__init__(**params)
        # the corpus actually used is part of the configuration (and of results.json)
        self._params["corpus"] = resolve_corpus(self._params["corpus"])
        if self._params["n_embd"] % self._params["n_head"]:
            raise ParameterError(
                f"The 'n_embd' parameter of lm must be a multiple of 'n_head' ({self._params['n_head']}). "
                f"Got {self._params['n_embd']}.")
        device = self._params["device"]
        if device.startswith("cuda"):
            torch = require("torch", extra="lm", feature="the lm simulator family")
            if not torch.cuda.is_available():
                raise ParameterError("The 'device' parameter of lm is 'cuda', but torch sees no CUDA device here.")

    # -- the shared base --------------------------------------------------------
    def _base_key(self) -> str:
        keys = ("corpus", "block", "vocab_size", "n_layer", "n_head", "n_embd", "pretrain_share",
                "pretrain_blocks", "pretrain_epochs", "lr", "batch", "base_seed", "device")
        return repr((*(self._params[k] for k in keys), backend.versions()))

    def cache_path(self) -> Path | None:
        """``cache_dir/base-<hash of the base's configuration>``, or None without a ``cache_dir``. The base
        is deterministic, so a cached one gives the same numbers as a freshly trained one (tested)."""
        if not self._params["cache_dir"]:
            return None
        from tailguard.config import stable_hash

        return Path(self._params["cache_dir"]).expanduser() / f"base-{stable_hash(self._base_key())}"

    def base(self) -> Base:
        """The tokenizer, pre-trained model and human pool of this configuration (built once per process)."""
        key = self._base_key()
        if key not in _BASES:
            _BASES[key] = self._build_base()
        return _BASES[key]

    def _build_base(self) -> Base:
        p = self._params
        docs = _corpus_documents(p["corpus"])
        order = np.random.default_rng(p["base_seed"]).permutation(len(docs))
        cut = round(p["pretrain_share"] * len(docs))
        pre_docs, pool_docs = [docs[i] for i in order[:cut]], [docs[i] for i in order[cut:]]
        cached = self.cache_path()
        if cached is not None and cached.is_dir():
            tok, net = backend.load_base(cached, device=p["device"])
        else:
            tok = backend.train_tokenizer(pre_docs, vocab_size=p["vocab_size"])
            pre = backend.blocks_of(tok, pre_docs, p["block"])[: p["pretrain_blocks"]]
            shape = backend.LmShape(p["n_layer"], p["n_head"], p["n_embd"], n_positions=2 * p["block"])
            net = backend.build_model(tok.get_vocab_size(), shape, seed=p["base_seed"], device=p["device"])
            backend.train(net, pre, epochs=p["pretrain_epochs"], lr=p["lr"], batch=p["batch"], seed=p["base_seed"])
            if cached is not None:
                backend.save_base(cached, tok, net)
        stream = backend.blocks_of(tok, pool_docs, p["block"])
        pool = stream[: len(stream) // 2 * 2].reshape(-1, 2 * p["block"])  # [prompt | text] rows, disjoint
        counts = Counter(w for d in pool_docs for w in words(d))
        ranked = [w for w, _ in counts.most_common()]
        total, head, seen = sum(counts.values()), set(), 0
        for w in ranked:
            if seen >= 0.8 * total:
                break
            head.add(w)
            seen += counts[w]
        pool.setflags(write=False)
        return Base(tok, net, pool, frozenset(w for w in ranked if w not in head))

    def warm_up(self) -> None:
        self.base()

    # -- the family protocol ----------------------------------------------------
    def setup(self, sample_size: int, rng: np.random.Generator) -> Setup:
        base = self.base()
        held = self._params["heldout_size"]
        if sample_size + held > len(base.pool):
            raise ParameterError(
                f"The 'sample_size' parameter of lm must be an int <= {len(base.pool) - held} "
                f"(the {self._params['corpus']} corpus gives {len(base.pool)} human rows of 2 x "
                f"{self._params['block']} tokens, {held} held out). Got {sample_size}.")
        perm = rng.permutation(len(base.pool))
        train = base.pool[perm[held : held + sample_size]].copy()
        train_words = {w for t in self.texts(train) for w in words(t)}
        return Setup(
            train=train,
            heldout=base.pool[perm[:held]],
            fresh=base.pool[perm[held + sample_size :]].copy(),
            extra={"rare_words": frozenset(base.rare_words & train_words)},
        )

    def text_half(self, rows: np.ndarray) -> np.ndarray:
        """The text blocks of ``[prompt | text]`` rows (what models train on and are measured by)."""
        return np.asarray(rows)[:, self._params["block"] :]

    def fit(self, data: np.ndarray, rng: np.random.Generator) -> LmModel:
        p = self._params
        net = backend.copy_model(self.base().model)
        rows = np.asarray(data, dtype=np.int32)
        backend.train(net, self.text_half(rows), epochs=p["epochs"], lr=p["finetune_lr"], batch=p["batch"],
                      seed=int(rng.integers(2**31)))
        return LmModel(net, rows)

    def sample(self, model: LmModel, n: int, rng: np.random.Generator) -> np.ndarray:
        """``n`` rows written by ``model``: continuations of the prompts of the rows it was trained on
        (their text with ``prompts=own``). In a chain, :meth:`sample_chain` prompts with the seed's
        human blocks instead."""
        block = self._params["block"]
        rows = _pick(model.rows, n, rng)
        return self._write(model, rows[:, :block] if self._params["prompts"] == "human" else rows[:, block:])

    def sample_chain(self, model: LmModel, n: int, rng: np.random.Generator, setup: Setup) -> np.ndarray:
        """With ``prompts=human``, one continuation per human prompt of the seed, every generation (as the
        paper does for each sequence of the original training set); with ``prompts=own``, as :meth:`sample`."""
        if self._params["prompts"] != "human":
            return self.sample(model, n, rng)
        return self._write(model, _pick(np.asarray(setup.train)[:, : self._params["block"]], n, rng))

    def _write(self, model: LmModel, prompts: np.ndarray) -> np.ndarray:
        text = backend.continue_blocks(model.net, prompts, new_tokens=self._params["block"],
                                       num_beams=self._params["num_beams"],
                                       repetition_penalty=self._params["repetition_penalty"])
        return np.concatenate([prompts, text], axis=1)

    def perplexity(self, model: LmModel, rows: np.ndarray) -> float:
        """exp(mean token NLL) of the text of ``rows`` under ``model`` (every block has the same length)."""
        return float(np.exp(backend.block_nll(model.net, self.text_half(rows)).mean()))

    def evaluate(self, model: LmModel, samples: np.ndarray, ctx: EvalContext) -> dict[str, float]:
        heldout = np.asarray(ctx.setup.heldout)
        if "gen0_heldout" not in ctx.cache:
            ctx.cache["gen0_heldout"] = self.perplexity(ctx.model0, heldout)
        held = self.perplexity(model, heldout)
        per_block = np.exp(backend.block_nll(ctx.model0.net, self.text_half(samples)))
        texts = [words(t) for t in self.texts(samples)]
        unigrams = [w for t in texts for w in t]
        bigrams = [pair for t in texts for pair in pairwise(t)]
        rare = ctx.setup.extra["rare_words"]
        p05, p50, p95 = np.quantile(per_block, [0.05, 0.5, 0.95])
        return {
            "heldout_perplexity": held,
            "heldout_perplexity_ratio": held / ctx.cache["gen0_heldout"],
            "gen0_perplexity": float(np.exp(np.log(per_block).mean())),
            "gen0_perplexity_p05": float(p05),
            "gen0_perplexity_p50": float(p50),
            "gen0_perplexity_p95": float(p95),
            "distinct_1": len(set(unigrams)) / len(unigrams) if unigrams else 0.0,
            "distinct_2": len(set(bigrams)) / len(bigrams) if bigrams else 0.0,
            "vocabulary_size": float(len(set(unigrams))),
            "rare_word_recall": len(rare & set(unigrams)) / len(rare) if rare else float("nan"),
        }

    def features(self, data: np.ndarray) -> np.ndarray:
        """Token counts of the text half hashed to 256 dimensions, per row (for ``filter``/``tail-preserve``)."""
        text = self.text_half(data)
        out = np.zeros((len(text), 256))
        r = np.repeat(np.arange(len(text)), text.shape[1])
        np.add.at(out, (r, text.ravel() % 256), 1.0)
        return out

    def texts(self, data: np.ndarray) -> list[str]:
        """The decoded text half of every row (the audit suite's text metrics read these)."""
        return backend.decode(self.base().tokenizer, self.text_half(data))

    def render_text(self, data: np.ndarray, setup: Setup, limit: int = 8) -> list[str]:
        return self.texts(np.asarray(data)[:limit])
