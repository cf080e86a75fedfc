"""Both ways of diffing two versions give the same VersionDiff, and it is what the multisets say.

The reference is computed in Python from each version's member rows (sample id, origin, count):
added / removed are the contents only one side holds, an origin change is a content whose origins
differ (or whose per-origin counts moved at the same total), a count change one whose total differs.
Pairs: a small version against a large one and back, overlapping, disjoint, a version with itself,
with repeats and contents held under two origins.
"""

from __future__ import annotations

import random

import pytest
from sqlalchemy import select

from tailguard.errors import UnknownChoiceError
from tailguard.ledger import Ledger, NewSample, schema
from tailguard.ledger.diff import diff_versions
from tailguard.ledger.engine import read_connection
from tailguard.ledger.types import CountChange, OriginChange, VersionDiff

vm_t, v_t = schema.version_members, schema.versions


def rows_of(ledger: Ledger, name: str) -> dict[str, dict[str, int]]:
    with read_connection(ledger._engine) as conn:
        vid = conn.execute(select(v_t.c.id).where(v_t.c.name == name)).scalar_one()
        out: dict[str, dict[str, int]] = {}
        for sid, origin, mult in conn.execute(select(vm_t.c.sample_id, vm_t.c.origin, vm_t.c.multiplicity)
                                              .where(vm_t.c.version_id == vid)):
            out.setdefault(sid, {})[origin] = int(mult)
        return out


def expected_diff(a: dict[str, dict[str, int]], b: dict[str, dict[str, int]]) -> VersionDiff:
    def shown(counts: dict[str, int]) -> str:
        return next(iter(counts)) if len(counts) == 1 else "+".join(f"{o}×{n}" for o, n in sorted(counts.items()))

    origins, counts = [], []
    for sid in sorted(set(a) & set(b)):
        was, now = a[sid], b[sid]
        if was == now:
            continue
        if set(was) != set(now) or sum(was.values()) == sum(now.values()):
            origins.append(OriginChange(sid, shown(was), shown(now)))
        if sum(was.values()) != sum(now.values()):
            counts.append(CountChange(sid, sum(was.values()), sum(now.values())))
    return VersionDiff(added=sorted(set(b) - set(a)), removed=sorted(set(a) - set(b)),
                       origin_changed=origins, count_changed=counts)


def build(ledger: Ledger, seed: int) -> list[str]:
    rng = random.Random(seed)
    pool = []
    for i in range(120):
        origin = rng.choice(["human", "synthetic", "pseudo_label", "unknown"])
        generation = rng.choice([None, 1, 2, 3]) if origin in ("synthetic", "pseudo_label") else None
        pool.append(NewSample(f"d{seed}-{i}".encode(), None, "text", origin, generation=generation))
    report = ledger.add_samples(pool + [rng.choice(pool) for _ in range(60)], as_version="big")
    ids = sorted(set(report.sample_ids))
    names = ["big"]
    for k in range(4):
        members: list = rng.sample(ids, rng.randint(3, 30))
        members += [rng.choice(members) for _ in range(rng.randint(0, 10))]  # repeats
        members += [(sid, rng.choice(["human", "synthetic"])) for sid in rng.sample(ids, 4)]  # another origin
        ledger.create_version(f"small-{k}", sample_ids=members)
        names.append(f"small-{k}")
    other = ledger.add_samples([NewSample(f"other-{seed}-{i}".encode(), None, "text", "human") for i in range(5)])
    ledger.create_version("disjoint", sample_ids=other.sample_ids)
    names.append("disjoint")
    ledger.create_version("big-again", ["version:big", "origin:human", "origin:synthetic"])
    names.append("big-again")
    return names


@pytest.mark.parametrize("seed", [0, 1])
def test_lookups_and_passes_give_the_diff_the_multisets_say(ledger: Ledger, seed: int):
    names = build(ledger, seed)
    pairs = [(a, b) for a in names for b in names]
    with read_connection(ledger._engine) as conn:
        vids = dict(conn.execute(select(v_t.c.name, v_t.c.id)).all())
        found = {(a, b): {method: diff_versions(conn, vids[a], vids[b], dialect=ledger._dialect, method=method)
                          for method in ("lookups", "passes", "auto")} for a, b in pairs}
    seen_changes = 0
    for a, b in pairs:
        want = expected_diff(rows_of(ledger, a), rows_of(ledger, b))
        assert found[(a, b)]["lookups"] == want, (a, b)
        assert found[(a, b)]["passes"] == want, (a, b)
        assert found[(a, b)]["auto"] == want and ledger.diff(a, b) == want
        seen_changes += bool(want.origin_changed) + bool(want.count_changed)
    assert seen_changes > 0  # the pairs exercise origin and count changes, not only added / removed


def test_the_lookup_way_through_the_generic_reads(ledger: Ledger):
    """Without a dialect the larger side's ids come through SQLAlchemy: the same diff."""
    build(ledger, 3)
    with read_connection(ledger._engine) as conn:
        vids = dict(conn.execute(select(v_t.c.name, v_t.c.id)).all())
        generic = diff_versions(conn, vids["small-0"], vids["big"], method="lookups")
        with pytest.raises(UnknownChoiceError, match="diff method"):
            diff_versions(conn, vids["small-0"], vids["big"], method="fast")
    assert generic == ledger.diff("small-0", "big") == expected_diff(rows_of(ledger, "small-0"),
                                                                      rows_of(ledger, "big"))


def test_sqlite_member_ids_read_an_id_holding_the_separator(sqlite_ledger: Ledger):
    """SQLite joins the ids into one string split on commas; an id with a comma (an edited database) is still
    read whole, by the row-by-row fetch."""
    from tailguard.ledger.dialect import Dialect

    build(sqlite_ledger, 4)
    with sqlite_ledger._engine.begin() as conn:
        vid = conn.execute(select(v_t.c.id).where(v_t.c.name == "small-1")).scalar_one()
        plain = sqlite_ledger._dialect.member_ids(conn, vid)
        assert sorted(plain) == sorted(Dialect().member_ids(conn, vid)) and len(plain) > 3
        conn.execute(vm_t.insert().values(version_id=vid, sample_id="ab,cd", origin="human", multiplicity=1))
        edited = sqlite_ledger._dialect.member_ids(conn, vid)
        assert sorted(edited) == sorted(Dialect().member_ids(conn, vid)) == sorted([*plain, "ab,cd"])
