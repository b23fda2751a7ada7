"""The NumPy reference: every MMMLP equation with hand-written backprop.

- ``layers``: forward/backward pairs (LayerNorm, linear, GELU, token/channel mixing, ...)
- ``model.MMMLP``: the whole model with ``params``, ``loss_and_grads`` and ``scores``
- ``optim.AdamW``: Adam with decoupled weight decay
- ``gradcheck``: central-difference gradients and the relative error tests share
- ``workspace``: where a training step's arrays live so they are allocated once, not every step
"""
from . import layers
from .model import MMMLP
from .optim import AdamW

__all__ = ["MMMLP", "AdamW", "layers"]
