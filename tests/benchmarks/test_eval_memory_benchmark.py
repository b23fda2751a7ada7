"""benchmarks/eval_memory.py: both modes rank the same users and the table names them."""
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "eval_memory.py"


@pytest.mark.skipif(not Path("/proc/self/clear_refs").exists(), reason="Linux /proc only")
def test_one_round_measures_both_modes_in_fresh_processes():
    pytest.importorskip("torch")
    out = subprocess.run([sys.executable, str(SCRIPT), "--data", "toyshop-tiny", "--rounds", "1",
                          "--eval-batch", "16"], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    rows = [line for line in out.stdout.splitlines() if line.startswith("| blocks") or
            line.startswith("| one block")]
    assert len(rows) == 2 and "16 a batch" in out.stdout
    for row in rows:
        rise = int(row.split("|")[3])                       # the max column, MiB
        assert 0 <= rise < 2048
