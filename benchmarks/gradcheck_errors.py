"""The largest float64 gradient-check error of every NumPy layer pair and of the whole model.

    python benchmarks/gradcheck_errors.py [--trials 20]

Each trial draws random shapes (B, N in 1..5, widths 3..7, odd ones included), random
inputs and a random upstream gradient, and compares the hand-written backward with central
differences (tiny_mmmlp.reference.gradcheck). Prints the worst relative error per layer.
"""
from __future__ import annotations

import argparse

import numpy as np

from tiny_mmmlp import MMMLPConfig
from tiny_mmmlp.reference import MMMLP
from tiny_mmmlp.reference import layers as L
from tiny_mmmlp.reference.gradcheck import check_layer, numeric_gradient, rel_error


def layer_cases(rng):
    """name -> (forward, backward, inputs) for one random draw of shapes."""
    B, N, V = rng.integers(1, 6, size=3)
    D, R, d = rng.integers(3, 8, size=3)
    r = lambda *s: rng.standard_normal(s)                                  # noqa: E731
    mask = rng.random((B, N)) < 0.7
    feats = r(V + 1, d)
    gathered = feats[rng.integers(0, V + 1, (B, N))]                         # (B, N, d)
    return {
        "layernorm": (L.layernorm_forward, L.layernorm_backward, [r(B, N, D), 1 + r(D), r(D)]),
        "linear": (L.linear_forward, L.linear_backward, [r(B, N, d), r(D, d), r(D)]),
        "gelu": (L.gelu_forward, lambda g, c: (L.gelu_backward(g, c),), [3 * r(B, N, D)]),
        "dropout": (lambda x: L.dropout_forward(x, 0.3, np.random.default_rng(1)),
                    lambda g, c: (L.dropout_backward(g, c),), [r(B, N, D)]),
        "token_mix": (L.token_mix_forward, L.token_mix_backward,
                      [r(B, N, D), 1 + r(D), r(D), r(R, N), r(R), r(N, R), r(N)]),
        "channel_mix": (L.channel_mix_forward, L.channel_mix_backward,
                        [r(B, N, D), 1 + r(D), r(D), r(R, D), r(R), r(D, R), r(D)]),
        "input_projection": (lambda w, b: L.input_projection_forward(gathered, mask, w, b),
                             L.input_projection_backward, [r(D, d), r(D)]),
        "fusion": (lambda a, b, w, bb: L.fusion_forward([a, b], w, bb),
                   lambda g, c: (lambda ds, dw, db: (*ds, dw, db))(*L.fusion_backward(g, c)),
                   [r(B, N, D), r(B, N, d), r(R, D + d), r(R)]),
        "prediction": (L.prediction_forward, L.prediction_backward,
                       [r(B, D), 1 + r(D), r(D), r(d, D), r(d), r(V + 1, d)]),
        "candidates": (lambda t, p: L.candidates_forward(t, [feats], [p]),
                       lambda g, c: (lambda dt, dp: (dt, dp[0]))(*L.candidates_backward(g, c)),
                       [r(V + 1, D), r(D, d)]),
    }


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--trials", type=int, default=20, help="random draws of shapes and inputs (default 20)")
    args = p.parse_args()
    rng = np.random.default_rng(0)
    worst = {}
    for _ in range(args.trials):
        for name, (fwd, bwd, inputs) in layer_cases(rng).items():
            dout = None
            if name == "candidates":                     # column 0 (padding) is never scored
                out, _ = fwd(*inputs)
                dout = rng.standard_normal(out.shape)
                dout[0] = 0
            errs = check_layer(fwd, bwd, inputs, dout=dout, seed=int(rng.integers(1 << 30)))
            worst[name] = max(worst.get(name, 0.0), *errs)
        # softmax cross-entropy and the whole model, with their own scalar losses
        B, V = rng.integers(1, 6), rng.integers(2, 12)
        scores, targets = 3 * rng.standard_normal((B, V + 1)), rng.integers(1, V + 1, B)
        _, cache = L.softmax_cross_entropy_forward(scores, targets)
        num = numeric_gradient(lambda: L.softmax_cross_entropy_forward(scores, targets)[0], scores)
        worst["softmax_cross_entropy"] = max(worst.get("softmax_cross_entropy", 0.0),
                                             rel_error(L.softmax_cross_entropy_backward(1.0, cache), num))
    for trial in range(max(1, args.trials // 4)):
        cfg = MMMLPConfig(max_len=4, d_model=3, token_hidden=3, channel_hidden=5, n_layers=1,
                          fusion_layers=1, dropout=0.0)
        V = 6
        feats = {"text": rng.standard_normal((V + 1, 4)), "image": rng.standard_normal((V + 1, 3))}
        seq = rng.integers(0, V + 1, (3, 4))
        seq[:, -1] = rng.integers(1, V + 1, 3)
        targets = rng.integers(1, V + 1, 3)
        m = MMMLP(cfg, V, feats, seed=trial, dtype=np.float64)
        _, grads = m.loss_and_grads(seq, targets)
        for k, v in m.params.items():
            num = numeric_gradient(lambda: m.loss_and_grads(seq, targets)[0], v)
            g, n = (grads[k][1:], num[1:]) if k == "id.embedding" else (grads[k], num)
            worst["whole model"] = max(worst.get("whole model", 0.0), rel_error(g, n, floor=1e-3))
    print(f"worst relative error over {args.trials} random draws (float64, central differences, h = 1e-6)")
    print("| layer | worst relative error |\n|---|---|")
    for name, e in worst.items():
        print(f"| {name} | {e:.1e} |")


if __name__ == "__main__":
    main()
