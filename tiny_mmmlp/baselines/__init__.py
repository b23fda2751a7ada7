"""Baselines in the same harness: SASRec and GRU4Rec on the torch backend.

``build_model(name, cfg, n_items, features, seed, encoder)`` returns the torch module of
``--model name``; every model has ``forward(item_seq) -> (B, V + 1)``, ``loss`` and
``scores``. ``MODEL_DEFAULTS`` holds each model's defaults, used for any of --max-len,
--d-model, --dropout, --encoder-layers, --heads, --lr the user does not give.
"""
from __future__ import annotations

from ..model_config import DEFAULT_LR, MMMLPConfig

MODELS = ("mmmlp", "sasrec", "gru4rec")

# Each paper's defaults. MMMLP's sizes are MMMLPConfig's, its learning rate DEFAULT_LR and its
# dropout follows the training set's size (model_config.dropout_for, once the data is read);
# SASRec: Kang & McAuley 2018 §IV-C for the sparse Amazon sets (Adam, lr 0.001); GRU4Rec:
# Hidasi et al. 2016 (one GRU layer of 100 units), at the harness's Adam lr 0.001 (RecBole's).
MODEL_DEFAULTS = {
    "mmmlp": {**{f: getattr(MMMLPConfig, f) for f in ("max_len", "d_model", "history_pool", "pool_features")},
              "dropout": None, "lr": DEFAULT_LR},         # dropout None: by the training set's size
    "sasrec": {"max_len": 50, "d_model": 50, "dropout": 0.5, "encoder_layers": 2, "heads": 1, "lr": 1e-3,
               "history_pool": False, "pool_features": False},
    "gru4rec": {"max_len": 50, "d_model": 100, "dropout": 0.3, "encoder_layers": 1, "lr": 1e-3,
                "history_pool": False, "pool_features": False},
}


def encoder_settings(name, layers=None, heads=None) -> dict:
    """{"layers", "heads"} of a baseline's own encoder, paper defaults where not given."""
    d = MODEL_DEFAULTS[name]
    return {"layers": layers or d.get("encoder_layers", 0), "heads": heads or d.get("heads", 0)}


def build_model(name, cfg, n_items, features, seed=0, encoder=None, fused=False):
    """The torch module of model ``name`` ("mmmlp", "sasrec" or "gru4rec")."""
    if name == "mmmlp":
        from ..torch_model import TorchMMMLP
        return TorchMMMLP(cfg, n_items, features, seed=seed, fused=fused)
    enc = encoder or encoder_settings(name)
    if name == "sasrec":
        from .sasrec import SASRec
        return SASRec(cfg, n_items, features, seed, enc["layers"], enc["heads"], fused=fused)
    if name == "gru4rec":
        from .gru4rec import GRU4Rec
        return GRU4Rec(cfg, n_items, features, seed, enc["layers"], fused=fused)
    raise ValueError(f"unknown model {name!r}: choose one of {', '.join(MODELS)}")


class TrainedScorer:
    """A trained torch model behind the NumPy model's surface that ``recommend`` uses:
    ``cfg`` and ``scores(item_seq (B, N) ndarray) -> (B, V + 1) ndarray``."""

    def __init__(self, name, cfg, n_items, features, params, encoder=None):
        import torch
        self.cfg, self.features = cfg, features
        self.model = build_model(name, cfg, n_items, features, 0, encoder).eval()
        self.model.load_state_dict({k: torch.from_numpy(v) for k, v in params.items()})

    def scores(self, item_seq):
        import torch
        return self.model.scores(torch.from_numpy(item_seq.astype("int64"))).numpy()
