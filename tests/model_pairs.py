"""A small NumPy MMMLP and its torch twin (float64, same seed, so the same parameters), and the
check that they agree on loss, every gradient and the scores. Used by the lever tests."""
from __future__ import annotations

import numpy as np
import pytest

from tiny_mmmlp import MMMLPConfig
from tiny_mmmlp.reference import MMMLP
from tiny_mmmlp.reference.gradcheck import rel_error


def reference_and_torch(**kw):
    """(torch, NumPy model, torch model, item_seq (6, 5), targets (6,)) for MMMLPConfig(**kw)."""
    torch = pytest.importorskip("torch")
    from tiny_mmmlp.torch_model import TorchMMMLP
    cfg = MMMLPConfig(max_len=5, d_model=4, token_hidden=3, channel_hidden=5, n_layers=1,
                      fusion_layers=1, dropout=0.0, **kw)
    rng = np.random.default_rng(0)
    feats = {"text": rng.standard_normal((10, 3))}
    feats["text"][0] = 0
    seq = rng.integers(0, 10, size=(6, 5))
    targets = rng.integers(1, 10, size=6)
    ref = MMMLP(cfg, 9, feats, seed=2, dtype=np.float64)
    tm = TorchMMMLP(cfg, 9, feats, seed=2, dtype=torch.float64)
    return torch, ref, tm, seq, targets


def assert_reference_equals_torch(torch, ref, tm, seq, targets):
    """Loss to 1e-10 relative, every gradient to 1e-8, and the eval scores of both models."""
    loss, grads = ref.loss_and_grads(seq, targets)
    t_loss = tm.loss(torch.from_numpy(seq), torch.from_numpy(targets))
    t_loss.backward()
    assert abs(loss - t_loss.item()) <= 1e-10 * abs(loss)
    for name, p in tm.named_parameters_flat():
        assert rel_error(grads[name], p.grad.numpy(), floor=1e-6) < 1e-8, name
    np.testing.assert_allclose(ref.scores(seq), tm.eval().scores(torch.from_numpy(seq)).numpy(),
                               rtol=1e-10, atol=1e-12)
