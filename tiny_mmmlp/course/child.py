"""The grader's child: run one exercise of a kit on the cases the grader gives, save what it returns.

    python -I -B RUNNER/child.py JOB

The grader copies this file, ``plain.py`` and ``child_triton.py`` into ``JOB/runner/``
and the kit's package (the other exercises' reference bodies restored) into
``JOB/kit/tiny_mmmlp/``. ``JOB/inputs.npz`` holds the exercise (module, function, how to
call it), the library folders to search and the cases' arguments. This process writes
``JOB/outputs.npz``: ``{"results": [{"value": ...} or {"raised": "Type: text"}, ...]}``,
one entry per case, or ``{"error": "import" | "missing", "text": ...}``.

Nothing here decides a grade: the grader compares the returned values with its own
reference answers, which never exist in this process. The student's code may rewrite
anything in this process, this file included; the worst it can do to the grade is to fail.
Only the standard library, NumPy and (for the Triton part) torch and triton are imported
besides the kit: ``import tiny_mmmlp`` finds the kit's copy, first on the search path, and
editable-install hooks that lead to the installed package are removed.
"""
import importlib
import os
import sys
from pathlib import Path


def describe(err: BaseException) -> str:
    """'Type: first line of the message', Triton's interpreter wrapper unwrapped."""
    while type(err).__name__ == "InterpreterError" and err.__cause__ is not None:
        err = err.__cause__
    try:
        text = str(err).strip()
    except Exception:
        text = ""
    first = text.splitlines()[0] if text else ""
    return (f"{type(err).__name__}: {first}" if first else type(err).__name__)[:500]


def hide_installed_package(kit: Path, runner: Path, extra: list) -> None:
    """Put the kit's copy first on the search path (it shadows any installed ``tiny_mmmlp``),
    add the grader's other library folders last, and drop editable-install import hooks."""
    own = [p for p in sys.path if p != str(runner)]
    more = [p for p in extra if p not in own and not (Path(p) / "tiny_mmmlp").exists()]
    sys.path[:] = [str(kit)] + own + more + [str(runner)]

    def editable(obj):
        names = (getattr(obj, "__module__", "") or "", type(obj).__module__ or "")
        return any(n.startswith("__editable__") for n in names)

    sys.meta_path[:] = [f for f in sys.meta_path if not editable(f)]
    sys.path_hooks[:] = [h for h in sys.path_hooks if not editable(h)]
    sys.path_importer_cache.clear()
    for name in [n for n in sys.modules if n == "tiny_mmmlp" or n.startswith("tiny_mmmlp.")]:
        del sys.modules[name]


def resolve(obj, qualname: str):
    for part in qualname.split("."):
        obj = getattr(obj, part)
    return obj


def call(module, fn, args):
    return fn(*args)


def adamw(module, fn, args):
    """Three steps of the kit's AdamW (its ``step`` is the exercise); the parameters after each."""
    params, lr, weight_decay, steps = args
    opt = module.AdamW(params, lr=lr, weight_decay=weight_decay)
    after = []
    for grads in steps:
        opt.step(grads)
        after.append({k: (v.copy() if hasattr(v, "copy") else v) for k, v in dict(opt.params).items()})
    return after


def triton_gelu(module, fn, args):
    import child_triton

    return child_triton.apply_gelu_grad(fn, args[0])


def token_mix_data(module, fn, args):
    """The kit's token-mixing launcher (whose backward runs the exercise's kernel): the
    gradients of its seven inputs."""
    import torch

    arrays, dy = args
    ts = [torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in arrays]
    module.token_mix(*ts).backward(torch.tensor(dy, dtype=torch.float64))
    return [t.grad.numpy() for t in ts]


RECIPES = {"call": call, "adamw": adamw, "triton_gelu": triton_gelu, "token_mix_data": token_mix_data}


def run(spec) -> dict:
    try:
        module = importlib.import_module(f"tiny_mmmlp.{spec['module']}")
    except BaseException as err:
        return {"error": "import", "text": describe(err)}
    try:
        fn = resolve(module, spec["function"])
    except BaseException as err:
        return {"error": "missing", "text": describe(err)}
    recipe = RECIPES[spec["recipe"]]
    results = []
    for args in spec["cases"]:
        try:
            results.append({"value": recipe(module, fn, args)})
        except BaseException as err:
            results.append({"raised": describe(err)})
    return {"results": results}


def main():
    job = Path(sys.argv[1]).resolve()
    runner = Path(__file__).resolve().parent
    sys.path.insert(0, str(runner))
    import plain  # before the kit is on the path

    spec = plain.load(job / "inputs.npz")
    hide_installed_package(job / "kit", runner, list(spec["paths"]))
    out = run(spec)
    os.chdir(job)
    plain.save(job / "outputs.npz", out)


if __name__ == "__main__":
    main()
