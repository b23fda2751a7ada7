"""Data-parallel training under torchrun: one process per GPU (or CPU slot), DDP gradients.

    torchrun --nproc-per-node K -m tiny_mmmlp.train --backend torch|triton ...

torchrun starts K copies of the training command and tells each its RANK, WORLD_SIZE and
LOCAL_RANK; ``setup`` turns them into a ``Group`` (NCCL on CUDA, gloo on the CPU). Without
torchrun ``setup`` returns a group of one and nothing here changes the single-process run.

Training. Every rank draws the same shuffled global batch of B prefixes (the order depends on
seed and epoch only) and keeps its own contiguous rows, n_r of them (``share``). It
backpropagates its mean loss L_r scaled by n_r·K/B, and DDP averages the gradients over the K
ranks, so every rank applies

    (1/K) Σ_r (n_r·K/B) ∇L_r  =  Σ_r (n_r/B) ∇L_r  =  ∇(mean loss over the B rows)

the gradient of the one-process step on the same batch, exact up to floating-point reduction
order; ``--batch-size`` stays the global batch. A rank left without rows (a last batch
smaller than K) runs one row with weight 0 so that it still joins the gradient all-reduce.

Evaluation. Rank r ranks a contiguous block of whole evaluation batches, the very batches one
process would form, and the integer ranks are gathered in rank order (``gather``): the
metrics equal a one-process evaluation of the same weights exactly.

Dropout. Rank 0 keeps the generator a single process would use (saved with the checkpoint);
rank r > 0 reseeds before each step from (seed, r, step), so a run resumes exactly. The masks
of a K-process run therefore differ from one process's (same distribution, other draws):
with dropout > 0 the runs agree statistically, with dropout 0 to rounding.

Output. Rank 0 alone prints, shows progress bars and writes files; the stdout of the other
ranks goes to /dev/null (their stderr stays, for errors). Ctrl-C reaches every local rank;
torchrun stops the others with SIGTERM when one fails, a rank that loses a peer in a
collective stops with one line on stderr, and every rank gets SIGTERM when the launcher itself
dies (even by ``kill -9``: a parent-death signal). The last checkpoint written stays.
"""
from __future__ import annotations

import contextlib
import datetime
import inspect
import os
import signal
import sys

import numpy as np

from .errors import UserError

TORCHRUN_VARS = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")
TIMEOUT = datetime.timedelta(minutes=30)        # a hung (not dead) peer: give up after this


class RankStopped(Exception):
    """This rank stops because torchrun told it to, or because a peer went away."""


def launched_by_torchrun() -> bool:
    """True when torchrun (or a launcher setting the same variables) started this process."""
    return all(v in os.environ for v in TORCHRUN_VARS)


class Group:
    """Who this process is among the K training processes, and the few collectives training uses.

    With ``world_size == 1`` every method is a plain local operation.
    """

    def __init__(self, rank=0, world_size=1, local_rank=0, device="cpu"):
        self.rank, self.world_size, self.local_rank = rank, world_size, local_rank
        self.device = device
        self.stopping = False           # set by the first stop; later signals are then ignored

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def share(self, n) -> slice:
        """This rank's contiguous rows of n (sizes as np.array_split: they differ by at most 1)."""
        base, extra = divmod(n, self.world_size)
        lo = self.rank * base + min(self.rank, extra)
        return slice(lo, lo + base + (self.rank < extra))

    def eval_span(self, n, batch_size) -> tuple[int, int]:
        """Rows [lo, hi) of n made of whole batches of batch_size, this rank's block of them."""
        batches = self.share((n + batch_size - 1) // batch_size)
        return min(batches.start * batch_size, n), min(batches.stop * batch_size, n)

    def _collective(self, fn, *args, **kwargs):
        """Run a torch.distributed call; a lost peer becomes one line and ``RankStopped``."""
        import torch.distributed as dist
        try:
            return fn(*args, **kwargs)
        except (dist.DistError, RuntimeError) as err:
            raise self.lost(err) from None

    def stopped(self, why) -> RankStopped:
        """``RankStopped(why)``, after saying why on stderr (the only output other ranks keep)."""
        self.stopping = True            # first: a signal arriving from here on is ignored
        print(f"rank {self.rank}: stopping: {why}", file=sys.stderr, flush=True)
        return RankStopped(why)

    def lost(self, err) -> RankStopped:
        return self.stopped(f"lost contact with another rank ({str(err).splitlines()[0]})")

    def gather(self, values: np.ndarray) -> np.ndarray:
        """Every rank's 1-D int64 array concatenated in rank order (lengths may differ)."""
        values = np.asarray(values, dtype=np.int64)
        if self.world_size == 1:
            return values
        import torch
        import torch.distributed as dist
        n = torch.tensor([len(values)], device=self.device)
        sizes = [torch.zeros_like(n) for _ in range(self.world_size)]
        self._collective(dist.all_gather, sizes, n)
        width = max(int(s) for s in sizes)
        mine = torch.zeros(width, dtype=torch.int64, device=self.device)
        mine[:len(values)] = torch.from_numpy(values).to(self.device)
        parts = [torch.zeros_like(mine) for _ in range(self.world_size)]
        self._collective(dist.all_gather, parts, mine)
        return np.concatenate([p[:int(s)].cpu().numpy() for p, s in zip(parts, sizes)])

    def sum(self, value: float) -> float:
        """The sum of ``value`` over all ranks (float64)."""
        if self.world_size == 1:
            return value
        import torch
        import torch.distributed as dist
        t = torch.tensor([value], dtype=torch.float64, device=self.device)
        self._collective(dist.all_reduce, t)
        return float(t)

    def objects(self, obj) -> list:
        """Every rank's ``obj`` (picklable, small), in rank order."""
        if self.world_size == 1:
            return [obj]
        import torch.distributed as dist
        out = [None] * self.world_size
        self._collective(dist.all_gather_object, out, obj)
        return out

    def on_main(self, fn):
        """``fn()`` run on rank 0 only; its result, or its ``UserError``, reaches every rank."""
        if self.world_size == 1:
            return fn()
        import torch.distributed as dist
        box = [None]
        if self.is_main:
            try:
                box = [("ok", fn())]
            except UserError as err:
                box = [("error", str(err))]
        self._collective(dist.broadcast_object_list, box, src=0)
        kind, value = box[0]
        if kind == "error":
            raise UserError(value)
        return value

    @contextlib.contextmanager
    def main_first(self):
        """Rank 0 runs the block first (filling caches), then the other ranks (reading them)."""
        if self.world_size > 1 and not self.is_main:
            self.barrier()
        try:
            yield
        finally:                                 # on an error too: the others then meet it
            if self.world_size > 1 and self.is_main:
                self.barrier()

    def barrier(self):
        import torch.distributed as dist
        self._collective(dist.barrier)

    def wrap(self, backend, seed):
        """The backend itself for one process; else a ``DataParallel`` around it."""
        return backend if self.world_size == 1 else DataParallel(backend, self, seed)

    def close(self):
        """Meet every rank (none tears down while another still talks), then leave the group."""
        if self.world_size > 1:
            self.barrier()
            shutdown()


def run_then_exit(main):
    """Run a torchrun worker's ``main()``, then leave with ``os._exit`` and its exit code.

    A finished worker skips the interpreter's teardown on purpose: DDP's reducer keeps the
    gloo process group alive after ``destroy_process_group``, and when the interpreter
    destroys it late, gloo's threads abort the process ("terminate called without an active
    exception", SIGABRT), which torchrun reports as a failed rank although the run had
    finished (seen in about one in three test-suite runs). Output is flushed first; every
    file the run writes is complete before this point (temporary file, then rename).
    """
    code = 0
    try:
        main()
    except SystemExit as stop:
        if isinstance(stop.code, str):
            print(stop.code, file=sys.stderr)
        code = stop.code if isinstance(stop.code, int) else (0 if stop.code is None else 1)
    except BaseException:                                 # noqa: BLE001 - reported, then exit 1
        import traceback
        traceback.print_exc()
        code = 1
    finally:
        shutdown()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(code)


def shutdown():
    """Destroy the process group if one is still up: also on an error or a stopped rank, so
    gloo's threads never outlive the interpreter (their teardown then aborts the process)."""
    import torch.distributed as dist
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def setup(backend: str, device: str | None) -> Group:
    """Join the torchrun job this process belongs to, or return a group of one.

    The group's ``device`` is the one this process trains on: ``device`` itself in a group of
    one (None: the backend's default). Under torchrun with K > 1 it is the rank's device
    (``--device cuda`` becomes ``cuda:LOCAL_RANK``, and the process group NCCL; the CPU uses
    gloo); stdout is silenced on ranks other than 0 (callers show progress on rank 0 only),
    and torchrun's SIGTERM becomes ``RankStopped`` (``stop_on_signals``). Any worker stops
    when its launcher dies (``stop_with_launcher``).
    """
    if not launched_by_torchrun():
        return Group(device=device)
    stop_with_launcher()
    if backend == "numpy":
        raise UserError("--backend numpy runs in one process (it splits each batch over the CPU "
                        "cores itself); under torchrun use --backend torch or --backend triton")
    rank, world = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
    local = int(os.environ["LOCAL_RANK"])
    if world == 1:
        return Group(device=device)
    import torch
    import torch.distributed as dist
    triton_gpu = backend == "triton" and torch.cuda.is_available()
    device = device or ("cuda" if triton_gpu else "cpu")          # the backends' own defaults
    if device.startswith("cuda:"):
        raise UserError(f"--device {device}: under torchrun each process takes the GPU numbered by "
                        f"its LOCAL_RANK; pass --device cuda")
    if device == "cuda":
        if not torch.cuda.is_available():
            raise UserError("--device cuda: CUDA is not available on this machine")
        device = f"cuda:{local}"
        torch.cuda.set_device(device)
    elif device != "cpu":
        raise UserError(f"--device {device}: choose cpu or cuda")
    dist.init_process_group("nccl" if device.startswith("cuda") else "gloo", timeout=TIMEOUT,
                            **({"device_id": torch.device(device)} if device != "cpu" else {}))
    group = Group(rank, world, local, device)
    if not group.is_main:
        sys.stdout = open(os.devnull, "w")          # noqa: SIM115  (lives as long as the process)

    stop_on_signals(group)
    return group


PR_SET_PDEATHSIG = 1                            # prctl(2), Linux
_launcher = None                                # the launcher's pid, once stop_with_launcher ran


def stop_with_launcher() -> bool:
    """Ask Linux to send this worker SIGTERM when its parent, the torchrun launcher, dies (even
    by ``kill -9``), so that ranks never train on alone; a launcher already gone stops it now.

    Returns whether the request took (False off Linux, where nothing changes). torchrun starts
    its workers from its main thread, so the signal comes only when the launcher itself ends.
    """
    global _launcher
    if not sys.platform.startswith("linux"):
        return False
    import ctypes
    parent = os.getppid()
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0) != 0:
            return False
    except (OSError, AttributeError):
        return False
    _launcher = parent
    if os.getppid() != parent:                  # it died before the request was made
        os.kill(os.getpid(), signal.SIGTERM)
    return True


def launcher_gone(wait: float = 0.0) -> bool:
    """Whether the launcher this worker started under has died (its parent changed), waiting
    up to ``wait`` seconds: a launcher killed while it has several threads hands its children
    to a live thread of its own first, so the parent changes a moment after the signal."""
    import time
    end = time.monotonic() + wait
    while _launcher is not None:
        if os.getppid() != _launcher:
            return True
        if time.monotonic() >= end:
            break
        time.sleep(0.02)
    return False


def stop_on_signals(group: Group) -> None:
    """Stop this rank once on Ctrl-C (SIGINT) or torchrun's SIGTERM, and only once.

    The first stop raises (``KeyboardInterrupt``, or ``RankStopped`` for SIGTERM) and is
    caught by the training loop, which then says where the checkpoint is. torchrun sends its
    SIGTERM right after a peer dies, often while this rank is already stopping because a
    collective lost that peer; raised again there, it would cut that message short (exit 1,
    no "interrupted" line). So once the group is stopping, signals are ignored.
    """
    def on_signal(signum, frame):
        if group.stopping:
            return
        if signum == signal.SIGINT:
            group.stopping = True
            raise KeyboardInterrupt
        if launcher_gone(wait=0.5):
            raise group.stopped("its launcher (torchrun) died, so this rank stops with it")
        raise group.stopped("torchrun stopped this rank (another rank failed or was interrupted)")
    signal.signal(signal.SIGTERM, on_signal)
    if signal.getsignal(signal.SIGINT) is not signal.SIG_IGN:     # a background job keeps it off
        signal.signal(signal.SIGINT, on_signal)


class Terminated(KeyboardInterrupt):
    """SIGTERM in a run outside torchrun: stops it as Ctrl-C does (``terminate_as_interrupt``)."""


@contextlib.contextmanager
def terminate_as_interrupt():
    """Within: SIGTERM (``kill``, a benchmark driver ending its runs) raises ``Terminated``, so
    a one-process run stops as on Ctrl-C and says where its checkpoint is and how to go on.
    The previous handler comes back after. Only the main thread can set one; elsewhere (and
    under torchrun, where ``stop_on_signals`` handles SIGTERM) this does nothing."""
    import threading
    if launched_by_torchrun() or threading.current_thread() is not threading.main_thread():
        yield
        return

    def on_sigterm(signum, frame):
        signal.signal(signal.SIGTERM, signal.SIG_IGN)      # once: a second kill waits for the first
        raise Terminated

    saved = signal.signal(signal.SIGTERM, on_sigterm)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, saved)


def peak_memory_mib() -> float | None:
    """This process's peak resident memory in MiB (Linux/macOS), or None where unknown.

    On Linux it is VmHWM, the high-water mark of this program's own memory. Not ru_maxrss:
    Linux carries a parent's peak across fork and exec into the child's ru_maxrss, so a run
    started by a large process (a benchmark driver holding data sets) would report the
    driver's peak instead of its own.
    """
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return round(int(line.split()[1]) / 2**10, 1)         # kB -> MiB
    except OSError:
        pass
    try:
        import resource
    except ImportError:
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return round(peak / (2**20 if sys.platform == "darwin" else 2**10), 1)


def _loss_module(model):
    """An nn.Module whose forward is ``model.loss``: DDP syncs gradients of what runs through it."""
    from torch import nn

    class Loss(nn.Module):
        def __init__(self):
            super().__init__()
            self.model = model

        def forward(self, item_seq, targets):
            return self.model.loss(item_seq, targets)

    return Loss()


class DataParallel:
    """A torch or triton backend trained with DistributedDataParallel; the backend's interface.

    ``step`` takes the global batch, trains on this rank's share and returns the global mean
    loss; ``ranks``, ``params``, ``load_params`` are the backend's own; evaluation shares its
    batches through ``group`` (see ``tiny_mmmlp.evaluate``).
    """

    def __init__(self, backend, group: Group, seed: int):
        if not (hasattr(backend, "opt") and hasattr(getattr(backend, "model", None), "loss")):
            raise UserError(f"--backend {backend.name}: cannot train data-parallel under torchrun")
        import torch
        from torch.nn.parallel import DistributedDataParallel
        self.torch, self.backend, self.group, self.seed, self.steps = torch, backend, group, seed, 0
        dev = torch.device(group.device)
        # the feature tables are frozen buffers: no need to broadcast them every step
        spelling = inspect.signature(DistributedDataParallel).parameters     # newer torch:
        no_sync = ({"forward_sync_buffers": False} if "forward_sync_buffers" in spelling
                   else {"broadcast_buffers": False})
        self.ddp = DistributedDataParallel(_loss_module(backend.model), **no_sync,
                                           device_ids=[dev.index] if dev.type == "cuda" else None)

    def __getattr__(self, name):
        return getattr(self.backend, name)

    def _t(self, a):
        return self.torch.from_numpy(np.ascontiguousarray(a, dtype=np.int64)).to(self.group.device)

    def step(self, item_seq, targets):
        torch, b, K, B = self.torch, self.backend, self.group.world_size, len(targets)
        rows = self.group.share(B)
        n = rows.stop - rows.start
        if n == 0:                                   # no rows here: one row with weight 0
            rows = slice(0, 1)
        if self.group.rank > 0:                      # dropout masks of this rank, resumable
            torch.manual_seed(int(np.random.SeedSequence([self.seed, self.group.rank, self.steps])
                                  .generate_state(1)[0]))
        b.model.train()
        b.opt.zero_grad(set_to_none=True)
        loss = self.ddp(self._t(item_seq[rows]), self._t(targets[rows]))   # mean over this rank's rows
        try:
            (loss * (n * K / B)).backward()           # DDP averages over K: the global-batch mean
        except RuntimeError as err:                  # gloo/NCCL: a peer went away mid all-reduce
            raise self.group.lost(err) from None
        b.opt.step()
        self.steps += 1
        return self.group.sum(float(loss.detach()) * n / B)

    def state(self):
        return {**self.backend.state(), "ddp_steps": self.steps}

    def load_state(self, state):
        self.backend.load_state({k: v for k, v in state.items() if k != "ddp_steps"})
        self.steps = int(state.get("ddp_steps", 0))
