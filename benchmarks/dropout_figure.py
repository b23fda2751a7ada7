"""The dropout table of docs/results.md as one figure: validation NDCG@10 against the dropout
rate, one line per set, relative to the set's rate 0.4, with the rate that MMMLP's default
picks for the set's size marked.

    python benchmarks/dropout_figure.py [--doc docs/results.md] --out dropout.png

Reads the table whose header starts ``| set (training examples) |``: one column per rate, each
cell a validation NDCG@10 (one seed) or a mean ± sd over seeds, "-" where not measured, each
row's training examples in brackets in its label, e.g. ``scientific, IDs (34,058)``. The
default's rate is ``tiny_mmmlp.model_config.dropout_for`` of that count. The table stays the
record, the figure a picture of it.
"""
from __future__ import annotations

import math
import re
from pathlib import Path

from ablation_figure import new_axes, page_table, read_page

from tiny_mmmlp.errors import UserError, exit_on_user_error
from tiny_mmmlp.model_config import dropout_for
from tiny_mmmlp.plots import save_figure

HEADER = "| set (training examples) |"
CELL = re.compile(r"^\**(\d+\.\d+)")                 # the value, or the mean of a mean ± sd
EXAMPLES = re.compile(r"\(([\d,]+)\)")
BASE = 0.4                                           # each line is relative to this rate


def dropout_table(text: str, where: str) -> tuple[list, dict]:
    """(rates, {set: (training examples, [value or None per rate])}) of the page's table."""
    labels, cells = page_table(text, where, HEADER, "dropout table")
    try:
        rates = [float(label) for label in labels]
    except ValueError:
        raise UserError(f"{where}: the dropout table's columns after the set must be rates "
                        f"(0.4, 0.5, ...), got {', '.join(labels)}") from None
    rows = {}
    for name, row in cells.items():
        size = EXAMPLES.search(name)
        values = [float(m[1]) if m else None for m in (CELL.search(c) for c in row)]
        if size is None or BASE not in rates or values[rates.index(BASE)] is None:
            raise UserError(f"{where}: the dropout table's row {name!r} needs its training examples in "
                            f"brackets and a value at rate {BASE}")
        rows[name] = (int(size[1].replace(",", "")), values)
    if not rows:
        raise UserError(f"{where}: the dropout table has no rows")
    return rates, rows


def draw(rates: list, rows: dict, path: Path) -> None:
    fig, ax = new_axes((8, 4.2))
    from matplotlib import cm
    ordered = sorted(rows.items(), key=lambda r: r[1][0])
    low, high = math.log10(ordered[0][1][0]), math.log10(ordered[-1][1][0])
    for name, (size, values) in ordered:                # colour: the size, small dark, large light
        colour = cm.viridis(0.85 * (math.log10(size) - low) / ((high - low) or 1.0))
        base = values[rates.index(BASE)]
        xs = [r for r, v in zip(rates, values) if v is not None]
        ys = [v / base for v in values if v is not None]
        ax.plot(xs, ys, marker="o", ms=4, color=colour, label=name)
        pick = dropout_for(size)
        if pick in xs:
            ax.plot([pick], [ys[xs.index(pick)]], marker="*", ms=14, color=colour, ls="none")
    ax.axhline(1.0, color="grey", lw=0.8)
    ax.set(xlabel="dropout", ylabel=f"validation NDCG@10 / the set's at {BASE}",
           title="MMMLP: the dropout that fits falls with the training set's size (★: the default's pick)")
    ax.legend(fontsize=8)
    save_figure(fig, path)


@exit_on_user_error
def main(argv=None):
    args, text = read_page(argv, "dropout_figure.py", __doc__, "dropout table")
    rates, rows = dropout_table(text, str(args.doc))
    for name, (size, values) in rows.items():
        base = values[rates.index(BASE)]
        print(f"{name}: default {dropout_for(size)}; " +
              "  ".join(f"{r}: {v / base:.3f}" if v is not None else f"{r}: -" for r, v in zip(rates, values)))
    draw(rates, rows, args.out)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
