"""Flags for the instructor, not verdicts: what in a kit deserves a second look.

Per exercise: its file is a symbolic link (or lies in a linked folder); its body is
identical to the reference's (by AST: ``solve``'s output, or a copy); its body imports
something or names what loads code or reaches outside (``importlib``, ``exec``, ``open``,
``sys``, ``os``, a path into the installed package...), the ways to call the installed
reference. For the kit: code outside the exercise bodies that differs from the installed
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
SHOWN = 4   # files named in a kit flag before "and N more"


def _def(data, qualname: str):
    try:
        return stubs.find_def(ast.parse(data), qualname)
    except (SyntaxError, ValueError, RecursionError, MemoryError, UnicodeDecodeError):
        return None


def reaches_out(node) -> list:
    """What in a function's AST imports, loads code or names the installed package."""
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
    if ast.dump(mine) == ast.dump(_def(reference, ex.function)):
        flags.append("its body is identical to the reference's (by AST)")
    reach = reaches_out(mine)
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
