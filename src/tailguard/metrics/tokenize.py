"""Vectorised word tokenisation and 64-bit hashing of tokens and n-grams.

Text metrics never hold Python strings per token: a batch of documents is
joined into one byte buffer and every step runs in numpy.

* **Tokens** are maximal runs of word bytes: ASCII letters, digits, ``_`` and
  every byte >= 0x80 (so UTF-8 letters stay inside words). ASCII letters are
  lower-cased; all other bytes separate tokens.
* **Token hashes** are a polynomial hash of the token's bytes modulo 2**64
  (``Σ byte_j * P**j``, j counted from the token start, capped at 4095), then
  passed through the splitmix64 finaliser (``mix64``) with the seed folded in.
  They are summed for all tokens at once: every byte is multiplied by ``P``
  to the power of its position inside a 64 KiB block of the buffer (one
  broadcast product, no per-byte index), ``np.add.reduceat`` sums each token,
  and the sum is shifted to the token's start by the inverse power (``P`` is
  odd, so it is invertible modulo 2**64). The few tokens that cross a block
  edge or pass 4096 bytes are summed directly with the capped offsets.
* **n-gram hashes** chain token hashes; n-grams never cross documents.

>>> tok = tokenize(encode_texts(["The cat sat.", "the CAT"]))
>>> tok.n_tokens, tok.doc_offsets.tolist()
(5, [0, 3, 5])
>>> bool(tok.hashes[0] == tok.hashes[3])    # "The" and "the"
True
>>> h2, doc = ngram_hashes(tok, 2)
>>> doc.tolist()                             # 2 bigrams in doc 0, 1 in doc 1
[0, 0, 1]
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from tailguard.errors import TextFormatError

_U64 = np.uint64
_P = 0x9E3779B97F4A7C15 | 1  # odd multiplier of the polynomial hash
_NGRAM_K = (0, 0, 0xBF58476D1CE4E5B9, 0x94D049BB133111EB, 0xD6E8FEB86659FD93, 0xA0761D6478BD642F)
#: the longest n-grams that can be hashed
MAX_NGRAM_N = len(_NGRAM_K) - 1

# byte -> lowered word byte, or 0 for a separator (as an array and as a bytes.translate table)
_LUT = np.zeros(256, dtype=np.uint8)
for _b in range(256):
    _c = chr(_b)
    if _b >= 0x80 or _c.isdigit() or _c == "_" or ("a" <= _c <= "z"):
        _LUT[_b] = _b
    elif "A" <= _c <= "Z":
        _LUT[_b] = _b | 0x20
_TRANSLATE = _LUT.tobytes()

#: powers P**j for the position of a byte inside its token; bytes past this share the last power
_MAX_TOKEN_BYTES = 4096
#: bytes per block of the buffer over which powers are taken (a power of two >= _MAX_TOKEN_BYTES)
_BLOCK = 1 << 16


def _powers(base: int, n: int) -> np.ndarray:
    """``base**j`` modulo 2**64 for ``j < n``."""
    with np.errstate(over="ignore"):
        out = np.full(n, base, dtype=_U64)
        out[0] = 1
        return np.cumprod(out, dtype=_U64)


_POW = _powers(_P, _MAX_TOKEN_BYTES)
_BLOCK_POW = _powers(_P, _BLOCK)
_BLOCK_INV = _powers(pow(_P, -1, 1 << 64), _BLOCK)


def mix64(x: np.ndarray) -> np.ndarray:
    """The splitmix64 finaliser, vectorised over a uint64 array (wrapping arithmetic).

    >>> mix64(np.array([0, 1], dtype=np.uint64)).dtype
    dtype('uint64')
    """
    x = np.asarray(x, dtype=_U64)
    with np.errstate(over="ignore"):
        z = x + _U64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> _U64(30))) * _U64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> _U64(27))) * _U64(0x94D049BB133111EB)
        return z ^ (z >> _U64(31))


def unique_u64(x: np.ndarray, *, counts: bool = False, runs: bool = True) -> Any:
    """Sorted distinct values of a uint64 array (and their counts), by sorting.

    numpy's default ``np.unique`` may use a hash table, which is slow when most
    values are distinct; a sort and a run-length pass are fast in every case.
    ``runs=True`` suits a concatenation of sorted arrays (a stable sort, timsort,
    merges sorted runs in near-linear time; the stores call it so); ``runs=False``
    suits unsorted values (numpy's default sort, several times faster on them).

    >>> unique_u64(np.array([3, 1, 3], dtype=np.uint64), counts=True)
    (array([1, 3], dtype=uint64), array([1, 2]))
    """
    s = np.sort(np.asarray(x, dtype=_U64), kind="stable" if runs else None)
    first = np.ones(len(s), dtype=bool)
    first[1:] = s[1:] != s[:-1]
    u = s[first]
    if not counts:
        return u
    return u, np.diff(np.append(np.flatnonzero(first), len(s)))


def encode_texts(batch: Any, *, what: str = "text batch") -> list[bytes]:
    """UTF-8 bytes of every document of ``batch`` (a sequence of str, or of UTF-8 bytes).

    Raises :class:`TextFormatError` naming the item for anything else.

    >>> encode_texts(["héllo"])
    [b'h\\xc3\\xa9llo']
    >>> encode_texts(["ok", 3])
    Traceback (most recent call last):
    ...
    tailguard.errors.TextFormatError: text batch item 1: expected str, got int
    """
    if isinstance(batch, str | bytes) or not isinstance(batch, Iterable):
        raise TextFormatError(f"{what}: expected a sequence of str documents, got {type(batch).__name__}")
    out: list[bytes] = []
    for i, doc in enumerate(batch):
        if isinstance(doc, str):
            try:
                out.append(doc.encode("utf-8"))
            except UnicodeEncodeError as exc:
                raise TextFormatError(f"{what} item {i}: not encodable as UTF-8 ({exc.reason})") from None
        elif isinstance(doc, bytes | bytearray):
            try:
                bytes(doc).decode("utf-8")
            except UnicodeDecodeError as exc:
                raise TextFormatError(f"{what} item {i}: not valid UTF-8 (byte {exc.start}: {exc.reason})") from None
            out.append(bytes(doc))
        else:
            raise TextFormatError(f"{what} item {i}: expected str, got {type(doc).__name__}")
    return out


def doc_keys(encoded: Sequence[bytes], seed: int) -> np.ndarray:
    """A seeded 64-bit content hash per document (blake2b), as uint64.

    Equal documents get equal keys, so selections keyed on them do not depend
    on the order in which documents arrive.
    """
    key = int(seed).to_bytes(8, "little", signed=True)
    return np.fromiter(
        (int.from_bytes(hashlib.blake2b(d, digest_size=8, key=key).digest(), "little") for d in encoded),
        dtype=_U64,
        count=len(encoded),
    )


@dataclass(frozen=True)
class TokenizedBatch:
    """Token hashes of a batch; doc ``i`` owns ``hashes[doc_offsets[i]:doc_offsets[i+1]]``."""

    hashes: np.ndarray  # uint64, one per token
    doc_offsets: np.ndarray  # int64, n_docs + 1
    seed: int = 0

    @property
    def n_tokens(self) -> int:
        return len(self.hashes)

    @property
    def n_docs(self) -> int:
        return len(self.doc_offsets) - 1

    @property
    def doc_lengths(self) -> np.ndarray:
        return np.diff(self.doc_offsets)

    def doc_index(self) -> np.ndarray:
        """The document of every token (int64)."""
        return np.repeat(np.arange(self.n_docs, dtype=np.int64), self.doc_lengths)


_CHUNK_BYTES = 4 << 20


def tokenize(encoded: Sequence[bytes], *, seed: int = 0) -> TokenizedBatch:
    """Tokenise and hash a batch of UTF-8 documents (see the module docstring).

    Large batches are processed in chunks of about 4 MB to bound temporary memory.
    """
    n_docs = len(encoded)
    if n_docs == 0:
        return TokenizedBatch(np.zeros(0, _U64), np.zeros(1, np.int64), seed)
    lens = np.fromiter((len(d) for d in encoded), dtype=np.int64, count=n_docs)
    if lens.sum() <= _CHUNK_BYTES or n_docs == 1:
        return _tokenize_chunk(encoded, lens, seed)
    cum = np.cumsum(lens)
    hashes, offsets, start, base = [], [np.zeros(1, np.int64)], 0, 0
    while start < n_docs:
        stop = max(int(np.searchsorted(cum, (cum[start - 1] if start else 0) + _CHUNK_BYTES, "right")), start + 1)
        part = _tokenize_chunk(encoded[start:stop], lens[start:stop], seed)
        hashes.append(part.hashes)
        offsets.append(part.doc_offsets[1:] + base)
        base += part.n_tokens
        start = stop
    return TokenizedBatch(np.concatenate(hashes), np.concatenate(offsets), seed)


def _tokenize_chunk(encoded: Sequence[bytes], lens: np.ndarray, seed: int) -> TokenizedBatch:
    buf = b" ".join(encoded)
    low = np.frombuffer(buf.translate(_TRANSLATE), dtype=np.uint8)
    # token edges, where a word byte follows a separator or the reverse: starts and ends alternate
    word = low != 0
    change = np.zeros(len(word) + 1, dtype=bool)
    if len(word):
        change[0], change[-1] = word[0], word[-1]
        np.not_equal(word[1:], word[:-1], out=change[1:-1])
    edges = np.flatnonzero(change)
    starts, ends = edges[0::2], edges[1::2]
    hashes = mix64(_raw_hashes(low, starts, ends) ^ _U64(int(seed) & 0xFFFFFFFFFFFFFFFF))
    # document boundaries in byte offsets of the joined buffer
    doc_starts = np.concatenate([[0], np.cumsum(lens + 1)[:-1]])
    offsets = np.searchsorted(starts, doc_starts, side="left")
    doc_offsets = np.append(offsets, len(starts)).astype(np.int64)
    return TokenizedBatch(hashes, doc_offsets, seed)


def _raw_hashes(low: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """``Σ low[j] * P**min(j - start, 4095)`` over each token's bytes, before mixing (see the module doc)."""
    if len(starts) == 0:
        return np.zeros(0, dtype=_U64)
    n = len(low)
    full = n - n % _BLOCK
    terms = np.empty(n, dtype=_U64)
    with np.errstate(over="ignore"):
        np.multiply(low[:full].reshape(-1, _BLOCK), _BLOCK_POW, out=terms[:full].reshape(-1, _BLOCK))
        np.multiply(low[full:], _BLOCK_POW[: n - full], out=terms[full:])
        # separators are 0, so each reduceat segment holds exactly one token's terms
        raw = np.add.reduceat(terms, starts) * _BLOCK_INV[starts & (_BLOCK - 1)]
    # tokens holding the last byte of one block and the first of the next, and overlong ones
    edge = np.arange(_BLOCK, n, _BLOCK)
    before = np.searchsorted(starts, edge, side="left") - 1
    crossing = before[(before >= 0) & (ends[np.maximum(before, 0)] > edge)]
    direct = np.union1d(crossing, np.flatnonzero(ends - starts > _MAX_TOKEN_BYTES))
    if len(direct):
        raw[direct] = _direct_raw_hashes(low, starts[direct], ends[direct])
    return raw


def _direct_raw_hashes(low: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """The raw hashes of the given tokens from their bytes' offsets (capped at 4095)."""
    length = ends - starts
    first = np.cumsum(length) - length
    offset = np.arange(int(length.sum()), dtype=np.int64) - np.repeat(first, length)
    at = np.repeat(starts, length) + offset
    with np.errstate(over="ignore"):
        terms = low[at].astype(_U64) * _POW[np.minimum(offset, _MAX_TOKEN_BYTES - 1)]
        return np.add.reduceat(terms, first)


def ngram_hashes(tok: TokenizedBatch, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Hashes of every word n-gram that lies inside one document, and its document index.

    For ``n == 1`` these are the token hashes themselves.
    """
    _, g, doc = next(iter_ngram_hashes(tok, n, start=n))
    return g, doc


def iter_ngram_hashes(
    tok: TokenizedBatch, max_n: int, *, start: int = 1
) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
    """``(n, *ngram_hashes(tok, n))`` for ``n = start..max_n``, each order built from the one before.

    The arrays may be views of ``tok`` or of the generator's own state: read them, do not modify them.

    >>> tok = tokenize(encode_texts(["a b c", "d e"]))
    >>> [(n, doc.tolist()) for n, _, doc in iter_ngram_hashes(tok, 3)]
    [(1, [0, 0, 0, 1, 1]), (2, [0, 0, 1]), (3, [0])]
    """
    h = tok.hashes
    doc = tok.doc_index()
    g = h  # hashes of the k-grams starting at every token, crossing documents
    for k in range(1, max_n + 1):
        if k > 1:
            if len(g) <= 1:
                g = np.zeros(0, _U64)
            else:
                with np.errstate(over="ignore"):
                    g = mix64(g[:-1] * _U64(_NGRAM_K[k]) + h[k - 1 :])
        if k < start:
            continue
        if k == 1:
            yield 1, h, doc
        elif len(g) == 0:
            yield k, np.zeros(0, _U64), np.zeros(0, np.int64)
        else:
            valid = doc[: len(g)] == doc[k - 1 :]
            if valid.all():  # no n-gram crosses a document (one document): no copies
                yield k, g, doc[: len(g)]
            else:
                yield k, g[valid], doc[: len(g)][valid]
