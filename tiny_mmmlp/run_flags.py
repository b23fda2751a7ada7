"""The command line of ``python -m tiny_mmmlp.train``: one flag per RunConfig setting, grouped.

    settings = parse_settings(argv)      # {setting: value} of the flags given (and --config's)
    cfg = RunConfig.resolve(settings, flags=True)

Flags that are not given stay out of the settings, so that resolve fills each default the
same way for the command line and for Python callers. ``--config FILE`` starts from a saved
run's settings (its ``config.json``); flags given beside it override them.
"""
from __future__ import annotations

import argparse
from dataclasses import fields

from .baselines import MODEL_DEFAULTS, MODELS
from .cli import OneLineParser, flag_type
from .model_config import DROPOUT_RULE, MMMLPConfig
from .run_config import GROUPS, PER_MODEL, RunConfig, flag_name, load_config, override

PROG = "python -m tiny_mmmlp.train"
DESCRIPTION = ("Train MMMLP (or a baseline), evaluate it with full ranking over every item "
               "(leave-one-out, the test metrics of the best validation epoch), and save the run.")
STORE_TRUE = ("pictures", "mask_history", "resume", "overwrite", "no_progress")


def _default_help(f) -> str:
    if f.name in PER_MODEL:
        shown = lambda v: DROPOUT_RULE if v is None else v     # noqa: E731 - None: the data decides
        return "default: " + ", ".join(f"{m} {shown(MODEL_DEFAULTS[m][f.name])}" for m in MODELS
                                       if f.name in MODEL_DEFAULTS[m])
    if f.name == "label_smoothing":
        return f"default: {MMMLPConfig().label_smoothing}"
    if f.default is None or f.name in STORE_TRUE:
        return ""
    return f"default: {'on' if f.default is True else 'off' if f.default is False else f.default}"


def build_parser() -> OneLineParser:
    p = OneLineParser(prog=PROG, description=DESCRIPTION, argument_default=argparse.SUPPRESS)
    groups = {g: p.add_argument_group(g) for g in GROUPS}
    for f in fields(RunConfig):
        meta, default = f.metadata, _default_help(f)
        text = meta["help"].rstrip(".") + (f" ({default})" if default else "")
        group, flag = groups[meta["group"]], flag_name(f.name)
        if f.name == "verbose":                      # two switches, not a number to type
            loud = group.add_mutually_exclusive_group()
            loud.add_argument("--quiet", dest="verbose", action="store_const", const=0,
                              help="print only warnings and errors: no progress, no epoch lines, no table")
            loud.add_argument("--verbose", dest="verbose", action="store_const", const=2,
                              help="also print details: each epoch's training and validation time")
        elif f.name in STORE_TRUE:
            group.add_argument(flag, action="store_true", help=text)
        elif meta["check"] == "bool":
            group.add_argument(flag, action=argparse.BooleanOptionalAction, help=text)
        else:
            group.add_argument(flag, type=flag_type(meta["check"]), choices=meta["choices"],
                               help=text, metavar=None if meta["choices"] else f.name.upper())
    groups["run folder"].add_argument("--config", metavar="FILE",
                                      help="start from a saved run's settings (its config.json, or "
                                           "the run folder); flags given beside it override them")
    return p


def parse_settings(argv=None) -> dict:
    """{setting: value} of the flags given, on top of --config's saved settings."""
    given = vars(build_parser().parse_args(argv))
    config = given.pop("config", None)
    return override(load_config(config), given) if config else given


def resolve_flags(argv) -> "RunConfig":
    """The RunConfig that ``python -m tiny_mmmlp.train ARGV`` trains with (benchmarks use it)."""
    return RunConfig.resolve(parse_settings(argv), flags=True)
