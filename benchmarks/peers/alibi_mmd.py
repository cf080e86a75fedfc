"""alibi-detect's MMD permutation test (torch backend) on rows written by ``benchmarks/metrics.py``.

Runs in the ``alibi`` peer venv (``benchmarks/peers/venv.py``: alibi-detect 0.13.0
needs numpy<2). Reads a JSON object on stdin: ``ref`` and ``cand`` (paths of .npy
files), ``sigma`` (the RBF bandwidth both sides use, exp(-|x-y|²/(2σ²))),
``n_permutations`` and ``threads``. Prints one JSON line: alibi's p-value (the
share of permuted statistics >= the observed one, the observed one not counted),
its MMD² (``zero_diag=False``: the biased V-statistic, as tailguard's), the
seconds in the constructor (reference ingest) and in ``score``, and the peak RSS.
"""

from __future__ import annotations

import json
import resource
import sys
import time


def main() -> None:
    job = json.loads(sys.stdin.read())
    import numpy as np
    import torch

    torch.set_num_threads(int(job["threads"]))
    from alibi_detect.cd import MMDDrift
    from alibi_detect.utils.pytorch.kernels import GaussianRBF

    ref, cand = np.load(job["ref"]), np.load(job["cand"])
    torch.manual_seed(0)
    t0 = time.perf_counter()
    kernel = GaussianRBF(sigma=torch.tensor([float(job["sigma"])]))
    det = MMDDrift(ref, backend="pytorch", p_val=0.05, n_permutations=int(job["n_permutations"]), kernel=kernel, device="cpu")
    t1 = time.perf_counter()
    p_val, mmd2, threshold = det.score(cand)
    t2 = time.perf_counter()
    print(
        json.dumps(
            {
                "version": __import__("alibi_detect").__version__,
                "p_value": float(p_val),
                "mmd2": float(mmd2),
                "threshold_95": float(threshold),
                "init_s": t1 - t0,
                "score_s": t2 - t1,
                "rss_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20,
            }
        )
    )


if __name__ == "__main__":
    main()
