"""Alternative training losses: label-smoothed softmax, and a sampled softmax.

Both take the model's scores (B, V + 1) (column 0 = padding, never a class) and targets
(B,) in 1..V, like ``head.softmax_cross_entropy_*``, which is the default loss (no smoothing,
every item a class). Shape letters: B batch, V items, K sampled negatives.
"""
from __future__ import annotations

import numpy as np

from .workspace import FRESH


def _log_softmax(logits):
    """log softmax along the last axis, shifted for stability. logits: (B, C)."""
    shifted = logits - logits.max(axis=1, keepdims=True)    # (B, C)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


def smoothed_cross_entropy_forward(scores, targets, smoothing, ws=FRESH):
    """L = mean_b [ −Σ_v q_bv log p_bv ],  p_b = softmax(scores[b, 1:]),
    q_b = (1 − ε) onehot(t_b) + ε / V   (label smoothing, ε = ``smoothing``; V classes 1..V).

    Equals torch's ``F.cross_entropy(scores[:, 1:], targets − 1, label_smoothing=ε)``.
    scores: (B, V + 1); targets: (B,) in 1..V. Returns (loss, cache).

    With z = s − max s and log Z = log Σ exp z, −log p_t = log Z − z_t and the uniform
    term −mean_v log p_v = log Z − mean z: one (B, V) array, written in place (it ends as
    the softmax the backward needs), and no log-softmax matrix of its own.
    """
    logits = scores[:, 1:]                                  # (B, V)
    z = np.subtract(logits, logits.max(axis=1, keepdims=True),
                    out=ws("probs", logits.shape, logits.dtype))   # (B, V), shifted for stability
    rows = np.arange(len(targets))
    z_t = z[rows, targets - 1]                              # (B,) a copy
    z_mean = z.mean(axis=1)                                 # (B,)
    np.exp(z, out=z)
    sum_exp = z.sum(axis=1)                                 # (B,)
    log_z = np.log(sum_exp)
    z /= sum_exp[:, None]                                   # p: softmax over items 1..V
    nll, uniform = log_z - z_t, log_z - z_mean              # (B,) each
    loss = ((1.0 - smoothing) * nll + smoothing * uniform).mean()
    return loss, (z, targets, smoothing)


def smoothed_cross_entropy_backward(dloss, cache, ws=FRESH):
    """dL/dscores = (p − q) / B on columns 1..V, 0 on the padding column."""
    probs, targets, smoothing = cache                       # probs: (B, V)
    B, V = probs.shape
    dscores = ws("dscores", (B, V + 1), probs.dtype)
    dscores[:, 0] = 0.0
    np.subtract(probs, smoothing / V, out=dscores[:, 1:])
    dscores[:, 1:] *= dloss / B
    dscores[np.arange(B), targets] -= (1.0 - smoothing) * dloss / B
    return dscores


def sampled_softmax_forward(scores, targets, negatives):
    """Softmax over the target and K shared sampled negatives (eSASRec-style sampled loss):

        ℓ_b = −log( exp s_{b,t_b} / (exp s_{b,t_b} + Σ_{k: n_k ≠ t_b} exp s_{b,n_k}) )

    A negative that happens to equal the row's target is left out of that row (its logit is
    −inf). Uniform sampling needs no log-Q correction (every item is equally likely).
    scores: (B, V + 1); targets: (B,) in 1..V; negatives: (K,) distinct ids in 1..V.
    Returns (mean loss, cache).
    """
    rows = np.arange(len(targets))
    logits = np.empty((len(targets), len(negatives) + 1), dtype=scores.dtype)   # (B, 1 + K)
    logits[:, 0] = scores[rows, targets]                    # column 0: the target
    logits[:, 1:] = scores[:, negatives]                    # (B, K) gathered negatives
    logits[:, 1:][negatives[None, :] == targets[:, None]] = -np.inf
    logp = _log_softmax(logits)                             # (B, 1 + K)
    return -logp[:, 0].mean(), (np.exp(logp), targets, negatives, scores.shape)


def sampled_softmax_backward(dloss, cache):
    """dℓ/dlogits = (p − e_0) / B, scattered back to the target's and the negatives' columns."""
    probs, targets, negatives, shape = cache                # probs: (B, 1 + K)
    B = len(targets)
    dlogits = probs * (dloss / B)                           # (B, 1 + K)
    dlogits[:, 0] -= dloss / B
    dscores = np.zeros(shape, dtype=probs.dtype)            # (B, V + 1)
    dscores[:, negatives] = dlogits[:, 1:]                  # negatives are distinct columns
    dscores[np.arange(B), targets] += dlogits[:, 0]         # a masked negative there added 0
    return dscores


def sample_negatives(rng, n_items, k):
    """(min(k, V),) distinct item ids drawn uniformly from 1..V."""
    return rng.choice(n_items, size=min(k, n_items), replace=False) + 1
