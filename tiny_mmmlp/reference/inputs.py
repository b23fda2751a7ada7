"""Turning item IDs into the (B, N, D) inputs of each modality branch, and fusing branches.

Shape letters: B batch, N sequence length, V items (ids 1..V, 0 = padding), D branch width,
d raw feature width of a modality.
"""
from __future__ import annotations

import numpy as np

from .affine import linear_backward, linear_forward


def embedding_forward(item_seq, table):
    """S = E[item_seq]: look up one row of the embedding table per position.

    item_seq: (B, N) int, 0 = padding; table: (V + 1, D), row 0 is the padding row (zeros).
    Returns (out (B, N, D), cache).
    """
    return table[item_seq], (item_seq, table.shape)


def embedding_backward(dout, cache):
    """dE[v] = Σ over positions holding item v of dout. The padding row gets no gradient.

    dout: (B, N, D).  Returns dtable (V + 1, D).
    """
    item_seq, shape = cache
    ids = item_seq.reshape(-1)                              # (B·N,)
    rows = dout.reshape(-1, shape[1])                       # (B·N, D)
    order = np.argsort(ids, kind="stable")                  # group equal ids together
    ids_sorted = ids[order]
    starts = np.flatnonzero(np.r_[True, ids_sorted[1:] != ids_sorted[:-1]])
    sums = np.add.reduceat(rows[order], starts, axis=0)     # (U, D): one sum per distinct id
    dtable = np.zeros(shape, dtype=dout.dtype)              # (V + 1, D)
    dtable[ids_sorted[starts]] = sums
    dtable[0] = 0.0                                         # padding row is never trained
    return dtable


def input_projection_forward(feats, mask, w, b):
    """X = (F[item_seq] Wᵀ + b) ⊙ mask: project raw item features to the branch width.

    feats: (B, N, d) raw features already gathered per position (frozen, no gradient);
    mask: (B, N) 1 for real items, 0 for padding, so padding positions carry zeros;
    w: (D, d); b: (D,).  Returns (out (B, N, D), cache).
    """
    y, lin_cache = linear_forward(feats, w, b)              # (B, N, d) @ (d, D) -> (B, N, D)
    m = mask[:, :, None].astype(y.dtype)                    # (B, N, 1)
    return y * m, (lin_cache, m)


def input_projection_backward(dout, cache):
    """The mask zeroes the gradient at padding positions; then the linear backward.

    Returns (dw, db); the gathered features and the mask are constants.
    """
    lin_cache, m = cache
    _, dw, db = linear_backward(dout * m, lin_cache)
    return dw, db


def fusion_forward(branches, w, b):
    """Ŷ = Linear(Y_1 ‖ Y_2 ‖ ... ‖ Y_M) along the feature axis.

    branches: list of (B, N, D_m); w: (D_f, Σ D_m); b: (D_f,).
    Returns (out (B, N, D_f), cache).
    """
    cat = np.concatenate(branches, axis=-1)                 # (B, N, Σ D_m)
    out, lin_cache = linear_forward(cat, w, b)              # (B, N, Σ D_m) @ (Σ D_m, D_f) -> (B, N, D_f)
    return out, (lin_cache, [y.shape[-1] for y in branches])


def fusion_backward(dout, cache):
    """Split the gradient of the concatenation back into the branches.

    Returns (dbranches: list of (B, N, D_m), dw, db).
    """
    lin_cache, widths = cache
    dcat, dw, db = linear_backward(dout, lin_cache)         # dcat: (B, N, Σ D_m)
    cuts = np.cumsum(widths)[:-1]
    return np.split(dcat, cuts, axis=-1), dw, db
