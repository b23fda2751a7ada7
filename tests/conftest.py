"""Test session setup: one throw-away cache folder for generated data, no downloads, and the
shared fixtures (a trained run, a run to break) registered for every test module."""
import atexit
import os
import shutil
import tempfile

if "TINY_MMMLP_CACHE" not in os.environ:        # a folder of this session's own, gone after it
    os.environ["TINY_MMMLP_CACHE"] = tempfile.mkdtemp(prefix="tiny_mmmlp_cache_")
    atexit.register(shutil.rmtree, os.environ["TINY_MMMLP_CACHE"], ignore_errors=True)
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("MPLBACKEND", "Agg")

# Without a GPU, the Triton kernels run in Triton's CPU interpreter. It must be chosen before
# triton is first imported, so it is set here, before any test module loads the kernels.
try:
    import torch

    if not torch.cuda.is_available():
        os.environ.setdefault("TRITON_INTERPRET", "1")
except ImportError:
    pass

# Fixtures every test module may ask for by name, without importing them: ``trained`` (a small
# trained run, trained_run.py) and ``base_run`` / ``run`` (a run to break, faults.py).
pytest_plugins = ["faults", "trained_run"]
