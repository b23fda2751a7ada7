"""Fault suite, torchrun: the workers stop with their launcher.

``kill -9`` of the torchrun launcher must not leave its ranks training alone: each worker
asks Linux for a parent-death signal (tiny_mmmlp.distributed.stop_with_launcher), stops with
one line, and the last checkpoint stays loadable.
"""
import os
import subprocess
import sys
import time

import pytest

torch = pytest.importorskip("torch")

from small_model import small  # noqa: E402

from tiny_mmmlp.checkpoint import load_checkpoint  # noqa: E402

pytestmark = [
    pytest.mark.skipif(not (torch.distributed.is_available() and torch.distributed.is_gloo_available()),
                       reason="torch.distributed with gloo is not available"),
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="a parent-death signal is Linux's"),
]
SMALL = small("--fusion-layers", "0", "--dropout", "0", "--modalities", "id", "--backend", "torch")


def _children(pid: int) -> list:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    if int(f.read().rsplit(")", 1)[1].split()[1]) == pid:
                        found.append(int(entry))
            except (OSError, ValueError, IndexError):
                continue
    return found


def _alive(pid: int) -> bool:
    """Running, not a zombie waiting to be reaped."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_workers_stop_when_the_launcher_is_killed(tmp_path):
    out = tmp_path / "r"
    launcher = subprocess.Popen([sys.executable, "-m", "torch.distributed.run", "--standalone",
                                 "--nproc-per-node", "2", "-m", "tiny_mmmlp.train", *SMALL,
                                 "--out", str(out), "--epochs", "500", "--patience", "500"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                env={**os.environ, "OMP_NUM_THREADS": "1"})
    try:
        end = time.time() + 120
        while time.time() < end and launcher.poll() is None:
            try:
                if load_checkpoint(out)["run"]["epoch"] >= 1:
                    break
            except Exception:  # noqa: BLE001 - not written yet
                pass
            time.sleep(0.1)
        workers = _children(launcher.pid)
        assert len(workers) == 2 and launcher.poll() is None, "the ranks did not start training"
    finally:
        launcher.kill()                         # kill -9: torchrun cannot stop its workers itself
    _, stderr = launcher.communicate(timeout=60)    # the workers hold its pipes until they end
    end = time.time() + 30
    while time.time() < end and any(_alive(w) for w in workers):
        time.sleep(0.1)
    assert not any(_alive(w) for w in workers), "a rank trains on without its launcher"
    assert stderr.count("its launcher (torchrun) died") == 2, stderr[-2000:]
    assert "Traceback" not in stderr
    assert load_checkpoint(out)["run"]["epoch"] >= 1          # the last checkpoint stays
