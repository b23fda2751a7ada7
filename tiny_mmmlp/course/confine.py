"""Who a grading child runs as, and what it may write (Linux).

- **User.** A grader running as root starts each child as an unprivileged user (``nobody``,
  or ``--child-user``): it cannot signal the grader, write the installed package or the
  output files (both root's), or read other users' private files. Where that user cannot
  reach the Python interpreter (a Python installed under ``/root``), the child keeps one
  capability, ``CAP_DAC_READ_SEARCH``: it reads and searches every folder, and writes nothing
  more than the user may; the report says so.
- **Landlock** (Linux 5.13+, any user): the child may create, change or remove files only
  inside its scratch folder (and write ``/dev/null``); from kernel ABI 4 it cannot open or
  accept TCP connections, from ABI 6 it cannot signal a process outside its own tree (the
  grader included) or reach an abstract Unix socket outside it.
- **Processes.** ``RLIMIT_NPROC`` counts the processes of the child's user: the limit is
  what that user already runs plus ``NPROC_PER_CHILD`` per child graded at once.

Everything here happens in the forked child before ``exec`` (``preexec``); what needs
looking up (the user, the Landlock ABI) is looked up before, in the grader.
"""
from __future__ import annotations

import ctypes
import os
import pwd
import stat
import sys
from dataclasses import dataclass
from pathlib import Path

from ..errors import UserError

NPROC_PER_CHILD = 64
PR_SET_KEEPCAPS, PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, PR_SET_NO_NEW_PRIVS = 8, 47, 2, 38
CAP_DAC_READ_SEARCH = 2
LANDLOCK_CREATE_RULESET, LANDLOCK_ADD_RULE, LANDLOCK_RESTRICT_SELF = 444, 445, 446
WRITE_FILE, TRUNCATE = 1 << 1, 1 << 14
# what changes the file system: write, remove dir/file, make char/dir/reg/sock/fifo/block/sym
CHANGES = [WRITE_FILE | sum(1 << b for b in range(4, 13)), 1 << 13, TRUNCATE]   # ABI 1, + refer (2), + truncate (3)


def _libc():
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.syscall.restype = ctypes.c_long
        return libc
    except OSError:
        return None


LIBC = _libc()


def landlock_abi() -> int:
    """The kernel's Landlock ABI version, 0 where there is none."""
    if LIBC is None:
        return 0
    abi = LIBC.syscall(LANDLOCK_CREATE_RULESET, None, ctypes.c_size_t(0), ctypes.c_uint32(1))
    return max(0, int(abi))


@dataclass(frozen=True)
class ChildUser:
    """The user a child runs as: None (the grader's own) or a uid/gid to switch to."""
    name: str | None = None
    uid: int | None = None
    gid: int | None = None
    read_all: bool = False        # keep CAP_DAC_READ_SEARCH (the interpreter is out of its reach)

    @property
    def switches(self) -> bool:
        return self.uid is not None


def reachable(path, uid: int, gid: int) -> bool:
    """Whether ``uid`` (group ``gid``, no others) can search every folder down to ``path``
    and read ``path`` itself."""
    path = Path(os.path.realpath(path))
    for part in [*reversed(path.parents), path]:
        try:
            info = os.stat(part)
        except OSError:
            return False
        need = stat.S_IXOTH if part != path or stat.S_ISDIR(info.st_mode) else stat.S_IROTH
        if info.st_uid == uid:
            need <<= 6
        elif info.st_gid == gid:
            need <<= 3
        if not info.st_mode & need:
            return False
    return True


def child_user(name: str | None, needed: list) -> ChildUser:
    """The child's user: as root, ``name`` (default ``nobody``); otherwise the grader's own
    (``name`` refused). ``needed``: the paths the child must reach (interpreter, libraries)."""
    if os.name != "posix" or os.geteuid() != 0:
        if name:
            raise UserError(f"--child-user {name}: only a grader running as root can start its children "
                            "as another user")
        return ChildUser()
    name = name or "nobody"
    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        raise UserError(f"--child-user {name}: no such user on this machine") from None
    if entry.pw_uid == 0:
        raise UserError(f"--child-user {name}: that is root; name an unprivileged user")
    read_all = not all(reachable(p, entry.pw_uid, entry.pw_gid) for p in needed)
    return ChildUser(name, entry.pw_uid, entry.pw_gid, read_all)


def each_process(filename: str):
    """(pid, the bytes of /proc/<pid>/<filename>) of every process this one may read, or None
    where there is no /proc (not Linux). A process that ends meanwhile is passed over."""
    try:
        names = [n for n in os.listdir("/proc") if n.isdigit()]
    except OSError:
        return None
    found = []
    for name in names:
        try:
            with open(f"/proc/{name}/{filename}", "rb") as f:
                found.append((int(name), f.read()))
        except OSError:
            continue
    return found


def tasks_of(uid: int) -> int | None:
    """How many tasks (threads included, as RLIMIT_NPROC counts them) ``uid`` runs now;
    None where there is no /proc to count them in."""
    processes = each_process("status")
    if processes is None:
        return None
    count = 0
    for _, status in processes:
        try:
            fields = dict(line.split(b":", 1) for line in status.splitlines() if b":" in line)
            if int(fields[b"Uid"].split()[0]) == uid:
                count += int(fields[b"Threads"].strip())
        except (KeyError, ValueError, IndexError):
            continue
    return count


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]


class _PathBeneath(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


def _check(result, what):
    if result < 0:
        raise OSError(ctypes.get_errno(), f"{what} failed")


def switch_user(user: ChildUser) -> None:
    """In the child, as root: become ``user`` (no supplementary groups), keeping only
    CAP_DAC_READ_SEARCH across exec where ``user.read_all``."""
    if user.read_all:
        _check(LIBC.prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0), "PR_SET_KEEPCAPS")
    os.setgroups([])
    os.setgid(user.gid)
    os.setuid(user.uid)
    if user.read_all:
        header, data = _CapHeader(0x20080522, 0), (_CapData * 2)()
        data[0].effective = data[0].permitted = data[0].inheritable = 1 << CAP_DAC_READ_SEARCH
        _check(LIBC.capset(ctypes.byref(header), ctypes.byref(data)), "capset")
        _check(LIBC.prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, CAP_DAC_READ_SEARCH, 0, 0), "PR_CAP_AMBIENT")
    if os.getuid() != user.uid or os.geteuid() != user.uid:
        os._exit(1)


def landlock(abi: int, folder: str) -> None:
    """In the child: changes to the file system only inside ``folder`` (and writes to
    /dev/null); no TCP (ABI 4+); no signals or abstract sockets out of the child's tree (ABI 6+)."""
    if abi <= 0:
        return
    handled = sum(CHANGES[:min(abi, 3)])
    attr = (ctypes.c_uint64 * 3)(handled, 0b11 if abi >= 4 else 0, 0b11 if abi >= 6 else 0)
    size = 8 * (3 if abi >= 6 else 2 if abi >= 4 else 1)
    ruleset = LIBC.syscall(LANDLOCK_CREATE_RULESET, ctypes.byref(attr), ctypes.c_size_t(size), ctypes.c_uint32(0))
    _check(ruleset, "landlock_create_ruleset")
    for path, allowed in ((folder, handled), ("/dev/null", handled & (WRITE_FILE | TRUNCATE))):
        fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
        rule = _PathBeneath(allowed, fd)
        _check(LIBC.syscall(LANDLOCK_ADD_RULE, ctypes.c_int(ruleset), ctypes.c_int(1), ctypes.byref(rule),
                            ctypes.c_uint32(0)), "landlock_add_rule")
        os.close(fd)
    _check(LIBC.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "PR_SET_NO_NEW_PRIVS")
    _check(LIBC.syscall(LANDLOCK_RESTRICT_SELF, ctypes.c_int(ruleset), ctypes.c_uint32(0)), "landlock_restrict_self")
    os.close(ruleset)


def give_folder(folder: Path, user: ChildUser) -> None:
    """Hand the scratch folder ``folder`` (made by the grader) to the child's user."""
    if not user.switches:
        return
    for root, dirs, files in os.walk(folder):
        for name in [root, *(os.path.join(root, n) for n in dirs + files)]:
            os.lchown(name, user.uid, user.gid)
