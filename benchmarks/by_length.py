"""Which users a trained model wins or loses on: validation and test metrics of saved runs,
by the length of each user's history.

    python benchmarks/by_length.py RUN [RUN ...] [--edges 5,8,13,21] [--metric NDCG@10] \
        [--out by_length.md] [--plot by_length.png] [--data FOLDER]

Each RUN is a finished run folder (``model.safetensors``, its best validation epoch). Users are
grouped once, by the length of their training part (= the validation history; the test
history is one item longer), so a group holds the same users on both splits and the
``test ÷ valid`` row says how much of a group's validation figure survives on the test split.
Ranks come from ``tiny_mmmlp.ranking.ranks_of`` and metrics from
``metrics.metrics_from_ranks``, the rule of every other table (our protocol: nothing masked).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from training_run import trained_backend  # noqa: E402

from tiny_mmmlp.errors import UserError, exit_on_user_error  # noqa: E402
from tiny_mmmlp.files import write_text  # noqa: E402
from tiny_mmmlp.metrics import METRIC_NAMES, metrics_from_ranks  # noqa: E402
from tiny_mmmlp.model_file import MODEL_FILE, load_model  # noqa: E402
from tiny_mmmlp.ranking import ranks_of  # noqa: E402


def edges_arg(text: str) -> list:
    try:
        edges = [int(x) for x in text.split(",")]
    except ValueError:
        edges = []
    if not edges or edges[0] < 2 or any(b <= a for a, b in zip(edges, edges[1:])):
        raise argparse.ArgumentTypeError(f"--edges {text!r}: give increasing whole numbers >= 2, "
                                         "e.g. 5,8,13,21")
    return edges


def groups(lengths: np.ndarray, edges: list) -> list:
    """[(label, (M,) bool mask)]: users with lengths in [lo, hi) for consecutive edges."""
    shortest = int(lengths.min()) if len(lengths) else 1
    bounds = [shortest, *(e for e in edges if e > shortest), None]
    out = []
    for lo, hi in zip(bounds, bounds[1:]):
        mask = lengths >= lo if hi is None else (lengths >= lo) & (lengths < hi)
        label = f"{lo}+" if hi is None else (f"{lo}" if hi == lo + 1 else f"{lo}-{hi - 1}")
        out.append((label, mask))
    return out


def run_rows(run: Path, edges: list, metric: str, source=None) -> tuple[str, list, list]:
    """(data set, [(label, users)], [(split, [value per group], overall)]) of one run;
    source: its data, if it moved since training."""
    backend, cfg, split = trained_backend(run, "torch", source)
    lengths = np.array([len(h) for h in split.valid_history])          # (M,) training part
    parts = groups(lengths, edges)
    rows = []
    for name, hist, tgt in (("valid", split.valid_history, split.valid_target),
                            ("test", split.test_history, split.test_target)):
        ranks = ranks_of(backend, hist, tgt, cfg.max_len)               # (M,)
        rows.append((name, [metrics_from_ranks(ranks[m])[metric] if m.any() else float("nan")
                            for _, m in parts], metrics_from_ranks(ranks)[metric]))
    return data_name_of(run, source), [(label, int(m.sum())) for label, m in parts], rows


def data_name_of(run: Path, source=None) -> str:
    """The name of the data folder the run trained on (its model file's metadata), or of source."""
    return Path(str(source or load_model(run)[1]["data"])).name


def run_label(run: Path, runs: list) -> str:
    """The run's folder name, or parent/name where another run has the same name."""
    return run.name if sum(r.name == run.name for r in runs) == 1 else f"{run.parent.name}/{run.name}"


def table(results: list, metric: str) -> str:
    """Markdown: one table per data set; a users row, then valid, test and test ÷ valid per run."""
    out = []
    for data_name in dict.fromkeys(r[1] for r in results):
        mine = [r for r in results if r[1] == data_name]
        labels = [label for label, _ in mine[0][2]]
        users = [n for _, n in mine[0][2]]
        out += [f"### {data_name}: {metric} by history length (items in the training part)", "",
                "| run | split | all users | " + " | ".join(labels) + " |",
                "|---|---|---|" + "---|" * len(labels),
                f"| users | | {sum(users)} | " + " | ".join(map(str, users)) + " |"]
        for label, _, _, rows in mine:
            values = {name: (per, whole) for name, per, whole in rows}
            for name, (per, whole) in values.items():
                out.append(f"| {label} | {name} | {whole:.4f} | " + " | ".join(f"{v:.4f}" for v in per) + " |")
            (vp, vw), (tp, tw) = values["valid"], values["test"]
            out.append(f"| {label} | test ÷ valid | {tw / vw:.2f} | "
                       + " | ".join(f"{t / v:.2f}" if v > 0 else "-" for t, v in zip(tp, vp)) + " |")
        out.append("")
    return "\n".join(out)


def plot(results: list, metric: str, path: Path) -> bool:
    """One panel per data set: the metric by group, solid validation, dashed test, per run."""
    from tiny_mmmlp.plots import _figure, save_figure
    sets = list(dict.fromkeys(r[1] for r in results))
    fig = _figure(figsize=(5.2 * len(sets), 3.8))
    if fig is None:
        return False
    axes = fig.subplots(1, len(sets), squeeze=False)[0]
    for ax, data_name in zip(axes, sets):
        for label, _, parts, rows in (r for r in results if r[1] == data_name):
            x = np.arange(len(parts))
            values = {name: per for name, per, _ in rows}
            line, = ax.plot(x, values["valid"], "o-", label=f"{label} valid")
            ax.plot(x, values["test"], "s--", color=line.get_color(), label=f"{label} test")
        ax.set_xticks(np.arange(len(parts)), [f"{label}\n({n})" for label, n in parts])
        ax.set(xlabel="items in the training part (users)", ylabel=metric, title=data_name)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    save_figure(fig, path)
    return True


@exit_on_user_error
def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("runs", nargs="+", type=Path, help="finished run folders")
    p.add_argument("--edges", type=edges_arg, default=[5, 8, 13, 21],
                   help="group boundaries in items (default 5,8,13,21: groups 3-4, 5-7, 8-12, 13-20, 21+)")
    p.add_argument("--metric", choices=METRIC_NAMES, default="NDCG@10", help="the metric per group (default NDCG@10)")
    p.add_argument("--out", type=Path, help="also write the Markdown table here")
    p.add_argument("--plot", type=Path, help="draw the groups as a PNG here")
    p.add_argument("--data", help="the runs' data folder, if it moved since training "
                                  "(every run given must have trained on it)")
    args = p.parse_args(argv)
    for run in args.runs:
        if not (run / MODEL_FILE).is_file():
            raise UserError(f"{run}: holds no finished run (no {MODEL_FILE})")
    results = []                                  # (label, data set, groups, rows) per run
    for run in args.runs:
        data_name, parts, rows = run_rows(run, args.edges, args.metric, args.data)
        results.append((run_label(run, args.runs), data_name, parts, rows))
        print(f"{run}: done", file=sys.stderr, flush=True)
    text = table(results, args.metric)
    print(text)
    if args.out:
        write_text(args.out, text + "\n")
    if args.plot and not plot(results, args.metric, args.plot):
        print("no plot drawn (matplotlib is missing)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
