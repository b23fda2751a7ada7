"""The model card (README.md of a run folder): written for each run, never over the user's own README."""
import warnings

import pytest

from tiny_mmmlp import data
from tiny_mmmlp.model_card import HEADING, model_card, write_model_card

METRICS = {"HR@10": 0.5, "NDCG@10": 0.25, "MRR@10": 0.125, "HR@20": 0.75, "NDCG@20": 0.3, "MRR@20": 0.2}


def result(data_source="toyshop-tiny"):
    return {"model": "mmmlp", "backend": "numpy", "data": data_source, "modalities": ["id", "text"],
            "settings": {"model": "mmmlp", "d_model": 64, "seed": 3, "data": data_source, "out": None},
            "protocol": "history items not masked", "best_epoch": 4, "epochs": 7, "test": METRICS,
            "popularity": {k: v / 2 for k, v in METRICS.items()}}


def test_the_card_names_the_data_settings_metrics_and_how_to_load_it():
    ds = data.load("toyshop-tiny")
    card = model_card(result(), ds)
    assert card.startswith(HEADING)
    for words in ("name: toyshop-tiny", f"{ds.n_users} users, {ds.n_items} items, {ds.n_interactions} interactions",
                  "- d_model: 64", "- seed: 3", "| mmmlp | 0.5000 | 0.2500 | 0.1250 | 0.7500 | 0.3000 | 0.2000 |",
                  "| popularity | 0.2500 |", "Best validation epoch 4 of 7", "tiny_mmmlp.load(",
                  "tiny-mmmlp recommend", "tiny-mmmlp evaluate"):
        assert words in card, words
    assert "--data" not in card                          # a built-in name finds its data itself
    by_name = model_card(result("shop"), ds.__class__(**{**ds.__dict__, "name": "shop"}))
    assert "its path is not kept" in by_name and "--data path/to/your/data" in by_name


def test_a_readme_of_the_users_own_is_left_alone(tmp_path):
    ds = data.load("toyshop-tiny")
    (tmp_path / "README.md").write_text("my notes\n")
    with pytest.warns(UserWarning, match="README.md of your own"):
        assert write_model_card(tmp_path, result(), ds) is None
    assert (tmp_path / "README.md").read_text() == "my notes\n"
    (tmp_path / "README.md").write_text(HEADING + "\nan older card\n")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        write_model_card(tmp_path, result(), ds)
    assert "an older card" not in (tmp_path / "README.md").read_text()
