"""``attach_trainer``: a provenance gate and a diversity monitor as a ``transformers`` Trainer callback.

``attach_trainer(trainer, ledger=..., version=..., policy=...)`` adds one ``TrainerCallback``:

- **before training** (``on_train_begin``) it runs the policy gate on the ledger version the
  training data came from (:func:`tailguard.policy.enforce_gate`), as ``attach`` does for YOLO:
  an unsafe mix raises :class:`~tailguard.errors.GateRefusedError` out of ``trainer.train()``
  with the numbers that broke the rule. When the training dataset has the ``tg_sample_id``
  column that ``tailguard export --format hf`` writes, every row must belong to that version
  (else a one-line :class:`~tailguard.errors.BadInputError`); without it the callback cannot
  see where the rows came from and gates the version as named.
- **at each evaluation** (``on_evaluate``) it generates a small seeded sample (``n_samples``
  continuations of ``max_new_tokens`` tokens from ``prompts``, sampled with the random state
  forked so training is not disturbed) and records on the run, at the step: ``eval_perplexity``
  (``exp(eval_loss)``), ``distinct_1``, ``distinct_2`` and ``rare_word_coverage`` (the share of
  the version's rare words, seen at most ``rare_max_count`` times, that the sample produces).
  The model run (linked to the version) is recorded at the first evaluation.
- **on a drop** it compares each diversity value with the best one of the earlier
  generations (earlier runs recorded by this callback with the same ``monitor`` name, each at
  its last evaluation) and warns (:class:`DiversityDropWarning`, also stored on the run as
  ``alert/diversity_drop/<metric>``) when it is more than ``drop`` (a fraction) below it.

Importing this module imports neither torch nor transformers.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tailguard.errors import BadInputError, ParameterError
from tailguard.integrations.huggingface.diversity import distinct_n, rare_word_coverage, rare_words

if TYPE_CHECKING:
    from tailguard.ledger import Ledger
    from tailguard.policy import GateLimits, Policy

TASK = "causal-lm-train"
MONITORED = ("distinct_1", "distinct_2", "rare_word_coverage")


class DiversityDropWarning(UserWarning):
    """A diversity measure of the generations fell more than the threshold below its best earlier generation."""


@dataclass(frozen=True)
class DiversityDropAlert:
    """One diversity measure that dropped: now vs the best earlier run, at a training step."""

    metric: str
    value: float
    best: float
    best_run_id: str
    step: int
    perplexity: float | None

    @property
    def drop(self) -> float:
        """The fall relative to the best earlier value."""
        return (self.best - self.value) / self.best

    def message(self) -> str:
        ppl = "n/a" if self.perplexity is None else f"{self.perplexity:.1f}"
        return (f"{self.metric} of the generations at step {self.step} is {self.value:.3f}, {self.drop:.0%} below "
                f"its best earlier generation ({self.best:.3f}, run {self.best_run_id[:12]}); eval perplexity {ppl}")


@dataclass
class TrainerMonitor:
    """The state behind :func:`attach_trainer`; read ``run_id``, ``evaluations`` and ``alerts``."""

    ledger: Ledger
    version: str
    policy: str | Policy | None = None
    limits: GateLimits | None = None
    prompts: tuple[str, ...] = ()
    n_samples: int = 8
    max_new_tokens: int = 32
    seed: int = 0
    drop: float = 0.2
    rare: frozenset[str] = frozenset()
    monitor: str = "causal-lm"
    model_id: str | None = None
    trainer: Any = None
    run_id: str | None = None
    evaluations: list[tuple[int, dict[str, float]]] = field(default_factory=list)
    alerts: list[DiversityDropAlert] = field(default_factory=list)
    generations: list[str] = field(default_factory=list)  # the last evaluation's sample
    gated: bool = False

    # -- before training -------------------------------------------------------------
    def before_training(self, train_dataset: Any = None) -> None:
        """Refuse rows outside the version, then run the gate (raises :class:`GateRefusedError`)."""
        self.ledger.get_version(self.version)  # typed error with suggestions when it does not exist
        if train_dataset is not None:
            self._check_rows(train_dataset)
        from tailguard.policy import enforce_gate

        enforce_gate(self.ledger, self.version, policy=self.policy, limits=self.limits)
        self.gated = True

    def _check_rows(self, dataset: Any) -> None:
        names = getattr(dataset, "column_names", None)
        if not isinstance(names, list) or "tg_sample_id" not in names:
            return
        from tailguard.integrations.huggingface.batches import dataset_splits
        from tailguard.ledger.ingest.hf import is_arrow_table, table_splits

        members = {rec.id for rec in self.ledger.iter_samples(self.version)}
        outside: list[str] = []
        n = 0
        for part in table_splits(dataset) if is_arrow_table(dataset) else dataset_splits(dataset):
            for batch in part.batches:
                column = batch["tg_sample_id"] if isinstance(batch, dict) else batch.column("tg_sample_id").to_pylist()
                for sid in column:
                    n += 1
                    if sid not in members:
                        outside.append(str(sid))
        if outside:
            raise BadInputError(f"{len(outside)} of {n} training rows are not in ledger version {self.version!r} "
                                f"(tg_sample_id {outside[0][:16]}...): the gate would judge other data than the "
                                "model trains on", path="train_dataset")

    # -- evaluation ------------------------------------------------------------------
    def generate(self, model: Any, tokenizer: Any) -> list[str]:
        """``n_samples`` seeded continuations of each prompt (the random state is restored afterwards)."""
        import torch

        was_training = model.training
        model.eval()
        device = next(model.parameters()).device
        pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
        texts: list[str] = []
        try:
            with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []), torch.no_grad():
                torch.manual_seed(self.seed)
                for prompt in self.prompts:
                    ids = tokenizer(prompt, return_tensors="pt")["input_ids"].to(device)
                    out = model.generate(ids, attention_mask=torch.ones_like(ids), do_sample=True, top_k=0,
                                         top_p=1.0, temperature=1.0, max_new_tokens=self.max_new_tokens,
                                         num_return_sequences=self.n_samples, pad_token_id=pad)
                    texts.extend(tokenizer.batch_decode(out[:, ids.shape[1]:], skip_special_tokens=True))
        finally:
            if was_training:
                model.train()
        return texts

    def on_evaluation(self, model: Any, tokenizer: Any, step: int, metrics: dict[str, Any]) -> dict[str, float]:
        """Measure and record one evaluation (see the module doc); returns the values recorded."""
        if tokenizer is None:
            raise ParameterError("attach_trainer needs the trainer's tokenizer (processing_class) to generate the "
                                 "sample it measures; pass one to the Trainer")
        texts = self.generate(model, tokenizer)
        self.generations = texts
        values: dict[str, float] = {}
        loss = metrics.get("eval_loss")
        if isinstance(loss, int | float) and math.isfinite(loss):
            values["eval_loss"] = float(loss)
            values["eval_perplexity"] = math.exp(min(float(loss), 700.0))
        for name, value in (("distinct_1", distinct_n(texts, 1)), ("distinct_2", distinct_n(texts, 2)),
                            ("rare_word_coverage", rare_word_coverage(texts, self.rare))):
            if math.isfinite(value):  # nothing generated, or no rare words: not measured, not 0
                values[name] = value
        if self.run_id is None:
            self.run_id = self.ledger.record_model_run(
                self.model_id or f"{type(model).__name__}:{self.monitor}", self.version,
                config={"task": TASK, "monitor": self.monitor, "n_samples": self.n_samples,
                        "max_new_tokens": self.max_new_tokens, "seed": self.seed, "prompts": list(self.prompts),
                        "policy": None if self.policy is None else str(self.policy)},
                extra={"monitor": self.monitor, "rare_words": len(self.rare)},
            )
        self.ledger.record_run_metrics(self.run_id, values, step=step)
        self.evaluations.append((step, values))
        self._check_drop(values, step)
        return values

    def _earlier_best(self) -> dict[str, tuple[float, str]]:
        """The best last-evaluation value of each monitored metric over the earlier runs of this monitor."""
        best: dict[str, tuple[float, str]] = {}
        for run in self.ledger.model_runs():
            if run.id == self.run_id or run.config.get("task") != TASK or run.extra.get("monitor") != self.monitor:
                continue
            last: dict[str, tuple[int, float]] = {}
            for m in self.ledger.run_metrics(run.id):
                if m.name in MONITORED and m.step is not None and (m.name not in last or m.step >= last[m.name][0]):
                    last[m.name] = (m.step, m.value)
            for name, (_step, value) in last.items():
                if name not in best or value > best[name][0]:
                    best[name] = (value, run.id)
        return best

    def _check_drop(self, values: dict[str, float], step: int) -> None:
        best = self._earlier_best()
        for name in MONITORED:
            if name not in values or name not in best or best[name][0] <= 0:
                continue
            top, run_id = best[name]
            if (top - values[name]) / top > self.drop:
                alert = DiversityDropAlert(name, values[name], top, run_id, step, values.get("eval_perplexity"))
                self.alerts.append(alert)
                self.ledger.record_run_metrics(str(self.run_id), {f"alert/diversity_drop/{name}": alert.drop},
                                               step=step)
                warnings.warn(alert.message(), DiversityDropWarning, stacklevel=2)


def trainer_callback(monitor: TrainerMonitor) -> Any:
    """A ``transformers.TrainerCallback`` that runs ``monitor`` (``transformers`` is imported here)."""
    from tailguard.dependencies import require

    transformers = require("transformers", extra="lm", feature="attach_trainer")

    class TailguardCallback(transformers.TrainerCallback):  # type: ignore[misc, name-defined]
        """tailguard's gate and diversity monitor (see :mod:`tailguard.integrations.huggingface.trainer`)."""

        def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            trainer = monitor.trainer
            monitor.before_training(getattr(trainer, "train_dataset", None))

        def on_evaluate(self, args: Any, state: Any, control: Any, metrics: Any = None, **kwargs: Any) -> None:
            trainer = monitor.trainer
            model = kwargs.get("model") or getattr(trainer, "model", None)
            tokenizer = (kwargs.get("processing_class") or kwargs.get("tokenizer")
                         or getattr(trainer, "processing_class", None))
            monitor.on_evaluation(model, tokenizer, int(state.global_step), dict(metrics or {}))

    return TailguardCallback()


def _check_params(n_samples: int, max_new_tokens: int, drop: float, rare_max_count: int) -> None:
    for key, value, low in (("n_samples", n_samples, 1), ("max_new_tokens", max_new_tokens, 1),
                            ("rare_max_count", rare_max_count, 1)):
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise ParameterError(f"The '{key}' parameter of attach_trainer must be an int >= {low}. Got {value!r}.")
    if isinstance(drop, bool) or not isinstance(drop, int | float) or not 0.0 < drop < 1.0:
        raise ParameterError(f"The 'drop' parameter of attach_trainer must be a float > 0 and < 1. Got {drop!r}.")


def version_rare_words(ledger: Ledger, version: str, max_count: int) -> frozenset[str]:
    """The rare words of a version's text samples (every occurrence counts)."""
    texts = (content.decode("utf-8", "replace") for rec, content in ledger.iter_bytes(version, read_files=False)
             if rec.modality == "text" and content is not None)
    return rare_words(texts, max_count=max_count)


def attach_trainer(
    trainer: Any,
    *,
    ledger: Ledger,
    version: str,
    policy: str | Policy | None = None,
    limits: GateLimits | None = None,
    prompts: Sequence[str] | None = None,
    n_samples: int = 8,
    max_new_tokens: int = 32,
    seed: int = 0,
    drop: float = 0.2,
    rare: Iterable[str] | None = None,
    rare_max_count: int = 2,
    monitor: str = "causal-lm",
    model_id: str | None = None,
) -> TrainerMonitor:
    """Add tailguard's gate and diversity monitor to a ``transformers.Trainer`` (see the module doc).

    ``policy`` (e.g. ``"accumulate+anchor:0.3"``) or ``limits`` set the gate; with neither, the
    policy recorded by the ``tailguard mix`` that made the version applies. ``prompts`` default to
    the tokenizer's BOS (else EOS) token. ``rare`` (words) defaults to the version's words seen at
    most ``rare_max_count`` times. ``drop`` is the relative fall below the best earlier generation
    that warns. ``monitor`` names the lineage of runs compared with each other.

    >>> attach_trainer(object(), ledger=None, version="v", drop=1.5)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    tailguard.errors.ParameterError: The 'drop' parameter of attach_trainer must be a float > 0 and < 1. Got 1.5.
    """
    _check_params(n_samples, max_new_tokens, drop, rare_max_count)
    if not isinstance(version, str) or not version:
        raise ParameterError(f"The 'version' parameter of attach_trainer must be a ledger version name. Got {version!r}.")
    if policy is not None and isinstance(policy, str):
        from tailguard.policy import parse_policy

        parse_policy(policy)  # a typo fails here, not after the first epoch
    tokenizer = getattr(trainer, "processing_class", None) or getattr(trainer, "tokenizer", None)
    if prompts is None:
        start = None if tokenizer is None else (tokenizer.bos_token or tokenizer.eos_token)
        if start is None:
            raise ParameterError("attach_trainer needs prompts= (the tokenizer has no BOS or EOS token to start from)")
        prompts = (start,)
    if not prompts or not all(isinstance(p, str) and p for p in prompts):
        raise ParameterError(f"The 'prompts' parameter of attach_trainer must be non-empty strings. Got {prompts!r}.")
    ledger.get_version(version)
    rare_set = frozenset(rare) if rare is not None else version_rare_words(ledger, version, rare_max_count)
    state = TrainerMonitor(ledger=ledger, version=version, policy=policy, limits=limits, prompts=tuple(prompts),
                           n_samples=n_samples, max_new_tokens=max_new_tokens, seed=seed, drop=drop, rare=rare_set,
                           monitor=monitor, model_id=model_id, trainer=trainer)
    trainer.add_callback(trainer_callback(state))
    return state
