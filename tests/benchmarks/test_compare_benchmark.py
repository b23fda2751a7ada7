"""benchmarks/compare.py: the order of its runs, the command of each, its table and its checks of
finished runs (training only one-epoch toyshop-tiny runs)."""
import importlib.util
import json
import os
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "compare.py"
spec = importlib.util.spec_from_file_location("compare", SCRIPT)
compare = importlib.util.module_from_spec(spec)
spec.loader.exec_module(compare)


def test_seed_zero_of_every_set_and_model_comes_before_any_further_seed():
    runs = compare.plan(["toyshop", "toyshop-tiny"], ["mmmlp", "sasrec", "gru4rec"], compare.SEEDS, "")
    seeds = [seed for *_, seed in runs]
    assert seeds == sorted(seeds)                        # seed-major order
    first = [r for r in runs if r[3] == 0]
    assert {(name, model) for name, model, _, _ in first} == {
        (n, m) for n in ("toyshop", "toyshop-tiny") for m in ("mmmlp", "sasrec", "gru4rec")}
    assert ("toyshop", "mmmlp", "all", 0) in first       # toyshop has side modalities
    assert {seed for _, model, _, seed in runs if model == "gru4rec"} == {0, 1, 2}   # three for every model
    assert len(runs) == len(set(runs))


def test_seeds_caps_the_seeds_of_every_model():
    assert compare.seeds_of(SimpleNamespace(seeds=0)) == compare.SEEDS
    assert compare.seeds_of(SimpleNamespace(seeds=1)) == {m: 1 for m in compare.SEEDS}
    runs = compare.plan(["toyshop-tiny"], ["mmmlp", "sasrec"], compare.seeds_of(SimpleNamespace(seeds=2)), "")
    assert sorted({seed for *_, seed in runs}) == [0, 1]
    assert compare.variant_flags(SimpleNamespace(seeds=1, flags="--history-bias")) == \
        " --seeds 1 --flags=--history-bias"
    assert compare.variant_flags(SimpleNamespace(sets="scientific", models=compare.DEFAULT_MODELS,
                                                 seeds=0, flags="")) == " --sets scientific"


def test_every_planned_command_is_one_train_py_accepts_with_the_same_budget():
    from tiny_mmmlp.run_flags import resolve_flags
    for flags in ("", "--no-history-bias --weight-decay 0.05"):
        args = SimpleNamespace(data_root="/data", runs_dir="/runs", epochs=60, patience=3, device="",
                               flags=flags)
        for run in compare.plan(["toyshop-tiny"], ["mmmlp", "sasrec", "gru4rec"], compare.SEEDS, ""):
            cmd, out = compare.quality_command(args, *run)
            assert cmd[:3] == [sys.executable, "-m", "tiny_mmmlp.train"]
            a = resolve_flags(cmd[3:])
            assert (a.model, a.epochs, a.patience, a.seed) == (run[1], 60, 3, run[3])
            assert a.out == str(out) and out.parent == Path("/runs")
            assert (a.history_bias, a.weight_decay) == ((False, 0.05) if flags else (True, 0.0))
            if run[3] == 0:                              # the memory pass: one epoch of seed 0
                cmd, out = compare.memory_command(args, *run[:3])
                m = resolve_flags(cmd[3:])
                assert (m.epochs, m.seed, m.overwrite, m.model) == (1, 0, True, run[1])
                assert m.out == str(out) and out.parent == Path("/runs/memory")


def _fake_run(runs_dir, name, model, mods, seed, ndcg, valid=None):
    """A finished run's compare.json; ``valid``: its validation NDCG@10 in the record (a float),
    only in the run's metrics.json ("metrics.json", a record from before compare.json kept it,
    validation at 1.5 × ndcg) or nowhere (None)."""
    out = compare.run_dir(runs_dir, name, model, mods, seed)
    out.mkdir(parents=True)
    metrics = {"HR@10": 2 * ndcg, "NDCG@10": ndcg, "MRR@10": ndcg / 2}
    record = {"test": metrics, "test_masked": metrics, "popularity": metrics, "epochs": 9, "best_epoch": 6,
              "seconds_per_epoch": 3.0, "seed": seed, "modalities": ["id"] if mods == "id" else ["id", "text"],
              "peak_rss_gb": 0.5}
    if isinstance(valid, float):
        record["valid"] = {"NDCG@10": valid}
    elif valid == "metrics.json":
        from tiny_mmmlp.run_flags import resolve_flags
        request = SimpleNamespace(data_root="", runs_dir=runs_dir, epochs=60, patience=3, device="", flags="")
        ran = resolve_flags(compare.quality_command(request, name, model, mods, seed)[0][3:])
        settings = ran.for_data(*compare.data_sizes(ran.data)).to_dict()    # as a run saves them
        (out / "metrics.json").write_text(json.dumps({"valid": {"NDCG@10": 1.5 * ndcg}, "test": metrics,
                                                      "settings": settings}))
    (out / "compare.json").write_text(json.dumps(record))


def test_the_table_judges_the_targets_from_the_finished_runs_and_draws_the_scaling(tmp_path):
    args = SimpleNamespace(data_root="", runs_dir=str(tmp_path / "runs"), sets="toyshop-tiny",
                           models="mmmlp,sasrec", epochs=60, patience=3, out=str(tmp_path / "compare.md"),
                           note="", set="beauty", device="", flags="")
    for seed in range(3):
        _fake_run(args.runs_dir, "toyshop-tiny", "mmmlp", "id", seed, 0.040 + 0.001 * seed,
                  None if seed == 2 else 0.06)
        _fake_run(args.runs_dir, "toyshop-tiny", "mmmlp", "all", seed, 0.050 + 0.001 * seed, 0.07 + 0.002 * seed)
        _fake_run(args.runs_dir, "toyshop-tiny", "sasrec", "id", seed, 0.045 + 0.001 * seed, "metrics.json")
    # peak RSS: the memory pass where it ran, else the runs' own VmHWM, else not measured
    mem = compare.memory_path(args.runs_dir, "toyshop-tiny", "mmmlp", "all")
    mem.parent.mkdir()
    mem.write_text(json.dumps({"peak_rss_gb": 0.42}))
    rec = compare.run_dir(args.runs_dir, "toyshop-tiny", "sasrec", "id", 1) / "compare.json"
    rec.write_text(json.dumps({**json.loads(rec.read_text()), "peak_rss_source": "VmHWM",
                               "peak_rss_gb": 0.61}))
    scaling = tmp_path / "runs" / "scaling"
    scaling.mkdir()
    for model, cost in (("mmmlp", {50: 1.0, 800: 15.0}), ("sasrec", {50: 1.0, 800: 90.0})):
        for n, s in cost.items():
            (scaling / f"{model}-{n}.json").write_text(json.dumps({
                "model": model, "max_len": n, "s_per_1000": s, "peak_rss_gb": 1.0, "batches": 5,
                "batch_size": 256}))
    compare.write_table(args)
    text = Path(args.out).read_text()
    assert ("| toyshop-tiny | mmmlp | id,text | 3 of 3 | 0.1020 ± 0.0020 | 0.0510 ± 0.0010 | "
            "0.0255 ± 0.0005 | 0.0510 ± 0.0010 | 0.0720 ± 0.0020 | 9 (6), 9 (6), 9 (6) |") in text
    # validation: from the record, else read once from the run's metrics.json and kept; a row
    # with a seed that has neither shows none
    assert "| toyshop-tiny | sasrec | id | 3 of 3 | 0.0920 ± 0.0020 | 0.0460 ± 0.0010 | 0.0230 ± 0.0005 | " \
           "0.0460 ± 0.0010 | 0.0690 ± 0.0015 |" in text
    kept = json.loads((compare.run_dir(args.runs_dir, "toyshop-tiny", "sasrec", "id", 0) / "compare.json").read_text())
    assert kept["valid"] == {"NDCG@10": 0.045 * 1.5}
    assert "| toyshop-tiny | mmmlp | id | 3 of 3 | 0.0820 ± 0.0020 | 0.0410 ± 0.0010 | 0.0205 ± 0.0005 | " \
           "0.0410 ± 0.0010 | - |" in text
    rows = {tuple(c.strip() for c in line.split("|")[1:4]): line.split("|")[-2].strip()
            for line in text.split("## Each run")[0].splitlines() if line.startswith("| toyshop-tiny |")}
    assert rows[("toyshop-tiny", "mmmlp", "id,text")] == "0.42"
    assert rows[("toyshop-tiny", "sasrec", "id")] == "0.61"
    assert rows[("toyshop-tiny", "mmmlp", "id")] == "-"            # wait4 figures are not shown
    assert "toyshop-tiny sasrec all seed 0" in text                      # listed as not run
    assert "toyshop-tiny, all: MMMLP vs SASRec not measured yet." in text
    assert "toyshop-tiny mmmlp 0.0510 vs 0.0410 (above)" in text
    assert ("**MMMLP's time per 1,000 examples at most linear from 50 to 800, and below SASRec's at "
            "800**: met (15.0× for 16× the length; 0.17× SASRec's time at 800)") in text
    assert (tmp_path / "compare-scaling.png").stat().st_size > 1000
    # each seed's own figures stay on record below the means (modalities as planned)
    each = text.split("## Each run")[1]
    assert "| toyshop-tiny | mmmlp | all | 2 | 0.1040 | 0.0520 | 0.0260 | 0.0520 | 0.0740 | 9 (6) | 3.0 |" in each
    assert "| toyshop-tiny | mmmlp | id | 2 | 0.0840 | 0.0420 | 0.0210 | 0.0420 | - | 9 (6) | 3.0 |" in each
    assert sum(line.startswith("| toyshop-tiny |") for line in each.splitlines()) == 9


def test_masked_test_ranks_a_baselines_saved_model_and_never_lowers_a_metric(tmp_path):
    import subprocess

    from training_run import masked_test
    out = tmp_path / "run"
    subprocess.run([sys.executable, "-m", "tiny_mmmlp.train", "--data", "toyshop-tiny", "--backend", "torch",
                    "--model", "gru4rec", "--modalities", "id", "--epochs", "1", "--out", str(out),
                    "--no-progress"], check=True, capture_output=True, cwd=SCRIPT.parents[1])
    plain = json.loads((out / "metrics.json").read_text())["test"]
    masked = masked_test(out)
    assert set(masked) == set(plain)
    assert all(masked[k] >= plain[k] - 1e-12 for k in plain)
    assert any(masked[k] > plain[k] for k in plain)           # toyshop histories do hold rivals


def test_a_variants_table_has_no_empty_scaling_section(tmp_path):
    args = SimpleNamespace(data_root="", runs_dir=str(tmp_path / "runs"), sets="toyshop-tiny",
                           models="mmmlp", epochs=60, patience=3, out=str(tmp_path / "variant.md"),
                           note="", set="beauty", flags="--no-history-bias")
    _fake_run(args.runs_dir, "toyshop-tiny", "mmmlp", "id", 0, 0.04)
    compare.write_table(args)
    text = Path(args.out).read_text()
    assert "compare.py quality --sets toyshop-tiny --models mmmlp --flags=--no-history-bias`" in text
    assert "| toyshop-tiny | mmmlp | id |" in text
    assert "## Cost in sequence length" not in text and not (tmp_path / "variant-scaling.png").exists()


def test_a_finished_run_trained_with_other_flags_is_refused_not_tabled(tmp_path):
    from tiny_mmmlp.run_flags import resolve_flags
    args = SimpleNamespace(data_root="", runs_dir=str(tmp_path / "runs"), sets="toyshop-tiny", models="mmmlp",
                           epochs=60, patience=3, out=str(tmp_path / "t.md"), note="", set="beauty",
                           device="", flags="")
    run = ("toyshop-tiny", "mmmlp", "id", 0)
    _fake_run(args.runs_dir, *run, 0.04)
    cmd, out = compare.quality_command(args, *run)
    asked = resolve_flags(cmd[3:])
    ran = asked.for_data(*compare.data_sizes(asked.data))   # as a run saves what its data decided
    metrics = {"valid": {"NDCG@10": 0.05}, "modalities": ["id"], "config": ran.model_config(["id"]).to_dict()}

    def saved(**changes):
        (out / "metrics.json").write_text(json.dumps({**metrics, "settings": {**ran.to_dict(), **changes}}))

    saved()                                              # the request's own settings: tabled
    compare.check_flags(args, run)
    assert (ran.dropout, ran.negatives) == (0.6, 0)      # toyshop-tiny: a small set, a small catalogue
    for changes, said in (({"lr": 0.001}, "--lr 0.001 -> 0.002"), ({"epochs": 20}, "--epochs 20 -> 60"),
                          ({"history_bias": False}, "--history-bias False -> True"),
                          ({"dropout": 0.4}, "--dropout 0.4 -> 0.6")):   # the default before it followed the size
        saved(**changes)
        with pytest.raises(compare.UserError, match=f"{out}: finished with other flags.*{said}"):
            compare.write_table(args)
    saved(lr=0.001)                                      # ...which a table of that variant takes
    compare.check_flags(SimpleNamespace(**{**vars(args), "flags": "--lr 0.001"}), run)


def test_a_finished_run_without_its_record_is_taken_up_again_not_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(compare, "masked_test", lambda out, source=None: {})
    args = SimpleNamespace(data_root="", runs_dir=str(tmp_path), epochs=1, patience=3, device="", flags="")
    cmd, out = compare.quality_command(args, "toyshop-tiny", "gru4rec", "id", 0)
    first = compare.train_once(cmd, out)
    (out / "compare.json").unlink()              # the table stopped after training, before its record
    again = compare.train_once(cmd, out)
    assert again["command"].endswith("--resume") and not first["command"].endswith("--resume")
    assert again["test"] == first["test"] and again["epochs"] == first["epochs"] == 1


def test_a_damaged_record_in_the_runs_folder_is_one_sentence_not_a_traceback(tmp_path):
    args = SimpleNamespace(data_root="", runs_dir=str(tmp_path / "runs"), sets="toyshop-tiny", models="mmmlp",
                           epochs=60, patience=3, out=str(tmp_path / "t.md"), note="", set="beauty",
                           device="", flags="")
    _fake_run(args.runs_dir, "toyshop-tiny", "mmmlp", "id", 0, 0.04)
    record = compare.run_dir(args.runs_dir, "toyshop-tiny", "mmmlp", "id", 0) / "compare.json"
    for damage in (b'{"test": {"NDCG@1', b"[1, 2]", b"\xff\xfe"):
        record.write_bytes(damage)
        with pytest.raises(compare.UserError, match=f"{record}: not a readable record"):
            compare.write_table(args)
    assert not Path(args.out).exists()


def _run_alive(folder: Path) -> bool:
    """True while a training run holds ``folder``'s lock (run_folder.RunLock: flock, for the
    life of the run; the kernel drops it when the process ends)."""
    import fcntl
    lock = folder / ".lock"
    if not lock.exists():
        return False
    with open(lock, "a") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(f, fcntl.LOCK_UN)
        return False


@pytest.mark.slow
def test_killing_the_driver_ends_its_runs_and_starts_no_queued_one(tmp_path):
    import signal
    import subprocess
    import time
    runs = tmp_path / "runs"
    driver = subprocess.Popen(
        [sys.executable, str(SCRIPT), "quality", "--data-root", "", "--sets", "toyshop-tiny",
         "--models", "mmmlp", "--jobs", "2", "--epochs", "500", "--patience", "500",
         "--runs-dir", str(runs), "--out", str(tmp_path / "t.md")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        deadline = time.monotonic() + 300            # two runs going (of six planned)
        while len([d for d in runs.glob("*") if _run_alive(d)]) < 2:
            assert driver.poll() is None and time.monotonic() < deadline, driver.communicate()
            time.sleep(0.2)
        driver.send_signal(signal.SIGTERM)           # `kill` of the driver, as a user would
        _, err = driver.communicate(timeout=120)
    finally:
        os.killpg(driver.pid, signal.SIGKILL) if driver.poll() is None else None
    assert driver.returncode == 130 and "interrupted" in err, err[-2000:]
    folders = sorted(runs.glob("*"))
    assert len(folders) == 2, folders                # the queued runs never started
    assert not any(_run_alive(d) for d in folders)   # and the two going ended with the driver


def test_a_driver_killed_while_waiting_for_its_one_run_ends_that_run(tmp_path):
    # quality.py and search.py wait for one run in their main thread
    import signal
    import threading
    saved = signal.getsignal(signal.SIGTERM)
    pid_file = tmp_path / "pid"
    child = (f"import os, time; open({str(pid_file)!r}, 'w').write(str(os.getpid())); "
             "time.sleep(120)")
    kill_me = threading.Timer(3.0, os.kill, (os.getpid(), signal.SIGTERM))
    try:
        compare.stop_on_sigterm()
        kill_me.start()
        with pytest.raises(KeyboardInterrupt):
            compare.run_training([sys.executable, "-c", child], tmp_path)
    finally:
        kill_me.cancel()
        signal.signal(signal.SIGTERM, saved)
    with pytest.raises(ProcessLookupError):          # ended and reaped, not left running
        os.kill(int(pid_file.read_text()), 0)


def test_a_run_taken_as_the_driver_stops_never_starts(tmp_path):
    # with --jobs 2 a worker thread can be between taking its next run and starting it when
    # the driver stops: that run must not start (nobody would end it, and the stopping driver
    # would wait for it to finish); run_training raises KeyboardInterrupt instead
    marker = tmp_path / "started"
    child = f"open({str(marker)!r}, 'w').write('yes')"
    try:
        compare.stop_runs()
        with pytest.raises(KeyboardInterrupt):
            compare.run_training([sys.executable, "-c", child], tmp_path)
    finally:
        sys.modules["training_run"].STOPPED.clear()
    assert not marker.exists()
    assert not sys.modules["training_run"].RUNNING


def test_scaling_times_a_built_in_set_without_the_amazon_data(tmp_path):
    """--set toyshop-tiny is the generated set, not a folder under --data-root; its records
    name their set, and the table's scaling section is that set's (no quality sets needed)."""
    args = SimpleNamespace(data_root=str(tmp_path / "nowhere"), runs_dir=str(tmp_path / "runs"),
                           sets=compare.DEFAULT_SETS, models=compare.DEFAULT_MODELS, epochs=60,
                           patience=3, out=str(tmp_path / "compare.md"), note="", set="toyshop-tiny",
                           lengths="8", batches="2", what="scaling")
    compare.scaling(args)
    rec = json.loads((tmp_path / "runs" / "scaling" / "toyshop-tiny-sasrec-8.json").read_text())
    assert rec["set"] == "toyshop-tiny" and rec["batches"] == 2 and rec["s_per_1000"] > 0
    text = Path(args.out).read_text()
    assert "## Cost in sequence length (toyshop-tiny, ID only" in text
    assert "`python benchmarks/compare.py scaling --set toyshop-tiny`" in text
    assert "no data of scientific, instruments, beauty under --data-root" in text
    assert "every set with side modalities**: not measured yet.\n" in text   # never a vacuous "met"


def test_scaling_records_of_one_set_never_stand_for_another(tmp_path):
    """A record names its set; one from before records named it (<model>-<length>.json) was
    made on beauty, the only set timed then."""
    scaling = tmp_path / "scaling"
    scaling.mkdir()
    fields = {"s_per_1000": 1.0, "peak_rss_gb": 1.0, "batches": 5, "batch_size": 256}
    (scaling / "mmmlp-50.json").write_text(json.dumps({"model": "mmmlp", "max_len": 50, **fields}))
    (scaling / "toyshop-mmmlp-50.json").write_text(json.dumps(
        {"set": "toyshop", "model": "mmmlp", "max_len": 50, **fields, "s_per_1000": 2.0}))
    recs = lambda name: compare.scaling_records(SimpleNamespace(runs_dir=str(tmp_path), set=name))
    assert recs("beauty")[("mmmlp", 50)]["s_per_1000"] == 1.0
    assert recs("toyshop")[("mmmlp", 50)]["s_per_1000"] == 2.0
    assert recs("scientific") == {}


def test_masked_test_reads_a_data_folder_given_by_its_path(tmp_path):
    """A run folder keeps a data folder by its name only, so the masked test is told the path
    (compare.py gives each run's --data), as recommend and evaluate are."""
    import shutil
    import subprocess

    from training_run import masked_test

    from tiny_mmmlp.data import toyshop
    from tiny_mmmlp.recommender import DataNotFound
    folder = tmp_path / "shop"
    shutil.copytree(toyshop.ensure_toyshop("toyshop-tiny", tmp_path / "cache"), folder)
    out = tmp_path / "run"
    subprocess.run([sys.executable, "-m", "tiny_mmmlp.train", "--data", str(folder), "--modalities", "id",
                    "--epochs", "1", "--out", str(out), "--no-progress"],
                   check=True, capture_output=True, cwd=SCRIPT.parents[1])
    with pytest.raises(DataNotFound):
        masked_test(out)
    masked = masked_test(out, folder)
    assert 0.0 <= masked["NDCG@10"] <= masked["HR@10"] <= 1.0
