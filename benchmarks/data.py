"""Benchmark: write the built-in detection dataset (20k images) and featurise text/images.

Run: ``.venv/bin/python benchmarks/data.py [--images 20000]``. Prints one line per figure.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from tailguard.data import make_detection_dataset, python_docs_paragraphs
from tailguard.features import HashedTextFeatures, image_features


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--images", type=int, default=20_000)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        cpu = time.process_time()
        data_yaml = make_detection_dataset(tmp, n_images=args.images, seed=0, imgsz=128, workers=args.workers)
        seconds = time.perf_counter() - start
        cpu = time.process_time() - cpu
        size = sum(p.stat().st_size for p in Path(tmp).rglob("*") if p.is_file())
        print(
            f"make_detection_dataset(workers={args.workers}): {args.images} images at 128x128 in {seconds:.1f} s "
            f"wall, {cpu:.1f} s CPU in this process ({args.images / seconds:.0f} images/s, {size / 1e6:.0f} MB on disk)"
        )
        paths = sorted((data_yaml.parent / "images" / "train").glob("*.png"))[:2000]
        start = time.perf_counter()
        image_features(paths, size=16)
        seconds = time.perf_counter() - start
        print(f"image_features: {len(paths)} PNGs in {seconds:.2f} s ({len(paths) / seconds:.0f} images/s)")

    texts = python_docs_paragraphs() * 20
    feats = HashedTextFeatures()
    feats.transform(texts[:10])  # build the projection once
    start = time.perf_counter()
    feats.transform(texts)
    seconds = time.perf_counter() - start
    mb = sum(len(t.encode()) for t in texts) / 1e6
    print(f"HashedTextFeatures: {len(texts)} paragraphs ({mb:.1f} MB) in {seconds:.2f} s ({mb / seconds:.1f} MB/s)")


if __name__ == "__main__":
    main()
