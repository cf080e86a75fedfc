"""Record a simulation's lineage in the ledger: samples, training versions and model runs.

For seed 0 of every policy (enough to trace what happened; the other seeds only
add statistics), each generation n gets

- its produced samples, ``origin="synthetic"``, ``generator=<model id>``,
  ``generation=n + 1`` (the human data are generation 0);
- a version holding its training set, and a model run ``trained_on`` that version
  with ``produced`` = its samples and the generation's metrics as run metrics.

Sample content is a small JSON document (family, policy, pool row and values),
so identical values drawn twice stay two samples. Modality: ``text`` for the
n-gram family, ``vector`` otherwise.
"""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

import numpy as np

from tailguard.simulate.family import Family
from tailguard.simulate.loop import ChainResult
from tailguard.simulate.results import SimulationResults


def _content(family: Family, policy: str | None, row_index: int, values: np.ndarray, setup: Any) -> bytes:
    """Human rows leave ``policy`` out, so every policy of a seed shares its human samples."""
    doc: dict[str, Any] = {"family": family.name, "row": int(row_index)}
    if policy is not None:
        doc["policy"] = policy
    if family.sample_kind == "text":
        doc["text"] = family.render_text(values[None, :], setup, limit=1)[0]
    else:
        doc["values"] = np.asarray(values, dtype=float).round(6).tolist()
    return json.dumps(doc, sort_keys=True).encode()


def _add(
    led: Any,
    family: Family,
    modality: str,
    lin: dict[str, Any],
    policy: str,
    ids: list[str | None],
    indices: np.ndarray,
    generator: str | None,
    generation: int,
    human: bool,
) -> list[str]:
    """Add pool rows ``indices`` as samples; remember their ids in ``ids``."""
    from tailguard.ledger import NewSample

    samples = [
        NewSample(
            content=_content(family, None if human else policy, int(i), lin["rows"][i], lin["setup"]),
            uri=None,
            modality=modality,
            origin="human" if human else "synthetic",
            generator=generator,
            generation=generation,
            source=f"tailguard simulate {family.name} --policy {policy}",
            extra={"policy": policy, "seed": 0},
        )
        for i in indices
    ]
    report = led.add_samples(samples)
    for i, sid in zip(indices, report.sample_ids, strict=True):
        ids[int(i)] = sid
    return list(report.sample_ids)


def record_lineage(
    ledger: Any, family: Family, results: SimulationResults, chains: dict[tuple[str, int], ChainResult]
) -> dict[str, Any]:
    """Write seed 0's chains to ``ledger`` (a Ledger or URL); returns a summary for results.extra."""
    from tailguard.ledger import Ledger

    own = isinstance(ledger, str)
    led = Ledger.open(ledger) if own else ledger
    run_tag = uuid.uuid4().hex[:8]
    modality = "text" if family.sample_kind == "text" else "vector"
    summary: dict[str, Any] = {"run": run_tag, "policies": {}}
    try:
        for policy in results.policies:
            chain = chains.get((policy, 0))
            if chain is None or not chain.lineage:
                continue
            lin = chain.lineage
            origin, rnd = lin["origin"], lin["round"]
            slug = re.sub(r"[^A-Za-z0-9_.-]+", "_", policy)
            prefix = f"sim-{family.name}-{run_tag}-{slug}"
            ids: list[str | None] = [None] * len(lin["rows"])

            def add(
                indices: np.ndarray,
                generator: str | None,
                generation: int,
                human: bool,
                _ids: list = ids,
                _lin: dict = lin,
                _policy: str = policy,
            ) -> list[str]:
                return _add(led, family, modality, _lin, _policy, _ids, indices, generator, generation, human)

            human_idx = np.flatnonzero((origin == 0) & (rnd == 0))
            add(human_idx, None, 0, True)
            runs = []
            for g, (train_idx, (lo, hi)) in enumerate(
                zip(lin["train"], lin["produced"], strict=True), start=lin["first_generation"]
            ):
                missing = [int(i) for i in np.unique(train_idx) if ids[int(i)] is None]
                if missing:  # fresh human rows drawn this round
                    add(np.asarray(missing), None, 0, True)
                model_id = f"{prefix}-model{g}"
                version = f"{prefix}-train{g}"
                led.create_version(
                    version,
                    sample_ids=sorted(ids[int(i)] for i in train_idx),  # type: ignore[misc]  # a multiset: repeats count
                    description=f"training set of generation {g} under {policy}",
                )
                produced = add(np.arange(lo, hi), model_id, g + 1, False)
                run_id = led.record_model_run(
                    model_id,
                    version,
                    produced=produced,
                    config={"family": family.name, "policy": policy, "generation": g},
                )
                values = {m: float(results.per_seed(policy, m)[0, g]) for m in results.metric_names}
                led.record_run_metrics(run_id, {k: v for k, v in values.items() if np.isfinite(v)}, step=g)
                runs.append(run_id)
            summary["policies"][policy] = {"prefix": prefix, "runs": len(runs)}
    finally:
        if own:
            led.close()
    return summary
