"""benchmarks/scale.py: the synthetic logs have the fitted shape, a written set loads with its
whole catalogue, and a small grid runs and fits exponents."""
import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "benchmarks" / "scale.py"
spec = importlib.util.spec_from_file_location("scale", SCRIPT)
scale = importlib.util.module_from_spec(spec)
spec.loader.exec_module(scale)


def test_the_synthetic_log_has_the_fitted_length_law_and_popularity():
    log = scale.synthetic_log(5000, 200_000, seed=1)
    lengths = np.array([len(s) for s in log])
    assert lengths.min() == scale.MIN_LEN
    assert abs(lengths.mean() - scale.mean_length()) < 0.2
    for at in (6, 7, 10):                               # P(L >= l) of the Lomax law
        want = (1 + (at - scale.MIN_LEN) / scale.LOMAX_SCALE) ** -scale.LOMAX_ALPHA
        assert abs((lengths >= at).mean() - want) < 0.02
    counts = np.bincount(np.concatenate(log), minlength=5001)[1:]
    slope = np.polyfit(np.log(np.arange(1, 101)), np.log(counts[:100]), 1)[0]
    assert abs(-slope - scale.ZIPF) < 0.1             # item r is the r-th most popular


def test_a_written_set_keeps_every_item_of_the_catalogue(tmp_path):
    from tiny_mmmlp import data
    scale.write_set(str(tmp_path / "big"), 3000, 2000)
    ds = data.load(str(tmp_path / "big"), progress=False)
    assert ds.n_items == 3000 and len(set(np.concatenate(ds.sequences))) < 3000   # unseen items kept


def test_a_small_grid_runs_and_reports(tmp_path):
    log, out = tmp_path / "cells.jsonl", tmp_path / "scale.md"
    subprocess.run([sys.executable, str(SCRIPT), "--grid", "300:3000,600:3000", "--backends", "numpy",
                    "--steps", "1", "--eval-users", "8", "--negatives", "16", "--log", str(log),
                    "--out", str(out)], check=True, capture_output=True, cwd=ROOT)
    cells = [json.loads(line) for line in log.read_text().splitlines()]
    assert [(c["items"], c["loss"]) for c in cells] == [(300, "full"), (300, "sampled"),
                                                         (600, "full"), (600, "sampled")]
    assert all(c["epoch_cpu_s"] > 0 and c["eval_cpu_s"] > 0 and c["peak_mib"] > 0 for c in cells)
    text = out.read_text()
    assert "| 600 | 3,000 |" in text and "in items at 3,000 interactions" in text
    exponents = [line for line in text.splitlines() if line.startswith("| numpy | full |")][0].split("|")
    # an exponent fitted over the range (its value is a timing of one step: not asserted here)
    assert exponents[3].strip() == "300-600" and np.isfinite(float(exponents[4]))
