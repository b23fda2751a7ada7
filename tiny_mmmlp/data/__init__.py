"""Data: toyshop, real Amazon formats, per-item features, leave-one-out splits and batches.

    from tiny_mmmlp import data
    ds = data.load("toyshop")                    # or "toyshop-tiny", or a RecBole atomic folder
    ds = data.load("amazon2018:Industrial_and_Scientific", pictures=True)   # downloaded once
    feats = data.build_features(ds)              # {"image": (V+1, d), "text": (V+1, d), ...}
    feats = data.build_features(ds, ["image"], image_encoder="handmade", text_encoder="hashed-bow")
    sp = data.split_leave_one_out(ds)            # last item test, second-to-last validation
    for item_seq, targets in data.train_batches(sp.train, max_len=50, batch_size=256, seed=0, epoch=0):
        ...                                      # item_seq (B, N) left-padded with 0, targets (B,)
"""
from .batches import eval_batches, n_train_examples, pad_histories, train_batches
from .dataset import Dataset
from .describe import describe
from .features import available_modalities, build_features, modality_widths
from .load import BUILT_IN, SOURCES, load
from .split import Split, split_leave_one_out

__all__ = ["BUILT_IN", "Dataset", "SOURCES", "Split", "available_modalities", "build_features", "describe", "eval_batches", "load",
           "modality_widths", "n_train_examples", "pad_histories", "split_leave_one_out",
           "train_batches"]
