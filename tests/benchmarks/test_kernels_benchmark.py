"""benchmarks/kernel_speed.py runs: a tiny timing under the Triton interpreter, and exit code 2
with one clear sentence when asked for the GPU benchmark on a machine without CUDA."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("triton")
SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "kernel_speed.py"


def run(*args):
    env = dict(os.environ, TRITON_INTERPRET="1")
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True,
                          timeout=300, env=env)


def test_interpret_smoke_writes_a_table(tmp_path):
    out = tmp_path / "table.md"
    proc = run("--interpret-smoke", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    table = out.read_text()
    assert "| fused |" in table and "| eager |" in table and "TRITON_INTERPRET" in table


@pytest.mark.skipif(torch.cuda.is_available(), reason="a GPU is present")
def test_without_cuda_exits_2():
    proc = run()
    assert proc.returncode == 2
    assert "needs a CUDA GPU" in proc.stderr and "Traceback" not in proc.stderr
