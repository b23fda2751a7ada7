# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 04 · A fused Triton kernel for the mixer block
#
# On a GPU, a mixer block is rarely limited by arithmetic. It is limited by **memory
# traffic**: how many bytes travel between the GPU's main memory (HBM) and its cores. In
# this notebook you will:
#
# 1. count, operation by operation, the bytes that eager PyTorch moves for one mixer block,
#    forward and backward;
# 2. see how the fused kernels in `tiny_mmmlp.kernels` keep the hidden activation on chip,
#    and count their bytes the same way;
# 3. read the token-mixing kernel section by section;
# 4. run both kernels **on your CPU** under `TRITON_INTERPRET=1` and check them against the
#    NumPy reference of tutorial 01;
# 5. compile them for real GPUs (sm_80, sm_90a) without one, and read registers, spills and
#    shared memory from the binary: will they fit?
# 6. read what the GPU benchmark measured, if it has been run.
#
# No GPU is needed: the interpreter executes the kernels in NumPy, slowly but exactly. The
# environment variable must be set before Triton is imported, so it comes first. (On a
# machine with a CUDA GPU, start with `TRITON_INTERPRET=0` to run the kernels on it.)

# %%
import os

os.environ.setdefault("TRITON_INTERPRET", "1")   # before torch/triton are imported
import inspect
import sys
from pathlib import Path

import matplotlib

if "ipykernel" not in sys.modules:
    matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten

import tiny_mmmlp
from tiny_mmmlp import kernels
from tiny_mmmlp.kernels import configs, gelu, token_mixing
from tiny_mmmlp.reference import layers as L
from tiny_mmmlp.torch_model import channel_mix_eager, token_mix_eager

QUICK = os.environ.get("TINY_MMMLP_QUICK") == "1"
REPO = Path(tiny_mmmlp.__file__).resolve().parent.parent
OUT = Path("out")
OUT.mkdir(exist_ok=True)
DEVICE = "cuda" if kernels.is_available("cuda") else "cpu"
print(f"TRITON_INTERPRET={os.environ['TRITON_INTERPRET']}; kernels run on: {DEVICE}")
assert kernels.is_available(DEVICE)


def show(fig, name):
    """Save the figure as out/<name> and show it when running as a notebook."""
    fig.savefig(OUT / name, dpi=110, bbox_inches="tight")
    print(f"saved {OUT / name}")
    plt.show() if "ipykernel" in sys.modules else plt.close(fig)


def show_source(obj):
    """Print the source of a function, a @triton.jit kernel or a class."""
    print(inspect.getsource(getattr(obj, "fn", obj)))


# %% [markdown]
# ## 1. Where eager PyTorch spends memory traffic
#
# The eager mixer block (`token_mix_eager` and `channel_mix_eager` in
# `tiny_mmmlp/torch_model.py`, the torch model's own eager path and the same maths as
# tutorial 01) is a chain of library calls: LayerNorm, a transpose, a matmul, GELU, a matmul, an add. Each call
# reads its inputs from HBM and writes its output back, because the next call is a separate
# kernel launch. We can **count** this exactly without a GPU: a `TorchDispatchMode` sees
# every ATen operation that runs, forward and backward, with its input and output tensors.
# On the `meta` device the tensors have shapes but no data, so even a large batch costs
# nothing to "run". Views (transpose, reshape) move no bytes and are skipped.
#
# The model: each operation reads each input once and writes each output once. A GPU's cache
# can only make some re-reads cheaper; it cannot avoid writing an intermediate that the next
# kernel needs, so this is close to what eager execution really moves.
#
# The size is that of the GPU benchmark: $B = 2048$ sequences, $N = 50$, $D = 64$,
# $R_N = 64$, $R_D = 2D = 128$, float32.

# %%
VIEW_OPS = {"_unsafe_view", "view", "_reshape_alias", "t", "transpose", "expand", "detach", "alias"}


class CountTraffic(TorchDispatchMode):
    """Record (op, bytes read, bytes written) for every non-view ATen op run inside it."""

    def __init__(self):
        super().__init__()
        self.ops = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        name = func.overloadpacket.__name__
        is_view = name in VIEW_OPS or any(r.alias_info is not None for r in func._schema.returns)
        if not is_view:
            nbytes = lambda ts: sum(t.numel() * t.element_size() for t in tree_flatten(ts)[0]  # noqa: E731
                                    if isinstance(t, torch.Tensor))
            self.ops.append((name, nbytes((args, kwargs)), nbytes(out)))
        return out


def block_tensors(B, N, D, RN, RD, device, dtype=torch.float32, seed=0):
    """x (B, N, D), dy (B, N, D) and the token / channel parameters, all requiring grad."""
    g = torch.Generator().manual_seed(seed)
    rnd = lambda *s, scale=1.0: (torch.randn(*s, generator=g, dtype=torch.float64) * scale).to(device, dtype)  # noqa: E731
    x = rnd(B, N, D).requires_grad_()
    token = [rnd(D, scale=0.1) + 1, rnd(D, scale=0.1), rnd(RN, N, scale=N ** -0.5), rnd(RN, scale=0.1),
             rnd(N, RN, scale=RN ** -0.5), rnd(N, scale=0.1)]
    channel = [rnd(D, scale=0.1) + 1, rnd(D, scale=0.1), rnd(RD, D, scale=D ** -0.5), rnd(RD, scale=0.1),
               rnd(D, RD, scale=RD ** -0.5), rnd(D, scale=0.1)]
    params = [p.requires_grad_() for p in token + channel]
    return x, rnd(B, N, D), params[:6], params[6:]


B, N, D, RN, RD = 2048, 50, 64, 64, 128
x, dy, tok, chan = block_tensors(B, N, D, RN, RD, "meta")
counter = CountTraffic()
with counter:
    y = channel_mix_eager(token_mix_eager(x, *tok), *chan)
    n_forward = len(counter.ops)
    y.backward(dy)

MB = 1e6
print(f"{'op':28s} {'read MB':>9s} {'written MB':>11s}")
for i, (name, r, w) in enumerate(counter.ops):
    if i == n_forward:
        print("-- backward --")
    print(f"{name:28s} {r / MB:9.1f} {w / MB:11.1f}")
eager_fwd = sum(r + w for _, r, w in counter.ops[:n_forward])
eager_bwd = sum(r + w for _, r, w in counter.ops[n_forward:])
x_bytes = B * N * D * 4
print(f"\neager traffic: forward {eager_fwd / MB:.0f} MB, backward {eager_bwd / MB:.0f} MB "
      f"(one (B, N, D) tensor is {x_bytes / MB:.1f} MB)")
assert eager_fwd > 10 * x_bytes

# %% [markdown]
# The biggest items are the **hidden activations**: $H$ and $\mathrm{GELU}(H)$ of token mixing,
# shape $(B, D, R_N)$, and of channel mixing, $(B, N, R_D)$; the cell below prints how large
# they are next to $x$. Eager execution writes each to HBM, reads it back for the next op,
# saves it for backward and reads it again there. The least any implementation must move
# is: read $x$ and $\bar y$, write $y$ and $\bar x$, read the parameters and write their
# gradients.

# %%
print(f"hidden activations: token mixing (B, D, R_N) {B * D * RN * 4 / MB:.1f} MB = {D * RN / (N * D):.2f}x x, "
      f"channel mixing (B, N, R_D) {B * N * RD * 4 / MB:.1f} MB = {RD / D:.2f}x x")
n_params = sum(p.numel() for p in tok + chan)
minimum = 4 * x_bytes + 2 * n_params * 4
print(f"minimum traffic: {minimum / MB:.0f} MB; eager moves {(eager_fwd + eager_bwd) / minimum:.1f}x that")

# %% [markdown]
# ## 2. Keeping the hidden activation on chip
#
# Token mixing for one sequence $b$ and a block of channels is a small matrix chain:
#
# $$\underbrace{H}_{R\times d} = W_1\,\underbrace{\mathrm{LN}(X_b)}_{N\times d} + b_1,\qquad
#   Y_b = X_b + W_2\,\mathrm{GELU}(H) + b_2 .$$
#
# The fused forward kernel gives each **program** (a block of GPU threads) one sequence $b$
# and `BLOCK_D` channels, and walks the hidden width in chunks of `BLOCK_R` rows. The matmul
# $W_1\,\mathrm{LN}(X_b)$ has an inner dimension of $N$ positions, so it too runs in chunks, of
# `BLOCK_K` positions: each chunk of $X$ is read, normalized with the saved statistics $\mu$,
# $\text{rstd}$ and multiplied in registers (the device function `_w_times_cols`, section 3b):
#
# ```
# z = 0                                        # (BLOCK_N, BLOCK_D), in registers
# for each chunk r of BLOCK_R hidden units:
#     h = b1[r]                                # (BLOCK_R, BLOCK_D), in registers
#     for each chunk k of BLOCK_K positions:
#         h += W1[r, k] @ LN(x[k, :])          # x chunk (BLOCK_K, BLOCK_D), normalized on the fly
#     z += W2[:, r] @ GELU(h)                  # accumulate; h is dropped right away
# y_tile = x_tile + z + b2                     # x read once more for the residual; the only write
# ```
#
# $H$ never exists in HBM: at any moment only a `BLOCK_R` slice of it is alive, in registers.
# The chunks of $X$ are read once per `BLOCK_R` chunk; after the first time they come from the
# GPU's L1/L2 caches, not from HBM. Chunking keeps every `tl.dot` narrow: a float32 `tl.dot`
# holds a whole inner row of each operand in every thread, and at $N = 512$ that alone no
# longer fits in registers (section 5). The backward **recomputes** $H$ from $X$ and the two
# LayerNorm statistics (two numbers per position) instead of saving it; matmuls are cheap,
# bytes are not. Channel mixing is fused the same way, one program per `BLOCK_M` positions
# (rows): it loads whole rows once to compute their LayerNorm statistics itself, and its
# matmuls over $D$ ($\mathrm{LN}(X)\,W_3^\top$, and $\bar Y W_4$ in the backward) run in
# `BLOCK_K` chunks of features (`_rows_times_w`, the mirror image of `_w_times_cols`).
#
# The tile sizes come from the launch table `tiny_mmmlp/kernels/configs.py`, one entry per kernel
# (section 5 says why they are what they are):

# %%
launch_t = configs.token_mix(N, D, RN, torch.float32)
launch_c = configs.channel_mix(D, RD, torch.float32)
cfg_t, cfg_c = launch_t["_token_mix_fwd"], launch_c["_channel_mix_fwd"]
print("token mixing:  ", {k: v for k, v in cfg_t.items() if k.startswith("BLOCK")})
print("channel mixing:", {k: v for k, v in cfg_c.items() if k.startswith("BLOCK")})
tile_kb = (cfg_t["BLOCK_N"] * cfg_t["BLOCK_D"] + cfg_t["BLOCK_N"] * cfg_t["BLOCK_R"]      # z, one W2 tile
           + cfg_t["BLOCK_R"] * cfg_t["BLOCK_D"]                                          # one h chunk
           + cfg_t["BLOCK_K"] * (cfg_t["BLOCK_D"] + cfg_t["BLOCK_R"])) * 4 / 1024           # x and W1 chunks
print(f"token-mixing working set per program: z + W2 tile + h chunk + x and W1 chunks = {tile_kb:.0f} KiB "
      "(fits on chip)")

# %% [markdown]
# The fused kernels cannot be counted by the dispatch mode above (a Triton launch is not an
# ATen op), so we write their traffic down **by hand**, launch by launch, from the wrappers
# `token_mix_forward/backward` and `channel_mix_forward/backward` (section 3e prints one of
# them), and the LayerNorm helpers `ln_stats` and `ln_backward` they call. This is a model
# of the traffic, under the same read-once, write-once rule as above, not a measurement.
# We count the $(B, N, D)$ tensors and the $(B, N)$ statistics (mean and rstd); the
# parameters are small and read once.
# The weight-gradient kernels run one program column per `BLOCK_R` chunk of the hidden
# width, and each column reads $x$ and $\bar y$ again.

# %%
stats = B * N * 4                                 # one (B, N) float32 statistic
n_rblk_t = -(-RN // launch_t["_token_mix_bwd_weights"]["BLOCK_R"])     # ceil division
n_rblk_c = -(-RD // launch_c["_channel_mix_bwd_weights"]["BLOCK_R"])
fused_launches = [  # (launch, bytes read, bytes written); X = one (B, N, D) float32 tensor
    ("token ln_stats", x_bytes, 2 * stats),
    ("token forward", x_bytes + 2 * stats, x_bytes),
    ("channel forward", x_bytes, x_bytes + 2 * stats),
    ("channel bwd data", 2 * x_bytes + 2 * stats, x_bytes),
    ("channel bwd weights", n_rblk_c * (2 * x_bytes + 2 * stats), 0),
    ("token bwd data (dLN)", 2 * x_bytes + 2 * stats, x_bytes),
    ("token ln_backward", 3 * x_bytes + 2 * stats, x_bytes),
    ("token bwd weights", n_rblk_t * (2 * x_bytes + 2 * stats), 0),
]
fused = sum(r + w for _, r, w in fused_launches) + 2 * n_params * 4
for name, r, w in fused_launches:
    print(f"{name:22s} read {r / MB:6.1f} MB  write {w / MB:6.1f} MB")
print(f"\nper step: eager {(eager_fwd + eager_bwd) / MB:.0f} MB, fused {fused / MB:.0f} MB, "
      f"minimum {minimum / MB:.0f} MB -> fused moves {(eager_fwd + eager_bwd) / fused:.1f}x less than eager, "
      f"{fused / minimum:.1f}x the minimum")

fig, ax = plt.subplots(figsize=(6, 3.2))
bars = ax.barh(["eager PyTorch", "fused Triton", "minimum"], [(eager_fwd + eager_bwd) / MB, fused / MB, minimum / MB],
               color=["tab:red", "tab:blue", "tab:grey"])
ax.bar_label(bars, fmt="%.0f MB")
ax.set_xlim(0, 1.2 * (eager_fwd + eager_bwd) / MB)
ax.set(xlabel="HBM traffic of one mixer block, forward + backward (MB)",
       title=f"B={B}, N={N}, D={D}, R_N={RN}, R_D={RD}, float32 (counted)")
ax.invert_yaxis()
show(fig, "04_memory_traffic.png")
assert minimum <= fused < eager_fwd + eager_bwd
largest = max(fused_launches, key=lambda launch: launch[1] + launch[2])[0]
print("largest fused launch:", largest)
assert "weights" in largest                       # the claim of the next paragraph

# %% [markdown]
# Read the launch list: the largest fused items are the weight-gradient kernels (printed
# above), because
# every `BLOCK_R` chunk of the hidden width re-reads $x$ and $\bar y$ (a GPU's L2 cache
# absorbs part of that). That is where a next version of the kernel would look first.
#
# When the block is memory-bound, time is roughly bytes divided by bandwidth, so the
# eager/fused byte ratio printed above is roughly the speed-up fusion can buy at this size
# (an estimate from a model, not a guarantee). With a wide hidden layer the
# block becomes compute-bound instead; the benchmark (section 6) reports both bounds.
#
# Fusion also shrinks what must be **kept** for the backward. We measure that directly, on
# real tensors, by hooking every tensor autograd saves (as in tutorial 05), for the eager
# block and for the fused one (running on your CPU under the interpreter):

# %%
def saved_activation_bytes(fn, x, params):
    """Bytes of the distinct tensors autograd saves for fn's backward, parameters left out."""
    skip = {p.untyped_storage().data_ptr() for p in params}
    seen = {}

    def pack(t):
        if t.untyped_storage().data_ptr() not in skip:
            seen[t.untyped_storage().data_ptr()] = t.untyped_storage().nbytes()
        return t
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        fn(x)
    return sum(seen.values())


Bs = 4 if QUICK else 16
xs, _, tok_s, chan_s = block_tensors(Bs, N, D, RN, RD, DEVICE)
eager_saved = saved_activation_bytes(lambda v: channel_mix_eager(token_mix_eager(v, *tok_s), *chan_s), xs, tok_s + chan_s)
fused_saved = saved_activation_bytes(lambda v: kernels.channel_mix(kernels.token_mix(v, *tok_s), *chan_s), xs, tok_s + chan_s)
print(f"B = {Bs}: saved for backward: eager {eager_saved / 1024:.0f} KiB, fused {fused_saved / 1024:.0f} KiB "
      f"({eager_saved / fused_saved:.1f}x less); x itself is {xs.numel() * 4 / 1024:.0f} KiB")
assert fused_saved < eager_saved

# %% [markdown]
# ## 3. Reading the kernel
#
# `tiny_mmmlp/kernels/token_mixing.py` follows the shape of the Triton tutorials: the maths in the
# docstring, the `@triton.jit` kernels, a launcher that checks, allocates and launches, the
# `autograd.Function`, and a check against the reference. We read it top to bottom.
#
# **3a. Loading a tile.** Pointers are plain integers plus offsets. For the contiguous
# $(B, N, D)$ tensor, element $(b, n, d)$ sits at `b*N*D + n*D + d`; `tl.arange` builds a
# whole block of offsets at once, and the mask switches off the padding of `BLOCK_N` and
# `BLOCK_D` (powers of two, at least 16) beyond $N$ and $D$. LayerNorm uses the saved
# statistics, so a tile that holds only `BLOCK_D` of the $D$ features can still normalize.
# The weight kernel loads whole tiles with this function; the forward and data kernels apply
# the same formula to `BLOCK_K` positions at a time (3b).

# %%
show_source(token_mixing._load_ln_tile)

# %% [markdown]
# **3b. The forward kernel.** One program per `(b, channel block)`, from `tl.program_id`.
# The loop over `r0` is the outer loop of section 2. `_w_times_cols` computes
# $W_1\,\mathrm{LN}(X_b)$ for one `BLOCK_R` chunk: it walks the $N$ positions in `BLOCK_K`
# chunks, loads a `(BLOCK_K, BLOCK_D)` chunk of $X$ and normalizes it with the saved $\mu$,
# $\text{rstd}$ (with `NORMALIZE` off it multiplies the raw tile, as the backward does with
# $\bar Y$), and `tl.dot` multiplies the `(BLOCK_R, BLOCK_K)` slice of $W_1$ by it. Back in the
# kernel, GELU runs in registers and a second `tl.dot`, a `(BLOCK_N, BLOCK_R)` slice of $W_2$
# times the `(BLOCK_R, BLOCK_D)` activation, accumulates into `z`. Padded hidden rows
# $r \ge R$ load $W_2 = 0$, so they add nothing. The kernel reads the $X$ tile whole only at the
# end, for the residual; the single `tl.store` is the only write.

# %%
show_source(token_mixing._w_times_cols)
show_source(token_mixing._token_mix_fwd)

# %% [markdown]
# **3c. GELU on the chip.** The same tanh-GELU as the NumPy reference, with tanh written via
# `exp` so that it cannot overflow, and the derivative of tutorial 01 (section 5a) for the
# backward.

# %%
show_source(gelu.gelu)
show_source(gelu.gelu_grad)

# %% [markdown]
# **3d. The backward.** The data kernel recomputes $H$ with `_w_times_cols`, then applies the
# chain rule of tutorial 01: $\bar A = W_2^\top \bar Y$ (`_w_times_cols` again, on $\bar Y$
# without normalizing), $\bar H = \bar A \odot \mathrm{GELU}'(H)$, $\bar L = W_1^\top \bar H$.
# The weight gradients $\bar W_1 = \sum_b \bar H\,L^\top$ and $\bar W_2 = \sum_b \bar Y A^\top$
# are sums over every sequence and channel block; a separate kernel (`_token_mix_bwd_weights`)
# gives each program a strided share of the tiles (and, past `configs.TOKEN_WEIGHT_COLS`
# positions, one slice of that many weight columns) and writes partial sums that torch adds in
# a fixed order, so results repeat bit for bit.

# %%
show_source(token_mixing._token_mix_bwd_data)

# %% [markdown]
# **3e. Launcher and autograd.** The Python side checks shapes and dtypes, computes the
# LayerNorm statistics, picks tile sizes and launches a grid of `(B, cdiv(D, BLOCK_D))`
# programs. The `autograd.Function` saves only $x$, the parameters and $(\mu, \text{rstd})$:
# that is the small saved-memory number measured above.

# %%
show_source(token_mixing.token_mix_forward)
show_source(token_mixing.TokenMix)

# %% [markdown]
# ## 4. Running it on the CPU and checking it against NumPy
#
# Under `TRITON_INTERPRET=1` every program of the grid runs in turn, in NumPy. We push random
# inputs through the fused `token_mix` and `channel_mix`, differentiate with
# `torch.autograd`, and compare the output $y$ and the 7 gradients (of $x$ and the six
# parameters) with the NumPy layer pairs of tutorial 01 (float64), using the package's
# tolerance table: every entry must satisfy $|g - w| \le \text{atol}\cdot\text{scale} +
# \text{rtol}\cdot|w|$, with scale the largest $|w|$ (at least 1). Odd sizes on purpose: nothing
# here is a power of two, so every mask is exercised.

# %%
print("tolerances:", {str(k): v for k, v in kernels.TOLERANCES.items()})
rng = np.random.default_rng(0)
B4, N4, D4, RN4, RD4 = (2, 13, 20, 9, 24) if QUICK else (3, 37, 45, 50, 70)
shapes = {"token": [(D4,), (D4,), (RN4, N4), (RN4,), (N4, RN4), (N4,)],
          "channel": [(D4,), (D4,), (RD4, D4), (RD4,), (D4, RD4), (D4,)]}
fused_fn = {"token": kernels.token_mix, "channel": kernels.channel_mix}
ref_fwd = {"token": L.token_mix_forward, "channel": L.channel_mix_forward}
ref_bwd = {"token": L.token_mix_backward, "channel": L.channel_mix_backward}
worst = {}
for dtype in (torch.float64, torch.float32):
    for half in ("token", "channel"):
        arrays = [rng.standard_normal((B4, N4, D4))] + [rng.standard_normal(s) * 0.5 for s in shapes[half]]
        dy4 = rng.standard_normal((B4, N4, D4))
        ts = [torch.tensor(a, dtype=dtype, device=DEVICE, requires_grad=True) for a in arrays]
        y4 = fused_fn[half](*ts)
        y4.backward(torch.tensor(dy4, dtype=dtype, device=DEVICE))
        want_y, cache = ref_fwd[half](*arrays)
        want = [want_y, *ref_bwd[half](dy4, cache)]
        got = [y4] + [t.grad for t in ts]
        tol = kernels.TOLERANCES[dtype]
        errs = []
        for g, w in zip(got, want):
            g = g.detach().cpu().double().numpy()
            scale = max(1.0, np.abs(w).max())
            errs.append(np.abs(g - w).max() / scale)
            assert np.all(np.abs(g - w) <= tol["atol"] * scale + tol["rtol"] * np.abs(w)), (half, dtype)
        worst[(half, str(dtype))] = max(errs)
        print(f"{half:7s} mix, {str(dtype):13s}: y and 7 gradients match NumPy; worst error / scale {max(errs):.1e}")

# %% [markdown]
# And a whole mixer block, token then channel mixing, against the reference
# `mixer_block_forward`:

# %%
x64 = rng.standard_normal((B4, N4, D4))
p = {f"token.{k}": rng.standard_normal(s) * 0.5 for k, s in zip(["gamma", "beta", "W1", "b1", "W2", "b2"], shapes["token"])}
p.update({f"channel.{k}": rng.standard_normal(s) * 0.5 for k, s in zip(["gamma", "beta", "W3", "b3", "W4", "b4"], shapes["channel"])})
want_block, _ = L.mixer_block_forward(x64, p)
T = lambda a: torch.tensor(a, dtype=torch.float64, device=DEVICE)  # noqa: E731
got_block = kernels.channel_mix(kernels.token_mix(T(x64), *[T(p["token." + k]) for k in ["gamma", "beta", "W1", "b1", "W2", "b2"]]),
                                *[T(p["channel." + k]) for k in ["gamma", "beta", "W3", "b3", "W4", "b4"]])
block_err = np.abs(got_block.cpu().numpy() - want_block).max()
print(f"mixer block, fused vs NumPy reference (float64): max |difference| {block_err:.1e}")
assert block_err < 1e-9

# %% [markdown]
# ## 5. Will it fit on a GPU? Registers, spills, shared memory
#
# The interpreter says the kernels are *right*; it cannot say whether they are *fast*. Fusion
# pays only if the tiles really stay on chip, and the chip is small. One streaming
# multiprocessor (SM) of an A100 (sm_80) or H100/H200 (sm_90a) has
#
# - **65,536 registers** of 32 bits, shared by all resident threads, at most 255 per thread;
# - at most **64 resident warps** (of 32 threads); while one warp waits about 500 cycles for
#   memory, the others run, so the more warps fit, the better memory latency is hidden;
# - **shared memory**: 164 KiB (sm_80) or 228 KiB (sm_90a) per SM, at most 166,912 B and
#   232,448 B for one program (block). Triton stages `tl.dot` operands there, and with
#   `num_stages > 1` it keeps several copies of every tile a loop loads (software pipelining).
#
# A kernel whose tiles need more registers than that **spills**: ptxas moves values to *local
# memory*, which lives in DRAM behind the L1 cache, so every spilled value costs memory traffic,
# exactly what fusion was meant to avoid. A kernel that needs more shared memory than the
# per-block limit does not launch at all. And a kernel using R registers per thread lets only
# about 65,536 / (32 R) warps reside: at 255 registers, 8 warps of 64.
#
# Triton compiles for a real GPU on a CPU-only machine, and the compiled binary (`cubin`)
# tells what the GPU would get: `cuobjdump -res-usage` (shipped inside triton) prints REG
# (registers per thread) and STACK (bytes spilled per thread), and `metadata.shared` holds the
# shared memory per program. `benchmarks/kernel_resources.py` does that for every kernel, with
# the launch configuration the launchers take from one table, `tiny_mmmlp/kernels/configs.py`:

# %%
for half, launches in [("token_mix", configs.token_mix(20, 64, 64, torch.float32)),
                       ("channel_mix", configs.channel_mix(64, 128, torch.float32))]:
    for name, launch in launches.items():
        print(f"{half:11s} {name:24s}", {k: v for k, v in launch.items() if k not in ("ACC", "PRECISION")})

# %% [markdown]
# Now compile one memory-bound kernel, the LayerNorm backward at the default training shape
# ($N = 20$, $D = 64$) for sm_90a, twice: with the table's 32 rows per program, and with 64
# rows, as the kernels had before the table was tuned (`--set` replaces an entry: try
# `--set num_stages=3` on any kernel yourself). It runs in a fresh process, because this
# notebook's Triton runs in interpreter mode. Without triton's CUDA backend we read the table
# committed in `benchmarks/results/` instead.

# %%
import importlib.util  # noqa: E402
import subprocess  # noqa: E402

import triton  # noqa: E402

SCRIPT = REPO / "benchmarks" / "kernel_resources.py"
CAN_COMPILE = (SCRIPT.exists() and importlib.util.find_spec("triton.backends.nvidia") is not None
               and (Path(triton.__file__).parent / "backends" / "nvidia" / "bin" / "cuobjdump").exists())


def resources(*args):
    """Rows (as lists of cells) of the table benchmarks/kernel_resources.py prints for args."""
    env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}
    out = subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, env=env,
                         timeout=600, check=True).stdout
    return [[c.strip() for c in line.strip("|").split("|")] for line in out.splitlines() if line.startswith("| sm_")]


COLUMNS = ["target", "dtype", "shape", "kernel", "tiles", "warps", "stages", "regs", "spill B", "shared B",
           "limit B", "warps/SM", "fits"]
if CAN_COMPILE:
    one = ["--shapes", "default", "--targets", "sm_90a", "--dtypes", "float32", "--kernels", "_ln_backward_kernel"]
    rows = resources(*one, "--set", "BLOCK_M=64") + resources(*one)
    for r in rows:
        print(f"{r[3]} {r[4]:12s} {r[5]} warps: {r[7]:>3s} registers, {r[8]} B spilled, "
              f"{r[9]} B shared -> {r[11]} resident warps per SM")
    regs = [int(r[7]) for r in rows]
    assert regs[1] < regs[0] <= 255 and regs[1] <= 128 and int(rows[1][8]) == 0
else:
    print("triton's CUDA backend or cuobjdump is missing here: reading the committed table instead")

# %% [markdown]
# Twice the rows is twice the values per thread: x, dy, dLN and x̂ for each of 64 rows of 64
# features over 128 threads. The registers per thread rise with them, and fewer warps fit to
# hide memory latency, for a kernel whose whole job is memory traffic.
#
# The full matrix (every kernel, the training default and every benchmark shape, float32 and
# bfloat16, sm_80 and sm_90a) takes several minutes to compile, so it is committed. Its
# summary:

# %%
RESULTS = REPO / "benchmarks" / "results"
table = RESULTS / "kernel_resources.md"
if table.exists():
    print(f"--- {table.name}\n" + "\n".join(table.read_text().splitlines()[6:8]))
if table.exists():
    cells = [[c.strip() for c in line.strip("|").split("|")] for line in table.read_text().splitlines()
             if line.startswith("| sm_")]
    heaviest = max(cells, key=lambda r: int(r[7]))
    print(f"\n{len(cells)} launches; most registers: {heaviest[3]} ({heaviest[1]}, {heaviest[0]}, "
          f"{heaviest[2]}): {heaviest[7]}")
    assert all(r[12] == "yes" for r in cells), "a kernel in the committed table spills or overflows"
if CAN_COMPILE and not QUICK:
    print("\nand compiled live now, for the CI shapes on sm_90a:")
    for r in resources("--shapes", "ci", "--targets", "sm_90a"):
        print(" | ".join(r[i] for i in (1, 2, 3, 4, 5, 7, 8, 9, 11)))
        assert r[12] == "yes"

# %% [markdown]
# Why the launch table looks as it does (`tiny_mmmlp/kernels/configs.py` explains each number):
# no software pipelining (`num_stages=1`), whose extra copies of every tile overflow shared
# memory in the weight-gradient kernels; more warps for the N-wide token-mixing tiles, so each
# thread holds fewer values; and matmuls over D in channel mixing that read D in chunks of 64,
# because a float32 `tl.dot` without tensor cores keeps a whole inner row of each operand in
# every thread, and at $D = 256$ those rows alone exceed the register file.

# %% [markdown]
# ## 6. What the GPU benchmark measured
#
# `benchmarks/kernel_speed.py` times the fused block (forward + backward) against eager PyTorch
# and `torch.compile` on a CUDA GPU, and compares it with the roofline bound. Its tables are
# written to `benchmarks/results/`. If one is there, here it is; the numbers come from the GPU
# named in its title, not from your machine.

# %%
results = sorted((REPO / "benchmarks" / "results").glob("kernels*.md")) if (REPO / "benchmarks").is_dir() else []
if results:
    for path in results:
        print(f"--- {path.relative_to(REPO)}\n{path.read_text()}")
else:
    print("No GPU benchmark table exists under benchmarks/results/ yet: none was measured. On a machine "
          "with a CUDA GPU run\n    python benchmarks/kernel_speed.py --out benchmarks/results/kernels-<gpu>.md")
assert all(p.stat().st_size > 0 for p in results)  # a table that exists is not empty (nothing to check without one)

# %% [markdown]
# ## What you have seen
#
# - Counted op by op, eager PyTorch moves many times the bytes a mixer block needs (the
#   ratio was printed in section 1), mostly to write and re-read the hidden activations.
# - The fused kernels keep a `BLOCK_R` slice of the hidden activation in registers and
#   recompute it in the backward from two saved statistics per position; by our launch-by-
#   launch model they move a few times less than eager, but still several times the minimum,
#   mostly in the weight-gradient kernels (section 2 printed both ratios).
# - The Triton source reads like the maths: tiles, masks, `tl.dot`, one store.
# - Under `TRITON_INTERPRET=1` the kernels run on a CPU and match the NumPy reference to the
#   tolerances of `kernels.TOLERANCES`.
# - Compiled for sm_80 and sm_90a on the same CPU, every kernel fits: no register spills, shared
#   memory within the per-block limit, and the memory-bound LayerNorm kernels at 128 registers
#   or fewer, so that at least 16 warps share an SM.
