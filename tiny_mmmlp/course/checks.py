"""How each NumPy exercise is checked: on Hypothesis-drawn problems, against the installed
reference, and with a numeric gradient check (``tiny_mmmlp.reference.gradcheck``).

A problem is a set of shape letters (B batch, N sequence length, D features, R hidden width,
V items) drawn by Hypothesis, and a seed from which the arrays are built, fresh for every
call. The explicit examples put B = 1, N = 1 and odd widths first. A check raises
``Failure`` with one sentence: the case's shapes, which output, and how far off it is.
All arithmetic is float64.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
from hypothesis import strategies as st

from ..reference import affine, elementwise, head, inputs, mixing, optim
from ..reference.gradcheck import numeric_gradient, rel_error

TOL = 1e-6          # |student − reference| <= TOL · max(1, max |reference|), per output
NUMERIC_TOL = 1e-6  # relative error against central differences (float64, h = 1e-6)
NUMERIC_MAX = 400   # entries above which the (one forward per entry) numeric check is skipped


class Failure(Exception):
    """The first failing case of an exercise, as the one sentence the grader prints."""


@dataclass(frozen=True)
class Case:
    dims: tuple      # ((letter, size), ...) in the problem's order
    seed: int

    @property
    def label(self) -> str:
        return ", ".join(f"{k}={v}" for k, v in self.dims)

    def __repr__(self):   # how Hypothesis shows a falsifying example
        return f"Case({self.label}, seed={self.seed})"


@dataclass
class Problem:
    """Shape letters with their Hypothesis ranges, and ``build(rng, **dims) -> list of inputs``."""
    dims: dict
    build: Callable
    examples: list = field(default_factory=list)   # explicit dims, tried first

    def cases(self):
        return st.builds(lambda d, seed: Case(tuple(d.items()), seed),
                         st.fixed_dictionaries(self.dims), st.integers(0, 2**32 - 1))

    def explicit(self):
        return [Case(tuple(d.items()), i) for i, d in enumerate(self.examples)]

    def inputs(self, case: Case) -> list:
        return self.build(np.random.default_rng(case.seed), **dict(case.dims))


def call(fn, *args):
    """fn(*args), with anything it raises turned into a Failure sentence (prefix added later)."""
    try:
        return fn(*args)
    except (Exception, SystemExit) as err:
        while type(err).__name__ == "InterpreterError" and err.__cause__ is not None:
            err = err.__cause__                      # Triton's interpreter wraps what a kernel raised
        text = str(err).strip().splitlines()[0] if str(err).strip() else ""
        raise Failure(f"raised {type(err).__name__}" + (f": {text}" if text else "")) from None


def compare(case, name, got, want, tol=TOL, note_rows=None):
    """Raise Failure unless ``got`` has ``want``'s shape and values (None must stay None).

    note_rows: {row: what it is}, added to the sentence when the worst error sits in that row.
    """
    if want is None:
        if got is not None:
            raise Failure(f"{case.label}: {name} should be None here, got {type(got).__name__}")
        return
    try:
        g = np.asarray(got, dtype=np.float64)
    except (TypeError, ValueError):
        raise Failure(f"{case.label}: {name} is a {type(got).__name__}, not an array") from None
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


def _tuple(x, n):
    return x if isinstance(x, (tuple, list)) else (x,) if n == 1 else x


def _dout(case, out):
    return np.random.default_rng(case.seed + 1).standard_normal(np.shape(out))


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
    layer: Layer

    @property
    def problem(self):
        return self.layer.problem

    def run(self, student, case):
        lay = self.layer
        out, cache = lay.forward(*lay.problem.inputs(case))
        dout = _dout(case, out)
        want = _tuple(lay.backward(np.copy(dout), copy.deepcopy(cache)), len(lay.grads))
        got = _run(case, student, np.copy(dout), copy.deepcopy(cache))
        got = _tuple(got, len(lay.grads))
        if not isinstance(got, (tuple, list)) or len(got) != len(want):
            n = f"{len(got)} values" if isinstance(got, (tuple, list)) else f"a {type(got).__name__}"
            raise Failure(f"{case.label}: returned {n}, expected {len(want)} ({', '.join(lay.grads)})")
        notes = {r: lay.row_note for r in range(lay.skip_rows)}
        for name, g, w in zip(lay.grads, got, want):
            compare(case, name, g, w, note_rows=notes)
        self.numeric(case, got, dout)

    def numeric(self, case, got, dout):
        lay = self.layer
        xs = lay.problem.inputs(case)
        for name, g, i in zip(lay.grads, got, lay.wrt):
            if g is None or np.size(xs[i]) > NUMERIC_MAX:
                continue
            num = numeric_gradient(lambda: float(np.sum(lay.forward(*xs)[0] * dout)), xs[i])
            err = rel_error(np.asarray(g)[lay.skip_rows:], num[lay.skip_rows:])
            if err > NUMERIC_TOL:
                raise Failure(f"{case.label}: the numeric gradient check of {name} fails "
                              f"(relative error {err:.1e})")


@dataclass
class ForwardCheck:
    """The output must match, and the cache must work with the reference backward."""
    layer: Layer

    @property
    def problem(self):
        return self.layer.problem

    def run(self, student, case):
        lay = self.layer
        want_out, want_cache = lay.forward(*lay.problem.inputs(case))
        got = _run(case, student, *lay.problem.inputs(case))
        if not isinstance(got, (tuple, list)) or len(got) != 2:
            raise Failure(f"{case.label}: returned a {type(got).__name__}, expected the pair (out, cache)")
        compare(case, "out", got[0], want_out)
        dout = _dout(case, want_out)
        want = lay.backward(np.copy(dout), want_cache)
        try:
            from_student = lay.backward(np.copy(dout), copy.deepcopy(got[1]))
        except Exception as err:
            raise Failure(f"{case.label}: the cache it returns does not fit the reference "
                          f"{lay.backward.__name__} ({type(err).__name__}: {err})") from None
        for name, g, w in zip(lay.grads, _tuple(from_student, 1), _tuple(want, 1)):
            compare(case, f"{name} of {lay.backward.__name__} given its cache", g, w)


def _run(case, fn, *args):
    try:
        return call(fn, *args)
    except Failure as f:
        raise Failure(f"{case.label}: {f}") from None


@dataclass
class AdamWCheck:
    """Three steps of the student's ``step`` on a reference AdamW, against the reference's."""
    problem: Problem

    def run(self, student, case):
        d = dict(case.dims)
        params, steps = self.problem.inputs(case)
        opts = [optim.AdamW({k: v.copy() for k, v in params.items()}, lr=d["lr"], weight_decay=d["wd"])
                for _ in range(2)]
        for t, grads in enumerate(steps, 1):
            opts[0].step({k: g.copy() for k, g in grads.items()})
            _run(case, student, opts[1], {k: g.copy() for k, g in grads.items()})
            for k in params:
                compare(case, f"params['{k}'] after step {t}", opts[1].params[k], opts[0].params[k])


# ------------------------------------------------------------------ the problems

sizes, widths = st.integers(1, 3), st.integers(3, 7)   # LayerNorm needs 3+ features (see tests/strategies)


def _randn(rng, *shape):
    return rng.standard_normal(shape)


def _ln(rng, B, N, D):
    return [_randn(rng, B, N, D), 1 + 0.5 * _randn(rng, D), _randn(rng, D)]


def _mixer(rng, B, N, D, R, width):
    return _ln(rng, B, N, D) + [_randn(rng, R, width) / np.sqrt(width), _randn(rng, R),
                                _randn(rng, width, R) / np.sqrt(R), _randn(rng, width)]


def _linear(rng, B, N, D_in, D_out, bias):
    return [_randn(rng, B, N, D_in), _randn(rng, D_out, D_in), _randn(rng, D_out) if bias else None]


def _scores(rng, B, V):
    return [2 * _randn(rng, B, V + 1), rng.integers(1, V + 1, size=B)]


def _embedding(rng, B, N, V, D):
    """Left-padded histories: row b holds L_b ids from 1..V after N − L_b zeros (L_b may be 0)."""
    lengths = rng.integers(0, N + 1, size=B)
    seq = rng.integers(1, V + 1, size=(B, N)) * (np.arange(N)[None, :] >= N - lengths[:, None])
    table = _randn(rng, V + 1, D)
    table[0] = 0.0                                      # the padding row, as the model keeps it
    return [seq, table]


def _adamw(rng, R, C, lr, wd):
    shapes = {"W": (R, C), "b": (C,), "E": (C + 1, 2)}
    params = {k: _randn(rng, *s) for k, s in shapes.items()}
    steps = [{k: _randn(rng, *s) for k, s in shapes.items()} for _ in range(3)]
    return params, steps


LN = Problem({"B": sizes, "N": st.integers(1, 5), "D": widths}, _ln,
             [dict(B=1, N=1, D=3), dict(B=2, N=3, D=5)])
ANY = Problem({"B": sizes, "N": st.integers(1, 5), "D": st.integers(1, 7)},
              lambda rng, B, N, D: [3 * _randn(rng, B, N, D)], [dict(B=1, N=1, D=1), dict(B=2, N=3, D=5)])
LINEAR = Problem({"B": sizes, "N": st.integers(1, 4), "D_in": st.integers(1, 6), "D_out": st.integers(1, 6),
                  "bias": st.booleans()}, _linear,
                 [dict(B=1, N=1, D_in=3, D_out=1, bias=True), dict(B=2, N=3, D_in=5, D_out=3, bias=False)])
TOKEN = Problem({"B": sizes, "N": st.integers(1, 6), "D": widths, "R": st.integers(1, 5)},
                lambda rng, B, N, D, R: _mixer(rng, B, N, D, R, N),
                [dict(B=1, N=1, D=3, R=1), dict(B=2, N=5, D=7, R=3)])
CHANNEL = Problem({"B": sizes, "N": st.integers(1, 4), "D": widths, "R": st.integers(1, 5)},
                  lambda rng, B, N, D, R: _mixer(rng, B, N, D, R, D),
                  [dict(B=1, N=1, D=3, R=1), dict(B=2, N=3, D=5, R=3)])
SCORES = Problem({"B": st.integers(1, 4), "V": st.integers(1, 9)}, _scores, [dict(B=1, V=1), dict(B=3, V=7)])
EMBEDDING = Problem({"B": sizes, "N": st.integers(1, 6), "V": st.integers(1, 5), "D": st.integers(1, 5)},
                    _embedding, [dict(B=1, N=1, V=1, D=1), dict(B=3, N=5, V=3, D=3)])
ADAMW = Problem({"R": st.integers(1, 4), "C": st.integers(1, 5), "lr": st.sampled_from([1e-3, 0.1]),
                 "wd": st.sampled_from([0.0, 0.1])}, _adamw, [dict(R=1, C=1, lr=0.1, wd=0.1),
                                                               dict(R=3, C=5, lr=1e-3, wd=0.0)])

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
