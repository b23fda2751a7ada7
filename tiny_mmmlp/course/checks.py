"""How each NumPy exercise is judged, in the grader's own process, against the installed reference.

A check has two halves. ``prepare(case)`` gives the arguments the student's function is
called with (in the child process, ``child.py``; ``recipe`` says how). ``judge(case, got)``
takes what the child sent back (plain data, ``plain.py``) and raises ``Failure`` with one
sentence unless it matches the reference: the case's shapes, which output, how far off.
Backward passes are also checked against central differences
(``tiny_mmmlp.reference.gradcheck``). The reference answers are computed here and never
leave this process.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from ..reference import affine, elementwise, head, inputs, mixing, optim
from ..reference.gradcheck import numeric_gradient, rel_error
from .plain import type_name
from .problems import ADAMW, ANY, CHANNEL, EMBEDDING, LINEAR, LN, SCORES, TOKEN, Problem

TOL = 1e-6          # |student − reference| <= TOL · max(1, max |reference|), per output
NUMERIC_TOL = 1e-6  # relative error against central differences (float64, h = 1e-6)
NUMERIC_ABS = 1e-7  # ... and absolute error (central differences of O(1) sums are good to ~1e-10)
NUMERIC_MAX = 400   # entries above which the (one forward per entry) numeric check is skipped


class Failure(Exception):
    """The first failing case of an exercise, as the one sentence the grader prints."""


def compare(case, name, got, want, tol=TOL, note_rows=None):
    """Raise Failure unless ``got`` has ``want``'s shape and values (None must stay None).

    note_rows: {row: what it is}, added to the sentence when the worst error sits in that row.
    """
    if want is None:
        if got is not None:
            raise Failure(f"{case.label}: {name} should be None here, got {type_name(got)}")
        return
    try:
        if got is None or not isinstance(got, (np.ndarray, int, float, list, tuple)) or np.iscomplexobj(got):
            raise TypeError
        g = np.asarray(got, dtype=np.float64)
    except (TypeError, ValueError):
        raise Failure(f"{case.label}: {name} is a {type_name(got)}, not an array of real numbers") from None
    w = np.asarray(want, dtype=np.float64)
    if g.shape != w.shape:
        raise Failure(f"{case.label}: {name} has shape {g.shape}, expected {w.shape}")
    if not np.all(np.isfinite(g)):
        raise Failure(f"{case.label}: {name} holds NaN or infinity")
    err = np.abs(g - w)
    if err.size and err.max() > tol * max(1.0, float(np.abs(w).max())):
        at = np.unravel_index(int(err.argmax()), err.shape)
        where = f" at index {tuple(int(i) for i in at)}" if err.ndim else ""
        note = (note_rows or {}).get(int(at[0])) if err.ndim else None
        raise Failure(f"{case.label}: {name} differs from the reference by up to {err.max():.2g}"
                      f"{where} (got {g[at]:.4g}, expected {w[at]:.4g})"
                      + (f"; row {at[0]} is {note}" if note else ""))


def numeric_check(case, name, got, forward, x, skip_rows=0):
    """Raise Failure unless ``got`` matches the central-difference gradient of ``forward()``
    with respect to ``x`` (edited in place); skipped for arrays above NUMERIC_MAX entries."""
    if got is None or np.size(x) > NUMERIC_MAX:
        return
    num = numeric_gradient(forward, x)
    g, n = np.asarray(got, dtype=np.float64)[skip_rows:], num[skip_rows:]
    err = rel_error(g, n)
    # a gradient near zero (GELU' far left of 0) has a large relative error of pure rounding
    if err > NUMERIC_TOL and g.shape == n.shape and np.abs(g - n).max(initial=0.0) > NUMERIC_ABS:
        raise Failure(f"{case.label}: the numeric gradient check of {name} fails (relative error {err:.1e})")


def _tuple(x, n):
    return x if isinstance(x, (tuple, list)) else (x,) if n == 1 else x


def _dout(case, out):
    return np.random.default_rng(case.seed + 1).standard_normal(np.shape(out))


def fits(got, want, depth=0) -> bool:
    """Whether a returned cache is built like the reference's (same nesting, arrays no more
    than four times the reference's size), so the reference backward can be run on it."""
    if depth > 8:
        return False
    if isinstance(want, (tuple, list)):
        return isinstance(got, (tuple, list)) and len(got) == len(want) and \
            all(fits(g, w, depth + 1) for g, w in zip(got, want))
    if isinstance(want, np.ndarray):
        return isinstance(got, np.ndarray) and got.size <= 4 * want.size + 16
    if want is None:
        return got is None
    return isinstance(got, (bool, int, float)) or (isinstance(got, np.ndarray) and got.size == 1)


@dataclass
class Layer:
    """A forward/backward pair: the backward's outputs are ``grads``, the gradients of the
    forward's inputs at positions ``wrt``. ``skip_rows`` rows of those inputs are left out of
    the numeric check (the embedding's padding row, which the reference never trains)."""
    problem: Problem
    forward: Callable
    backward: Callable
    grads: tuple
    wrt: tuple
    skip_rows: int = 0
    row_note: str = ""     # what the skipped rows are, for the failure sentence


@dataclass
class BackwardCheck:
    """The student's backward gets (dout, the reference forward's cache)."""
    layer: Layer
    recipe = "call"

    @property
    def problem(self):
        return self.layer.problem

    def prepare(self, case):
        out, cache = self.layer.forward(*self.problem.inputs(case))
        return (_dout(case, out), cache)

    def judge(self, case, got):
        lay = self.layer
        out, cache = lay.forward(*self.problem.inputs(case))
        dout = _dout(case, out)
        want = _tuple(lay.backward(np.copy(dout), cache), len(lay.grads))
        got = _tuple(got, len(lay.grads))
        if not isinstance(got, (tuple, list)) or len(got) != len(want):
            n = f"{len(got)} values" if isinstance(got, (tuple, list)) else f"a {type_name(got)}"
            raise Failure(f"{case.label}: returned {n}, expected {len(want)} ({', '.join(lay.grads)})")
        notes = {r: lay.row_note for r in range(lay.skip_rows)}
        for name, g, w in zip(lay.grads, got, want):
            compare(case, name, g, w, note_rows=notes)
        xs = self.problem.inputs(case)
        for name, g, i in zip(lay.grads, got, lay.wrt):
            numeric_check(case, name, g, lambda: float(np.sum(lay.forward(*xs)[0] * dout)), xs[i],
                          lay.skip_rows)


@dataclass
class ForwardCheck:
    """The output must match, and the cache must work with the reference backward."""
    layer: Layer
    recipe = "call"

    @property
    def problem(self):
        return self.layer.problem

    def prepare(self, case):
        return tuple(self.problem.inputs(case))

    def judge(self, case, got):
        lay = self.layer
        want_out, want_cache = lay.forward(*self.problem.inputs(case))
        if not isinstance(got, (tuple, list)) or len(got) != 2:
            raise Failure(f"{case.label}: returned a {type_name(got)}, expected the pair (out, cache)")
        compare(case, "out", got[0], want_out)
        dout = _dout(case, want_out)
        want = lay.backward(np.copy(dout), want_cache)
        name = lay.backward.__name__
        if not fits(got[1], want_cache):
            raise Failure(f"{case.label}: the cache it returns is not built like the one {name} unpacks")
        try:
            from_student = lay.backward(np.copy(dout), got[1])
        except Exception as err:
            raise Failure(f"{case.label}: the cache it returns does not fit the reference "
                          f"{name} ({type(err).__name__}: {err})") from None
        for grad, g, w in zip(lay.grads, _tuple(from_student, 1), _tuple(want, 1)):
            compare(case, f"{grad} of {name} given its cache", g, w)


@dataclass
class AdamWCheck:
    """Three steps of the kit's AdamW (its ``step`` is the exercise), against the reference's."""
    problem: Problem
    recipe = "adamw"

    def prepare(self, case):
        d = dict(case.dims)
        params, steps = self.problem.inputs(case)
        return (params, d["lr"], d["wd"], steps)

    def judge(self, case, got):
        d = dict(case.dims)
        params, steps = self.problem.inputs(case)
        ref = optim.AdamW(params, lr=d["lr"], weight_decay=d["wd"])
        if not isinstance(got, (tuple, list)) or len(got) != len(steps):
            raise Failure(f"{case.label}: the grader could not read the parameters after each of "
                          f"{len(steps)} steps")
        for t, (grads, mine) in enumerate(zip(steps, got), 1):
            ref.step(grads)
            for k in params:
                if not isinstance(mine, dict) or k not in mine:
                    raise Failure(f"{case.label}: params['{k}'] is missing after step {t}")
                compare(case, f"params['{k}'] after step {t}", mine[k], ref.params[k])


MIX_GRADS = ("dx", "dgamma", "dbeta", "dW1", "db1", "dW2", "db2")
LAYERNORM = Layer(LN, affine.layernorm_forward, affine.layernorm_backward, ("dx", "dgamma", "dbeta"), (0, 1, 2))
TOKEN_MIX = Layer(TOKEN, mixing.token_mix_forward, mixing.token_mix_backward, MIX_GRADS, tuple(range(7)))

# Keyed by the exercise's qualified name (tiny_mmmlp.course.exercises); the test suite checks
# that every NumPy exercise has an entry here.
CHECKS = {
    "reference.elementwise.gelu_backward": BackwardCheck(
        Layer(ANY, elementwise.gelu_forward, elementwise.gelu_backward, ("dx",), (0,))),
    "reference.affine.layernorm_forward": ForwardCheck(LAYERNORM),
    "reference.affine.layernorm_backward": BackwardCheck(LAYERNORM),
    "reference.affine.linear_backward": BackwardCheck(
        Layer(LINEAR, affine.linear_forward, affine.linear_backward, ("dx", "dW", "db"), (0, 1, 2))),
    "reference.mixing.token_mix_forward": ForwardCheck(TOKEN_MIX),
    "reference.mixing.token_mix_backward": BackwardCheck(TOKEN_MIX),
    "reference.mixing.channel_mix_backward": BackwardCheck(
        Layer(CHANNEL, mixing.channel_mix_forward, mixing.channel_mix_backward,
              ("dx", "dgamma", "dbeta", "dW3", "db3", "dW4", "db4"), tuple(range(7)))),
    "reference.head.softmax_cross_entropy_backward": BackwardCheck(
        Layer(SCORES, head.softmax_cross_entropy_forward, head.softmax_cross_entropy_backward,
              ("dscores",), (0,))),
    "reference.inputs.embedding_backward": BackwardCheck(
        Layer(EMBEDDING, inputs.embedding_forward, inputs.embedding_backward, ("dtable",), (1,), skip_rows=1,
              row_note="the padding row, which never gets a gradient")),
    "reference.optim.AdamW.step": AdamWCheck(ADAMW),
}

