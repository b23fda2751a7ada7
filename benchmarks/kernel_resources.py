"""Registers, spills and shared memory of every fused kernel on sm_80 and sm_90a, without a GPU.

    python benchmarks/kernel_resources.py --out benchmarks/results/kernel_resources.md
    python benchmarks/kernel_resources.py --shapes ci --targets sm_90a --check   # what CI runs

Triton compiles for a real GPU target on a CPU-only machine. For every kernel the launchers
launch, with the launch configuration they take from ``tiny_mmmlp.kernels.configs`` (the same
table, not a copy), at the default training shape and every (N, D) of ``benchmarks/kernel_speed.py``,
in float32 and bfloat16, this script compiles

    triton.compile(ASTSource(fn, signature, constexprs), target=GPUTarget("cuda", 80 | 90, 32),
                   options={"num_warps": ..., "num_stages": ..., "maxnreg": ...})

and reads the binary: ``cuobjdump -res-usage`` (shipped inside triton) gives registers per
thread (REG) and the stack frame (STACK: registers spilled to local memory, which lives in
DRAM behind L1), ``metadata.shared`` the shared memory one program needs. A kernel fits when
it spills nothing and its shared memory is within the per-block limit (sm_80: 166,912 B;
sm_90a: 232,448 B; a launch over it fails). Resident warps per SM follow from registers,
shared memory and warps per program, as the CUDA occupancy calculator counts them.

``--check`` exits 1 when any kernel spills or overflows; without triton's CUDA backend or
cuobjdump the script says so and exits 2.
"""
from __future__ import annotations

import argparse
import datetime
import importlib.util
import os
import re
import subprocess
import sys
import tempfile
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

os.environ.pop("TRITON_INTERPRET", None)   # compile for the GPU, even when called from a test run

HERE = Path(__file__).resolve().parent
# name -> (compute capability, shared memory per block (opt-in max), per SM, registers per SM, warps per SM)
TARGETS = {"sm_80": (80, 166_912, 167_936, 65_536, 64), "sm_90a": (90, 232_448, 233_472, 65_536, 64)}
DTYPES = {"float32": "fp32", "bfloat16": "bf16"}
INTS = ("B", "M", "N", "D", "R")                      # int32 arguments of the kernels
ACC_POINTERS = {"Mean", "Rstd", "DL", "DLN", "DGp", "DBp", "DW1p", "DW2p", "DB1p", "DB2p",
                "DW3p", "DW4p", "DB3p", "DB4p"}       # float32 buffers whatever the input dtype
MODULES = ("layernorm", "token_mixing", "channel_mixing")
BATCH = 256                                           # B for the integer-divisibility hints (M = B·N)


def default_shapes():
    """[(label, N, D, R_N, R_D)]: the training default (MMMLPConfig) and benchmarks/kernel_speed.py sizes."""
    from tiny_mmmlp import MMMLPConfig
    spec = importlib.util.spec_from_file_location("benchmark_kernels", HERE / "kernel_speed.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    args = bench.parse_args([])
    c = MMMLPConfig()
    shapes = [("default", c.max_len, c.d_model, c.token_hidden, c.channel_hidden)]
    for N, D in dict.fromkeys((N, D) for _, N, D in bench.SIZES):
        shapes.append(("bench", N, D, args.token_hidden, args.channel_mult * D))
    return shapes


def ci_shapes():
    c = __import__("tiny_mmmlp").MMMLPConfig()
    return [("default", c.max_len, c.d_model, c.token_hidden, c.channel_hidden), ("ci", 200, 256, 64, 512)]


def width_shapes():
    """Two shapes per row of the tile tables in tiny_mmmlp/kernels/configs.py: N = D = every padded width 16 .. 1024,
    each capped at its table's widest row (support.MAX_N, MAX_D), so the last shape is the widest accepted;
    and the same less 3 ("unaligned"), since ptxas sees whether N and D are multiples of 16."""
    from tiny_mmmlp.kernels.configs import CHANNEL_TILES, TOKEN_TILES
    out = []
    for w in sorted(set(TOKEN_TILES) | set(CHANNEL_TILES)):
        N, D = min(w, max(TOKEN_TILES)), min(w, max(CHANNEL_TILES))
        out += [("width", N, D, 64, 2 * D), ("unaligned", N - 3, D - 3, 64, 2 * (D - 3))]
    return out


def launches(N, D, RN, RD, dtype):
    """[(kernel name, launch dict, int arguments)] for one mixer block, from kernels.configs."""
    from tiny_mmmlp.kernels import configs
    ints = {"B": BATCH, "M": BATCH * N, "N": N, "D": D}
    out = [(k, v, dict(ints, R=RN)) for k, v in configs.token_mix(N, D, RN, dtype).items()]
    return out + [(k, v, dict(ints, R=RD)) for k, v in configs.channel_mix(D, RD, dtype).items()]


def cuobjdump() -> Path:
    import triton
    return Path(triton.__file__).parent / "backends" / "nvidia" / "bin" / "cuobjdump"


def compile_one(job):
    """Compile one kernel for one target; returns dict(regs, spill, shared)."""
    import importlib

    import triton
    from triton.backends.compiler import GPUTarget
    from triton.compiler import ASTSource

    name, launch, ints, dname, target = job
    fn = None
    for mod in MODULES:
        fn = fn or getattr(importlib.import_module(f"tiny_mmmlp.kernels.{mod}"), name, None)
    options = {k: launch[k] for k in ("num_warps", "num_stages", "maxnreg") if k in launch}
    constexprs = {k: v for k, v in launch.items() if k not in options}
    signature, attrs = {}, {}
    for i, arg in enumerate(fn.arg_names):
        if arg in constexprs:
            signature[arg] = "constexpr"
        elif arg in INTS:
            signature[arg] = "i32"
            if ints[arg] % 16 == 0:                   # what the launcher's specialization sees
                attrs[(i,)] = [["tt.divisibility", 16]]
        elif arg == "eps":
            signature[arg] = "fp32"
        else:                                          # a tensor: torch allocations are 16-byte aligned
            signature[arg] = "*fp32" if arg in ACC_POINTERS else f"*{DTYPES[dname]}"
            attrs[(i,)] = [["tt.divisibility", 16]]
    k = triton.compile(ASTSource(fn=fn, signature=signature, constexprs=constexprs, attrs=attrs),
                       target=GPUTarget("cuda", TARGETS[target][0], 32), options=options)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "k.cubin"
        path.write_bytes(k.asm["cubin"])
        text = subprocess.run([str(cuobjdump()), "-res-usage", str(path)], capture_output=True,
                              text=True, check=True).stdout
    use = dict(re.findall(r"(REG|STACK|SHARED|LOCAL):(\d+)", text))
    return dict(regs=int(use["REG"]), spill=int(use["STACK"]) + int(use["LOCAL"]), shared=int(k.metadata.shared))


def resident_warps(regs, shared, warps, target):
    """Warps of this kernel resident on one SM (registers in 256-register units per warp)."""
    _, _, smem_sm, regs_sm, warps_sm = TARGETS[target]
    per_warp = -(-regs * 32 // 256) * 256
    blocks = min(32, warps_sm // warps, (regs_sm // per_warp) // warps,
                 smem_sm // (shared + 1024) if shared else 32)   # 1 KiB per block reserved
    return blocks * warps


def collect(shapes, dtypes, targets, jobs=1, kernels=None, overrides=None):
    """One row dict per (target, dtype, shape, kernel); identical compiles are done once.
    ``kernels``: only these names; ``overrides``: {key: value} replacing launch entries (what-if)."""
    import torch
    rows, todo = [], {}
    for target in targets:
        for dname in dtypes:
            for label, N, D, RN, RD in shapes:
                for name, launch, ints in launches(N, D, RN, RD, getattr(torch, dname)):
                    if kernels and name not in kernels:
                        continue
                    launch = {k: (overrides or {}).get(k, v) for k, v in launch.items()}
                    # the binary depends on the integers only through their divisibility by 16
                    key = (name, repr(sorted(launch.items())), repr(sorted((k, v % 16 == 0) for k, v in ints.items())),
                           dname, target)
                    todo.setdefault(key, (name, launch, ints, dname, target))
                    rows.append(dict(target=target, dtype=dname, shape=f"{label} N={N} D={D} R_N={RN} R_D={RD}",
                                     kernel=name, launch=launch, key=key))
    keys = list(todo)
    if jobs > 1:
        with ProcessPoolExecutor(jobs) as pool:
            done = dict(zip(keys, pool.map(compile_one, [todo[k] for k in keys])))
    else:
        done = {k: compile_one(todo[k]) for k in keys}
    for row in rows:
        row.update(done[row["key"]])
        limit = TARGETS[row["target"]][1]
        row["limit"] = limit
        row["fits"] = row["spill"] == 0 and row["shared"] <= limit   # the check Triton's launcher makes
        row["warps_sm"] = resident_warps(row["regs"], row["shared"], row["launch"]["num_warps"], row["target"])
    return rows, len(keys)


def tiles(launch):
    return " ".join(f"{k[6:]}={v}" for k, v in launch.items() if k.startswith("BLOCK_"))


def table(rows):
    head = ["| target | dtype | shape | kernel | tiles | warps | stages | regs | spill B | shared B "
            "| limit B | warps/SM | fits |", "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    return head + [f"| {r['target']} | {r['dtype']} | {r['shape']} | `{r['kernel']}` | {tiles(r['launch'])} "
                   f"| {r['launch']['num_warps']} | {r['launch']['num_stages']} | {r['regs']} | {r['spill']:,} "
                   f"| {r['shared']:,} | {r['limit']:,} | {r['warps_sm']} "
                   f"| {'yes' if r['fits'] else '**no**'} |" for r in rows]


def summary(rows, n_compiles):
    bad = [r for r in rows if not r["fits"]]
    bad_keys = {r["key"] for r in bad}
    lines = [f"{len(rows)} kernel launches ({n_compiles} distinct compiles); {len(bad)} launches "
             f"({len(bad_keys)} distinct compiles) spill registers or overflow shared memory."]
    if rows:
        lines.append(f"Max registers {max(r['regs'] for r in rows)}, max spill {max(r['spill'] for r in rows):,} B, "
                     f"max shared {max(r['shared'] for r in rows):,} B; fewest resident "
                     f"warps/SM {min(r['warps_sm'] for r in rows)}.")
    return lines


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", help="write the markdown table here (e.g. benchmarks/results/kernel_resources.md)")
    p.add_argument("--shapes", choices=["all", "ci", "default", "widths"], default="all",
                   help="all: the training default and every benchmark (N, D); ci: default and N=200, D=256; "
                        "default: the training default only; "
                        "widths: N = D = each width of the tile tables (D <= 512), and each less 3")
    p.add_argument("--kernels", help="comma list of kernel names (default: every kernel)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=INT",
                   help="what-if: replace a launch entry, e.g. --set num_stages=3 --set BLOCK_M=64")
    p.add_argument("--targets", default="sm_80,sm_90a", help="comma list of sm_80, sm_90a")
    p.add_argument("--dtypes", default="float32,bfloat16", help="comma list of float32, bfloat16")
    p.add_argument("--jobs", type=int, default=1, help="compile in this many processes")
    p.add_argument("--check", action="store_true", help="exit 1 if any kernel spills or overflows")
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    targets, dtypes = args.targets.split(","), args.dtypes.split(",")
    for flag, values, known in (("--targets", targets, TARGETS), ("--dtypes", dtypes, DTYPES)):
        if any(v not in known for v in values):
            print(f"kernel_resources.py: {flag} takes a comma list of {', '.join(known)}.", file=sys.stderr)
            return 2
    overrides = {}
    for item in args.set:
        key, _, value = item.partition("=")
        if not value.isdigit():
            print(f"kernel_resources.py: --set takes KEY=INT, got {item!r}.", file=sys.stderr)
            return 2
        overrides[key] = int(value)
    try:
        import triton  # noqa: F401
        from triton.backends.compiler import GPUTarget  # noqa: F401
    except ImportError as err:
        print(f"kernel_resources.py needs triton with its CUDA backend ({err}).", file=sys.stderr)
        return 2
    if not cuobjdump().exists():
        print(f"kernel_resources.py needs cuobjdump, which this triton lacks ({cuobjdump()}).", file=sys.stderr)
        return 2
    import torch
    shapes = {"all": default_shapes, "ci": ci_shapes, "default": lambda: ci_shapes()[:1],
              "widths": width_shapes}[args.shapes]()
    rows, n = collect(shapes, dtypes, targets, args.jobs, args.kernels and args.kernels.split(","), overrides)
    title = (f"{datetime.date.today().isoformat()}, triton {triton.__version__}, torch {torch.__version__}; "
             f"compiled on the CPU for {', '.join(targets)} (no GPU needed)")
    lines = ["# Fused kernels: registers, spills and shared memory", "", title, "",
             f"Command: `python benchmarks/kernel_resources.py {' '.join(sys.argv[1:] if argv is None else argv)}`",
             "", *summary(rows, n), "",
             "spill B: cuobjdump STACK + LOCAL bytes per thread; shared B: `metadata.shared`, the dynamic "
             "shared memory per program, against the per-block limit Triton's launcher checks; "
             "warps/SM: resident warps per SM (of 64) that registers, shared memory and warps per program "
             "allow. float32 tl.dot runs in IEEE precision (torch's default 'highest' matmul precision).",
             "", *table(rows)]
    print("\n".join(lines))
    if args.out:
        from tiny_mmmlp.files import write_bytes
        write_bytes(Path(args.out), ("\n".join(lines) + "\n").encode())
        print(f"wrote {args.out}")
    return 1 if args.check and not all(r["fits"] for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
