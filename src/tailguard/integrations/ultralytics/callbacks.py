"""``attach``: a training gate and a per-class monitor as Ultralytics callbacks.

``attach(model, ledger=..., policy=...)`` adds three callbacks to an ``ultralytics.YOLO``:

- **before training** (``on_pretrain_routine_start``, before the dataset is even read): it
  refuses a run folder that holds weights recorded in the ledger (``exist_ok=True`` with the
  ``name`` of a recorded run would overwrite them; :func:`check_run_folder`), finds the
  ledger version behind ``data=`` (``version=``, or the ``tailguard_export.json`` that
  ``tailguard export --format yolo`` writes beside data.yaml), refuses a data.yaml
  whose class names disagree with the version's (:class:`~tailguard.errors.BadInputError`)
  and runs the policy gate (:func:`tailguard.policy.enforce_gate`); an unsafe mix raises
  :class:`~tailguard.errors.GateRefusedError` out of ``model.train()`` with the numbers
  that broke the rule, e.g. ``human fraction 0.00 < 0.30 required by anchor:0.3``;
- **after each validation** (``on_val_end`` + ``on_fit_epoch_end``): it keeps precision,
  recall, mAP50 and mAP50-95, overall and per class; a ``model.val()`` after training is
  recorded on the run as well, each value under ``val/<name>`` (``validations``
  counts them);
- **at the end** (``on_train_end``): it records a model run linked to the training version
  (``model_id`` = ``"<run folder>/best@<checkpoint hash>"``, the generator string that
  pseudo-labels of this model will carry) with every epoch's metrics (``step`` = epoch) and
  the final validation of ``best.pt`` (``step`` = None), then compares each rare class's
  final recall with the best earlier generation (runs in the ledger with the same class
  names) and warns (:class:`RecallDropWarning`, also stored as ``alert/recall_drop/<class>``)
  when it fell by more than ``recall_drop``, saying what overall mAP did meanwhile: a held
  mAP with a lost rare class is the averages trap.

The run and the metrics are written only when training finishes; a crashed run leaves no
half-recorded model.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tailguard.errors import BadInputError, ParameterError
from tailguard.integrations.ultralytics.metrics import validation_metrics
from tailguard.integrations.ultralytics.pseudo_label import WEIGHTS_HASH_KEY, _export_manifest_version

if TYPE_CHECKING:
    from tailguard.ledger import Ledger
    from tailguard.policy import GateLimits, Policy

RARE_FRACTION_OF_UNIFORM = 0.25
"""Default rare-class rule: a class whose share of the version's boxes is below a quarter of 1/K."""


class RecallDropWarning(UserWarning):
    """A rare class's recall fell more than the threshold below its best earlier generation."""


@dataclass(frozen=True)
class RecallDropAlert:
    """One rare class whose recall dropped: now vs the best earlier run, and overall mAP meanwhile."""

    class_name: str
    recall: float
    best_recall: float
    best_run_id: str
    map50_95: float
    best_run_map50_95: float | None
    overall: str = "mAP50-95"  # what map50_95 holds: the run's overall metric (classification: top-1 accuracy)

    @property
    def drop(self) -> float:
        return self.best_recall - self.recall

    def message(self) -> str:
        then = "n/a" if self.best_run_map50_95 is None else f"{self.best_run_map50_95:.3f}"
        return (
            f"rare class {self.class_name!r}: recall {self.recall:.3f} is {self.drop:.3f} below its best earlier "
            f"generation ({self.best_recall:.3f}, run {self.best_run_id[:12]}) while overall {self.overall} went "
            f"{then} -> {self.map50_95:.3f}"
        )


def read_data_yaml(data: str | Path) -> tuple[Path, list[str]]:
    """The resolved path and the class names of a data.yaml, or of a classification folder (its
    ``train/`` class folders, sorted as Ultralytics numbers them); one-line errors naming the file."""
    from tailguard.ledger.ingest.yolo import load_data_yaml

    if Path(data).is_dir():
        from tailguard.ledger.ingest.classify import is_class_layout
        from tailguard.tasks.classify import class_folders

        if not is_class_layout(Path(data)):
            raise BadInputError("a folder given as data= must be a classification dataset (train/<class>/)",
                                path=str(data))
        return Path(data).resolve(), class_folders(Path(data) / "train")

    parsed = load_data_yaml(data)  # the one data.yaml parser
    return parsed.path.resolve(), parsed.names


def check_class_names(ledger: Ledger, version: str, data: str | Path) -> list[str]:
    """Refuse a data.yaml whose class names disagree with ``version``'s; returns the names.

    A version without recorded class names accepts any names.
    """
    path, names = read_data_yaml(data)
    expected = ledger.class_names(version)
    if expected and names != list(expected):
        diff = [f"{i}: {a!r} vs {b!r}" for i, (a, b) in enumerate(zip(names, expected, strict=False)) if a != b]
        if len(names) != len(expected):
            diff.append(f"{len(names)} names vs {len(expected)}")
        raise BadInputError(f"class names disagree with ledger version {version!r} ({'; '.join(diff[:3])})", path=path)
    return names


def check_run_folder(ledger: Ledger, save_dir: Path) -> None:
    """Refuse to train into a folder whose weights the ledger has recorded (they would be overwritten).

    Ultralytics gives a run whose ``project/name`` exists a new folder (``name2``) unless
    ``exist_ok=True``; with it, ``best.pt`` and ``last.pt`` of the earlier run would be
    rewritten and the recorded ``weights_hash`` would no longer match the file. Raises a
    one-line :class:`~tailguard.errors.BadInputError` naming the file and the run.
    """
    weights = sorted((save_dir / "weights").glob("*.pt"))
    if not weights:
        return
    from tailguard.ledger.hashing import file_id

    recorded = {run.extra.get(WEIGHTS_HASH_KEY): run for run in ledger.model_runs() if run.extra.get(WEIGHTS_HASH_KEY)}
    for path in weights:
        run = recorded.get(file_id(path))
        if run is not None:
            raise BadInputError(
                f"holds the weights of recorded run {run.id[:12]} ({run.model_id.split('@')[0]}); training into "
                f"{save_dir} would overwrite them: pass another name=, or leave exist_ok unset so "
                "Ultralytics makes a new folder",
                path=path,
            )


def default_rare_classes(ledger: Ledger, version: str, names: Sequence[str]) -> tuple[str, ...]:
    """Classes whose share of ``version``'s boxes is below a quarter of the uniform share 1/K."""
    by_class = ledger.version_summary(version).by_class
    total = sum(by_class.values())
    if total == 0 or not names:
        return ()
    cutoff = RARE_FRACTION_OF_UNIFORM / len(names)
    return tuple(n for i, n in enumerate(names) if by_class.get(i, 0) / total < cutoff)


@dataclass
class LedgerCallbacks:
    """The state behind :func:`attach`; read ``run_id``, ``final_metrics`` and ``alerts`` after training."""

    ledger: Ledger
    policy: str | Policy | None = None
    limits: GateLimits | None = None
    version: str | None = None
    rare_classes: Sequence[str] | None = None
    recall_drop: float = 0.10
    model_id: str | None = None
    run_id: str | None = None
    class_names: list[str] = field(default_factory=list)
    epoch_metrics: list[tuple[int, dict[str, float]]] = field(default_factory=list)
    final_metrics: dict[str, float] = field(default_factory=dict)
    alerts: list[RecallDropAlert] = field(default_factory=list)
    #: ``model.val()`` runs recorded on the run after training (values under ``val/<name>``).
    validations: int = 0
    _pending: dict[str, float] | None = None
    _resolved_version: str | None = None

    # -- before training -------------------------------------------------------------
    def on_pretrain_routine_start(self, trainer: Any) -> None:
        check_run_folder(self.ledger, Path(trainer.save_dir))
        data = getattr(trainer.args, "data", None)
        version = self.version or _export_manifest_version(data)
        if version is None:
            raise BadInputError(
                "cannot tell which ledger version this data.yaml holds; pass attach(..., version=NAME) "
                "or train on `tailguard export VERSION --format yolo` output",
                path=str(data),
            )
        self.ledger.get_version(version)  # typed error with suggestions when it does not exist
        self.class_names = check_class_names(self.ledger, version, data)
        from tailguard.policy import enforce_gate

        # with neither policy nor limits, the policy recorded by the `tailguard mix` that made the version applies
        enforce_gate(self.ledger, version, policy=self.policy, limits=self.limits)
        self._resolved_version = version

    # -- validation ------------------------------------------------------------------
    def on_val_end(self, validator: Any) -> None:
        metrics = getattr(validator, "metrics", None)
        if metrics is None:
            return
        flat = validation_metrics(metrics, validator)
        if flat is None:
            return
        if getattr(validator, "training", False) or self.run_id is None:
            self._pending = flat  # inside model.train(): kept for the epoch
            return
        # a model.val() of the trained model: recorded on its run, apart from the training's own
        self.ledger.record_run_metrics(str(self.run_id), {f"val/{k}": v for k, v in flat.items()})
        self.validations += 1

    def on_fit_epoch_end(self, trainer: Any) -> None:
        if self._pending is not None:
            self.epoch_metrics.append((int(trainer.epoch), self._pending))
            self._pending = None

    # -- after training --------------------------------------------------------------
    def on_train_end(self, trainer: Any) -> None:
        if self._resolved_version is None:  # the gate callback did not run (e.g. attach after start)
            return
        from tailguard.ledger.hashing import file_id

        weights = Path(trainer.best if Path(trainer.best).exists() else trainer.last)
        content_hash = file_id(weights)
        model_id = self.model_id or f"{Path(trainer.save_dir).name}/{weights.stem}"
        final = self.epoch_metrics[-1][1] if self.epoch_metrics else {}
        earlier = self._earlier_runs()
        self.run_id = self.ledger.record_model_run(
            f"{model_id}@{content_hash}",
            self._resolved_version,
            config={
                "task": "train",
                "epochs": int(trainer.epochs),
                "imgsz": int(trainer.args.imgsz),
                "data": str(trainer.args.data),
                "policy": None if self.policy is None else str(self.policy),
            },
            extra={
                WEIGHTS_HASH_KEY: content_hash,
                "weights": str(weights.resolve()),
                "class_names": list(self.class_names),
                "synthetic_depth": self.ledger.version_summary(self._resolved_version).max_synthetic_depth,
            },
        )
        for epoch, values in self.epoch_metrics[:-1]:
            self.ledger.record_run_metrics(self.run_id, values, step=epoch)
        if final:
            self.ledger.record_run_metrics(self.run_id, final)
        self.final_metrics = dict(final)
        self._check_recall(final, earlier)

    def _earlier_runs(self) -> list[tuple[str, dict[str, float]]]:
        """Final metrics (step None) of earlier runs in the ledger with the same class names."""
        out = []
        for run in self.ledger.model_runs():
            if run.extra.get("class_names") != list(self.class_names):
                continue
            final = {m.name: m.value for m in self.ledger.run_metrics(run.id) if m.step is None}
            if final:
                out.append((run.id, final))
        return out

    def _check_recall(self, final: dict[str, float], earlier: list[tuple[str, dict[str, float]]]) -> None:
        if not final or not earlier:
            return
        rare = self.rare_classes
        if rare is None:
            rare = default_rare_classes(self.ledger, str(self._resolved_version), self.class_names)
        for name in rare:
            key = f"recall/{name}"
            overall, label = ("top1", "top-1 accuracy") if "top1" in final else ("map50_95", "mAP50-95")
            history = [(run_id, m[key], m.get(overall)) for run_id, m in earlier if key in m]
            if not history:
                continue
            best_run, best, best_map = max(history, key=lambda item: item[1])
            now = final.get(key, 0.0)  # a class the model no longer detects at all has recall 0
            if best - now > self.recall_drop:
                alert = RecallDropAlert(name, now, best, best_run, final.get(overall, 0.0), best_map, label)
                self.alerts.append(alert)
                self.ledger.record_run_metrics(str(self.run_id), {f"alert/recall_drop/{name}": alert.drop})
                warnings.warn(alert.message(), RecallDropWarning, stacklevel=2)


def attach(
    model: Any,
    *,
    ledger: Ledger,
    policy: str | Policy | None = None,
    limits: GateLimits | None = None,
    version: str | None = None,
    rare_classes: Sequence[str] | None = None,
    recall_drop: float = 0.10,
    model_id: str | None = None,
) -> LedgerCallbacks:
    """Add tailguard's gate and per-class monitor to an ``ultralytics.YOLO`` (see the module doc).

    ``policy`` (a spec such as ``"accumulate+anchor:0.3"``) or ``limits`` set the gate; with
    neither, the policy recorded by the ``tailguard mix`` that made the version applies (a
    version made otherwise passes). ``rare_classes`` defaults to the classes
    whose share of the version's boxes is below a quarter of 1/K; ``recall_drop`` is the
    absolute recall drop that triggers a warning. Returns the callbacks' state, whose
    ``run_id``, ``final_metrics`` and ``alerts`` are filled in when training ends.

    >>> attach(object(), ledger=None, recall_drop=1.5)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    tailguard.errors.ParameterError: The 'recall_drop' parameter of attach must be a float > 0 and < 1. Got 1.5.
    """
    if not 0.0 < recall_drop < 1.0:
        raise ParameterError(f"The 'recall_drop' parameter of attach must be a float > 0 and < 1. Got {recall_drop}.")
    if policy is not None and isinstance(policy, str):
        from tailguard.policy import parse_policy

        parse_policy(policy)  # a typo fails here, not after the first epoch
    state = LedgerCallbacks(
        ledger=ledger,
        policy=policy,
        limits=limits,
        version=version,
        rare_classes=rare_classes,
        recall_drop=recall_drop,
        model_id=model_id,
    )
    for event in ("on_pretrain_routine_start", "on_val_end", "on_fit_epoch_end", "on_train_end"):
        model.add_callback(event, getattr(state, event))
    return state
