"""Mixing over the ledger: compose a new version from ledger versions under a policy, behind the gate.

:func:`mix` reads the ``human`` and ``synthetic`` versions (and ``fresh`` for
``fresh:F``), composes the training set with the policy (no repeated samples: a
version is a set), checks the gate, and only then writes the new version and
records every excluded sample with its reason. A refused mix writes nothing.

:func:`check_gate` / :func:`enforce_gate` judge any existing version; by default
they use the policy and limits a mix recorded in the version's ``extra``.

>>> import tempfile
>>> from tailguard.ledger import Ledger, NewSample
>>> ledger = Ledger.open(f"sqlite:///{tempfile.mkdtemp()}/l.db")
>>> def add(texts, origin, gen, name):
...     return ledger.add_samples([NewSample(t.encode(), None, "text", origin, generation=gen) for t in texts],
...                               as_version=name)
>>> _ = add([f"human {i}" for i in range(8)], "human", 0, "h")
>>> _ = add([f"model {i}" for i in range(8)], "synthetic", 1, "s1")
>>> report = mix(ledger, "replace+anchor:0.25", human="h", synthetic=["s1"], as_version="train-1", target_size=8)
>>> report.stats.n, report.stats.n_human, report.n_excluded
(8, 2, 8)
>>> check_gate(ledger, "train-1").ok
True
>>> ledger.close()
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from tailguard.errors import BadInputError, EmptyDatasetError, ParameterError, VersionExistsError
from tailguard.ledger.payloads import decode_texts
from tailguard.policy.gate import GateDecision, GateLimits
from tailguard.policy.records import detection_classes, feature_matrix, modality_of, pool_from_records
from tailguard.policy.selection import MixStats
from tailguard.policy.spec import Policy, parse_policy

#: ``progress(phase)`` is called as each phase starts.
Progress = Callable[[str], None]


@dataclass(frozen=True)
class MixReport:
    """What :func:`mix` did."""

    version: str
    policy: str
    stats: MixStats
    gate: GateDecision
    n_candidates: int
    n_excluded: int
    reason_counts: dict[str, int]
    sources: dict[str, Any] = field(default_factory=dict)

    @property
    def n_selected(self) -> int:
        return self.stats.n

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "policy": self.policy,
            "stats": self.stats.to_dict(),
            "gate": self.gate.to_dict(),
            "n_candidates": self.n_candidates,
            "n_selected": self.n_selected,
            "n_excluded": self.n_excluded,
            "reason_counts": dict(self.reason_counts),
            "sources": dict(self.sources),
        }


def _names(value: str | Sequence[str] | None, what: str) -> list[str]:
    if value is None:
        return []
    names = [value] if isinstance(value, str) else list(value)
    for name in names:
        if not isinstance(name, str) or not name:
            raise ParameterError(f"The {what!r} parameter of mix must name ledger versions. Got {value!r}.")
    return names


def _union(groups: Iterable[Iterable[Any]]) -> list[Any]:
    """Occurrences of several record streams combined as a multiset union.

    Repeats within one stream are kept (they weigh in training); an occurrence that
    two streams share (one version derived from the other) counts once: each
    (content, origin) occurs as often as in the stream that holds it most.
    """
    most: dict[tuple[str, str], int] = {}
    first: dict[tuple[str, str], Any] = {}
    for group in groups:
        counts: dict[tuple[str, str], int] = {}
        for rec in group:
            key = (rec.id, rec.origin)
            counts[key] = counts.get(key, 0) + 1
            first.setdefault(key, rec)
        for key, n in counts.items():
            most[key] = max(most.get(key, 0), n)
    return [first[key] for key in most for _ in range(most[key])]


def _records(ledger: Any, versions: list[str], content: dict[str, bytes] | None = None) -> list[Any]:
    """Every occurrence of the versions (see :func:`_union`).

    With ``content``, the versions are read with their bytes in the same pass, and
    ``content`` maps each sample id to them (one read instead of two, for features).
    """
    for name in versions:
        ledger.get_version(name)  # typed error with did-you-mean when absent
    if content is None:
        return _union(ledger.iter_samples(name) for name in versions)

    def stream(name: str) -> Iterable[Any]:
        for rec, data in ledger.iter_bytes(name, batch_size=10_000, read_files=False):  # files: when needed
            if data is not None:
                content.setdefault(rec.id, data)
            yield rec

    return _union(stream(name) for name in versions)


def mix(
    ledger: Any,
    policy: str | Policy,
    *,
    human: str | Sequence[str],
    synthetic: str | Sequence[str] = (),
    fresh: str | None = None,
    as_version: str,
    target_size: int | None = None,
    seed: int = 0,
    max_unknown_fraction: float | None = None,
    max_synthetic_depth: int | None = None,
    allow_no_human: bool = False,
    embedder: str | None = None,
    description: str = "",
    progress: Progress | None = None,
) -> MixReport:
    """Compose ``as_version`` from ledger versions under ``policy`` and write it if the gate passes.

    Args:
        ledger: an open :class:`tailguard.ledger.Ledger`.
        policy: a spec such as ``"accumulate+anchor:0.2+filter"`` or a :class:`Policy`.
        human: the human version(s); their human samples are the reference for
            ``filter`` and ``tail-preserve``.
        synthetic: synthetic (or pseudo-labelled, or unknown) versions to mix in.
        fresh: the version ``fresh:F`` draws new human samples from.
        as_version: the name of the new version (must not exist).
        target_size: the training-set size (``replace``, ``accumulate-subsample``, ``fresh:F``).
        seed: seeds every random draw; the same inputs and seed give the same version.
        max_unknown_fraction, max_synthetic_depth: extra gate limits.
        allow_no_human: permit a mix without any human sample (refused by default);
            the permission is recorded in the version's ``extra``.
        embedder: the :mod:`tailguard.features` embedder for text or images.
        description: stored with the version.
        progress: called with the name of each phase.

    Raises:
        GateRefusedError: the mix breaks the gate (nothing is written).
        VersionExistsError: ``as_version`` exists.
    """
    say = progress or (lambda phase: None)
    pol = parse_policy(policy)
    human_names = _names(human, "human")
    if not human_names:
        raise ParameterError("mix needs at least one human version (human=...)")
    synth_names = _names(synthetic, "synthetic")
    fresh_names = _names(fresh, "fresh")
    if fresh_names and pol.fresh_step is None:
        raise ParameterError(f"a fresh version was given but the policy {str(pol)!r} has no fresh:F step")
    if pol.fresh_step is not None and not fresh_names:
        raise ParameterError(f"the policy {str(pol)!r} draws fresh human data: pass fresh=VERSION (--fresh)")
    limits = pol.gate_limits(
        max_unknown_fraction=max_unknown_fraction, max_synthetic_depth=max_synthetic_depth, allow_no_human=allow_no_human
    )
    if any(v.name == as_version for v in ledger.list_versions()):
        raise VersionExistsError(f"version {as_version!r} already exists; versions are immutable, pick a new name")

    say("reading versions")
    needs_features = pol.needs_features
    content: dict[str, bytes] | None = {} if needs_features else None
    human_recs = _records(ledger, human_names, content)
    synth_recs = _records(ledger, synth_names, content)
    records = _union([human_recs, synth_recs])
    human_keys = {(r.id, r.origin) for r in human_recs}
    from_human = [(r.id, r.origin) in human_keys for r in records]
    seen = {r.id for r in records}
    if not records:
        raise EmptyDatasetError(f"the versions {human_names + synth_names} hold no samples")
    fresh_recs = _records(ledger, fresh_names)
    for rec in fresh_recs:
        if rec.origin != "human":
            raise BadInputError(
                f"the fresh version holds a {rec.origin} sample {rec.id}; fresh data must be human",
                path=fresh_names[0],
            )
    fresh_recs = [r for r in fresh_recs if r.id not in seen]  # only samples new to this mix

    ref_mask = np.array(from_human) & np.array([r.origin == "human" for r in records])
    modality = modality_of(records, ",".join(human_names + synth_names))
    classes = features = texts = None
    if pol.sampler_step is not None and modality == "detection":
        classes, _ = detection_classes(records, [r for r, m in zip(records, ref_mask, strict=True) if m])
    scoring = pol.filter_step is not None or pol.dedup_step is not None
    want_texts = scoring and modality == "text"
    # text is filtered and deduplicated on its words; vectors on features, and tail-preserve needs them
    want_features = (scoring and modality != "text") or (pol.sampler_step is not None and classes is None)
    if want_texts or want_features:
        say("computing features" if want_features else "reading texts")
        first = {r.id: r for r in records}  # each content embedded once
        assert content is not None
        missing = [sid for sid in first if sid not in content]
        if missing:  # stored by reference and not read with the version
            content.update((rec.id, data) for rec, data in ledger.iter_bytes(ids=missing) if data is not None)
        pairs = [(rec, content.pop(sid)) for sid, rec in first.items()]
        row_of = {rec.id: k for k, (rec, _) in enumerate(pairs)}
        rows = [row_of[r.id] for r in records]
        if want_features:
            unique_features, _ = feature_matrix(pairs, modality, embedder=embedder)
            if modality in ("text", "image", "detection"):  # embeddings: float32 halves the memory of a large mix
                unique_features = unique_features.astype(np.float32, copy=False)
            features = unique_features[rows]
            del unique_features
        if want_texts:
            unique_texts = decode_texts(pairs)
            texts = [unique_texts[i] for i in rows]
        del pairs
    pool = pool_from_records(records, features=features, classes=classes, texts=texts)
    reference = pool.subset(np.flatnonzero(ref_mask)) if ref_mask.any() else None
    fresh_pool = pool_from_records(fresh_recs) if fresh_names else None

    say("composing")
    sel = pol.compose(
        pool,
        target_size=target_size,
        rng=np.random.default_rng(seed),
        reference=reference,
        fresh_human=fresh_pool,
        allow_repeats=False,
    )
    decision = limits.check(sel.stats)
    decision.raise_if_refused(version=as_version)

    say("writing the version")
    members = [(records[int(i)].id, records[int(i)].origin) for i in sel.indices]  # one per occurrence
    if fresh_pool is not None:
        members += [(fresh_recs[int(i)].id, "human") for i in sel.fresh_indices]
    excluded = [(str(pool.ids[i]), reason, score) for i, reason, score in sel.excluded_triples()]  # type: ignore[index]
    if fresh_pool is not None:
        excluded += [(str(fresh_pool.ids[i]), reason, None) for i, reason in sel.fresh_excluded_pairs()]  # type: ignore[index]
    sources = {"human": human_names, "synthetic": synth_names, "fresh": fresh_names[0] if fresh_names else None}
    extra = {
        "policy": str(pol),
        "policy_config_id": pol.config_id,
        "seed": int(seed),
        "target_size": target_size,
        "sources": sources,
        "allow_no_human": bool(allow_no_human),
        "gate": decision.to_dict(),
        "reason_counts": sel.reason_counts(),
    }
    ledger.create_version(
        as_version,
        sample_ids=members,
        description=description or f"mix {pol} of {', '.join(human_names + synth_names)}",
        extra=extra,
        exclusions=excluded,  # same transaction: never a version without its exclusion records
    )
    return MixReport(
        version=as_version,
        policy=str(pol),
        stats=sel.stats,
        gate=decision,
        n_candidates=len(pool) + (len(fresh_pool) if fresh_pool is not None else 0),
        n_excluded=len(excluded),
        reason_counts=sel.reason_counts(),
        sources=sources,
    )


def _limits_for(
    ledger: Any,
    version: str,
    policy: str | Policy | None,
    limits: GateLimits | None,
    max_unknown_fraction: float | None,
    max_synthetic_depth: int | None,
    allow_no_human: bool,
) -> GateLimits:
    if policy is not None and limits is not None:
        raise ParameterError("pass either policy= or limits= to the gate, not both")
    if limits is not None:
        return replace(limits, allow_no_human=True) if allow_no_human else limits
    if policy is None:
        info = ledger.get_version(version)
        recorded = (info.extra or {}).get("policy")
        gate = ((info.extra or {}).get("gate") or {}).get("limits") or {}
        if recorded is not None:
            policy = recorded
            max_unknown_fraction = (
                max_unknown_fraction if max_unknown_fraction is not None else gate.get("max_unknown_fraction")
            )
            max_synthetic_depth = (
                max_synthetic_depth if max_synthetic_depth is not None else gate.get("max_synthetic_depth")
            )
        # a recorded --allow-no-human is not inherited: the gate before training must permit it itself
    if policy is None:
        return GateLimits(
            max_unknown_fraction=max_unknown_fraction,
            max_synthetic_depth=max_synthetic_depth,
            allow_no_human=allow_no_human,
        )
    return parse_policy(policy).gate_limits(
        max_unknown_fraction=max_unknown_fraction, max_synthetic_depth=max_synthetic_depth,
        allow_no_human=allow_no_human,
    )


def _recorded_notes(ledger: Any, version: str, decision: GateDecision) -> tuple[str, ...]:
    """What the version's own record says that bears on this decision."""
    extra = ledger.get_version(version).extra or {}
    if extra.get("allow_no_human") and decision.stats.n_human == 0 and not decision.limits.allow_no_human:
        return (f"the mix that made {version!r} was permitted no human data (--allow-no-human); "
                "this gate was not",)
    return ()


def _overlap_note(ledger: Any, version: str, reference: str) -> tuple[str, ...]:
    """When ``reference`` is a version of this ledger: how much of it the mix holds."""
    if reference not in {v.name for v in ledger.list_versions()}:
        return ()
    ref_ids = set(ledger.version_sample_ids(reference))
    if not ref_ids:
        return ()
    shared = len(ref_ids & set(ledger.version_sample_ids(version)))
    if not shared:
        return ()
    return (
        f"{shared} of the {len(ref_ids)} distinct samples of {reference!r} are in {version!r}: the audit reads "
        "them as copies of the reference (reference_copy_rate); judge a mix against human data it was not made from",
    )


def check_gate(
    ledger: Any,
    version: str,
    *,
    policy: str | Policy | None = None,
    limits: GateLimits | None = None,
    max_unknown_fraction: float | None = None,
    max_synthetic_depth: int | None = None,
    allow_no_human: bool = False,
    reference: Any = None,
    fail_on: str = "collapse",
    audit_config: Any = None,
    seed: int = 0,
) -> GateDecision:
    """Judge a ledger version against a policy's limits (or explicit ``limits``), and its audit.

    Without ``policy`` or ``limits``, the policy and limits recorded by the :func:`mix`
    that made the version are used; a version made otherwise is checked only against
    the ``max_*`` arguments. A version without human samples is refused unless
    ``allow_no_human`` (a permission the mix recorded is not inherited).

    With ``reference`` (a version name or path, or anything :func:`tailguard.audit.audit`
    reads), the version is audited against it and refused when the verdict reaches
    ``fail_on`` (``"warn"`` or ``"collapse"``) or is ``insufficient``; the
    :class:`~tailguard.audit.AuditReport` is ``decision.audit.report``.
    """
    from tailguard.policy.auditing import check_fail_on

    check_fail_on(fail_on)
    lim = _limits_for(ledger, version, policy, limits, max_unknown_fraction, max_synthetic_depth, allow_no_human)
    summary = ledger.version_summary(version)
    stats = MixStats(
        n=int(summary.n),
        n_human=int(summary.by_origin.get("human", 0)),
        n_unknown=int(summary.by_origin.get("unknown", 0)),
        max_synthetic_depth=int(summary.max_synthetic_depth),
    )
    decision = lim.check(stats)
    notes = _recorded_notes(ledger, version, decision)
    if reference is not None:
        from tailguard.audit import Source
        from tailguard.policy.auditing import audit_check

        name = reference if isinstance(reference, str) else None
        ref = Source(reference, ledger.url) if isinstance(reference, str) else reference
        if name is not None:
            notes += _overlap_note(ledger, version, name)
        decision = decision.with_audit(
            audit_check(Source(version, ledger.url), ref, fail_on=fail_on, config=audit_config, seed=seed,
                        reference_name=name)
        )
    return replace(decision, notes=decision.notes + notes) if notes else decision


def enforce_gate(
    ledger: Any,
    version: str,
    *,
    policy: str | Policy | None = None,
    limits: GateLimits | None = None,
    max_unknown_fraction: float | None = None,
    max_synthetic_depth: int | None = None,
    allow_no_human: bool = False,
    reference: Any = None,
    fail_on: str = "collapse",
    audit_config: Any = None,
    seed: int = 0,
) -> GateDecision:
    """:func:`check_gate`, raising :class:`~tailguard.errors.GateRefusedError` when refused.

    Call it right before training::

        enforce_gate(Ledger.open(url), "train-v3", policy="accumulate+anchor:0.3", reference="human-holdout")
    """
    decision = check_gate(
        ledger,
        version,
        policy=policy,
        limits=limits,
        max_unknown_fraction=max_unknown_fraction,
        max_synthetic_depth=max_synthetic_depth,
        allow_no_human=allow_no_human,
        reference=reference,
        fail_on=fail_on,
        audit_config=audit_config,
        seed=seed,
    )
    return decision.raise_if_refused(version=version)
