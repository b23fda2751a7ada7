"""The course's exercises: one table, in teaching order. Exercise k is row k (from 1).

Each row names a function of the package by its module (relative to ``tiny_mmmlp``) and
its name inside the module (``Class.method`` for a method). ``new`` empties exactly these
bodies in the student's copy, ``grade`` checks exactly these, ``solve`` restores them from
the installed package. The reference source carries no markers: this table is the only
place that says what the exercises are.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Exercise:
    module: str       # e.g. "reference.affine" or "kernels.gelu" (tiny_mmmlp/kernels/)
    function: str     # e.g. "layernorm_backward", or "AdamW.step"
    points: int
    tutorial: str     # the tutorial and section the exercise follows (tutorials/)
    hint: str         # one sentence, shown in the NotImplementedError the student meets

    @property
    def name(self) -> str:
        """Qualified name, as the grader reports it: ``reference.affine.layernorm_backward``."""
        return f"{self.module}.{self.function}"

    @property
    def part(self) -> str:
        """"numpy" or "triton" (graded under TRITON_INTERPRET=1 without a GPU)."""
        return "triton" if self.module.startswith("kernels.") else "numpy"

    @property
    def path(self) -> str:
        """The file inside a kit (and inside the installed package): ``reference/affine.py``."""
        return self.module.replace(".", "/") + ".py"


EXERCISES = (
    Exercise("reference.elementwise", "gelu_backward", 1, "01 §5a",
             "multiply dout by GELU'(x) = 0.5 (1 + t) + 0.5 x (1 - t²) k (1 + 3 c x²), "
             "with t = tanh(k (x + c x³)) taken from the cache"),
    Exercise("reference.affine", "layernorm_forward", 1, "01 §2",
             "normalize each row over the last axis with its mean and variance, scale by gamma, "
             "shift by beta, and return the cache that layernorm_backward unpacks"),
    Exercise("reference.affine", "layernorm_backward", 2, "01 §5b",
             "with g = dout * gamma, dx = rstd (g - mean(g) - x̂ mean(g x̂)), means over the last axis; "
             "dgamma and dbeta sum over every other axis"),
    Exercise("reference.affine", "linear_backward", 1, "01 §4, §5",
             "flatten the leading axes into rows: dx = dy W, dW = dyᵀ x, db = the column sums of dy "
             "(None without a bias)"),
    Exercise("reference.mixing", "token_mix_forward", 1, "01 §3",
             "the weights multiply from the left (W1 @ LN(x) mixes the N axis), add the residual, "
             "and return the cache that token_mix_backward unpacks"),
    Exercise("reference.mixing", "token_mix_backward", 2, "01 §5c",
             "run the forward in reverse (W2, GELU, W1, LayerNorm), sum the weight gradients over "
             "the batch, and add dy for the residual"),
    Exercise("reference.mixing", "channel_mix_backward", 2, "01 §4, §5",
             "chain linear_backward, gelu_backward, linear_backward and layernorm_backward in reverse "
             "order, then add dy for the residual"),
    Exercise("reference.head", "softmax_cross_entropy_backward", 1, "03 §1",
             "dscores = dloss (softmax - one-hot of the target) / B on columns 1..V and 0 on the "
             "padding column 0"),
    Exercise("reference.inputs", "embedding_backward", 1, "03 §1",
             "add each position's dout into the row of its item (np.add.at does it) and leave the "
             "padding row 0 at zero"),
    Exercise("reference.optim", "AdamW.step", 1, "03 §3",
             "count the step, decay only what decays() allows, update m and v in place and "
             "bias-correct them with the step count"),
    Exercise("kernels.gelu", "gelu_grad", 1, "04 §3",
             "the same derivative as gelu_backward, written with this file's tanh()"),
    Exercise("kernels.token_mixing", "_token_mix_bwd_data", 2, "04 §2, §3",
             "recompute H = W1 L + b1 chunk by chunk from the LayerNorm tile, then accumulate "
             "dL += W1ᵀ (GELU'(H) ⊙ (W2ᵀ dY)) over the hidden chunks and store it"),
)

DEFAULT = tuple(k for k, ex in enumerate(EXERCISES, 1) if ex.part == "numpy")
TRITON = tuple(k for k, ex in enumerate(EXERCISES, 1) if ex.part == "triton")


def exercise(k: int) -> Exercise:
    return EXERCISES[k - 1]


def parse_selection(texts) -> list[int]:
    """Exercise numbers from command-line words: numbers, ranges ("2-5"), "all" or "triton".

    Raises ValueError with one sentence for anything else, for an empty selection and for
    an exercise given twice (a grade must not count one exercise twice).
    """
    chosen = []
    for word in ",".join(texts).split(","):
        word = word.strip().lower()
        if not word:
            continue
        if word in ("all", "triton", "numpy", "default"):
            chosen += {"all": range(1, len(EXERCISES) + 1), "triton": TRITON}.get(word, DEFAULT)
            continue
        lo, _, hi = word.partition("-")
        if not lo.isdigit() or (hi and not hi.isdigit()):
            raise ValueError(f"unknown exercise '{word}': give numbers 1 to {len(EXERCISES)}, "
                             "ranges like 2-5, 'all' or 'triton'")
        if hi and int(hi) < int(lo):
            raise ValueError(f"empty range '{word}': give it low to high, e.g. {hi}-{lo}")
        for k in range(int(lo), int(hi or lo) + 1):
            if not 1 <= k <= len(EXERCISES):
                raise ValueError(f"unknown exercise {k}: the course has exercises 1 to {len(EXERCISES)}")
            chosen.append(k)
    if not chosen:
        raise ValueError(f"no exercise given: give numbers 1 to {len(EXERCISES)}, ranges like 2-5, "
                         "'all' or 'triton'")
    twice = next((k for i, k in enumerate(chosen) if k in chosen[:i]), None)
    if twice is not None:
        raise ValueError(f"exercise {twice} is given twice")
    return sorted(chosen)


def installed_source(ex: Exercise) -> Path:
    """The installed file that holds the reference body of ``ex``."""
    package = Path(importlib.import_module("tiny_mmmlp").__file__).parent
    if ex.part == "triton":   # tiny_mmmlp.kernels is installed from the top-level kernels/ folder
        kernels = Path(importlib.import_module("tiny_mmmlp.kernels").__file__).parent
        return kernels / (ex.module.split(".", 1)[1] + ".py")
    return package / ex.path
