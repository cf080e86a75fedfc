"""``tailguard score``: from the file a data team has to scores.parquet keyed by its ids, and one-line errors."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from tailguard.cli.app import main
from tailguard.data import fortunes_texts, python_docs_paragraphs
from tailguard.data.machine_text import build_mixture, split_human


def run(argv, capsys):
    code = main(argv)
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    folder = tmp_path_factory.mktemp("scraped")
    pool = python_docs_paragraphs() + fortunes_texts()
    ref, human, _ = split_human(pool, 0, [0.1, 0.1, 0.1])
    mix = build_mixture(human, "spam", 0.3, 1000, 1)
    with open(folder / "scraped.jsonl", "w", encoding="utf-8") as f:
        for rec in mix.records():
            f.write(json.dumps({"doc_id": rec["doc_id"], "url": f"https://example.org/{rec['doc_id']}",
                                "text": rec["text"]}) + "\n")
    (folder / "human.txt").write_text("\n".join(ref[:1000]) + "\n", encoding="utf-8")
    return folder, mix


def test_score_writes_scores_keyed_by_the_users_ids_and_the_share(corpus, capsys):
    folder, mix = corpus
    out = folder / "scores"
    code, stdout, err = run(["score", str(folder / "scraped.jsonl"), "--reference", str(folder / "human.txt"),
                             "--id-column", "doc_id", "--out", str(out), "--no-support"], capsys)
    assert code == 0, err
    assert "machine-made share:" in stdout and "wrote" in stdout
    table = pd.read_parquet(out / "scores.parquet")
    assert table["id"].tolist() == list(mix.doc_id)
    share = json.loads((out / "share.json").read_text())
    assert abs(share["share"]["estimate"] - 0.3) < 0.07
    spam = np.asarray(mix.is_machine)
    assert table["machine_probability"][spam].mean() > 0.8
    assert (table["cluster_size"][spam] > 1).mean() > 0.9  # the planted template spam clusters


def test_score_reads_a_ledger_version(corpus, tmp_path, capsys):
    folder, _ = corpus
    url = f"sqlite:///{tmp_path}/l.db"
    assert main(["--ledger", url, "ingest", str(folder / "scraped.jsonl"), "--origin", "unknown",
                 "--as-version", "scraped"]) == 0
    capsys.readouterr()
    code, _stdout, err = run(["--ledger", url, "score", "scraped", "-r", str(folder / "human.txt"),
                             "--out", str(tmp_path / "o"), "--no-support", "--id-column", "doc_id"], capsys)
    assert code == 0, err
    ids = pd.read_parquet(tmp_path / "o" / "scores.parquet")["id"]
    assert ids.str.startswith("doc-").all()  # the field the samples were ingested with


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b'{"text": "fine"}\n{"text": \n', "bad.jsonl:2: not JSON"),
        (b'{"text": "fine"}\n{"body": "x"}\n', "bad.jsonl:2: no 'text' field"),
        (b'{"text": "caf\xe9"}\n', "bad.jsonl:1: not valid UTF-8"),
        (b"", "bad.jsonl: holds no documents"),
    ],
)
def test_bad_input_is_one_line_naming_the_file_and_line(tmp_path, capsys, content, expected):
    bad = tmp_path / "bad.jsonl"
    bad.write_bytes(content)
    (tmp_path / "ref.txt").write_text("a human line\n" * 60)
    code, _, err = run(["score", str(bad), "-r", str(tmp_path / "ref.txt"), "--out", str(tmp_path / "o")], capsys)
    assert code == 2
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and expected in lines[0] and "Traceback" not in err


def test_a_missing_file_and_an_unknown_option(tmp_path, capsys):
    code, _, err = run(["score", str(tmp_path / "nope.jsonl"), "-r", "x.txt"], capsys)
    assert code == 2 and "nope.jsonl" in err and "Traceback" not in err
    code, _, err = run(["score", "a.jsonl", "-r", "b.txt", "--shar-method", "pu"], capsys)
    assert code == 2 and "--shar-method" in err


def test_audit_writes_the_duplicate_clusters_with_member_ids(corpus, capsys):
    folder, mix = corpus
    dups = folder / "dups.jsonl"
    code, stdout, err = run(["audit", str(folder / "scraped.jsonl"), "--reference", str(folder / "human.txt"),
                             "--out", str(folder / "audit"), "--quick", "--duplicates-out", str(dups),
                             "--id-column", "doc_id"], capsys)
    assert code == 0, err
    assert "near-duplicate clusters:" in stdout
    clusters = [json.loads(line) for line in dups.read_text().splitlines()]
    truth = dict(zip(mix.doc_id, np.where(np.asarray(mix.is_machine), np.asarray(mix.cluster), -1), strict=True))
    assert clusters and all(c["representative"] == c["members"][0] and c["size"] == len(c["members"]) for c in clusters)
    spam = [c for c in clusters if truth[c["members"][0]] >= 0]
    assert all(len({truth[m] for m in c["members"]}) == 1 for c in spam)  # one template per cluster
    assert sum(c["size"] for c in spam) >= 0.9 * int(np.asarray(mix.is_machine).sum())
