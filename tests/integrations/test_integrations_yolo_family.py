"""The ``yolo`` simulator family: real self-training generations, CI-sized.

Two policies over two generations (0 and 1) with 6 images per generation, imgsz 64 and
one epoch per model: enough to check the loop's bookkeeping (shared generation 0, warm
start from the previous model, per-class metrics every generation, the policy's human
share, lineage in the ledger), not the detector's accuracy (that is
``benchmarks/yolo_loop.py``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

pytestmark = pytest.mark.yolo

PARAMS = {"epochs0": 1, "epochs": 1, "imgsz": 64, "n_val": 4, "batch": 8, "conf": 0.001}


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Any, Path]:
    pytest.importorskip("ultralytics", reason="needs the yolo extra: pip install 'tailguard[yolo]'")
    from tailguard.ledger import Ledger
    from tailguard.simulate import simulate

    root = tmp_path_factory.mktemp("yolo-family")
    ledger = Ledger.open(f"sqlite:///{root / 'ledger.db'}")
    results = simulate(
        "yolo",
        "replace,anchor:0.3",
        generations=1,
        seeds=1,
        sample_size=6,
        ledger=ledger,
        family_params={**PARAMS, "workdir": str(root / "work")},
    )
    yield results, ledger, root / "work"
    ledger.close()


def test_two_generations_record_per_class_metrics(sim: tuple[Any, Any, Path]) -> None:
    results, _ledger, _work = sim
    for policy in ("replace", "anchor:0.3"):
        for name in ("map50_95", "map50", "rare_recall", "pseudo_boxes_per_image"):
            assert results.per_seed(policy, name).shape == (1, 2)
        per_class = [n for n in results.metric_names if n.startswith("recall/")]
        assert len(per_class) == 10
        values = np.concatenate([results.per_seed(policy, n)[0] for n in per_class])
        finite = values[np.isfinite(values)]
        assert finite.size > 0 and ((finite >= 0) & (finite <= 1)).all()  # NaN: class absent from val
        assert np.isfinite(results.per_seed(policy, "map50_95")).all()


def test_policies_share_generation_zero_and_compose_their_mix(sim: tuple[Any, Any, Path]) -> None:
    results, _ledger, work = sim
    gen0 = [results.per_seed(p, "map50_95")[0, 0] for p in ("replace", "anchor:0.3")]
    assert gen0[0] == gen0[1]
    models = sorted(p.parent.parent for p in (work / "models").glob("*/weights/best.pt"))
    assert len(models) == 3  # one shared generation-0 model + one generation-1 model per policy
    human = results.extra["human_fraction"]
    assert human["replace"] == [1.0, 0.0]  # generation 1 trains on pseudo-labels only
    assert human["anchor:0.3"][0] == 1.0 and human["anchor:0.3"][1] >= 0.3
    # generation 1 starts from generation 0's weights (warm start), generation 0 from the YAML
    starts = {yaml.safe_load((m / "args.yaml").read_text())["model"] for m in models}
    assert "yolo26n.yaml" in starts
    gen0_weights = [s for s in starts if s.endswith("best.pt")]
    assert len(set(gen0_weights)) == 1 and Path(gen0_weights[0]).exists()


def test_lineage_is_recorded_in_the_ledger(sim: tuple[Any, Any, Path]) -> None:
    results, ledger, _work = sim
    lineage = results.extra["lineage"]["policies"]
    assert {p: v["runs"] for p, v in lineage.items()} == {"replace": 2, "anchor:0.3": 2}
    runs = ledger.model_runs()
    assert len(runs) == 4 and all(r.trained_on for r in runs)
    depths = {r.trained_on: ledger.version_summary(r.trained_on).max_synthetic_depth for r in runs}
    assert sorted(depths.values()) == [0, 0, 1, 1]  # generation 1 trained on generation 0's pseudo-labels
    metric_names = {m.name for r in runs for m in ledger.run_metrics(r.id)}
    # every metric seed 0 measured is recorded; NaN ones (rare_recall when the 4 validation images hold no
    # rare class, which depends on the seed's draw) are left out
    measured = {m for p in results.policies for m in results.metric_names
                if np.isfinite(results.per_seed(p, m)[0]).any()}
    assert "map50_95" in measured and measured <= metric_names
    assert not any(m in metric_names for m in set(results.metric_names) - measured)


@pytest.mark.parametrize("task", ["segment", "classify"])
def test_segment_and_classify_loops_run_with_their_own_metrics(tmp_path: Path, task: str) -> None:
    pytest.importorskip("ultralytics", reason="needs the yolo extra: pip install 'tailguard[yolo]'")
    from tailguard.simulate import simulate

    params = {**PARAMS, "imgsz": 32, "n_val": 20, "task": task, "workdir": str(tmp_path / "work")}
    results = simulate("yolo", "replace,anchor:0.3", generations=1, seeds=1, sample_size=16, family_params=params)
    names = results.metric_names
    if task == "segment":
        assert {"mask_map50_95", "map50_95", "pseudo_masks_per_image", "recall/hexagon", "mask_map50_95/circle"} <= \
            set(names)
        assert len([n for n in names if n.startswith("recall/")]) == 5
    else:
        assert {"top1", "top5", "pseudo_labelled_share", "recall/nine"} <= set(names)
        assert len([n for n in names if n.startswith("recall/")]) == 10
    for policy in ("replace", "anchor:0.3"):
        lead = "mask_map50_95" if task == "segment" else "top1"
        values = results.per_seed(policy, lead)
        assert values.shape == (1, 2) and np.isfinite(values).all() and ((values >= 0) & (values <= 1)).all()
    assert results.extra["human_fraction"]["replace"] == [1.0, 0.0]
    models = sorted(p.parent.parent for p in (tmp_path / "work" / "models").glob("*/weights/best.pt"))
    assert len(models) == 3
    starts = {yaml.safe_load((m / "args.yaml").read_text())["model"] for m in models}
    assert ("yolo26n-seg.yaml" if task == "segment" else "yolo26n-cls.yaml") in starts  # the task's YAML
    if task == "classify":  # every class folder exists in a training set, so the model has all ten classes
        from tailguard.integrations.ultralytics import load_checkpoint

        _model, info = load_checkpoint(models[0] / "weights" / "best.pt", tasks=("classify",))
        assert len(info.names) == 10
