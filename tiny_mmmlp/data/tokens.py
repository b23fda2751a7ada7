"""Token fields (codes, categories, brand) -> multi-hot features; float_seq fields -> dense."""
from __future__ import annotations

import numpy as np

from ..errors import UserError


def multi_hot(values: list, ftype: str) -> np.ndarray:
    """(V + 1, K) float32 multi-hot rows over the field's sorted vocabulary; row 0 is zero.

    values: (V + 1) raw strings ("" at 0). A ``token`` field holds one token per item, a
    ``token_seq`` field space-separated tokens.
    """
    per_item = [[v] if ftype == "token" and v else v.split() for v in values]
    per_item[0] = []
    vocab = {tok: k for k, tok in enumerate(sorted({t for toks in per_item for t in toks}))}
    out = np.zeros((len(values), len(vocab)), dtype=np.float32)
    for row, toks in enumerate(per_item):
        for tok in toks:
            out[row, vocab[tok]] = 1.0
    return out


def token_width(values: list, ftype: str) -> int:
    """Vocabulary size K of a token field (the multi-hot width), without building the matrix."""
    if ftype == "token":
        return len({v for v in values[1:] if v})
    return len({t for v in values[1:] for t in v.split()})


def dense_field(values: list, field: str, where=None) -> np.ndarray:
    """(V + 1, d) float32 from a ``float_seq`` field (space-separated numbers, same count per item).

    ``where(i)`` names the file and line of internal item i for error messages (NaN, inf, text
    and values too large for float32 are errors).
    """
    where = where or (lambda i: f".item row {i}")
    rows = []
    for i, v in enumerate(values[1:], start=1):
        if not v.strip():
            rows.append(None)
            continue
        try:
            with np.errstate(over="ignore"):
                r = np.array([float(x) for x in v.split()], dtype=np.float64).astype(np.float32)
        except ValueError:
            raise UserError(f"{where(i)}: float_seq field {field} holds a value that is not a number.") from None
        if not np.isfinite(r).all():
            raise UserError(f"{where(i)}: float_seq field {field} holds NaN, inf or a value too "
                            f"large for float32.")
        rows.append(r)
    widths = {len(r) for r in rows if r is not None}
    if len(widths) > 1:
        raise UserError(f".item field {field}: items have different numbers of values "
                        f"({sorted(widths)}); a float_seq feature needs one width.")
    width = widths.pop() if widths else 0
    out = np.zeros((len(values), width), dtype=np.float32)
    for i, r in enumerate(rows, start=1):
        if r is not None:
            out[i] = r
    return out
