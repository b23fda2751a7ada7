"""The epoch loop of a run: train, validate, keep the best weights, checkpoint after each epoch.

``train_epochs`` runs until the epoch budget or the patience ends it and returns the run's
``RunRecord`` (epochs, history, best weights and metrics, seconds, peak memory). A checkpoint
follows every epoch, so Ctrl-C, SIGTERM or a stopped rank leaves the last finished epoch
on disk, and the message names the command that continues the run.
"""
from __future__ import annotations

import math
import time

from . import data, distributed
from .checkpoint import NotFinite, save_checkpoint, saved_epoch
from .errors import UserError
from .progress import LOGGER
from .progress import bar as progress_bar
from .ranking import evaluate
from .run_config import shared_settings
from .run_record import Run, RunRecord, run_peaks
from .schedule import lr_at


def showing_progress(cfg, group) -> bool:
    """Progress bars (or lines) for this process: rank 0 alone, unless asked for none."""
    return not cfg.no_progress and cfg.verbose >= 1 and group.is_main


def run_epoch(backend, split, cfg, model_cfg, epoch, progress: bool) -> tuple[float, float]:
    """One pass over the training prefixes. Returns (mean loss, examples per second)."""
    n = data.n_train_examples(split.train)
    per_epoch = math.ceil(n / cfg.batch_size)
    bar = progress_bar(data.train_batches(split.train, model_cfg.max_len, cfg.batch_size, cfg.seed, epoch,
                                          cfg.item_dropout),
                       total=per_epoch, desc=f"epoch {epoch + 1}/{cfg.epochs}", unit="batch",
                       enabled=progress, lines=False)   # no bar: the epoch line says it
    warmup = round(cfg.warmup_epochs * per_epoch)
    total, seen, start = 0.0, 0, time.perf_counter()
    for batch, (item_seq, targets) in enumerate(bar, start=1):
        backend.set_lr(lr_at(epoch * per_epoch + batch - 1, cfg.epochs * per_epoch, cfg.lr,
                             warmup, cfg.schedule))
        loss = backend.step(item_seq, targets)
        if not math.isfinite(loss):
            raise UserError(f"training diverged: the loss is {loss} at epoch {epoch + 1}, batch {batch}; "
                            f"the last good checkpoint (after epoch {epoch}) is kept; "
                            f"try a smaller learning rate (--lr)")
        total += loss * len(targets)
        seen += len(targets)
        bar.set_postfix(loss=f"{loss:.3f}", ex_s=f"{seen / (time.perf_counter() - start):.0f}")
    return total / max(seen, 1), seen / (time.perf_counter() - start)


def train_epochs(run: Run, record: RunRecord | None, continue_with: str) -> RunRecord:
    """Epochs until cfg.epochs or cfg.patience; ``record``: a resumed run's record, or None."""
    cfg, group, backend, out = run.cfg, run.group, run.backend, run.out
    fresh = record is None
    if fresh:
        record = RunRecord(best_params=backend.params())
    progress = showing_progress(cfg, group)

    def peaks_so_far() -> list:
        """Each rank's high-water mark so far, its earlier processes' included (a resumed run
        reports the peak of all of them, not only of the process that finishes it)."""
        return run_peaks(record.peak_memory_mib, group.objects(distributed.peak_memory_mib()))

    on_disk = {"epoch": record.epoch}     # the epoch of the checkpoint a stop leaves behind

    def checkpoint():
        if group.is_main:
            try:
                save_checkpoint(out, {"meta": run.meta, "settings": shared_settings(cfg, run.meta["data_name"]),
                                      "params": backend.params(), "backend_state": backend.state(),
                                      "run": record.to_dict()})
            except NotFinite as err:
                raise UserError(f"training diverged: the state after epoch {record.epoch} ({err}); the last good "
                                f"checkpoint (after epoch {on_disk['epoch']}) is kept; try a smaller learning "
                                f"rate (--lr)") from None
        on_disk["epoch"] = record.epoch
        # kept for the next save; gathered after this one, so a dead rank cannot cost it
        record.peak_memory_mib = peaks_so_far()

    if fresh:
        checkpoint()
    try:
        while record.epoch < cfg.epochs and record.bad_epochs < cfg.patience:
            start = time.perf_counter()
            loss, speed = run_epoch(backend, run.split, cfg, run.model_cfg, record.epoch, progress)
            trained = time.perf_counter()
            valid = evaluate(backend, run.split.valid_history, run.split.valid_target, run.model_cfg.max_len,
                             cfg.eval_batch(), mask_history=cfg.mask_history)
            record.seconds += time.perf_counter() - start
            record.epoch += 1
            record.history.append({"epoch": record.epoch, "loss": loss, "valid": valid,
                                   "examples_per_s": speed})
            better = valid["NDCG@10"] > record.best
            if better:
                record.best, record.best_params, record.bad_epochs = valid["NDCG@10"], backend.params(), 0
                record.best_epoch, record.best_valid = record.epoch, valid
            else:
                record.bad_epochs += 1
            LOGGER.info(f"epoch {record.epoch:>3}  loss {loss:.4f}  valid HR@10 {valid['HR@10']:.4f}  "
                        f"NDCG@10 {valid['NDCG@10']:.4f}  {speed:,.0f} ex/s{'  *' if better else ''}")
            LOGGER.debug(f"      training {trained - start:.1f} s, validation {time.perf_counter() - trained:.1f} s, "
                         f"valid MRR@10 {valid['MRR@10']:.4f}, best NDCG@10 {record.best:.4f} "
                         f"(epoch {record.best_epoch or 0}), {record.bad_epochs} epochs without a better one")
            checkpoint()
    except (KeyboardInterrupt, distributed.RankStopped) as stop:
        # a stop deferred until a checkpoint was complete arrives before on_disk is updated
        on_disk = {"epoch": (saved_epoch(out) if group.is_main else None) or on_disk["epoch"]}
        LOGGER.warning(f"\ninterrupted: the checkpoint after epoch {on_disk['epoch']} is in {out}; "
                       f"continue with: {continue_with}")
        raise SystemExit(143 if isinstance(stop, distributed.Terminated) else 130) from None
    record.peak_memory_mib = peaks_so_far()
    return record
