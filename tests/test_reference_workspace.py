"""A step computed in a reused Workspace equals the same step on fresh arrays, bit for bit."""
import numpy as np
from hypothesis import example, given, settings
from hypothesis import strategies as st

from tiny_mmmlp import MMMLPConfig
from tiny_mmmlp.reference import MMMLP
from tiny_mmmlp.reference.workspace import Workspace


def batch(rng, B, N, V):
    lengths = rng.integers(1, N + 1, size=B)
    seq = np.where(np.arange(N)[None, :] >= N - lengths[:, None], rng.integers(1, V + 1, (B, N)), 0)
    return seq, rng.integers(1, V + 1, size=B)


@settings(max_examples=6, deadline=None)
@given(N=st.integers(1, 5), V=st.integers(2, 9), sizes=st.lists(st.integers(1, 6), min_size=3, max_size=4),
       text=st.booleans(), dropout=st.sampled_from([0.0, 0.3]), dtype=st.sampled_from([np.float32, np.float64]),
       seed=st.integers(0, 1000))
@example(N=4, V=2, sizes=[1, 1, 1], text=False, dropout=0.0, dtype=np.float32, seed=0)  # more distinct ids last
def test_workspace_step_equals_fresh_step(N, V, sizes, text, dropout, dtype, seed):
    rng = np.random.default_rng(seed)
    feats = {"text": rng.standard_normal((V + 1, 3))} if text else {}
    for f in feats.values():
        f[0] = 0.0
    cfg = MMMLPConfig(max_len=N, d_model=4, token_hidden=3, channel_hidden=5, dropout=dropout)
    model = MMMLP(cfg, V, feats, seed=seed, dtype=dtype)
    ws = Workspace()
    for i, B in enumerate(sizes):                       # batch sizes that shrink and grow
        seq, targets = batch(rng, B, N, V)
        loss, grads = model.loss_and_grads(seq, targets, dropout_seed=i)
        loss_ws, grads_ws = model.loss_and_grads(seq, targets, dropout_seed=i, ws=ws)
        assert loss_ws == loss
        for k in grads:
            assert grads_ws[k].dtype == grads[k].dtype
            np.testing.assert_array_equal(grads_ws[k], grads[k], err_msg=k)
        np.testing.assert_array_equal(model.scores(seq, ws=ws), model.scores(seq))
    held = {k: v.ctypes.data for k, v in ws.buffers.items()}
    seq, targets = batch(rng, min(sizes), N, V)
    model.loss_and_grads(seq, targets, ws=ws)
    assert {k: v.ctypes.data for k, v in ws.buffers.items()} == held    # nothing allocated anew
