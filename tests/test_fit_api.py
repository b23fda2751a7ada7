"""tiny_mmmlp.fit: the command line's settings as keyword arguments, the same run folder, and
errors that name the keyword the caller gave."""
import importlib.util
import json
import os
import re
from pathlib import Path

import pytest

import tiny_mmmlp
from tiny_mmmlp.errors import UserError

SMALL = dict(data="toyshop-tiny", max_len=6, d_model=8, token_hidden=4, channel_hidden=8, n_layers=1,
             modalities="id,category", epochs=1, no_progress=True)
PACKAGE = Path(tiny_mmmlp.__file__).parent
CLI_LAYER = {"cli.py", "run_flags.py", "recommend.py", "evaluate.py", "__main__.py"}


def test_fit_writes_the_run_folder_and_returns_its_recommender(tmp_path):
    rec = tiny_mmmlp.fit(**SMALL, out=str(tmp_path / "r"))
    metrics = json.loads((tmp_path / "r" / "metrics.json").read_text())
    saved = json.loads((tmp_path / "r" / "config.json").read_text())["settings"]
    assert saved == metrics["settings"] and saved["d_model"] == 8 and saved["out"] is None   # no path kept
    assert rec.run == tmp_path / "r"
    assert rec.evaluate() == metrics["test"]
    top = rec.recommend([rec.users[0]], k=3)
    assert len(top) == 1 and len(top[0]) == 3 and all(isinstance(i, str) for i in top[0])


@pytest.mark.parametrize("settings, said", [
    ({"d_model": 0}, "d_model: must be a positive integer, got 0"),
    ({"epochs": "ten"}, "epochs: must be a positive integer, got 'ten'"),
    ({"warmup_epochs": 1e308}, "warmup_epochs 1e+308: longer than the run (epochs 1)"),
    ({"model": "sasrec", "fusion_layers": 3}, "fusion_layers: model sasrec has no such part"),
    ({"modalities": "id,smell"}, "modalities 'id,smell': no modality smell"),
    ({"lerning_rate": 0.1}, "unknown setting 'lerning_rate'"),
])
def test_an_error_names_the_keyword_not_a_flag(tmp_path, settings, said):
    with pytest.raises(UserError) as err:
        tiny_mmmlp.fit(**{**SMALL, "out": str(tmp_path / "r"), **settings})
    assert said in str(err.value) and "--" not in str(err.value)
    assert not (tmp_path / "r").exists()


def test_only_the_command_line_layer_imports_argparse():
    users = sorted(str(p.relative_to(PACKAGE)) for p in PACKAGE.rglob("*.py")
                   if re.search(r"^\s*(import argparse|from argparse)", p.read_text(), re.M))
    assert [u for u in users if Path(u).name not in CLI_LAYER] == []
    assert "argparse" not in (PACKAGE / "train.py").read_text()


# ---- DataFrames in, results out, cells run again ---------------------------------------------

def toyshop_frame(columns=("user_id", "item_id", "timestamp")):
    """toyshop-tiny's interactions as a pandas DataFrame (rows shuffled: times give the order)."""
    import pandas as pd

    from tiny_mmmlp import data
    ds = data.load("toyshop-tiny")
    rows = [(u, ds.item_ids[i - 1], float(t)) for u, s, ts in zip(ds.user_ids, ds.sequences, ds.times)
            for i, t in zip(s, ts)]
    return pd.DataFrame(rows, columns=list(columns)).sample(frac=1.0, random_state=0), ds


FRAME_SMALL = {k: v for k, v in SMALL.items() if k not in ("data", "modalities")}


def test_fit_on_a_dataframe_trains_on_its_interactions_and_reuses_its_folder(tmp_path, monkeypatch):
    pytest.importorskip("pandas")
    monkeypatch.chdir(tmp_path)
    df, ds = toyshop_frame(("uid", "product", "when"))
    rec = tiny_mmmlp.fit(data=df, user_col="uid", item_col="product", time_col="when", **FRAME_SMALL)
    assert rec.run == Path("runs/frame-all-numpy").resolve()
    got = rec.dataset()
    assert sorted(got.user_ids) == sorted(ds.user_ids) and got.n_interactions == ds.n_interactions
    order = {u: [ds.item_ids[i - 1] for i in s] for u, s in zip(ds.user_ids, ds.sequences)}
    assert all(rec.user_history(u) == order[u] for u in ds.user_ids[:20])      # sorted by time again
    folders = list((Path(os.environ["TINY_MMMLP_CACHE"]) / "frames").iterdir())
    again = tiny_mmmlp.fit(data=df, user_col="uid", item_col="product", time_col="when", **FRAME_SMALL)
    assert list((Path(os.environ["TINY_MMMLP_CACHE"]) / "frames").iterdir()) == folders   # reused
    assert again.run == Path("runs/frame-all-numpy-2").resolve()             # a new run folder
    assert (rec.run / "model.safetensors").is_file()                         # the first run kept
    assert again.evaluate() == rec.evaluate()
    assert again.dataset().folder == rec.dataset().folder
    loaded = tiny_mmmlp.load(rec.run, data=df, user_col="uid", item_col="product", time_col="when")
    assert loaded.evaluate() == rec.evaluate() and loaded.dataset().folder == rec.dataset().folder
    with pytest.raises(UserError) as err:                              # its path is not in the model
        tiny_mmmlp.load(rec.run).users
    assert "trained on the data frame" in str(err.value)


def test_a_dataframe_with_dates_or_without_times(tmp_path, monkeypatch):
    pd = pytest.importorskip("pandas")
    monkeypatch.chdir(tmp_path)
    df, ds = toyshop_frame()
    dated = df.assign(timestamp=pd.to_datetime(df["timestamp"], unit="s"))
    rec = tiny_mmmlp.fit(data=dated, time_col="timestamp", **FRAME_SMALL)      # default id columns
    user = ds.user_ids[0]
    assert rec.user_history(user) == [ds.item_ids[i - 1] for i in ds.sequences[0]]
    in_order = df.sort_values("timestamp", kind="stable").drop(columns="timestamp")
    plain = tiny_mmmlp.fit(data=in_order, **FRAME_SMALL)                    # row order is time order
    assert plain.user_history(user) == rec.user_history(user)


@pytest.mark.parametrize("given, said", [
    ({"data": [("u", "i")]}, "data: must be a data set name, a path or a pandas DataFrame, got a list"),
    ({"user_col": "uid"}, "user_col: only with a pandas DataFrame as data"),
])
def test_data_that_is_no_source_is_one_sentence_without_the_object(tmp_path, given, said):
    with pytest.raises(UserError) as err:
        tiny_mmmlp.fit(**{**SMALL, "out": str(tmp_path / "r"), **given})
    assert str(err.value) == said and not (tmp_path / "r").exists()


def test_a_dataframe_error_names_the_column_not_the_frame(tmp_path):
    pytest.importorskip("pandas")
    df, _ = toyshop_frame()
    for kwargs, said in (({"user_col": "customer"}, "user_col 'customer': no such column in the DataFrame"),
                         ({"time_col": "user_id"}, "time_col 'user_id': neither numbers nor dates")):
        with pytest.raises(UserError) as err:
            tiny_mmmlp.fit(data=df, **kwargs, **FRAME_SMALL, out=str(tmp_path / "r"))
        text = str(err.value)
        assert said in text and "\n" not in text and "P0001" not in text and len(text) < 200
    gap = df.copy()
    gap.loc[gap.index[3], "item_id"] = None
    with pytest.raises(UserError) as err:
        tiny_mmmlp.fit(data=gap, **FRAME_SMALL, out=str(tmp_path / "r"))
    assert str(err.value) == f"item_col 'item_id': the row with index {gap.index[3]!r} has no id"


def test_a_csv_given_as_data_is_named_with_both_ways_on(tmp_path):
    pytest.importorskip("pandas")
    df, _ = toyshop_frame()
    df.to_csv(tmp_path / "events.csv", index=False)
    with pytest.raises(UserError) as err:
        tiny_mmmlp.fit(**{**SMALL, "data": str(tmp_path / "events.csv"), "out": str(tmp_path / "r")})
    text = str(err.value)
    assert "pandas.read_csv(" in text
    assert f"python -m tiny_mmmlp.data convert --interactions {tmp_path / 'events.csv'} --out FOLDER" in text


def test_keyword_sentence_keeps_the_flags_of_a_quoted_command():
    from tiny_mmmlp.api import keyword_sentence
    text = "--d-model 0: bad; convert it once with: python -m tiny_mmmlp.data convert --interactions x.csv --out F"
    assert keyword_sentence(text) == ("d_model 0: bad; convert it once with: python -m tiny_mmmlp.data "
                                      "convert --interactions x.csv --out F")


def test_results_are_on_the_recommender(tmp_path):
    rec = tiny_mmmlp.fit(**{**SMALL, "epochs": 2, "patience": 5}, out=str(tmp_path / "r"))
    saved = json.loads((tmp_path / "r" / "metrics.json").read_text())
    assert rec.metrics["test"] == saved["test"] and rec.metrics["valid"] == saved["valid"]
    assert rec.metrics["best_epoch"] == saved["best_epoch"] and rec.metrics["epochs"] == 2
    assert [h["epoch"] for h in rec.history] == [1, 2] and rec.history == saved["history"]
    assert rec.history(rec.users[0]) == rec.user_history(rec.users[0])          # the older call
    if importlib.util.find_spec("pandas"):
        frame = rec.history_frame()
        assert list(frame["epoch"]) == [1, 2] and list(frame["valid NDCG@10"]) == [
            h["valid"]["NDCG@10"] for h in saved["history"]]
    if importlib.util.find_spec("matplotlib"):
        fig = rec.plot_curves()
        assert len(fig.axes) == 2 and list(fig.axes[0].lines[0].get_xdata()) == [1, 2]


def test_fit_without_out_never_replaces_an_earlier_run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    first = tiny_mmmlp.fit(**SMALL)
    before = (first.run / "model.safetensors").read_bytes()
    second = tiny_mmmlp.fit(**{**SMALL, "seed": 1})
    third = tiny_mmmlp.fit(**SMALL)
    assert [r.run.name for r in (first, second, third)] == [
        "toyshop-tiny-id+category-numpy", "toyshop-tiny-id+category-numpy-2", "toyshop-tiny-id+category-numpy-3"]
    assert (first.run / "model.safetensors").read_bytes() == before
    with pytest.raises(UserError) as err:                         # an explicit out is still guarded
        tiny_mmmlp.fit(**SMALL, out=str(first.run))
    assert "already holds a run" in str(err.value)
