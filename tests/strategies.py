"""Hypothesis strategies for shapes, in one place (minitorch style).

Shape letters: B batch, N sequence length, D features, R hidden width.
"""
from hypothesis import strategies as st

batches = st.integers(1, 3)
seq_lens = st.integers(1, 40)
features = st.integers(1, 48)
hidden = st.integers(1, 64)
seeds = st.integers(0, 2**32 - 1)


@st.composite
def mixer_shapes(draw):
    """(B, N, D, R, seed, n_pad): a mixer-half problem; n_pad leading positions are padding
    (all-zero rows of x, as left-padded sequences have)."""
    B, N, D, R = draw(batches), draw(seq_lens), draw(features), draw(hidden)
    n_pad = draw(st.integers(0, N))
    return B, N, D, R, draw(seeds), n_pad

# Float64 gradient checks of the NumPy reference take one forward pass per input entry, so
# their shapes stay small. LayerNorm needs at least 3 features: over 2 it outputs ±1 whatever
# the input, its true gradient is 0, and a relative check would compare rounding noise.
small_sizes = st.integers(1, 5)
ln_widths = st.integers(3, 7)
