"""How the Triton exercises are judged, in the grader's own process, with NumPy only.

The child process runs the student's kernels in Triton's CPU interpreter, in float64
(``child.py``, ``child_triton.py``): the device function inside a small kernel applied to a
vector, the backward data kernel through the kit's token-mixing launcher. This process
compares what comes back with the NumPy reference and with central differences, like the
NumPy exercises (``checks``); it needs neither torch nor triton.
"""
from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from ..reference import elementwise, mixing
from .checks import Failure, compare, numeric_check
from .plain import type_name
from .problems import TOKEN, Problem

GELU = Problem({"n": st.integers(1, 70), "scale": st.sampled_from([1.0, 4.0])},
               lambda rng, n, scale: [scale * rng.standard_normal(n)],
               [dict(n=1, scale=1.0), dict(n=37, scale=4.0)])


class GeluGradCheck:
    problem = GELU
    recipe = "triton_gelu"

    def prepare(self, case):
        return tuple(self.problem.inputs(case))

    def judge(self, case, got):
        (x,) = self.problem.inputs(case)
        want = elementwise.gelu_backward(np.ones_like(x), elementwise.gelu_forward(x)[1])
        compare(case, "GELU'(h)", got, want)
        numeric_check(case, "GELU'(h)", got, lambda: float(np.sum(elementwise.gelu_forward(x)[0])), x)


class TokenMixDataCheck:
    """The student's ``_token_mix_bwd_data`` computes dLN, from which the launcher's LayerNorm
    backward makes dx, dgamma and dbeta; the weight gradients come from the reference kernel."""
    problem = TOKEN
    recipe = "token_mix_data"
    names = ("dx", "dgamma", "dbeta", "dW1", "db1", "dW2", "db2")

    @staticmethod
    def _dy(case, out):
        return np.random.default_rng(case.seed + 1).standard_normal(out.shape)

    def prepare(self, case):
        arrays = self.problem.inputs(case)
        out, _ = mixing.token_mix_forward(*self.problem.inputs(case))
        return (arrays, self._dy(case, out))

    def judge(self, case, got):
        out, cache = mixing.token_mix_forward(*self.problem.inputs(case))
        dy = self._dy(case, out)
        want = mixing.token_mix_backward(dy.copy(), cache)
        if not isinstance(got, (tuple, list)) or len(got) != len(self.names):
            raise Failure(f"{case.label}: the launcher gave back a {type_name(got)}, not the "
                          f"{len(self.names)} gradients")
        for name, g, w in zip(self.names, got, want):
            compare(case, name, g, w)
        xs = self.problem.inputs(case)
        for i in range(3):                       # dx, dgamma, dbeta: what dLN feeds
            numeric_check(case, self.names[i], got[i],
                          lambda: float(np.sum(mixing.token_mix_forward(*xs)[0] * dy)), xs[i])


CHECKS = {
    "kernels.gelu.gelu_grad": GeluGradCheck(),
    "kernels.token_mixing._token_mix_bwd_data": TokenMixDataCheck(),
}
