"""How the Triton exercises are checked: in Triton's CPU interpreter, in float64.

The grader sets ``TRITON_INTERPRET=1`` before this module (and triton) is imported. The
student's device function runs inside a small kernel of this file; the student's backward
data kernel is launched by the installed token-mixing launcher in place of the reference
kernel, so everything around it is the reference. Both are compared with the NumPy
reference and with central differences, like the NumPy exercises (``checks``).
"""
from __future__ import annotations

import numpy as np
import torch
import triton
import triton.language as tl
from hypothesis import strategies as st

from ..kernels import token_mixing
from ..reference import elementwise, mixing
from ..reference.gradcheck import numeric_gradient, rel_error
from .checks import NUMERIC_MAX, NUMERIC_TOL, TOKEN, Failure, Problem, _run, compare

student_gelu_grad = None   # the device function under test; the kernel below calls it


@triton.jit
def _apply_gelu_grad(H, OUT, n, BLOCK: tl.constexpr):
    """OUT[i] = student_gelu_grad(H[i]) for i < n."""
    i = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    h = tl.load(H + i, mask=i < n, other=0.0)
    tl.store(OUT + i, student_gelu_grad(h), mask=i < n)


GELU = Problem({"n": st.integers(1, 70), "scale": st.sampled_from([1.0, 4.0])},
               lambda rng, n, scale: [scale * rng.standard_normal(n)],
               [dict(n=1, scale=1.0), dict(n=37, scale=4.0)])


class GeluGradCheck:
    problem = GELU

    def run(self, student, case):
        global student_gelu_grad
        student_gelu_grad = student
        (x,) = self.problem.inputs(case)
        h = torch.tensor(x, dtype=torch.float64)
        out = torch.full_like(h, float("nan"))
        _run(case, lambda: _apply_gelu_grad[(triton.cdiv(x.size, 64),)](h, out, x.size, BLOCK=64))
        got = out.numpy()
        want = elementwise.gelu_backward(np.ones_like(x), elementwise.gelu_forward(x)[1])
        compare(case, "GELU'(h)", got, want)
        if x.size <= NUMERIC_MAX:
            num = numeric_gradient(lambda: float(np.sum(elementwise.gelu_forward(x)[0])), x)
            err = rel_error(got, num)
            if err > NUMERIC_TOL:
                raise Failure(f"{case.label}: the numeric gradient check of GELU'(h) fails "
                              f"(relative error {err:.1e})")


class TokenMixDataCheck:
    """The student's ``_token_mix_bwd_data`` computes dLN, from which the launcher's LayerNorm
    backward makes dx, dgamma and dbeta; the weight gradients come from the reference kernel."""
    problem = TOKEN
    names = ("dx", "dgamma", "dbeta", "dW1", "db1", "dW2", "db2")

    def run(self, student, case):
        arrays = self.problem.inputs(case)
        out, cache = mixing.token_mix_forward(*self.problem.inputs(case))
        dy = np.random.default_rng(case.seed + 1).standard_normal(out.shape)
        want = mixing.token_mix_backward(dy.copy(), cache)
        got = _run(case, lambda: self.launch(student, arrays, dy))
        for name, g, w in zip(self.names, got, want):
            compare(case, name, g, w)
        xs = self.problem.inputs(case)
        for i in range(3):                       # dx, dgamma, dbeta: what dLN feeds
            if xs[i].size <= NUMERIC_MAX:
                num = numeric_gradient(lambda: float(np.sum(mixing.token_mix_forward(*xs)[0] * dy)), xs[i])
                err = rel_error(got[i], num)
                if err > NUMERIC_TOL:
                    raise Failure(f"{case.label}: the numeric gradient check of {self.names[i]} fails "
                                  f"(relative error {err:.1e})")

    @staticmethod
    def launch(student, arrays, dy):
        reference_kernel = token_mixing._token_mix_bwd_data
        token_mixing._token_mix_bwd_data = student
        try:
            ts = [torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in arrays]
            token_mixing.token_mix(*ts).backward(torch.tensor(dy))
            return [t.grad.numpy() for t in ts]
        finally:
            token_mixing._token_mix_bwd_data = reference_kernel


CHECKS = {
    "kernels.gelu.gelu_grad": GeluGradCheck(),
    "kernels.token_mixing._token_mix_bwd_data": TokenMixDataCheck(),
}
