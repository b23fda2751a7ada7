"""Load a sentence-transformers model by folder or by name, without touching the process's environment.

A folder (the bundled MiniLM) and a name already in the Hugging Face cache load with
``local_files_only=True``: no network at all. Any other name needs the network once; when the
model hub cannot be reached that ends in one sentence at once, instead of the hub client's
minute of retries. Loaded models are kept for the life of the process (width, then encoding).

A folder is named as a path (absolute, or starting with ``./``, ``../`` or ``~``); anything
else is a hub name, and a folder of that name in the current folder is refused rather than
loaded in its place. ``files_key`` identifies a model by its files (the folder's listing, or
the hub snapshot's commit), so the feature cache never serves one model's table for another.
"""
from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import os
import urllib.error
import urllib.request
from pathlib import Path

from ..errors import UserError

HUB = "https://huggingface.co"
_LOADED: dict = {}


def installed() -> bool:
    return importlib.util.find_spec("sentence_transformers") is not None


def hub_reachable(timeout: float = 5.0) -> bool:
    """Whether the model hub answers at all (any HTTP status counts as an answer)."""
    try:
        urllib.request.urlopen(urllib.request.Request(HUB, method="HEAD"), timeout=timeout).close()
    except urllib.error.HTTPError:
        return True
    except (urllib.error.URLError, OSError, ValueError):
        return False
    return True


def is_folder_name(name: str) -> bool:
    """Whether ``name`` names a folder (a path) rather than a model on the hub."""
    return os.path.isabs(name) or name.startswith(("./", "../", "~")) or name in (".", "..")


def where(name: str, flag: str) -> str:
    """What to load for ``name``: the folder it names as a path, or the hub name itself; a hub
    name that a folder in the current folder also answers to is refused, never loaded instead."""
    if is_folder_name(name):
        folder = Path(name).expanduser()
        if not folder.is_dir():
            raise UserError(f"{flag} {name}: no such folder (a model folder is given as a path, a hub "
                            f"model by its name).")
        return str(folder)
    if os.path.lexists(name):
        raise UserError(f"{flag} {name}: a file or folder of that name is in the current folder, so it is "
                        f"not clear which is meant; give ./{name} for the folder, or run from another folder "
                        f"for the hub model.")
    return name


def _listing_digest(folder: Path, most: int = 10_000) -> str:
    """SHA-256 (16 hex) of a folder's files: names, sizes and modification times."""
    h = hashlib.sha256()
    for n, path in enumerate(sorted(p for p in folder.rglob("*") if p.is_file())):
        if n >= most:
            break
        st = path.stat()                                  # a hub snapshot's links: their blobs
        h.update(f"{path.relative_to(folder)}\t{st.st_size}\t{st.st_mtime_ns}\n".encode())
    return h.hexdigest()[:16]


def files_key(name: str, flag: str = "--text-encoder") -> str:
    """The identity of the model ``name`` loads, by its files: a folder's listing digest, or the
    hub snapshot's commit ("uncached" before the first download: the next run keys it anew)."""
    found = where(name, flag)
    if is_folder_name(name):
        return _listing_digest(Path(found))
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:
        return "uncached"
    for repo in ([name] if "/" in name else [f"sentence-transformers/{name}", name]):
        try:
            config = try_to_load_from_cache(repo, "config.json")
        except ValueError:                                # not a valid repository id
            continue
        if isinstance(config, str):
            return f"{repo}@{Path(config).parent.name}"
    return "uncached"


def load_model(name: str, flag: str, progress: bool = False, size_hint: str = ""):
    """The ``SentenceTransformer`` for ``name`` (a folder or a model name), on the CPU.

    flag: the option the user chose it with, for the error sentences (``--text-encoder``).
    """
    target = where(name, flag)
    key = os.path.abspath(target) if is_folder_name(name) else name      # a folder by where it is
    if key in _LOADED:
        return _LOADED[key]
    if not installed():
        raise UserError(f"{flag} {name}: needs sentence-transformers (pip install 'tiny_mmmlp[text]').")
    from sentence_transformers import SentenceTransformer

    with _transformers_bars(progress):                  # its "Loading weights" bar too
        try:
            model = SentenceTransformer(target, device="cpu", local_files_only=True)
        except (OSError, ValueError) as err:
            if is_folder_name(name):                    # a folder never sends anyone to the hub
                raise UserError(f"{flag} {name}: the folder holds no sentence-transformers model that loads "
                                f"({type(err).__name__}).") from None
            if not hub_reachable():
                raise UserError(f"{flag} {name}: the model is not in the Hugging Face cache and {HUB} "
                                f"cannot be reached; it needs the network once{size_hint}, or choose an "
                                f"encoder that works offline (see --help).") from None
            try:
                model = SentenceTransformer(target, device="cpu")
            except (OSError, ValueError) as err:
                raise UserError(f"{flag} {name}: not a sentence-transformers model that could be "
                                f"loaded ({type(err).__name__}: {str(err).splitlines()[0]}).") from None
    _LOADED[key] = model
    return model


def width(model) -> int:
    dim = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
    return int(dim())


@contextlib.contextmanager
def _transformers_bars(shown: bool):
    """transformers' own progress bars (loading a model's weights) on or off for the block."""
    try:
        from transformers.utils import logging as hf_logging
    except ImportError:                                 # an older layout: its default bars
        yield
        return
    was = hf_logging.is_progress_bar_enabled()
    (hf_logging.enable_progress_bar if shown else hf_logging.disable_progress_bar)()
    try:
        yield
    finally:
        (hf_logging.enable_progress_bar if was else hf_logging.disable_progress_bar)()
