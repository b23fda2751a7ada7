"""MMMLPConfig: every hyper-parameter of the model in one validated dataclass."""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields


@dataclass
class MMMLPConfig:
    """Hyper-parameters of MMMLP (shape letters: N = max_len, D = d_model).

    max_len:        N, the number of most recent items read (left-padded with item 0).
    d_model:        D, the width of every modality branch (ID embedding, projected text/image).
    token_hidden:   r_N, hidden width of the token-mixing MLP (W1: (r_N, N), W2: (N, r_N)).
    channel_hidden: r_D, hidden width of the channel-mixing MLP (W3: (r_D, D), W4: (D, r_D)).
    n_layers:       mixer blocks in each modality branch (Feature Mixer Layer).
    fusion_layers:  mixer blocks after the fusion projection (Fusion Mixer Layer).
    fusion_dim:     D_f, width after fusion; 0 means the sum of the branch widths.
    dropout:        inverted-dropout rate on each branch input and on the fusion output
                    (0.4; the paper's 0.2 was lower on validation, docs/results.md). A
                    training run sets it by the training set's size, ``dropout_for``.
    id_branch:      read the item-ID embeddings as a modality (False: features only).
    candidate_features: also score each candidate item with a projection of its raw
                    features (candidate vector = E[v] + sum_m P_m F_m[v]); beyond the paper.
    ln_eps:         LayerNorm epsilon.
    init_std:       standard deviation of the item-embedding initialization.
    label_smoothing: ε of the training loss: targets (1 − ε) on the true item + ε/V on every
                    item (0 = plain softmax cross-entropy over all items). None (the default)
                    means DEFAULT_LABEL_SMOOTHING (0.2), or 0 when negatives > 0; the
                    instance holds the number.
    negatives:      K > 0 trains with a sampled softmax over the target and K uniformly drawn
                    items instead of all V (0 = full softmax); not combined with smoothing.
    history_bias:   add one learned scalar β to the score of every item already in the
                    input sequence (the parameter head.history_bias, initialized at 0), so the
                    model can learn from the training data how often users buy an item again;
                    beyond the paper, on by default (docs/results.md). The ranking
                    protocol is unchanged.
    history_pool:   add a learned weighted sum of the history items' own embeddings to the
                    query, u + Σ_t a_t E[x_t] (the parameter head.history_pool, a: (N,),
                    initialized at 0), so that a candidate also scores by its likeness to the
                    items read: a linear token mixing straight into the scoring space; beyond
                    the paper, on by default (docs/results.md).
    pool_features:  the history pool sums the history items' candidate vectors, features
                    included, Σ_t a_t (E[x_t] + Σ_m P_m F_m[x_t]), rather than their ID
                    embeddings alone; the same with IDs alone or without candidate_features;
                    beyond the paper, on by default (docs/results.md).
    """

    max_len: int = 20
    d_model: int = 64
    token_hidden: int = 64
    channel_hidden: int = 128
    n_layers: int = 2
    fusion_layers: int = 1
    fusion_dim: int = 0
    dropout: float = 0.4
    id_branch: bool = True
    candidate_features: bool = True
    ln_eps: float = 1e-5
    init_std: float = 0.02
    label_smoothing: float | None = None
    negatives: int = 0
    history_bias: bool = True
    history_pool: bool = True
    pool_features: bool = True

    def __post_init__(self):
        positive = ("max_len", "d_model", "token_hidden", "channel_hidden")
        for name in positive:
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"MMMLPConfig.{name} must be a positive integer, got {value!r}")
        for name in ("n_layers", "fusion_layers", "fusion_dim", "negatives"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ValueError(f"MMMLPConfig.{name} must be an integer >= 0, got {value!r}")
        if not 0.0 <= float(self.dropout) < 1.0:
            raise ValueError(f"MMMLPConfig.dropout must be in [0, 1), got {self.dropout!r}")
        if self.label_smoothing is None:       # the default smooths the full softmax only
            self.label_smoothing = 0.0 if self.negatives else DEFAULT_LABEL_SMOOTHING
        if not 0.0 <= float(self.label_smoothing) < 1.0:
            raise ValueError(f"MMMLPConfig.label_smoothing must be in [0, 1), got {self.label_smoothing!r}")
        if self.negatives and self.label_smoothing:
            raise ValueError("MMMLPConfig.label_smoothing applies to the full softmax; "
                             "set it to 0 when negatives > 0")
        for name in ("history_bias", "history_pool", "pool_features"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"MMMLPConfig.{name} must be True or False, got {getattr(self, name)!r}")
        if not float(self.ln_eps) > 0:
            raise ValueError(f"MMMLPConfig.ln_eps must be positive, got {self.ln_eps!r}")
        if not float(self.init_std) > 0:
            raise ValueError(f"MMMLPConfig.init_std must be positive, got {self.init_std!r}")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "MMMLPConfig":
        """The config saved as ``d`` (a file of this package's format); a field newer than the
        file takes its ABSENT_MEANS value, what the saved model was made without."""
        known = {f.name for f in fields(cls)}
        return cls(**{**ABSENT_MEANS, **{k: v for k, v in d.items() if k in known}})


def field_help() -> dict:
    """{field: its description} read from MMMLPConfig's docstring, so that each field is
    described once (train.py's --help shows these)."""
    found, name = {}, None
    for line in MMMLPConfig.__doc__.splitlines():
        head, sep, text = line.strip().partition(":")
        if sep and line.startswith("    ") and not line.startswith("     ") and head.isidentifier():
            name, found[head] = head, text.strip()
        elif name and line.strip():
            found[name] += " " + line.strip()
        else:
            name = None
    return found


DEFAULT_LABEL_SMOOTHING = 0.2

# A model or run saved before one of these settings existed was made without it: a saved
# config that does not name the setting means this value, not today's default.
ABSENT_MEANS = {"history_pool": False, "pool_features": False}

# A training run's MMMLP dropout follows the size of its training set: the rate that led on the
# validation splits of the Amazon sets and their subsets was 0.6 on small sets and 0.4 on large
# ones (docs/results.md, "Dropout by the training set's size"). DROPOUT_LINE: (examples, rate)
# at its two ends; between them the rate falls on a line in log10 of the size.
DROPOUT_LINE = ((51_000, 0.6), (85_000, 0.4))


def dropout_for(n_examples: int) -> float:
    """MMMLP's default dropout for ``n_examples`` training examples (prefixes of the training
    sequences): 0.6 up to 51k examples, 0.4 from 85k, in between on a line in log10 of the
    size, to the nearest 0.05 (0.5 at 66k)."""
    (small, high), (large, low) = DROPOUT_LINE
    t = (math.log10(max(n_examples, 1)) - math.log10(small)) / (math.log10(large) - math.log10(small))
    return round((high + (low - high) * min(max(t, 0.0), 1.0)) * 20) / 20


def _dropout_rule() -> str:
    """The rule in words, for ``--help``, read off DROPOUT_LINE (its ends and its middle)."""
    (small, high), (large, low) = DROPOUT_LINE
    middle = round(math.sqrt(small * large))            # halfway in log10
    k = lambda n: f"{round(n / 1000)}k"                 # noqa: E731
    return (f"by the training set's size ({high} up to {k(small)} training examples, "
            f"{dropout_for(middle)} at {k(middle)}, {low} from {k(large)})")


DROPOUT_RULE = _dropout_rule()


# MMMLP's AdamW learning rate: a training setting, not a field of the model's config, kept here
# beside the other defaults (docs/results.md: higher on validation than 1e-3 on the shared
# sets); SASRec and GRU4Rec keep their papers' 1e-3 (baselines.MODEL_DEFAULTS).
DEFAULT_LR = 2e-3

# Training evaluates, keeps and saves an exponential moving average of the weights (--ema,
# tiny_mmmlp/averaging.py) with this decay, warmed up with K = DEFAULT_EMA_WARMUP (the decay of
# step t is min(d, (1 + t) / (K + t)), so on small sets the average does not lean on the
# initial weights); higher on validation than the weights as trained (docs/results.md).
DEFAULT_EMA, DEFAULT_EMA_WARMUP = 0.999, 3
