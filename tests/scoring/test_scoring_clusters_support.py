"""Near-duplicate clusters with members and representatives; radius ratios against brute force and an identity."""

from __future__ import annotations

import numpy as np
import pytest

from tailguard.data import python_docs_paragraphs
from tailguard.data.machine_text import template_spam
from tailguard.scoring.clusters import near_duplicate_clusters
from tailguard.scoring.support import radius_ratios


def test_planted_spam_clusters_are_found_against_exact_truth():
    spam, template = template_spam(300, np.random.default_rng(0))
    human = python_docs_paragraphs()[:300]
    docs = list(human) + list(spam)
    c = near_duplicate_clusters(docs)
    labels = c.labels[300:]
    # precision: a predicted cluster never joins two templates, or spam with human text
    for label in np.unique(labels):
        assert len(set(np.asarray(template)[labels == label].tolist())) == 1
        assert not np.isin(label, c.labels[:300])
    # recall: most spam sits in a cluster with others of its template
    assert np.mean(c.sizes[300:] > 1) > 0.9
    groups = c.members()
    assert all(len(g) >= 2 for g in groups) and len(groups[0]) >= len(groups[-1])
    assert c.representative.sum() == c.n_clusters
    for g in groups:  # the representative is the first member in input order
        assert c.representative[g].tolist() == [True] + [False] * (len(g) - 1) or c.representative[np.min(g)]


def test_radius_ratios_match_brute_force_and_leave_the_reference_point_out():
    rng = np.random.default_rng(3)
    ref, cand = rng.normal(size=(120, 3)), rng.normal(size=(40, 3))
    k = 4
    d_rr = np.linalg.norm(ref[:, None] - ref[None], axis=2)
    np.fill_diagonal(d_rr, np.inf)
    radii = np.sort(d_rr, axis=1)[:, k - 1]
    d_cr = np.linalg.norm(cand[:, None] - ref[None], axis=2)
    expected = (d_cr / radii[None]).min(axis=1)
    got = radius_ratios(ref, cand, k=k, method="exact")
    np.testing.assert_allclose(got.candidate, expected, rtol=1e-9)
    # a reference point, leaving itself out: its neighbours' radii without it
    i = 7
    rest = np.delete(np.arange(120), i)
    d_rest = d_rr[np.ix_(rest, rest)]
    radii_rest = np.sort(d_rest, axis=1)[:, k - 1]
    want = (d_rr[i, rest] / radii_rest).min()
    assert got.reference[i] == pytest.approx(want, rel=1e-9)


@pytest.mark.parametrize("shape", ["isotropic", "clustered"])
def test_same_distribution_reference_and_candidate_ratios_agree(shape):
    # the identity leave-one-out buys: for a candidate drawn like the reference, both sides' ratios have the
    # same distribution (a two-sample KS test does not reject at 1%)
    from scipy.stats import ks_2samp

    rng = np.random.default_rng(11)
    def draw(n):
        if shape == "isotropic":
            return rng.normal(size=(n, 4))
        centres = np.array([[0, 0, 0, 0], [6, 0, 0, 0], [0, 6, 0, 0]], float)
        return centres[rng.integers(0, 3, n)] + rng.normal(size=(n, 4)) * rng.choice([0.5, 1.5], n)[:, None]
    ratios = radius_ratios(draw(1500), draw(1500), k=5)
    assert ks_2samp(ratios.reference, ratios.candidate).pvalue > 0.01
