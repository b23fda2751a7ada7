"""The fused kernels fit a real GPU: compiled for sm_90a on this CPU, none spills registers or
overflows shared memory, at the default training shape and at N=200, D=256 (float32 and
bfloat16). The full matrix (sm_80 too, every benchmark shape) is benchmarks/kernel_resources.py's
job; this runs its ``--shapes ci`` subset, about two minutes on two cores without a warm
Triton cache. Skipped when triton, its CUDA backend or its bundled cuobjdump is missing.
"""
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("torch")
triton = pytest.importorskip("triton")
if importlib.util.find_spec("triton.backends.nvidia") is None:
    pytest.skip("triton has no CUDA backend to compile with", allow_module_level=True)
if not (Path(triton.__file__).parent / "backends" / "nvidia" / "bin" / "cuobjdump").exists():
    pytest.skip("triton's bundled cuobjdump is missing", allow_module_level=True)

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "kernel_resources.py"


def test_ci_shapes_fit_sm90a(tmp_path):
    out = tmp_path / "resources.md"
    env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}
    proc = subprocess.run([sys.executable, str(SCRIPT), "--shapes", "ci", "--targets", "sm_90a",
                           "--jobs", "2", "--check", "--out", str(out)],
                          capture_output=True, text=True, timeout=600, env=env)
    rows = [line for line in out.read_text().splitlines() if line.startswith("| sm_90a")] if out.exists() else []
    bad = [line for line in rows if line.rstrip().endswith("**no** |")]
    assert proc.returncode == 0 and not bad, "spills or overflows:\n" + "\n".join(bad) + proc.stderr[-2000:]
    # every kernel of both halves, at both shapes, in both dtypes
    assert len(rows) == 2 * 2 * 8, rows
    assert all(f"`{k}`" in out.read_text() for k in ("_token_mix_bwd_weights", "_channel_mix_bwd_data",
                                                      "_ln_backward_kernel"))


def test_bad_flag_exits_2():
    proc = subprocess.run([sys.executable, str(SCRIPT), "--targets", "sm_75"], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 2 and "--targets" in proc.stderr and "Traceback" not in proc.stderr
