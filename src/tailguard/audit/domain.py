"""The domain check of a text audit: does the reference represent the candidate's domain?

A candidate about something else (a dictionary audited against scripture) fails
every tail and diversity test, and reads as model collapse. The check of
:mod:`tailguard.scoring.domain` tells the two apart: the candidate's most
human-looking decile, scored out of fold against the reference, brings words
and word pairs the reference lacks far more often than reference documents do.
When it fires, the report warns, and the diagnosis is ``domain_mismatch``
instead of any collapse mode, with the numbers that made it.

The check needs :data:`MIN_DOCUMENTS` documents on each side; below that it is
not run, and the report says so (``domain.ran`` is false).
"""

from __future__ import annotations

from typing import Any

from tailguard.audit.results import Diagnosis

#: Documents each side needs for the check to run.
MIN_DOCUMENTS = 200
#: Diagnoses the check replaces when it fires (they claim the candidate lost what it never had). Mode
#: collapse is not among them: outputs that repeat themselves do so whatever the reference.
REPLACES = ("model_collapse", "drift", "none")


def check_text_domain(candidate: list[str], reference: list[str], *, seed: int = 0) -> dict[str, Any]:
    """The domain check's result as a dict (``ran``, ``warn``, ``auc``, ``ci``, ``message`` ...)."""
    if min(len(candidate), len(reference)) < MIN_DOCUMENTS:
        return {"ran": False, "warn": False,
                "message": f"domain check not run: it needs {MIN_DOCUMENTS} documents on each side "
                           f"(candidate {len(candidate)}, reference {len(reference)})"}
    from tailguard.scoring.core import human_likeness
    from tailguard.scoring.domain import domain_check

    like = human_likeness(candidate, reference, seed=seed, clusters=False)  # the check needs no clusters
    check = domain_check(like.reference, like.novelty[0], like.candidate, like.novelty[1],
                         novelty=like.novelty_name, seed=seed)
    return {"ran": True, "classifier_auc": like.auc, **check.to_dict()}


def domain_diagnosis(domain: dict[str, Any], diagnosis: Diagnosis) -> Diagnosis:
    """``domain_mismatch`` in place of a collapse or drift diagnosis when the check fired."""
    if not domain.get("warn") or diagnosis.mode not in REPLACES:
        return diagnosis
    message = str(domain["message"])
    return Diagnosis(
        "domain_mismatch", round(float(domain["ci"][0]), 3), (message,), dict(diagnosis.scores),
        summary=message[0].upper() + message[1:] + "; the metrics that moved measure the difference of domain, "
        "not a loss of tails or diversity.",
        cited=(),
    )
