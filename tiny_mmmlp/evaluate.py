"""Evaluate a trained run: its test metrics on its own data or on other data with the same items.

    python -m tiny_mmmlp.evaluate runs/toyshop-numpy                    # = metrics.json's "test"
    python -m tiny_mmmlp.evaluate runs/toyshop-numpy --data other/folder --mask-history --json m.json
    python -m tiny_mmmlp.evaluate runs/toyshop-numpy --k 5,10,20,50     # + precision, recall, MAP, coverage
    python -m tiny_mmmlp.evaluate runs/toyshop-numpy --split time --cutoff 2022-01-01   # or --cutoff 0.8
    python -m tiny_mmmlp.evaluate runs/toyshop-numpy --recs recs.csv    # score a CSV of recommendations

Leave-one-out on the data's users, full ranking over every item (the protocol of metrics.py), the same
evaluation code as training (tiny_mmmlp/ranking.py). Items are matched by raw id, so the
data may list them in another order; data with other items is refused. --k, --split time and
--recs print HR, NDCG, MRR, Precision, Recall and MAP at each k and Coverage (held_out.py).
"""
from __future__ import annotations

import argparse
import json
import sys

from .cli import OneLineParser
from .errors import UserError, exit_on_user_error
from .exports import read_recs, write_output
from .held_out import SPLITS, check_split, ks_of, score_lists, time_split
from .metrics import LIST_METRICS
from .model_file import fingerprints
from .progress import show_messages
from .ranking import PROTOCOLS, metrics_table
from .recommender import DataNotFound, load


def build_parser():
    p = OneLineParser(prog="python -m tiny_mmmlp.evaluate", description=__doc__.split("\n\n")[0])
    p.add_argument("run", help="a run folder written by python -m tiny_mmmlp.train (or its model.safetensors)")
    p.add_argument("--data", help="data to evaluate on (default: the run's own data); its items "
                                  "must be the model's, in any order")
    p.add_argument("--mask-history", action=argparse.BooleanOptionalAction, default=None,
                   help="rank without each user's history items, the target kept (default: the "
                        "protocol the run was trained with)")
    p.add_argument("--k", metavar="K[,K...]", help="cut-offs, e.g. 5,10,20,50: HR, NDCG, MRR, Precision, "
                                                    "Recall, MAP and Coverage at each (default: 10,20)")
    p.add_argument("--split", choices=SPLITS, default="leave-one-out",
                   help="leave-one-out (each user's last item; default) or time (every item at or after "
                        "--cutoff, after the items before it)")
    p.add_argument("--cutoff", metavar="DATE|FRACTION",
                   help="with --split time: a date (2018-06-01, UTC) or the fraction of all interactions "
                        "before it (0.8)")
    p.add_argument("--recs", metavar="FILE", help="score this CSV of recommendations (user_id,rank,item_id[,score], "
                                                  "as recommend --format csv writes it) instead of the model's; "
                                                  "fair when made without the held-out items (recommend "
                                                  "--split)")
    p.add_argument("--json", metavar="FILE", help="also write the metrics to this JSON file")
    p.add_argument("--no-progress", action="store_true", help="no progress bar (or progress lines) while ranking")
    return p


def metrics_by_k(metrics: dict, ks) -> str:
    """One row per k, a column per metric (and Coverage where it was measured)."""
    names = list(LIST_METRICS) + (["Coverage"] if f"Coverage@{ks[0]}" in metrics else [])
    head = f"{'k':>5}" + "".join(f"{m:>11}" for m in names)
    rows = [f"{k:>5}" + "".join(f"{metrics[f'{m}@{k}']:>11.4f}" for m in names) for k in ks]
    return "\n".join([head, "-" * len(head), *rows])


@exit_on_user_error
def main(argv=None):
    args = build_parser().parse_args(argv)
    show_messages()
    flag = lambda key: "--" + key.replace("_", "-")        # noqa: E731 - errors name the flags
    check_split(args.split, args.cutoff, flag)
    ks = ks_of(args.k, "--k")
    if args.recs and args.mask_history is not None:
        raise UserError("--mask-history: ranks the model's scores; --recs scores the lists as they are")
    lists = read_recs(args.recs) if args.recs else None
    rec = load(args.run, args.data)
    try:
        ds = rec.dataset()
    except DataNotFound as err:
        raise UserError(f"{err.core}; give --data where it is now") from None
    if args.split == "time":
        time_split(ds, args.cutoff, flag)                  # a cutoff that tests nobody names --cutoff
        if fingerprints(ds, {})["interactions"] == rec.saved.fingerprints.get("interactions"):
            print("note: the model was trained on these interactions (all but each user's last two), so it "
                  "saw most items after the cutoff; the time split's figures are optimistic here", file=sys.stderr)
    mask = bool(rec.meta.get("mask_history", False) if args.mask_history is None else args.mask_history)
    more = args.k is not None or args.split != "leave-one-out" or lists is not None
    if lists is not None:
        metrics = score_lists(lists, ds, ks, args.split, args.cutoff, flag)
        protocol = f"the lists of {args.recs} as given"
    else:
        metrics = rec.evaluate(mask_history=mask, k=ks if more else None, split=args.split, cutoff=args.cutoff,
                               progress=not args.no_progress)
        protocol = PROTOCOLS[mask]
    held = rec.held_out(split=args.split, cutoff=args.cutoff) if args.split == "time" else None
    users = len(held) if held is not None else sum(1 for s in ds.sequences if len(s) >= 3)
    split = "leave-one-out" if args.split == "leave-one-out" else f"time split at {args.cutoff}"
    ranking = f"full ranking over {ds.n_items} items, " if lists is None else ""
    print(f"test metrics of {args.recs or args.run} on {ds.name} ({split}, {ranking}{protocol}, {users} users):")
    print(metrics_by_k(metrics, ks) if more else metrics_table({rec.model_name: metrics}))
    if args.json:
        record = {"test": metrics, "run": str(args.run), "data": rec.data_source(),
                  "protocol": protocol, "mask_history": bool(mask), "users": users, "split": args.split,
                  "cutoff": args.cutoff, "k": list(ks), "recs": args.recs}
        text = json.dumps(record, indent=2, allow_nan=False) + "\n"
        print(f"wrote {write_output(args.json, text, '--json')}")


if __name__ == "__main__":
    main()
