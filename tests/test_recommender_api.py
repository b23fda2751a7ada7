"""The Python API: tiny_mmmlp.load(run) -> Recommender, speaking raw user and item ids."""
import json
import shutil

import numpy as np
import pytest
from faults import assert_one_sentence, call
from trained_run import SMALL as TRAIN_SMALL
from trained_run import renamed_items, rewrite_model, shuffled_items, toyshop_copy

import tiny_mmmlp
from tiny_mmmlp.errors import UserError
from tiny_mmmlp.evaluate import main as evaluate_main
from tiny_mmmlp.model_file import MODEL_FILE
from tiny_mmmlp.recommend import main as recommend_main
from tiny_mmmlp.train import main as train_main


def test_recommend_and_history_speak_raw_ids(trained):
    rec = tiny_mmmlp.load(trained.folder)
    users = rec.users[:3]
    recs = rec.recommend(users, k=5)
    assert len(recs) == 3 and all(len(r) == 5 and len(set(r)) == 5 for r in recs)
    assert all(item in set(rec.item_ids) for r in recs for item in r)
    history = rec.history(users[0])
    assert history and all(isinstance(i, str) for i in history)
    assert recs[0] == rec.recommend_history(history, k=5)          # a user is their history
    assert rec.recommend(users[0], k=5) == recs[:1]                # one id: still one list per user
    unseen = rec.recommend(users[:1], k=len(rec.item_ids), exclude_history=True)[0]
    assert set(unseen) == set(rec.item_ids) - set(history)         # every unseen item, once


def test_evaluate_equals_the_runs_metrics(trained):
    assert tiny_mmmlp.load(trained.folder).evaluate() == trained.metrics["test"]


def test_the_model_folder_alone_recommends_for_raw_item_ids(trained, tmp_path, monkeypatch):
    alone = tmp_path / "alone"
    alone.mkdir()
    shutil.copy(trained.folder / MODEL_FILE, alone / MODEL_FILE)
    rewrite_model(alone, run={"data": str(tmp_path / "gone")})      # its data is nowhere
    expected = tiny_mmmlp.load(trained.folder).recommend_history(["P0001", "P0002"], k=4)
    rec = tiny_mmmlp.load(alone)
    assert rec.recommend_history(["P0001", "P0002"], k=4) == expected
    with pytest.raises(UserError) as err:                           # a user needs the data
        rec.history("U00000")
    assert str(tmp_path / "gone") in str(err.value) and "--" not in str(err.value)


def test_the_command_line_names_data_for_a_missing_data_folder(trained, tmp_path, capsys):
    run = tmp_path / "run"
    shutil.copytree(trained.folder, run)
    rewrite_model(run, run={"data": str(tmp_path / "gone")})
    for main, extra in ((recommend_main, ["--user", "U00000"]), (evaluate_main, [])):
        rc, _, err = call(main, [run, *extra], capsys)
        assert_one_sentence(rc, err, str(tmp_path / "gone"), "--data")
    rc, out, err = call(recommend_main, [run, "--items", "P0001,P0002", "--k", "3"], capsys)
    assert rc == 0 and out.count("\n") >= 4, err                   # the model file alone


def test_a_shuffled_item_file_gives_the_same_recommendations_by_raw_id(trained, tmp_path):
    shuffled = shuffled_items(tmp_path / "shuffled")
    rec = tiny_mmmlp.load(trained.folder)
    moved = tiny_mmmlp.load(trained.folder, data=shuffled)
    assert moved.dataset().item_ids == rec.item_ids
    users = rec.users
    assert moved.recommend(users, k=10) == rec.recommend(users, k=10)
    assert rec.evaluate(data=shuffled) == trained.metrics["test"]


def test_other_items_of_the_same_count_are_refused_naming_them(trained, tmp_path, capsys):
    other = renamed_items(tmp_path / "other", {"P0001": "Q0001", "P0002": "Q0002"})
    rec = tiny_mmmlp.load(trained.folder)
    with pytest.raises(UserError) as err:
        rec.evaluate(data=other)
    for word in ("P0001", "P0002", "Q0001", "2 of the model's items"):
        assert word in str(err.value)
    rc, _, err = call(evaluate_main, [trained.folder, "--data", other], capsys)
    assert_one_sentence(rc, err, "P0001", "Q0002")


def test_api_errors_are_one_sentence_without_flags(trained):
    rec = tiny_mmmlp.load(trained.folder)
    for bad in (lambda: rec.history("nobody"), lambda: rec.recommend(["nobody"]),
                lambda: rec.recommend_history(["no-such-item"]), lambda: rec.recommend_history([]),
                lambda: rec.recommend_history(["P0001"], k=0), lambda: tiny_mmmlp.load("/no/such/run")):
        with pytest.raises(UserError) as err:
            bad()
        text = str(err.value)
        assert "--" not in text and "\n" not in text and text


# set by other libraries as they load (threadpoolctl and scikit-learn on import, torch's
# compiler cache on first use), never by tiny_mmmlp
LIBRARIES_SET = {"KMP_DUPLICATE_LIB_OK", "KMP_INIT_AT_FORK", "TORCHINDUCTOR_CACHE_DIR"}


def test_training_leaves_the_callers_environment_as_it_was(trained):
    before, after = trained.environ_before, trained.environ_after
    changed = {k for k in set(before) | set(after) if before.get(k) != after.get(k)}
    assert changed <= LIBRARIES_SET, sorted(changed - LIBRARIES_SET)
    for name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):    # text features set these once
        assert before.get(name) == after.get(name)


# ---- DataFrames of recommendations, scored against the held-out items -------------------------

def test_recommend_frame_has_the_csv_exports_columns_and_rows(trained, tmp_path, capsys):
    pytest.importorskip("pandas")
    rec = tiny_mmmlp.load(trained.folder)
    frame = rec.recommend_frame(users="all", k=3)
    assert list(frame.columns) == ["user_id", "rank", "item_id", "score"]
    assert len(frame) == 3 * len(rec.users) and list(frame["rank"][:3]) == [1, 2, 3]
    some = rec.users[:4]
    listed = rec.recommend_frame(users=some, k=3)
    assert list(listed["user_id"].unique()) == some
    assert [list(listed[listed.user_id == u]["item_id"]) for u in some] == rec.recommend(some, k=3)
    rc, _, err = call(recommend_main, [trained.folder, "--users", ",".join(some), "--k", "3", "--format", "csv",
                                       "--output", tmp_path / "recs.csv"], capsys)
    import pandas as pd
    csv = pd.read_csv(tmp_path / "recs.csv", dtype={"user_id": str, "item_id": str})
    assert rc == 0 and list(csv.columns) == list(listed.columns), err
    assert csv[["user_id", "rank", "item_id"]].equals(listed[["user_id", "rank", "item_id"]])
    assert (csv["score"] - listed["score"]).abs().max() < 1e-6
    unseen = rec.recommend_frame(users=some[:1], k=len(rec.item_ids), exclude_history=True)
    assert set(unseen["item_id"]) == set(rec.item_ids) - set(rec.user_history(some[0]))


def test_evaluate_frame_of_the_held_out_lists_is_the_runs_test_metrics(trained):
    pytest.importorskip("pandas")
    rec = tiny_mmmlp.load(trained.folder)
    recs = rec.recommend_frame(k=20, split="leave-one-out")             # histories less the test item
    scored = rec.evaluate_frame(recs, k=[10, 20])
    for name, value in trained.metrics["test"].items():                 # HR, NDCG, MRR @10, @20
        assert scored[name] == pytest.approx(value, abs=1e-12), name
    assert scored["Recall@10"] == scored["HR@10"] and scored["Precision@10"] == pytest.approx(scored["HR@10"] / 10)
    from tiny_mmmlp.metrics import evaluate_frame
    assert evaluate_frame(recs, rec.held_out(), k=[10, 20]) == {k: v for k, v in scored.items()
                                                                  if not k.startswith("Coverage")}
    after_all = rec.evaluate_frame(rec.recommend_frame(k=20), k=20)     # lists that read the answer
    assert after_all != scored


def test_evaluate_frame_counts_a_user_without_recommendations_as_a_miss(trained):
    pytest.importorskip("pandas")
    rec = tiny_mmmlp.load(trained.folder)
    recs = rec.recommend_frame(k=10, split="leave-one-out")
    tested = len(rec.held_out())
    half = recs[recs.user_id.isin(list(rec.held_out())[: tested // 2])]
    full, part = rec.evaluate_frame(recs, k=10), rec.evaluate_frame(half, k=10)
    hits_in_half = rec.evaluate_frame(half, k=10)["HR@10"] * tested
    assert part["HR@10"] <= full["HR@10"] and hits_in_half == pytest.approx(round(hits_in_half))
    with pytest.raises(UserError) as err:
        rec.evaluate_frame(recs.drop(columns="item_id"))
    assert "item_id" in str(err.value) and "\n" not in str(err.value)


def test_the_time_split_recommends_before_and_scores_after_the_cutoff(trained):
    pytest.importorskip("pandas")
    rec = tiny_mmmlp.load(trained.folder)
    held = rec.held_out(split="time", cutoff=0.8)
    ds = rec.dataset()
    from tiny_mmmlp.data.split import split_by_time
    cutoff = split_by_time(ds, 0.8).cutoff
    times = np.concatenate(ds.times)
    assert abs((times >= cutoff).mean() - 0.2) <= 1 / len(times)         # the last 20 % held out
    for user in held:
        row = ds.user_ids.index(user)
        after = {ds.item_ids[i - 1] for i, t in zip(ds.sequences[row], ds.times[row]) if t >= cutoff}
        assert held[user] == after and min(ds.times[row]) < cutoff
    recs = rec.recommend_frame(k=50, split="time", cutoff=0.8)
    assert set(recs["user_id"]) == set(held)
    by_model = rec.evaluate(k=[5, 50], split="time", cutoff=0.8)
    by_frame = rec.evaluate_frame(recs, k=[5, 50], split="time", cutoff=0.8)
    for name in ("HR@5", "Recall@50", "MAP@50", "NDCG@50", "Precision@5"):
        assert by_model[name] == pytest.approx(by_frame[name]), name    # no ties in float scores here
    with pytest.raises(UserError) as err:
        rec.evaluate(split="time")
    assert "cutoff" in str(err.value) and "--" not in str(err.value)


def test_load_refuses_data_that_is_no_source_without_printing_it(trained):
    with pytest.raises(UserError) as err:
        tiny_mmmlp.load(trained.folder, data=42)
    assert str(err.value) == "data: must be a data set name, a path or a pandas DataFrame, got an int"


def test_a_model_trained_on_a_folder_names_its_data_without_its_path(trained, tmp_path, capsys):
    folder = toyshop_copy(tmp_path / "shop")
    for f in folder.glob("toyshop-tiny.*"):
        f.rename(folder / f"shop{f.suffix}")
    run = tmp_path / "run"
    train_main([str(folder) if a == "toyshop-tiny" else a for a in TRAIN_SMALL] + ["--out", str(run)])
    capsys.readouterr()
    for f in run.iterdir():                                          # no path of this machine
        if f.is_file() and f.suffix in (".json", ".md", ".safetensors"):
            assert str(tmp_path).encode() not in f.read_bytes(), f.name
    card = (run / "README.md").read_text()
    assert "# tiny_mmmlp model card" in card and "shop" in card and "150 users" in card
    assert f"{json.loads((run / 'metrics.json').read_text())['test']['NDCG@10']:.4f}" in card
    with pytest.raises(UserError) as err:
        tiny_mmmlp.load(run).users
    assert "trained on the data shop" in str(err.value) and "data=" in str(err.value)
    assert tiny_mmmlp.load(run, data=folder).evaluate() == json.loads((run / "metrics.json").read_text())["test"]
    rc, _, err = call(evaluate_main, [run], capsys)
    assert_one_sentence(rc, err, "shop", "--data")
    rc, out, err = call(evaluate_main, [run, "--data", folder], capsys)
    assert rc == 0, err


def test_a_folder_whose_name_is_a_built_in_source_is_not_taken_for_it():
    from tiny_mmmlp.run_config import shared_source
    assert shared_source("toyshop", "toyshop") == "toyshop"
    assert shared_source("amazon2018:Beauty", "Beauty") == "amazon2018:Beauty"
    assert shared_source("/home/me/data/shop", "shop") == "shop"
    assert shared_source("/home/me/copy", "toyshop-tiny") == "toyshop-tiny (given as a path)"
@pytest.mark.parametrize("V", [50, 5000, 40_000])
def test_top_items_equals_a_stable_sort_of_the_whole_row(V):
    """top_items partitions only the items at or above a cheap floor on a large catalogue;
    the result is the stable sort's first k, ties to the lower index, -inf never returned."""
    from tiny_mmmlp.recommender import top_items
    rng = np.random.default_rng(V)
    scores = rng.integers(0, 40, size=(6, V + 1)).astype(np.float32)    # many ties
    scores[:, 0] = -np.inf
    scores[1, 1:] = 7.0                                                 # a row of one score
    scores[2, 1:-3] = -np.inf                                           # fewer finite items than k
    for k in (1, 5, 20):
        got = top_items(scores, k)
        for row, top in zip(scores, got):
            order = np.argsort(-row, kind="stable")[:k]
            want = [(int(i), float(row[i])) for i in order if np.isfinite(row[i])]
            assert top == want


def test_more_metrics_rank_in_bounded_blocks_with_the_same_figures(trained, monkeypatch):
    """evaluate(k=...) and the time split score users in blocks of at most SCORE_BYTES of
    scores (a large catalogue's 512 users would not fit); tiny blocks give the same figures."""
    import tiny_mmmlp.backends as backends
    rec = tiny_mmmlp.load(trained.folder)
    whole = rec.evaluate(k=[5, 20]), rec.evaluate(k=[5], split="time", cutoff=0.8)
    monkeypatch.setattr(backends, "SCORE_BYTES", 4 * (len(rec.item_ids) + 1) * 3)     # 3 users a block
    sizes, scores = [], rec._scores
    monkeypatch.setattr(rec, "_scores", lambda seq: sizes.append(len(seq)) or scores(seq))
    assert (rec.evaluate(k=[5, 20]), rec.evaluate(k=[5], split="time", cutoff=0.8)) == whole
    assert sizes and max(sizes) <= 3
