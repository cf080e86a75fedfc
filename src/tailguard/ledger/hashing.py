"""Content hashing: blake3, hex, truncated to 128 bits (32 hex characters).

128 bits keeps collisions out of reach for billions of samples while halving index size.

>>> content_id(b"hello")
'ea8f163db38682925e4491c5e58d4bb3'
>>> len(content_id(b""))
32
"""

from __future__ import annotations

from pathlib import Path

from blake3 import blake3

ID_LENGTH = 32
_CHUNK = 1 << 20


def content_id(data: bytes) -> str:
    """The sample id of ``data``: blake3, first 32 hex digits."""
    return blake3(data).hexdigest()[:ID_LENGTH]


def file_id(path: str | Path) -> str:
    """The sample id of the file at ``path`` (streamed, so large files cost no memory)."""
    hasher = blake3()
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            hasher.update(chunk)
    return hasher.hexdigest()[:ID_LENGTH]


def label_key(sample_id: str, origin: str, line: str, generator: str | None) -> str:
    """Key of one stored box: the same box re-ingested with the same origin is stored once."""
    return content_id(f"{sample_id}\x00{origin}\x00{generator or ''}\x00{line}".encode())


PROVENANCE_FIELDS = ("id", "uri", "modality", "origin", "generation", "generator", "verified_by", "source")


def provenance_digest(row: object) -> str:
    """Digest of a stored sample's provenance fields (:data:`PROVENANCE_FIELDS`), for tamper evidence.

    ``row`` is a mapping or an object with those attributes. The ledger writes it with
    the row and rewrites it whenever it changes them itself, so an edit made behind
    its back shows up in ``verify``.

    >>> provenance_digest({"id": "ab", "uri": None, "modality": "text", "origin": "human", "generation": 0,
    ...                    "generator": None, "verified_by": None, "source": None})
    '8e2d033e079fe783d172e1acfc98dead'
    """
    r = row if isinstance(row, dict) else row._mapping  # type: ignore[attr-defined]
    return provenance_digest_of(r["id"], r["uri"], r["modality"], r["origin"], r["generation"], r["generator"],
                                r["verified_by"], r["source"])


def provenance_digest_of(sample_id: str | None, uri: str | None, modality: str | None, origin: str | None,
                         generation: int | None, generator: str | None, verified_by: str | None,
                         source: str | None) -> str:
    """:func:`provenance_digest` of the fields themselves (a writer has them at hand, not a row).

    >>> provenance_digest_of("ab", None, "text", "human", 0, None, None, None)
    '8e2d033e079fe783d172e1acfc98dead'
    """
    text = (f"{sample_id or ''}\x1f{uri or ''}\x1f{modality or ''}\x1f{origin or ''}\x1f"
            f"{'' if generation is None else generation}\x1f{generator or ''}\x1f{verified_by or ''}\x1f"
            f"{source or ''}")
    return blake3(text.encode()).hexdigest()[:ID_LENGTH]
