"""Hugging Face integration (optional extra ``hf``): ``datasets`` in and out of the ledger.

- **In.** ``Ledger.ingest`` takes a ``datasets.Dataset``, ``DatasetDict`` or ``IterableDataset``
  (or a ``pyarrow.Table``), and ``tailguard ingest DIR --format hf`` a ``save_to_disk`` folder or
  local ``.parquet``/``.json``/``.jsonl``/``.csv``/``.txt`` files read by ``datasets.load_dataset``.
  Rows are read a batch of Arrow rows at a time, with per-row provenance from columns
  (:mod:`tailguard.ledger.ingest.hf`); the splits of a ``DatasetDict`` become one version whose
  samples carry their split, as the train/val folders of a YOLO dataset do.
- **Out.** ``tailguard export VERSION --format hf`` writes a ``save_to_disk`` folder with
  ``tg_sample_id``, ``tg_origin``, ``tg_generator``, ``tg_generation`` and ``tg_parents`` columns and a
  README.md dataset card (:mod:`tailguard.integrations.huggingface.export`,
  :mod:`tailguard.integrations.huggingface.card`); re-ingesting it adds no sample.
- **Training.** :func:`attach_trainer` adds a ``transformers`` ``TrainerCallback`` that gates the
  training version before training, records eval perplexity and the diversity of a seeded sample
  of generations at each evaluation, and warns (:class:`DiversityDropWarning`) when distinct-n or
  rare-word coverage falls below the best earlier generation
  (:mod:`tailguard.integrations.huggingface.trainer`).
- **Audit.** ``tailguard.audit`` takes a ``datasets`` object (or a save_to_disk folder as a path)
  and reads it as the same rows as its Parquet file, DataFrame or ledger version.

Importing this package does not import ``datasets``; the functions that need it import it
through :func:`tailguard.dependencies.require`, naming ``pip install 'tailguard[hf]'`` when it is missing.

>>> from tailguard.integrations import huggingface as tg_hf
>>> tg_hf.dataset_kind([1, 2]) is None
True
"""

from tailguard.integrations.huggingface.batches import BUILDERS, dataset_kind, dataset_name, dataset_splits, load_local
from tailguard.integrations.huggingface.card import ProvenanceCounts, card_header, render_card
from tailguard.integrations.huggingface.diversity import distinct_n, rare_word_coverage, rare_words
from tailguard.integrations.huggingface.export import TG_COLUMNS, export_hf
from tailguard.integrations.huggingface.trainer import (
    DiversityDropAlert,
    DiversityDropWarning,
    TrainerMonitor,
    attach_trainer,
)

__all__ = [
    "BUILDERS",
    "TG_COLUMNS",
    "DiversityDropAlert",
    "DiversityDropWarning",
    "ProvenanceCounts",
    "TrainerMonitor",
    "attach_trainer",
    "card_header",
    "dataset_kind",
    "dataset_name",
    "dataset_splits",
    "distinct_n",
    "export_hf",
    "load_local",
    "rare_word_coverage",
    "rare_words",
    "render_card",
]
