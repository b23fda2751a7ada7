"""Training backends behind one small interface: NumPy reference, PyTorch eager, fused Triton.

Each backend holds a model and its AdamW optimizer and offers
    step(item_seq, targets) -> loss          one optimizer step on a (B, N) batch
    ranks(item_seq, targets) -> (B,) ranks   0-based full-ranking ranks, ties against the target
    params() -> {name: np.ndarray}           the shared parameter names (tiny_mmmlp.params)
    load_params(params), state() / load_state(state)   for checkpoints and --resume
Parameters move between backends by name, so a checkpoint of one loads into another.
"""
from __future__ import annotations

import os
import warnings

import numpy as np

from .errors import UserError
from .metrics import target_ranks
from .reference import MMMLP, AdamW
from .reference.optim import decays

BACKENDS = ("numpy", "torch", "triton")


class NumpyBackend:
    name = "numpy"

    def __init__(self, cfg, n_items, features, seed, lr, weight_decay, device="cpu"):
        if device != "cpu":
            raise UserError(f"--device {device}: the numpy backend runs on the CPU only")
        self.model = MMMLP(cfg, n_items, features, seed=seed, dtype=np.float32)
        self.opt = AdamW(self.model.params, lr=lr, weight_decay=weight_decay)

    def step(self, item_seq, targets):
        loss, grads = self.model.loss_and_grads(item_seq, targets)
        self.opt.step(grads)
        return loss

    def ranks(self, item_seq, targets):
        return target_ranks(self.model.scores(item_seq), targets)

    def scores(self, item_seq):
        return self.model.scores(item_seq)

    def params(self):
        return {k: v.copy() for k, v in self.model.params.items()}

    def load_params(self, params):
        for k, v in self.model.params.items():
            v[...] = params[k]

    def state(self):
        return {"optimizer": self.opt.state_dict(), "rng": self.model.rng.bit_generator.state}

    def load_state(self, state):
        self.opt.load_state_dict(state["optimizer"])
        self.model.rng.bit_generator.state = state["rng"]


class TorchBackend:
    name = "torch"
    fused = False

    def __init__(self, cfg, n_items, features, seed, lr, weight_decay, device="cpu"):
        import torch
        from .torch_model import TorchMMMLP
        self.torch = torch
        self.device = torch.device(device)
        if self.device.type == "cuda" and not torch.cuda.is_available():
            raise UserError(f"--device {device}: CUDA is not available on this machine")
        torch.manual_seed(seed)
        self.model = TorchMMMLP(cfg, n_items, features, seed=seed, fused=self.fused).to(self.device)
        named = list(self.model.named_parameters_flat())
        groups = [{"params": [p for k, p in named if decays(k, p)], "weight_decay": weight_decay},
                  {"params": [p for k, p in named if not decays(k, p)], "weight_decay": 0.0}]
        self.opt = torch.optim.AdamW(groups, lr=lr)

    def _t(self, a):
        return self.torch.from_numpy(np.ascontiguousarray(a, dtype=np.int64)).to(self.device)

    def step(self, item_seq, targets):
        self.model.train()
        loss = self.model.loss(self._t(item_seq), self._t(targets))
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        return float(loss.detach())

    def scores(self, item_seq):
        self.model.eval()
        return self.model.scores(self._t(item_seq)).float().cpu().numpy()

    def ranks(self, item_seq, targets):
        self.model.eval()
        with self.torch.no_grad():
            s = self.model.scores(self._t(item_seq))[:, 1:]           # (B, V)
            t = s.gather(1, self._t(targets - 1)[:, None])            # (B, 1)
            return ((s >= t).sum(1) - 1).cpu().numpy()

    def params(self):
        return {k: v.detach().cpu().numpy().copy() for k, v in self.model.state_dict().items()}

    def load_params(self, params):
        torch = self.torch
        self.model.load_state_dict({k: torch.from_numpy(np.asarray(v)) for k, v in params.items()})

    def state(self):
        torch = self.torch
        return {"optimizer": self.opt.state_dict(), "rng": torch.get_rng_state(),
                "cuda_rng": torch.cuda.get_rng_state_all() if self.device.type == "cuda" else None}

    def load_state(self, state):
        self.opt.load_state_dict(state["optimizer"])
        self.torch.set_rng_state(state["rng"])
        if state.get("cuda_rng") is not None:
            self.torch.cuda.set_rng_state_all(state["cuda_rng"])


class TritonBackend(TorchBackend):
    """The torch model with its mixer blocks running on the fused Triton kernels."""

    name = "triton"
    fused = True

    def __init__(self, cfg, n_items, features, seed, lr, weight_decay, device=None):
        try:
            import torch
            import tiny_mmmlp.kernels  # noqa: F401  (checks that triton imports)
        except ImportError as err:
            raise UserError(f"--backend triton needs torch and triton installed ({err})") from None
        interpret = os.environ.get("TRITON_INTERPRET") == "1"
        if device is None:
            device = "cuda" if torch.cuda.is_available() else "cpu"
        if device == "cpu" or not torch.cuda.is_available():
            if not interpret:
                raise UserError("--backend triton needs a CUDA GPU; none was found (set "
                                "TRITON_INTERPRET=1 to run the kernels on the CPU, for testing only)")
            warnings.warn("TRITON_INTERPRET=1: running the Triton kernels in the CPU interpreter; "
                          "this is for testing and is very slow", stacklevel=2)
            device = "cpu"
        super().__init__(cfg, n_items, features, seed, lr, weight_decay, device)


def make_backend(name, cfg, n_items, features, seed, lr, weight_decay, device=None):
    """Build the backend called ``name`` ("numpy", "torch" or "triton")."""
    if name == "numpy":
        return NumpyBackend(cfg, n_items, features, seed, lr, weight_decay, device or "cpu")
    if name == "torch":
        try:
            import torch  # noqa: F401
        except ImportError:
            raise UserError("--backend torch needs PyTorch: pip install torch") from None
        return TorchBackend(cfg, n_items, features, seed, lr, weight_decay, device or "cpu")
    if name == "triton":
        return TritonBackend(cfg, n_items, features, seed, lr, weight_decay, device)
    raise UserError(f"--backend {name}: choose one of {', '.join(BACKENDS)}")
