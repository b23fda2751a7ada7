"""Training backends behind one small interface: NumPy reference, PyTorch eager, fused Triton.

Each backend holds a model and its AdamW optimizer and offers
    step(item_seq, targets) -> loss          one optimizer step on a (B, N) batch
    ranks(item_seq, targets, history=None) -> (B,) ranks   0-based full-ranking ranks, ties
                                             against the target; ``history`` (B, H) masks those items
    params() -> {name: np.ndarray}           the shared parameter names (tiny_mmmlp.params)
    live_params() -> {name: array}           the same, the backend's own arrays (NumPy arrays or
                                             torch tensors on its device), updated in place by step
    set_lr(lr)                               the learning rate of the next steps (schedules)
    load_params(params), state() / load_state(state)   for checkpoints and --resume
Parameters move between backends by name, so a checkpoint of one loads into another.
"""
from __future__ import annotations

import os
import warnings
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from .errors import UserError
from .metrics import mask_history, target_ranks
from .reference import MMMLP, AdamW
from .reference.optim import decays
from .reference.workspace import Workspace

BACKENDS = ("numpy", "torch", "triton")     # the names --backend takes, each a class below


def _blas_controller():
    """threadpoolctl's controller of the BLAS thread pools, or None if it is not installed."""
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:
        return None
    return ThreadpoolController()


# the largest score block ranked at once on the CPU (TorchBackend.ranks): 86 users of beauty
CPU_SCORE_BYTES = 4 * 2**20
# the largest float32 score block the NumPy backend, the recommender and evaluation hold at once
SCORE_BYTES = 64 * 2**20


def score_rows(n_items: int, most: int = 1 << 30) -> int:
    """Users scored at once so that their (rows, V + 1) float32 scores fit in SCORE_BYTES.

    Why a bound: the scores of a batch grow with the catalogue (256 users at 1M items: 1 GB,
    and the ranking's masks of the same shape come on top). In blocks of 64 MiB a ranking pass
    holds at most about twice that (the scores, a boolean history mask and one boolean
    comparison, a quarter of the scores each), three times with ``mask_history`` (a masked
    copy), at any catalogue size: 16 users at a time at 1M items, 256 up to 65,000 items.
    """
    return max(1, min(most, SCORE_BYTES // (4 * (n_items + 1))))


class NumpyBackend:
    """The NumPy reference, with the batch split into one shard per CPU core.

    NumPy's element-wise arithmetic runs on one core, so the backend gives each core a
    shard of the batch in a thread (NumPy releases the GIL inside its loops), with BLAS
    held to one thread per shard. The shard gradients are combined in a fixed order,
    weighted by shard size: the mean-loss gradient of the whole batch, reproducibly.

    Each shard computes in its own ``Workspace``, so the arrays of a step (activations,
    scores, gradients) are allocated once and rewritten in place on every later step.
    """

    name = "numpy"

    def __init__(self, cfg, n_items, features, seed, lr, weight_decay, device="cpu", shards=None):
        if device != "cpu":
            raise UserError(f"--device {device}: the numpy backend runs on the CPU only")
        self.model = MMMLP(cfg, n_items, features, seed=seed, dtype=np.float32)
        self.opt = AdamW(self.model.params, lr=lr, weight_decay=weight_decay)
        self.shards = shards or min(os.cpu_count() or 1, 8)
        self.pool = ThreadPoolExecutor(self.shards) if self.shards > 1 else None
        self.blas = _blas_controller() if self.pool else None
        self.workspaces = [Workspace() for _ in range(self.shards)]  # one per shard thread

    def _map(self, fn, *arrays):
        """fn(i, *shard_i) for each shard of ``arrays`` along the batch: (results, sizes)."""
        n = len(arrays[0])
        if self.pool is None or n < 2 * self.shards:
            return [fn(0, *arrays)], [n]
        parts = [np.array_split(a, self.shards) for a in arrays]
        if self.blas is None:
            results = list(self.pool.map(fn, range(self.shards), *parts))
        else:
            with self.blas.limit(limits=1, user_api="blas"):
                results = list(self.pool.map(fn, range(self.shards), *parts))
        return results, [len(p) for p in parts[0]]

    def step(self, item_seq, targets):
        seeds = self.model.rng.integers(2**62, size=self.shards)     # dropout masks, reproducible
        results, sizes = self._map(
            lambda i, s, t: self.model.loss_and_grads(s, t, dropout_seed=seeds[i],
                                                      ws=self.workspaces[i]), item_seq, targets)
        w = [n / sum(sizes) for n in sizes]                            # mean over the whole batch
        loss = sum(wi * r[0] for wi, r in zip(w, results))
        grads = results[0][1]                                          # in shard 0's workspace
        for k, g in grads.items():                                     # g ← Σ_i w_i g_i, in place
            g *= w[0]
            for wi, r in zip(w[1:], results[1:]):
                g += np.multiply(r[1][k], wi, out=r[1][k])
        self.opt.step(grads)
        return loss

    def ranks(self, item_seq, targets, history=None):
        """Ranks of a batch, scored in row blocks of at most SCORE_BYTES of scores (all shards
        together), so that a pass over a large catalogue holds a bounded block (see SCORE_BYTES)."""
        if history is None:
            ranks = lambda i, s, t: target_ranks(self.model.scores(s, ws=self.workspaces[i]), t)
        else:
            ranks = lambda i, s, t, h: target_ranks(           # mask_history ranks a masked copy
                mask_history(self.model.scores(s, ws=self.workspaces[i]), h, t), t)
        rows = max(self.shards, score_rows(self.model.n_items))
        arrays = (item_seq, targets) if history is None else (item_seq, targets, history)
        return np.concatenate([r for lo in range(0, len(item_seq), rows)
                               for r in self._map(ranks, *(a[lo:lo + rows] for a in arrays))[0]])

    def params(self):
        return {k: v.copy() for k, v in self.model.params.items()}

    def live_params(self):
        return self.model.params

    def set_lr(self, lr):
        self.opt.lr = lr

    def load_params(self, params):
        """Copy ``params`` in; ValueError, as torch's strict ``load_state_dict`` raises, unless it
        holds every parameter, nothing else, each a number array of its shape (a None would
        become NaN, a scalar would broadcast)."""
        if not isinstance(params, dict) or set(params) != set(self.model.params):
            raise ValueError("the parameter names are not the model's")
        for k, v in self.model.params.items():
            new = params[k]
            if not (isinstance(new, np.ndarray) and new.shape == v.shape and new.dtype.kind in "iuf"):
                raise ValueError(f"{k} is not a number array of shape {v.shape}")
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

    def __init__(self, cfg, n_items, features, seed, lr, weight_decay, device="cpu",
                 model="mmmlp", encoder=None):
        import torch

        from .baselines import build_model
        self.torch = torch
        self.n_items = n_items
        self.device = torch.device(device)
        if self.device.type == "cuda" and not torch.cuda.is_available():
            raise UserError(f"--device {device}: CUDA is not available on this machine")
        torch.manual_seed(seed)
        self.model = build_model(model, cfg, n_items, features, seed, encoder,
                                 fused=self.fused).to(self.device)
        named = list(getattr(self.model, "named_parameters_flat", self.model.named_parameters)())
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

    def ranks(self, item_seq, targets, history=None):
        """Ranks of a batch; on the CPU in row blocks of at most CPU_SCORE_BYTES of scores.

        Why blocks: glibc's malloc serves the (B, V + 1) score tensors and their (B, V)
        temporaries from its heap once the first one is freed (its dynamic mmap threshold),
        and then the heap can grow during a pass instead of reusing what it freed. On beauty
        (256 users a batch), whole runs peaked at 1152 to 2440 MiB before blocks and one
        validation pass raised the peak by up to 134 MiB; in 4 MiB blocks (86 users) the
        same run peaked at 720 MiB, a pass by at most 92 MiB, as fast
        (benchmarks/results/eval_memory.md).
        """
        self.model.eval()
        rows = len(item_seq)
        if self.device.type == "cpu":
            rows = max(1, CPU_SCORE_BYTES // (4 * (self.n_items + 1)))
        out = []
        with self.torch.no_grad():
            for lo in range(0, len(item_seq), rows):
                seq, tgt = self._t(item_seq[lo:lo + rows]), self._t(targets[lo:lo + rows])
                scores = self.model.scores(seq)                            # (b, V + 1)
                if history is not None:
                    scores = mask_history(scores, self._t(history[lo:lo + rows]), tgt)
                out.append(target_ranks(scores, tgt).cpu().numpy())
        return np.concatenate(out)

    def params(self):
        return {k: v.detach().cpu().numpy().copy() for k, v in self.model.state_dict().items()}

    def live_params(self):
        return {k: v.detach() for k, v in self.model.state_dict().items()}

    def set_lr(self, lr):
        for group in self.opt.param_groups:
            group["lr"] = lr

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


def make_backend(name, cfg, n_items, features, seed, lr, weight_decay, device=None,
                 model="mmmlp", encoder=None):
    """Build the backend called ``name`` ("numpy", "torch" or "triton") training ``model``
    ("mmmlp", or a baseline "sasrec" / "gru4rec", which RunConfig puts on "torch")."""
    if name == "numpy":
        return NumpyBackend(cfg, n_items, features, seed, lr, weight_decay, device or "cpu")
    if name == "torch":
        try:
            import torch  # noqa: F401
        except ImportError:
            raise UserError("--backend torch needs PyTorch; install the build for your hardware first, "
                            "as the README says (CPU: pip install torch==2.13.0)") from None
        return TorchBackend(cfg, n_items, features, seed, lr, weight_decay, device or "cpu",
                            model, encoder)
    if name == "triton":
        return TritonBackend(cfg, n_items, features, seed, lr, weight_decay, device)
    raise UserError(f"--backend {name}: choose one of {', '.join(BACKENDS)}")
