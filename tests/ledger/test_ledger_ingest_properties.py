"""Property tests of the ingest parsers (JSONL, CSV, YOLO labels, data.yaml): any input either
ingests or raises a :class:`~tailguard.errors.TailguardError`, and a failed ingest stores nothing."""

from __future__ import annotations

import itertools
import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import create_engine, func, select

from tailguard.errors import TailguardError
from tailguard.ledger import Ledger, schema
from tailguard.ledger.engine import normalise_url
from tailguard.ledger.ingest import run_ingest

SETTINGS = settings(max_examples=75, deadline=None, suppress_health_check=[HealthCheck.too_slow],
                    derandomize=True)
_counter = itertools.count()


class Target:
    """One SQLite ledger for a whole test, a fresh folder per example, and row counts of every table."""

    def __init__(self, root: Path):
        self.root = root
        self.url = f"sqlite:///{root / 'ledger.db'}"
        self.ledger = Ledger.open(self.url)
        self._engine = create_engine(normalise_url(self.url))

    def folder(self) -> Path:
        path = self.root / f"case{next(_counter)}"
        path.mkdir()
        return path

    def counts(self) -> dict[str, int]:
        with self._engine.connect() as conn:
            return {name: conn.execute(select(func.count()).select_from(table)).scalar_one()
                    for name, table in schema.metadata.tables.items() if name != "tg_meta"}

    def check(self, path: Path, *, skip_bad: bool, **kwargs) -> bool:  # type: ignore[no-untyped-def]
        """Ingest ``path``: True if it was stored; a failure must be typed and leave every table as it was."""
        before = self.counts()
        try:
            run_ingest(self.ledger, path, skip_bad=skip_bad, **kwargs)
        except TailguardError as exc:
            assert "\n" not in str(exc)
            assert self.counts() == before, str(exc)
            return False
        return True

    def close(self) -> None:
        self.ledger.close()
        self._engine.dispose()


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    t = Target(tmp_path_factory.mktemp("props"))
    yield t
    t.close()


# ------------------------------------------------------------------------------------ strategies
# text that may hold NUL, control characters, lone surrogates and non-ASCII letters
WILD_TEXT = st.text(st.characters(codec=None, exclude_categories=()), max_size=20)
SAMPLE_ID = st.text("0123456789abcdef", min_size=32, max_size=32)
JSON_VALUE = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(10**40), max_value=10**40)
    | st.floats(allow_nan=True, allow_infinity=True) | WILD_TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(WILD_TEXT, inner, max_size=3),
    max_leaves=8,
)
FIELD_VALUES = {
    "text": WILD_TEXT | JSON_VALUE,
    "origin": st.sampled_from(["human", "synthetic", "pseudo_label", "unknown", "ai", ""]) | JSON_VALUE,
    "generator": WILD_TEXT | st.text(min_size=190, max_size=210) | JSON_VALUE,
    "verified_by": WILD_TEXT | JSON_VALUE,
    "generation": st.integers(min_value=-5, max_value=10**31) | JSON_VALUE,
    "parents": st.lists(SAMPLE_ID | WILD_TEXT, max_size=3) | JSON_VALUE,
    "extra": JSON_VALUE,
}
RECORD = st.fixed_dictionaries({"text": FIELD_VALUES["text"]},
                               optional={k: v for k, v in FIELD_VALUES.items() if k != "text"}).map(json.dumps)
JSONL_LINE = RECORD | st.binary(max_size=40) | st.sampled_from(["[" * 5000 + "]" * 5000, "{", "null", ""])


def _line(value: str | bytes) -> bytes:
    return value if isinstance(value, bytes) else value.encode("utf-8", "surrogatepass")


@given(lines=st.lists(JSONL_LINE, min_size=1, max_size=6), skip_bad=st.booleans())
@SETTINGS
def test_jsonl_parser_never_escapes_untyped(target: Target, lines: list[str | bytes], skip_bad: bool) -> None:
    path = target.folder() / "data.jsonl"
    path.write_bytes(b"\n".join(_line(line).replace(b"\n", b" ") for line in lines) + b"\n")
    target.check(path, skip_bad=skip_bad)


CELL = st.text("ab1.-+e \"',;\n\r\x00é", max_size=6) | st.integers().map(str) | st.floats().map(str)
CSV_HEADER = st.lists(st.sampled_from(["x", "y", "text", "origin", "generation", "generator", "parents", "a,b",
                                       "", "verified_by"]), min_size=1, max_size=4)


@st.composite
def csv_files(draw: st.DrawFn) -> bytes:
    if draw(st.booleans()):
        return draw(st.binary(max_size=80))
    header = draw(CSV_HEADER)
    rows = draw(st.lists(st.lists(CELL, min_size=max(len(header) - 1, 0), max_size=len(header) + 1), max_size=6))

    def quote(cell: str) -> str:
        return '"' + cell.replace('"', '""') + '"' if draw(st.booleans()) else cell

    text = "\n".join(",".join(quote(c) for c in row) for row in [header, *rows])
    return text.encode("utf-8", "surrogatepass")


# A non-UTF-8 row with the wrong field count cannot be passed to pyarrow's invalid-row handler: pyarrow
# reports that as an ignored exception, then refuses the file, which is the typed error checked here.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
@given(data=csv_files(), skip_bad=st.booleans(), text_column=st.sampled_from([None, "", "x", "text"]))
@SETTINGS
def test_csv_parser_never_escapes_untyped(target: Target, data: bytes, skip_bad: bool,
                                          text_column: str | None) -> None:
    path = target.folder() / "table.csv"
    path.write_bytes(data)
    target.check(path, skip_bad=skip_bad, text_column=text_column)


@pytest.fixture(scope="module")
def image(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from PIL import Image

    path = tmp_path_factory.mktemp("image") / "img.png"
    Image.new("RGB", (8, 8), (10, 20, 30)).save(path)
    return path


LABEL_LINE = (st.lists(st.sampled_from(["0", "1", "2", "-1", "0.5", "1.5", "nan", "inf", "x", "1e-3", "\x00"]),
                       max_size=7).map(" ".join)
              | st.text(max_size=20))


@given(lines=st.lists(LABEL_LINE, max_size=5), raw=st.none() | st.binary(max_size=30), skip_bad=st.booleans())
@SETTINGS
def test_yolo_label_parser_never_escapes_untyped(target: Target, image: Path, lines: list[str], raw: bytes | None,
                                                 skip_bad: bool) -> None:
    root = target.folder()
    (root / "images").mkdir()
    (root / "labels").mkdir()
    shutil.copyfile(image, root / "images" / "img.png")
    label = root / "labels" / "img.txt"
    label.write_bytes(raw if raw is not None else "\n".join(lines).encode("utf-8", "surrogatepass"))
    (root / "data.yaml").write_text("train: images\nnames: [a, b]\n")
    target.check(root / "data.yaml", skip_bad=skip_bad, origin="human")


YAML_SCALAR = (st.sampled_from(["images", "./images", "missing", "/", "~", "img.png", "labels", "x.txt"])
               | st.integers(min_value=-3, max_value=10**6) | st.none() | st.booleans() | WILD_TEXT)
YAML_VALUE = st.recursive(YAML_SCALAR, lambda inner: st.lists(inner, max_size=3)
                          | st.dictionaries(YAML_SCALAR.filter(lambda v: not isinstance(v, str) or v.isprintable()),
                                            inner, max_size=3), max_leaves=6)
DATA_YAML = st.fixed_dictionaries({}, optional={k: YAML_VALUE for k in ("path", "train", "val", "test", "names",
                                                                          "nc")})
YAML_NOISE = st.sampled_from(["a: &x [1]\nnames: *x\ntrain: images\n", "names: [a\n", "- just a list\n",
                              "names: !!python/object:os.system ls\n", "train: images\nnames: {0: a, 2: b}\n",
                              "\t: :\n", "names: " + "[" * 3000 + "]" * 3000 + "\n"])


@given(cfg=DATA_YAML, noise=st.none() | YAML_NOISE | st.binary(max_size=40), skip_bad=st.booleans())
@SETTINGS
def test_data_yaml_parser_never_escapes_untyped(target: Target, image: Path, cfg: dict, noise: str | bytes | None,
                                                skip_bad: bool) -> None:
    import yaml

    root = target.folder()
    (root / "images").mkdir()
    shutil.copyfile(image, root / "images" / "img.png")
    data = root / "data.yaml"
    if noise is None:
        try:
            text = yaml.safe_dump(cfg, allow_unicode=True)
        except (yaml.YAMLError, UnicodeEncodeError):
            return  # PyYAML cannot write it: nothing to parse
        data.write_bytes(text.encode("utf-8", "surrogatepass"))
    else:
        data.write_bytes(noise if isinstance(noise, bytes) else noise.encode())
    target.check(data, skip_bad=skip_bad, origin="human")
