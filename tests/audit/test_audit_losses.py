"""What was lost, on the project's real data: planted losses are named, random halves list nothing."""

from __future__ import annotations

import base64
import io
from dataclasses import replace

import numpy as np
import pytest

from tailguard.audit import AuditConfig, AuditReport, Source, audit
from tailguard.audit.inputs import as_input
from tailguard.audit.losses import (
    Losses,
    TokenizedDocs,
    class_losses,
    expected_uncovered,
    find_losses,
    rarity_coverage,
    tarone_level,
    term_losses,
    tokens,
)
from tailguard.data import load_breast_cancer, load_digits, load_wine, make_detection_dataset
from tailguard.data.text import python_docs_paragraphs


def halves(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    order = np.random.default_rng(seed).permutation(n)
    return order[: n // 2], order[n // 2 :]


def frame(data):  # type: ignore[no-untyped-def]
    import pandas as pd

    return pd.DataFrame(np.asarray(data.X), columns=list(data.feature_names))


def words_of(doc: str) -> set[str]:
    """An independent word reader, to check the counts the losses report: as the text metrics,
    words are runs of ASCII letters, digits and "_" and any non-ASCII character ("clause’s" is one)."""
    chars = (c.lower() if c.isascii() else c for c in doc)
    return set("".join(c if not c.isascii() or c.isalnum() or c == "_" else " " for c in chars).split())


# ----------------------------------------------------------------------------- text
@pytest.fixture(scope="module")
def docs() -> list[str]:
    return python_docs_paragraphs()


@pytest.mark.parametrize("seed", [0, 1])
def test_text_halves_list_nothing(docs, seed):
    a, b = halves(len(docs), seed)
    losses = find_losses(as_input([docs[i] for i in b]), as_input([docs[i] for i in a], name="reference"))
    assert losses.n_lost == 0, losses.sentences()
    assert all(t.n_judged > 50 for t in losses.terms[:2])  # something was judged: not vacuously empty
    assert losses.lengths is not None and not any(t.lost for t in losses.lengths.tails)
    assert losses.rarity is not None and not losses.rarity.lost and not losses.rarity.examples


def test_text_lost_words_are_named_with_their_counts(docs):
    a, b = halves(len(docs), 0)
    ref = [docs[i] for i in a]
    df = {}
    for d in ref:
        for w in words_of(d):
            df[w] = df.get(w, 0) + 1
    planted = sorted(w for w, n in df.items() if 25 <= n <= 40 and w.isalpha())[:5]
    assert len(planted) == 5
    cand = [docs[i] for i in b if not words_of(docs[i]) & set(planted)]
    losses = find_losses(as_input(cand), as_input(ref, name="reference"))
    words = {t.text: t for t in losses.terms[0].lost}
    assert losses.terms[0].n == 1 and set(planted) <= set(words), (planted, list(words))
    for w in planted:
        assert words[w].reference_docs == df[w] and words[w].candidate_docs == 0
        assert words[w].reference_count >= df[w]
    # the rarest come first; every word listed is really absent from the candidate
    listed = losses.terms[0].lost
    assert [t.reference_docs for t in listed] == sorted(t.reference_docs for t in listed)
    cand_words = set().union(*(set(tokens(d)) for d in cand))
    assert not {t.text for t in listed} & cand_words
    line = next(s for s in losses.sentences() if "words found in at least" in s)
    assert line.startswith(f"{losses.terms[0].n_lost} of the {losses.terms[0].n_judged} words")
    assert f"“{listed[0].text}” ({listed[0].reference_docs} reference documents)" in line


def test_words_read_back_are_the_tokens_the_text_metrics_count(docs):
    tok = TokenizedDocs.of(docs)
    assert [len(tokens(d)) for d in docs] == tok.lengths.tolist()


def test_text_length_tail_and_mode_collapse_examples(docs):
    a, b = halves(len(docs), 0)
    ref = [docs[i] for i in a]
    p95 = np.quantile([len(tokens(d)) for d in ref], 0.95, method="inverted_cdf")
    cand = [docs[i] for i in b if len(tokens(docs[i])) <= p95]  # the reference-long documents are gone
    losses = find_losses(as_input(cand), as_input(ref, name="reference"))
    long = next(t for t in losses.lengths.tails if t.side == "upper" and t.quantile == 0.95)
    assert long.lost and long.threshold == p95 and long.candidate_count == 0
    assert long.reference_count == sum(len(tokens(d)) > p95 for d in ref)
    assert any(f"longer than {int(p95)} tokens" in s for s in losses.sentences())
    assert losses.lengths.reference_quantiles[2] == p95  # levels (0.05, 0.5, 0.95, 0.99)

    collapsed = [docs[b[i % 50]] for i in range(600)]  # 50 documents said over and over
    losses = find_losses(as_input(collapsed), as_input(ref, name="reference"))
    rarity = losses.rarity
    assert rarity.lost and rarity.n_uncovered / rarity.n_sparse > 5 * rarity.expected_uncovered
    assert len(rarity.examples) == 5
    audited_ref = as_input(ref, name="reference")  # canonical order: examples index it
    for e in rarity.examples:
        assert e.nearest > e.radius
        assert " ".join(audited_ref.texts[e.index].split()).startswith(e.excerpt.rstrip("…"))
    assert losses.terms[0].n_lost > 0


def test_text_audit_stores_losses_and_no_hashed_feature_figure(docs):
    a, b = halves(len(docs), 0)
    ref = [docs[i] for i in a]
    p95 = np.quantile([len(tokens(d)) for d in ref], 0.95, method="inverted_cdf")
    report = audit([docs[i] for i in b if len(tokens(docs[i])) <= p95], ref, config=AuditConfig(quick=True))
    assert "tail_histograms" not in report.figures  # never a histogram of "feature 202"
    assert report.losses is not None and report.losses.n_lost >= 1
    again = AuditReport.from_json(report.to_json())
    assert again.losses == report.losses
    data = report.to_dict()["losses"]
    assert data["n_lost"] == report.losses.n_lost and data["summary"] == report.losses.sentences()


# ----------------------------------------------------------------------------- tabular
def test_wine_top_of_a_column_lost_is_named():
    wine = frame(load_wine())
    rng = np.random.default_rng(0)
    p95 = float(np.quantile(wine["alcohol"], 0.95, method="inverted_cdf"))
    kept = wine[wine["alcohol"] <= p95]
    # a generator resampling the wine rows that never produces the top 5% of alcohol
    losses = find_losses(as_input(kept.iloc[rng.integers(0, len(kept), 1000)]), as_input(wine, name="reference"))
    lost = {(t.feature, t.side): t for t in losses.columns.lost}
    assert ("alcohol", "upper") in lost, losses.sentences()
    t = lost[("alcohol", "upper")]
    assert t.threshold == p95 and t.candidate_count == 0 and t.reference_count == int((wine["alcohol"] > p95).sum())
    assert f"column `alcohol`: {t.reference_share:.1%} of the reference's rows" in " ".join(losses.sentences())
    same = find_losses(as_input(wine.iloc[rng.integers(0, len(wine), 1000)]), as_input(wine, name="reference"))
    assert same.n_lost == 0, same.sentences()


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_tabular_halves_list_nothing(seed):
    for data in (load_wine(), load_breast_cancer()):
        table = frame(data)
        a, b = halves(len(table), seed)
        losses = find_losses(as_input(table.iloc[b]), as_input(table.iloc[a], name="reference"))
        assert losses.n_lost == 0, (data.name, losses.sentences())
        assert losses.columns.n_tested >= 2 * table.shape[1]


def test_breast_cancer_column_tail_lost_from_a_half():
    table = frame(load_breast_cancer())
    a, b = halves(len(table), 0)
    ref, cand = table.iloc[a], table.iloc[b]
    p95 = np.quantile(ref["worst area"], 0.95, method="inverted_cdf")
    losses = find_losses(as_input(cand[cand["worst area"] <= p95]), as_input(ref, name="reference"))
    assert ("worst area", "upper") in {(t.feature, t.side) for t in losses.columns.lost}


def test_digits_rarest_class_dropped_is_named_and_halves_are_clean():
    digits = load_digits()
    table = frame(digits)
    a, b = halves(len(table), 0)
    ref = as_input(table.iloc[a], name="reference", labels=digits.y[a])
    same = find_losses(as_input(table.iloc[b], labels=digits.y[b]), ref)
    assert same.n_lost == 0, same.sentences()
    rarest = int(np.argmin(np.bincount(digits.y[a])))
    keep = b[digits.y[b] != rarest]
    losses = find_losses(as_input(table.iloc[keep], labels=digits.y[keep]), ref)
    assert [c.label for c in losses.classes.lost] == [str(rarest)]
    assert losses.classes.lost[0].candidate_count == 0
    assert losses.classes.lost[0].reference_count == int((digits.y[a] == rarest).sum())


# ----------------------------------------------------------------------------- images
def digit_images() -> tuple[np.ndarray, np.ndarray]:
    digits = load_digits()
    return np.clip(np.rint(digits.images * 255 / 16), 0, 255).astype(np.uint8), digits.y


def test_image_halves_list_nothing():
    imgs, y = digit_images()
    a, b = halves(len(imgs), 0)
    losses = find_losses(as_input(imgs[b], labels=y[b]), as_input(imgs[a], name="reference", labels=y[a]))
    assert losses.n_lost == 0, losses.sentences()


def test_images_lost_rare_cases_have_thumbnails():
    from PIL import Image

    from tailguard.metrics.knn import build_index, kth_neighbour_sq_radii

    imgs, y = digit_images()
    a, b = halves(len(imgs), 0)
    ref = as_input(imgs[a], name="reference", labels=y[a])
    cand = as_input(imgs[b], labels=y[b])
    # the candidate keeps only its typical images: its sparsest 20% (own k-NN radius) are gone
    radius = kth_neighbour_sq_radii(build_index(cand.vectors), cand.vectors, 5)
    keep = radius <= np.quantile(radius, 0.8)
    cand = replace(cand, n=int(keep.sum()), vectors=cand.vectors[keep], categories=cand.categories[keep])
    losses = find_losses(cand, ref)
    assert losses.rarity.lost, losses.sentences()
    assert len(losses.rarity.examples) == 12
    for e in losses.rarity.examples:
        assert e.thumbnail.startswith("data:image/png;base64,")
        png = Image.open(io.BytesIO(base64.b64decode(e.thumbnail.split(",", 1)[1])))
        assert png.size == (16, 16)
        assert e.label == str(ref.categories[e.index])
        assert e.nearest > e.radius  # uncovered: no candidate within its radius
        expected = np.clip(np.rint(ref.vectors[e.index, :256] * 255), 0, 255).reshape(16, 16)
        assert np.array_equal(np.asarray(png), expected.astype(np.uint8))


# ----------------------------------------------------------------------------- detection
@pytest.fixture(scope="module")
def detection_sets(tmp_path_factory):
    root = tmp_path_factory.mktemp("det")
    ref = make_detection_dataset(root / "ref", n_images=300, seed=1, imgsz=64)
    same = make_detection_dataset(root / "same", n_images=300, seed=3, imgsz=64)
    cand = make_detection_dataset(root / "cand", n_images=300, seed=2, imgsz=64)
    keep_lines(root / "cand", lambda f: f[0] not in ("8", "9"))  # the two rarest classes are gone
    return ref, same, cand


def keep_lines(root, keep) -> None:  # type: ignore[no-untyped-def]
    for label_file in (root / "labels").rglob("*.txt"):
        lines = [line for line in label_file.read_text().splitlines() if keep(line.split())]
        label_file.write_text("".join(f"{line}\n" for line in lines))


def test_detection_classes_are_named_from_data_yaml(detection_sets):
    ref, same, cand = detection_sets
    report = audit(Source(str(cand)), Source(str(ref)), config=AuditConfig(quick=True))
    assert {c.label for c in report.losses.classes.lost} == {"eight", "nine"}, report.losses.sentences()
    assert report.losses.classes.named
    assert set(report.figures["class_shares"]["lost"]) == {"eight", "nine"}
    assert "zero" in report.figures["class_shares"]["classes"]
    assert any(s.startswith("class `nine`:") for s in report.losses.sentences())
    clean = audit(Source(str(same)), Source(str(ref)), config=AuditConfig(quick=True))
    assert clean.losses.n_lost == 0, clean.losses.sentences()
    assert clean.losses.columns.n_columns == 2


def test_detection_big_boxes_lost_are_shown_as_areas(detection_sets, tmp_path):
    ref, _, _ = detection_sets
    ref_side = Source(str(ref)).load()
    p95 = float(np.quantile(ref_side.boxes.areas, 0.95, method="inverted_cdf"))
    small = make_detection_dataset(tmp_path / "small", n_images=300, seed=4, imgsz=64)
    keep_lines(tmp_path / "small", lambda f: float(f[3]) * float(f[4]) <= p95)
    losses = find_losses(Source(str(small)).load(), ref_side)
    lost = {(t.feature, t.side): t for t in losses.columns.lost}
    big = lost[("box area (share of the image)", "upper")]
    assert big.threshold == pytest.approx(p95) and big.candidate_count == 0
    assert f"column `box area (share of the image)`: {big.reference_share:.1%} of the reference's boxes" in " ".join(
        losses.sentences()
    )


def test_detection_class_names_come_from_the_ledger(detection_sets, sqlite_url):
    from tailguard.ledger import Ledger

    ref, _, cand = detection_sets
    with Ledger.open(sqlite_url) as ledger:
        ledger.ingest(ref, origin="human", as_version="shapes-human")
    side = Source("shapes-human", ledger_url=sqlite_url).load()
    assert side.class_names == tuple(load_names(ref))
    report = audit(Source(str(cand)), Source("shapes-human", ledger_url=sqlite_url), config=AuditConfig(quick=True))
    assert {c.label for c in report.losses.classes.lost} == {"eight", "nine"}


def load_names(data_yaml) -> list[str]:  # type: ignore[no-untyped-def]
    import yaml

    names = yaml.safe_load(data_yaml.read_text())["names"]
    return [names[i] for i in sorted(names)]


# ----------------------------------------------------------------------------- small and edge cases
def test_small_inputs_say_what_was_not_measured():
    rng = np.random.default_rng(0)
    report = audit(rng.normal(size=(8, 3)), rng.normal(size=(12, 3)), config=AuditConfig(quick=True))
    notes = " ".join(report.losses.notes)
    assert "rarity coverage needs at least 20 reference rows; got 12" in notes
    assert "column tails need at least 20 reference and 2 candidate rows" in notes
    assert report.losses.rarity is None and report.losses.columns is None
    assert any(s.startswith("Not measured:") for s in report.losses.sentences())
    one = audit(rng.normal(size=(1, 3)), rng.normal(size=(50, 3)), config=AuditConfig(quick=True))
    assert one.verdict == "insufficient" and one.losses is not None


def test_rarity_bins_shrink_for_small_references():
    rng = np.random.default_rng(0)
    cov = rarity_coverage(rng.normal(size=(45, 2)), rng.normal(size=(45, 2)))
    assert len(cov.total) == 4 and sum(cov.total) == 45
    assert all(0 <= c <= t for c, t in zip(cov.covered, cov.total, strict=True))
    big = rarity_coverage(rng.normal(size=(300, 2)), rng.normal(size=(300, 2)))
    assert len(big.total) == 10


def test_expected_uncovered_matches_exchangeability():
    """The share two samples of one distribution leave uncovered, checked by simulation."""
    rng = np.random.default_rng(1)
    n, k = 200, 5
    shares = []
    for _ in range(30):
        cov = rarity_coverage(rng.normal(size=(n, 3)), rng.normal(size=(n, 3)), k=k)
        shares.append(1 - sum(cov.covered) / n)
    assert abs(np.mean(shares) - expected_uncovered(n, n, k)) < 0.01


def test_tarone_level_ignores_what_cannot_reach_it():
    level, m = tarone_level(np.array([1] * 1000 + [40]), 0.5, 0.01)
    assert m == 1 and level == 0.01  # 1000 singletons could never be significant: they cost nothing
    assert term_losses(TokenizedDocs.of(["a"]), TokenizedDocs.of(["a"]), (1,))[0].n_judged == 0


def test_classes_named_and_absent_rare_classes_reported():
    ref = np.array([0] * 300 + [1] * 300 + [2] * 3)
    c = class_losses(np.array([0] * 300 + [1] * 300), ref, names=("circle", "square", "triangle"))
    assert c.lost == () and [a.label for a in c.absent] == ["triangle"]
    text = " ".join(Losses("categorical", classes=c).sentences())
    assert "too rare in the reference to tell from chance: `triangle` (3 samples)" in text
