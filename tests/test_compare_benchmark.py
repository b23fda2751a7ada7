"""benchmarks/compare.py: the order of its runs and the command of each (no training here)."""
import importlib.util
import sys
from pathlib import Path
from types import SimpleNamespace

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "compare.py"
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
    assert not [r for r in runs if r[1] == "gru4rec" and r[3] > 0]      # one seed for GRU4Rec
    assert len(runs) == len(set(runs))


def test_every_planned_command_is_one_train_py_accepts_with_the_same_budget():
    from tiny_mmmlp.train import build_parser
    args = SimpleNamespace(data_root="/data", runs_dir="/runs", epochs=60, patience=3, device="")
    for run in compare.plan(["toyshop-tiny"], ["mmmlp", "sasrec", "gru4rec"], compare.SEEDS, ""):
        cmd, out = compare.quality_command(args, *run)
        assert cmd[:3] == [sys.executable, "-m", "tiny_mmmlp.train"]
        a = build_parser().parse_args(cmd[3:])
        assert (a.model, a.epochs, a.patience, a.seed) == (run[1], 60, 3, run[3])
        assert a.out == str(out) and out.parent == Path("/runs")
