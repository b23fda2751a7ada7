"""Test session setup: one throw-away cache folder for generated data, no downloads."""
import os
import tempfile

os.environ.setdefault("TINY_MMMLP_CACHE", tempfile.mkdtemp(prefix="tiny_mmmlp_cache_"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("MPLBACKEND", "Agg")
