"""The ledger commands end to end: init, ingest, version create/list/show/diff/verify, lineage, export."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import yaml

from tailguard.cli.app import main


def run(capsys, url: str, *args: str) -> tuple[int, str, str]:
    code = main(["--ledger", url, *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_full_flow(capsys, ledger_url, make_yolo_dataset, tmp_path):
    data = make_yolo_dataset(n_train=3, n_val=2)
    assert run(capsys, ledger_url, "init")[0] == 0
    code, out, _ = run(capsys, ledger_url, "ingest", str(data), "--origin", "human", "--as-version", "v1")
    assert code == 0 and "5 new" in out and "version 'v1' created" in out
    texts = tmp_path / "t.jsonl"
    texts.write_text('{"text": "a", "origin": "human"}\n{"text": "b", "origin": "synthetic", "generation": 1}\n')
    code, out, _ = run(capsys, ledger_url, "ingest", str(texts), "--json")
    assert code == 0 and json.loads(out)["added"] == 2

    code, out, _ = run(capsys, ledger_url, "version", "create", "mix", "--from", "origin:human",
                       "--from", "origin:synthetic")
    assert code == 0 and "7 samples" in out

    code, out, _ = run(capsys, ledger_url, "version", "show", "mix")
    assert code == 0 and "by origin: human 6, synthetic 1" in out and "boxes by class (human 5): cat 3, dog 2" in out
    code, out, _ = run(capsys, ledger_url, "version", "show", "mix", "--json")
    assert json.loads(out)["summary"]["by_origin"] == {"human": 6, "synthetic": 1}
    code, out, _ = run(capsys, ledger_url, "version", "diff", "v1", "mix")
    assert code == 0 and "2 added, 0 removed, 0 origin changes, 0 count changes" in out
    code, out, _ = run(capsys, ledger_url, "version", "verify", "v1")
    assert code == 0 and "digest ok, 5 contents ok" in out
    code, out, _ = run(capsys, ledger_url, "version", "list", "--json")
    assert [v["name"] for v in json.loads(out)] == ["v1", "mix"]

    code, out, _ = run(capsys, ledger_url, "export", "v1", "--format", "yolo", "--out", str(tmp_path / "ex"))
    assert code == 0 and yaml.safe_load((tmp_path / "ex" / "data.yaml").read_text())["names"] == {0: "cat", 1: "dog"}
    code, out, _ = run(capsys, ledger_url, "lineage", "mix")
    assert code == 0 and "mix (7 samples: human 6, synthetic 1)" in out and "synthetic depth: 0: 6, 1: 1" in out


def test_v2_selector_intersection_is_empty_and_refused(capsys, sqlite_url, tmp_path):
    texts = tmp_path / "t.jsonl"
    texts.write_text('{"text": "a"}\n')
    run(capsys, sqlite_url, "ingest", str(texts), "--origin", "human", "--as-version", "v1")
    code, _, err = run(capsys, sqlite_url, "version", "create", "v2", "--from", "version:v1",
                       "--from", "origin:synthetic")
    assert code == 2 and err.startswith("error: version 'v2' would be empty") and err.count("\n") == 1


def test_errors_are_one_line_naming_file_and_line(capsys, sqlite_url, make_yolo_dataset):
    data = make_yolo_dataset(n_train=2, n_val=0)
    label = data.parent / "labels" / "train" / "img1.txt"
    label.write_text("0 0.5 0.5 0.2 0.2\n7 0.5 0.5 0.2 0.2\n")
    code, _, err = run(capsys, sqlite_url, "ingest", str(data), "--origin", "human")
    assert code == 2 and err == f"error: {label}:2: class id 7 is not in data.yaml (classes 0..1)\n"

    code, out, _ = run(capsys, sqlite_url, "ingest", str(data), "--origin", "human", "--skip-bad")
    assert code == 0 and "1 new" in out and "1 skipped" in out and f"{label}:2: class id 7" in out

    code, _, err = run(capsys, sqlite_url, "version", "create", "x", "--from", "orgin:human")
    assert code == 2 and "Unknown selector 'orgin'. Did you mean 'origin'" in err and err.count("\n") == 1
    code, _, err = run(capsys, sqlite_url, "ingest", str(data.parent / "missing.jsonl"))
    assert code == 2 and "missing.jsonl: no such file or folder" in err
    code, _, err = run(capsys, sqlite_url, "ingest", str(data), "--origin", "robot")
    assert code == 2 and "Unknown origin 'robot'" in err
    code, _, err = run(capsys, sqlite_url, "version", "show", "nope")
    assert code == 2 and err.startswith("error: ")
    with pytest.raises(Exception, match="class id 7"):
        main(["--ledger", sqlite_url, "--debug", "ingest", str(data)])


def test_verify_names_missing_files_and_fails(capsys, sqlite_url, make_yolo_dataset):
    data = make_yolo_dataset(n_train=2, n_val=0)
    run(capsys, sqlite_url, "ingest", str(data), "--origin", "human", "--as-version", "v")
    gone = data.parent / "images" / "train" / "img0.png"
    gone.unlink()
    code, out, err = run(capsys, sqlite_url, "version", "verify", "v")
    assert code == 2 and f"missing {gone}" in out and "1 ok, 1 missing, 0 changed" in err


def test_cli_import_stays_light():
    code = ("import sys, tailguard.cli.app; "
            "print(sorted(m for m in ('sqlalchemy', 'numpy', 'PIL', 'torch') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
