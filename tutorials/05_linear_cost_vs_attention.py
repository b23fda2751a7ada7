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
# # 05 · Linear cost: a mixer block against self-attention
#
# Tutorial 01 counted FLOPs on paper: token mixing costs $O(N)$ per channel, self-attention
# $O(N^2)$. Counting is not measuring. In this notebook you will:
#
# 1. write a small self-attention block next to the mixer block, in PyTorch;
# 2. time both (forward + backward) on **your machine** as the sequence length $N$ grows
#    from 50 to 1600, and count the **memory** each must keep for its backward pass;
# 3. plot both on log-log axes and fit the slopes: 1 means linear, 2 quadratic;
# 4. read an honest note on what token mixing gives up for its linear cost.
#
# Quick mode (`TINY_MMMLP_QUICK=1`) stops at $N = 800$ with fewer repeats. Every time below
# depends on your CPU, its load and its thread count; the slopes are what carry over.

# %%
import math
import os
import sys
import time
from pathlib import Path

import matplotlib

if "ipykernel" not in sys.modules:
    matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn.functional as F

from tiny_mmmlp.torch_model import channel_mix_eager, token_mix_eager

QUICK = os.environ.get("TINY_MMMLP_QUICK") == "1"
NS = [50, 100, 200, 400, 800] if QUICK else [50, 100, 200, 400, 800, 1600]
REPEATS = 3 if QUICK else 7
B, D, R_N, R_D = 8, 64, 64, 128                  # batch, features, token / channel hidden widths
OUT = Path("out")
OUT.mkdir(exist_ok=True)
torch.manual_seed(0)
torch.set_num_threads(1)   # time the algorithm, not how threads share a possibly busy machine
print(f"torch {torch.__version__}, {torch.get_num_threads()} thread; B = {B}, D = {D}, R_N = {R_N}, R_D = {R_D}")


def show(fig, name):
    """Save the figure as out/<name> and show it when running as a notebook."""
    fig.savefig(OUT / name, dpi=110, bbox_inches="tight")
    print(f"saved {OUT / name}")
    plt.show() if "ipykernel" in sys.modules else plt.close(fig)


# %% [markdown]
# ## 1. The two blocks
#
# **Mixer block** (the package's eager PyTorch version, the same maths as the NumPy
# reference): token mixing along $N$, then channel mixing along $D$.
#
# **Self-attention block** (a pre-LN Transformer layer, one head, no mask): the channel MLP
# is the same, but positions talk through attention instead of a fixed MLP:
#
# $$Q, K, V = \mathrm{LN}(X)\,W_{q,k,v},\qquad
#   \hat X = X + \mathrm{softmax}\!\Big(\frac{QK^\top}{\sqrt D}\Big) V\,W_o .$$
#
# $QK^\top$ is an $N\times N$ matrix per sequence: that is where $N^2$ comes from. The
# rest of the block (the projections $W_{q,k,v}$, $W_o$ and the channel MLP) costs $O(N)$, as
# in the mixer block. We
# write the softmax out rather than call a fused attention routine, so that both blocks are
# plain eager PyTorch and the comparison is about the algorithm, not about a kernel.

# %%
def params(*shape, scale=1.0):
    return (torch.randn(*shape) * scale).requires_grad_()


def mixer_params(N):
    token = [torch.ones(D).requires_grad_(), torch.zeros(D).requires_grad_(),
             params(R_N, N, scale=N ** -0.5), params(R_N, scale=0.0), params(N, R_N, scale=R_N ** -0.5),
             params(N, scale=0.0)]
    return token


channel = [torch.ones(D).requires_grad_(), torch.zeros(D).requires_grad_(),
           params(R_D, D, scale=D ** -0.5), params(R_D, scale=0.0), params(D, R_D, scale=R_D ** -0.5),
           params(D, scale=0.0)]
attn = [torch.ones(D).requires_grad_(), torch.zeros(D).requires_grad_(),
        params(3 * D, D, scale=D ** -0.5), params(D, D, scale=D ** -0.5)]   # W_qkv (3D, D), W_o (D, D)


def mixer_block(x, token):
    """x (B, N, D) -> (B, N, D): token mixing, then channel mixing."""
    return channel_mix_eager(token_mix_eager(x, *token), *channel)


def attention_block(x, gamma, beta, w_qkv, w_o):
    """x (B, N, D) -> (B, N, D): pre-LN single-head self-attention, then channel mixing."""
    ln = F.layer_norm(x, (D,), gamma, beta)                        # (B, N, D)
    q, k, v = (ln @ w_qkv.T).split(D, dim=-1)                      # (B, N, D) @ (D, 3D) -> 3 × (B, N, D)
    scores = q @ k.transpose(1, 2) / math.sqrt(D)                  # (B, N, D) @ (B, D, N) -> (B, N, N)
    weights = torch.softmax(scores, dim=-1)                        # (B, N, N): each row sums to 1
    x = x + (weights @ v) @ w_o.T                                  # (B, N, N) @ (B, N, D) -> (B, N, D)
    return channel_mix_eager(x, *channel)


x = torch.randn(B, 50, D)
print("mixer block    ", tuple(mixer_block(x, mixer_params(50)).shape))
print("attention block", tuple(attention_block(x, *attn).shape))
assert mixer_block(x, mixer_params(50)).shape == attention_block(x, *attn).shape == x.shape

# %% [markdown]
# ## 2. What to measure
#
# **Time**: one training step's worth of work, forward and backward, for a batch of $B$
# sequences; we report the fastest of several repeats (the least disturbed by whatever else
# the machine is doing).
#
# **Memory**: the activations autograd keeps between forward and backward. We count them
# exactly by hooking every tensor autograd saves (`torch.autograd.graph.saved_tensors_hooks`)
# and summing the bytes of each distinct storage, leaving out the parameters (they are
# stored once whatever the batch). Unlike a wall-clock time, this number does not depend on
# the machine. For attention it includes the $(B, N, N)$ softmax weights.
#
# All timings run on one CPU thread (`torch.set_num_threads(1)` above): on a shared or busy
# machine, threads that wait for each other can swamp operations this small.

# %%
def saved_bytes(fn, *args):
    """Bytes of the distinct non-parameter tensors autograd saves for the backward of fn(*args)."""
    params = {p.untyped_storage().data_ptr() for p in list(args[1:]) + channel + attn
              if isinstance(p, torch.Tensor)}
    for a in args[1:]:
        if isinstance(a, list):
            params |= {p.untyped_storage().data_ptr() for p in a}
    seen = {}

    def pack(t):
        ptr = t.untyped_storage().data_ptr()
        if ptr not in params:
            seen[ptr] = t.untyped_storage().nbytes()
        return t
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        fn(*args)
    return sum(seen.values())


def step_seconds(fn, *args):
    """Fastest of REPEATS runs of forward + backward."""
    times = []
    for _ in range(REPEATS + 1):                                    # the first run is a warm-up
        t0 = time.perf_counter()
        fn(*args).sum().backward()
        times.append(time.perf_counter() - t0)
    return min(times[1:])


results = {"mixer": {"s": [], "bytes": []}, "attention": {"s": [], "bytes": []}}
for N in NS:
    x = torch.randn(B, N, D, requires_grad=True)
    token = mixer_params(N)
    for name, fn, args in [("mixer", mixer_block, (x, token)), ("attention", attention_block, (x, *attn))]:
        results[name]["s"].append(step_seconds(fn, *args))
        results[name]["bytes"].append(saved_bytes(fn, *args))
    print(f"N = {N:5d}:  mixer {results['mixer']['s'][-1] * 1e3:8.2f} ms {results['mixer']['bytes'][-1] / 2**20:7.1f} MiB"
          f"   attention {results['attention']['s'][-1] * 1e3:8.2f} ms {results['attention']['bytes'][-1] / 2**20:7.1f} MiB")

# %% [markdown]
# ## 3. Slopes on log-log axes
#
# If cost $= c\,N^p$ then $\log(\text{cost}) = \log c + p\log N$: a straight line of slope
# $p$ on log-log axes. We fit $p$ by least squares over the measured points. Fixed overheads
# (launching operations, the channel MLP that both blocks share) flatten the curves at small
# $N$, so we also fit over the larger half of the range, where the asymptotic cost shows.

# %%
def slope(ns, ys):
    return float(np.polyfit(np.log(ns), np.log(ys), 1)[0])


half = len(NS) // 2
slopes = {}
for name, r in results.items():
    slopes[name] = {"time": slope(NS, r["s"]), "time, large N": slope(NS[half:], r["s"][half:]),
                    "memory": slope(NS, r["bytes"]), "memory, large N": slope(NS[half:], r["bytes"][half:])}
    print(f"{name:9s} fitted slopes: time {slopes[name]['time']:.2f} (all N), "
          f"{slopes[name]['time, large N']:.2f} (N >= {NS[half]});  memory {slopes[name]['memory']:.2f} "
          f"(all N), {slopes[name]['memory, large N']:.2f} (N >= {NS[half]})")
ratio = results["attention"]["s"][-1] / results["mixer"]["s"][-1]
print(f"at N = {NS[-1]}: attention takes {ratio:.1f}x the time of the mixer block on this machine, "
      f"and keeps {results['attention']['bytes'][-1] / results['mixer']['bytes'][-1]:.1f}x the memory")

fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
for ax, key, unit, scale in [(axes[0], "s", "seconds per step (forward + backward)", 1.0),
                             (axes[1], "bytes", "MiB saved for backward", 2.0 ** -20)]:
    for name, marker in [("mixer", "o"), ("attention", "s")]:
        ys = np.array(results[name][key]) * scale
        p = slopes[name]["time" if key == "s" else "memory"]
        ax.loglog(NS, ys, marker + "-", label=f"{name} (slope {p:.2f})")
    ref = np.array(NS, dtype=float) / NS[0]
    y0 = np.array(results["mixer"][key][0]) * scale
    ax.loglog(NS, y0 * ref, ":", color="grey", label="slope 1")
    ax.loglog(NS, y0 * ref ** 2, "--", color="grey", label="slope 2")
    ax.set(xlabel="sequence length N", ylabel=unit)
    ax.set_xticks(NS, [str(n) for n in NS])
    ax.minorticks_off()
    ax.legend(fontsize=8)
axes[0].set_title(f"time on this machine (B = {B}, D = {D})")
axes[1].set_title("activation memory (machine-independent)")
show(fig, "05_cost_vs_length.png")

# %% [markdown]
# What must hold on any machine: the mixer's memory grows at most linearly. Its slope is
# even a little under 1 at small $N$, because token mixing's hidden activation has shape
# $(B, D, R_N)$ and does not grow with $N$ at all. Attention's memory grows faster (the
# $(B, N, N)$ weights), and on an idle machine so does its time, which the cell below leaves
# unchecked: a busy CPU can blur a timing, never a count of bytes. Do not expect attention's
# slopes to read 2: its cost is a linear part (projections, channel MLP) plus the quadratic
# $N\times N$ part, and the quadratic part dominates only once $N$ is well above $D$ and
# $R_D$, so the fitted slope lies between 1 and 2 and climbs toward 2 as $N$ grows (compare
# the "all N" and "large N" fits). The exact time slopes depend on your machine; on a short range of $N$
# (quick mode stops at 800) or a busy CPU, fixed overheads blur them.

# %%
assert 0.8 < slopes["mixer"]["memory, large N"] <= 1.1
assert slopes["attention"]["memory, large N"] > slopes["mixer"]["memory, large N"] + 0.2
assert results["attention"]["bytes"][-1] > results["mixer"]["bytes"][-1]

# %% [markdown]
# ## 4. What token mixing gives up
#
# Linear cost is not free. Two things self-attention has that token mixing does not:
#
# **A fixed maximum length.** $W_1$ has shape $(R_N, N)$: one column per position. A model
# built for $N = 50$ cannot read item 51; longer histories are cut to their last $N$ items,
# shorter ones are padded, and the padding is computed on like any item (a user with 3
# purchases costs as much as one with 50). Attention's weights do not depend on $N$, so it
# can read any length (up to its position embeddings).

# %%
token50 = mixer_params(50)
try:
    mixer_block(torch.randn(1, 51, D), token50)
    fixed_length = False
except RuntimeError as err:
    fixed_length = True
    print("a 51-item history into a 50-position token mixer:", str(err).splitlines()[0][:90])
print("the same attention block reads 50 and 51 items:",
      tuple(attention_block(torch.randn(1, 50, D), *attn).shape),
      tuple(attention_block(torch.randn(1, 51, D), *attn).shape))
assert fixed_length

# %% [markdown]
# **No content-based weighting.** Attention decides *from the items themselves* how much
# each past item matters: the weights $\mathrm{softmax}(QK^\top)$ change from user to user.
# Token mixing's weights $W_1, W_2$ are the same for every user: position 49 gets the same
# column of $W_1$ whatever item sits there. (The GELU makes the mixing of each channel
# depend on that channel's values, but never on how similar two items are.) So "the item
# most like the one I just bought" is something attention can look up directly and token
# mixing must approximate with its channels. Below, the first-order mixing weights of two
# different users: for attention they differ, for token mixing they are one and the same
# matrix. ("First-order": we drop the GELU between $W_1$ and $W_2$ and show the product
# $W_2 W_1$, the linear part of how position $k$ feeds position $j$.)

# %%
N = 12
token12 = mixer_params(N)
users = torch.randn(2, N, D)
with torch.no_grad():
    gamma, beta, w_qkv, _ = attn
    ln = F.layer_norm(users, (D,), gamma, beta)
    q, k, _ = (ln @ w_qkv.T).split(D, dim=-1)
    att_w = torch.softmax(q @ k.transpose(1, 2) / math.sqrt(D), dim=-1)     # (2, N, N)
    mix_w = token12[4] @ token12[2]                                          # W2 @ W1: (N, N), same for all
diff_att = (att_w[0] - att_w[1]).abs().max().item()
print(f"largest change of a mixing weight between the two users: attention {diff_att:.3f}, token mixing 0 (shared W2·W1)")

fig, axes = plt.subplots(1, 3, figsize=(11, 3.3))
for ax, m, title in [(axes[0], att_w[0], "attention weights, user A"), (axes[1], att_w[1], "attention weights, user B"),
                     (axes[2], mix_w, "token mixing W2·W1, every user")]:
    im = ax.imshow(m.numpy(), cmap="viridis")
    ax.set(title=title, xlabel="input position", ylabel="output position")
    fig.colorbar(im, ax=ax, fraction=0.046)
show(fig, "05_content_vs_position.png")
assert diff_att > 1e-3

# %% [markdown]
# For next-item recommendation the trade is often a good one: histories are short (tutorial
# 02 printed each data set's median length, a handful of items), recency matters more than
# long-range lookup, and the
# side information (text, images) carries much of the content signal through the channels.
# The MMMLP paper reports accuracy on par with or above attention models at lower cost; this
# package's README reports what its own runs measured.
#
# ## What you have seen
#
# - A self-attention block builds an $N\times N$ matrix per sequence; a mixer block never does.
# - Measured on your machine: the mixer's time and memory grow about linearly in $N$,
#   attention's faster, with fitted slopes printed above.
# - The price: a fixed window of $N$ positions and mixing weights that do not depend on content.
