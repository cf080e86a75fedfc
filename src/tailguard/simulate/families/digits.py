"""The digits family: an image generator (PCA + a Gaussian mixture per class) on scikit-learn digits.

Human data are the real 8×8 handwritten digits of ``sklearn.datasets.load_digits``
(via :func:`tailguard.data.tabular.load_digits`), as rows of 64 pixel values
(0..16) followed by the class. The training set is drawn with long-tailed class
frequencies (∝ 1/rank^``imbalance`` over a seed-shuffled class order), so some
digits are rare. Each generation fits a PCA (``pca_dims``) on its training images
and, per class, a ``GaussianMixture`` (up to ``components`` components) in PCA space;
class shares are the training shares. Sampling draws class counts, then images,
clipped to 0..16. A class with fewer than 2 training images is lost for good.

A fixed judge — logistic regression trained once on all human digits — labels
generated images. Metrics (``eval_size`` images from model n):

- ``class_coverage``: mean over classes of the PRDC coverage of held-out human
  digits of that class by generated images the judge puts in that class
  (k = 5 nearest held-out neighbours of the same class, in pixel space);
- ``min_class_coverage``: the worst class's coverage;
- ``rare_class_coverage``: the coverage of the rarest training class;
- ``fidelity``: share of generated images the judge labels with their generator class;
- ``variance_ratio``: total pixel variance of model n's images / model 0's.

>>> fam = DigitsFamily(eval_size=200)
>>> rng = np.random.default_rng(0)
>>> s = fam.setup(300, rng)
>>> fam.sample(fam.fit(s.train, rng), 5, rng).shape
(5, 65)
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

from tailguard.errors import ParameterError
from tailguard.simulate.families.gmm import mixture_sample
from tailguard.simulate.family import EvalContext, Family, MetricSpec, Setup, register_family
from tailguard.validation import Float, Int

N_CLASSES = 10
K_NN = 5


@lru_cache(maxsize=1)
def _digits() -> tuple[np.ndarray, np.ndarray]:
    from tailguard.data.tabular import load_digits

    d = load_digits()
    return np.asarray(d.X, dtype=float), np.asarray(d.y, dtype=np.int64)


@lru_cache(maxsize=1)
def judge() -> Any:
    """The fixed classifier: logistic regression on every human digit."""
    from sklearn.linear_model import LogisticRegression
    from threadpoolctl import threadpool_limits

    x, y = _digits()
    with warnings.catch_warnings(), threadpool_limits(limits=1):
        warnings.simplefilter("ignore")
        return LogisticRegression(max_iter=1000).fit(x / 16.0, y)


@dataclass(frozen=True)
class DigitsModel:
    pca: Any
    class_ids: np.ndarray
    class_probs: np.ndarray
    mixtures: tuple[tuple[np.ndarray, np.ndarray, np.ndarray], ...]  # (weights, means, covs) per class


@register_family
class DigitsFamily(Family):
    """PCA + per-class GMM image generator on the real handwritten digits."""

    name = "digits"
    params = {
        "pca_dims": Int(min=1, max=64),
        "components": Int(min=1, max=20),
        "imbalance": Float(min=0.0, max=5.0),
        "heldout_size": Int(min=50),
        "eval_size": Int(min=50),
    }
    defaults = {"pca_dims": 16, "components": 2, "imbalance": 1.0, "heldout_size": 500, "eval_size": 1000}
    metrics = (
        MetricSpec("class_coverage", True, tail=True, description="mean per-class PRDC coverage of held-out digits"),
        MetricSpec("min_class_coverage", True, tail=True, description="worst class's coverage"),
        MetricSpec("rare_class_coverage", True, tail=True, description="coverage of the rarest training class"),
        MetricSpec("fidelity", True, description="generated images the judge labels as their class"),
        MetricSpec("variance_ratio", True, description="total pixel variance / model 0's"),
    )
    sample_kind = "images"
    audit_metrics = ("rare_mode_coverage",)

    def warm_up(self) -> None:
        _digits()
        judge()

    def setup(self, sample_size: int, rng: np.random.Generator) -> Setup:
        from sklearn.neighbors import NearestNeighbors

        x, y = _digits()
        rows = np.column_stack([x, y])
        held_n = self._params["heldout_size"]
        perm = rng.permutation(len(rows))
        heldout, rest = rows[perm[:held_n]], rows[perm[held_n:]]
        order = rng.permutation(N_CLASSES)  # which digits are rare differs by seed
        weights = np.empty(N_CLASSES)
        weights[order] = 1.0 / np.arange(1, N_CLASSES + 1) ** self._params["imbalance"]
        w_rows = weights[rest[:, -1].astype(int)]
        if sample_size > len(rest):
            raise ParameterError(
                f"The 'sample_size' parameter of digits must be an int <= {len(rest)} "
                f"({len(rows)} digits, {held_n} held out). Got {sample_size}."
            )
        pick = rng.choice(len(rest), size=sample_size, replace=False, p=w_rows / w_rows.sum())
        train = rest[pick]
        fresh_pool = np.delete(rest, pick, axis=0)
        w_fresh = weights[fresh_pool[:, -1].astype(int)]
        n_fresh = min(len(fresh_pool), 4 * sample_size)
        fresh = fresh_pool[rng.choice(len(fresh_pool), size=n_fresh, replace=False, p=w_fresh / w_fresh.sum())]
        radii = {}
        for c in range(N_CLASSES):
            pts = heldout[heldout[:, -1] == c, :-1]
            k = min(K_NN, len(pts) - 1)
            if k >= 1:
                dist, _ = NearestNeighbors(n_neighbors=k + 1).fit(pts).kneighbors(pts)
                radii[c] = dist[:, -1]
        counts = np.bincount(train[:, -1].astype(int), minlength=N_CLASSES)
        return Setup(
            train=train,
            heldout=heldout,
            fresh=fresh,
            extra={"radii": radii, "rare_class": int(np.argmin(np.where(counts > 0, counts, 1 << 30)))},
        )

    def fit(self, data: np.ndarray, rng: np.random.Generator) -> DigitsModel:
        from sklearn.decomposition import PCA
        from sklearn.mixture import GaussianMixture

        data = np.asarray(data, dtype=float)
        x, y = data[:, :-1], data[:, -1].astype(int)
        dims = min(self._params["pca_dims"], len(x) - 1, x.shape[1])
        pca = PCA(n_components=dims, random_state=int(rng.integers(2**31 - 1))).fit(x)
        z = pca.transform(x)
        ids, mixtures, counts = [], [], []
        for c in np.unique(y):
            zc = z[y == c]
            if len(zc) < 2:
                continue  # too few images to fit: the class is lost
            k = min(self._params["components"], len(zc) // 2)
            gm = GaussianMixture(
                n_components=k, covariance_type="full", reg_covar=1e-3, random_state=int(rng.integers(2**31 - 1))
            )
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                gm.fit(zc)
            ids.append(c)
            counts.append(len(zc))
            mixtures.append((gm.weights_, gm.means_, gm.covariances_))
        counts_arr = np.asarray(counts, dtype=float)
        return DigitsModel(pca, np.asarray(ids), counts_arr / counts_arr.sum(), tuple(mixtures))

    def sample(self, model: DigitsModel, n: int, rng: np.random.Generator) -> np.ndarray:
        per_class = rng.multinomial(n, model.class_probs)
        parts = []
        for c, k, (w, mu, cov) in zip(model.class_ids, per_class, model.mixtures, strict=True):
            if k:
                z = mixture_sample(w, mu, cov, int(k), rng)
                img = np.clip(model.pca.inverse_transform(z), 0.0, 16.0)
                parts.append(np.column_stack([img, np.full(int(k), c)]))
        out = np.concatenate(parts)
        return out[rng.permutation(len(out))]

    def evaluate(self, model: DigitsModel, samples: np.ndarray, ctx: EvalContext) -> dict[str, float]:
        from sklearn.neighbors import NearestNeighbors

        gen = self.sample(model, self._params["eval_size"], ctx.rng)
        images, labels = gen[:, :-1], gen[:, -1].astype(int)
        judged = judge().predict(images / 16.0)
        held = ctx.setup.heldout
        cover = np.zeros(N_CLASSES)
        for c, radii in ctx.setup.extra["radii"].items():
            mine = images[judged == c]
            if len(mine) == 0:
                continue
            pts = held[held[:, -1] == c, :-1]
            dist, _ = NearestNeighbors(n_neighbors=1).fit(mine).kneighbors(pts)
            cover[c] = float(np.mean(dist[:, 0] <= radii))
        x0 = ctx.samples0[:, :-1]
        return {
            "class_coverage": float(cover.mean()),
            "min_class_coverage": float(cover.min()),
            "rare_class_coverage": float(cover[ctx.setup.extra["rare_class"]]),
            "fidelity": float(np.mean(judged == labels)),
            "variance_ratio": float(images.var(axis=0).sum() / max(x0.var(axis=0).sum(), 1e-12)),
        }

    def features(self, data: np.ndarray) -> np.ndarray:
        return np.asarray(data, dtype=float)[:, :-1]

    def classes(self, data: np.ndarray) -> np.ndarray:
        return np.asarray(data)[:, -1].astype(np.int64)
