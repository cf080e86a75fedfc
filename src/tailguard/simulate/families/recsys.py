"""The recommender family: a recommender retrained on the clicks it caused.

The world (fixed by ``world_seed``, shared by all seeds): ``users`` users and ``items`` items with latent factors,
and a true click probability p(u, i) = sigmoid(bias + u·v/√d + popularity_i),
where item popularity is long-tailed (Zipf in a random item order). Human data are
*organic* clicks: users browse items uniformly and click with p(u, i). Rows are
``[user, item]`` click events.

Model n is a low-rank recommender: a truncated SVD (``rank``, scikit-learn's
``TruncatedSVD``) of the user × item click counts of its training clicks (clipped
at 0), plus a popularity prior (``prior`` × clicks per user). It recommends item i
to user u with probability ∝ score^(1/``temperature``) and "samples" clicks by
recommending: each step picks a user, shows one recommended item, and the user
clicks with the true p(u, i). Those clicks train the
next model — the feedback loop.

Metrics (on the exposure: the share of recommendations each item gets, over users):

- ``catalogue_coverage``: share of items that get at least 10% of a uniform share;
- ``long_tail_share``: share of recommendations that go to long-tail items (the
  items outside the head that draws 80% of the expected organic clicks);
- ``gini``: Gini coefficient of item exposure (lower is better);
- ``true_ctr``: mean true click probability of the recommended items — the
  average that can look fine while the catalogue narrows.

>>> fam = RecsysFamily(users=50, items=100)
>>> rng = np.random.default_rng(0)
>>> s = fam.setup(500, rng)
>>> fam.sample(fam.fit(s.train, rng), 20, rng).shape
(20, 2)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import sparse
from scipy.special import expit

from tailguard.simulate.family import EvalContext, Family, MetricSpec, Setup, register_family
from tailguard.validation import Float, Int


@dataclass(frozen=True)
class RecModel:
    scores: np.ndarray  # (users, items)
    probs: np.ndarray  # recommendation distribution per user
    click_prob: np.ndarray  # the world's true p(u, i): sampling simulates the users' clicks


def gini(counts: np.ndarray) -> float:
    """Gini coefficient of non-negative counts (0: equal exposure, → 1: all on one item)."""
    x = np.sort(np.asarray(counts, dtype=float))
    n = len(x)
    if n == 0 or x.sum() == 0:
        return 0.0
    cum = np.cumsum(x)
    return float((n + 1 - 2 * (cum / cum[-1]).sum()) / n)


@register_family
class RecsysFamily(Family):
    """Low-rank recommender in a click feedback loop."""

    name = "recsys"
    params = {
        "users": Int(min=2),
        "items": Int(min=2),
        "latent_dim": Int(min=1),
        "rank": Int(min=1),
        "temperature": Float(min=0.0, min_open=True),
        "popularity_exponent": Float(min=0.0),
        "click_bias": Float(),
        "world_seed": Int(min=0),
        "prior": Float(min=0.0),
    }
    defaults = {
        "users": 200,
        "items": 500,
        "latent_dim": 8,
        "rank": 8,
        "temperature": 1.0,
        "popularity_exponent": 1.0,
        "click_bias": -2.0,
        "world_seed": 0,
        "prior": 1.0,
    }
    metrics = (
        MetricSpec("catalogue_coverage", True, tail=True, description="items with ≥ 10% of a uniform exposure"),
        MetricSpec("long_tail_share", True, tail=True, description="recommendations given to long-tail items"),
        MetricSpec("gini", False, description="Gini of item exposure"),
        MetricSpec("true_ctr", True, description="mean true click probability of recommended items"),
    )
    sample_kind = "bars"

    def world(self) -> tuple[np.ndarray, np.ndarray]:
        """(true click probabilities (users, items), long-tail item mask); cached per config."""
        cached = getattr(self, "_world_cache", None)
        if cached is None:
            cached = self._world(np.random.default_rng(self._params["world_seed"]))
            self._world_cache = cached
        return cached

    def _world(self, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        p = self._params
        u = rng.normal(size=(p["users"], p["latent_dim"]))
        v = rng.normal(size=(p["items"], p["latent_dim"]))
        rank = rng.permutation(p["items"]) + 1
        popularity = -p["popularity_exponent"] * np.log(rank)
        popularity -= popularity.mean()
        click = expit(p["click_bias"] + u @ v.T / np.sqrt(p["latent_dim"]) + popularity)
        # long tail: items outside the head that gets 80% of organic clicks in expectation
        mass = click.sum(axis=0)
        order = np.argsort(-mass)
        head = np.cumsum(mass[order]) <= 0.8 * mass.sum()
        tail = np.ones(p["items"], dtype=bool)
        tail[order[head]] = False
        return click, tail

    def _organic(self, click: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
        users, items = click.shape
        out: list[np.ndarray] = []
        got = 0
        while got < n:
            m = max(4 * (n - got), 64)
            u = rng.integers(users, size=m)
            i = rng.integers(items, size=m)
            hit = rng.random(m) < click[u, i]
            out.append(np.column_stack([u[hit], i[hit]]))
            got += int(hit.sum())
        return np.concatenate(out)[:n]

    def setup(self, sample_size: int, rng: np.random.Generator) -> Setup:
        click, tail = self.world()
        return Setup(
            train=self._organic(click, sample_size, rng),
            heldout=self._organic(click, sample_size, rng),
            fresh=self._organic(click, 4 * sample_size, rng),
            extra={"click": click, "tail": tail},
        )

    def fit(self, data: np.ndarray, rng: np.random.Generator) -> RecModel:
        from sklearn.decomposition import TruncatedSVD

        p = self._params
        rows = np.asarray(data, dtype=np.int64)
        counts = sparse.coo_matrix(
            (np.ones(len(rows)), (rows[:, 0], rows[:, 1])), shape=(p["users"], p["items"])
        ).tocsr()
        rank = min(p["rank"], min(counts.shape) - 1)
        svd = TruncatedSVD(n_components=rank, random_state=int(rng.integers(2**31 - 1)))
        low = np.maximum(svd.fit_transform(counts) @ svd.components_, 0.0)
        pop = np.asarray(counts.sum(axis=0)).ravel() / p["users"]
        scores = low + p["prior"] * pop + 1e-3 * pop.mean()
        probs = scores ** (1.0 / p["temperature"])
        probs /= probs.sum(axis=1, keepdims=True)
        return RecModel(scores=scores, probs=probs, click_prob=self.world()[0])

    def sample(self, model: RecModel, n: int, rng: np.random.Generator) -> np.ndarray:
        users, items = model.probs.shape
        cum = np.cumsum(model.probs, axis=1)
        out: list[np.ndarray] = []
        got = 0
        while got < n:
            m = max(4 * (n - got), 64)
            u = rng.integers(users, size=m)
            i = np.minimum((cum[u] < rng.random(m)[:, None]).sum(axis=1), items - 1)
            hit = rng.random(m) < model.click_prob[u, i]
            out.append(np.column_stack([u[hit], i[hit]]))
            got += int(hit.sum())
        return np.concatenate(out)[:n]

    def evaluate(self, model: RecModel, samples: np.ndarray, ctx: EvalContext) -> dict[str, float]:
        exposure = model.probs.mean(axis=0)  # share of recommendations each item gets
        tail = ctx.setup.extra["tail"]
        return {
            "catalogue_coverage": float(np.mean(exposure >= 0.1 / len(exposure))),
            "long_tail_share": float(exposure[tail].sum()),
            "gini": gini(exposure),
            "true_ctr": float(np.mean(np.sum(model.probs * model.click_prob, axis=1))),
        }
