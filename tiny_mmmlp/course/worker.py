"""Grade one exercise of a kit, in a process of its own (``grade`` starts one per exercise).

    python -m tiny_mmmlp.course.worker KIT K EXAMPLES RESULT.json

The kit's package is loaded under another name, ``kit_tiny_mmmlp``, so the student's code
and the installed reference live side by side. Every other exercise's function in the kit
is then replaced by the reference's, so exercise K is graded on its own: an unfinished
LayerNorm backward does not fail token mixing, and a file that does not even parse is
replaced by the installed one for every exercise but its own. Hypothesis draws the problems
(derandomized, so every student meets the same ones) and shrinks a failure to its smallest
case.
Writes {"passed": bool, "message": str} to RESULT.json.
"""
from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import json
import os
import sys
from pathlib import Path

from .exercises import EXERCISES, exercise

ALIAS = "kit_tiny_mmmlp"


class InstalledIfBroken(importlib.abc.MetaPathFinder):
    """Load a kit module whose file does not parse from the installed package instead.

    A half-written exercise in one file must not sink the exercises of every module that
    imports it; the exercise's own file is never replaced (its import error is its failure).
    """

    def __init__(self, own_module: str):
        self.own = f"{ALIAS}.{own_module}"

    def find_spec(self, fullname, path, target=None):
        if not fullname.startswith(ALIAS + ".") or fullname == self.own:
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is None or not str(spec.origin).endswith(".py"):
            return None
        try:
            compile(Path(spec.origin).read_bytes(), spec.origin, "exec")
            return None
        except SyntaxError:
            installed = installed_file(fullname[len(ALIAS) + 1:], spec.submodule_search_locations is not None)
            return importlib.util.spec_from_file_location(
                fullname, installed, submodule_search_locations=spec.submodule_search_locations)


def installed_file(module: str, package: bool) -> Path:
    """The installed source file of ``module`` (relative to tiny_mmmlp)."""
    root, parts = Path(importlib.import_module("tiny_mmmlp").__file__).parent, module.split(".")
    path = root.joinpath(*[p for p in parts if p])
    return path / "__init__.py" if package else path.with_suffix(".py")


def load_kit(kit: Path):
    init = Path(kit) / "tiny_mmmlp" / "__init__.py"
    spec = importlib.util.spec_from_file_location(ALIAS, init, submodule_search_locations=[str(init.parent)])
    package = importlib.util.module_from_spec(spec)
    sys.modules[ALIAS] = package
    spec.loader.exec_module(package)
    return package


def resolve(obj, qualname: str):
    for part in qualname.split("."):
        obj = getattr(obj, part)
    return obj


def isolate(k: int) -> None:
    """In every loaded module of the kit, put the reference in place of the other exercises."""
    loaded = [m for n, m in list(sys.modules.items()) if n.startswith(ALIAS + ".")]
    for j, ex in enumerate(EXERCISES, 1):
        mod = sys.modules.get(f"{ALIAS}.{ex.module}")
        if j == k or mod is None:
            continue
        try:
            mine = resolve(mod, ex.function)
            ref = resolve(importlib.import_module(f"tiny_mmmlp.{ex.module}"), ex.function)
        except (AttributeError, ImportError):
            continue
        owner, _, attr = ex.function.rpartition(".")
        if owner:                                            # a method, e.g. AdamW.step
            setattr(resolve(mod, owner), attr, ref)
            continue
        for m in loaded:                                     # every name bound to it (imports too)
            for name, value in list(vars(m).items()):
                if value is mine:
                    setattr(m, name, ref)


def grade_one(kit: Path, k: int, examples: int):
    """None if exercise k passes, else the sentence describing its first failing case."""
    from .checks import Failure

    ex = exercise(k)
    if ex.part == "triton":
        os.environ.setdefault("TRITON_INTERPRET", "1")       # before triton is first imported
        missing = [m for m in ("torch", "triton") if importlib.util.find_spec(m) is None]
        if missing:
            return f"cannot be graded here: {' and '.join(missing)} not installed"
        from .checks_triton import CHECKS
    else:
        from .checks import CHECKS
    sys.meta_path.insert(0, InstalledIfBroken(ex.module))
    try:
        load_kit(kit)
        mod = importlib.import_module(f"{ALIAS}.{ex.module}")
    except Exception as err:
        return f"the kit's tiny_mmmlp/{ex.path} does not import ({type(err).__name__}: {err})"
    try:
        student = resolve(mod, ex.function)
    except AttributeError:
        return f"tiny_mmmlp/{ex.path} has no {ex.function}"
    isolate(k)
    return first_failure(CHECKS[ex.name], student, examples, Failure)


def first_failure(check, student, examples, Failure):
    from hypothesis import HealthCheck, Phase, Verbosity, example, given, settings

    def test(case):
        check.run(student, case)

    for case in reversed(check.problem.explicit()):
        test = example(case)(test)
    test = settings(max_examples=examples, deadline=None, database=None, derandomize=True,
                    report_multiple_bugs=False, suppress_health_check=list(HealthCheck),
                    phases=(Phase.explicit, Phase.generate, Phase.shrink),
                    verbosity=Verbosity.quiet)(given(check.problem.cases())(test))
    try:
        test()
    except Failure as f:
        return str(f)
    except Exception as err:
        inner = [e for e in getattr(err, "exceptions", ()) if isinstance(e, Failure)]
        if inner:    # Hypothesis' Flaky: the same case failed once and passed once
            return f"{inner[0]} (but only on some runs: does it draw random numbers?)"
        raise
    return None


def main(argv=None):
    kit, k, examples, result = (argv or sys.argv[1:])
    message = grade_one(Path(kit), int(k), int(examples))
    Path(result).write_text(json.dumps({"passed": message is None, "message": message or "passed"}))


if __name__ == "__main__":
    main()
