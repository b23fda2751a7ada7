"""tiny_mmmlp: a small, readable MMMLP (multi-modal MLP for sequential recommendation).

- ``tiny_mmmlp.reference``: the NumPy model with hand-written backprop.
- ``tiny_mmmlp.data``: toyshop, real Amazon loaders, features, splits and batches.
- ``tiny_mmmlp.torch_model``: the PyTorch mirror (same equations, same parameter names).
- ``tiny_mmmlp.kernels``: fused Triton mixer kernels.
- ``tiny_mmmlp.fit(**settings)``: train (the command line's settings as keywords; ``data`` may be
  a pandas DataFrame), returning the run as a ``Recommender`` (``recommend_frame``,
  ``evaluate_frame``, ``metrics``, ``history``, ``plot_curves``); ``tiny_mmmlp.load(run_folder)``:
  a trained run as one.
"""
import os

# torch's OpenMP threads wait for work by spinning unless told to sleep; on a CPU shared with
# other work the spinning threads hold the cores the working ones need, and a torch epoch on
# a loaded 2-core machine ran up to 9 times slower (benchmarks/backend_epoch.py). OpenMP reads
# this once, when torch loads; a value the user set is kept.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from .errors import UserError  # noqa: E402
from .model_config import MMMLPConfig  # noqa: E402

__all__ = ["MMMLPConfig", "Recommender", "RunConfig", "UserError", "fit", "load"]
__version__ = "0.2.0"


def __getattr__(name):
    """``fit``, ``load``, ``Recommender`` and ``RunConfig`` on first use: ``import tiny_mmmlp``
    stays light."""
    if name in ("load", "Recommender"):
        from . import recommender
        return getattr(recommender, name)
    if name == "fit":
        from .api import fit
        return fit
    if name == "RunConfig":
        from .run_config import RunConfig
        return RunConfig
    raise AttributeError(f"module 'tiny_mmmlp' has no attribute {name!r}")
