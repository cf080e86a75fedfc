"""attach_trainer: the gate before training, diversity at each evaluation, the drop warning.

A real GPT-2 is built from a ``GPT2Config`` (no weights downloaded) with a byte-level BPE trained
here with ``tokenizers``. The callback is a real ``transformers.TrainerCallback`` called with real
``TrainerState``/``TrainerControl`` objects, and the last tests run it inside real ``Trainer`` runs on
CPU (``Trainer`` needs ``accelerate``, which the ``hf`` extra installs): two generations, the second
trained on one repeated line; a refused mix; and an ``export --format hf`` loaded with ``datasets``,
tokenized and trained on, where a row from outside the version stops the run.
"""

from __future__ import annotations

import math
from pathlib import Path
from types import SimpleNamespace

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from tailguard.errors import BadInputError, GateRefusedError, ParameterError  # noqa: E402
from tailguard.integrations.huggingface.trainer import (  # noqa: E402
    DiversityDropWarning,
    attach_trainer,
)
from tailguard.ledger import Ledger, NewSample  # noqa: E402

CORPUS_SIZE = 120


@pytest.fixture(scope="module")
def corpus() -> list[str]:
    from tailguard.data import python_docs_paragraphs

    return [p[:300] for p in python_docs_paragraphs()[:CORPUS_SIZE]]


@pytest.fixture(scope="module")
def tokenizer(corpus):  # type: ignore[no-untyped-def]
    from tokenizers import ByteLevelBPETokenizer

    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator(corpus, vocab_size=400, min_frequency=2, special_tokens=["<|endoftext|>"])
    tok = transformers.PreTrainedTokenizerFast(tokenizer_object=bpe._tokenizer, bos_token="<|endoftext|>",
                                               eos_token="<|endoftext|>", pad_token="<|endoftext|>")
    return tok


def _model(tokenizer, seed: int = 0):  # type: ignore[no-untyped-def]
    torch.manual_seed(seed)
    config = transformers.GPT2Config(vocab_size=len(tokenizer), n_positions=64, n_embd=32, n_layer=1, n_head=2,
                                     bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id)
    return transformers.GPT2LMHeadModel(config)


def _fit(model, tokenizer, texts: list[str], steps: int, lr: float = 3e-3) -> None:  # type: ignore[no-untyped-def]
    opt = torch.optim.AdamW(model.parameters(), lr=lr)
    batch = tokenizer(texts, return_tensors="pt", padding=True, truncation=True, max_length=48)
    model.train()
    for _ in range(steps):
        out = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], labels=batch["input_ids"])
        out.loss.backward()
        opt.step()
        opt.zero_grad()


class _Holder:
    """What attach_trainer needs of a Trainer (add_callback, processing_class, train_dataset), when none can be built."""

    def __init__(self, model, tokenizer, train_dataset=None):  # type: ignore[no-untyped-def]
        self.model, self.processing_class, self.train_dataset = model, tokenizer, train_dataset
        self.callbacks: list = []

    def add_callback(self, callback) -> None:  # type: ignore[no-untyped-def]
        self.callbacks.append(callback)


def _evaluate(holder: _Holder, step: int, loss: float) -> None:
    state = transformers.TrainerState()
    state.global_step = step
    for cb in holder.callbacks:
        cb.on_evaluate(SimpleNamespace(output_dir="out"), state, transformers.TrainerControl(),
                       metrics={"eval_loss": loss}, model=holder.model, processing_class=holder.processing_class)


def _train_begin(holder: _Holder) -> None:
    for cb in holder.callbacks:
        cb.on_train_begin(SimpleNamespace(output_dir="out"), transformers.TrainerState(), transformers.TrainerControl())


@pytest.fixture
def text_ledger(sqlite_ledger: Ledger, corpus):  # type: ignore[no-untyped-def]
    sqlite_ledger.add_samples([NewSample(content=t.encode(), uri=None, modality="text", origin="human")
                               for t in corpus], as_version="human")
    sqlite_ledger.add_samples([NewSample(content=f"made {i}".encode(), uri=None, modality="text", origin="synthetic",
                                         generator="gpt2-tiny", generation=1) for i in range(10)],
                              as_version="synthetic-only")
    return sqlite_ledger


def test_the_gate_refuses_before_training(text_ledger: Ledger, tokenizer):  # type: ignore[no-untyped-def]
    holder = _Holder(_model(tokenizer), tokenizer)
    attach_trainer(holder, ledger=text_ledger, version="synthetic-only", policy="accumulate+anchor:0.3")
    assert isinstance(holder.callbacks[0], transformers.TrainerCallback)
    with pytest.raises(GateRefusedError, match=r"human fraction 0\.00 < 0\.30"):
        _train_begin(holder)
    ok = _Holder(_model(tokenizer), tokenizer)
    state = attach_trainer(ok, ledger=text_ledger, version="human", policy="accumulate+anchor:0.3")
    _train_begin(ok)
    assert state.gated


def test_rows_outside_the_version_are_refused(text_ledger: Ledger, tokenizer):  # type: ignore[no-untyped-def]
    import pyarrow as pa

    from tailguard.ledger.hashing import content_id

    inside = [r.id for r in text_ledger.iter_samples("human")][:3]
    rows = pa.table({"tg_sample_id": [*inside, content_id(b"not in the ledger")]})  # as an hf export holds them
    holder = _Holder(_model(tokenizer), tokenizer, rows)
    attach_trainer(holder, ledger=text_ledger, version="human")
    with pytest.raises(BadInputError, match="1 of 4 training rows are not in ledger version 'human'"):
        _train_begin(holder)
    fine = _Holder(_model(tokenizer), tokenizer, rows.slice(0, 3))
    attach_trainer(fine, ledger=text_ledger, version="human")
    _train_begin(fine)


def test_evaluations_are_recorded_and_a_collapse_warns(text_ledger: Ledger, tokenizer, corpus):  # type: ignore[no-untyped-def]
    gen0 = _model(tokenizer, seed=0)
    _fit(gen0, tokenizer, corpus[:32], steps=15)
    holder0 = _Holder(gen0, tokenizer)
    state0 = attach_trainer(holder0, ledger=text_ledger, version="human", n_samples=6, max_new_tokens=24, seed=3)
    torch.manual_seed(123)
    _evaluate(holder0, step=10, loss=4.0)
    after = torch.rand(3)
    torch.manual_seed(123)
    assert torch.equal(after, torch.rand(3))  # the sample's random draws do not move training's random state
    (step, values), = state0.evaluations
    assert step == 10 and values["eval_perplexity"] == pytest.approx(math.exp(4.0))
    assert 0.0 < values["distinct_2"] <= 1.0 and 0.0 <= values["rare_word_coverage"] <= 1.0
    recorded = {m.name: m.value for m in text_ledger.run_metrics(str(state0.run_id)) if m.step == 10}
    assert recorded == values and not state0.alerts
    run = next(r for r in text_ledger.model_runs() if r.id == state0.run_id)
    assert run.trained_on == "human" and run.config["task"] == "causal-lm-train"

    again = _Holder(gen0, tokenizer)  # the same model and seed: the same sample, no alert
    state_again = attach_trainer(again, ledger=text_ledger, version="human", n_samples=6, max_new_tokens=24, seed=3)
    _evaluate(again, step=10, loss=4.0)
    assert state_again.generations == state0.generations and not state_again.alerts

    gen1 = _model(tokenizer, seed=1)  # the next generation learns one repeated line: its outputs collapse
    _fit(gen1, tokenizer, ["the value of the value of the value of the value"] * 8, steps=200, lr=1e-2)
    holder1 = _Holder(gen1, tokenizer)
    state1 = attach_trainer(holder1, ledger=text_ledger, version="human", n_samples=6, max_new_tokens=24, seed=3)
    with pytest.warns(DiversityDropWarning) as caught:
        _evaluate(holder1, step=5, loss=2.0)
    messages = [str(w.message) for w in caught]
    assert any(m.startswith("distinct_2 of the generations at step 5 is") for m in messages)
    assert len(messages) == len(state1.alerts)
    (_, collapsed), = state1.evaluations
    assert collapsed["distinct_2"] < 0.8 * values["distinct_2"]
    metrics = {m.name: m.value for m in text_ledger.run_metrics(str(state1.run_id))}
    assert metrics["alert/diversity_drop/distinct_2"] == pytest.approx(
        (values["distinct_2"] - collapsed["distinct_2"]) / values["distinct_2"])
    assert {a.metric for a in state1.alerts} >= {"distinct_2"}


def test_parameters_are_checked(text_ledger: Ledger, tokenizer):  # type: ignore[no-untyped-def]
    holder = _Holder(_model(tokenizer), tokenizer)
    with pytest.raises(ParameterError, match="'n_samples' parameter of attach_trainer must be an int >= 1"):
        attach_trainer(holder, ledger=text_ledger, version="human", n_samples=0)
    with pytest.raises(ParameterError, match="'prompts' parameter"):
        attach_trainer(holder, ledger=text_ledger, version="human", prompts=[""])
    with pytest.raises(KeyError, match="version"):
        attach_trainer(holder, ledger=text_ledger, version="nope")


def _trainer(tokenizer, texts: list[str], out: Path, *, seed: int, steps: int, eval_steps: int, lr: float):  # type: ignore[no-untyped-def]
    """A real ``transformers.Trainer`` on CPU that evaluates every ``eval_steps`` on held-out rows."""
    enc = tokenizer(texts, truncation=True, max_length=32)
    rows = [{"input_ids": ids} for ids in enc["input_ids"]]
    args = transformers.TrainingArguments(output_dir=str(out), max_steps=steps, eval_strategy="steps",
                                          eval_steps=eval_steps, per_device_train_batch_size=4,
                                          per_device_eval_batch_size=4, learning_rate=lr, report_to=[], use_cpu=True,
                                          save_strategy="no", logging_steps=eval_steps, seed=seed,
                                          disable_tqdm=True)
    return transformers.Trainer(model=_model(tokenizer, seed=seed), args=args, train_dataset=rows,
                                eval_dataset=rows[: max(2, len(rows) // 4)], processing_class=tokenizer,
                                data_collator=transformers.DataCollatorForLanguageModeling(tokenizer, mlm=False))


def test_inside_a_real_trainer(text_ledger: Ledger, tokenizer, corpus, tmp_path: Path):  # type: ignore[no-untyped-def]
    # Generation 0 learns the human corpus; the callback runs at each of the Trainer's own evaluations.
    gen0 = _trainer(tokenizer, corpus[:32], tmp_path / "gen0", seed=0, steps=8, eval_steps=4, lr=3e-3)
    state0 = attach_trainer(gen0, ledger=text_ledger, version="human", n_samples=6, max_new_tokens=24, seed=3)
    gen0.train()
    assert state0.gated and not state0.alerts
    losses = {e["step"]: e["eval_loss"] for e in gen0.state.log_history if "eval_loss" in e}
    assert sorted(losses) == [step for step, _ in state0.evaluations] == [4, 8]
    recorded: dict[int, dict[str, float]] = {}
    for m in text_ledger.run_metrics(str(state0.run_id)):
        recorded.setdefault(int(m.step), {})[m.name] = m.value
    for step, values in state0.evaluations:  # what the ledger holds is what the Trainer measured
        assert values["eval_perplexity"] == pytest.approx(math.exp(losses[step]))
        assert 0.0 < values["distinct_2"] <= 1.0 and "rare_word_coverage" in values
        assert recorded[step] == values
    run = next(r for r in text_ledger.model_runs() if r.id == state0.run_id)
    assert run.trained_on == "human" and run.config["task"] == "causal-lm-train"

    # Generation 1 learns one repeated line (what a collapsed generator writes): its generations lose diversity.
    collapsed = ["the value of the value of the value of the value"] * 16
    gen1 = _trainer(tokenizer, collapsed, tmp_path / "gen1", seed=1, steps=120, eval_steps=60, lr=1e-2)
    state1 = attach_trainer(gen1, ledger=text_ledger, version="human", n_samples=6, max_new_tokens=24, seed=3)
    with pytest.warns(DiversityDropWarning) as caught:
        gen1.train()
    assert state1.run_id != state0.run_id and [step for step, _ in state1.evaluations] == [60, 120]
    best = state0.evaluations[-1][1]["distinct_2"]  # an earlier run counts at its last evaluation
    last = state1.evaluations[-1][1]
    assert last["distinct_2"] < 0.8 * best
    assert len(caught) == len(state1.alerts) and any(a.metric == "distinct_2" and a.step == 120 for a in state1.alerts)
    alerts = {(int(m.step), m.name): m.value for m in text_ledger.run_metrics(str(state1.run_id))
              if m.name.startswith("alert/")}
    assert alerts == {(a.step, f"alert/diversity_drop/{a.metric}"): pytest.approx(a.drop) for a in state1.alerts}
    assert alerts[(120, "alert/diversity_drop/distinct_2")] == pytest.approx((best - last["distinct_2"]) / best)


def test_a_real_trainer_refuses_an_unsafe_mix_before_the_first_step(text_ledger: Ledger, tokenizer, corpus,
                                                                     tmp_path: Path):  # type: ignore[no-untyped-def]
    trainer = _trainer(tokenizer, corpus[:8], tmp_path / "refused", seed=0, steps=4, eval_steps=2, lr=3e-3)
    state = attach_trainer(trainer, ledger=text_ledger, version="synthetic-only", policy="accumulate+anchor:0.3")
    with pytest.raises(GateRefusedError, match=r"human fraction 0\.00 < 0\.30"):
        trainer.train()
    assert trainer.state.global_step == 0 and not state.gated and state.run_id is None


def test_a_real_trainer_on_an_hf_export_gates_the_rows_it_trains_on(text_ledger: Ledger, tokenizer,
                                                                     tmp_path: Path):  # type: ignore[no-untyped-def]
    import datasets

    text_ledger.export("human", "hf", tmp_path / "export")
    exported = datasets.load_from_disk(str(tmp_path / "export"))
    assert len(exported) == CORPUS_SIZE

    def tokenized(ds):  # type: ignore[no-untyped-def]  # what a user does before training; tg_sample_id stays
        return ds.map(lambda rows: tokenizer(rows["text"], truncation=True, max_length=32), batched=True,
                      remove_columns=["text", "tg_origin", "tg_generator", "tg_generation", "tg_parents"])

    def trainer_on(ds, out: str):  # type: ignore[no-untyped-def]
        args = transformers.TrainingArguments(output_dir=str(tmp_path / out), max_steps=2, eval_strategy="steps",
                                              eval_steps=2, per_device_train_batch_size=4,
                                              per_device_eval_batch_size=4, report_to=[], use_cpu=True,
                                              save_strategy="no", disable_tqdm=True)
        return transformers.Trainer(model=_model(tokenizer), args=args, train_dataset=ds,
                                    eval_dataset=ds.select(range(8)), processing_class=tokenizer,
                                    data_collator=transformers.DataCollatorForLanguageModeling(tokenizer, mlm=False))

    inside = tokenized(exported.select(range(16)))
    trainer = trainer_on(inside, "inside")
    state = attach_trainer(trainer, ledger=text_ledger, version="human", n_samples=2, max_new_tokens=8)
    trainer.train()  # the Trainer drops tg_sample_id from its batches; the callback reads it from the dataset
    assert state.gated and [step for step, _ in state.evaluations] == [2]

    stranger = datasets.Dataset.from_dict({"text": ["a row from elsewhere"], "tg_sample_id": ["0" * 32],
                                           "tg_origin": ["human"], "tg_generator": [None], "tg_generation": [0],
                                           "tg_parents": [[]]}, features=exported.features)
    mixed = tokenized(datasets.concatenate_datasets([exported.select(range(15)), stranger]))
    refused = trainer_on(mixed, "mixed")
    attach_trainer(refused, ledger=text_ledger, version="human", n_samples=2, max_new_tokens=8)
    with pytest.raises(BadInputError, match="1 of 16 training rows are not in ledger version 'human'"):
        refused.train()
    assert refused.state.global_step == 0
