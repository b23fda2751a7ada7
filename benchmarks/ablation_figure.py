"""The ablation of docs/results.md as one figure: test NDCG@10 per set, change by change.

    python benchmarks/ablation_figure.py [--doc docs/results.md] --out ablation.png

Reads the ablation table (the table whose header starts ``| set | paper's training |``) of
the results page, where each column adds one change to the one before it and each cell is a
mean ± sd over seeds, and draws each set's row as a line relative to the paper's training
(1.0), with the seeds' sd as error bars. A cell that starts "the same" (the change leaves that
row's model as it was) repeats the cell before it; other cells without a ``mean ± sd`` are left
out. The table stays the record, the figure a picture of it.
"""
from __future__ import annotations

import re
from pathlib import Path

from tiny_mmmlp.cli import OneLineParser
from tiny_mmmlp.errors import UserError, exit_on_user_error
from tiny_mmmlp.files import read_regular
from tiny_mmmlp.plots import _figure, save_figure

HEADER = "| set | paper's training |"
CELL = re.compile(r"(\d+\.\d+) ± (\d+\.\d+)")
MAX_DOC_BYTES = 4 << 20


def page_table(text: str, where: str, header: str, what: str) -> tuple[list, dict]:
    """(column labels after the first, {first cell: [cell text per column]}) of the page's
    table whose header line starts ``header``; ``what`` names it in the error."""
    lines = text.splitlines()
    start = next((i for i, line in enumerate(lines) if line.startswith(header)), None)
    if start is None:
        raise UserError(f"{where}: no {what} (a table whose header starts {header!r})")
    labels = [c.strip() for c in lines[start].strip().strip("|").split("|")][1:]
    rows = {}
    for line in lines[start + 2:]:
        if not line.startswith("|"):
            break
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        rows[cells[0]] = cells[1:]
    return labels, rows


def ablation_table(text: str, where: str) -> tuple[list, dict]:
    """(column labels after the set's, {set: [(mean, sd) or None per column]}) of the table."""
    labels, cells = page_table(text, where, HEADER, "ablation table")
    rows = {}
    for name, row in cells.items():
        values = []
        for cell in row:               # "the same ...": the change leaves that row's model as it was
            m = CELL.search(cell)
            values.append((float(m[1]), float(m[2])) if m else
                          values[-1] if cell.startswith("the same") and values else None)
        rows[name] = values
    if not rows or any(r[0] is None for r in rows.values()):
        raise UserError(f"{where}: the ablation table needs a mean ± sd for the paper's training on every row")
    return labels, rows


def new_axes(figsize: tuple) -> tuple:
    """(figure, axes) of a figure script; one sentence, exit 2, without matplotlib."""
    fig = _figure(figsize=figsize)                  # None (with a warning) without matplotlib
    if fig is None:
        raise UserError("no figure drawn: matplotlib is not installed (pip install 'tiny_mmmlp[plot]')")
    return fig, fig.add_subplot()


def draw(labels: list, rows: dict, path: Path) -> None:
    fig, ax = new_axes((9, 4.2))
    used = [i for i in range(len(labels)) if any(r[i] is not None for r in rows.values())]
    for name, cells in rows.items():
        base = cells[0][0]
        xs = [k for k, i in enumerate(used) if cells[i] is not None]
        ys = [cells[used[k]][0] / base for k in xs]
        err = [cells[used[k]][1] / base for k in xs]
        ax.errorbar(xs, ys, yerr=err, marker="o", ms=4, capsize=3, label=name)
    ax.axhline(1.0, color="grey", lw=0.8)
    ax.set_xticks(range(len(used)), [labels[i] for i in used], rotation=25, ha="right", fontsize=8)
    ax.set(ylabel="test NDCG@10 / the paper's training", title="MMMLP, each change added to the ones before it")
    ax.legend(fontsize=8)
    save_figure(fig, path)


def read_page(argv, script: str, doc: str, what: str) -> tuple:
    """(arguments, the page's text) of a figure script's command line: ``--doc``, the results
    page holding ``what`` (default docs/results.md), and ``--out``, the PNG to write."""
    p = OneLineParser(prog=f"python benchmarks/{script}", description=doc.split("\n\n")[0])
    p.add_argument("--doc", type=Path, default=Path(__file__).resolve().parents[1] / "docs" / "results.md",
                   help=f"the results page holding the {what} (default: docs/results.md)")
    p.add_argument("--out", type=Path, required=True, help="the PNG to write")
    args = p.parse_args(argv)
    return args, read_regular(args.doc, MAX_DOC_BYTES, what="a results page").decode("utf-8", errors="replace")


@exit_on_user_error
def main(argv=None):
    args, text = read_page(argv, "ablation_figure.py", __doc__, "ablation table")
    labels, rows = ablation_table(text, str(args.doc))
    for name, cells in rows.items():
        base = cells[0][0]
        print(f"{name}: " + "  ".join(f"{c[0] / base:.3f}" if c else "-" for c in cells))
    draw(labels, rows, args.out)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
