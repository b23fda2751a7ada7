"""MMMLP in NumPy: Feature Mixer Layer per modality, Fusion Mixer Layer, Prediction Layer.

Forward and backward are written out by hand from the layer pairs in ``layers``; the
backward walks the forward in reverse, one line per forward line. Shapes: B batch,
N = cfg.max_len, D = cfg.d_model, D_f fused width, V items.
"""
from __future__ import annotations

import numpy as np

from ..model_config import MMMLPConfig
from ..params import block_prefixes, branch_names, init_params, param_specs
from . import layers as L
from . import losses
from .workspace import FRESH


def _sub(params, prefix):
    """The parameters under ``prefix`` with the prefix stripped ("token.W1", ...)."""
    return {k[len(prefix):]: v for k, v in params.items() if k.startswith(prefix)}


class MMMLP:
    """The NumPy MMMLP.

    cfg: MMMLPConfig; n_items: V; features: {modality: (V + 1, d_m) array}, row 0 = padding
    ({} or None = ID-only); seed: initialization seed; dtype: np.float32 or np.float64.
    """

    def __init__(self, cfg: MMMLPConfig, n_items: int, features=None, seed=0, dtype=np.float32):
        features = dict(features or {})
        for name, f in features.items():
            if f.ndim != 2 or f.shape[0] != n_items + 1:
                raise ValueError(
                    f"feature matrix '{name}' has shape {f.shape}, expected ({n_items + 1}, d): "
                    "one row per item plus the padding row 0")
        self.cfg = cfg
        self.n_items = n_items
        self.dtype = np.dtype(dtype)
        self.features = {k: np.ascontiguousarray(v, dtype=self.dtype) for k, v in features.items()}
        self.branches = branch_names(cfg, self.features)
        self.cand_modalities = sorted(self.features) if cfg.candidate_features else []
        specs = param_specs(cfg, n_items, {k: v.shape[1] for k, v in self.features.items()})
        self.params = init_params(specs, cfg.init_std, seed, self.dtype)
        self.rng = np.random.default_rng(seed + 1)            # dropout masks while training

    # ------------------------------------------------------------------ forward
    def _forward(self, item_seq, rng, ws, sampled=None):
        """scores (B, V + 1) and the cache the backward needs; rng None = no dropout.

        sampled: (targets, rng) to score only each row's target and K negatives drawn from rng
        (``_sampled_head``); the scores are then ((B,) target scores, (B, K) negative scores).
        """
        p, cfg, eps = self.params, self.cfg, self.cfg.ln_eps
        rate = cfg.dropout if rng is not None else 0.0
        mask = item_seq != 0                                   # (B, N)
        outs, branch_caches = [], []
        for b in self.branches:
            wb = ws.scope(b)
            if b == "id":
                x, c_in = L.embedding_forward(item_seq, p["id.embedding"], wb.scope("embed"))  # (B, N, D)
            else:
                f = self.features[b]
                raw = np.take(f, item_seq, axis=0, mode="clip",
                              out=wb("raw", (*item_seq.shape, f.shape[1]), f.dtype))   # (B, N, d_b)
                x, c_in = L.input_projection_forward(raw, mask, p[f"{b}.proj.W"], p[f"{b}.proj.b"],
                                                     wb.scope("input"))
            x, c_drop = L.dropout_forward(x, rate, rng, wb.scope("dropout"))
            c_blocks = []
            for prefix in block_prefixes(cfg, b):
                x, c = L.mixer_block_forward(x, _sub(p, prefix), eps, ws.scope(prefix))  # (B, N, D)
                c_blocks.append(c)
            outs.append(x)
            branch_caches.append((c_in, c_drop, c_blocks))
        wf = ws.scope("fusion")
        z, c_fuse = L.fusion_forward(outs, p["fusion.proj.W"], p["fusion.proj.b"], wf)  # (B, N, D_f)
        z, c_fdrop = L.dropout_forward(z, rate, rng, wf.scope("dropout"))
        c_fblocks = []
        for prefix in block_prefixes(cfg, "fusion"):
            z, c = L.mixer_block_forward(z, _sub(p, prefix), eps, ws.scope(prefix))  # (B, N, D_f)
            c_fblocks.append(c)
        h = z[:, -1, :]                                                      # (B, D_f): last position
        q, c_pool = None, None
        if cfg.history_pool:                                                 # q = Σ_t a_t C[x_t] (B, D)
            pooled = self.cand_modalities if cfg.pool_features else []
            q, c_pool = L.history_pool_forward(p["id.embedding"], item_seq, p["head.history_pool"],
                                               [self.features[m] for m in pooled],
                                               [p[f"head.cand.{m}.W"] for m in pooled], ws.scope("head.pool"))
        trunk = (branch_caches, c_fuse, c_fdrop, c_fblocks, c_pool, z.shape)
        if sampled is not None:
            scores, c_sampled = self._sampled_head(h, q, item_seq, *sampled, ws)
            return scores, (trunk, c_sampled, None, None)
        cand, c_cand = L.candidates_forward(
            p["id.embedding"],
            [self.features[m] for m in self.cand_modalities],
            [p[f"head.cand.{m}.W"] for m in self.cand_modalities], ws.scope("head.cand"))  # (V + 1, D)
        scores, c_pred = L.prediction_forward(
            h, p["head.norm.gamma"], p["head.norm.beta"], p["head.proj.W"], p["head.proj.b"],
            cand, eps, ws.scope("head"), extra=q)                            # (B, V + 1)
        c_hist = None
        if cfg.history_bias:                                                 # s[b, v] += β, v in history
            scores, c_hist = L.history_bias_forward(scores, item_seq, p["head.history_bias"],
                                                    ws.scope("head"))
        return scores, (trunk, c_cand, c_pred, c_hist)

    # ----------------------------------------------------------------- backward
    def _backward(self, dscores, cache, ws):
        (branch_caches, c_fuse, c_fdrop, c_fblocks, c_pool, z_shape), c_cand, c_pred, c_hist = cache
        cfg = self.cfg
        grads = {}
        if c_pred is None:                                     # the sampled head: dscores = (ds_t, ds_neg)
            dh, d_table, dq = self._sampled_head_backward(*dscores, c_cand, grads, ws)
        else:
            if cfg.history_bias:
                grads["head.history_bias"] = L.history_bias_backward(dscores, c_hist)
            dh, grads["head.norm.gamma"], grads["head.norm.beta"], grads["head.proj.W"], \
                grads["head.proj.b"], dcand, *dq = L.prediction_backward(dscores, c_pred, ws.scope("head"))
            d_table, d_projs = L.candidates_backward(dcand, c_cand, ws.scope("head.cand"))
            for m, g in zip(self.cand_modalities, d_projs):
                grads[f"head.cand.{m}.W"] = g
        if c_pool is not None:                                 # dE[x_t] += a_t dq, dP_m, da
            d_pool, grads["head.history_pool"], d_projs = L.history_pool_backward(dq[0], c_pool,
                                                                                 ws.scope("head.pool"))
            d_table += d_pool
            for m, g in zip(self.cand_modalities, d_projs):   # empty without cfg.pool_features
                grads[f"head.cand.{m}.W"] += g
        wf = ws.scope("fusion")
        dz = wf("dz", z_shape, dh.dtype)                       # (B, N, D_f)
        dz.fill(0.0)
        dz[:, -1, :] = dh                                      # only the last position is read
        for prefix, c in zip(reversed(block_prefixes(cfg, "fusion")), reversed(c_fblocks)):
            dz, g = L.mixer_block_backward(dz, c, ws.scope(prefix))
            grads.update({prefix + k: v for k, v in g.items()})
        dz = L.dropout_backward(dz, c_fdrop, wf.scope("dropout"))
        douts, grads["fusion.proj.W"], grads["fusion.proj.b"] = L.fusion_backward(dz, c_fuse, wf)
        for b, dx, (c_in, c_drop, c_blocks) in zip(self.branches, douts, branch_caches):
            wb = ws.scope(b)
            for prefix, c in zip(reversed(block_prefixes(cfg, b)), reversed(c_blocks)):
                dx, g = L.mixer_block_backward(dx, c, ws.scope(prefix))
                grads.update({prefix + k: v for k, v in g.items()})
            dx = L.dropout_backward(dx, c_drop, wb.scope("dropout"))
            if b == "id":
                d_table += L.embedding_backward(dx, c_in, wb.scope("embed"))
            else:
                grads[f"{b}.proj.W"], grads[f"{b}.proj.b"] = L.input_projection_backward(
                    dx, c_in, wb.scope("input"))
        grads["id.embedding"] = d_table
        return {k: grads[k] for k in self.params}              # same order as params

    # ------------------------------------------------------------------ public
    def loss_and_grads(self, item_seq, targets, dropout_seed=None, ws=FRESH):
        """Mean softmax cross-entropy over the batch and its gradient for every parameter.

        item_seq: (B, N) int, 0 = padding, most recent item last; targets: (B,) in 1..V.
        Dropout (cfg.dropout > 0) draws its masks from the model's generator, or from a
        fresh generator seeded with ``dropout_seed`` (to repeat a step exactly).
        With a ``Workspace`` as ``ws`` every array of the step, the returned gradients
        included, lives in it and is overwritten by the next call (see ``workspace``).
        Returns (loss: float, grads: dict keyed like ``params``).
        """
        item_seq, targets = self._check_batch(item_seq, targets)
        rng = self.rng if dropout_seed is None else np.random.default_rng(dropout_seed)
        if self.cfg.negatives:                                 # only the sampled columns are scored
            return self._sampled_loss_and_grads(item_seq, targets, rng, ws)
        scores, cache = self._forward(item_seq, rng, ws)
        loss, dscores = self._loss(scores, targets, rng, ws)
        return float(loss), self._backward(dscores, cache, ws)

    def _sampled_loss_and_grads(self, item_seq, targets, rng, ws):
        """The sampled softmax of ``losses.sampled_softmax_forward`` without the (B, V + 1) scores.

        The K negatives are drawn after the trunk's dropout masks, as ``_loss`` draws them,
        so a step's loss and gradients equal the full-score path's up to float rounding.
        """
        (s_t, s_neg), cache = self._forward(item_seq, rng, ws, sampled=(targets, rng))
        negatives = cache[1][-1]
        logits = np.concatenate([s_t[:, None], s_neg], axis=1)                # (B, 1 + K)
        logits[:, 1:][negatives[None, :] == targets[:, None]] = -np.inf       # the target is no negative
        logp = losses._log_softmax(logits)                                    # (B, 1 + K)
        B = len(targets)
        dlogits = np.exp(logp) / B                                            # (p − e_0) / B
        dlogits[:, 0] -= 1.0 / B
        return float(-logp[:, 0].mean()), self._backward((dlogits[:, 0], dlogits[:, 1:]), cache, ws)

    def _sampled_head(self, h, q, item_seq, targets, rng, ws):
        """((B,) target scores, (B, K) negative scores) with the history bias, and the cache;
        q: the history pool's (B, D) term of the query, or None."""
        p, cfg = self.params, self.cfg
        negatives = losses.sample_negatives(rng, self.n_items, cfg.negatives)    # (K,)
        s_t, s_neg, c_head = L.sampled_prediction_forward(
            h, p["head.norm.gamma"], p["head.norm.beta"], p["head.proj.W"], p["head.proj.b"],
            p["id.embedding"], [self.features[m] for m in self.cand_modalities],
            [p[f"head.cand.{m}.W"] for m in self.cand_modalities],
            np.concatenate([targets, negatives]), cfg.ln_eps, ws.scope("head"), extra=q)
        hist = None
        if cfg.history_bias:                                                  # s[b, v] += β, v in history
            hist = L.sampled_history_mask(item_seq, targets, negatives)
            s_t += p["head.history_bias"][0] * hist[0]
            s_neg += p["head.history_bias"][0] * hist[1]
        return (s_t, s_neg), (c_head, hist, negatives)

    def _sampled_head_backward(self, ds_t, ds_neg, cache, grads, ws):
        """Fills the head's grads; returns (dh, dtable, [dq] with a history pool, else [])."""
        c_head, hist, _ = cache
        if hist is not None:
            grads["head.history_bias"] = np.array([ds_t[hist[0]].sum() + ds_neg[hist[1]].sum()],
                                                  dtype=ds_t.dtype)
        dh, grads["head.norm.gamma"], grads["head.norm.beta"], grads["head.proj.W"], \
            grads["head.proj.b"], d_table, d_projs, *dq = L.sampled_prediction_backward(ds_t, ds_neg, c_head,
                                                                                       ws.scope("head"))
        for m, g in zip(self.cand_modalities, d_projs):
            grads[f"head.cand.{m}.W"] = g
        return dh, d_table, dq

    def _loss(self, scores, targets, rng, ws):
        """The training loss the config asks for, and dL/dscores (B, V + 1)."""
        cfg = self.cfg
        if cfg.negatives:              # the dense form of _sampled_loss_and_grads, which training takes
            negatives = losses.sample_negatives(rng or self.rng, self.n_items, cfg.negatives)
            loss, c = losses.sampled_softmax_forward(scores, targets, negatives)
            return loss, losses.sampled_softmax_backward(1.0, c)
        if cfg.label_smoothing:
            loss, c = losses.smoothed_cross_entropy_forward(scores, targets, cfg.label_smoothing,
                                                            ws.scope("loss"))
            return loss, losses.smoothed_cross_entropy_backward(1.0, c, ws.scope("loss"))
        loss, c = L.softmax_cross_entropy_forward(scores, targets, ws.scope("loss"))
        return loss, L.softmax_cross_entropy_backward(1.0, c, ws.scope("loss"))

    def scores(self, item_seq, ws=FRESH):
        """Scores of every item (B, V + 1) with dropout off; column 0 (padding) is -inf."""
        item_seq, _ = self._check_batch(item_seq, None)
        s, _ = self._forward(item_seq, None, ws)
        s[:, 0] = -np.inf
        return s

    def _check_batch(self, item_seq, targets):
        item_seq = np.asarray(item_seq)
        if item_seq.ndim != 2 or item_seq.shape[1] != self.cfg.max_len:
            raise ValueError(f"item_seq must have shape (B, {self.cfg.max_len}), got {item_seq.shape}")
        if item_seq.min(initial=0) < 0 or item_seq.max(initial=0) > self.n_items:
            raise ValueError(f"item_seq holds ids outside 0..{self.n_items}")
        if targets is not None:
            targets = np.asarray(targets)
            if targets.shape != (item_seq.shape[0],) or targets.min() < 1 or targets.max() > self.n_items:
                raise ValueError(f"targets must have shape ({item_seq.shape[0]},) and ids in 1..{self.n_items}")
        return item_seq, targets
