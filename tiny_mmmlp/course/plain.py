"""Plain data across the grader's process boundary: one ``.npz`` file, never a pickle.

A tree of tuples, lists, dicts with string keys, None, bools, ints, floats, strings and
NumPy arrays of numbers is saved as its arrays plus a JSON description of the tree (the
member ``__tree__``, UTF-8 bytes). Anything else a function returns (an object of the
student's own class, a generator, an array of objects) is saved as ``Opaque`` with its type
name only, so the reader learns what it was and nothing runs when it is read back.

``load`` trusts nothing in the file: it must be a regular file under a size limit, every
member an uncompressed array of numbers whose header fits the bytes it holds, and the tree
at most ``MAX_DEPTH`` deep. Anything else raises ``Unreadable``.

This file imports only the standard library and NumPy: the grader's child process runs a
copy of it next to the student's code, without the rest of the package.
"""
from __future__ import annotations

import json
import os
import stat
import zipfile
from io import BytesIO

import numpy as np

MAX_DEPTH = 16
MAX_NODES = 200_000
MAX_TEXT = 2_000          # characters kept of a string
NUMBER_KINDS = "biufc"    # bool, int, unsigned, float, complex
TREE = "__tree__"


class Unreadable(Exception):
    """The file is not a tree this module wrote (or it breaks one of the limits)."""


class Opaque:
    """Something that is not plain data, known only by its type name."""

    def __init__(self, type_name: str):
        self.type_name = str(type_name)[:200]

    def __repr__(self):
        return f"Opaque({self.type_name!r})"


def type_name(x) -> str:
    return x.type_name if isinstance(x, Opaque) else type(x).__name__


def _pack(x, arrays: dict, depth: int):
    if len(arrays) > MAX_NODES:
        return ["opaque", f"data of more than {MAX_NODES} arrays"]
    if depth > MAX_DEPTH:
        return ["opaque", f"data nested more than {MAX_DEPTH} deep"]
    if x is None:
        return ["none"]
    if isinstance(x, Opaque):
        return ["opaque", x.type_name]
    if type(x) is bool:
        return ["bool", x]
    if type(x) is int:
        return ["int", x] if abs(x) < 2**63 else ["float", float(x)]
    if type(x) is float:
        return ["float", x]
    if type(x) is str:
        return ["str", x[:MAX_TEXT]]
    if type(x) in (tuple, list):
        return [type(x).__name__, [_pack(v, arrays, depth + 1) for v in x]]
    if type(x) is dict and all(type(k) is str for k in x):
        return ["dict", [[k[:MAX_TEXT], _pack(v, arrays, depth + 1)] for k, v in x.items()]]
    try:
        a = np.asarray(x)
    except Exception:
        return ["opaque", type(x).__name__]
    if a.dtype.kind not in NUMBER_KINDS:
        return ["opaque", type(x).__name__]
    key = f"a{len(arrays)}"
    arrays[key] = np.ascontiguousarray(a)
    return ["array", key]


def save(path, tree) -> None:
    """Write ``tree`` to ``path`` (an ``.npz``), through a temporary sibling and a rename."""
    arrays: dict = {}
    spec = _pack(tree, arrays, 0)
    arrays[TREE] = np.frombuffer(json.dumps(spec).encode("utf-8"), dtype=np.uint8)
    buf = BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as zf:
        for key, a in arrays.items():
            with zf.open(f"{key}.npy", "w", force_zip64=True) as member:
                np.lib.format.write_array(member, a, allow_pickle=False)
    tmp = f"{path}.part"
    with open(tmp, "wb") as f:
        f.write(buf.getvalue())
    os.replace(tmp, path)


def read_regular_file(path, max_bytes: int, follow: bool = False) -> bytes:
    """The bytes of ``path`` if it is a regular file (not a FIFO or device; not a symbolic
    link either unless ``follow``) of at most ``max_bytes``; opened without blocking, so a
    FIFO cannot hang the reader."""
    flags = os.O_RDONLY | os.O_NONBLOCK | (0 if follow else getattr(os, "O_NOFOLLOW", 0))
    try:
        fd = os.open(path, flags)
    except OSError as err:
        raise Unreadable(f"cannot open it ({err.strerror or err})") from None
    with os.fdopen(fd, "rb") as f:
        info = os.fstat(f.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise Unreadable("it is not a regular file")
        if info.st_size > max_bytes:
            raise Unreadable(f"it holds more than {max_bytes} bytes")
        data = f.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise Unreadable(f"it holds more than {max_bytes} bytes")
    return data


def _member(zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> np.ndarray:
    if info.compress_type != zipfile.ZIP_STORED or info.file_size != info.compress_size:
        raise Unreadable(f"member {info.filename!r} is compressed")
    with zf.open(info) as f:
        try:
            version = np.lib.format.read_magic(f)
            read_header = {(1, 0): np.lib.format.read_array_header_1_0,
                           (2, 0): np.lib.format.read_array_header_2_0}.get(version)
            if read_header is None:
                raise Unreadable(f"member {info.filename!r} has .npy version {version}")
            shape, fortran, dtype = read_header(f)
        except (ValueError, SyntaxError, OSError, TypeError) as err:
            raise Unreadable(f"member {info.filename!r} has a bad header ({err})") from None
        if dtype.kind not in NUMBER_KINDS or dtype.hasobject:
            raise Unreadable(f"member {info.filename!r} is not an array of numbers")
        if float(np.prod(shape, dtype=np.float64)) * dtype.itemsize > info.file_size - f.tell():
            raise Unreadable(f"member {info.filename!r} is shorter than its header says")
        count = int(np.prod(shape))
        data = f.read(count * dtype.itemsize)
        if len(data) != count * dtype.itemsize:
            raise Unreadable(f"member {info.filename!r} is cut short")
    a = np.frombuffer(data, dtype=dtype).copy()
    return a.reshape(shape, order="F" if fortran else "C")


def load(path, max_bytes: int = 64 * 2**20):
    """The tree saved in ``path`` by ``save``; ``Unreadable`` for anything else."""
    data = read_regular_file(path, max_bytes)
    try:
        zf = zipfile.ZipFile(BytesIO(data))
        infos = {i.filename: i for i in zf.infolist()}
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as err:
        raise Unreadable(f"it is not an .npz file ({err})") from None
    if len(infos) > MAX_NODES or f"{TREE}.npy" not in infos:
        raise Unreadable("it holds no tree")
    try:
        spec = json.loads(_member(zf, infos[f"{TREE}.npy"]).tobytes().decode("utf-8"))
    except (ValueError, RecursionError, UnicodeDecodeError) as err:
        raise Unreadable(f"its tree is not JSON ({type(err).__name__})") from None
    return _unpack(spec, zf, infos, 0)


def _unpack(spec, zf, infos, depth: int):
    if depth > MAX_DEPTH + 1:
        raise Unreadable(f"its tree is nested more than {MAX_DEPTH} deep")
    if not isinstance(spec, list) or not spec or not isinstance(spec[0], str):
        raise Unreadable("its tree has a malformed node")
    tag, rest = spec[0], spec[1:]
    if tag == "none" and not rest:
        return None
    if len(rest) != 1:
        raise Unreadable(f"its tree has a malformed {tag!r} node")
    value = rest[0]
    simple = {"bool": bool, "int": int, "float": (int, float), "str": str}
    if tag in simple and isinstance(value, simple[tag]) and (tag == "bool" or not isinstance(value, bool)):
        return float(value) if tag == "float" else value
    if tag == "opaque" and isinstance(value, str):
        return Opaque(value)
    if tag in ("tuple", "list") and isinstance(value, list):
        items = [_unpack(v, zf, infos, depth + 1) for v in value]
        return tuple(items) if tag == "tuple" else items
    if tag == "dict" and isinstance(value, list) and all(
            isinstance(kv, list) and len(kv) == 2 and isinstance(kv[0], str) for kv in value):
        return {k: _unpack(v, zf, infos, depth + 1) for k, v in value}
    if tag == "array" and isinstance(value, str) and f"{value}.npy" in infos and value != TREE:
        return _member(zf, infos[f"{value}.npy"])
    raise Unreadable(f"its tree has a malformed {tag!r} node")
