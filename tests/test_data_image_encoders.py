"""Picture encoders on toyshop-tiny's pictures: EfficientNet-Lite0 (the image extra) and the fallback.

The pretrained tests skip when the image extra is not installed; the fallback tests pretend it
is not installed, so they run everywhere.
"""
import dataclasses
import os
import warnings

import numpy as np
import pytest

from tiny_mmmlp import data
from tiny_mmmlp.data import efficientnet, image_encoders, images
from tiny_mmmlp.data.__main__ import main as data_main

needs_extra = pytest.mark.skipif(not efficientnet.installed(), reason="the image extra is not installed")


@pytest.fixture(scope="module")
def tiny():
    """toyshop-tiny's first 24 products (the encoder costs about 0.1 s a picture on a busy CPU)."""
    ds = data.load("toyshop-tiny")
    return dataclasses.replace(ds, name="toyshop-tiny-24", item_ids=ds.item_ids[:24],
                               image_paths=ds.image_paths[:25])


@needs_extra
def test_efficientnet_features_are_unit_rows_deterministic_and_see_the_category(tiny):
    paths = tiny.image_paths
    first, failed = image_encoders.encode_pictures(paths, "efficientnet-lite0", progress=False)
    again, _ = image_encoders.encode_pictures(paths, "auto", progress=False)   # auto picks it
    assert first.shape == (25, 1280) == (25, image_encoders.width("auto")) and first.dtype == np.float32
    assert failed == 0 and not first[0].any()
    assert np.allclose(np.linalg.norm(first[1:], axis=1), 1.0, atol=1e-5)
    assert np.allclose(first, again, atol=1e-6)
    category = np.array(tiny.item_fields["category"][1:25])
    sim = first[1:] @ first[1:].T
    np.fill_diagonal(sim, -np.inf)
    same = (category[sim.argmax(1)] == category).mean()             # nearest picture, same category
    chance = (np.unique(category, return_counts=True)[1] / len(category)) ** 2
    assert same > 3 * chance.sum()


@needs_extra
def test_weights_are_read_with_weights_only(monkeypatch):
    import torch

    seen = []
    real = torch.load
    monkeypatch.setattr(torch, "load", lambda *a, **k: seen.append(k) or real(*a, **k))
    monkeypatch.setattr(efficientnet, "_MODEL", [])
    efficientnet.load_model()
    assert seen == [{"map_location": "cpu", "weights_only": True}]


@needs_extra
def test_cached_until_the_pictures_or_the_encoder_change(tiny, tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    built = data.build_features(tiny, ["image"], cache_dir=cache, progress=False)["image"]
    monkeypatch.setattr(efficientnet, "embed_pictures", lambda *a, **k: pytest.fail("rebuilt"))
    again = data.build_features(tiny, ["image"], cache_dir=cache, progress=False)["image"]
    assert built.shape == (tiny.n_items + 1, 1280) and (again == built).all()
    handmade = data.build_features(tiny, ["image"], cache_dir=cache, progress=False,
                                   image_encoder="handmade")["image"]
    assert handmade.shape[1] == images.IMAGE_DIM                     # another encoder, another table
    picture = tiny.image_paths[1]
    st = os.stat(picture)
    os.utime(picture, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))   # a changed picture ...
    try:
        with pytest.raises(pytest.fail.Exception, match="rebuilt"):  # ... is encoded again
            data.build_features(tiny, ["image"], cache_dir=cache, progress=False)
    finally:
        os.utime(picture, ns=(st.st_atime_ns, st.st_mtime_ns))


def test_without_the_extra_auto_falls_back_with_one_warning(tiny, tmp_path, monkeypatch):
    monkeypatch.setattr(efficientnet, "installed", lambda: False)
    assert image_encoders.resolve("auto") == "handmade" and image_encoders.width() == images.IMAGE_DIM
    with pytest.warns(UserWarning) as caught:
        table = data.build_features(tiny, ["image"], cache_dir=tmp_path, progress=False)["image"]
    messages = [str(w.message) for w in caught]
    assert messages == [image_encoders.FALLBACK_WARNING] and "\n" not in messages[0]
    assert table.shape == (tiny.n_items + 1, images.IMAGE_DIM)
    with warnings.catch_warnings():
        warnings.simplefilter("error")                               # cached: no second warning
        data.build_features(tiny, ["image"], cache_dir=tmp_path, progress=False)


def test_asking_for_the_missing_extra_is_one_sentence(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(efficientnet, "installed", lambda: False)
    with pytest.raises(SystemExit) as stop:
        data_main(["features", "toyshop-tiny", "--modalities", "image", "--image-encoder",
                   "efficientnet-lite0", "--cache-dir", str(tmp_path), "--no-progress"])
    err = capsys.readouterr().err.strip().splitlines()
    assert stop.value.code == 2 and len(err) == 1
    assert "--image-encoder efficientnet-lite0" in err[0] and "tiny_mmmlp[image]" in err[0]
