"""Where a training step's time goes: torch.profiler over a few steps of one model.

    python benchmarks/profile_step.py --max-len 800 [--model mmmlp] [--set beauty] [--steps 3]

One torch thread, ID only, batch 256, after 2 warm-up steps; prints the operators by self
CPU time. Run it at two lengths to see which operators grow faster than the length.
"""
from __future__ import annotations

import argparse
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--max-len", type=int, default=50)
    p.add_argument("--model", default="mmmlp", choices=["mmmlp", "sasrec", "gru4rec"])
    p.add_argument("--set", default="beauty")
    p.add_argument("--data-root", default=str(ROOT.parent / "shared/data/amazon"))
    p.add_argument("--steps", type=int, default=3)
    p.add_argument("--rows", type=int, default=14, help="operators shown")
    args = p.parse_args()
    import torch
    from torch.profiler import ProfilerActivity, profile

    from tiny_mmmlp import data
    from tiny_mmmlp.backends import make_backend
    from tiny_mmmlp.baselines import encoder_settings
    from tiny_mmmlp.train import build_parser, make_config
    torch.set_num_threads(1)
    targs = build_parser().parse_args(["--model", args.model, "--backend", "torch", "--modalities", "id",
                                       "--max-len", str(args.max_len)])
    ds = data.load(Path(args.data_root) / args.set)
    cfg = make_config(targs, ["id"])
    enc = None if args.model == "mmmlp" else encoder_settings(args.model)
    backend = make_backend("torch", cfg, ds.n_items, {}, 0, targs.lr, 0.0, "cpu", args.model, enc)
    batches = data.train_batches(data.split_leave_one_out(ds).train, cfg.max_len, targs.batch_size, 0, 0)
    for _ in range(2):
        backend.step(*next(batches))
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(args.steps):
            backend.step(*next(batches))
    print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=args.rows,
                                    max_name_column_width=40))


if __name__ == "__main__":
    main()
