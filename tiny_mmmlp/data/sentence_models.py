"""Load a sentence-transformers model by folder or by name, without touching the process's environment.

A folder (the bundled MiniLM) and a name already in the Hugging Face cache load with
``local_files_only=True``: no network at all. Any other name needs the network once; when the
model hub cannot be reached that ends in one sentence at once, instead of the hub client's
minute of retries. Loaded models are kept for the life of the process (width, then encoding).
"""
from __future__ import annotations

import contextlib
import importlib.util
import urllib.error
import urllib.request

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


def load_model(name: str, flag: str, progress: bool = False, size_hint: str = ""):
    """The ``SentenceTransformer`` for ``name`` (a folder or a model name), on the CPU.

    flag: the option the user chose it with, for the error sentences (``--text-encoder``).
    """
    if name in _LOADED:
        return _LOADED[name]
    if not installed():
        raise UserError(f"{flag} {name}: needs sentence-transformers (pip install 'tiny_mmmlp[text]').")
    from sentence_transformers import SentenceTransformer

    with _transformers_bars(progress):                  # its "Loading weights" bar too
        try:
            model = SentenceTransformer(name, device="cpu", local_files_only=True)
        except (OSError, ValueError):
            if not hub_reachable():
                raise UserError(f"{flag} {name}: the model is not in the Hugging Face cache and {HUB} "
                                f"cannot be reached; it needs the network once{size_hint}, or choose an "
                                f"encoder that works offline (see --help).") from None
            try:
                model = SentenceTransformer(name, device="cpu")
            except (OSError, ValueError) as err:
                raise UserError(f"{flag} {name}: not a sentence-transformers model that could be "
                                f"loaded ({type(err).__name__}: {str(err).splitlines()[0]}).") from None
    _LOADED[name] = model
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
