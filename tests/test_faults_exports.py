"""Fault suite, exports: ids from other people's data are written so that opening the output
is safe (one writer for the table, CSV and JSON lines, exports.py).

A CSV cell starting like a formula is neutralised, a control character is quoted so the file
reads back row for row, terminal escape sequences never reach the terminal raw, and a lone
surrogate is written as its escape instead of crashing the writer.
"""
import csv
import io

import pytest
from faults import MODEL_FLAGS, call

from tiny_mmmlp.exports import render
from tiny_mmmlp.recommend import main as recommend_main
from tiny_mmmlp.train import main as train_main

HOSTILE = ["=1+1", "+cmd", "-2", "@SUM(A1)", "a\rb", "\x1b[31mred\x1b[0m", "plain", 'q"uote', "c,omma",
           "\u202eevil", "x\x07bell"]
ROWS = [("=HYPERLINK(\"http://x\")", [(i, 0.5) for i in HOSTILE]), ("\udc80lone", [("\udcff", -1.0)])]


def test_csv_neutralises_formulas_and_reads_back_row_for_row():
    text = render(ROWS, "csv")
    text.encode("utf-8")                                   # no lone surrogate left
    rows = list(csv.reader(io.StringIO(text, newline="")))
    assert rows[0] == ["user_id", "rank", "item_id", "score"] and len(rows) == 1 + len(HOSTILE) + 1
    for (user, rank, item, score), want in zip(rows[1:], HOSTILE):
        assert user == "'=HYPERLINK(\"http://x\")"
        assert item == ("'" + want if want[0] in "=+-@" else want)
        assert not item.startswith(("=", "+", "-", "@"))
    assert rows[-1][0] == "\\udc80lone" and rows[-1][2] == "\\udcff" and rows[-1][3] == "-1.000000"


def test_the_table_sends_no_control_character_to_the_terminal():
    text = render(ROWS, "table", {"plain": "title \x1b]0;pwned\x07"})
    text.encode("utf-8")
    assert all(c.isprintable() for line in text.splitlines() for c in line), repr(text)
    assert "\\x1b[31mred" in text and "\\u202eevil" in text and "title \\x1b]0;pwned\\x07" in text


@pytest.fixture(scope="module")
def hostile_run(tmp_path_factory):
    """A run trained on items whose ids are formulas, escape sequences and a carriage return."""
    folder = tmp_path_factory.mktemp("hostile")
    data = folder / "shop"
    data.mkdir()
    lines = ["user_id:token\titem_id:token\ttimestamp:float"]
    lines += [f"u{u}\t{HOSTILE[(u + j) % len(HOSTILE)]}\t{j}" for u in range(12) for j in range(5)]
    (data / "shop.inter").write_text("\n".join(lines) + "\n")
    rc = train_main(["--data", str(data), "--modalities", "id", *MODEL_FLAGS, "--out", str(folder / "run")])
    assert not rc
    return folder / "run"


def test_recommend_exports_hostile_ids_safely(hostile_run, tmp_path, capsys):
    data = ["--data", hostile_run.parent / "shop"]          # a run folder keeps no path: its data is given
    rc, out, err = call(recommend_main, [hostile_run, *data, "--users", "all", "--format", "csv",
                                         "--output", tmp_path / "r.csv"], capsys)
    assert rc == 0, err
    cells = [row[2] for row in csv.reader(io.StringIO((tmp_path / "r.csv").read_bytes().decode(), newline=""))][1:]
    assert len(cells) == 12 * 10
    assert not [c for c in cells if c.startswith(("=", "+", "-", "@"))]
    assert "a\rb" in cells
    for argv in (["--users", "all"], ["--user", "u0"]):
        rc, out, err = call(recommend_main, [hostile_run, *data, *argv], capsys)
        assert rc == 0, err
        assert "\x1b" not in out and "\r" not in out and "\u202e" not in out
        assert "\\x1b[31mred" in out
