"""Child processes that leave nothing behind.

Each child starts in a process group of its own (setsid), under resource limits set
between fork and exec: CPU seconds, address space, file size, processes of its user, no core
file; then (``confine``) it becomes the child user where the grader is root and confines its
writes to its scratch folder (Landlock); on Linux it also dies with the grader
(``PR_SET_PDEATHSIG``). Its output goes to files, never to a pipe, and
the grader waits on the process itself, so a descendant that keeps the output open cannot
stall it. ``Child.stop`` kills the whole group. ``Reaper`` makes the grader a subreaper (Linux)
while it runs: a descendant that left the group (``setsid``, double fork) is handed to the
grader when its parent dies, and ``sweep`` kills and reaps it. ``stop_on_signals`` turns
SIGTERM and SIGHUP into the exception ``Stopped``, so the same ``finally`` that handles
Ctrl-C cleans up.
"""
from __future__ import annotations

import contextlib
import ctypes
import os
import resource
import shutil
import signal
import stat
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from . import confine

PR_SET_PDEATHSIG, PR_SET_CHILD_SUBREAPER, PR_GET_CHILD_SUBREAPER = 1, 36, 37
SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def _libc():
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(None, use_errno=True)
    except OSError:
        return None


LIBC = _libc()


class Stopped(BaseException):
    """The grader was sent SIGTERM or SIGHUP."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


@dataclass(frozen=True)
class Limits:
    cpu_seconds: int
    memory_bytes: int
    file_bytes: int
    processes: int = 0                  # RLIMIT_NPROC (0: left as it is)
    user: confine.ChildUser = confine.ChildUser()
    landlock_abi: int = 0


def _capped(which: int, want: int) -> tuple:
    """(soft, hard) of ``want``, lowered to the limit the grader itself already has."""
    hard = resource.getrlimit(which)[1]
    value = want if hard == resource.RLIM_INFINITY else min(want, hard)
    return value, value


def _preexec(limits: Limits, parent: int, folder: str):
    settings = [(resource.RLIMIT_CORE, (0, 0)),
                (resource.RLIMIT_CPU, _capped(resource.RLIMIT_CPU, limits.cpu_seconds)),
                (resource.RLIMIT_AS, _capped(resource.RLIMIT_AS, limits.memory_bytes)),
                (resource.RLIMIT_FSIZE, _capped(resource.RLIMIT_FSIZE, limits.file_bytes))]
    if limits.processes and hasattr(resource, "RLIMIT_NPROC"):
        settings.append((resource.RLIMIT_NPROC, _capped(resource.RLIMIT_NPROC, limits.processes)))

    def apply():                       # in the child, between fork and exec: no allocation-heavy work
        for which, value in settings:
            resource.setrlimit(which, value)
        if limits.user.switches:
            confine.switch_user(limits.user)
        confine.landlock(limits.landlock_abi, folder)
        if LIBC is not None:
            LIBC.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
            if os.getppid() != parent:
                os._exit(1)
    return apply


class Child:
    """One child process: started at once, in a group of its own, output to two files."""

    def __init__(self, cmd, cwd: Path, env: dict, limits: Limits, time_limit: float):
        self.cwd, self.time_limit = Path(cwd), time_limit
        with open(self.cwd / "stdout.txt", "wb") as out, open(self.cwd / "stderr.txt", "wb") as err:
            self.proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=out,
                                         stderr=err, start_new_session=True, close_fds=True,
                                         preexec_fn=_preexec(limits, os.getpid(), str(self.cwd)))
        self.started = time.monotonic()
        self.timed_out = False
        self.returncode = None

    @property
    def pid(self) -> int:
        return self.proc.pid

    def finished(self) -> bool:
        """True once the child exited (its group is then killed) or ran out of time (killed)."""
        if self.returncode is not None:
            return True
        try:        # exited? WNOWAIT keeps the zombie, so its pid (the group's id) cannot be reused yet
            exited = os.waitid(os.P_PID, self.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None
        except ChildProcessError:
            exited = True
        if not exited and time.monotonic() - self.started <= self.time_limit:
            return False
        self.timed_out = not exited
        self.stop()
        return True

    def stop(self) -> None:
        """Kill the child's whole process group and reap the child."""
        for kill in (lambda: os.killpg(self.pid, signal.SIGKILL), lambda: os.kill(self.pid, signal.SIGKILL)):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                kill()
        self.returncode = self.proc.wait()

    def stderr_tail(self, limit: int = 4096) -> str:
        try:
            with open(self.cwd / "stderr.txt", "rb") as f:
                f.seek(max(0, os.fstat(f.fileno()).st_size - limit))
                return f.read(limit).decode("utf-8", "replace")
        except OSError:
            return ""


def children_of(pid: int) -> set:
    """The pids whose parent is ``pid`` (Linux: read from /proc; elsewhere empty)."""
    found = set()
    for child, stat_line in confine.each_process("stat") or []:
        fields = stat_line.rsplit(b")", 1)[-1].split()
        if len(fields) > 1 and fields[1].isdigit() and int(fields[1]) == pid:
            found.add(child)
    return found


class Reaper:
    """Between ``open`` and ``close`` this process adopts its orphaned descendants (Linux);
    ``sweep`` (and ``close``) kills and reaps them."""

    def __init__(self):
        self.before, self.was, self.opened = set(), 0, False

    def open(self):
        self.before, self.opened = children_of(os.getpid()), True
        if LIBC is not None:
            flag = ctypes.c_int(0)
            LIBC.prctl(PR_GET_CHILD_SUBREAPER, ctypes.byref(flag), 0, 0, 0)
            self.was = flag.value
            LIBC.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
        return self

    def sweep(self, keep=()) -> None:
        """Kill and reap every child of this process that was not there before, except ``keep``."""
        for _ in range(200):
            strays = children_of(os.getpid()) - self.before - set(keep)
            if not strays:
                return
            for pid in strays:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signal.SIGKILL)
            for pid in strays:
                with contextlib.suppress(ChildProcessError):
                    os.waitpid(pid, 0)

    def close(self) -> None:
        if not self.opened:
            return
        self.sweep()
        if LIBC is not None:
            LIBC.prctl(PR_SET_CHILD_SUBREAPER, self.was, 0, 0, 0)
        self.opened = False


@contextlib.contextmanager
def stop_on_signals():
    """SIGTERM and SIGHUP raise ``Stopped`` (once) in the main thread while open."""
    def handler(signum, frame):
        raise Stopped(signum)

    old = {}
    with contextlib.suppress(ValueError):          # not the main thread: leave signals alone
        for s in (signal.SIGTERM, signal.SIGHUP):
            old[s] = signal.signal(s, handler)
    try:
        yield
    finally:
        for s, h in old.items():
            signal.signal(s, h)


@contextlib.contextmanager
def signals_held():
    """Hold Ctrl-C, SIGTERM and SIGHUP while cleaning up; they arrive when it is done."""
    held = hasattr(signal, "pthread_sigmask")
    if held:
        signal.pthread_sigmask(signal.SIG_BLOCK, SIGNALS)
    try:
        yield
    finally:
        if held:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, SIGNALS)


def usage(folder: Path, stop_at: int = 100_000) -> tuple:
    """(entries, bytes) under ``folder``: files, folders and links, their sizes as ``lstat``
    gives them (a sparse file counts at its full size); counting stops at ``stop_at`` entries."""
    entries = size = 0
    for root, dirs, files in os.walk(folder):
        for name in dirs + files:
            entries += 1
            with contextlib.suppress(OSError):
                size += os.lstat(os.path.join(root, name)).st_size
        if entries >= stop_at:
            break
    return entries, size


def remove_tree(path: Path) -> None:
    """Delete ``path`` entirely, even where a child took the permissions off a folder in it
    (links are never followed)."""
    def unlock(folder):
        if not os.path.islink(folder):
            with contextlib.suppress(OSError):
                os.chmod(folder, stat.S_IRWXU)

    unlock(path)
    for folder, dirs, _ in os.walk(path):
        for d in dirs:
            unlock(os.path.join(folder, d))
    shutil.rmtree(path, ignore_errors=True)
