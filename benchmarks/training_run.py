"""One training run in a subprocess, measured from outside: the benchmarks' shared runner.

    metrics, peak_rss_gb, wall_s = run_training(cmd, out)

``cmd`` is a ``python -m tiny_mmmlp.train ... --out OUT`` command; the child runs in the
repository root, its peak resident memory comes from the operating system (wait4), and
``OUT/metrics.json`` is read back once it has exited.
"""
from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run_training(cmd, out, fail=SystemExit) -> tuple[dict, float, float]:
    """Run ``cmd``; returns (metrics.json of ``out``, peak RSS in GB, wall seconds).

    A failed run raises ``fail`` naming the command (SystemExit ends a table script;
    a search passes RuntimeError so that one trial fails, not the study).
    """
    print("$", " ".join(map(str, cmd)), flush=True)
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=ROOT)
    _, status, usage = os.wait4(proc.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise fail(f"run failed: {' '.join(map(str, cmd))}")
    metrics = json.loads((Path(out) / "metrics.json").read_text())
    return metrics, usage.ru_maxrss / 1024 ** 2, time.perf_counter() - start   # ru_maxrss: KiB
