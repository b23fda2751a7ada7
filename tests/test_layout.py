"""The house rules of the package's layout, read from the code (docs/develop.md draws them):

- every module stands on one floor; a module imports only from its own floor or below
  (an import inside a function counts too: a lazy import is an arrow all the same);
- no import circle, between modules or between packages;
- a command (a file run with ``python -m``) is named by a verb and is listed here; a library
  (a noun) has no ``__main__`` block.
"""
import ast
from pathlib import Path

import tiny_mmmlp

PACKAGE = Path(tiny_mmmlp.__file__).parent

# floor -> the top-level modules and subpackages of tiny_mmmlp on it, lowest first
FLOORS = {
    "base": {"errors", "files", "interrupts", "cli", "model_config", "params", "schedule", "metrics",
             "preflight", "item_map", "distributed", "frames", "progress", "values"},
    "model and data": {"reference", "torch_model", "kernels", "baselines", "averaging", "backends", "data"},
    "run": {"run_config", "run_flags", "run_record", "run_folder", "checkpoint", "model_file", "ranking",
            "training_loop", "plots", "gallery", "exports", "held_out", "model_card", "run_results"},
    "use": {"train", "api", "recommender", "evaluate", "recommend", "tune", "__main__", "__init__"},
    "course": {"course"},
}
# the files run as commands (python -m tiny_mmmlp.<name>); every other file is a library. The
# grader's child process is run by the grader, not by a person.
COMMANDS = {"train", "evaluate", "recommend", "tune", "__main__", "data.__main__", "course.__main__", "course.child"}
# a kernel file ends, as the Triton tutorials do, with a check against the reference when run
KERNEL_SELF_CHECKS = {"kernels.token_mixing", "kernels.channel_mixing"}


def modules() -> dict:
    """{dotted name under tiny_mmmlp ("train", "data.load", "data"): path} of every module."""
    out = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE).with_suffix("").parts
        if parts[-1] == "__init__" and len(parts) > 1:
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def imports(name: str, path: Path, known: dict) -> set:
    """The modules of the package that ``name`` imports, anywhere in its file."""
    package = name.split(".") if path.name == "__init__.py" and name != "__init__" else name.split(".")[:-1]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[:len(package) - (node.level - 1)] + ([node.module] if node.module else [])
            elif (node.module or "").startswith("tiny_mmmlp"):
                base = node.module.split(".")[1:]
            else:
                continue
            # a submodule where the name is one, else a name defined in the module itself
            targets = [".".join(base + [a.name]) if ".".join(base + [a.name]) in known else ".".join(base)
                       for a in node.names]
        elif isinstance(node, ast.Import):
            targets = [a.name.split(".", 1)[1] for a in node.names if a.name.startswith("tiny_mmmlp.")]
        else:
            continue
        for t in targets:
            while t and t not in known:
                t = t.rpartition(".")[0]
            if t and t != name:         # "": the package itself (__version__), loaded before any module
                found.add(t)
    return found


def graph() -> dict:
    known = modules()
    return {name: imports(name, path, known) for name, path in known.items()}


def floor_of(name: str) -> int:
    top = name.split(".")[0]
    for level, members in enumerate(FLOORS.values()):
        if top in members:
            return level
    raise AssertionError(f"tiny_mmmlp/{top} stands on no floor: add it to FLOORS here and to docs/develop.md")


def cycles(g: dict) -> list:
    """The strongly connected components of more than one node (Tarjan)."""
    index, low, stack, on, found = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in g.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while not comp or comp[-1] != v:
                comp.append(stack.pop())
                on.discard(comp[-1])
            if len(comp) > 1:
                found.append(sorted(comp))

    for v in list(g):
        if v not in index:
            visit(v)
    return found


def test_every_module_stands_on_a_floor_and_imports_only_downwards():
    up = [f"{a} -> {b}" for a, bs in graph().items() for b in bs if floor_of(b) > floor_of(a)]
    assert not up, f"imports from a higher floor: {up}"


def test_no_import_circle_between_modules_or_packages():
    g = graph()
    assert cycles(g) == []
    packages = {}
    for a, bs in g.items():
        packages.setdefault(a.split(".")[0], set()).update(b.split(".")[0] for b in bs if b.split(".")[0] != a.split(".")[0])
    assert cycles(packages) == []


def test_the_cycle_finder_finds_a_planted_circle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_commands_are_verbs_and_libraries_have_no_main_block():
    with_main = {name for name, path in modules().items()
                 if 'if __name__ == "__main__"' in path.read_text(encoding="utf-8")}
    assert with_main == COMMANDS | KERNEL_SELF_CHECKS
