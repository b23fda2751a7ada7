"""benchmarks/first_run.py: the phases add up to the wall time, and a bad flag is one line."""
import shlex
import subprocess
import sys
from pathlib import Path

from faults import MODEL_FLAGS

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "first_run.py"


def seconds(row: str) -> float:
    return float(row.split("|")[2].strip().strip("*"))


def test_a_short_run_is_split_into_phases_that_add_up(tmp_path):
    out = subprocess.run([sys.executable, str(SCRIPT), "--data", "toyshop-tiny",
                          f"--flags={shlex.join([*MODEL_FLAGS, '--epochs', '2', '--modalities', 'id'])}", "--out", str(tmp_path / "t.md")],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    rows = {line.split("|")[1].strip().strip("*"): line for line in out.stdout.splitlines()
            if line.startswith("| ") and not line.startswith("| phase")}
    assert set(rows) == {"training", "validation", "start, data, test, saving", "wall"}
    parts = sum(seconds(rows[k]) for k in ("training", "validation", "start, data, test, saving"))
    assert abs(parts - seconds(rows["wall"])) < 0.3                     # rounding of three figures
    # (two epochs of the tiny model can round to 0.0 s on an idle machine: the sum is what is checked)
    assert seconds(rows["training"]) >= 0 and "2 epochs" in out.stdout and "not judged" in out.stdout
    assert (tmp_path / "t.md").read_text() in out.stdout


def test_a_bad_training_flag_is_one_sentence():
    out = subprocess.run([sys.executable, str(SCRIPT), "--data", "toyshop-tiny", "--flags=--epochs -1"],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1 and "--epochs" in out.stderr
