"""The one parameter-naming scheme every backend shares, and the initialization.

Names (keys of the NumPy model's ``params`` and of the torch model's ``state_dict``):

    id.embedding                         (V + 1, D)      item-ID embeddings, row 0 = padding
    <m>.proj.W, <m>.proj.b               (D, d_m), (D,)  input projection of feature modality m
    <b>.blocks.<i>.token.gamma|beta      (D,)            LayerNorm of token mixing
    <b>.blocks.<i>.token.W1, b1          (R_N, N), (R_N,)
    <b>.blocks.<i>.token.W2, b2          (N, R_N), (N,)
    <b>.blocks.<i>.channel.gamma|beta    (D,)
    <b>.blocks.<i>.channel.W3, b3        (R_D, D), (R_D,)
    <b>.blocks.<i>.channel.W4, b4        (D, R_D), (D,)
    fusion.proj.W, fusion.proj.b         (D_f, Σ D), (D_f,)
    fusion.blocks.<i>. ...               as above with D = D_f
    head.norm.gamma|beta                 (D_f,)
    head.proj.W, head.proj.b             (D, D_f), (D,)
    head.cand.<m>.W                      (D, d_m)        only with cfg.candidate_features
    head.history_bias                    (1,)            only with cfg.history_bias
    head.history_pool                    (N,)            only with cfg.history_pool

<b> is a branch: each feature modality (sorted by name), then "id". <m> is a feature modality.
"""
from __future__ import annotations

import numpy as np

from .model_config import MMMLPConfig


def branch_names(cfg: MMMLPConfig, feature_names) -> list[str]:
    """The branches of the Feature Mixer Layer, in fusion order: features sorted, then "id"."""
    names = sorted(feature_names) + (["id"] if cfg.id_branch else [])
    if not names:
        raise ValueError("MMMLP needs at least one modality: give features or set id_branch=True")
    return names


def fused_width(cfg: MMMLPConfig, n_branches: int) -> int:
    """D_f: cfg.fusion_dim, or by default the sum of the branch widths."""
    return cfg.fusion_dim or n_branches * cfg.d_model


def _block_specs(prefix, cfg, D):
    N, R_N, R_D = cfg.max_len, cfg.token_hidden, cfg.channel_hidden
    return {
        prefix + "token.gamma": ((D,), "ones"),
        prefix + "token.beta": ((D,), "zeros"),
        prefix + "token.W1": ((R_N, N), "fan_in"),
        prefix + "token.b1": ((R_N,), "zeros"),
        prefix + "token.W2": ((N, R_N), "fan_in"),
        prefix + "token.b2": ((N,), "zeros"),
        prefix + "channel.gamma": ((D,), "ones"),
        prefix + "channel.beta": ((D,), "zeros"),
        prefix + "channel.W3": ((R_D, D), "fan_in"),
        prefix + "channel.b3": ((R_D,), "zeros"),
        prefix + "channel.W4": ((D, R_D), "fan_in"),
        prefix + "channel.b4": ((D,), "zeros"),
    }


def param_specs(cfg: MMMLPConfig, n_items: int, feature_widths: dict) -> dict:
    """name -> (shape, init) for every parameter, in a fixed order.

    feature_widths: {modality: d_m} of the frozen raw features. init is one of
    "embed" (normal, std cfg.init_std, padding row zero), "fan_in" (uniform ±1/√fan_in),
    "zeros", "ones".
    """
    D = cfg.d_model
    branches = branch_names(cfg, feature_widths)
    D_f = fused_width(cfg, len(branches))
    specs = {"id.embedding": ((n_items + 1, D), "embed")}
    for b in branches:
        if b != "id":
            specs[f"{b}.proj.W"] = ((D, feature_widths[b]), "fan_in")
            specs[f"{b}.proj.b"] = ((D,), "zeros")
        for i in range(cfg.n_layers):
            specs.update(_block_specs(f"{b}.blocks.{i}.", cfg, D))
    specs["fusion.proj.W"] = ((D_f, D * len(branches)), "fan_in")
    specs["fusion.proj.b"] = ((D_f,), "zeros")
    for i in range(cfg.fusion_layers):
        specs.update(_block_specs(f"fusion.blocks.{i}.", cfg, D_f))
    specs["head.norm.gamma"] = ((D_f,), "ones")
    specs["head.norm.beta"] = ((D_f,), "zeros")
    specs["head.proj.W"] = ((D, D_f), "fan_in")
    specs["head.proj.b"] = ((D,), "zeros")
    if cfg.candidate_features:
        for m in sorted(feature_widths):
            specs[f"head.cand.{m}.W"] = ((D, feature_widths[m]), "fan_in")
    if cfg.history_bias:
        specs["head.history_bias"] = ((1,), "zeros")
    if cfg.history_pool:
        specs["head.history_pool"] = ((cfg.max_len,), "zeros")
    return specs


def init_params(specs: dict, init_std: float, seed: int, dtype=np.float32) -> dict:
    """Draw every parameter from one seeded generator, in the order of ``specs``."""
    rng = np.random.default_rng(seed)
    params = {}
    for name, (shape, kind) in specs.items():
        if kind == "embed":
            value = rng.normal(0.0, init_std, size=shape)
            value[0] = 0.0                                  # padding item
        elif kind == "fan_in":
            bound = 1.0 / np.sqrt(shape[-1])
            value = rng.uniform(-bound, bound, size=shape)
        elif kind == "ones":
            value = np.ones(shape)
        else:
            value = np.zeros(shape)
        params[name] = value.astype(dtype)
    return params


def block_prefixes(cfg: MMMLPConfig, branch: str) -> list[str]:
    """The name prefixes of one branch's mixer blocks ("text.blocks.0.", ...)."""
    n = cfg.fusion_layers if branch == "fusion" else cfg.n_layers
    return [f"{branch}.blocks.{i}." for i in range(n)]
