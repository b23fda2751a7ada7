"""benchmarks/pool_weights.py: the history pool's weights of saved runs, printed and drawn."""
import importlib.util
from pathlib import Path

import numpy as np
import pytest
from small_model import small

from tiny_mmmlp.model_file import load_model
from tiny_mmmlp.train import main as train_main

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "pool_weights.py"
spec = importlib.util.spec_from_file_location("pool_weights", SCRIPT)
pool_weights = importlib.util.module_from_spec(spec)
spec.loader.exec_module(pool_weights)

SMALL = small("--batch-size", "32", "--modalities", "id", "--epochs", "2")


def test_the_weights_are_printed_most_recent_first_and_drawn(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    train_main([*SMALL, "--history-pool", "--out", str(tmp_path / "pool")])
    a = load_model(tmp_path / "pool")[0]["head.history_pool"]
    capsys.readouterr()
    assert pool_weights.main([f"{tmp_path / 'pool'}=pooled", "--out", str(tmp_path / "w.png"), "--show", "3"]) == 0
    out = capsys.readouterr().out
    assert f"pooled: a_t from the most recent back: {a[-1]:+.3f} {a[-2]:+.3f} {a[-3]:+.3f}\n" in out
    assert np.any(a != 0.0)
    assert (tmp_path / "w.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_run_without_the_pool_is_one_sentence(tmp_path, capsys):
    train_main([*SMALL, "--no-history-pool", "--out", str(tmp_path / "plain")])
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit:
        pool_weights.main([str(tmp_path / "plain"), "--out", str(tmp_path / "w.png")])
    assert exit.value.code == 2
    err = capsys.readouterr().err
    assert "has no history pool" in err and "Traceback" not in err and not (tmp_path / "w.png").exists()
