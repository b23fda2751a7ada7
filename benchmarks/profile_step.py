"""Where a training step's time goes: a profile over a few steps of one model.

    python benchmarks/profile_step.py --max-len 800 [--model mmmlp] [--set beauty] [--steps 3]
    python benchmarks/profile_step.py --numpy [--data toyshop] [--rows-per-shard 128]

torch (the default): torch.profiler, one torch thread, ID only, batch 256, after 2 warm-up
steps; prints the operators by self CPU time. Run it at two lengths to see which operators
grow faster than the length.

--numpy: the NumPy reference as the README's first command trains it (``--data``, every
modality the data has, train.py's defaults), one shard of ``--rows-per-shard`` rows on one
core with one BLAS thread, as each of the backend's shard threads computes it; cProfile's
functions by own time, then the milliseconds per shard step. The step's time on a 2-core
machine is about that of one shard of half the batch.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
from training_run import AMAZON_HELP, AMAZON_ROOT, id_only_steps  # noqa: E402

from tiny_mmmlp.baselines import MODELS  # noqa: E402


def profile_torch(args):
    import torch
    from torch.profiler import ProfilerActivity, profile

    torch.set_num_threads(1)
    backend, batches, _ = id_only_steps(Path(args.data_root) / args.set, args.model, args.max_len)
    for _ in range(2):
        backend.step(*next(batches))
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(args.steps):
            backend.step(*next(batches))
    print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=args.rows,
                                    max_name_column_width=40))


def profile_numpy(args):
    import cProfile
    import pstats

    from threadpoolctl import threadpool_limits

    from tiny_mmmlp import data
    from tiny_mmmlp.averaging import with_average
    from tiny_mmmlp.backends import NumpyBackend
    from tiny_mmmlp.run_flags import resolve_flags
    from tiny_mmmlp.train import choose_modalities

    targs = resolve_flags(["--data", args.data])
    ds = data.load(targs.data)
    mods = choose_modalities(targs.modalities, data.available_modalities(ds))
    cfg = targs.model_config(mods)
    feats = data.build_features(ds, [m for m in mods if m != "id"], progress=False)
    backend = with_average(NumpyBackend(cfg, ds.n_items, feats, 0, targs.lr, targs.weight_decay, shards=1),
                           targs.ema, targs.ema_warmup)             # the default run's average too
    batches = data.train_batches(data.split_leave_one_out(ds).train, cfg.max_len,
                                 args.rows_per_shard, 0, 0)
    steps = [next(batches) for _ in range(2 + 2 * args.steps)]
    with threadpool_limits(1, "blas"):
        for batch in steps[:2]:                               # warm-up: the workspaces fill
            backend.step(*batch)
        start = time.perf_counter()
        for batch in steps[2:2 + args.steps]:
            backend.step(*batch)
        ms = 1000 * (time.perf_counter() - start) / args.steps
        prof = cProfile.Profile()
        prof.enable()
        for batch in steps[2 + args.steps:]:
            backend.step(*batch)
        prof.disable()
    pstats.Stats(prof).sort_stats("tottime").print_stats(args.rows)
    print(f"{args.data}, modalities {','.join(mods)}, {cfg.n_layers} mixer layers per branch: "
          f"{ms:.0f} ms per step of {args.rows_per_shard} rows on one core, unprofiled "
          f"(mean of {args.steps} steps)")


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--max-len", type=int, default=50, help="torch: sequence length (default 50)")
    p.add_argument("--model", default="mmmlp", choices=MODELS, help="torch: the model profiled")
    p.add_argument("--set", default="beauty", help="torch: the set under --data-root (default beauty)")
    p.add_argument("--data-root", default=AMAZON_ROOT, help=AMAZON_HELP)
    p.add_argument("--steps", type=int, default=3, help="profiled steps (default 3)")
    p.add_argument("--rows", type=int, default=14, help="operators (functions) shown")
    p.add_argument("--numpy", action="store_true", help="profile the NumPy reference instead")
    p.add_argument("--data", default="toyshop", help="--numpy: train.py's --data")
    p.add_argument("--rows-per-shard", type=int, default=128,
                   help="--numpy: batch rows of the profiled shard (train.py's batch 256 on 2 cores: 128)")
    args = p.parse_args()
    (profile_numpy if args.numpy else profile_torch)(args)


if __name__ == "__main__":
    main()
