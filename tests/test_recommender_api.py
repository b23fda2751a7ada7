"""The Python API: tiny_mmmlp.load(run) -> Recommender, speaking raw user and item ids."""
import shutil

import numpy as np
import pytest
from faults import assert_one_sentence, call
from trained_run import renamed_items, rewrite_model, shuffled_items

import tiny_mmmlp
from tiny_mmmlp.errors import UserError
from tiny_mmmlp.evaluate import main as evaluate_main
from tiny_mmmlp.model_file import MODEL_FILE
from tiny_mmmlp.recommend import main as recommend_main


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
