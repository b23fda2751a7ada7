"""benchmarks/profile_step.py --numpy: the NumPy step of train.py's default run, profiled."""
import re
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "profile_step.py"


def test_the_numpy_profile_times_one_shard_of_the_default_model_and_names_its_layers():
    proc = subprocess.run([sys.executable, str(SCRIPT), "--numpy", "--data", "toyshop-tiny",
                           "--steps", "1", "--rows-per-shard", "16", "--rows", "40"],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "gelu_forward" in proc.stdout and "token_mix_backward" in proc.stdout
    line = proc.stdout.strip().splitlines()[-1]
    assert re.fullmatch(r"toyshop-tiny, modalities id(,\w+)*, 2 mixer layers per branch: "
                        r"\d+ ms per step of 16 rows on one core, unprofiled \(mean of 1 steps\)",
                        line), line
