"""Our SASRec against RecBole 1.2.1's, trained to convergence on the same split: test metrics.

    python benchmarks/recbole_crosscheck.py /path/to/recbole-venv [--data .../scientific]
                                            [--epochs 60] [--patience 3] [--seed 0]

Both sides train SASRec with full-softmax cross-entropy over all items (RecBole's
``loss_type: CE``, no negative sampling) at the paper's sizes (2 blocks, 1 head, width 50,
dropout 0.5, max length 50), Adam at lr 0.001 without weight decay, batch 256, and stop
after ``--patience`` epochs without a better validation NDCG@10 (RecBole counts its
``stopping_step`` one later, so it gets patience - 1), keeping the best epoch's weights for
the test. Split: leave-one-out in time order, full ranking over every item. The two run
side by side, one torch thread each. Writes benchmarks/results/recbole_crosscheck.md.

RecBole runs in its own virtual environment (numpy<2; see ``epoch_vs_recbole.py`` for
the recipe) and writes its config, log and checkpoint into a temporary folder.
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
from epoch_vs_recbole import DEFAULT_DATA, recbole_python_or_exit  # noqa: E402
from training_run import run_training, started, stop_on_sigterm, stop_runs  # noqa: E402

from tiny_mmmlp.errors import exit_on_user_error  # noqa: E402
from tiny_mmmlp.files import write_text  # noqa: E402

OUT = ROOT / "benchmarks/results/recbole_crosscheck.md"

RECBOLE_CONFIG = """\
data_path: {root}
dataset: {name}
checkpoint_dir: {work}/saved
USER_ID_FIELD: user_id
ITEM_ID_FIELD: item_id
TIME_FIELD: timestamp
load_col:
  inter: [user_id, item_id, timestamp]
user_inter_num_interval: "[0,inf)"
item_inter_num_interval: "[0,inf)"
MAX_ITEM_LIST_LENGTH: 50
loss_type: CE
train_neg_sample_args: ~
n_layers: 2
n_heads: 1
hidden_size: 50
inner_size: 50
hidden_dropout_prob: 0.5
attn_dropout_prob: 0.5
hidden_act: relu
learning_rate: 0.001
weight_decay: 0.0
train_batch_size: 256
eval_batch_size: 1024
epochs: {epochs}
stopping_step: {stopping_step}
eval_args:
  split: {{'LS': 'valid_and_test'}}
  order: TO
  group_by: user
  mode: full
metrics: [Hit, NDCG, MRR]
topk: [10]
valid_metric: NDCG@10
seed: {seed}
reproducibility: True
show_progress: False
"""

# Runs in RecBole's venv: trains to convergence and prints one "@@ {json}" line.
RECBOLE_RUN = r'''
import json, os, sys, time
os.environ["TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD"] = "1"
import torch
torch.set_num_threads(1)
from recbole.quick_start import run_recbole
start = time.perf_counter()
r = run_recbole(model="SASRec", config_file_list=[sys.argv[1]])
print("@@ " + json.dumps({"valid": dict(r["best_valid_result"]), "test": dict(r["test_result"]),
                          "wall_s": time.perf_counter() - start}), flush=True)
'''


def run_recbole(venv: Path, data_dir: Path, work: Path, args) -> dict:
    """RecBole's SASRec trained to convergence; its best-valid and test metrics, epochs, seconds."""
    cfg = work / "sasrec.yaml"
    cfg.write_text(RECBOLE_CONFIG.format(root=data_dir.parent, name=data_dir.name, work=work,
                                         epochs=args.epochs, stopping_step=args.patience - 1,
                                         seed=args.seed))
    (work / "run.py").write_text(RECBOLE_RUN)
    env = dict(os.environ, TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD="1", OMP_NUM_THREADS="1")
    env.pop("PYTHONPATH", None)
    with open(work / "recbole.log", "w") as log:
        with started([str(venv / "bin/python"), "run.py", str(cfg)], cwd=work, env=env,
                     stdout=subprocess.PIPE, stderr=log, text=True) as proc:   # stop_runs ends it
            stdout, _ = proc.communicate()
    text = (work / "recbole.log").read_text()
    answer = [ln for ln in stdout.splitlines() if ln.startswith("@@ ")]
    if proc.returncode != 0 or not answer:
        raise SystemExit(f"RecBole failed (exit {proc.returncode}); the end of its log:\n{text[-2000:]}")
    return {**json.loads(answer[-1][3:]), **parse_recbole_log(text)}


def parse_recbole_log(text: str) -> dict:
    """Epochs run, training seconds per epoch, the validation curve and RecBole's best epoch
    (1-based) from its log, whose lines read "epoch K training [time: Ts, ...]" and
    "epoch K evaluating [time: Ts, valid_score: V]" (V: the valid_metric, NDCG@10 here).
    RecBole keeps a later epoch that ties the best (its early_stopping compares with >=)."""
    train_s = [float(ln.split("training [time: ")[1].split("s")[0])
               for ln in text.splitlines() if " training [time: " in ln]
    curve = [float(ln.split("valid_score: ")[1].rstrip("]").strip())
             for ln in text.splitlines() if "valid_score: " in ln]
    best = max(range(len(curve)), key=lambda i: (curve[i], i), default=-1) + 1
    return {"epochs": len(train_s), "seconds_per_epoch": sum(train_s) / max(len(train_s), 1),
            "valid_curve": curve, "best_epoch": best}


def run_ours(data_dir: Path, out: Path, args) -> dict:
    cmd = [sys.executable, "-m", "tiny_mmmlp.train", "--data", str(data_dir), "--backend", "torch",
           "--model", "sasrec", "--modalities", "id", "--seed", str(args.seed), "--epochs", str(args.epochs),
           "--patience", str(args.patience), "--out", str(out), "--no-progress", "--overwrite"]
    m, rss, wall = run_training(cmd, out)
    m["command"] = "python " + " ".join(cmd[1:])
    return m


def table(ours: dict, theirs: dict, args, load: tuple) -> str:
    rows = []
    for key, label in (("HR@10", "hit@10"), ("NDCG@10", "ndcg@10"), ("MRR@10", "mrr@10")):
        a, b = ours["test"][key], theirs["test"][label]
        rows.append(f"| test {key} | {a:.4f} | {b:.4f} | {a / b - 1:+.1%} |")
    ours_curve = [h["valid"]["NDCG@10"] for h in ours["history"]]
    rows.append(f"| best validation NDCG@10 | {max(ours_curve):.4f} | {theirs['valid']['ndcg@10']:.4f} | "
                f"{max(ours_curve) / theirs['valid']['ndcg@10'] - 1:+.1%} |")
    rows.append(f"| epochs run (best) | {ours['epochs']} ({ours['best_epoch']}) | "
                f"{theirs['epochs']} ({theirs['best_epoch']}) | |")
    rows.append(f"| s / epoch | {ours['seconds_per_epoch']:.1f} | {theirs['seconds_per_epoch']:.1f} (training only) | |")
    curve = lambda xs: " ".join(f"{x:.4f}" for x in xs)
    return (f"# Our SASRec against RecBole 1.2.1's ({datetime.date.today()}, {platform.machine()}, "
            f"{os.cpu_count()} CPU cores)\n\n"
            f"Command: `python benchmarks/recbole_crosscheck.py /path/to/recbole-venv --data {args.data} "
            f"--epochs {args.epochs} --patience {args.patience} --seed {args.seed}`. Both sides: SASRec, "
            "full-softmax cross-entropy over all items (RecBole `loss_type: CE`), 2 blocks, 1 head, width 50, "
            "dropout 0.5, max length 50, Adam lr 0.001, no weight decay, batch 256, leave-one-out, full "
            f"ranking; stop after {args.patience} epochs without a better validation NDCG@10 (RecBole "
            f"`stopping_step: {args.patience - 1}`), test at the best validation epoch. One torch thread each, "
            f"run side by side; load average {load[0]:.1f} at the start, {load[1]:.1f} at the end.\n\n"
            "| | ours | RecBole 1.2.1 | ours / RecBole − 1 |\n|---|---|---|---|\n" + "\n".join(rows) + "\n\n"
            f"Validation NDCG@10 by epoch, ours: {curve(ours_curve)}\n\n"
            f"Validation NDCG@10 by epoch, RecBole: {curve(theirs['valid_curve'])}\n")


@exit_on_user_error
def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("recbole_venv", type=Path, help="virtual environment with recbole 1.2.1")
    p.add_argument("--data", type=Path, default=DEFAULT_DATA, help="RecBole atomic folder (scientific)")
    p.add_argument("--epochs", type=int, default=60, help="most epochs on both sides (default 60)")
    p.add_argument("--patience", type=int, default=3, help="early-stopping patience on both sides (default 3)")
    p.add_argument("--seed", type=int, default=0, help="seed of both runs (default 0)")
    p.add_argument("--out", type=Path, default=OUT, help="the Markdown table to write")
    args = p.parse_args()
    stop_on_sigterm()
    if args.patience < 1 or args.epochs < 1:
        p.error("--epochs and --patience must be at least 1")
    if not (args.data / f"{args.data.name}.inter").exists():
        print(f"error: --data {args.data}: no {args.data.name}.inter there", file=sys.stderr)
        raise SystemExit(2)
    recbole_python_or_exit(args.recbole_venv)
    load0 = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="recbole_crosscheck-") as work:
        work = Path(work)
        theirs = {}

        def recbole_side():
            try:
                theirs.update(run_recbole(args.recbole_venv, args.data, work, args))
            except SystemExit as e:          # a thread's SystemExit would vanish: keep its message
                theirs["error"] = str(e)
            except KeyboardInterrupt:        # stop_runs came first: the main thread says why
                theirs["error"] = "stopped"

        side = threading.Thread(target=recbole_side)
        side.start()
        try:
            ours = run_ours(args.data, work / "ours", args)
        except BaseException:                # stopped, or our run failed: RecBole's ends too
            stop_runs()
            raise
        finally:
            side.join()
        if "error" in theirs:
            raise SystemExit(theirs["error"])
    text = table(ours, theirs, args, (load0[0], os.getloadavg()[0]))
    write_text(args.out, text)
    print(text)


if __name__ == "__main__":
    main()
