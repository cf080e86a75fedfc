"""Suresh, Thangaraj & Khandavally (2025): under recursive MLE a symbol seen λ times survives.

Setup: 1000 Zipf(1.1) symbols, M = 1000 draws per generation, ``replace``, 60
seeds. λ is a symbol's count in the human training data (what model 0 is fit on);
it *survives to generation k* when model k still gives it positive probability,
i.e. it occurs in model k's training data (the samples of model k−1). Suresh et
al.'s bound: P(survive to k) ≥ 1 − e^(−λ/k). For each λ in 1..6 and k in
{1, 2, 5, 10, 20} the survival rate over all (seed, symbol) pairs with that λ must
be at least the bound minus 3 binomial standard errors.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from tailguard.simulate import get_family, run_chain

SEEDS = 60
GENERATIONS = 20
M = 1000
KS = (1, 2, 5, 10, 20)


@pytest.fixture(scope="module")
def survival() -> dict[tuple[int, int], tuple[int, int]]:
    fam = get_family("categorical", vocab=1000, exponent=1.1)
    counts: dict[tuple[int, int], list[int]] = {}
    for seed in range(SEEDS):
        res = run_chain(fam, "replace", seed=seed, generations=GENERATIONS, sample_size=M, record_lineage=True)
        lin = res.lineage
        lam = np.bincount(lin["human"], minlength=1000)
        for k in KS:
            lo, hi = lin["produced"][k - 1]  # model k trains on model k-1's samples
            alive = np.bincount(lin["rows"][lo:hi], minlength=1000) > 0
            for lam_value in range(1, 7):
                mask = lam == lam_value
                c = counts.setdefault((lam_value, k), [0, 0])
                c[0] += int(alive[mask].sum())
                c[1] += int(mask.sum())
    return {key: (a, n) for key, (a, n) in counts.items()}


@pytest.mark.parametrize("k", KS)
@pytest.mark.parametrize("lam", range(1, 7))
def test_survival_respects_suresh_bound(survival, lam: int, k: int) -> None:
    alive, n = survival[(lam, k)]
    assert n >= 50, "too few symbols with this count to test"
    bound = 1 - np.exp(-lam / k)
    rate = alive / n
    se = np.sqrt(max(bound * (1 - bound), 1e-12) / n)
    assert rate >= bound - 3 * se, (lam, k, rate, bound, n)


def test_lost_symbols_never_return(survival) -> None:
    """Survival can only fall with k (a symbol with probability 0 is never drawn again)."""
    for lam in range(1, 7):
        rates = [survival[(lam, k)][0] / survival[(lam, k)][1] for k in KS]
        assert all(a >= b for a, b in itertools.pairwise(rates)), rates
