"""python -m tiny_mmmlp.recommend RUN --users all|FILE|ID[,ID...] --format table|csv|jsonl --output FILE."""
import csv
import io
import json

import pytest
from faults import Tree, assert_one_sentence, call
from trained_run import shuffled_items

import tiny_mmmlp
from tiny_mmmlp.recommend import main as recommend_main


def test_csv_has_one_row_per_recommendation(trained, tmp_path, capsys):
    rc, out, err = call(recommend_main, [trained.folder, "--users", "all", "--k", "3", "--format", "csv",
                                         "--output", tmp_path / "recs.csv"], capsys)
    assert rc == 0 and "recs.csv" in out, err
    rows = list(csv.DictReader(io.StringIO((tmp_path / "recs.csv").read_text())))
    rec = tiny_mmmlp.load(trained.folder)
    assert list(rows[0]) == ["user_id", "rank", "item_id", "score"]
    assert len(rows) == 3 * len(rec.users)
    by_user = {}
    for row in rows:
        by_user.setdefault(row["user_id"], []).append(row)
    assert list(by_user) == rec.users
    expected = rec.recommend(rec.users, k=3)
    for user, want in zip(rec.users, expected):
        got = by_user[user]
        assert [r["item_id"] for r in got] == want and [r["rank"] for r in got] == ["1", "2", "3"]
        scores = [float(r["score"]) for r in got]
        assert scores == sorted(scores, reverse=True)


def test_jsonl_has_one_object_per_user_and_the_same_with_shuffled_items(trained, tmp_path, capsys):
    users = tmp_path / "users.txt"
    users.write_text("user_id\nU00003\nU00001\n")               # a header line, as pandas writes
    argv = [trained.folder, "--users", users, "--k", "4", "--format", "jsonl", "--exclude-history"]
    rc, out, err = call(recommend_main, argv, capsys)
    assert rc == 0, err
    lines = [json.loads(line) for line in out.splitlines()]
    assert [o["user_id"] for o in lines] == ["U00003", "U00001"]
    assert all(len(o["items"]) == len(o["scores"]) == 4 for o in lines)
    assert lines[0]["items"] == tiny_mmmlp.load(trained.folder).recommend(["U00003"], 4, True)[0]
    rc, moved, err = call(recommend_main, [*argv, "--data", shuffled_items(tmp_path / "s")], capsys)
    assert rc == 0 and moved == out, err


def test_a_table_for_several_users_and_ids_on_the_line(trained, capsys):
    rc, out, err = call(recommend_main, [trained.folder, "--users", "U00001,U00002", "--k", "2"], capsys)
    assert rc == 0, err
    lines = out.splitlines()
    assert lines[0].split()[:4] == ["user_id", "rank", "item_id", "score"] and len(lines) == 1 + 2 * 2


@pytest.mark.parametrize("flags,word", [
    (["--users", "U00001", "--picture", "p.png"], "--picture"),
    (["--users", "nobody"], "nobody"),
    (["--users", ","], "--users"),
    (["--users", "all", "--format", "xml"], "--format"),
    (["--users", "all", "--output", "."], "--output"),
    (["--user", "U00001", "--users", "all"], "--users"),
])
def test_export_flags_refused_in_one_sentence(trained, tmp_path, monkeypatch, capsys, flags, word):
    monkeypatch.chdir(tmp_path)
    tree = Tree(tmp_path)
    rc, _, err = call(recommend_main, [trained.folder, *flags], capsys)
    assert_one_sentence(rc, err, word)
    tree.assert_unchanged()
