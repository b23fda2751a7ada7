"""Messages and progress: the ``tiny_mmmlp`` logger, and the one rule for bars against lines.

    from .progress import LOGGER, bar
    LOGGER.info("epoch 1 ...")                     # a message: routed, filtered or silenced by logging
    for batch in bar(batches, total=n, desc="evaluating", unit="batch"):
        ...

Messages (the epoch lines, the test table, "wrote ...") go through the ``logging`` logger
``tiny_mmmlp``: INFO for what a run says, DEBUG for details, WARNING for what needs a look.
The library adds no handler on its own, so a program routes them like any library's; the
commands call ``show_messages``, which prints them to standard output as ``print`` did, and
``tiny_mmmlp.fit`` calls it only when nothing in the program handles the logger yet.

Progress follows one rule (``progress_mode``). Where someone watches, tqdm.auto's bar: a
widget in a notebook (lines where ipywidgets is missing), a text bar on a terminal's standard error. Where standard error is a
file or a pipe, no bar: a redrawn bar is thousands of lines in a log. There a training epoch
shows as its one epoch line, and a long pass (evaluation, recommending for every user,
feature extraction, downloads) logs a line every ``LINE_SECONDS`` on the logger
``tiny_mmmlp.progress`` (standard error under ``show_messages``, so standard output keeps
only what a command writes there, a CSV for one).
"""
from __future__ import annotations

import logging
import sys
import time

LOGGER = logging.getLogger("tiny_mmmlp")
PROGRESS = logging.getLogger("tiny_mmmlp.progress")
LINE_SECONDS = 10.0             # between two progress lines where no bar is drawn
VERBOSITY = {0: logging.WARNING, 1: logging.INFO, 2: logging.DEBUG}
VERBOSE_HELP = "0: warnings only (no progress, no epoch lines), 1: progress and one line per epoch, 2: also details"


class _StreamHandler(logging.Handler):
    """Writes each message and a newline to ``sys.stdout`` or ``sys.stderr`` as they are at the
    time (so a redirected or captured stream gets them), flushed, as ``print(..., flush=True)``."""

    def __init__(self, stream_name: str):
        super().__init__()
        self.stream_name = stream_name

    def emit(self, record):
        try:
            stream = getattr(sys, self.stream_name)
            stream.write(self.format(record) + "\n")
            stream.flush()
        except Exception:  # noqa: BLE001 - logging's own rule: a failing handler must not raise
            self.handleError(record)


def show_messages(verbose: int = 1) -> None:
    """Print the messages of ``tiny_mmmlp`` at ``verbose`` (VERBOSITY) to standard output and its
    progress lines to standard error, as bare text. Calling it again only changes the level."""
    LOGGER.setLevel(VERBOSITY[verbose])
    for logger, stream in ((LOGGER, "stdout"), (PROGRESS, "stderr")):
        if not any(isinstance(h, _StreamHandler) for h in logger.handlers):
            handler = _StreamHandler(stream)
            handler.setFormatter(logging.Formatter("%(message)s"))
            logger.addHandler(handler)
    PROGRESS.propagate = False          # its lines go to standard error only


def show_messages_unless_handled(verbose: int = 1) -> None:
    """``show_messages`` for Python callers: only where the program handles none of the messages
    of ``tiny_mmmlp`` yet (no handler on it or above it); else only the level is set."""
    if LOGGER.hasHandlers() and not any(isinstance(h, _StreamHandler) for h in LOGGER.handlers):
        LOGGER.setLevel(VERBOSITY[verbose])
    else:
        show_messages(verbose)


def _in_notebook() -> bool:
    """True in a Jupyter kernel (tqdm's own test: an IPython shell run by IPKernelApp)."""
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None and hasattr(ipython, "get_ipython") else None
    return shell is not None and "IPKernelApp" in getattr(shell, "config", {})


def progress_mode(enabled: bool = True) -> str:
    """The one rule: "widget" in a notebook, "bar" on a terminal, "lines" where standard error
    is a file or a pipe, "off" when progress is not wanted or the logger's own level is above
    INFO (verbose 0; a program that sets no level on it keeps the bars)."""
    if not enabled or LOGGER.level > logging.INFO:
        return "off"
    if _in_notebook():
        return "widget"
    isatty = getattr(sys.stderr, "isatty", None)
    return "bar" if isatty is not None and isatty() else "lines"


class _Lines:
    """tqdm's small surface (iterate, update, set_postfix, close, ``with``) as a line on the
    ``tiny_mmmlp.progress`` logger every LINE_SECONDS; nothing for a pass shorter than that."""

    def __init__(self, iterable, total, desc, unit, quiet, start=0):
        self.iterable, self.total, self.desc, self.unit, self.quiet = iterable, total, desc, unit, quiet
        self.n, self.start = start, time.monotonic()
        self.last = self.start

    def __iter__(self):
        for item in self.iterable:
            yield item
            self.update(1)

    def update(self, n=1):
        self.n += n
        now = time.monotonic()
        if not self.quiet and now - self.last >= LINE_SECONDS:
            self.last = now
            done = f"{self.n:,}/{self.total:,}" if self.total else f"{self.n:,}"
            share = f" ({100 * self.n / self.total:.0f}%)" if self.total else ""
            PROGRESS.info(f"{self.desc}: {done} {self.unit}{share}, {now - self.start:.0f} s")

    def set_postfix(self, *args, **kwargs):
        pass

    def close(self):
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def bar(iterable=None, total=None, desc: str = "", unit: str = "it", enabled: bool = True,
        lines: bool = True, leave: bool = False, **tqdm_kw):
    """A progress bar over ``iterable`` (or one advanced by ``update``) by ``progress_mode``:
    tqdm.auto's bar or widget, or, where no bar is drawn, a line every LINE_SECONDS
    (``lines=False``: nothing, for a pass that reports itself otherwise, like an epoch)."""
    if total is None and iterable is not None and hasattr(iterable, "__len__"):
        total = len(iterable)
    mode = progress_mode(enabled)
    if mode in ("widget", "bar"):    # tqdm.auto's choice, made for each bar rather than once at import
        if mode == "widget":
            from tqdm import notebook
            tqdm = notebook.tqdm if notebook.IProgress is not None else None   # None: no ipywidgets
        else:
            from tqdm import tqdm
        if tqdm is not None:         # (a notebook without ipywidgets gets lines, not text bars)
            return tqdm(iterable, total=total, desc=desc, unit=unit, leave=leave, **tqdm_kw)
    return _Lines(iterable, total, desc, unit, quiet=mode == "off" or not lines, start=tqdm_kw.get("initial", 0))
