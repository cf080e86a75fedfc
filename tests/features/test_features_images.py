"""Image features: downscaled pixels + histograms; corrupt files are named."""

import numpy as np
import pytest
from PIL import Image

from tailguard.data import compose_detection, load_digits
from tailguard.errors import BadInputError, CorruptFileError, MissingInputError, ParameterError
from tailguard.features import PixelFeatures, image_features


def test_gray_features_match_pillow_and_numpy(tmp_path):
    ds = compose_detection(3, seed=2, imgsz=64)
    paths = []
    for i, img in enumerate(ds.images):
        path = tmp_path / f"{i}.png"
        Image.fromarray(img).save(path)
        paths.append(path)
    X = image_features(paths, size=8, bins=4)
    assert X.shape == (3, 64 + 4)
    small = np.asarray(Image.fromarray(ds.images[0]).resize((8, 8), Image.Resampling.BILINEAR)) / 255.0
    np.testing.assert_allclose(X[0, :64], small.ravel())
    hist = np.histogram(ds.images[0], bins=4, range=(0, 256))[0] / ds.images[0].size
    np.testing.assert_allclose(X[0, 64:], hist)
    # arrays, PIL images and paths give the same features
    np.testing.assert_allclose(image_features(ds.images, size=8, bins=4), X)
    np.testing.assert_allclose(image_features([Image.open(p) for p in paths], size=8, bins=4), X)


def test_rgb_histograms_per_channel():
    img = np.zeros((10, 10, 3), dtype=np.uint8)
    img[..., 0] = 255  # pure red
    X = image_features([img], size=2, bins=2, mode="rgb")
    assert X.shape == (1, 3 * 4 + 3 * 2)
    np.testing.assert_allclose(X[0, 12:], [0, 1, 1, 0, 1, 0])  # R all high, G and B all low
    assert PixelFeatures(size=2, bins=2, mode="rgb").dim == X.shape[1]


def test_digit_features_separate_classes():
    digits = load_digits()
    X = image_features(digits.images[:400] / 16.0, size=8, bins=4)
    y = digits.y[:400]
    centroids = np.stack([X[y == c].mean(0) for c in range(10)])
    nearest = np.argmin(((X[:, None, :] - centroids[None]) ** 2).sum(-1), axis=1)
    assert (nearest == y).mean() > 0.7  # pixels carry the class; chance is 0.1


def test_corrupt_and_missing_files_are_named(tmp_path):
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 20)
    with pytest.raises(CorruptFileError, match=r"broken\.png: cannot decode image"):
        image_features([bad])
    good = tmp_path / "trunc.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64), dtype=np.uint8)).save(good)
    truncated = tmp_path / "truncated.png"
    truncated.write_bytes(good.read_bytes()[:200])
    with pytest.raises(CorruptFileError, match=r"truncated\.png"):
        image_features([truncated])
    with pytest.raises(MissingInputError, match=r"missing\.png"):
        image_features([tmp_path / "missing.png"])


def test_bad_arrays_and_parameters():
    with pytest.raises(BadInputError, match="imgs: item 1: image holds non-finite"):
        image_features([np.zeros((4, 4)), np.full((4, 4), np.nan)], name="imgs")
    with pytest.raises(BadInputError, match=r"item 0: image must be \(H, W\)"):
        image_features([np.zeros((4, 4, 5), dtype=np.uint8)])
    with pytest.raises(ParameterError, match="'mode' parameter of PixelFeatures"):
        image_features([np.zeros((4, 4))], mode="cmyk")
    assert image_features([], size=4, bins=2).shape == (0, 18)
