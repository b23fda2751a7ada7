"""One training epoch on scientific: tiny_mmmlp (default settings) against RecBole's SASRec.

    python benchmarks/epoch_vs_recbole.py /path/to/recbole-venv [--rounds 2] [--out table.md]

Each round runs one tiny_mmmlp epoch (the default settings of ``python -m tiny_mmmlp.train``:
NumPy backend, IDs + text, batch 256, training plus full-ranking validation), then one
RecBole 1.2.1 SASRec training epoch (``loss_type: CE``, batch 512, max length 50, the
model's default sizes). The rounds alternate, so a machine that gets busier slows both
sides alike; the ratio is ours / RecBole's per round (target: median at most 0.25).

Data loading, text features and model set-up happen once, before the rounds, on both
sides: a round times the epoch only. For our epoch the table also gives the user and
system CPU time and the minor page faults of this process during the epoch
(``resource.getrusage``; target: system time below 10% of user time), and the CPU time
(user + system, all threads) of both sides: on a machine shared with other work the
wall-clock ratio depends on how each side's threads fare for cores (torch's threads wait
for each other actively, which costs it dearly when cores are oversubscribed), while the
CPU-time ratio compares the work done.

RecBole runs in its own virtual environment (it needs numpy<2, which this package does
not support), as a child process that reads the atomic files in place and writes its
config, logs and nothing else into a temporary folder.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from training_run import AMAZON_ROOT

from tiny_mmmlp import data
from tiny_mmmlp.averaging import with_average
from tiny_mmmlp.backends import make_backend
from tiny_mmmlp.ranking import evaluate
from tiny_mmmlp.run_flags import resolve_flags
from tiny_mmmlp.train import choose_modalities

DEFAULT_DATA = Path(AMAZON_ROOT) / "scientific"

HOW_TO_MAKE_THE_VENV = """\
RecBole 1.2.1 needs its own virtual environment (numpy<2, pandas<2.3, setuptools<70):
    python3.11 -m venv {venv}
    {venv}/bin/pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu
    {venv}/bin/pip install recbole==1.2.1 "numpy<2" "pandas<2.3"
    {venv}/bin/pip install "setuptools<70" --no-deps
then run this benchmark again with that folder as its first argument."""

# The child process in RecBole's venv: loads the data and SASRec once, then trains one
# epoch for each epoch number it reads on stdin and answers one "@@ {json}" line.
RECBOLE_DRIVER = r'''
import json, os, resource, sys, time
os.environ["TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD"] = "1"
import torch
from recbole.config import Config
from recbole.data import create_dataset, data_preparation
from recbole.model.sequential_recommender import SASRec
from recbole.trainer import Trainer
from recbole.utils import init_seed

data_path, name, work, threads = sys.argv[1:5]
if int(threads):
    torch.set_num_threads(int(threads))
config = Config(model="SASRec", dataset=name, config_dict={
    "data_path": data_path, "checkpoint_dir": os.path.join(work, "saved"),
    "loss_type": "CE", "train_neg_sample_args": None, "train_batch_size": 512,
    "MAX_ITEM_LIST_LENGTH": 50, "epochs": 1, "show_progress": False,
    "use_gpu": False, "device": "cpu", "save_dataset": False, "save_dataloaders": False,
    "load_col": {"inter": ["user_id", "item_id", "timestamp"]},
    "eval_args": {"split": {"LS": "valid_and_test"}, "order": "TO", "mode": "full",
                  "group_by": "user"}})
init_seed(config["seed"], config["reproducibility"])
dataset = create_dataset(config)
train_data, valid_data, test_data = data_preparation(config, dataset)
init_seed(config["seed"], config["reproducibility"])
model = SASRec(config, train_data._dataset).to(config["device"])
trainer = Trainer(config, model)
print("@@ " + json.dumps({"ready": True, "torch": torch.__version__,
                          "threads": torch.get_num_threads(),
                          "train_rows": len(train_data._dataset)}), flush=True)
for line in sys.stdin:
    r0, start = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
    loss = trainer._train_epoch(train_data, int(line), show_progress=False)
    loss = sum(loss) if isinstance(loss, tuple) else loss
    r1 = resource.getrusage(resource.RUSAGE_SELF)
    cpu = r1.ru_utime - r0.ru_utime + r1.ru_stime - r0.ru_stime
    print("@@ " + json.dumps({"seconds": time.perf_counter() - start, "cpu": cpu,
                              "loss": float(loss)}), flush=True)
'''


class RecBoleSASRec:
    """The RecBole child process; ``epoch(i)`` trains one epoch and returns its seconds."""

    def __init__(self, venv: Path, data_dir: Path, work: Path, threads: int = 0):
        driver = work / "recbole_driver.py"
        driver.write_text(RECBOLE_DRIVER)
        env = dict(os.environ, TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD="1")
        env.pop("PYTHONPATH", None)
        self.log = open(work / "recbole_stderr.log", "w")
        self.proc = subprocess.Popen(
            [str(venv / "bin/python"), str(driver), str(data_dir.parent), data_dir.name, str(work),
             str(threads)],
            cwd=work, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=self.log, text=True)
        self.info = self._answer()

    def _answer(self) -> dict:
        for line in self.proc.stdout:
            if line.startswith("@@ "):
                return json.loads(line[3:])
        self.log.flush()
        raise SystemExit(f"RecBole stopped early; its messages are in {self.log.name}")

    def epoch(self, i: int) -> dict:
        self.proc.stdin.write(f"{i}\n")
        self.proc.stdin.flush()
        return self._answer()

    def close(self):
        self.proc.stdin.close()
        self.proc.wait(timeout=60)
        self.log.close()


class TinyMMMLP:
    """Our default training run, set up once; ``epoch(i)`` trains and validates one epoch."""

    def __init__(self, data_dir: Path, extra_flags: list):
        self.args = resolve_flags(["--data", str(data_dir), "--no-progress", *extra_flags])
        a = self.args
        self.ds = data.load(a.data)
        self.modalities = choose_modalities(a.modalities, data.available_modalities(self.ds))
        self.cfg = a.model_config(self.modalities)
        feats = data.build_features(self.ds, [m for m in self.modalities if m != "id"], progress=False)
        self.split = data.split_leave_one_out(self.ds)
        self.backend = with_average(make_backend(a.backend, self.cfg, self.ds.n_items, feats, a.seed,
                                                 a.lr, a.weight_decay, a.device),
                                    a.ema, a.ema_warmup)           # the default run's average too

    def epoch(self, i: int) -> dict:
        a, cfg, split = self.args, self.cfg, self.split
        before, start = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
        total, seen = 0.0, 0
        for item_seq, targets in data.train_batches(split.train, cfg.max_len, a.batch_size, a.seed, i):
            total += self.backend.step(item_seq, targets) * len(targets)
            seen += len(targets)
        trained = time.perf_counter()
        valid = evaluate(self.backend, split.valid_history, split.valid_target, cfg.max_len)
        end, after = time.perf_counter(), resource.getrusage(resource.RUSAGE_SELF)
        return {"seconds": end - start, "valid_seconds": end - trained, "loss": total / seen,
                "ndcg10": valid["NDCG@10"], "user": after.ru_utime - before.ru_utime,
                "system": after.ru_stime - before.ru_stime,
                "minflt": after.ru_minflt - before.ru_minflt}


def recbole_python_or_exit(venv: Path) -> None:
    """Exit 2 with the recipe when ``venv`` has no Python that imports recbole."""
    py = venv / "bin/python"
    ok = py.exists() and subprocess.run(
        [str(py), "-c", "import recbole"], capture_output=True,
        env=dict(os.environ, TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD="1")).returncode == 0
    if not ok:
        print(f"error: {venv} is not a virtual environment with recbole installed.\n"
              + HOW_TO_MAKE_THE_VENV.format(venv=venv), file=sys.stderr)
        raise SystemExit(2)


def table(rows: list, rec: list) -> str:
    lines = ["| round | tiny_mmmlp s/epoch (train + valid) | of which valid | user s | system s "
             "| system / user | minor page faults | RecBole SASRec s/epoch (train) | ratio "
             "| CPU s ours / RecBole | CPU ratio |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for i, (o, r) in enumerate(zip(rows, rec), 1):
        cpu = o["user"] + o["system"]
        lines.append(f"| {i} | {o['seconds']:.1f} | {o['valid_seconds']:.1f} | {o['user']:.1f} "
                     f"| {o['system']:.2f} | {o['system'] / o['user']:.1%} | {o['minflt']:,} "
                     f"| {r['seconds']:.1f} | {o['seconds'] / r['seconds']:.2f} "
                     f"| {cpu:.1f} / {r['cpu']:.1f} | {cpu / r['cpu']:.2f} |")
    return "\n".join(lines)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("recbole_venv", type=Path, help="virtual environment with recbole 1.2.1")
    p.add_argument("--data", type=Path, default=DEFAULT_DATA, help="RecBole atomic folder (scientific)")
    p.add_argument("--rounds", type=int, default=2, help="alternations (at least 2)")
    p.add_argument("--out", type=Path, default=None, help="also write the table to this file")
    p.add_argument("--recbole-threads", type=int, default=0,
                   help="torch threads for RecBole (default: torch's choice, one per core)")
    p.epilog = "Flags after -- go to our side, as python -m tiny_mmmlp.train takes them."
    argv = sys.argv[1:]
    cut = argv.index("--") if "--" in argv else len(argv)
    args, flags = p.parse_args(argv[:cut]), argv[cut + 1:]
    if args.rounds < 2:
        p.error("--rounds: alternate at least 2 times")
    if not (args.data / f"{args.data.name}.inter").exists():
        print(f"error: --data {args.data}: no {args.data.name}.inter there", file=sys.stderr)
        raise SystemExit(2)
    recbole_python_or_exit(args.recbole_venv)

    with tempfile.TemporaryDirectory(prefix="epoch_vs_recbole-") as work:
        ours = TinyMMMLP(args.data, flags)
        theirs = RecBoleSASRec(args.recbole_venv, args.data, Path(work), args.recbole_threads)
        load0 = os.getloadavg()
        rows, rec = [], []
        try:
            for i in range(args.rounds):
                rows.append(ours.epoch(i))
                rec.append(theirs.epoch(i))
                print(f"round {i + 1}: ours {rows[-1]['seconds']:.1f} s, RecBole {rec[-1]['seconds']:.1f} s",
                      flush=True)
        finally:
            theirs.close()
        load1 = os.getloadavg()

    ratios = [o["seconds"] / r["seconds"] for o, r in zip(rows, rec)]
    a = ours.args
    head = (f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {os.cpu_count()} CPU cores "
            f"({platform.machine()}), load average {load0[0]:.1f} before and {load1[0]:.1f} after "
            f"the rounds.\n\nOurs: `python -m tiny_mmmlp.train` defaults{' + ' + ' '.join(flags) if flags else ''} "
            f"on {args.data.name} (backend {a.backend}, modalities {','.join(ours.modalities)}, "
            f"batch {a.batch_size}, max_len {ours.cfg.max_len}, numpy {np.__version__}). "
            f"RecBole 1.2.1 SASRec (CE, batch 512, max length 50, torch {theirs.info['torch']}, "
            f"{theirs.info['threads']} threads).\n")
    foot = (f"\nmedian ratio ours / RecBole: {statistics.median(ratios):.2f} (target <= 0.25); "
            f"median system / user time of our epoch: "
            f"{statistics.median(o['system'] / o['user'] for o in rows):.1%} (target < 10%); "
            f"median CPU-time ratio: "
            f"{statistics.median((o['user'] + o['system']) / r['cpu'] for o, r in zip(rows, rec)):.2f}")
    text = head + "\n" + table(rows, rec) + "\n" + foot + "\n"
    print("\n" + text)
    if args.out:
        from tiny_mmmlp.files import write_text
        write_text(args.out, text)


if __name__ == "__main__":
    main()
