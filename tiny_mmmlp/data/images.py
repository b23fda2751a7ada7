"""Image features with Pillow and NumPy only (no network models).

Each picture is read as RGB, shrunk to fit a fixed S x S square (aspect kept) and padded
with white. The feature vector concatenates three blocks, each L2-normalized:

    thumbnail      8 x 8 x 3 block means                    (192)   layout and colour
    colour hist    4 x 4 x 4 joint RGB histogram            (64)    colour, ignoring layout
    gradient hist  2 x 2 cells x 8 orientations, weighted   (32)    shape and texture
                   by gradient magnitude

A missing or unreadable picture gets a zero row; the caller reports how many.
"""
from __future__ import annotations

import numpy as np
from PIL import Image, UnidentifiedImageError

from ..progress import bar

IMAGE_SIZE = 64       # S: pictures are resized and padded to S x S
# a picture of more pixels is refused before it is decoded: a product photo is a few million
# pixels, while a 17 KB PNG can claim 12000 x 12000 (a gigabyte once decoded); Pillow's own
# guard only refuses twice its 89 million
MAX_PICTURE_PIXELS = 25_000_000
THUMB = 8             # thumbnail side
COLOR_BINS = 4        # per RGB channel
ORIENT_BINS = 8       # gradient orientations in [0, pi)
CELLS = 2             # gradient histogram cells per side
IMAGE_DIM = THUMB * THUMB * 3 + COLOR_BINS ** 3 + CELLS * CELLS * ORIENT_BINS  # 288
IMAGE_VERSION = "pil-np-v1"  # bump when the recipe changes (invalidates cached features)


def open_picture(path) -> Image.Image:
    """``Image.open(path)`` (lazy: nothing decoded yet), refused with ``DecompressionBombError``
    where its header claims more than ``MAX_PICTURE_PIXELS``: every reader of pictures uses it."""
    im = Image.open(path)
    if im.width * im.height > MAX_PICTURE_PIXELS:
        im.close()
        raise Image.DecompressionBombError(f"{path}: {im.width} x {im.height} pixels, more than "
                                           f"{MAX_PICTURE_PIXELS:,}")
    return im


def load_square(path, size: int = IMAGE_SIZE) -> np.ndarray:
    """Read ``path`` as RGB, fit inside size x size, pad with white. Returns (S, S, 3) float32 in [0, 1]."""
    with open_picture(path) as im:
        im.draft("RGB", (size, size))  # fast JPEG downscale while decoding
        im = im.convert("RGB")
        im.thumbnail((size, size), Image.BILINEAR)
        canvas = Image.new("RGB", (size, size), (255, 255, 255))
        canvas.paste(im, ((size - im.width) // 2, (size - im.height) // 2))
    return np.asarray(canvas, dtype=np.float32) / 255.0


def _unit(v: np.ndarray) -> np.ndarray:
    norm = np.linalg.norm(v)
    return v / norm if norm > 0 else v


def image_vector(img: np.ndarray) -> np.ndarray:
    """(S, S, 3) float in [0, 1] -> (IMAGE_DIM,) float32 feature vector."""
    S = img.shape[0]
    b = S // THUMB
    thumb = img.reshape(THUMB, b, THUMB, b, 3).mean(axis=(1, 3))            # (8, 8, 3)

    q = np.minimum((img * COLOR_BINS).astype(np.int64), COLOR_BINS - 1)     # (S, S, 3) bin per channel
    code = (q[..., 0] * COLOR_BINS + q[..., 1]) * COLOR_BINS + q[..., 2]    # (S, S)
    color = np.bincount(code.ravel(), minlength=COLOR_BINS ** 3).astype(np.float32)

    gray = img.mean(axis=2)                                                 # (S, S)
    gx = np.zeros_like(gray)
    gy = np.zeros_like(gray)
    gx[:, 1:-1] = gray[:, 2:] - gray[:, :-2]
    gy[1:-1, :] = gray[2:, :] - gray[:-2, :]
    magnitude = np.hypot(gx, gy)                                            # (S, S)
    angle = np.mod(np.arctan2(gy, gx), np.pi)                               # (S, S) in [0, pi)
    obin = np.minimum((angle / np.pi * ORIENT_BINS).astype(np.int64), ORIENT_BINS - 1)
    c = S // CELLS
    cell = (np.arange(S)[:, None] // c) * CELLS + (np.arange(S)[None, :] // c)  # (S, S) cell id
    grad = np.bincount((cell * ORIENT_BINS + obin).ravel(), weights=magnitude.ravel(),
                       minlength=CELLS * CELLS * ORIENT_BINS)

    return np.concatenate([_unit(thumb.ravel() - 0.5), _unit(color), _unit(grad)]).astype(np.float32)


def image_matrix(paths: list, progress: bool = True) -> tuple[np.ndarray, int]:
    """Features for every item: paths is the (V + 1) list of picture paths or None.

    Returns (features (V + 1, IMAGE_DIM) float32 with zero rows for padding and failures,
    number of items whose picture was missing or unreadable).
    """
    out = np.zeros((len(paths), IMAGE_DIM), dtype=np.float32)
    failed = 0
    for i in bar(range(1, len(paths)), desc="image features", enabled=progress, unit="img"):
        if paths[i] is None:
            failed += 1
            continue
        try:
            out[i] = image_vector(load_square(paths[i]))
        except (OSError, UnidentifiedImageError, ValueError, SyntaxError, Image.DecompressionBombError):
            failed += 1
    return out, failed
