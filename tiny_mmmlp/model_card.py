"""The model card: a README.md in each run folder, so a shared run says what it is.

It names the data (by name, with its counts and fingerprints; never a path), the model and
its settings, the test metrics beside the popularity baseline, and how to load the model in
Python and from the command line. A README.md the user wrote into the run folder is left
alone: the card replaces only a card (its first line says what it is).
"""
from __future__ import annotations

import warnings
from pathlib import Path

from . import __version__
from .files import write_text
from .metrics import METRIC_NAMES

CARD_FILE = "README.md"
HEADING = "# tiny_mmmlp model card"
SETTINGS_SHOWN = ("model", "backend", "modalities", "max_len", "d_model", "n_layers", "epochs", "patience",
                  "batch_size", "lr", "weight_decay", "ema", "negatives", "label_smoothing", "seed",
                  "mask_history")


def model_card(result: dict, ds) -> str:
    """The card's Markdown text for a finished run (``result``: what metrics.json holds)."""
    settings = result["settings"]
    data = result["data"]
    by_path = data == ds.name and data not in ("toyshop", "toyshop-tiny") and ":" not in data
    load_data = ", data=\"path/to/your/data\"" if by_path else ""
    flag_data = " --data path/to/your/data" if by_path else ""
    header = "| | " + " | ".join(METRIC_NAMES) + " |"
    rule = "|---" * (len(METRIC_NAMES) + 1) + "|"
    row = lambda name, m: f"| {name} | " + " | ".join(f"{m[k]:.4f}" for k in METRIC_NAMES) + " |"  # noqa: E731
    lines = [
        HEADING, "",
        f"A {result['model']} model for next-item recommendation, trained with tiny_mmmlp "
        f"{__version__} ({result['backend']} backend).", "",
        "## Data", "",
        f"- name: {data}" + (" (given as a folder, file or DataFrame; its path is not kept)" if by_path else ""),
        f"- {ds.n_users} users, {ds.n_items} items, {ds.n_interactions} interactions",
        f"- modalities: {', '.join(result['modalities'])}",
        "- the model file keeps the raw item ids and a SHA-256 fingerprint of the items, features and "
        "interactions it was trained on", "",
        "## Settings", "",
        *[f"- {k}: {settings[k]}" for k in SETTINGS_SHOWN if k in settings],
        "- every setting: config.json", "",
        "## Test metrics", "",
        f"Leave-one-out (the last item of each user with 3 or more items), full ranking over all "
        f"{ds.n_items} items, {result['protocol']}; ties count against the held-out item. Best "
        f"validation epoch {result['best_epoch']} of {result['epochs']}.", "",
        header, rule, row(result["model"], result["test"]), row("popularity", result["popularity"]), "",
        "## How to use it", "",
        "```python",
        "import tiny_mmmlp",
        f"rec = tiny_mmmlp.load(\"path/to/this/folder\"{load_data})",
        "rec.recommend_history([\"ITEM_ID\", \"ITEM_ID\"], k=10)   # needs only model.safetensors",
        "rec.recommend_frame(users=\"all\", k=10)                  # a DataFrame (needs the data)",
        "rec.metrics, rec.history                                 # these results",
        "```", "",
        "```",
        "tiny-mmmlp recommend path/to/this/folder --items ITEM_ID,ITEM_ID --k 10",
        f"tiny-mmmlp recommend path/to/this/folder --users all --format csv --output recs.csv{flag_data}",
        f"tiny-mmmlp evaluate path/to/this/folder --k 5,10,20{flag_data}",
        "```", "",
        "Files: model.safetensors (weights, feature tables, item ids), config.json (settings), "
        "metrics.json (metrics and per-epoch history), curves.png.", "",
    ]
    return "\n".join(lines)


def write_model_card(folder, result: dict, ds) -> Path | None:
    """Write ``folder/README.md`` unless a README.md that is not a card is there (warned)."""
    path = Path(folder) / CARD_FILE
    if path.is_symlink() or (path.exists() and not _is_card(path)):
        warnings.warn(f"{path}: a README.md of your own is in the run folder, so the model card was not "
                      f"written", stacklevel=2)
        return None
    write_text(path, model_card(result, ds))
    return path


def _is_card(path: Path) -> bool:
    try:
        with open(path, encoding="utf-8") as f:
            return f.readline().rstrip("\n") == HEADING
    except (OSError, UnicodeDecodeError):
        return False
