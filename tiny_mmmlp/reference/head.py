"""The Prediction Layer and the loss.

Shape letters: B batch, D_f fused width, D ID width, V items (column 0 = padding).
Each function writes its results into ``ws`` (see ``workspace``; default: new arrays).
"""
from __future__ import annotations

import numpy as np

from .affine import layernorm_backward, layernorm_forward, linear_backward, linear_forward
from .inputs import embedding_backward, embedding_forward
from .workspace import FRESH


def candidates_forward(table, feats, projs, ws=FRESH):
    """C = E + Σ_m F_m P_mᵀ: the vector each candidate item is scored with.

    table: (V + 1, D) item embeddings; feats: list of (V + 1, d_m) frozen raw features;
    projs: list of (D, d_m). With no feats, C = E (the paper's prediction layer).
    Returns (C (V + 1, D), cache).
    """
    cand = table
    caches = []
    for m, (f, p) in enumerate(zip(feats, projs)):
        proj, c = linear_forward(f, p, None, ws.scope(f"feat{m}"))   # (V + 1, d_m) @ (d_m, D) -> (V + 1, D)
        cand = np.add(cand, proj, out=proj)                 # C += F_m P_mᵀ
        caches.append(c)
    return cand, caches


def candidates_backward(dcand, cache, ws=FRESH):
    """dE = dC (padding row excluded), dP_m = dCᵀ F_m. Returns (dtable, [dP_m ...])."""
    dprojs = [linear_backward(dcand, c, ws.scope(f"feat{m}"), input_grad=False)[1]
              for m, c in enumerate(cache)]                 # the features are frozen: no dF
    dtable = dcand                                          # (V + 1, D), dC flows to E unchanged
    dtable[0] = 0.0                                         # the padding row is never trained
    return dtable, dprojs


def prediction_forward(h, gamma, beta, w, b, cand, eps=1e-5, ws=FRESH, extra=None):
    """scores = (W · LN(h) + b + q) Cᵀ: the last position, normalized, projected, plus ``extra``
    q (B, D) if given (``history_pool_forward``), dotted with C.

    h: (B, D_f) fused representation at the last position; gamma, beta: (D_f,);
    w: (D, D_f); b: (D,); cand: (V + 1, D) candidate vectors.
    Returns (scores (B, V + 1), cache). Column 0 (padding) is never ranked.
    """
    ln, ln_cache = layernorm_forward(h, gamma, beta, eps, ws.scope("ln"))   # (B, D_f)
    u, u_cache = linear_forward(ln, w, b, ws.scope("proj"))    # (B, D_f) @ (D_f, D) -> (B, D)
    if extra is not None:
        u = u + extra                                          # (B, D)
    scores = ws("scores", (len(u), len(cand)), u.dtype)
    np.matmul(u, cand.T, out=scores)                        # (B, D) @ (D, V + 1) -> (B, V + 1)
    return scores, (ln_cache, u_cache, u, cand, extra is not None)


def prediction_backward(dscores, cache, ws=FRESH):
    """du = dscores C,  dC = dscoresᵀ u,  then the linear and LayerNorm backwards; dq = du.

    Returns (dh, dgamma, dbeta, dw, db, dcand), then dq if the forward had an extra q.
    """
    ln_cache, u_cache, u, cand, has_extra = cache
    du = np.matmul(dscores, cand, out=ws("du", u.shape, u.dtype))          # (B, V + 1) @ (V + 1, D) -> (B, D)
    dcand = np.matmul(dscores.T, u, out=ws("dcand", cand.shape, u.dtype))  # (V + 1, B) @ (B, D) -> (V + 1, D)
    dln, dw, db = linear_backward(du, u_cache, ws.scope("proj"))           # dln: (B, D_f)
    dh, dgamma, dbeta = layernorm_backward(dln, ln_cache, ws.scope("ln"))
    return (dh, dgamma, dbeta, dw, db, dcand) + ((du,) if has_extra else ())


def history_pool_forward(table, item_seq, a, feats=(), projs=(), ws=FRESH):
    """q = Σ_t a_t C[x_t]: a learned weighted sum of the history items' own candidate vectors,
    added to the query u (cfg.history_pool), so that u · C[v] scores v by its likeness to the
    history items (a linear token mixing straight into the scoring space).

    C = E + Σ_m F_m P_mᵀ (``candidates_forward``) is linear, so the pool is summed term by
    term and never builds C: q = Σ_t a_t E[x_t] + Σ_m (Σ_t a_t F_m[x_t]) P_mᵀ. With no feats
    (cfg.pool_features off, or IDs alone) q = Σ_t a_t E[x_t].

    table: (V + 1, D) item embeddings E, row 0 = padding (zero, never trained: padding adds
    nothing); item_seq: (B, N) ints; a: (N,); feats: list of (V + 1, d_m) frozen features,
    row 0 zero; projs: list of their (D, d_m) projections P_m. Returns (q (B, D), cache).
    """
    rows, c_rows = embedding_forward(item_seq, table, ws)      # (B, N, D)
    q = a @ rows                                                 # (N,) @ (B, N, D) -> (B, D)
    pooled = []
    for m, (f, p) in enumerate(zip(feats, projs)):
        raw = np.take(f, item_seq, axis=0, mode="clip",
                      out=ws(f"raw{m}", (*item_seq.shape, f.shape[1]), f.dtype))  # (B, N, d_m)
        pf = a @ raw                                             # (N,) @ (B, N, d_m) -> (B, d_m)
        q += pf @ p.T                                            # (B, d_m) @ (d_m, D) -> (B, D)
        pooled.append((raw, pf))
    return q, (rows, c_rows, a, pooled, projs)


def history_pool_backward(dq, cache, ws=FRESH):
    """dE[x_t] = Σ a_t dq (``embedding_backward``: padding row excluded),
    dP_m = dqᵀ (Σ_t a_t F_m[x_t]),  da_t = Σ_b dq[b] · C[x_bt]
    = Σ_b (dq[b] · E[x_bt] + Σ_m (dq P_m)[b] · F_m[x_bt]).

    dq: (B, D). Returns (dtable (V + 1, D), da (N,), [dP_m (D, d_m) ...]).
    """
    rows, c_rows, a, pooled, projs = cache
    da = np.einsum("bd,bnd->n", dq, rows)                        # (B, D) · (B, N, D) -> (N,)
    dprojs = []
    for (raw, pf), p in zip(pooled, projs):
        g = dq @ p                                               # (B, D) @ (D, d_m) -> (B, d_m)
        da += np.einsum("bk,bnk->n", g, raw)                     # (B, d_m) · (B, N, d_m) -> (N,)
        dprojs.append(dq.T @ pf)                                 # (D, B) @ (B, d_m) -> (D, d_m)
    drows = np.multiply(a[None, :, None], dq[:, None, :],
                        out=ws("drows", rows.shape, dq.dtype))   # (N,) ⊗ (B, D) -> (B, N, D)
    return embedding_backward(drows, c_rows, ws), da, dprojs


def history_bias_forward(scores, item_seq, beta, ws=FRESH):
    """scores[b, v] += β for every item v ≥ 1 in row b of item_seq: the learned repeat bias.

    scores: (B, V + 1), changed in place; item_seq: (B, N) ints, 0 = padding; beta: (1,).
    An item seen twice gets β once. Returns (scores, cache = the (B, V + 1) history mask H).
    """
    B, N = item_seq.shape
    hist = ws("hist", scores.shape, bool)
    hist.fill(False)
    hist[np.repeat(np.arange(B), N), item_seq.ravel()] = True    # H[b, v] = 1 if v in row b
    hist[:, 0] = False                                           # padding is not history
    scores[hist] += beta[0]
    return scores, hist


def history_bias_backward(dscores, hist):
    """dβ = Σ_b Σ_v H[b, v] dscores[b, v]; dscores itself flows on unchanged."""
    return np.array([dscores[hist].sum()], dtype=dscores.dtype)


def softmax_cross_entropy_forward(scores, targets, ws=FRESH):
    """L = mean_b [ −log softmax(scores[b, 1:])[targets[b] − 1] ], over items 1..V only.

    scores: (B, V + 1); targets: (B,) ints in 1..V.  Returns (loss (scalar), cache).
    """
    logits = scores[:, 1:]                                  # (B, V): padding column dropped
    probs = np.subtract(logits, logits.max(axis=1, keepdims=True),
                        out=ws("probs", logits.shape, logits.dtype))     # (B, V), shifted for stability
    rows = np.arange(len(targets))
    target_logit = probs[rows, targets - 1]                 # (B,)
    np.exp(probs, out=probs)
    sum_exp = probs.sum(axis=1, keepdims=True)              # (B, 1)
    probs /= sum_exp                                        # softmax over items 1..V
    loss = -(target_logit - np.log(sum_exp[:, 0])).mean()
    return loss, (probs, targets)


def softmax_cross_entropy_backward(dloss, cache, ws=FRESH):
    """dL/dscores = (softmax − onehot(target)) / B on columns 1..V, 0 on the padding column."""
    probs, targets = cache                                  # probs: (B, V)
    B = len(targets)
    dscores = ws("dscores", (B, probs.shape[1] + 1), probs.dtype)
    dscores[:, 0] = 0.0
    np.multiply(probs, dloss / B, out=dscores[:, 1:])
    dscores[np.arange(B), targets] -= dloss / B             # column t holds item t
    return dscores


def sampled_prediction_forward(h, gamma, beta, w, b, table, feats, projs, columns, eps=1e-5, ws=FRESH,
                               extra=None):
    """The Prediction Layer scored on ``columns`` only, for a sampled softmax.

    Only the target's and the K negatives' scores enter a sampled loss, so the candidate
    vectors C = E + Σ_m F_m P_mᵀ are built for those rows alone and the (B, V + 1) score
    matrix is never formed: O((B + K)·D) work and memory in the head instead of O(B·V·D).
    columns: (B + K,) the B rows' targets, then the K negatives every row shares; extra: q
    (B, D) added to u, as in ``prediction_forward``.
    Returns (s_t (B,) each row's target score, s_neg (B, K), cache).
    """
    ln, ln_cache = layernorm_forward(h, gamma, beta, eps, ws.scope("ln"))   # (B, D_f)
    u, u_cache = linear_forward(ln, w, b, ws.scope("proj"))    # (B, D_f) @ (D_f, D) -> (B, D)
    if extra is not None:
        u = u + extra                                          # (B, D)
    cand = table[columns]                                      # (B + K, D) gathered rows of E
    fcols = [f[columns] for f in feats]                        # (B + K, d_m) each
    for f, p in zip(fcols, projs):
        cand += f @ p.T                                        # (B + K, d_m) @ (d_m, D) -> (B + K, D)
    B = len(u)
    s_t = np.einsum("bd,bd->b", u, cand[:B])                   # (B,) u_b · C[t_b]
    s_neg = u @ cand[B:].T                                     # (B, D) @ (D, K) -> (B, K)
    return s_t, s_neg, (ln_cache, u_cache, u, cand, fcols, columns, table.shape, extra is not None)


def sampled_prediction_backward(ds_t, ds_neg, cache, ws=FRESH):
    """du = ds_t C[t] + ds_neg C[neg],  dC[c] = ds_c u  (scattered into dE),  dP_m = dCᵀ F_m[c].

    Returns (dh, dgamma, dbeta, dw, db, dtable (V + 1, D), [dP_m ...]), then dq = du if the
    forward had an extra q.
    """
    ln_cache, u_cache, u, cand, fcols, columns, shape, has_extra = cache
    B = len(u)
    du = ds_neg @ cand[B:]                                     # (B, K) @ (K, D) -> (B, D)
    du += ds_t[:, None] * cand[:B]
    dcand = np.concatenate([ds_t[:, None] * u, ds_neg.T @ u])  # (B + K, D); (K, B) @ (B, D)
    dprojs = [dcand.T @ f for f in fcols]                      # (D, B + K) @ (B + K, d_m) -> (D, d_m)
    dtable = ws("dtable", shape, u.dtype)                      # (V + 1, D)
    dtable.fill(0.0)
    np.add.at(dtable, columns, dcand)                          # a target repeated adds up
    dtable[0] = 0.0                                            # the padding row is never trained
    dln, dw, db = linear_backward(du, u_cache, ws.scope("proj"))
    dh, dgamma, dbeta = layernorm_backward(dln, ln_cache, ws.scope("ln"))
    return (dh, dgamma, dbeta, dw, db, dtable, dprojs) + ((du,) if has_extra else ())


def sampled_history_mask(item_seq, targets, negatives):
    """H at the sampled columns: (B,) target in row b's history, (B, K) negative k in it."""
    hist_t = (item_seq == targets[:, None]).any(1)             # (B,); targets are never padding
    order = np.argsort(negatives)
    ordered = negatives[order]
    at = np.searchsorted(ordered, item_seq).clip(max=len(ordered) - 1)      # (B, N)
    hit = (ordered[at] == item_seq) & (item_seq != 0)
    hist_neg = np.zeros((len(targets), len(negatives)), bool)
    rows = np.broadcast_to(np.arange(len(targets))[:, None], item_seq.shape)
    hist_neg[rows[hit], order[at[hit]]] = True
    return hist_t, hist_neg
