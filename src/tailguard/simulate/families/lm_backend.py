"""The torch side of the ``lm`` family: a byte-level BPE, a small GPT-2 built from its config,
training, per-block perplexity and beam-search continuation.

Nothing is downloaded: the tokenizer is trained locally with ``tokenizers`` and the model is a
``GPT2LMHeadModel`` built from a ``GPT2Config`` with random weights. Dropout is off, so a model is a
deterministic function of its starting weights, its data and the shuffling seed.

>>> tok = train_tokenizer(["the cat sat on the mat", "a dog ran far"] * 20, vocab_size=300)
>>> ids = encode(tok, ["the cat"])[0]
>>> tok.decode(ids)
'the cat'
>>> model = build_model(tok.get_vocab_size(), LmShape(n_layer=1, n_head=2, n_embd=16), seed=0)
>>> blocks = np.array([[1, 2, 3, 4]] * 4, dtype=np.int32)
>>> train(model, blocks, epochs=1, lr=1e-3, batch=2, seed=0)
>>> block_nll(model, blocks).shape
(4,)
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from tailguard.dependencies import require

EOT = "<|endoftext|>"


def _torch() -> Any:
    return require("torch", extra="lm", feature="the lm simulator family")


@dataclass(frozen=True)
class LmShape:
    """The GPT-2 shape: layers, heads, width and the longest sequence (prompt + continuation)."""

    n_layer: int = 2
    n_head: int = 4
    n_embd: int = 128
    n_positions: int = 128


def versions() -> str:
    """The library versions a trained base depends on (part of its cache key)."""
    import tokenizers
    import torch
    import transformers

    return f"torch {torch.__version__}, transformers {transformers.__version__}, tokenizers {tokenizers.__version__}"


def train_tokenizer(texts: Sequence[str], *, vocab_size: int) -> Any:
    """A byte-level BPE (``tokenizers``) trained on ``texts``, with ``<|endoftext|>`` as id 0."""
    tokenizers = require("tokenizers", extra="lm", feature="the lm simulator family")
    tok = tokenizers.ByteLevelBPETokenizer()
    tok.train_from_iterator(list(texts), vocab_size=vocab_size, min_frequency=2, special_tokens=[EOT],
                            show_progress=False)
    return tok


def encode(tok: Any, texts: Sequence[str]) -> list[list[int]]:
    """Token ids of each text (batched in Rust)."""
    return [e.ids for e in tok.encode_batch(list(texts))]


def blocks_of(tok: Any, texts: Sequence[str], block: int) -> np.ndarray:
    """Documents joined by ``<|endoftext|>`` and cut into rows of ``block`` tokens (the tail is dropped)."""
    eot = tok.token_to_id(EOT)
    stream: list[int] = []
    for ids in encode(tok, texts):
        stream.extend(ids)
        stream.append(eot)
    n = len(stream) // block
    return np.asarray(stream[: n * block], dtype=np.int32).reshape(n, block)


def decode(tok: Any, rows: np.ndarray) -> list[str]:
    """Text of each row of ids (the end-of-text marker becomes a line break)."""
    out = tok.decode_batch([[int(t) for t in row] for row in np.asarray(rows)], skip_special_tokens=False)
    return [s.replace(EOT, "\n").strip() for s in out]


def build_model(vocab_size: int, shape: LmShape, *, seed: int, device: str = "cpu") -> Any:
    """A ``GPT2LMHeadModel`` with random weights drawn from ``seed`` (the global torch RNG is left alone)."""
    torch = _torch()
    transformers = require("transformers", extra="lm", feature="the lm simulator family")
    config = transformers.GPT2Config(
        vocab_size=vocab_size, n_positions=shape.n_positions, n_embd=shape.n_embd, n_layer=shape.n_layer,
        n_head=shape.n_head, resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0, bos_token_id=0, eos_token_id=0,
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = transformers.GPT2LMHeadModel(config)
    return _settled(model).to(device)


def _settled(model: Any) -> Any:
    """The settings a built or loaded model needs, which ``save_pretrained`` does not keep in full."""
    model.loss_type = "ForCausalLM"  # named, so transformers does not log that it guessed it
    # end-of-text is an ordinary token of a continuation (documents end inside blocks), not a stop
    model.generation_config.eos_token_id = None
    model.generation_config.pad_token_id = 0
    return model


def save_base(directory: Path, tok: Any, model: Any) -> None:
    """Write a tokenizer and model to ``directory`` atomically (a temporary folder, then a rename), so a
    run killed mid-write never leaves a half-written cache entry."""
    import shutil
    import tempfile

    directory.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=directory.name + ".", dir=directory.parent))
    try:
        tok.save(str(tmp / "tokenizer.json"))
        model.save_pretrained(tmp)
        tmp.rename(directory)
    except OSError:
        shutil.rmtree(tmp, ignore_errors=True)
        if not directory.exists():
            raise


def load_base(directory: Path, *, device: str = "cpu") -> tuple[Any, Any]:
    """The tokenizer and model :func:`save_base` wrote (local files only: nothing is downloaded)."""
    tokenizers = require("tokenizers", extra="lm", feature="the lm simulator family")
    transformers = require("transformers", extra="lm", feature="the lm simulator family")
    tok = tokenizers.Tokenizer.from_file(str(directory / "tokenizer.json"))
    model = transformers.GPT2LMHeadModel.from_pretrained(directory, local_files_only=True)
    return tok, _settled(model).to(device).eval()


def copy_model(model: Any) -> Any:
    """A fresh model with the same config and weights (the base a generation fine-tunes)."""
    import copy

    return copy.deepcopy(model)


def train(model: Any, blocks: np.ndarray, *, epochs: int, lr: float, batch: int, seed: int) -> None:
    """Next-token training on ``blocks`` with AdamW, a 5% warm-up and a linear decay to 0, in place."""
    torch = _torch()
    device = next(model.parameters()).device
    x = torch.from_numpy(np.asarray(blocks, dtype=np.int64)).to(device)
    n = len(x)
    steps = max(1, epochs * math.ceil(n / batch))
    warm = max(1, steps // 20)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min((s + 1) / warm, max(0.0, (steps - s) / max(1, steps - warm))))
    gen = torch.Generator().manual_seed(seed)
    model.train()
    for _ in range(epochs):
        for idx in torch.randperm(n, generator=gen).split(batch):
            xb = x[idx.to(device)]
            loss = model(input_ids=xb, labels=xb).loss
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            sched.step()
            opt.zero_grad(set_to_none=True)
    model.eval()


def _batches(model: Any, rows: np.ndarray, batch: int) -> Iterator[Any]:
    """``rows`` as int64 tensors of ``batch`` rows on the model's device, with the model in eval mode
    and gradients off (callers iterate inside this generator's ``no_grad``)."""
    torch = _torch()
    device = next(model.parameters()).device
    model.eval()
    with torch.no_grad():
        for start in range(0, len(rows), batch):
            yield torch.from_numpy(np.asarray(rows[start : start + batch], dtype=np.int64)).to(device)


def block_nll(model: Any, blocks: np.ndarray, *, batch: int = 64) -> np.ndarray:
    """Mean negative log-likelihood (nats per predicted token) of each block under ``model``."""
    torch = _torch()
    out = []
    for xb in _batches(model, blocks, batch):
        logits = model(input_ids=xb).logits[:, :-1]
        nll = torch.nn.functional.cross_entropy(logits.transpose(1, 2), xb[:, 1:], reduction="none")
        out.append(nll.mean(dim=1).double().cpu().numpy())
    return np.concatenate(out) if out else np.zeros(0)


def continue_blocks(model: Any, prompts: np.ndarray, *, new_tokens: int, num_beams: int,
                    repetition_penalty: float, batch: int = 32) -> np.ndarray:
    """The next ``new_tokens`` tokens after each prompt row, by beam search (deterministic)."""
    torch = _torch()
    rows = []
    for xb in _batches(model, prompts, batch):
        out = model.generate(
            input_ids=xb, attention_mask=torch.ones_like(xb), num_beams=num_beams, do_sample=False,
            max_new_tokens=new_tokens, repetition_penalty=repetition_penalty,
        )
        rows.append(out[:, xb.shape[1] :].cpu().numpy().astype(np.int32))
    return np.concatenate(rows) if rows else np.zeros((0, new_tokens), dtype=np.int32)
