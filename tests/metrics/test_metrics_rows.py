"""RowStore: a seeded bottom-k sample that merges exactly, pruned shard by shard when N is known."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from tailguard.errors import IncompatibleMergeError, SampleShortfallError
from tailguard.metrics.rows import RowStore, key_limit


@pytest.fixture(scope="module")
def rows():
    return np.random.default_rng(3).normal(size=(20_000, 4))


def test_a_pruned_store_keeps_the_same_sample_from_any_shards_and_little_of_each(rows):
    whole = RowStore(cap=500, seed=1)
    whole.add(rows)
    merged = None
    kept_per_shard = []
    for part in np.array_split(rows, 40):  # 500-row shards, merged as a driver would, through pickling
        shard = RowStore(cap=500, seed=1, expected_rows=len(rows))
        shard.add(part)
        shard = pickle.loads(pickle.dumps(shard))
        kept_per_shard.append(len(shard))
        if merged is None:
            merged = shard
        else:
            merged.merge(shard)
    assert merged is not None and merged.n_seen == len(rows)
    assert np.array_equal(merged.rows(), whole.rows())
    assert max(kept_per_shard) < 150  # about 2 x 500 x 500 / 20,000 = 25 rows, not the shard's 500


def test_fewer_rows_than_expected_fail_instead_of_returning_a_short_sample(rows):
    store = RowStore(cap=500, seed=1, expected_rows=1_000_000)
    store.add(rows[:2_000])
    with pytest.raises(SampleShortfallError, match="fewer rows came than expected"):
        store.rows()
    enough = RowStore(cap=500, seed=1, expected_rows=len(rows) // 2)  # an estimate below N only keeps more
    enough.add(rows)
    plain = RowStore(cap=500, seed=1)
    plain.add(rows)
    assert np.array_equal(enough.rows(), plain.rows())


def test_stores_pruned_at_different_limits_do_not_merge(rows):
    a, b = RowStore(cap=100, seed=0, expected_rows=10_000), RowStore(cap=100, seed=0, expected_rows=20_000)
    a.add(rows[:10]), b.add(rows[10:20])
    with pytest.raises(IncompatibleMergeError, match="hash limits"):
        a.merge(b)
    assert key_limit(None, 10_000) is None and key_limit(100, 10_000) < key_limit(100, 5_000)


def test_a_capped_store_keeps_copies_not_views_of_the_callers_array(rows):
    store = RowStore(cap=500, seed=1)
    for start in range(0, 2_000, 100):  # slices, as the audit feeds batches
        store.add(rows[start : start + 100])
    assert all(chunk.flags.owndata for chunk in store._chunks)  # else each chunk pins the whole 20,000 rows
    unbounded = RowStore(cap=None, seed=1)
    unbounded.add(rows[:10])
    assert not unbounded._chunks[0].flags.owndata  # keeping every row, a view costs nothing


def test_a_store_that_has_seen_every_expected_row_holds_just_its_cap(rows):
    plain = RowStore(cap=500, seed=1)
    plain.add(rows)
    told = RowStore(cap=500, seed=1, expected_rows=len(rows))
    for part in np.array_split(rows, 37):
        told.add(part)
        if told.n_seen < len(rows):
            assert len(told) <= 2 * 500 + len(part)
    assert len(told) == 500  # not up to twice the cap: the sample is final
    assert np.array_equal(told.rows(), plain.rows())
