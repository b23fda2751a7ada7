"""Fused Triton kernels for the two halves of a mixer block.

    from tiny_mmmlp.kernels import token_mix, channel_mix, is_available
    y = channel_mix(token_mix(x, *token_params), *channel_params)   # differentiable

Both take torch tensors with the shapes of ``tiny_mmmlp.reference.mixing`` and run on CUDA
(float32, bfloat16) or, for testing, on the CPU under ``TRITON_INTERPRET=1`` (float32,
float64; set the variable before the first use of this package). Unsupported shapes,
dtypes or devices raise ValueError.

The kernel modules (and triton) load on first use of a name below, not on
``import tiny_mmmlp.kernels``: the package imports without torch or triton, and then
``is_available`` answers False and the two functions raise ImportError.

    token_mixing.py    LN + MLP along the sequence axis N + residual: forward, backward
    channel_mixing.py  LN + MLP along the feature axis D + residual: forward, backward
    layernorm.py       LayerNorm statistics and backward shared by both
    gelu.py            tanh-GELU and its derivative as device functions
    configs.py         launch configurations (tiles, warps, stages) per kernel and shape
    support.py         accepted devices, dtypes and shapes; tolerances

The same maths in plain PyTorch (the benchmark and test baseline) is
``tiny_mmmlp.torch_model.token_mix_eager`` / ``channel_mix_eager``, the model's own eager path.

Check either half against the NumPy reference with
``TRITON_INTERPRET=1 python -m tiny_mmmlp.kernels.token_mixing`` (or ``.channel_mixing``).
"""
import importlib

__all__ = ["token_mix", "channel_mix", "is_available", "TOLERANCES"]
_HOME = {"token_mix": ".token_mixing", "channel_mix": ".channel_mixing",
         "is_available": ".support", "TOLERANCES": ".support"}


def __getattr__(name):
    if name not in _HOME:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    try:
        value = getattr(importlib.import_module(_HOME[name], __name__), name)
    except ImportError as err:   # torch or triton missing
        if name == "is_available":
            return lambda device="cuda": False
        if name == "TOLERANCES":
            return {}

        def unavailable(*args, _err=err, **kwargs):
            raise ImportError(f"tiny_mmmlp.kernels needs torch and triton: {_err}")
        return unavailable
    globals()[name] = value   # later look-ups skip __getattr__
    return value
