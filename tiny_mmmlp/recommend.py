"""Recommend: the top-k next items for a user's history, with titles, scores and pictures.

    python -m tiny_mmmlp.recommend runs/toyshop-id,image,text,category,brand-numpy --user 17
    python -m tiny_mmmlp.recommend runs/toyshop-id,image,text,category,brand-numpy --items ITEM,ITEM,ITEM --k 5 --picture recs.png

The history of --user is the user's whole sequence in the data the run was trained on.
"""
from __future__ import annotations

import numpy as np

from . import data
from .baselines import MODELS, TrainedScorer
from .checkpoint import load_model
from .cli import OneLineParser, positive_int
from .config import MMMLPConfig
from .errors import UserError, exit_on_user_error
from .gallery import draw_rows
from .preflight import check_memory
from .reference import MMMLP


def build_parser():
    p = OneLineParser(prog="python -m tiny_mmmlp.recommend", description=__doc__.split("\n\n")[0])
    p.add_argument("run", help="a run folder written by python -m tiny_mmmlp.train (or its model.npz)")
    who = p.add_mutually_exclusive_group(required=True)
    who.add_argument("--user", help="a user id of the training data")
    who.add_argument("--items", help="an explicit history: comma-separated item ids, oldest first")
    p.add_argument("--k", type=positive_int, default=10, help="how many items to recommend (default: 10)")
    p.add_argument("--exclude-history", action="store_true", help="never recommend a seen item")
    p.add_argument("--picture", help="also draw the history and the recommendations to this PNG")
    p.add_argument("--data", help="data source, if it moved since training")
    return p


def load_run(run, source=None):
    """(best parameters, metadata, config, Dataset, features) of a saved run, each checked;
    source: the data, if it moved since training (default: where the metadata says)."""
    params, meta = load_model(run)
    try:
        where, n_items, modalities = source or meta["data"], meta["n_items"], list(meta["modalities"])
        cfg = MMMLPConfig.from_dict(meta["config"])
        if not isinstance(where, str) or not all(isinstance(m, str) for m in modalities):
            raise TypeError("data and modalities must be strings")
    except (KeyError, TypeError, ValueError, AttributeError) as err:
        raise UserError(f"{run}: the model file's metadata is not a tiny_mmmlp run's ({err})") from None
    ds = data.load(where)
    if ds.n_items != n_items:
        raise UserError(f"{where}: has {ds.n_items} items, the model in {run} {n_items}")
    feats = data.build_features(ds, [m for m in modalities if m != "id"], progress=False)
    return params, meta, cfg, ds, feats


def load_trained(run, source=None):
    """(NumPy MMMLP with the run's best parameters, its Dataset, its metadata)."""
    params, meta, cfg, ds, feats = load_run(run, source)
    check_memory(cfg, ds.n_items, [f.shape[1] for f in feats.values()], batch_size=1,
                 eval_batch=1)
    name = meta.get("model", "mmmlp")
    if not isinstance(name, str) or name not in MODELS:
        raise UserError(f"{run}: the model file names no known model ({name!r}; one of {', '.join(MODELS)})")
    if name != "mmmlp":                                # a baseline: rebuilt in torch
        try:
            return TrainedScorer(name, cfg, ds.n_items, feats, params, meta.get("encoder")), ds, meta
        except Exception as err:  # noqa: BLE001 - whatever an edited encoder or shape raises
            raise UserError(f"{run}: the model file does not fit {name} ({type(err).__name__}: {err})") from None
    model = MMMLP(cfg, ds.n_items, feats)
    for k, v in model.params.items():
        if k not in params:
            raise UserError(f"{run}: the model file lacks parameter {k}")
        if params[k].shape != v.shape or not np.isfinite(params[k]).all():
            raise UserError(f"{run}: parameter {k} has shape {params[k].shape} (expected {v.shape}) "
                            f"or holds NaN/inf; the file does not belong to this data and config")
        v[...] = params[k]
    return model, ds, meta


def history_of(ds, user=None, items=None) -> np.ndarray:
    """Internal item ids of a user's sequence, or of an explicit list of raw item ids."""
    if user is not None:
        try:
            return ds.sequences[ds.user_ids.index(user)]
        except ValueError:
            raise UserError(f"--user {user}: no such user in {ds.name}") from None
    index = {raw: i + 1 for i, raw in enumerate(ds.item_ids)}
    raw_items = [s.strip() for s in items.split(",") if s.strip()]
    unknown = [r for r in raw_items if r not in index]
    if unknown or not raw_items:
        raise UserError(f"--items: unknown item id(s) {', '.join(unknown) or '(none given)'} in {ds.name}")
    return np.array([index[r] for r in raw_items], dtype=np.int64)


def recommend(model, history, k, exclude_history=False):
    """Top-k (item id, score) pairs after ``history`` (internal ids, oldest first).

    Never the padding item 0, never an excluded item: fewer than k pairs when the catalogue
    (less the history, if excluded) is smaller than k.
    """
    seq = data.pad_histories([history], model.cfg.max_len)          # (1, N)
    scores = model.scores(seq)[0]                                   # (V + 1,)
    if not np.isfinite(scores[1:]).all():
        raise UserError("the model's scores for this history are NaN or inf; the model file is "
                        "damaged or training diverged")
    scores[0] = -np.inf
    if exclude_history:
        scores[history] = -np.inf
    top = [i for i in np.argsort(-scores, kind="stable")[:k] if np.isfinite(scores[i])]
    return [(int(i), float(scores[i])) for i in top]


@exit_on_user_error
def main(argv=None):
    args = build_parser().parse_args(argv)
    model, ds, meta = load_trained(args.run, args.data)
    history = history_of(ds, args.user, args.items)
    recs = recommend(model, history, args.k, args.exclude_history)
    name = lambda i: ds.titles[i] or ds.item_ids[i - 1]
    shown = history[-10:]
    print(f"history ({len(history)} items, most recent last"
          + (f"; the last {len(shown)} shown):" if len(shown) < len(history) else "):"))
    for i in shown:
        print(f"  {ds.item_ids[i - 1]:<14} {name(i)}")
    print(f"top {len(recs)} next items ({meta.get('model', 'mmmlp')}, {meta['backend']} run, modalities {','.join(meta['modalities'])}):")
    for rank, (i, s) in enumerate(recs, 1):
        print(f"{rank:>3}. {ds.item_ids[i - 1]:<14} {s:8.3f}  {name(i)}")
    if args.picture:
        rows = [("history (most recent last)", [(ds.image_paths[i], name(i)) for i in history[-8:]]),
                (f"top {len(recs)} recommendations",
                 [(ds.image_paths[i], f"{r}. {name(i)}") for r, (i, _) in enumerate(recs, 1)])]
        print(f"wrote {draw_rows(rows, args.picture)}")


if __name__ == "__main__":
    main()
