"""benchmarks/curves.py: several runs' curves in one figure, finished or not."""
import importlib.util
import json
import shutil
from pathlib import Path

import pytest
from small_model import small

from tiny_mmmlp.train import main as train_main

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "curves.py"
spec = importlib.util.spec_from_file_location("curves", SCRIPT)
curves = importlib.util.module_from_spec(spec)
spec.loader.exec_module(curves)

SMALL = small("--batch-size", "32", "--modalities", "id", "--epochs", "3", "--patience", "5")


def test_finished_and_unfinished_runs_are_drawn_with_their_best_epochs(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    train_main([*SMALL, "--out", str(tmp_path / "plain")])
    train_main([*SMALL, "--ema", "0.9", "--out", str(tmp_path / "ema")])
    plain, averaged = (json.loads((tmp_path / d / "metrics.json").read_text()) for d in ("plain", "ema"))
    going = tmp_path / "going"                       # a run with a checkpoint and no metrics.json
    going.mkdir()
    for f in (tmp_path / "ema").glob("checkpoint*"):
        shutil.copy(f, going / f.name)
    capsys.readouterr()
    assert curves.main([str(tmp_path / "plain"), f"{tmp_path / 'ema'}=averaged", str(going),
                        "--out", str(tmp_path / "c.png")]) == 0
    out = capsys.readouterr().out
    for label, run in (("plain", plain), ("averaged", averaged)):
        assert (f"{label}: 3 epochs, best NDCG@10 {run['valid']['NDCG@10']:.4f} at epoch "
                f"{run['best_epoch']}") in out
    assert "going: 3 epochs so far" in out
    assert (tmp_path / "c.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("case", ["missing", "same label", "damaged", "damaged checkpoint"])
def test_bad_runs_are_one_sentence_and_exit_2(tmp_path, capsys, case):
    if case == "missing":
        argv, says = [str(tmp_path / "nothing")], "holds no run"
    elif case == "damaged":                          # a metric that is not a number
        (tmp_path / "a").mkdir()
        epoch = {"epoch": 1, "loss": 5.0, "examples_per_s": 9.0,
                 "valid": {"NDCG@10": "x", "HR@10": 0.1}}
        (tmp_path / "a" / "metrics.json").write_text(json.dumps({"history": [epoch]}))
        argv, says = [str(tmp_path / "a")], "history entry 1 is not an epoch record"
    elif case == "damaged checkpoint":               # said as itself, not as a --resume failure
        (tmp_path / "a").mkdir()
        (tmp_path / "a" / "checkpoint.json").write_text("{not json")
        argv, says = [str(tmp_path / "a")], f"{tmp_path / 'a' / 'checkpoint.json'} is not a readable"
    else:
        (tmp_path / "a").mkdir()
        argv, says = [f"{tmp_path / 'a'}=x", f"{tmp_path / 'a'}=x"], "two runs have this label"
    with pytest.raises(SystemExit) as stop:
        curves.main([*argv, "--out", str(tmp_path / "c.png")])
    err = capsys.readouterr().err
    assert stop.value.code == 2 and says in err and len(err.strip().splitlines()) == 1
    assert "--resume" not in err
    assert not (tmp_path / "c.png").exists()
