"""benchmarks/by_length.py: user groups by history length, and that the groups' metrics are
the same ranking rule as a run's own metrics.json."""
import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "by_length.py"
spec = importlib.util.spec_from_file_location("by_length", SCRIPT)
by_length = importlib.util.module_from_spec(spec)
spec.loader.exec_module(by_length)


def test_groups_are_half_open_ranges_from_the_shortest_history():
    lengths = np.array([3, 3, 4, 5, 9, 21, 30])
    parts = by_length.groups(lengths, [5, 8, 21])
    assert [label for label, _ in parts] == ["3-4", "5-7", "8-20", "21+"]
    assert [int(m.sum()) for _, m in parts] == [3, 1, 1, 2]
    # an edge at or below the shortest history adds no empty group; a one-wide group says one number
    assert [label for label, _ in by_length.groups(np.array([4, 5, 6]), [3, 4, 5])] == ["4", "5+"]


@pytest.mark.parametrize("edges", ["5,5", "8,5", "x", "1,4", ""])
def test_bad_edges_are_one_sentence_and_exit_2(edges, capsys):
    with pytest.raises(SystemExit) as stop:
        by_length.main(["somewhere", "--edges", edges])
    assert stop.value.code == 2
    assert "--edges" in capsys.readouterr().err


def test_a_folder_without_a_run_is_named(tmp_path, capsys):
    with pytest.raises(SystemExit) as stop:
        by_length.main([str(tmp_path)])
    assert stop.value.code == 2
    assert f"{tmp_path}: holds no finished run" in capsys.readouterr().err


def test_the_groups_add_up_to_the_runs_own_metrics(tmp_path, capsys):
    run = tmp_path / "run"
    subprocess.run([sys.executable, "-m", "tiny_mmmlp.train", "--data", "toyshop-tiny", "--backend", "torch",
                    "--modalities", "id", "--epochs", "1", "--out", str(run), "--no-progress"],
                   check=True, capture_output=True, cwd=SCRIPT.parents[1])
    saved = json.loads((run / "metrics.json").read_text())
    data_name, parts, rows = by_length.run_rows(run, [4, 6], "NDCG@10")
    assert data_name == "toyshop-tiny"
    users = np.array([n for _, n in parts])
    for split, per, whole in rows:
        assert whole == pytest.approx(saved[split]["NDCG@10"], abs=1e-9)       # the same rule
        assert np.dot(users, per) / users.sum() == pytest.approx(whole, abs=1e-12)  # the groups partition
    assert by_length.main([str(run), "--edges", "4,6", "--out", str(tmp_path / "t.md"),
                           "--plot", str(tmp_path / "p.png")]) == 0
    text = (tmp_path / "t.md").read_text()
    assert f"| run | valid | {saved['valid']['NDCG@10']:.4f} |" in text
    assert f"| users | | {users.sum()} | " in text
    assert (tmp_path / "p.png").stat().st_size > 1000
    # data that moved is named with --data; data with another item count is refused in one line
    assert by_length.run_rows(run, [4, 6], "NDCG@10", "toyshop-tiny") == (data_name, parts, rows)
    capsys.readouterr()
    with pytest.raises(SystemExit) as stop:
        by_length.main([str(run), "--data", "toyshop"])
    assert stop.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "data toyshop: its items are not the model's" in err[0]
