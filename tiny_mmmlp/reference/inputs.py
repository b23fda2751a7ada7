"""Turning item IDs into the (B, N, D) inputs of each modality branch, and fusing branches.

Shape letters: B batch, N sequence length, V items (ids 1..V, 0 = padding), D branch width,
d raw feature width of a modality. Each function writes its results into ``ws`` (see
``workspace``; default: new arrays).
"""
from __future__ import annotations

import numpy as np

from .affine import linear_backward, linear_forward
from .workspace import FRESH


def embedding_forward(item_seq, table, ws=FRESH):
    """S = E[item_seq]: look up one row of the embedding table per position.

    item_seq: (B, N) int, 0 = padding; table: (V + 1, D), row 0 is the padding row (zeros).
    Returns (out (B, N, D), cache).
    """
    out = ws("out", (*item_seq.shape, table.shape[1]), table.dtype)      # (B, N, D)
    np.take(table, item_seq, axis=0, out=out, mode="clip")  # ids are checked by the caller
    return out, (item_seq, table.shape)


def embedding_backward(dout, cache, ws=FRESH):
    """dE[v] = Σ over positions holding item v of dout. The padding row gets no gradient.

    dout: (B, N, D).  Returns dtable (V + 1, D).
    """
    item_seq, shape = cache
    ids = item_seq.reshape(-1)                              # (B·N,)
    rows = dout.reshape(-1, shape[1])                       # (B·N, D)
    order = np.argsort(ids, kind="stable")                  # group equal ids together
    ids_sorted = ids[order]
    starts = np.flatnonzero(np.r_[True, ids_sorted[1:] != ids_sorted[:-1]])
    rows_sorted = np.take(rows, order, axis=0, mode="clip",
                          out=ws("rows_sorted", rows.shape, dout.dtype))     # (B·N, D)
    sums = ws("sums", rows.shape, dout.dtype)[:len(starts)]   # U <= B·N rows: sized for the most
    np.add.reduceat(rows_sorted, starts, axis=0, out=sums)  # (U, D): one sum per distinct id
    dtable = ws("dtable", shape, dout.dtype)                # (V + 1, D)
    dtable.fill(0.0)
    dtable[ids_sorted[starts]] = sums
    dtable[0] = 0.0                                         # padding row is never trained
    return dtable


def input_projection_forward(feats, mask, w, b, ws=FRESH):
    """X = (F[item_seq] Wᵀ + b) ⊙ mask: project raw item features to the branch width.

    feats: (B, N, d) raw features already gathered per position (frozen, no gradient);
    mask: (B, N) 1 for real items, 0 for padding, so padding positions carry zeros;
    w: (D, d); b: (D,).  Returns (out (B, N, D), cache).
    """
    y, lin_cache = linear_forward(feats, w, b, ws.scope("proj"))   # (B, N, d) @ (d, D) -> (B, N, D)
    m = mask[:, :, None].astype(y.dtype)                    # (B, N, 1)
    y *= m
    return y, (lin_cache, m)


def input_projection_backward(dout, cache, ws=FRESH):
    """The mask zeroes the gradient at padding positions; then the linear backward.

    Returns (dw, db); the gathered features and the mask are constants.
    """
    lin_cache, m = cache
    dy = np.multiply(dout, m, out=ws("dy", dout.shape, dout.dtype))
    _, dw, db = linear_backward(dy, lin_cache, ws.scope("proj"), input_grad=False)
    return dw, db


def fusion_forward(branches, w, b, ws=FRESH):
    """Ŷ = Linear(Y_1 ‖ Y_2 ‖ ... ‖ Y_M) along the feature axis.

    branches: list of (B, N, D_m); w: (D_f, Σ D_m); b: (D_f,).
    Returns (out (B, N, D_f), cache).
    """
    shape = (*branches[0].shape[:-1], sum(y.shape[-1] for y in branches))
    cat = np.concatenate(branches, axis=-1, out=ws("cat", shape, branches[0].dtype))  # (B, N, Σ D_m)
    out, lin_cache = linear_forward(cat, w, b, ws.scope("proj"))   # (B, N, Σ D_m) @ (Σ D_m, D_f) -> (B, N, D_f)
    return out, (lin_cache, [y.shape[-1] for y in branches])


def fusion_backward(dout, cache, ws=FRESH):
    """Split the gradient of the concatenation back into the branches.

    With W = [W_1 | W_2 | ...] split by columns like the concatenation:
        dY_m = dŶ W_m,   dW = dŶᵀ (Y_1 ‖ Y_2 ‖ ...),   db = Σ dŶ.
    Returns (dbranches: list of (B, N, D_m), dw, db).
    """
    lin_cache, widths = cache
    _, dw, db = linear_backward(dout, lin_cache, ws.scope("proj"), input_grad=False)
    w = lin_cache[1]                                        # (D_f, Σ D_m)
    edges = np.cumsum([0, *widths])
    dy = dout.reshape(-1, w.shape[0])                       # (B·N, D_f)
    dbranches = [np.matmul(dy, w[:, lo:hi], out=ws(f"dy{m}", (len(dy), hi - lo), dy.dtype))
                 .reshape(*dout.shape[:-1], hi - lo)        # (B·N, D_f) @ (D_f, D_m) -> (B, N, D_m)
                 for m, (lo, hi) in enumerate(zip(edges[:-1], edges[1:]))]
    return dbranches, dw, db
