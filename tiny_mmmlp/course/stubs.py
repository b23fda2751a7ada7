"""Emptying and restoring function bodies in source text, located with ``ast``.

Only the lines of the one function change; the rest of the file (comments included) is
kept byte for byte. A stub keeps the signature, the decorators, the docstring and any
leading ``... = cache`` line (it tells the student what the cache holds), then raises:

    def layernorm_backward(dout, cache):
        \"\"\"Backward of LayerNorm. ...\"\"\"
        xhat, rstd, gamma = cache
        raise NotImplementedError("Exercise 3: ...")
"""
from __future__ import annotations

import ast
import json
import textwrap


def find_def(tree: ast.Module, qualname: str):
    """The ``def`` node named ``qualname`` ("f" or "Class.f") at the top of ``tree``, or None."""
    nodes, found = tree.body, None
    for part in qualname.split("."):
        found = next((n for n in nodes if isinstance(n, (ast.FunctionDef, ast.ClassDef,
                                                         ast.AsyncFunctionDef)) and n.name == part), None)
        if found is None:
            return None
        nodes = found.body
    return found if isinstance(found, (ast.FunctionDef, ast.AsyncFunctionDef)) else None


def _def_or_fail(source: str, qualname: str, filename: str):
    node = find_def(ast.parse(source, filename=filename), qualname)
    if node is None:
        raise ValueError(f"{filename} has no function {qualname}")
    return node


def _kept(body) -> int:
    """How many leading statements a stub keeps: the docstring and ``... = cache`` unpackings."""
    keep = 0
    if body and isinstance(body[0], ast.Expr) and isinstance(getattr(body[0], "value", None), ast.Constant) \
            and isinstance(body[0].value.value, str):
        keep = 1
    while keep < len(body) - 1 and isinstance(body[keep], ast.Assign) \
            and isinstance(body[keep].value, ast.Name) and body[keep].value.id == "cache":
        keep += 1
    return keep


def stub(source: str, qualname: str, message: str, filename: str = "<source>") -> str:
    """``source`` with the body of ``qualname`` replaced by ``raise NotImplementedError(message)``."""
    node = _def_or_fail(source, qualname, filename)
    body = node.body
    first, last = body[_kept(body)], body[-1]
    lines = source.splitlines(keepends=True)
    indent = lines[first.lineno - 1][:first.col_offset]
    return "".join(lines[:first.lineno - 1]) + _raise(message, indent) + "".join(lines[last.end_lineno:])


def _raise(message: str, indent: str, width: int = 88) -> str:
    """``raise NotImplementedError(message)``, the message split into string literals that
    keep each line within ``width`` columns (Python joins adjacent literals)."""
    chunks = textwrap.wrap(message, max(30, width - len(indent) - 10), drop_whitespace=False)
    if len(chunks) == 1:
        return f"{indent}raise NotImplementedError({_literal(message)})\n"
    body = "".join(f"{indent}    {_literal(c)}\n" for c in chunks)
    return f"{indent}raise NotImplementedError(\n{body}{indent})\n"


def _literal(text: str) -> str:
    """A double-quoted Python string literal for ``text``."""
    return json.dumps(text, ensure_ascii=False)


def function_source(source: str, qualname: str, filename: str = "<source>") -> str:
    """The lines of ``qualname``'s ``def``, from the ``def`` line to its last line."""
    node = _def_or_fail(source, qualname, filename)
    return "".join(source.splitlines(keepends=True)[node.lineno - 1:node.end_lineno])


def replace_function(source: str, qualname: str, new_def: str, filename: str = "<source>") -> str:
    """``source`` with ``qualname``'s ``def`` (from the ``def`` line to its end) replaced by
    ``new_def`` (decorators above the ``def`` stay as they are)."""
    node = _def_or_fail(source, qualname, filename)
    lines = source.splitlines(keepends=True)
    return "".join(lines[:node.lineno - 1]) + new_def + "".join(lines[node.end_lineno:])


def is_stub(source: str, qualname: str, filename: str = "<source>") -> bool:
    """True when ``qualname``'s body (after what a stub keeps) is a single ``raise NotImplementedError``."""
    body = _def_or_fail(source, qualname, filename).body
    rest = body[_kept(body):]
    if len(rest) != 1 or not isinstance(rest[0], ast.Raise) or rest[0].exc is None:
        return False
    exc = rest[0].exc.func if isinstance(rest[0].exc, ast.Call) else rest[0].exc
    return isinstance(exc, ast.Name) and exc.id == "NotImplementedError"
