"""The README.md dataset card of an exported version, written from the counts of the rows exported.

The YAML header fills the Hub's ``annotations_creators``, ``language_creators`` and
``source_datasets`` from the rows' provenance:

- ``language_creators``: ``machine-generated`` when synthetic rows exist, ``found`` when
  human rows do (human-made content collected as it was), ``other`` for rows of unknown origin;
- ``annotations_creators``: ``machine-generated`` when synthetic or pseudo-labelled rows
  exist, ``expert-generated`` when human rows carry a verifier, ``found`` for the other human rows;
- ``source_datasets``: the sources recorded at ingest (files, folders, datasets), or ``original``.

The body tabulates the rows by origin, generation, generator and split. Every sentence is
built from those counts.

>>> stats = ProvenanceCounts()
>>> stats.add("human", None, 0, None, "a.csv", "train", verified=True)
>>> stats.add("synthetic", "gpt2", 1, None, "a.csv", "train", verified=False)
>>> header = card_header(stats)
>>> header["language_creators"], header["annotations_creators"]
(['found', 'machine-generated'], ['expert-generated', 'machine-generated'])
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from tailguard.origins import ORIGINS

MAX_SOURCES = 20


@dataclass
class ProvenanceCounts:
    """Counts of exported rows by origin, generation, generator, split and source."""

    n: int = 0
    by_origin: Counter[str] = field(default_factory=Counter)
    by_generation: Counter[int | None] = field(default_factory=Counter)
    by_generator: Counter[str] = field(default_factory=Counter)
    by_split: Counter[str] = field(default_factory=Counter)
    sources: Counter[str] = field(default_factory=Counter)
    human_verified: int = 0
    by_origin_generation: Counter[tuple[str, int | None]] = field(default_factory=Counter)

    def add(self, origin: str, generator: str | None, generation: int | None, parents: Any, source: str | None,
            split: str | None, *, verified: bool) -> None:
        """Count one exported row."""
        self.n += 1
        self.by_origin[origin] += 1
        self.by_generation[generation] += 1
        self.by_origin_generation[(origin, generation)] += 1
        if generator:
            self.by_generator[generator] += 1
        if split:
            self.by_split[split] += 1
        if source:
            self.sources[source] += 1
        if origin == "human" and verified:
            self.human_verified += 1


def _size_category(n: int) -> str:
    bounds = [(1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M"),
              (10_000_000, "1M<n<10M"), (100_000_000, "10M<n<100M"), (1_000_000_000, "100M<n<1B")]
    return next((label for bound, label in bounds if n < bound), "n>1T" if n >= 10**12 else "1B<n<10B")


def card_header(stats: ProvenanceCounts) -> dict[str, Any]:
    """The YAML header's fields (see the module doc)."""
    o = stats.by_origin
    language = [name for name, present in (("found", o["human"] + o["pseudo_label"] > 0),
                                           ("machine-generated", o["synthetic"] > 0),
                                           ("other", o["unknown"] > 0)) if present]
    annotations = [name for name, present in (("expert-generated", stats.human_verified > 0),
                                              ("found", o["human"] - stats.human_verified > 0),
                                              ("machine-generated", o["synthetic"] + o["pseudo_label"] > 0),
                                              ("other", o["unknown"] > 0)) if present]
    sources = [s for s, _ in stats.sources.most_common(MAX_SOURCES)] or ["original"]
    tags = ["tailguard"] + (["synthetic"] if o["synthetic"] else [])
    return {"annotations_creators": annotations or ["no-annotation"], "language_creators": language or ["other"],
            "source_datasets": sources, "size_categories": [_size_category(stats.n)], "tags": tags}


def _share(k: int, n: int) -> str:
    return f"{k / n:.1%}" if n else "n/a"


def render_card(stats: ProvenanceCounts, version: str, digest: str | None, *, modality: str) -> str:
    """The whole README.md: YAML header, then provenance tables by origin and generation."""
    import yaml

    header = yaml.safe_dump(card_header(stats), sort_keys=False, allow_unicode=True).strip()
    n = stats.n
    lines = ["---", header, "---", "", f"# {version}", "",
             f"Exported by tailguard from ledger version `{version}`"
             + (f" (manifest digest `{digest}`)" if digest else "") + f": {n} {modality} rows, one per occurrence.",
             "Each row carries `tg_sample_id` (the content hash), `tg_origin`, `tg_generator`, `tg_generation` "
             "and `tg_parents`; `tailguard ingest DIR --format hf` reads them back.", "",
             "## Provenance by origin", "", "| origin | rows | share |", "| --- | ---: | ---: |"]
    lines += [f"| {origin} | {stats.by_origin[origin]} | {_share(stats.by_origin[origin], n)} |"
              for origin in ORIGINS if stats.by_origin[origin]]
    synthetic = stats.by_origin["synthetic"]
    lines += ["", f"{_share(synthetic, n)} of the rows are synthetic (machine-generated) and "
              f"{_share(stats.by_origin['human'], n)} human-made"
              + (f", {stats.human_verified} of them verified." if stats.by_origin["human"] else "."), ""]
    lines += ["## Provenance by generation", "", "| generation | origin | rows |", "| --- | --- | ---: |"]
    order = sorted(stats.by_origin_generation, key=lambda k: (k[1] is None, k[1] if k[1] is not None else 0, k[0]))
    lines += [f"| {'unknown' if g is None else g} | {origin} | {stats.by_origin_generation[(origin, g)]} |"
              for origin, g in order]
    if stats.by_generator:
        lines += ["", "## Generators", "", "| generator | rows |", "| --- | ---: |"]
        lines += [f"| {name} | {k} |" for name, k in stats.by_generator.most_common()]
    if stats.by_split:
        lines += ["", "## Splits", "", "| split | rows |", "| --- | ---: |"]
        lines += [f"| {name} | {k} |" for name, k in sorted(stats.by_split.items())]
    return "\n".join(lines) + "\n"
