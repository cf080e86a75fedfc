"""Stored version figures (``version_stats``) give exactly what reading the manifests gives.

The reference is the reads the ledger made before schema 7, written out here as SQL over the
manifest: occurrences by (origin, generation), the synthetic-depth histogram of the members joined
with their samples, and the deepest member. Random ledgers mix humans, synthetic samples of several
generations, pseudo-labels, unknown origin, repeats and contents held under two origins; then depths
change under stored figures (a run's outputs linked, an unknown sample's origin learnt), figures are
deleted (a version made before schema 7: read, then stored), edited (``verify`` says so), and a
locked ledger leaves them unstored without changing an answer.
"""

from __future__ import annotations

import random
import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import create_engine, delete, func, select, update

from tailguard.cli.app import main
from tailguard.ledger import Ledger, NewSample, schema, stats
from tailguard.ledger.engine import normalise_url, read_connection
from tailguard.ledger.manifest import member_depth_sql

vm_t, s_t, v_t, st_t = schema.version_members, schema.samples, schema.versions, schema.version_stats


def reference(ledger: Ledger, name: str) -> tuple[dict, dict, dict, int]:
    """(by origin, by generation, depth histogram, deepest member) read from the manifest, as before schema 7."""
    with read_connection(ledger._engine) as conn:
        vid = conn.execute(select(v_t.c.id).where(v_t.c.name == name)).scalar_one()
        by_origin: dict = {}
        by_generation: dict = {}
        for origin, generation, n in conn.execute(
                select(vm_t.c.origin, vm_t.c.generation, func.sum(vm_t.c.multiplicity))
                .where(vm_t.c.version_id == vid).group_by(vm_t.c.origin, vm_t.c.generation)):
            by_origin[origin] = by_origin.get(origin, 0) + int(n)
            by_generation[generation] = by_generation.get(generation, 0) + int(n)
        joined = vm_t.join(s_t, s_t.c.id == vm_t.c.sample_id)
        depth = member_depth_sql()
        hist = {int(d): int(n) for d, n in conn.execute(
            select(depth, func.sum(vm_t.c.multiplicity)).select_from(joined)
            .where(vm_t.c.version_id == vid).group_by(depth))}
        deepest = conn.execute(select(func.max(depth)).select_from(joined).where(vm_t.c.version_id == vid)).scalar()
    return by_origin, by_generation, dict(sorted(hist.items())), int(deepest or 0)


def assert_figures_match(ledger: Ledger) -> None:
    comps = ledger.version_compositions()
    for v in ledger.list_versions():
        by_origin, by_generation, hist, deepest = reference(ledger, v.name)
        comp = comps[v.name]
        assert comp.by_origin == by_origin and comp.by_generation == by_generation and comp.n == v.n_members
        lin = ledger.lineage(v.name)
        assert lin.depth_histogram == hist
        node = next(n for n in lin.nodes if n.id == f"version:{v.name}")
        assert node.synthetic_depth == deepest
        counts = ", ".join(f"{k} {n}" for k, n in sorted(by_origin.items()))
        assert node.label == f"{v.name} ({v.n_members} samples: {counts})"


def random_ledger(ledger: Ledger, seed: int) -> list[str]:
    """A few random versions over a random pool; returns the ids of the unknown-origin samples."""
    rng = random.Random(seed)
    pool = []
    for i in range(rng.randint(30, 60)):
        origin = rng.choice(["human", "human", "synthetic", "synthetic", "pseudo_label", "unknown"])
        generation = rng.randint(1, 4) if origin in ("synthetic", "pseudo_label") and rng.random() < 0.8 else None
        pool.append(NewSample(f"s{seed}-{i}".encode(), None, "text", origin, generation=generation))
    report = ledger.add_samples([rng.choice(pool) for _ in range(len(pool) * 2)] + pool, as_version="all")
    ids = sorted(set(report.sample_ids))
    by_id = {s.id: s for s in ledger.iter_samples()}
    for k in range(rng.randint(2, 5)):
        members = [rng.choice(ids) for _ in range(rng.randint(1, 40))]
        # the same bytes under another origin than the stored one: two member rows for one content
        members += [(sid, "synthetic") for sid in rng.sample(ids, 3) if by_id[sid].origin == "human"]
        ledger.create_version(f"pick-{k}", sample_ids=members)
    ledger.create_version("machine", ["version:all", "origin:synthetic", "origin:pseudo_label"])
    return [sid for sid in ids if by_id[sid].origin == "unknown"]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_stored_figures_are_what_the_manifest_says(ledger: Ledger, seed: int):
    unknown = random_ledger(ledger, seed)
    with read_connection(ledger._engine) as conn:  # every version was written with its figures
        n_stored = conn.execute(select(func.count()).select_from(st_t).where(st_t.c.depths.is_not(None))).scalar()
        reader = stats.StatsReader(conn)
        for v in ledger.list_versions():
            reader.full(conn.execute(select(v_t.c.id).where(v_t.c.name == v.name)).scalar_one())
    assert n_stored == len(ledger.list_versions()) and reader.fresh == {}
    assert_figures_match(ledger)
    # a run trained on a version produces samples that are members of other versions: their depth changes
    deepest = reference(ledger, "machine")[3]
    machine_ids = sorted(set(ledger.version_sample_ids("machine")))
    run = ledger.record_model_run("m", "machine", produced=machine_ids[:3])
    assert max(reference(ledger, "all")[2]) == deepest + 1
    assert_figures_match(ledger)
    ledger.link_run_outputs(run, machine_ids[3:5])
    assert_figures_match(ledger)
    # an unknown sample's origin learnt: a member held as 'unknown' now has the depth of its generation
    if unknown:
        content = next(r for r in ledger.iter_samples(ids=unknown[:1])).id
        data = ledger.read_bytes(content)
        ledger.add_samples([NewSample(data, None, "text", "synthetic", generation=7)])
        assert 7 in reference(ledger, "all")[2]
        assert_figures_match(ledger)
    for v in ledger.list_versions():
        assert ledger.verify(v.name).passed


def test_a_version_without_stored_figures_reads_its_manifest_then_stores_them(ledger: Ledger):
    """A ledger upgraded from schema 6 holds no figures: the first read computes and stores them."""
    random_ledger(ledger, 5)
    with ledger._engine.begin() as conn:
        conn.execute(delete(st_t))
    assert_figures_match(ledger)  # read from the manifests, then stored
    with read_connection(ledger._engine) as conn:
        rows = conn.execute(select(st_t.c.version_id, st_t.c.depths, st_t.c.depth_token)).all()
        token = stats.depth_token(conn)
    assert len(rows) == len(ledger.list_versions()) and all(d is not None and t == token for _, d, t in rows)
    assert_figures_match(ledger)
    # only the composition read (the versions page) stores the composition, depths to come
    with ledger._engine.begin() as conn:
        conn.execute(delete(st_t))
    ledger.version_compositions(["all"])
    with read_connection(ledger._engine) as conn:
        assert conn.execute(select(st_t.c.depths)).all() == [(None,)]
    assert_figures_match(ledger)


def test_verify_reports_edited_figures(ledger_url: str, capsys):
    with Ledger.open(ledger_url) as ledger:
        random_ledger(ledger, 3)
        before = ledger.version_compositions()["all"]
        with ledger._engine.begin() as conn:
            vid = conn.execute(select(v_t.c.id).where(v_t.c.name == "all")).scalar_one()
            row = conn.execute(select(st_t).where(st_t.c.version_id == vid)).one()
            conn.execute(update(st_t).where(st_t.c.version_id == vid)
                         .values(by_origin=row.by_origin.replace(",", ",1", 1)))
        report = ledger.verify("all")
        assert not report.passed and "stored figures were edited: occurrences by origin" in report.stats_problem
        assert ledger.version_compositions()["all"] != before  # what the dashboard would show: verify says so
        with ledger._engine.begin() as conn:
            conn.execute(update(st_t).where(st_t.c.version_id == vid).values(by_origin=row.by_origin,
                                                                               depths="[[9,1]]"))
        report = ledger.verify("all")
        assert not report.passed and "synthetic depths {9: 1}" in report.stats_problem
        assert ledger.verify("pick-0").passed
    assert main(["--ledger", ledger_url, "version", "verify", "all"]) == 2
    captured = capsys.readouterr()
    assert "edited: its stored figures were edited: synthetic depths" in captured.out
    assert "stored figures differ" in captured.err


def test_a_locked_ledger_answers_the_same_and_stores_nothing(sqlite_url: str, tmp_path: Path):
    with Ledger.open(sqlite_url) as ledger:
        random_ledger(ledger, 4)
        expected = {v.name: reference(ledger, v.name) for v in ledger.list_versions()}
        with ledger._engine.begin() as conn:
            conn.execute(delete(st_t))
        holder = sqlite3.connect(sqlite_url.removeprefix("sqlite:///"), isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")  # another writer holds the lock
        try:
            for name, (by_origin, _, hist, _deepest) in expected.items():
                assert ledger.lineage(name).depth_histogram == hist
                assert ledger.version_compositions([name])[name].by_origin == by_origin
            with read_connection(ledger._engine) as conn:
                assert conn.execute(select(func.count()).select_from(st_t)).scalar() == 0
                assert not stats.persist(ledger._engine, ledger._dialect, [stats.compute(conn, 1)])
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        assert stats.persist(ledger._engine, ledger._dialect, [])
        ledger.lineage("all")  # the lock is free again: stored now
        with read_connection(ledger._engine) as conn:
            assert conn.execute(select(func.count()).select_from(st_t)).scalar() == 1
        assert ledger.add_samples([NewSample(b"later", None, "text", "human")], as_version="later").added == 1


def test_an_old_schema_ledger_upgrades_with_every_versions_figures(ledger_url: str, capsys):
    """Schema 7 adds version_stats, filled by the upgrade for every version: reads then use them (no first-read
    cost) and give what they gave before."""
    with Ledger.open(ledger_url) as ledger:
        random_ledger(ledger, 6)
        expected = {v.name: reference(ledger, v.name) for v in ledger.list_versions()}
    engine = create_engine(normalise_url(ledger_url))
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE version_stats")
        conn.execute(delete(schema.meta).where(schema.meta.c.key == stats.DEPTH_TOKEN))
        conn.execute(update(schema.meta).where(schema.meta.c.key == "schema_version").values(value="6"))
    engine.dispose()
    assert main(["--ledger", ledger_url, "upgrade"]) == 0
    assert "schema 6 -> 7" in capsys.readouterr().out
    with Ledger.open(ledger_url) as ledger:
        with read_connection(ledger._engine) as conn:
            rows = conn.execute(select(st_t.c.depths, st_t.c.depth_token)).all()
            token = stats.depth_token(conn)
        assert len(rows) == len(expected) and all(d is not None and t == token for d, t in rows)
        assert_figures_match(ledger)
        assert {v.name: reference(ledger, v.name) for v in ledger.list_versions()} == expected
        for name in expected:
            assert ledger.verify(name).passed
