"""Decoding stored sample bytes: every error names the sample."""

from types import SimpleNamespace as NS

import numpy as np
import pytest

from tailguard.errors import BadInputError, CorruptFileError, TextFormatError
from tailguard.ledger.payloads import decode_images, decode_rows, decode_texts


def rec(sid: str, **extra):
    return NS(id=sid, uri=None, extra=extra)


def test_vector_and_tabular_rows():
    vec = np.array([1.0, 2.0], dtype=np.float32)
    rows, cols = decode_rows([(rec("v1", dtype="float32"), vec.tobytes())])
    assert rows.tolist() == [[1.0, 2.0]] and cols is None
    rows, cols = decode_rows([(rec("t1"), b'{"a": 1, "b": 2}'), (rec("t2"), b'{"a": 3, "b": 4}')])
    assert rows.tolist() == [[1.0, 2.0], [3.0, 4.0]] and cols == ["a", "b"]


@pytest.mark.parametrize(
    ("pairs", "error", "named"),
    [
        ([(rec("t1"), b"not json")], BadInputError, "t1"),
        ([(rec("t1"), b'{"a": 1}'), (rec("t2"), b'{"b": 1}')], BadInputError, "t2"),
        ([(rec("v1", dtype="float64"), np.zeros(2).tobytes()), (rec("v2", dtype="float64"), np.zeros(3).tobytes())],
         BadInputError, "v2"),
    ],
)
def test_bad_rows_name_the_sample(pairs, error, named):
    with pytest.raises(error) as info:
        decode_rows(pairs)
    assert str(info.value).startswith(named + ":")


def test_bad_text_and_image_name_the_sample():
    with pytest.raises(TextFormatError, match=r"^x9: sample is not valid UTF-8"):
        decode_texts([(rec("x9"), b"\xff\xfe")])
    with pytest.raises(CorruptFileError, match=r"^img7: cannot decode image"):
        decode_images([(rec("img7"), b"\x89PNG truncated")])
