"""Ctrl-C and ``kill`` wait for a write in progress to finish.

Python raises ``KeyboardInterrupt`` (or, in a run, ``distributed.Terminated``) at whatever
line runs when the signal lands. Inside ``np.savez`` that can be between opening a zip member
and entering its ``with``: the zip's ``close`` in numpy's ``finally`` then raises
``ValueError`` ("an open writing handle") in place of the interrupt, and the run ends with a
traceback and exit 1 instead of its "interrupted ... continue with" line (exit 130). Landing
between a checkpoint's two files, it would leave the previous epoch's checkpoint on disk
while the message names the current one.

``with held():`` records SIGINT and SIGTERM instead, and after the block delivers each that
came, once, to the handler that was in place before: the write is whole, then the run stops
as it would have. A signal the process ignores stays ignored. Only the main thread can set
handlers; elsewhere ``held`` does nothing.
"""
from __future__ import annotations

import contextlib
import signal
import threading

HELD = (signal.SIGINT, signal.SIGTERM)


@contextlib.contextmanager
def held():
    """Within: SIGINT and SIGTERM are noted, then delivered after the block (see above)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    came: list[int] = []

    def note(signum, frame):
        came.append(signum)

    saved = {}
    for signum in HELD:
        before = signal.getsignal(signum)
        if before is not None and before is not signal.SIG_IGN:   # None: set outside Python
            saved[signum] = signal.signal(signum, note)
    try:
        yield
    finally:
        for signum, before in saved.items():
            signal.signal(signum, before)
        for signum in dict.fromkeys(came):                          # each once, in order
            signal.raise_signal(signum)
