"""Flags for the instructor, not verdicts: what in a kit deserves a second look.

Flags are advisory: they never change a score, they point the instructor at what to read.
Per exercise: its file is a symbolic link (or lies in a linked folder); its body is
identical to the reference's (by AST: ``solve``'s output, or a copy), or identical once
local names are renamed in order of appearance (alpha-renaming: a copy with its variables
renamed); its body imports something or names what loads code or reaches outside
(``importlib``, ``exec``, ``open``, ``sys``, ``os``, a path into the installed package...),
builds a dunder name out of pieces (``"__buil" + "tins__"``) or names one as a string, reaches
a dunder attribute (``__dict__``, ``__globals__``...), or calls ``getattr`` (``vars``...) on a
module: the ways to call the installed reference. For the kit: code outside the exercise bodies that differs from the installed
package (a forged ``tiny_mmmlp/__init__.py``, an edited launcher), files it adds, files
the grader skipped. Everything here reads the snapshot's source; nothing runs it.
"""
from __future__ import annotations

import ast

from . import stubs
from .exercises import EXERCISES, exercise
from .staging import Snapshot, installed_root, installed_text, parses

REACHING = {"__import__", "importlib", "exec", "eval", "compile", "open", "runpy", "subprocess", "sys",
            "os", "builtins", "__builtins__", "__loader__", "__spec__", "__file__", "globals", "inspect",
            "ctypes", "pathlib", "Path", "site", "pickle", "marshal", "load_module", "spec_from_file_location"}
DUNDER_ATTRS = {"__dict__", "__globals__", "__builtins__", "__subclasses__", "__class__", "__bases__", "__mro__",
                "__code__", "__closure__", "__getattribute__", "__import__", "__loader__", "__spec__", "__file__"}
INTROSPECT = {"getattr", "setattr", "hasattr", "vars", "dir", "delattr"}
SHOWN = 4   # files named in a kit flag before "and N more"


def _folded(node):
    """The string ``node`` evaluates to when it is built only from string constants
    (``"a" + "b"``, ``"".join(["a", "b"])``, an f-string of constants), else None."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        left, right = _folded(node.left), _folded(node.right)
        return left + right if left is not None and right is not None else None
    if isinstance(node, ast.JoinedStr):
        parts = [_folded(v) for v in node.values]
        return "".join(parts) if all(p is not None for p in parts) else None
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "join" \
            and len(node.args) == 1 and isinstance(node.args[0], (ast.List, ast.Tuple)):
        sep, parts = _folded(node.func.value), [_folded(e) for e in node.args[0].elts]
        return sep.join(parts) if sep is not None and all(p is not None for p in parts) else None
    return None


def _dunder(text: str) -> bool:
    return len(text) > 4 and text.startswith("__") and text.endswith("__")


def module_names(tree) -> set:
    """The names a module binds to imported modules at its top (``np`` for ``import numpy as np``)."""
    names = set()
    for n in getattr(tree, "body", []):
        if isinstance(n, ast.Import):
            names.update((a.asname or a.name).split(".")[0] for a in n.names)
        elif isinstance(n, ast.ImportFrom):
            names.update(a.asname or a.name for a in n.names if (a.asname or a.name)[:1].islower())
    return names


class _Rename(ast.NodeTransformer):
    """Local names (arguments, assigned names) to v0, v1, ... in order of first appearance."""

    def __init__(self, local: set):
        self.local, self.seen = local, {}

    def _new(self, name):
        return self.seen.setdefault(name, f"v{len(self.seen)}") if name in self.local else name

    def visit_arg(self, node):
        node.arg = self._new(node.arg)
        node.annotation = None
        return node

    def visit_Name(self, node):
        node.id = self._new(node.id)
        return node


def normalized(node) -> str:
    """The AST dump of a def with its docstring dropped and its local names alpha-renamed."""
    import copy

    node = copy.deepcopy(node)
    body = node.body
    if body and isinstance(body[0], ast.Expr) and isinstance(getattr(body[0], "value", None), ast.Constant) \
            and isinstance(body[0].value.value, str):
        node.body = body[1:] or [ast.Pass()]
    local = {a.arg for a in ast.walk(node.args) if isinstance(a, ast.arg)}
    local |= {n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, (ast.Store, ast.Del))}
    renamed = _Rename(local)
    node.args = renamed.visit(node.args)
    node.body = [renamed.visit(stmt) for stmt in node.body]
    node.name, node.returns = "f", None
    return ast.dump(node, annotate_fields=False)


def _def(data, qualname: str):
    try:
        return stubs.find_def(ast.parse(data), qualname)
    except (SyntaxError, ValueError, RecursionError, MemoryError, UnicodeDecodeError):
        return None


def reaches_out(node, modules=frozenset()) -> list:
    """What in a function's AST imports, loads code, names the installed package, builds or
    reaches a dunder name, or looks a name up on a module (``modules``: the file's imports)."""
    found, imported, root = set(), set(), str(installed_root())
    for n in ast.walk(node):
        if isinstance(n, ast.Import):
            found.update(f"import {a.name}" for a in n.names)
            imported.update((a.asname or a.name).split(".")[0] for a in n.names)
        elif isinstance(n, ast.ImportFrom):
            found.add(f"import from {'.' * n.level}{n.module or ''}")
            imported.update(a.asname or a.name for a in n.names)
    for n in ast.walk(node):
        if isinstance(n, ast.Name) and n.id in REACHING and n.id not in imported:
            found.add(n.id)
        elif isinstance(n, ast.Attribute) and n.attr in REACHING:
            found.add(n.attr)
        elif isinstance(n, ast.Constant) and isinstance(n.value, str) and \
                ("site-packages" in n.value or root in n.value or ".py" in n.value):
            found.add("a path to a Python file")
        if isinstance(n, ast.Attribute) and n.attr in DUNDER_ATTRS:
            found.add(f"the attribute {n.attr}")
        text = _folded(n) if isinstance(n, (ast.BinOp, ast.JoinedStr, ast.Call)) else None
        if text is not None and _dunder(text):
            found.add(f"a dunder name built from pieces ({text[:40]!r})")
        elif isinstance(n, ast.Constant) and isinstance(n.value, str) and _dunder(n.value):
            found.add(f"a dunder name as a string ({n.value[:40]!r})")
        if isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id in INTROSPECT and n.args \
                and isinstance(n.args[0], ast.Name) and n.args[0].id in (modules | imported):
            found.add(f"{n.func.id} on the module {n.args[0].id}")
    return sorted(found)


def linked(snap: Snapshot, path: str) -> bool:
    parts = path.split("/")
    return "" in snap.links or any("/".join(parts[:i]) in snap.links for i in range(1, len(parts) + 1))


def exercise_flags(snap: Snapshot, k: int) -> list:
    ex = exercise(k)
    flags = []
    if linked(snap, ex.path):
        flags.append(f"tiny_mmmlp/{ex.path} is a symbolic link or lies in a linked folder")
    mine = _def(snap.files.get(ex.path, b""), ex.function)
    reference = installed_text(ex.path)
    if mine is None or reference is None:
        return flags
    theirs = _def(reference, ex.function)
    if ast.dump(mine) == ast.dump(theirs):
        flags.append("its body is identical to the reference's (by AST)")
    elif normalized(mine) == normalized(theirs):
        flags.append("its body is the reference's with names changed (identical by AST after renaming "
                     "local names)")
    try:
        modules = module_names(ast.parse(snap.files[ex.path]))
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        modules = set()
    reach = reaches_out(mine, modules)
    if reach:
        flags.append(f"its body uses {', '.join(reach)}: check that it does not call the installed reference")
    return flags


def _outside_exercises(data, path: str):
    """The module's AST dump with the bodies of the exercises in ``path`` emptied."""
    tree = ast.parse(data)
    for ex in EXERCISES:
        node = stubs.find_def(tree, ex.function) if ex.path == path else None
        if node is not None:
            node.body = [ast.Pass()]
    return ast.dump(tree)


def _named(paths) -> str:
    shown = ", ".join(f"tiny_mmmlp/{p}" for p in paths[:SHOWN])
    return shown + (f" and {len(paths) - SHOWN} more" if len(paths) > SHOWN else "")


def kit_flags(snap: Snapshot, shim: str) -> list:
    """Flags about the whole kit: changed or added code outside the exercise bodies, links,
    skipped files. ``shim`` is the ``course/__main__.py`` that ``new`` writes."""
    changed, added = [], []
    for path, data in sorted(snap.files.items()):
        if path.startswith("course/"):
            expected = {"course/__init__.py": "", "course/__main__.py": shim}.get(path)
            if expected is None:
                added.append(path)
            elif data != expected.encode("utf-8"):
                changed.append(path)
            continue
        installed = installed_text(path)
        if installed is None:
            added.append(path)
        elif parses(data) and _outside_exercises(data, path) != _outside_exercises(installed, path):
            changed.append(path)
    flags = []
    if changed:
        flags.append(f"code outside the exercise bodies differs from the reference in {_named(changed)}")
    if added:
        flags.append(f"the kit adds {_named(added)}")
    links = [p for p in snap.links if p]
    if "" in snap.links:
        flags.append("the kit's tiny_mmmlp folder is a symbolic link")
    if links:
        flags.append(f"symbolic links in the kit: {_named(links)}")
    if snap.skipped:
        flags.append(f"not read by the grader: {', '.join(snap.skipped[:SHOWN])}"
                     + (f" and {len(snap.skipped) - SHOWN} more" if len(snap.skipped) > SHOWN else ""))
    return flags
