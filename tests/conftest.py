"""Test session setup: one throw-away cache folder for generated data, no downloads."""
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
