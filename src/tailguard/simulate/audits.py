"""Audit the last generation of each policy against held-out human data, generation 0 as the baseline.

A simulation's generation 0 is already a model's output, never a perfect copy of the
human data, so an audit of the last generation against the humans alone flags what
the model never had, under every policy. With generation 0 as the baseline
(:mod:`tailguard.audit.baseline`) each row's status judges what recursive training
lost *beyond* generation 0, so the verdicts show what a policy prevented.

The demo and ``tailguard simulate --audit`` both use :func:`audit_last_generations`.

>>> from tailguard.simulate import simulate
>>> res = simulate("gmm", ["replace"], generations=2, seeds=1, sample_size=200)
>>> reports = audit_last_generations(res, "gmm")
>>> sorted(reports), reports["replace"].baseline
(['replace'], 'gmm generation 0')
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tailguard.errors import MissingInputError, ParameterError


def audit_input(family: Any, setup: Any, rows: np.ndarray) -> tuple[Any, Any]:
    """``(data, labels)`` the audit reads for a family's rows: texts, or feature vectors with
    their classes (if the family has any)."""
    if family.sample_kind == "text":
        return family.render_text(rows, setup, limit=len(rows)), None
    features = family.features(rows)
    if features is None:
        raise ParameterError(f"the {family.name} family has no features to audit")
    return features, family.classes(rows)


def audit_last_generations(results: Any, family: Any, *, entropy: int = 0, quick: bool = True) -> dict[str, Any]:
    """One :class:`~tailguard.audit.AuditReport` per policy: seed 0's last generation against the
    family's held-out human data, with seed 0's generation 0 as the baseline.

    ``family`` is the family (or its name) the results came from; ``entropy`` the root seed the
    simulation ran with (it rebuilds seed 0's held-out data).
    """
    from tailguard.audit import AuditConfig, audit
    from tailguard.simulate.family import get_family
    from tailguard.simulate.seeding import stream

    fam = get_family(family) if isinstance(family, str) else family
    first_rows = results.first_samples(results.policies[0])
    if first_rows is None:
        raise MissingInputError("the results hold no samples (results loaded from JSON keep none): "
                                "audit right after simulate()", path=str(results.family))
    setup = fam.setup(int(results.config["sample_size"]), stream(entropy, seed=0, generation=0, purpose="setup"))
    reference, reference_labels = audit_input(fam, setup, np.asarray(setup.heldout))
    first, first_labels = audit_input(fam, setup, first_rows)
    reports = {}
    for policy in results.policies:
        last, last_labels = audit_input(fam, setup, results.last_samples(policy))
        report = audit(last, reference, config=AuditConfig(quick=quick), seed=entropy,
                       candidate_labels=last_labels, reference_labels=reference_labels,
                       baseline=first, baseline_labels=first_labels)
        report.candidate = f"{fam.name} generation {results.generations} under {policy}"
        report.reference = f"held-out human {fam.name} data"
        report.baseline = f"{fam.name} generation 0"
        reports[policy] = report
    return reports
