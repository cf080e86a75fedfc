"""Image features: downscaled pixels plus intensity (or per-channel colour) histograms.

Images may be paths, PIL images or numpy arrays ((H, W) grey or (H, W, C) colour, uint8
0..255 or floats in [0, 1]). A file that cannot be decoded (truncated, corrupt, or a
decompression bomb) raises :class:`~tailguard.errors.CorruptFileError` naming it.

>>> import numpy as np
>>> imgs = np.zeros((3, 64, 64), dtype=np.uint8)
>>> image_features(imgs, size=8, bins=4).shape  # 8*8 pixels + 4 histogram bins
(3, 68)
>>> image_features(imgs, size=8, bins=4, mode="rgb").shape  # 3*8*8 + 3*4
(3, 204)
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from tailguard.config import Configurable
from tailguard.errors import BadInputError, CorruptFileError, EmptyDatasetError, ImageTooLargeError, MissingInputError
from tailguard.validation import Int, OneOf

MODES = ("gray", "rgb")


def _open_image(path: Path):
    if not path.is_file():
        raise MissingInputError("no such image file", path=path)
    return decode_image(path, name=path)


def decode_image(source: Path | bytes, *, name: str | Path):
    """A fully decoded PIL image from a file or from bytes; :class:`CorruptFileError` names ``name``.

    A truncated file is refused (every pixel is decoded, ``LOAD_TRUNCATED_IMAGES`` is not honoured);
    an image declaring more pixels than PIL's decompression-bomb limit raises
    :class:`ImageTooLargeError` before anything is decoded.
    """
    return _decode(source, name, keep=True)


def check_image(source: Path | bytes, *, name: str | Path) -> tuple[int, int]:
    """Decode ``source`` fully (as :func:`decode_image` does) without keeping it; returns (width, height)."""
    return _decode(source, name, keep=False)


_TRUNCATION_LOCK = threading.Lock()


def _open_and_load(source: Path | bytes, keep: bool) -> Any:
    import io

    from PIL import Image, ImageFile

    if ImageFile.LOAD_TRUNCATED_IMAGES:  # another library switched it on: refuse truncation anyway
        with _TRUNCATION_LOCK:
            ImageFile.LOAD_TRUNCATED_IMAGES = False
            try:
                return _open_and_load(source, keep)
            finally:
                ImageFile.LOAD_TRUNCATED_IMAGES = True
    with Image.open(io.BytesIO(source) if isinstance(source, bytes) else source) as im:
        im.load()
        return im.copy() if keep else im.size


def _decode(source: Path | bytes, name: str | Path, *, keep: bool) -> Any:
    from PIL import Image, UnidentifiedImageError

    try:
        return _open_and_load(source, keep)
    except Image.DecompressionBombError as exc:
        raise ImageTooLargeError(f"image too large to decode ({exc})", path=name) from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError) as exc:
        raise CorruptFileError(f"cannot decode image ({exc})", path=name) from None
    except ImportError as exc:
        # ultralytics replaces Image.open with a wrapper that, on an unidentified file, tries to
        # install and import pi-heif; without it the file is still simply undecodable
        raise CorruptFileError(f"cannot decode image ({exc})", path=name) from None


def _to_pil(item: Any, index: int, name: str):
    from PIL import Image

    if isinstance(item, str | Path):
        return _open_image(Path(item))
    if isinstance(item, Image.Image):
        return item
    arr = np.asarray(item)
    if arr.dtype.kind == "f":
        if not np.isfinite(arr).all():
            raise BadInputError(f"item {index}: image holds non-finite values", path=name)
        arr = np.clip(np.rint(arr * 255.0), 0, 255).astype(np.uint8)
    elif arr.dtype != np.uint8:
        if arr.dtype.kind not in "biu" or (arr.size and (arr.min() < 0 or arr.max() > 255)):
            raise BadInputError(
                f"item {index}: image values must be uint8 0..255 or floats in [0, 1]; got {arr.dtype}", path=name
            )
        arr = arr.astype(np.uint8)
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[:, :, 0]
    if arr.ndim == 2:
        return Image.fromarray(arr, mode="L")
    if arr.ndim == 3 and arr.shape[2] in (3, 4):
        return Image.fromarray(arr[:, :, :3], mode="RGB")
    raise BadInputError(f"item {index}: image must be (H, W) or (H, W, 3); got shape {arr.shape}", path=name)


def _features_of(im, size: int, mode: str, bins: int) -> np.ndarray:
    from PIL import Image

    im = im.convert("L" if mode == "gray" else "RGB")
    small = np.asarray(im.resize((size, size), Image.Resampling.BILINEAR), dtype=np.float64) / 255.0
    # PIL counts the 256 levels of each channel; equal-width bins group them
    counts = np.asarray(im.histogram(), dtype=np.float64).reshape(-1, 256)
    level_bin = np.arange(256) * bins // 256
    hist = np.stack([np.bincount(level_bin, weights=c, minlength=bins) for c in counts])
    hist /= max(im.width * im.height, 1)
    return np.concatenate([small.ravel(), hist.ravel()])


def _iter_items(images: Any) -> Iterable[Any]:
    if isinstance(images, np.ndarray):
        if images.ndim in (3, 4):
            return list(images)
        raise BadInputError(f"a stack of images must be 3-D or 4-D; got shape {images.shape}", path="images")
    if isinstance(images, str | Path):
        return [images]
    return images


def image_features(
    images: Any, *, size: int = 16, mode: str = "gray", bins: int = 16, name: str = "images"
) -> np.ndarray:
    """Featurise images into an (n, d) float64 array with values in [0, 1].

    ``d = size*size + bins`` for ``mode="gray"`` and ``3*size*size + 3*bins`` for ``"rgb"``:
    the image resized to ``size`` x ``size`` (bilinear, antialiased), then the share of
    pixels in each of ``bins`` equal-width intensity bins (per channel for rgb).
    """
    p = PixelFeatures(size=size, mode=mode, bins=bins)
    return p.transform(images, name=name)


class PixelFeatures(Configurable):
    """The embedder form of :func:`image_features` (registered as ``"pixels"``)."""

    modality: ClassVar[str] = "image"
    params = {"size": Int(min=1, max=512), "mode": OneOf(MODES), "bins": Int(min=1, max=256)}
    defaults = {"size": 16, "mode": "gray", "bins": 16}

    def __init__(self, size: int = 16, mode: str = "gray", bins: int = 16):
        super().__init__(size=size, mode=mode, bins=bins)

    @property
    def dim(self) -> int:
        p = self._params
        channels = 1 if p["mode"] == "gray" else 3
        return channels * (p["size"] ** 2 + p["bins"])

    def transform(self, images: Any, *, name: str = "images") -> np.ndarray:
        """Featurise images (paths, PIL images or arrays) into an (n, dim) array; n may be 0."""
        p = self._params
        rows = [
            _features_of(_to_pil(item, i, name), p["size"], p["mode"], p["bins"])
            for i, item in enumerate(_iter_items(images))
        ]
        if not rows:
            return np.zeros((0, self.dim), dtype=np.float64)
        return np.stack(rows)

    __call__ = transform


def require_images(images: Any, *, name: str = "images") -> list[Any]:
    """The items of ``images`` as a list, raising :class:`EmptyDatasetError` when there are none."""
    items = list(_iter_items(images))
    if not items:
        raise EmptyDatasetError("holds no images", path=name)
    return items
