"""Every flag and argument of every command line (the package's and the benchmarks') says in
--help what it is."""
import argparse
import importlib.util
import os
from pathlib import Path

import pytest

from tiny_mmmlp.model_config import MMMLPConfig, field_help

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def undocumented(parser, prefix=""):
    """'prog flag' of each argument of ``parser`` and its subcommands without a help text."""
    missing = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                missing += undocumented(sub, f"{prefix}{name} ")
        elif action.help is None or (action.help != argparse.SUPPRESS and not action.help.strip()):
            missing.append(prefix + (action.option_strings[-1] if action.option_strings else action.dest))
    return missing


class Built(Exception):
    """Raised by parse_args to hand back the parser that a script's main() built."""


def parser_of_script(path, monkeypatch):
    def capture(self, *args, **kwargs):
        raise Built(self)
    monkeypatch.setattr(argparse.ArgumentParser, "parse_args", capture)
    monkeypatch.setattr(argparse.ArgumentParser, "parse_known_args", capture)
    monkeypatch.syspath_prepend(str(path.parent))     # as ``python benchmarks/x.py`` finds its siblings
    environ = dict(os.environ)          # a script may set the environment as it loads
    try:                                # (kernel_resources drops TRITON_INTERPRET, which the
        spec = importlib.util.spec_from_file_location(f"cli_help_{path.stem}", path)
        module = importlib.util.module_from_spec(spec)     # kernel tests after this one need)
        spec.loader.exec_module(module)
        with pytest.raises(Built) as built:
            module.main()
    finally:
        os.environ.clear()
        os.environ.update(environ)
    return built.value.args[0]


def package_parsers():
    from tiny_mmmlp.course.__main__ import build_parser as course
    from tiny_mmmlp.data.__main__ import _parser as data
    from tiny_mmmlp.recommend import build_parser as recommend
    from tiny_mmmlp.run_flags import build_parser as train
    return {"train": train(), "recommend": recommend(), "course": course(), "data": data()}


@pytest.mark.parametrize("name", ["train", "recommend", "course", "data"])
def test_every_package_flag_has_help(name):
    assert undocumented(package_parsers()[name]) == []


SCRIPTS = sorted(p for p in BENCHMARKS.glob("*.py") if "def main(" in p.read_text())


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.stem)
def test_every_benchmark_flag_has_help(script, monkeypatch):
    assert undocumented(parser_of_script(script, monkeypatch)) == []


def test_the_check_finds_a_flag_without_help():
    p = argparse.ArgumentParser()
    p.add_argument("--told", help="a flag")
    p.add_argument("--untold")
    sub = p.add_subparsers().add_parser("go")
    sub.add_argument("where")
    assert undocumented(p) == ["--untold", "go where"]


def test_config_flags_are_described_by_the_config_docstring_once():
    """field_help reads every field of MMMLPConfig from its docstring, and train's --help
    shows that text (one copy of each description)."""
    from dataclasses import fields

    from tiny_mmmlp.run_flags import build_parser
    about = field_help()
    assert sorted(about) == sorted(f.name for f in fields(MMMLPConfig))
    assert about["fusion_dim"] == "D_f, width after fusion; 0 means the sum of the branch widths."
    helps = {a.dest: a.help for a in build_parser()._actions}
    assert helps["token_hidden"].startswith("r_N, hidden width of the token-mixing MLP")
    assert helps["token_hidden"].endswith(f"(default: {MMMLPConfig().token_hidden})")
    assert "mmmlp 20" in helps["max_len"] and helps["max_len"].startswith("N, the number")
