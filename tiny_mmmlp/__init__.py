"""tiny_mmmlp: a small, readable MMMLP (multi-modal MLP for sequential recommendation).

- ``tiny_mmmlp.reference``: the NumPy model with hand-written backprop.
- ``tiny_mmmlp.data``: toyshop, real Amazon loaders, features, splits and batches.
- ``tiny_mmmlp.torch_model``: the PyTorch mirror (same equations, same parameter names).
- ``tiny_mmmlp.kernels``: fused Triton mixer kernels.
"""
from .config import MMMLPConfig

__all__ = ["MMMLPConfig"]
__version__ = "0.1.0"
