"""Every NumPy layer pair of MMMLP in one namespace, CS231n style.

Each ``*_forward`` returns ``(out, cache)``; each ``*_backward(dout, cache)`` returns the
gradients in the order of the forward's differentiable arguments. The code lives in small
modules named for what they hold:

- ``elementwise``: tanh-GELU, inverted dropout
- ``affine``: LayerNorm, linear along the last axis
- ``mixing``: token mixing, channel mixing, the mixer block
- ``inputs``: embedding lookup, per-modality input projection, fusion
- ``head``: candidate vectors, the history pool, the Prediction Layer (also on sampled columns only), the history
  bias, softmax cross-entropy
"""
from .affine import layernorm_backward, layernorm_forward, linear_backward, linear_forward
from .elementwise import dropout_backward, dropout_forward, gelu_backward, gelu_forward
from .head import (
    candidates_backward,
    candidates_forward,
    history_bias_backward,
    history_bias_forward,
    history_pool_backward,
    history_pool_forward,
    prediction_backward,
    prediction_forward,
    sampled_history_mask,
    sampled_prediction_backward,
    sampled_prediction_forward,
    softmax_cross_entropy_backward,
    softmax_cross_entropy_forward,
)
from .inputs import (
    embedding_backward,
    embedding_forward,
    fusion_backward,
    fusion_forward,
    input_projection_backward,
    input_projection_forward,
)
from .mixing import (
    channel_mix_backward,
    channel_mix_forward,
    mixer_block_backward,
    mixer_block_forward,
    token_mix_backward,
    token_mix_forward,
)

__all__ = [
    "candidates_backward",
    "candidates_forward",
    "channel_mix_backward",
    "channel_mix_forward",
    "dropout_backward",
    "dropout_forward",
    "embedding_backward",
    "embedding_forward",
    "fusion_backward",
    "fusion_forward",
    "gelu_backward",
    "gelu_forward",
    "history_bias_backward",
    "history_bias_forward",
    "history_pool_backward",
    "history_pool_forward",
    "input_projection_backward",
    "input_projection_forward",
    "layernorm_backward",
    "layernorm_forward",
    "linear_backward",
    "linear_forward",
    "mixer_block_backward",
    "mixer_block_forward",
    "prediction_backward",
    "prediction_forward",
    "sampled_history_mask",
    "sampled_prediction_backward",
    "sampled_prediction_forward",
    "softmax_cross_entropy_backward",
    "softmax_cross_entropy_forward",
    "token_mix_backward",
    "token_mix_forward",
]
