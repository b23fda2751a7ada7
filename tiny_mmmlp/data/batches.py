"""Batches of ``(item_seq, targets)``: left-padded prefixes of the training sequences.

A training part s of length L yields L - 1 examples ``s[:t] -> s[t]`` for t = 1..L-1. The
example set is kept as two index arrays (which sequence, which t); each batch is gathered
from one flat array of all items, so the full (examples, N) padded matrix never exists.

Left padding puts the most recent item at position N - 1:

    s[:t] = [7, 3, 9], N = 5   ->   item_seq row = [0, 0, 7, 3, 9]
"""
from __future__ import annotations

from typing import Iterator

import numpy as np


def n_train_examples(train: list) -> int:
    """Number of prefix examples: sum over sequences of max(L - 1, 0)."""
    return int(sum(max(len(s) - 1, 0) for s in train))


def _flatten(sequences: list) -> tuple[np.ndarray, np.ndarray]:
    """flat: (sum L,) all items back to back; starts: (U,) where each sequence begins."""
    lengths = np.array([len(s) for s in sequences], dtype=np.int64)
    starts = np.zeros(len(sequences), dtype=np.int64)
    np.cumsum(lengths[:-1], out=starts[1:])
    flat = np.concatenate([np.asarray(s, dtype=np.int64) for s in sequences]) if len(sequences) \
        else np.zeros(0, dtype=np.int64)
    return flat, starts


def _gather(flat: np.ndarray, starts: np.ndarray, ends: np.ndarray, max_len: int) -> np.ndarray:
    """Rows ``flat[starts[b]:ends[b]]`` keeping the last max_len items, left-padded with 0.

    starts, ends: (B,) positions in flat. Returns (B, N) int64.
    """
    offsets = np.arange(-max_len, 0, dtype=np.int64)            # (N,) = -N..-1
    idx = ends[:, None] + offsets[None, :]                        # (B, N) positions in flat
    valid = idx >= starts[:, None]                                # (B, N) inside the sequence
    out = flat[np.where(valid, idx, 0)] if len(flat) else np.zeros(idx.shape, dtype=np.int64)
    return np.where(valid, out, 0).astype(np.int64)


def pad_histories(histories: list, max_len: int) -> np.ndarray:
    """(M, N) int64: each history's last ``max_len`` items, left-padded with 0."""
    if len(histories) == 0:
        return np.zeros((0, max_len), dtype=np.int64)
    flat, starts = _flatten(histories)
    ends = starts + np.array([len(h) for h in histories], dtype=np.int64)
    return _gather(flat, starts, ends, max_len)


def drop_items(item_seq: np.ndarray, rate: float, rng: np.random.Generator) -> np.ndarray:
    """Item deletion, a view of each history with some of its items left out (--item-dropout).

    Each item of a left-padded row, except the most recent one (position N - 1), is deleted
    with probability ``rate``; the kept items close up in their order and the row is
    left-padded again, so a deleted item shifts the older ones one position on:

        [0, 0, 7, 3, 9], 3 deleted   ->   [0, 0, 0, 7, 9]

    The model sees histories it never saw whole, with every item at several positions: a
    regulariser of the token mixing, which is tied to positions. item_seq: (B, N) int64.
    Returns a new (B, N) int64 array; ``rate`` 0 returns the rows unchanged.
    """
    if rate <= 0:
        return item_seq
    keep = (item_seq != 0) & (rng.random(item_seq.shape) >= rate)      # (B, N)
    keep[:, -1] = item_seq[:, -1] != 0                                 # the last item stays
    order = np.argsort(keep, axis=1, kind="stable")                   # dropped first, kept in order
    out = np.take_along_axis(item_seq, order, axis=1)                  # (B, N)
    return np.where(np.take_along_axis(keep, order, axis=1), out, 0)


def train_batches(train: list, max_len: int, batch_size: int, seed: int = 0,
                  epoch: int = 0, item_dropout: float = 0.0) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Yield shuffled ``(item_seq (B, N) int64, targets (B,) int64)`` over all prefix examples.

    The order depends only on ``(seed, epoch)``; the last batch may be smaller.
    item_dropout: delete each history item but the last with this probability (``drop_items``),
    drawn anew each epoch from ``(seed, epoch)``.
    """
    deletions = np.random.default_rng([seed, epoch, 1])
    flat, starts = _flatten(train)
    lengths = np.array([len(s) for s in train], dtype=np.int64)
    n_per_seq = np.maximum(lengths - 1, 0)                        # (U,) examples per sequence
    seq_of = np.repeat(np.arange(len(train)), n_per_seq)          # (E,) which sequence
    first = np.repeat(np.cumsum(n_per_seq) - n_per_seq, n_per_seq)
    t_of = np.arange(len(seq_of)) - first + 1                     # (E,) t = 1..L-1
    order = np.random.default_rng([seed, epoch]).permutation(len(seq_of))
    for lo in range(0, len(order), batch_size):
        pick = order[lo:lo + batch_size]                          # (B,)
        begin = starts[seq_of[pick]]
        end = begin + t_of[pick]                                  # prefix s[:t] ends here
        yield drop_items(_gather(flat, begin, end, max_len), item_dropout, deletions), flat[end]


def eval_batches(histories: list, targets: np.ndarray, max_len: int,
                 batch_size: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Yield ``(item_seq (B, N), targets (B,))`` in order, without shuffling."""
    targets = np.asarray(targets, dtype=np.int64)
    for lo in range(0, len(histories), batch_size):
        yield pad_histories(histories[lo:lo + batch_size], max_len), targets[lo:lo + batch_size]
