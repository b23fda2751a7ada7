"""Fault suite, sentence-transformers names (sentence_models.py): a folder is named as a path,
a hub name is never answered by a folder that happens to sit in the current folder, and the
feature cache is keyed by the model's files, not by its name."""
import pytest

from tiny_mmmlp.data import image_encoders, sentence_models, text
from tiny_mmmlp.errors import UserError

pytestmark = pytest.mark.skipif(text.minilm_path() is None, reason="needs the text extra (the bundled MiniLM)")


def test_a_folder_named_like_a_hub_model_is_not_loaded_in_its_place(tmp_path, monkeypatch):
    """all-mpnet-base-v2 in the current folder (here: the bundled MiniLM under that name) is
    refused; ./all-mpnet-base-v2 loads it as the folder it is."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "all-mpnet-base-v2").symlink_to(text.minilm_path(), target_is_directory=True)
    with pytest.raises(UserError, match=r"--text-encoder all-mpnet-base-v2: a file or folder of that name is "
                                        r"in the current folder.*\./all-mpnet-base-v2"):
        sentence_models.load_model("all-mpnet-base-v2", "--text-encoder")
    with pytest.raises(UserError, match="a file or folder of that name"):
        text.encoder_name("all-mpnet-base-v2")                       # the cache key is never made
    model = sentence_models.load_model("./all-mpnet-base-v2", "--text-encoder")
    assert sentence_models.width(model) == 384


def test_the_feature_cache_key_follows_the_models_files(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    folder = tmp_path / "m"
    folder.mkdir()
    (folder / "config.json").write_text("{}")
    first = text.encoder_name("./m")
    assert first == text.encoder_name("./m") and first.startswith("st:./m:")
    (folder / "config.json").write_text('{"changed": true}')
    assert text.encoder_name("./m") != first
    assert image_encoders.encoder_id("./m") == text.encoder_name("./m")


def test_a_folder_that_holds_no_model_says_so(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "todo.txt").write_text("buy milk")
    with pytest.raises(UserError, match="the folder holds no sentence-transformers model that loads"):
        sentence_models.load_model("./notes", "--text-encoder")
