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
# # 01 · One mixer block, by hand
#
# MMMLP reads a user's last $N$ purchases as a matrix $X$ of shape $(N, D)$: one row per
# position, one column per feature channel. All of its sequence modelling happens in
# **mixer blocks**. In this notebook you will:
#
# 1. run token mixing and channel mixing on a tiny batch, printing the shape after every step;
# 2. derive the backward pass of LayerNorm, GELU and token mixing on paper, code it, and
#    compare it with the library;
# 3. run a numerical gradient check yourself, and see why float64 and the step size matter;
# 4. see why token mixing over a fixed window knows the order of the items, and why it costs
#    $O(N)$ per channel where self-attention costs $O(N^2)$.
#
# Everything here is NumPy. Run it top to bottom as a script
# (`python tutorials/01_mixer_block_by_hand.py`) or open it as a notebook with jupytext.
# Figures go to `out/` in the folder you run it from.

# %%
import os
import sys
from pathlib import Path

import matplotlib

if "ipykernel" not in sys.modules:
    matplotlib.use("Agg")                     # a script: draw to files only
import matplotlib.pyplot as plt
import numpy as np

from tiny_mmmlp.reference import layers as L
from tiny_mmmlp.reference.gradcheck import numeric_gradient, rel_error

QUICK = os.environ.get("TINY_MMMLP_QUICK") == "1"   # small sizes, for tests
OUT = Path("out")
OUT.mkdir(exist_ok=True)


def show(fig, name):
    """Save the figure as out/<name> and show it when running as a notebook."""
    fig.savefig(OUT / name, dpi=110, bbox_inches="tight")
    print(f"saved {OUT / name}")
    plt.show() if "ipykernel" in sys.modules else plt.close(fig)


# %% [markdown]
# ## 1. A tiny batch
#
# Shape letters used everywhere in this package: **B** batch, **N** sequence length (positions),
# **D** features (channels), **R** hidden width of a mixing MLP. We take $B=2$ users,
# $N=5$ positions, $D=4$ channels, a token-mixing hidden width $R_N=3$ and a channel-mixing
# hidden width $R_D=8$. We work in float64 so that the gradient check later is exact enough.

# %%
B, N, D, R_N, R_D = 2, 5, 4, 3, 8
rng = np.random.default_rng(0)
x = rng.standard_normal((B, N, D))                       # (B, N, D) the input of the block
gamma, beta = 1 + 0.1 * rng.standard_normal(D), 0.1 * rng.standard_normal(D)   # (D,), (D,)
W1, b1 = rng.standard_normal((R_N, N)) / np.sqrt(N), 0.1 * rng.standard_normal(R_N)     # (R_N, N), (R_N,)
W2, b2 = rng.standard_normal((N, R_N)) / np.sqrt(R_N), 0.1 * rng.standard_normal(N)     # (N, R_N), (N,)
W3, b3 = rng.standard_normal((R_D, D)) / np.sqrt(D), 0.1 * rng.standard_normal(R_D)     # (R_D, D), (R_D,)
W4, b4 = rng.standard_normal((D, R_D)) / np.sqrt(R_D), 0.1 * rng.standard_normal(D)     # (D, R_D), (D,)
print("x", x.shape, x.dtype)
assert x.dtype == np.float64

# %% [markdown]
# ## 2. LayerNorm over the feature axis
#
# For one row $x \in \mathbb{R}^D$ (one position of one user):
#
# $$\mu = \tfrac1D\sum_d x_d,\qquad \sigma^2 = \tfrac1D\sum_d (x_d-\mu)^2,\qquad
#   \hat x = \frac{x-\mu}{\sqrt{\sigma^2+\varepsilon}},\qquad \mathrm{LN}(x) = \gamma\odot\hat x+\beta .$$
#
# Each of the $B\cdot N$ rows is normalized on its own; $\gamma,\beta$ are shared.

# %%
eps = 1e-5
mu = x.mean(axis=-1, keepdims=True)                      # (B, N, 1)
var = ((x - mu) ** 2).mean(axis=-1, keepdims=True)       # (B, N, 1)
xhat = (x - mu) / np.sqrt(var + eps)                     # (B, N, D)
ln = gamma * xhat + beta                                 # (B, N, D)
print("mu", mu.shape, " xhat", xhat.shape, " LN(x)", ln.shape)

ln_lib, _ = L.layernorm_forward(x, gamma, beta, eps)
print(f"rows of xhat: largest |mean| {np.abs(xhat.mean(-1)).max():.1e}, "
      f"largest |variance - 1| {np.abs(xhat.var(-1) - 1).max():.1e} (ε keeps it just under 1)")
assert np.abs(xhat.mean(-1)).max() < 1e-12 and np.abs(xhat.var(-1) - 1).max() < 1e-3
assert np.allclose(ln, ln_lib, atol=1e-12)

# %% [markdown]
# ## 3. Token mixing: an MLP along the sequence
#
# Token mixing is the only place where positions exchange information. For every channel
# $i$ it takes the column $\mathrm{LN}(X)_{:,i}\in\mathbb{R}^N$ (the same feature at all $N$
# positions) and runs it through a small MLP whose input and output are the $N$ positions:
#
# $$\hat X_{:,i} = X_{:,i} + W_2\,\mathrm{GELU}\big(W_1\,\mathrm{LN}(X)_{:,i} + b_1\big) + b_2,
#   \qquad W_1\in\mathbb{R}^{R_N\times N},\; W_2\in\mathbb{R}^{N\times R_N}.$$
#
# GELU is the tanh form used by every backend of this package:
# $\mathrm{GELU}(h) = \tfrac12 h\,(1+\tanh(k(h+c\,h^3)))$, $k=\sqrt{2/\pi}$, $c=0.044715$.
#
# In code we transpose so that channels become rows; then "apply $W_1$ to every column" is
# one matrix product for the whole batch.

# %%
K, C = np.sqrt(2 / np.pi), 0.044715


def gelu(h):
    return 0.5 * h * (1 + np.tanh(K * (h + C * h ** 3)))


ln_t = ln.transpose(0, 2, 1)                             # (B, N, D) -> (B, D, N): one row per channel
print("LN(X) transposed ", ln_t.shape)
h_tok = ln_t @ W1.T + b1                                 # (B, D, N) @ (N, R_N) -> (B, D, R_N)
print("H = W1 LN + b1   ", h_tok.shape)
a_tok = gelu(h_tok)                                      # (B, D, R_N)
print("A = GELU(H)      ", a_tok.shape)
z_tok = a_tok @ W2.T + b2                                # (B, D, R_N) @ (R_N, N) -> (B, D, N)
print("Z = W2 A + b2    ", z_tok.shape)
x_hat = x + z_tok.transpose(0, 2, 1)                     # (B, D, N) -> (B, N, D), plus the residual
print("X^ = X + Z^T     ", x_hat.shape)

# The library (tiny_mmmlp/reference/mixing.py) skips the transposes: W1 @ LN(X) multiplies
# from the left, (R_N, N) @ (B, N, D) -> (B, R_N, D), broadcasting over the batch. Same numbers:
x_hat_lib, _ = L.token_mix_forward(x, gamma, beta, W1, b1, W2, b2)
assert x_hat.shape == (B, N, D)
assert np.allclose(x_hat, x_hat_lib, atol=1e-12)

# %% [markdown]
# ## 4. Channel mixing: an MLP along the features
#
# Channel mixing is the familiar position-wise MLP of a Transformer. Every position $j$ is
# mixed across its $D$ channels, with its own LayerNorm ($\gamma',\beta'$):
#
# $$Y_{j,:} = \hat X_{j,:} + W_4\,\mathrm{GELU}\big(W_3\,\mathrm{LN}(\hat X)_{j,:} + b_3\big) + b_4,
#   \qquad W_3\in\mathbb{R}^{R_D\times D},\; W_4\in\mathbb{R}^{D\times R_D}.$$
#
# No transpose is needed: the features are already the last axis. The second LayerNorm gets
# its own `gamma2, beta2`, set here to their usual starting values (ones and zeros); this
# time we call the library's `layernorm_forward`, which section 2 showed equals ours.

# %%
gamma2, beta2 = np.ones(D), np.zeros(D)
ln2, _ = L.layernorm_forward(x_hat, gamma2, beta2)       # (B, N, D)
h_ch = ln2 @ W3.T + b3                                   # (B, N, D) @ (D, R_D) -> (B, N, R_D)
print("H = W3 LN + b3", h_ch.shape)
y = x_hat + gelu(h_ch) @ W4.T + b4                       # (B, N, R_D) @ (R_D, D) -> (B, N, D)
print("Y            ", y.shape)

y_lib, _ = L.channel_mix_forward(x_hat, gamma2, beta2, W3, b3, W4, b4)
assert y.shape == x.shape                                # a block keeps the shape: blocks stack
assert np.allclose(y, y_lib, atol=1e-12)

# %% [markdown]
# A mixer block is token mixing followed by channel mixing. The model stacks
# `n_layers` of them per modality, fuses the modalities, and stacks `fusion_layers` more.
#
# ## 5. The backward pass, derived
#
# We write $\bar v = \partial \mathcal{L}/\partial v$ for the gradient of the loss with
# respect to $v$. Given $\bar Y$ from above, each layer must return the gradient of its input
# and of its parameters.
#
# ### 5a. GELU
#
# With $u = k(h + c h^3)$ and $t=\tanh u$, $\mathrm{GELU}(h)=\tfrac12 h(1+t)$. Product rule,
# and $\tanh' = 1-t^2$:
#
# $$\mathrm{GELU}'(h) = \tfrac12(1+t) + \tfrac12 h\,(1-t^2)\,k\,(1+3c\,h^2),
#   \qquad \bar h = \bar a \odot \mathrm{GELU}'(h).$$

# %%
def gelu_grad(h):
    t = np.tanh(K * (h + C * h ** 3))
    return 0.5 * (1 + t) + 0.5 * h * (1 - t * t) * K * (1 + 3 * C * h * h)


hs = np.linspace(-4, 4, 201)
slope = (gelu(hs + 1e-6) - gelu(hs - 1e-6)) / 2e-6      # central difference of our GELU
print("max |GELU'(h) - finite difference| on [-4, 4]:", np.abs(gelu_grad(hs) - slope).max())
assert np.abs(gelu_grad(hs) - slope).max() < 1e-8

fig, ax = plt.subplots(figsize=(5, 3))
ax.plot(hs, gelu(hs), label="GELU(h)")
ax.plot(hs, gelu_grad(hs), label="GELU'(h)")
ax.axhline(0, color="grey", lw=0.5)
ax.set(xlabel="h", title="tanh-GELU and its derivative")
ax.legend()
show(fig, "01_gelu.png")

# %% [markdown]
# ### 5b. LayerNorm
#
# $y = \gamma\odot\hat x + \beta$ gives directly $\bar\gamma = \sum \bar y\odot\hat x$ and
# $\bar\beta = \sum \bar y$ (sums over all rows), and $g := \bar{\hat x} = \bar y\odot\gamma$.
# The hard part is $\hat x = (x-\mu)\,s$ with $s = (\sigma^2+\varepsilon)^{-1/2}$, because
# every $\hat x_k$ depends on every $x_j$ through $\mu$ and $\sigma^2$:
#
# $$\frac{\partial\mu}{\partial x_j} = \frac1D,\qquad
#   \frac{\partial\sigma^2}{\partial x_j} = \frac2D(x_j-\mu),\qquad
#   \frac{\partial s}{\partial x_j} = -\tfrac12 s^3\,\frac2D(x_j-\mu) = -\frac{s^2\,\hat x_j}{D}$$
#
# (the last step uses $s\,(x_j-\mu) = \hat x_j$). The product rule on $\hat x_k = (x_k-\mu)\,s$,
# with $x_k-\mu = \hat x_k/s$, gives
#
# $$\frac{\partial\hat x_k}{\partial x_j} = s\Big(\delta_{kj} - \frac1D - \frac{\hat x_k\hat x_j}{D}\Big)$$
#
# and, summing $g_k$ times this over $k$:
#
# $$\bar x = s\,\Big(g - \mathrm{mean}(g) - \hat x\odot\mathrm{mean}(g\odot\hat x)\Big).$$
#
# Three terms: the direct path, the path through the mean, the path through the variance.

# %%
def my_layernorm_backward(dy, x, gamma, eps=1e-5):
    mu = x.mean(-1, keepdims=True)                       # (..., 1)
    s = 1 / np.sqrt(((x - mu) ** 2).mean(-1, keepdims=True) + eps)   # (..., 1)
    xhat = (x - mu) * s                                  # (..., D)
    g = dy * gamma                                       # (..., D)
    dx = s * (g - g.mean(-1, keepdims=True) - xhat * (g * xhat).mean(-1, keepdims=True))
    dgamma = (dy * xhat).reshape(-1, x.shape[-1]).sum(0) # (D,)
    dbeta = dy.reshape(-1, x.shape[-1]).sum(0)           # (D,)
    return dx, dgamma, dbeta


dy = rng.standard_normal((B, N, D))                      # some upstream gradient
mine = my_layernorm_backward(dy, x, gamma)
_, cache = L.layernorm_forward(x, gamma, beta)
lib = L.layernorm_backward(dy, cache)
for name, a, b in zip(["dx", "dgamma", "dbeta"], mine, lib):
    print(f"{name:7s} ours vs library: rel error {rel_error(a, b):.1e}")
    assert rel_error(a, b) < 1e-12

# %% [markdown]
# ### 5c. Token mixing
#
# Follow one channel $i$ of one user, with $u = \mathrm{LN}(X)_{:,i}$.
# Read the forward column top to bottom and the backward column **bottom to top**: the
# backward starts from $\bar{\hat X}_{:,i}$ (given) and ends at $\bar u$.
#
# | forward | backward |
# |---|---|
# | $h = W_1 u + b_1$ | $\bar W_1 \mathrel{+}= \bar h\,u^\top,\;\; \bar b_1 \mathrel{+}= \bar h,\;\; \bar u = W_1^\top \bar h$ |
# | $a = \mathrm{GELU}(h)$ | $\bar h = \bar a\odot\mathrm{GELU}'(h)$ |
# | $z = W_2 a + b_2$ | $\bar W_2 \mathrel{+}= \bar z\,a^\top,\;\; \bar b_2 \mathrel{+}= \bar z,\;\; \bar a = W_2^\top\bar z$ |
# | $\hat X_{:,i} = X_{:,i} + z$ | $\bar z = \bar{\hat X}_{:,i},\;\; \bar X_{:,i} \mathrel{+}= \bar{\hat X}_{:,i}$ (the residual) |
#
# The "$\mathrel{+}=$" matters: the same $W_1, W_2$ serve every channel of every user, so
# their gradients are **sums over $B\cdot D$ columns**. Finally the columns $\bar u$ are put
# back as rows (transpose) and go through the LayerNorm backward of 5b. Batched, the column
# sums become matrix products over the rows of the transposed arrays:

# %%
def my_token_mix_backward(dy, x, gamma, beta, W1, b1, W2, b2):
    # B, N, D are the sizes of section 1; recompute the forward (the library caches it instead)
    ln, _ = L.layernorm_forward(x, gamma, beta)
    u = ln.transpose(0, 2, 1).reshape(-1, N)             # (B·D, N): one row per (user, channel)
    h = u @ W1.T + b1                                    # (B·D, N) @ (N, R_N) -> (B·D, R_N)
    a = gelu(h)                                          # (B·D, R_N)
    dz = dy.transpose(0, 2, 1).reshape(-1, N)            # (B·D, N)
    dW2 = dz.T @ a                                       # (N, B·D) @ (B·D, R_N) -> (N, R_N)
    db2 = dz.sum(0)                                      # (N,)
    da = dz @ W2                                         # (B·D, N) @ (N, R_N) -> (B·D, R_N)
    dh = da * gelu_grad(h)                               # (B·D, R_N)
    dW1 = dh.T @ u                                       # (R_N, B·D) @ (B·D, N) -> (R_N, N)
    db1 = dh.sum(0)                                      # (R_N,)
    du = dh @ W1                                         # (B·D, R_N) @ (R_N, N) -> (B·D, N)
    dln = du.reshape(B, D, N).transpose(0, 2, 1)         # (B, D, N) -> (B, N, D)
    dx_ln, dgamma, dbeta = my_layernorm_backward(dln, x, gamma)
    return dy + dx_ln, dgamma, dbeta, dW1, db1, dW2, db2


names = ["dx", "dgamma", "dbeta", "dW1", "db1", "dW2", "db2"]
mine = my_token_mix_backward(dy, x, gamma, beta, W1, b1, W2, b2)
_, cache = L.token_mix_forward(x, gamma, beta, W1, b1, W2, b2)
lib = L.token_mix_backward(dy, cache)
for name, a, b in zip(names, mine, lib):
    print(f"{name:7s} {str(a.shape):10s} ours vs library: rel error {rel_error(a, b):.1e}")
    assert a.shape == b.shape and rel_error(a, b) < 1e-12

# %% [markdown]
# ## 6. A gradient check you run
#
# Agreeing with the library proves nothing if both are wrong. The independent test is a
# **numerical gradient**: nudge one number, watch the loss.
#
# $$\frac{\partial f}{\partial \theta_k} \approx \frac{f(\theta + h e_k) - f(\theta - h e_k)}{2h},
#   \qquad \text{rel\_error}(a,b)=\frac{\lVert a-b\rVert}{\max(\lVert a\rVert+\lVert b\rVert,\;10^{-8})}.$$
#
# (The floor $10^{-8}$ only matters when both gradients are essentially zero; then the
# error is measured absolutely instead of dividing noise by noise.)
#
# As the scalar $f$ we use $\sum \hat X\odot \bar{\hat X}$ for a fixed random
# $\bar{\hat X}$ (= `dy`), whose gradient is exactly what the backward computes. Here is the
# checker, in full:

# %%
def my_numeric_gradient(f, theta, h=1e-6):
    grad = np.zeros_like(theta)
    for k in np.ndindex(theta.shape):                   # every entry, one at a time
        old = theta[k]
        theta[k] = old + h
        f_plus = f()
        theta[k] = old - h
        f_minus = f()
        theta[k] = old                                   # put it back!
        grad[k] = (f_plus - f_minus) / (2 * h)
    return grad


inputs = [x, gamma, beta, W1, b1, W2, b2]
f = lambda: float(np.sum(L.token_mix_forward(*inputs)[0] * dy))   # noqa: E731
errors = {}
for name, theta, analytic in zip(names, inputs, lib):
    errors[name] = rel_error(analytic, my_numeric_gradient(f, theta))
    print(f"{name:7s} analytic vs numeric: rel error {errors[name]:.1e}")
assert max(errors.values()) < 1e-7, errors

# the library ships the same checker (tiny_mmmlp.reference.gradcheck), used by its tests
assert rel_error(numeric_gradient(f, W1), my_numeric_gradient(f, W1)) < 1e-12

# %% [markdown]
# Why float64, and why $h = 10^{-6}$? The central difference has a **truncation** error that
# shrinks like $h^2$ and a **rounding** error that grows like $\epsilon_\text{machine}/h$.
# Sweep $h$ in both precisions and the error traces a V. In float32
# ($\epsilon\approx10^{-7}$) the bottom of the V sits several orders of magnitude higher
# than in float64 ($\epsilon\approx10^{-16}$), and only at a large $h$: too coarse to tell a
# subtle bug from noise. The printout below gives the best error of each on your machine.

# %%
steps = np.logspace(-10, -1, 10 if QUICK else 19)
curves = {}
for dtype in (np.float64, np.float32):
    ins = [a.astype(dtype) for a in inputs]
    g_exact = lib[3]                                     # dW1 from the float64 backward
    f_d = lambda: float(np.sum(L.token_mix_forward(*ins)[0].astype(np.float64) * dy))  # noqa: E731
    curves[dtype.__name__] = [rel_error(g_exact, numeric_gradient(f_d, ins[3], h)) for h in steps]
for name, errs in curves.items():
    best = int(np.argmin(errs))
    print(f"{name}: best rel error {errs[best]:.1e} at h = {steps[best]:.0e}")

fig, ax = plt.subplots(figsize=(5, 3.4))
for name, errs in curves.items():
    ax.loglog(steps, errs, "o-", label=name)
ax.set(xlabel="step h", ylabel="relative error of dW1", title="gradient check: the V of rounding vs truncation")
ax.legend()
show(fig, "01_gradcheck_step.png")
assert min(curves["float64"]) < 1e-8 < min(curves["float32"])

# %% [markdown]
# ## 7. Token mixing knows the order
#
# Self-attention without position embeddings is *permutation-equivariant*: shuffle the input
# rows and the output rows shuffle the same way; it cannot tell "bought a mug, then a teapot"
# from the reverse. Token mixing is different. $W_1$ has **one column per position**: the
# item at position 2 is multiplied by $W_1[:,2]$, the item at position 4 by $W_1[:,4]$
# (positions count from 0 here, as in the code and the plots). So the model learns what "the
# most recent item" means (MMMLP left-pads histories so that the most recent item is always
# at the last position, $N-1$).
#
# Test: permute the positions of the input and compare with the permuted output.

# %%
perm = np.array([4, 0, 3, 1, 2])                         # a shuffle of the N = 5 positions
y_tok, _ = L.token_mix_forward(x, gamma, beta, W1, b1, W2, b2)
y_tok_perm, _ = L.token_mix_forward(x[:, perm], gamma, beta, W1, b1, W2, b2)
y_ch, _ = L.channel_mix_forward(x, gamma2, beta2, W3, b3, W4, b4)
y_ch_perm, _ = L.channel_mix_forward(x[:, perm], gamma2, beta2, W3, b3, W4, b4)
gap_tok = np.abs(y_tok_perm - y_tok[:, perm]).max()
gap_ch = np.abs(y_ch_perm - y_ch[:, perm]).max()
print(f"token mixing:   |f(P x) - P f(x)| = {gap_tok:.3f}   (order matters)")
print(f"channel mixing: |f(P x) - P f(x)| = {gap_ch:.1e}   (each position on its own)")
assert gap_tok > 1e-2 and gap_ch < 1e-12

# %% [markdown]
# The pictures below show *how much each input position moves each output position*: the
# Jacobian norm $\lVert\partial \hat X_{j,:}/\partial X_{k,:}\rVert$ of one token-mixing
# layer. On the left, the whole layer: its diagonal stands out because of the **residual**
# $\hat X = X + \dots$, through which every position passes itself on unchanged (a
# $D\times D$ identity block of norm $\sqrt D$, added to the MLP's share). On the right, the
# MLP branch alone, $\hat X - X$: off the diagonal it is the same numbers as on the left
# (the residual touches only the diagonal), and every position reaches every other, each
# pair through its own weights. Those weights are random here, so there is no learned
# pattern yet; training shapes it. What structure you do see comes from LayerNorm: it divides
# each position by its own standard deviation over the $D$ features, so a position whose
# features vary little (here position 0) moves every output more, and its column is brighter.
# Every entry is a separate number, indexed by position: a fixed-size mixing, not a similarity
# score.

# %%
def jacobian_norms(fn, x1):
    """(N, N) matrix: Frobenius norm of d out[j, :] / d x[k, :] for one sequence x1 (N, D)."""
    J = np.zeros((N, D, N, D))
    for k in range(N):
        for d in range(D):
            e = np.zeros_like(x1)
            e[k, d] = 1e-6
            J[:, :, k, d] = (fn(x1 + e) - fn(x1 - e)) / 2e-6
    return np.sqrt((J ** 2).sum(axis=(1, 3)))


def token_mix_one(v):                                    # one sequence (N, D) -> X̂ (N, D)
    return L.token_mix_forward(v[None], gamma, beta, W1, b1, W2, b2)[0][0]


J = jacobian_norms(token_mix_one, x[0])                  # the whole layer
J_mlp = jacobian_norms(lambda v: token_mix_one(v) - v, x[0])   # the MLP branch alone
fig, axes = plt.subplots(1, 2, figsize=(8.5, 3.4))
for ax, M, title in [(axes[0], J, "whole layer: ‖∂X̂[j]/∂X[k]‖"),
                     (axes[1], J_mlp, "MLP branch only: ‖∂(X̂ − X)[j]/∂X[k]‖")]:
    im = ax.imshow(M, cmap="viridis")
    ax.set(xlabel="input position k", ylabel="output position j", title=title,
           xticks=range(N), yticks=range(N))
    fig.colorbar(im, ax=ax)
show(fig, "01_token_mix_jacobian.png")
off = ~np.eye(N, dtype=bool)
print(f"whole layer: diagonal {np.diag(J).mean():.2f} on average, off the diagonal {J[off].mean():.2f}; "
      f"the residual's identity block alone has norm √D = {np.sqrt(D):.2f}")
print("std over the features, per position:", np.round(x[0].std(axis=1), 2))
assert np.allclose(J[off], J_mlp[off])                   # the residual adds to the diagonal only
assert np.diag(J).mean() > J[off].mean()                 # ... which therefore stands out
assert np.all(J_mlp > 0)                                 # through the MLP, every position reaches every other
assert J_mlp.mean(axis=0).argmax() == x[0].std(axis=1).argmin()   # LayerNorm: the quietest position moves most

# %% [markdown]
# ## 8. What it costs: $O(N)$ per channel
#
# Count the multiply-adds. Token mixing applies $W_1$ ($R_N\times N$) and $W_2$ ($N\times R_N$)
# to every one of the $B\cdot D$ columns: $2\cdot 2\,N R_N$ FLOPs per channel, **linear in
# $N$** for a fixed hidden width $R_N$. Self-attention forms $QK^\top$ and multiplies by $V$:
# $2\cdot 2\,N^2 D$ FLOPs per sequence, or $4N^2$ per channel, **quadratic**. The price of
# linear: $W_1$ has exactly $N$ columns, so the window length $N$ is fixed when the model is
# built (tutorial 05 measures both costs and discusses what that gives up).
#
# Compare the two per channel: $4NR_N$ against $4N^2$. Attention's score step is actually
# the cheaper one while $N < R_N$; the curves cross at $N = R_N$. These are counts from
# formulas, so their log-log slopes are exactly 1 and 2 by construction; the fit below only
# shows how to read such a plot. Tutorial 05 fits the same slopes to *measured* times.

# %%
def token_mix_flops(N, D, R):        # two matmuls, 2 FLOPs per multiply-add, per sequence
    return 2 * 2 * N * R * D


def attention_flops(N, D):           # Q K^T and softmax(.) V, per sequence (projections aside)
    return 2 * 2 * N * N * D


Ns = np.array([50, 100, 200, 400, 800, 1600])
tm = np.array([token_mix_flops(n, 64, 64) for n in Ns])
at = np.array([attention_flops(n, 64) for n in Ns])
for n, a, b in zip(Ns, tm, at):
    print(f"N = {n:5d}: token mixing {a / 1e6:9.1f} MFLOP, attention scores {b / 1e6:9.1f} MFLOP")
slope_tm = np.polyfit(np.log(Ns), np.log(tm), 1)[0]
slope_at = np.polyfit(np.log(Ns), np.log(at), 1)[0]
print(f"log-log slopes: token mixing {slope_tm:.2f}, attention {slope_at:.2f}")
cheaper = [int(n) for n, a, b in zip(Ns, tm, at) if b < a]
print(f"attention scores cheaper than token mixing (R_N = 64) at N = {cheaper}")

fig, ax = plt.subplots(figsize=(5, 3.4))
ax.loglog(Ns, tm, "o-", label="token mixing (R_N = 64)")
ax.loglog(Ns, at, "s-", label="attention QKᵀ and AV")
ax.set(xlabel="sequence length N", ylabel="FLOPs per sequence (D = 64)", title="counted cost")
ax.legend()
show(fig, "01_flops.png")
assert abs(slope_tm - 1) < 1e-9 and abs(slope_at - 2) < 1e-9   # the formulas, fitted back
assert cheaper == [int(n) for n in Ns if n < 64] and at[-1] > 10 * tm[-1]   # crossover at N = R_N

# %% [markdown]
# ## What you have seen
#
# - A mixer block is two MLPs: one along positions (token mixing, the only cross-position
#   step), one along features (channel mixing). Both keep the $(B, N, D)$ shape.
# - Their backward passes are the chain rule, one line per forward line; weights shared
#   across columns collect summed gradients; LayerNorm's backward has three paths.
# - A central-difference check in float64 confirms every gradient (section 6 printed the
#   relative errors on your machine; the assert requires them below $10^{-7}$); float32 is
#   far too coarse for this.
# - Token mixing weights are indexed by position, so the model is order-aware, and its cost
#   is linear in $N$ at the price of a fixed window.
#
# Next: `02_data_and_features.py` builds the inputs, `03_train_numpy_mmmlp.py` trains the model.
