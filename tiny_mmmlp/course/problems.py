"""The problems the grader draws: shape letters with Hypothesis ranges, and the inputs built from them.

A problem is a set of shape letters (B batch, N sequence length, D features, R hidden width,
V items) drawn by Hypothesis, and a seed from which the arrays are built, fresh for every
call. ``draw`` gives an exercise's cases: the explicit examples (B = 1, N = 1 and odd
widths) and Hypothesis' derandomized draws, so every student meets the same ones, smallest
first; the grader reports the smallest case that fails. All arithmetic is float64.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np
from hypothesis import strategies as st


@dataclass(frozen=True)
class Case:
    dims: tuple      # ((letter, size), ...) in the problem's order
    seed: int

    @property
    def label(self) -> str:
        return ", ".join(f"{k}={v}" for k, v in self.dims)

    @property
    def size(self) -> int:
        return sum(v for _, v in self.dims if type(v) is int)


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


def draw(problem: Problem, examples: int, seed: int | None = None, extra=()) -> list:
    """The explicit cases, ``extra`` ones and ``examples`` drawn ones, without repeats,
    smallest first (explicit ones first among equals). Without ``seed`` the draws are
    derandomized (every run meets the same ones, a student's local check included); an
    instructor's ``seed`` draws others, the same for every student graded with it."""
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis import seed as seeded

    drawn = []

    @settings(max_examples=examples, derandomize=seed is None, database=None, deadline=None,
              phases=[Phase.generate], suppress_health_check=list(HealthCheck))
    @given(problem.cases())
    def collect(case):
        drawn.append(case)

    if seed is not None:
        collect = seeded(seed)(collect)
    collect()
    cases = list(dict.fromkeys(problem.explicit() + list(extra) + drawn))
    return sorted(cases, key=lambda c: c.size)


def hidden_case(problem: Problem, dims: dict, seed: int) -> Case:
    """A case of the sizes ``dims`` (every letter of ``problem``, nothing else); ValueError
    with one sentence when they do not fit the problem."""
    letters = list(problem.dims)
    if sorted(dims) != sorted(letters):
        raise ValueError(f"give exactly the sizes {', '.join(letters)}")
    case = Case(tuple((k, dims[k]) for k in letters), seed)
    try:
        problem.inputs(case)
    except Exception as err:
        raise ValueError(f"these sizes do not make a problem ({type(err).__name__}: {err})") from None
    return case


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
