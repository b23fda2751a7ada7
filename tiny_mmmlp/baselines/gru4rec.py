"""GRU4Rec (Hidasi et al., ICLR 2016): a GRU reads the item sequence; its last state scores.

    x_t = Dropout(E[s_t])                     (or the fused multimodal input, see inputs.py)
    h_t = GRU(x_t, h_{t-1}),  h_0 = 0
    scores = Dropout(h_L) · Eᵀ                 softmax cross-entropy over all items

The paper's best networks use a single GRU layer; its cross-entropy results are given for
100 units, the default here (D = 100, 1 layer). The paper tunes dropout per data set; we
take 0.3 (RecBole's default) and N = 50. As in RecBole's GRU4Rec, items are embedded and the
output layer shares the item embeddings, and the loss is full softmax cross-entropy (the
paper's own training used session-parallel mini-batches with sampled ranking losses).

Our sequences are left-padded with item 0. A GRU run over the padding would not start from
h_0 = 0 at the first real item (biases move the state), so each row is shifted to the
front and packed with its true length: h_L is the state after the most recent item.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence

from .inputs import NextItemModel, SequenceInputs


def left_to_right_padding(x, lengths):
    """Move each row's last ``lengths[b]`` positions to the front: (B, N, D) -> (B, N, D)."""
    B, N = x.shape[:2]
    t = torch.arange(N, device=x.device)[None, :]                     # (1, N)
    src = (t + (N - lengths)[:, None]) % N                            # (B, N) source positions
    return x.gather(1, src[:, :, None].expand(-1, -1, x.shape[2]))


class GRU4Rec(NextItemModel):
    """GRU4Rec; ``features`` plugs MMMLP's feature mixer branches in front (see inputs.py)."""

    def __init__(self, cfg, n_items, features=None, seed=0, layers=1, heads=None,
                 dtype=torch.float32, fused=False):
        super().__init__()
        torch.manual_seed(seed)
        self.cfg, self.n_items = cfg, n_items
        D = cfg.d_model
        self.inputs = SequenceInputs(cfg, n_items, features, seed, dtype, fused)
        self.gru = nn.GRU(D, D, num_layers=layers, batch_first=True,
                          dropout=cfg.dropout if layers > 1 else 0.0)
        self.to(dtype)

    def forward(self, item_seq):
        """scores (B, V + 1) for item_seq (B, N) int64, left-padded; column 0 is padding."""
        p = self.cfg.dropout if self.training else 0.0
        lengths = (item_seq != 0).sum(1).clamp(min=1)                 # (B,) an empty row reads one pad
        x = F.dropout(self.inputs(item_seq, p), p, self.training)      # (B, N, D)
        packed = pack_padded_sequence(left_to_right_padding(x, lengths), lengths.cpu(),
                                      batch_first=True, enforce_sorted=False)
        _, h_n = self.gru(packed)                                     # (layers, B, D)
        h = F.dropout(h_n[-1], p, self.training)                      # (B, D) after the last item
        return self.inputs.scores(h, item_seq)                        # (B, D) -> (B, V + 1)

