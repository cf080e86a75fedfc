"""Every seed's value, as a long Parquet table next to ``results.json``.

``per_seed.parquet`` has one row per (policy, seed, generation, metric) with columns

========== ========= ====================================
column     type      meaning
========== ========= ====================================
policy     string    canonical policy spec
seed       int32     chain seed (0 .. seeds - 1)
generation int32     0 .. N
metric     string    metric name
value      float64   the metric's value (NaN: not measured)
========== ========= ====================================

Rows are written sorted by (policy, metric, seed, generation); :func:`read` accepts any
order.

>>> import numpy as np, tempfile, pathlib
>>> path = pathlib.Path(tempfile.mkdtemp()) / "per_seed.parquet"
>>> _ = write(path, {"replace": {"v": np.array([[1.0, 0.5], [1.0, 0.7]])}})
>>> read(path)["replace"]["v"].tolist()
[[1.0, 0.5], [1.0, 0.7]]
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tailguard.errors import CorruptFileError

FILENAME = "per_seed.parquet"
COLUMNS = ("policy", "seed", "generation", "metric", "value")


def to_arrow(values: dict[str, dict[str, np.ndarray]]):  # -> pyarrow.Table
    """The long table of ``values[policy][metric]`` ((seeds, generations + 1) arrays)."""
    import pyarrow as pa

    policy, metric, seed, gen, vals = [], [], [], [], []
    for p, metrics in values.items():
        for m, arr in metrics.items():
            a = np.asarray(arr, dtype=float)
            s, g = a.shape
            policy.append(np.full(s * g, p, dtype=object))
            metric.append(np.full(s * g, m, dtype=object))
            seed.append(np.repeat(np.arange(s, dtype=np.int32), g))
            gen.append(np.tile(np.arange(g, dtype=np.int32), s))
            vals.append(a.ravel())

    def cat(parts: list, dtype: object) -> np.ndarray:
        return np.concatenate(parts) if parts else np.zeros(0, dtype=dtype)

    return pa.table(
        {
            "policy": pa.array(cat(policy, object), type=pa.string()).dictionary_encode(),
            "seed": pa.array(cat(seed, np.int32), type=pa.int32()),
            "generation": pa.array(cat(gen, np.int32), type=pa.int32()),
            "metric": pa.array(cat(metric, object), type=pa.string()).dictionary_encode(),
            "value": pa.array(cat(vals, float), type=pa.float64()),
        }
    )


def write(path: str | Path, values: dict[str, dict[str, np.ndarray]]) -> Path:
    """Write ``values`` to ``path`` (zstd-compressed Parquet) and return the path."""
    import pyarrow.parquet as pq

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    pq.write_table(to_arrow(values), tmp, compression="zstd")
    tmp.replace(path)
    return path


def from_arrow(table, *, source: str | None = None) -> dict[str, dict[str, np.ndarray]]:
    """``values[policy][metric]`` arrays from a long table (any row order)."""
    missing = [c for c in COLUMNS if c not in table.column_names]
    if missing:
        raise CorruptFileError(f"per-seed table lacks the column(s) {', '.join(missing)}", path=source)
    policy = np.asarray(table.column("policy").to_pylist(), dtype=object)
    metric = np.asarray(table.column("metric").to_pylist(), dtype=object)
    seed = table.column("seed").to_numpy()
    gen = table.column("generation").to_numpy()
    value = table.column("value").to_numpy(zero_copy_only=False).astype(float)
    out: dict[str, dict[str, np.ndarray]] = {}
    if len(value) == 0:
        return out
    p_names, p_code = np.unique(policy, return_inverse=True)
    m_names, m_code = np.unique(metric, return_inverse=True)
    # policies and metrics in the order they first appear in the table
    p_order = np.argsort([np.flatnonzero(p_code == i)[0] for i in range(len(p_names))], kind="stable")
    m_order = np.argsort([np.flatnonzero(m_code == i)[0] for i in range(len(m_names))], kind="stable")
    for pi in p_order:
        for mi in m_order:
            sel = (p_code == pi) & (m_code == mi)
            if not sel.any():
                continue
            s, g, v = seed[sel].astype(np.int64), gen[sel].astype(np.int64), value[sel]
            shape = (int(s.max()) + 1, int(g.max()) + 1)
            flat = s * shape[1] + g
            if s.min() < 0 or g.min() < 0 or len(v) != shape[0] * shape[1] or len(np.unique(flat)) != len(flat):
                raise CorruptFileError(
                    f"per-seed table: policy {p_names[pi]!r} metric {m_names[mi]!r} does not hold every "
                    "seed x generation exactly once",
                    path=source,
                )
            arr = np.full(shape, np.nan)
            arr[s, g] = v
            out.setdefault(str(p_names[pi]), {})[str(m_names[mi])] = arr
    return out


def read(path: str | Path) -> dict[str, dict[str, np.ndarray]]:
    """``values[policy][metric]`` from a file :func:`write` wrote."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
    except (OSError, pa.ArrowException) as exc:
        raise CorruptFileError(f"cannot read the per-seed table ({exc})", path=str(path)) from exc
    return from_arrow(table, source=str(path))
