"""Evaluate a trained run: its test metrics on its own data or on other data with the same items.

    python -m tiny_mmmlp.evaluate runs/toyshop-numpy                    # = metrics.json's "test"
    python -m tiny_mmmlp.evaluate runs/toyshop-numpy --data other/folder --mask-history --json m.json

Leave-one-out on the data's users, full ranking over every item (the protocol of metrics.py), the same
evaluation code as training (tiny_mmmlp/ranking.py). Items are matched by raw id, so the
data may list them in another order; data with other items is refused.
"""
from __future__ import annotations

import argparse
import json

from .cli import OneLineParser
from .errors import UserError, exit_on_user_error
from .exports import write_output
from .metrics import METRIC_NAMES
from .progress import show_messages
from .recommender import DataNotFound, load

PROTOCOLS = {False: "history items not masked", True: "history items masked (target kept)"}


def build_parser():
    p = OneLineParser(prog="python -m tiny_mmmlp.evaluate", description=__doc__.split("\n\n")[0])
    p.add_argument("run", help="a run folder written by python -m tiny_mmmlp.train (or its model.safetensors)")
    p.add_argument("--data", help="data to evaluate on (default: the run's own data); its items "
                                  "must be the model's, in any order")
    p.add_argument("--mask-history", action=argparse.BooleanOptionalAction, default=None,
                   help="rank without each user's history items, the target kept (default: the "
                        "protocol the run was trained with)")
    p.add_argument("--json", metavar="FILE", help="also write the metrics to this JSON file")
    p.add_argument("--no-progress", action="store_true", help="no progress bar (or progress lines) while ranking")
    return p


def metrics_table(name: str, metrics: dict) -> str:
    head = f"{'':<12}" + "".join(f"{m:>10}" for m in METRIC_NAMES)
    row = f"{name:<12}" + "".join(f"{metrics[m]:>10.4f}" for m in METRIC_NAMES)
    return "\n".join([head, "-" * len(head), row])


@exit_on_user_error
def main(argv=None):
    args = build_parser().parse_args(argv)
    show_messages()
    rec = load(args.run, args.data)
    try:
        ds = rec.dataset()
    except DataNotFound as err:
        raise UserError(f"{err}; give --data where it is now") from None
    metrics = rec.evaluate(mask_history=args.mask_history, progress=not args.no_progress)
    mask = rec.meta.get("mask_history", False) if args.mask_history is None else args.mask_history
    users = sum(1 for s in ds.sequences if len(s) >= 3)
    print(f"test metrics of {args.run} on {ds.name} (full ranking over {ds.n_items} items, "
          f"{PROTOCOLS[bool(mask)]}, {users} users):")
    print(metrics_table(rec.model_name, metrics))
    if args.json:
        record = {"test": metrics, "run": str(args.run), "data": rec.data_source(),
                  "protocol": PROTOCOLS[bool(mask)], "mask_history": bool(mask), "users": users}
        text = json.dumps(record, indent=2, allow_nan=False) + "\n"
        print(f"wrote {write_output(args.json, text, '--json')}")


if __name__ == "__main__":
    main()
