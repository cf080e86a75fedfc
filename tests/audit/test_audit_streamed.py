"""A streamed candidate gets the audit the same rows get in memory, from every format, on every engine."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tailguard.audit import AuditConfig, audit
from tailguard.audit.streaming import LinesShard, stream_source
from tailguard.errors import BadInputError, MissingInputError, NonFiniteValueError, TextFormatError

CONFIG = AuditConfig(quick=True, figures=False)


@pytest.fixture(scope="module")
def digits():
    from sklearn.datasets import load_digits

    x = load_digits().data.astype(np.float64)
    return 0.9 * x[:900], x[900:]


@pytest.fixture(scope="module")
def docs():
    from tailguard.data.text import python_docs_sentences

    d = python_docs_sentences()
    return d[:900], d[900:1800]


def _same(streamed, whole) -> None:
    assert streamed.verdict == whole.verdict and streamed.n_candidate == whole.n_candidate
    assert [m.name for m in streamed.metrics] == [m.name for m in whole.metrics]
    for a, b in zip(streamed.metrics, whole.metrics, strict=True):
        assert a.value == pytest.approx(b.value, rel=1e-9, abs=1e-12, nan_ok=True), a.name
        assert a.status == b.status, a.name


def test_a_streamed_npy_equals_the_in_memory_audit_whatever_the_shards(tmp_path, digits):
    cand, ref = digits
    np.save(tmp_path / "c.npy", cand.astype(np.float32))
    whole = audit(cand.astype(np.float32), ref, config=CONFIG)
    for rows in (128, 900):
        src = stream_source(tmp_path / "c.npy", shard_rows=rows)
        assert len(src.shards) == -(-900 // rows)
        report = audit(src, ref, config=CONFIG)
        _same(report, whole)
        assert report.config["streamed"]["shards"] == len(src.shards)
        assert any("streamed audit does not hold" in line for line in report.skipped)


def test_streamed_parquet_and_csv_equal_the_same_table_in_memory(tmp_path, digits):
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq

    cand, ref = digits
    frame = pd.DataFrame(cand, columns=[f"p{i:02d}" for i in range(cand.shape[1])])
    pq.write_table(pa.Table.from_pandas(frame), tmp_path / "c.parquet", row_group_size=200)
    frame.to_csv(tmp_path / "c.csv", index=False)
    ref_frame = pd.DataFrame(ref, columns=frame.columns)
    whole = audit(frame, ref_frame, config=CONFIG)
    parquet = stream_source(tmp_path / "c.parquet")
    assert len(parquet.shards) == 5  # its row groups
    _same(audit(parquet, ref_frame, config=CONFIG), whole)
    csv = stream_source(tmp_path / "c.csv", shard_bytes=10_000)
    assert len(csv.shards) > 3
    _same(audit(csv, ref_frame, config=CONFIG), whole)


def test_streamed_jsonl_and_txt_equal_the_documents_in_memory(tmp_path, docs):
    cand, ref = docs
    (tmp_path / "c.jsonl").write_text("".join(json.dumps({"text": t}) + "\n" for t in cand), encoding="utf-8")
    (tmp_path / "c.txt").write_text("\n".join(cand) + "\n", encoding="utf-8")
    whole = audit(cand, ref, config=AuditConfig(quick=True, figures=False, domain_check=False))
    for name in ("c.jsonl", "c.txt"):
        src = stream_source(tmp_path / name, shard_bytes=15_000)
        assert len(src.shards) > 3
        _same(audit(src, ref, config=CONFIG), whole)


def test_byte_ranges_never_lose_or_repeat_a_line(tmp_path):
    lines = [f"línea {i} " + "ü" * (i % 7) for i in range(40)] + ["", "  ", "last"]
    path = tmp_path / "t.txt"
    path.write_text("\n".join(lines), encoding="utf-8")  # no newline at the end
    expected = [line for line in lines if line.strip()]
    size = path.stat().st_size
    for step in (1, 2, 3, 7, 50, size):
        src = stream_source(path, shard_bytes=step)
        got = [doc for shard in src.shards for doc in shard.load()]
        assert got == expected, step


def test_a_bad_line_in_a_later_shard_names_its_file_and_line(tmp_path):
    rows = [json.dumps({"text": f"document {i}"}) for i in range(30)]
    rows[21] = '{"text": "unterminated'
    path = tmp_path / "c.jsonl"
    path.write_text("\n".join(rows) + "\n")
    src = stream_source(path, shard_bytes=100)
    with pytest.raises(TextFormatError, match=r"c.jsonl:22: invalid JSON") as info:
        for shard in src.shards:
            shard.load()
    assert str(path) in str(info.value) and "invalid JSON" in str(info.value)
    raw = tmp_path / "bad.txt"
    raw.write_bytes(b"fine\nalso fine\n\xff\xfe broken\n")
    with pytest.raises(TextFormatError, match=r"bad.txt:3: not valid UTF-8"):
        LinesShard(str(raw), 0, raw.stat().st_size, False).load()


def test_bad_streamed_inputs_are_one_line_errors(tmp_path):
    x = np.ones((10, 3))
    x[7, 1] = np.nan
    np.save(tmp_path / "nan.npy", x)
    with pytest.raises(NonFiniteValueError, match=r"nan.npy: row 7 holds NaN"):
        for shard in stream_source(tmp_path / "nan.npy", shard_rows=4).shards:
            shard.load()
    (tmp_path / "q.csv").write_text('a,b\n1,"two\nlines"\n3,4\n')
    with pytest.raises(BadInputError, match=r"q.csv:2: a quoted field holds a line break"):
        stream_source(tmp_path / "q.csv")
    with pytest.raises(MissingInputError):
        stream_source(tmp_path / "absent.npy")
    (tmp_path / "x.bin").write_bytes(b"0")
    with pytest.raises(BadInputError, match=r"cannot stream \.bin"):
        stream_source(tmp_path / "x.bin")
    with pytest.raises(Exception, match="same_size and max_samples"):
        audit(stream_source(tmp_path / "nan.npy"), x, config=AuditConfig(max_samples=5))


def test_a_streamed_image_folder_equals_the_images_in_memory(tmp_path):
    from PIL import Image

    from tailguard.audit import Source

    rng = np.random.default_rng(0)
    for side, n in (("cand", 30), ("ref", 30)):
        (tmp_path / side).mkdir()
        for i in range(n):
            Image.fromarray(rng.integers(0, 255, (16, 16, 3), dtype=np.uint8)).save(tmp_path / side / f"{i:03d}.png")
    whole = audit(Source(str(tmp_path / "cand")), Source(str(tmp_path / "ref")), config=CONFIG)
    src = stream_source(tmp_path / "cand", shard_rows=7)
    assert src.modality == "images" and len(src.shards) == 5
    _same(audit(src, Source(str(tmp_path / "ref")), config=CONFIG), whole)


def test_a_streamed_audit_is_the_same_on_a_process_pool(tmp_path, digits):
    from tailguard.engines import get_engine

    cand, ref = digits
    np.save(tmp_path / "c.npy", cand)
    src = stream_source(tmp_path / "c.npy", shard_rows=200)
    local = audit(src, ref, config=CONFIG)
    with get_engine("process", workers=2) as pool:
        _same(audit(src, ref, config=CONFIG, engine=pool), local)


@pytest.mark.ray
def test_a_streamed_text_audit_is_the_same_on_ray(tmp_path, docs):
    pytest.importorskip("ray")
    from tailguard.engines import get_engine

    cand, ref = docs
    (tmp_path / "c.jsonl").write_text("".join(json.dumps({"text": t}) + "\n" for t in cand), encoding="utf-8")
    src = stream_source(tmp_path / "c.jsonl", shard_bytes=20_000)
    local = audit(src, ref, config=CONFIG)
    with get_engine("ray", num_cpus=2) as engine:  # the embedding runs on the workers
        _same(audit(src, ref, config=CONFIG, engine=engine), local)


def test_the_cli_streams_the_candidate_to_the_same_report(tmp_path, digits):
    from tailguard.cli.app import main

    cand, ref = digits
    np.save(tmp_path / "c.npy", cand)
    np.save(tmp_path / "r.npy", ref)
    out = {}
    for name, extra in (("whole", []), ("stream", ["--stream", "--shard-rows", "250"])):
        code = main(["audit", str(tmp_path / "c.npy"), "-r", str(tmp_path / "r.npy"), "--quick", "--json",
                     "--out", str(tmp_path / name), *extra])
        assert code == 0
        out[name] = json.loads(Path(tmp_path / name / "report.json").read_text())
    assert out["stream"]["verdict"] == out["whole"]["verdict"]
    assert [(m["name"], m["status"]) for m in out["stream"]["metrics"]] == \
        [(m["name"], m["status"]) for m in out["whole"]["metrics"]]
    assert out["stream"]["config"]["streamed"]["shards"] == 4


def _csv_version(tmp_path, rows: np.ndarray, name: str) -> str:
    """``rows`` as a CSV ingested into a fresh ledger as version ``name``; the ledger URL."""
    import pandas as pd

    from tailguard.cli.app import main

    path = tmp_path / f"{name}.csv"
    pd.DataFrame(rows, columns=[f"px{i:02d}" for i in range(rows.shape[1])]).to_csv(path, index=False)
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    assert main(["--ledger", url, "ingest", str(path), "--origin", "synthetic", "--as-version", name]) == 0
    return url


def test_a_streamed_ledger_version_equals_the_version_in_memory_repeats_included(tmp_path, digits):
    from tailguard.audit import Source
    from tailguard.audit.streaming import stream_version
    from tailguard.ledger import Ledger

    cand, ref = digits
    rows = np.vstack([cand[:600], cand[:150]])  # 150 repeated rows: a mode-collapse signal that must stay
    url = _csv_version(tmp_path, rows, "cand")
    whole = audit(Source("cand", url), ref, config=CONFIG)
    assert whole.n_candidate == 750
    src = stream_version("cand", url, shard_rows=100)
    assert src.n == 750 and src.modality == "vectors" and len(src.shards) >= 6
    with Ledger.open(url) as ledger:  # every occurrence in exactly one shard, a content's repeats together
        ids = [r.id for sh in src.shards for r, _ in ledger.iter_bytes("cand", id_range=(sh.after, sh.until))]
        assert ids == ledger.version_sample_ids("cand")
    _same(audit(src, ref, config=CONFIG), whole)


def test_a_streamed_text_version_equals_it_in_memory_and_on_a_process_pool(tmp_path, docs):
    from tailguard.audit import Source
    from tailguard.audit.streaming import stream_version
    from tailguard.cli.app import main
    from tailguard.engines import get_engine

    cand, ref = docs
    (tmp_path / "c.jsonl").write_text("".join(json.dumps({"text": t}) + "\n" for t in [*cand[:500], *cand[:100]]))
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    assert main(["--ledger", url, "ingest", str(tmp_path / "c.jsonl"), "--origin", "synthetic",
                 "--as-version", "gen3"]) == 0
    whole = audit(Source("gen3", url), ref, config=CONFIG)
    src = stream_version("gen3", url, shard_rows=150)
    assert src.modality == "text" and src.n == 600
    _same(audit(src, ref, config=CONFIG), whole)
    with get_engine("process", workers=2) as engine:
        _same(audit(src, ref, config=CONFIG, engine=engine), whole)


def test_the_cli_streams_a_version_to_the_same_report_and_names_an_unknown_one(tmp_path, digits):
    from tailguard.audit.streaming import stream_version
    from tailguard.cli.app import main
    from tailguard.errors import UnknownChoiceError

    cand, ref = digits
    url = _csv_version(tmp_path, cand[:400], "cand")
    np.save(tmp_path / "r.npy", ref)
    out = {}
    for name, extra in (("whole", []), ("stream", ["--stream", "--shard-rows", "120"])):
        assert main(["--ledger", url, "audit", "cand", "-r", str(tmp_path / "r.npy"), "--quick", "--json",
                     "--out", str(tmp_path / name), *extra]) == 0
        out[name] = json.loads(Path(tmp_path / name / "report.json").read_text())
    assert [m["name"] for m in out["stream"]["metrics"]] == [m["name"] for m in out["whole"]["metrics"]]
    assert [m["value"] for m in out["stream"]["metrics"]] == \
        pytest.approx([m["value"] for m in out["whole"]["metrics"]], nan_ok=True)
    assert out["stream"]["config"]["streamed"]["shards"] == 4
    with pytest.raises(UnknownChoiceError, match="cnad"):
        stream_version("cnad", url)


def test_a_streamed_audit_prunes_each_shard_to_what_its_sample_can_keep(tmp_path, digits):
    from tailguard.audit.streamed import stream_params

    cand, ref = digits
    small = {name: {"max_samples": 120} for name in ("prdc", "nn_distance_tail", "vendi", "covariance", "tail_mass",
                                                    "rare_mode_coverage", "psi")}
    config = AuditConfig(quick=True, figures=False, metric_params=small)
    np.save(tmp_path / "c.npy", cand)
    src = stream_source(tmp_path / "c.npy", shard_rows=100)
    assert src.n_hint == 900 and stream_params(small, src.n_hint)["prdc"]["expected_rows"] == 900
    _same(audit(src, ref, config=config), audit(cand, ref, config=config))


def test_the_driver_lets_go_of_the_reference_rows_before_the_shards_run(tmp_path, digits, monkeypatch):
    import gc

    import tailguard.audit.runner as runner
    from tailguard.audit.inputs import AuditInput

    cand, ref = digits
    np.save(tmp_path / "c.npy", cand)
    held: list[int] = []
    feed = runner._feed_shard

    def watched(task):
        if task.reference is None:  # a candidate shard: the reference was fed before the first one
            gc.collect()
            held.append(sum(isinstance(o, AuditInput) and o.name == "reference" for o in gc.get_objects()))
        return feed(task)

    monkeypatch.setattr(runner, "_feed_shard", watched)
    report = audit(stream_source(tmp_path / "c.npy", shard_rows=300), ref, config=CONFIG)
    assert held == [0, 0, 0]  # what the metrics keep of it is their own sample, not the rows
    monkeypatch.undo()
    _same(report, audit(cand, ref, config=CONFIG))


def test_vector_metrics_of_a_streamed_audit_share_one_row_sample_and_give_the_same_numbers(tmp_path, docs,
                                                                                            monkeypatch):
    import tailguard.audit.runner as runner
    from tailguard.metrics.vectors import VectorMetric

    cand, ref = docs
    (tmp_path / "c.jsonl").write_text("".join(json.dumps({"text": d}) + "\n" for d in cand), encoding="utf-8")
    merged: list = []
    result_of = runner._result_of
    monkeypatch.setattr(runner, "_result_of", lambda item: (merged.append(item[1]), result_of(item))[1])
    report = audit(stream_source(tmp_path / "c.jsonl", shard_bytes=20_000), ref, config=CONFIG)
    vector = [m for m in merged if isinstance(m, VectorMetric)]
    stores = {id(m.samples[0]) for m in vector}
    specs = {m.sample_spec() for m in vector}
    assert len(vector) >= 8 and len(stores) == len(specs) < len(vector)  # one sample per spec, not per metric
    for m in vector:  # every borrower reads the whole candidate, as its lender does
        assert m.n_candidate == len(cand) and m.n_reference == len(ref)
    with pytest.raises(ValueError, match="read-only"):
        vector[0].samples[0].rows()[0, 0] = 1.0  # no metric can change the rows another reads
    monkeypatch.undo()
    _same(report, audit(cand, ref, config=CONFIG))


def test_a_borrower_fails_as_its_lender_failed_under_its_own_name():
    from tailguard.audit.runner import _borrow, _Failed
    from tailguard.metrics.bulk import BulkMoments

    failed = _borrow(BulkMoments(), "bulk_moments", "prdc", _Failed("prdc: BadInputError: too few rows"))
    assert failed == _Failed("bulk_moments: BadInputError: too few rows")
