"""The audit's frozen, validated configuration.

>>> cfg = AuditConfig(metrics=["tail_mass", "vendi"], quick=True)
>>> cfg.get_params()["quick"], cfg.thresholds.require_significance
(True, True)
>>> AuditConfig(batch_size=0)
Traceback (most recent call last):
...
tailguard.errors.ParameterError: The 'batch_size' parameter of AuditConfig must be an int >= 1. Got 0.
>>> AuditConfig(metric_params={"vendy": {"kernel": "rbf"}})  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
tailguard.errors.UnknownChoiceError: Unknown metric in metric_params 'vendy'. Did you mean 'vendi'...
"""

from __future__ import annotations

from typing import Any

from tailguard.audit.thresholds import Thresholds
from tailguard.config import Configurable
from tailguard.validation import Bool, Custom, Float, Int, OneOf


def _is_names(v: Any) -> bool:
    return isinstance(v, list | tuple) and len(v) > 0 and all(isinstance(x, str) and x for x in v)


def _is_metric_params(v: Any) -> bool:
    return isinstance(v, dict) and all(isinstance(k, str) and isinstance(p, dict) for k, p in v.items())


class AuditConfig(Configurable):
    """How an audit runs.

    - ``metrics``: restrict the suite to these names (the fast path): metric names
      (``prdc``), families (``tails``) or value names as the report shows them
      (``recall``, ``tail_mass_0.01``, ``mmd.p_value``), which run the metric that
      produces them; an unknown name raises ``UnknownChoiceError`` with the nearest names;
    - ``quick``: skip the expensive metrics (permutation MMD, classifier test, self-BLEU);
    - ``batch_size``: samples per ``update`` call (the runner streams);
    - ``shard_rows``: rows per shard when an engine spreads a metric over workers
      (``None``: one shard per metric, metrics side by side). Shards depend on the data
      alone, so every engine gives the same numbers for the same ``shard_rows``;
    - ``same_size``: subsample the larger side so both have the same N before any
      metric sees them (off by default: N-dependent metrics already compare at equal N
      themselves, and some use the extra reference rows as a same-size human baseline);
    - ``max_samples``: cap each side at this many samples (seeded subsample);
    - ``embedder``: text embedder (``hashed`` needs no model; ``minilm``);
    - ``thresholds``: a :class:`Thresholds` (default: :meth:`Thresholds.default`);
    - ``metric_params``: extra parameters per metric name (or ``fnmatch`` pattern), e.g.
      ``{"mmd": {"n_permutations": 50}}``; a name that matches no registered metric, or a
      parameter that no matched metric declares, raises ``UnknownChoiceError`` with the
      nearest names (under a pattern, each metric gets the parameters it declares);
    - ``figures``: collect the data the HTML report draws;
    - ``standardize``: scale both sides' vectors per feature (pooled standard deviation,
      floored at a quarter of the median scale) before the
      metrics see them (``auto``: for tabular data, whose columns have arbitrary units;
      not for embeddings, whose geometry is meant);
    - ``ci_level``: confidence level of every metric's interval (passed to each metric
      that takes ``ci_level``). 0.99 rather than 0.95 because an audit judges a dozen
      rows at once and a flag needs the interval to clear the reference;
    - ``strict``: re-raise a metric's error instead of skipping it (and listing it in
      ``report.skipped``);
    - ``domain_check``: text audits check that the reference represents the candidate's
      domain (:mod:`tailguard.audit.domain`); a mismatch is warned about and diagnosed as
      ``domain_mismatch`` instead of collapse.
    - ``skip_bad``: leave out table rows with an empty or non-numeric cell (a CSV or Parquet path,
      a tabular version, a DataFrame) instead of refusing them; the report lists every row left
      out (``report.config["skipped"]``). Off by default: a bad row is an error naming it.
    """

    params = {
        "metrics": Custom("a non-empty list of metric names", _is_names, optional=True),
        "quick": Bool(),
        "batch_size": Int(min=1),
        "shard_rows": Int(min=1, optional=True),
        "same_size": Bool(),
        "max_samples": Int(min=2, optional=True),
        "embedder": OneOf(("hashed", "minilm")),
        "thresholds": Custom("a Thresholds", lambda v: isinstance(v, Thresholds), optional=True),
        "metric_params": Custom("a dict of metric name -> dict of parameters", _is_metric_params),
        "figures": Bool(),
        "strict": Bool(),
        "standardize": OneOf(("auto", "always", "never")),
        "ci_level": Float(min=0.5, max=1.0, max_open=True),
        "domain_check": Bool(),
        "skip_bad": Bool(),
    }
    defaults = {
        "metrics": None,
        "quick": False,
        "batch_size": 4096,
        "shard_rows": None,
        "same_size": False,
        "max_samples": None,
        "embedder": "hashed",
        "thresholds": None,
        "metric_params": {},
        "figures": True,
        "strict": False,
        "standardize": "auto",
        "ci_level": 0.99,
        "domain_check": True,
        "skip_bad": False,
    }

    def __init__(self, **params: Any):
        super().__init__(**params)
        from tailguard.audit.runner import check_metric_params
        from tailguard.audit.suite import check_metric_names

        if self._params["metrics"] is not None:
            check_metric_names(self._params["metrics"])
        check_metric_params(self._params["metric_params"])

    def __getattr__(self, name: str) -> Any:
        params = self.__dict__.get("_params")
        if params is not None and name in params:
            return params[name]
        raise AttributeError(name)

    @property
    def thresholds(self) -> Thresholds:  # type: ignore[override]
        t = self._params.get("thresholds")
        return t if t is not None else Thresholds.default()

    def to_dict(self) -> dict[str, Any]:
        """JSON form stored in the report (thresholds are stored beside it)."""
        d = self.get_params()
        d.pop("thresholds", None)
        d["config_id"] = self.config_id
        return d
