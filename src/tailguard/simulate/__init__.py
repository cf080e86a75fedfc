"""The recursive-training simulator: families, the generation loop, the executor.

>>> from tailguard.simulate import simulate
>>> res = simulate("gaussian", "replace,accumulate", generations=3, seeds=4, sample_size=50)
>>> sorted(res.policies)
['accumulate', 'replace']
>>> res.summary("replace", "variance_ratio")["median"][0]
1.0
"""

from tailguard.simulate.executor import simulate, split_policies
from tailguard.simulate.family import (
    FAMILIES,
    EvalContext,
    Family,
    MetricSpec,
    Setup,
    get_family,
    register_family,
    validate_family,
)
from tailguard.simulate.loop import ChainResult, run_chain
from tailguard.simulate.results import SimulationResults, summarise


def write_report(results: SimulationResults, out_dir: str, **kwargs: object) -> str:
    """Write ``report.html`` (and ``results.json``) for ``results`` into ``out_dir``; returns the HTML path."""
    from tailguard.simulate.report import write_report as _write

    return str(_write(results, out_dir, **kwargs))  # type: ignore[arg-type]


__all__ = [
    "FAMILIES",
    "ChainResult",
    "EvalContext",
    "Family",
    "MetricSpec",
    "Setup",
    "SimulationResults",
    "get_family",
    "register_family",
    "run_chain",
    "simulate",
    "split_policies",
    "summarise",
    "validate_family",
    "write_report",
]
