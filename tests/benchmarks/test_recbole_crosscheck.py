"""benchmarks/recbole_crosscheck.py: reading RecBole's log and writing its config (RecBole
itself is not installed here: it needs numpy<2 and lives in a venv of its own)."""
import importlib.util
import sys
from pathlib import Path

import yaml

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "recbole_crosscheck.py"
spec = importlib.util.spec_from_file_location("recbole_crosscheck", SCRIPT)
crosscheck = importlib.util.module_from_spec(spec)
spec.loader.exec_module(crosscheck)

LOG = """\
29 Nov 03:36    INFO  FLOPs: 1544950.0
29 Nov 04:04    INFO  epoch 0 training [time: 10.50s, train loss: 1095.4372]
29 Nov 04:05    INFO  epoch 0 evaluating [time: 38.72s, valid_score: 0.020200]
29 Nov 04:05    INFO  valid result: 
hit@10 : 0.0361    ndcg@10 : 0.0202    mrr@10 : 0.0154
29 Nov 04:51    INFO  epoch 1 training [time: 12.50s, train loss: 1063.1139]
29 Nov 04:52    INFO  epoch 1 evaluating [time: 18.87s, valid_score: 0.025600]
29 Nov 05:05    INFO  epoch 2 training [time: 11.00s, train loss: 1035.1811]
29 Nov 05:06    INFO  epoch 2 evaluating [time: 11.83s, valid_score: 0.025600]
29 Nov 05:07    INFO  best valid : OrderedDict([('hit@10', 0.047), ('ndcg@10', 0.0256)])
"""


def test_the_log_gives_epochs_seconds_curve_and_recboles_best_epoch():
    got = crosscheck.parse_recbole_log(LOG)
    assert got["epochs"] == 3
    assert abs(got["seconds_per_epoch"] - 34.0 / 3) < 1e-9
    assert got["valid_curve"] == [0.0202, 0.0256, 0.0256]
    assert got["best_epoch"] == 3            # RecBole keeps the later of two equal epochs


def test_the_config_matches_our_sasrec_and_early_stopping(tmp_path):
    from tiny_mmmlp.baselines import MODEL_DEFAULTS
    text = crosscheck.RECBOLE_CONFIG.format(root="/d", name="scientific", work=tmp_path, epochs=60,
                                            stopping_step=2, seed=0)
    cfg = yaml.safe_load(text)
    ours = MODEL_DEFAULTS["sasrec"]
    assert (cfg["hidden_size"], cfg["n_layers"], cfg["n_heads"], cfg["MAX_ITEM_LIST_LENGTH"]) == (
        ours["d_model"], ours["encoder_layers"], ours["heads"], ours["max_len"])
    assert cfg["hidden_dropout_prob"] == cfg["attn_dropout_prob"] == ours["dropout"]
    assert cfg["learning_rate"] == ours["lr"]
    assert cfg["loss_type"] == "CE" and cfg["train_neg_sample_args"] is None
    assert cfg["valid_metric"] == "NDCG@10" and cfg["eval_args"]["mode"] == "full"
    assert (cfg["stopping_step"], cfg["epochs"], cfg["data_path"], cfg["dataset"]) == (2, 60, "/d", "scientific")


def test_a_killed_driver_ends_recboles_run_as_well_as_ours(tmp_path):
    # RecBole runs in a thread beside our run; before, a kill ended ours and then waited for it
    import os
    import random
    import signal
    import subprocess
    import time
    data = tmp_path / "shop"
    data.mkdir()
    rng = random.Random(0)
    rows = [f"u{u}\ti{rng.randrange(30)}\t{t}" for u in range(60) for t in range(6)]
    (data / "shop.inter").write_text("user_id:token\titem_id:token\ttimestamp:float\n"
                                     + "\n".join(rows) + "\n")
    pid_file = tmp_path / "recbole.pid"
    venv = tmp_path / "venv"                   # a stand-in: "imports recbole", then trains forever
    (venv / "bin").mkdir(parents=True)
    (venv / "bin/python").write_text(f'#!/bin/sh\n[ "$1" = "-c" ] && exit 0\n'
                                     f'echo $$ > {pid_file}\nexec sleep 300\n')
    (venv / "bin/python").chmod(0o755)
    driver = subprocess.Popen(
        [sys.executable, str(SCRIPT), str(venv), "--data", str(data), "--epochs", "500",
         "--patience", "500", "--out", str(tmp_path / "t.md")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while not pid_file.exists() or not pid_file.read_text().strip():
            assert driver.poll() is None and time.monotonic() < deadline, driver.communicate()
            time.sleep(0.2)
        time.sleep(3)                            # our run is going too by now
        driver.send_signal(signal.SIGTERM)
        _, err = driver.communicate(timeout=60)  # not the stand-in's 300 s
    finally:
        os.killpg(driver.pid, signal.SIGKILL) if driver.poll() is None else None
    assert driver.returncode == 130 and "interrupted" in err, err[-2000:]
    try:
        os.kill(int(pid_file.read_text()), 0)
    except ProcessLookupError:
        pass                                     # ended with the driver
    else:
        raise AssertionError("RecBole's run outlived the driver")
    assert not (tmp_path / "t.md").exists()
