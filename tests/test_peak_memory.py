"""peak_memory_mib reports a run's own peak, not the peak of the process that started it
(Linux carries a parent's ru_maxrss into its children; benchmark drivers hold data sets)."""
import os
import subprocess
import sys

import pytest

from tiny_mmmlp.distributed import peak_memory_mib


@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="VmHWM is Linux's")
def test_a_child_of_a_large_process_reports_its_own_peak():
    ballast = bytearray(400 * 2**20)                    # 400 MiB, every page touched
    ballast[::4096] = b"\1" * len(ballast[::4096])
    assert peak_memory_mib() >= 400
    code = ("from tiny_mmmlp.distributed import peak_memory_mib\n"
            "x = bytearray(100 * 2**20); x[::4096] = b'\\1' * len(x[::4096])\n"
            "print(peak_memory_mib())")
    child = float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                 check=True).stdout)
    assert 100 <= child < 300                           # its own 100 MiB plus the interpreter
    del ballast
