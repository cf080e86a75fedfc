"""Ultralytics YOLO integration (optional extra ``yolo``): collapse-safe training for every task.

Detection, segmentation, classification, pose and oriented boxes alike:

- :func:`pseudo_label`: run a checkpoint on images and store its predictions (boxes, mask
  polygons, top-1 classes, keypoints, oriented boxes) as ``pseudo_label`` labels with
  generator, generation and per-row confidence (human labels are kept);
- :func:`attach`: Ultralytics callbacks that gate training on a ledger version under a
  policy and record per-class validation metrics (:func:`validation_metrics`: box and mask
  mAP, OKS mAP, per-class top-1 recall), warning when a rare class's recall falls;
- :class:`YoloEmbedder` and :func:`detection_audit_input`: image features from the user's
  own checkpoint (backbone, pooled per image) beside the label statistics, for audits;
- :func:`load_checkpoint`, :func:`check_class_names`, :func:`check_run_folder`: one-line
  errors for foreign weights, disagreeing data.yaml files and a run folder whose recorded
  weights a new run would overwrite;
- the self-training loop is the simulator family ``yolo``
  (:mod:`tailguard.simulate.families.yolo`).

Importing this package does not import torch or ultralytics; the functions do, through
:func:`~tailguard.integrations.ultralytics.runtime.load_ultralytics`, which keeps
Ultralytics offline (no font, weight or analytics downloads) and loads checkpoints with
its restricted ``weights_only`` loader. :func:`offline_train_args` adds only what keeps
training offline (``plots=False``, ``amp=False`` when not passed); your own arguments are
never overridden.

>>> from tailguard.integrations import ultralytics as tg_yolo
>>> tg_yolo.offline_train_args()["plots"]
False
"""

from tailguard.integrations.ultralytics.callbacks import (
    LedgerCallbacks,
    RecallDropAlert,
    RecallDropWarning,
    attach,
    check_class_names,
    check_run_folder,
    read_data_yaml,
)
from tailguard.integrations.ultralytics.checkpoint import CheckpointInfo, load_checkpoint
from tailguard.integrations.ultralytics.embed import YoloEmbedder, detection_audit_input
from tailguard.integrations.ultralytics.metrics import PER_CLASS_METRICS, detection_metrics, validation_metrics
from tailguard.integrations.ultralytics.predict import predict_boxes
from tailguard.integrations.ultralytics.pseudo_label import PseudoLabelReport, collect_images, pseudo_label
from tailguard.integrations.ultralytics.runtime import load_ultralytics, offline_train_args, quiet

__all__ = [
    "PER_CLASS_METRICS",
    "CheckpointInfo",
    "LedgerCallbacks",
    "PseudoLabelReport",
    "RecallDropAlert",
    "RecallDropWarning",
    "YoloEmbedder",
    "attach",
    "check_class_names",
    "check_run_folder",
    "collect_images",
    "detection_audit_input",
    "detection_metrics",
    "load_checkpoint",
    "load_ultralytics",
    "offline_train_args",
    "predict_boxes",
    "pseudo_label",
    "quiet",
    "read_data_yaml",
    "validation_metrics",
]
