#!/usr/bin/env bash
# The GPU check, in one command, for a CUDA machine that already has torch and triton (it never
# installs anything) and a copy of this repository:
#   1. compiles every kernel for sm_80 and sm_90a with this machine's triton: registers, spills
#      and shared memory -> benchmarks/results/kernel_resources-<date>-triton<version>.md;
#   2. runs the kernel tests on the GPU (float32 and bfloat16);
#   3. the kernel benchmark -> benchmarks/results/kernels-<date>-<gpu>.md;
#   4. one training epoch with --backend triton against --backend torch, same seed and data
#      (DATA, default a shared Amazon set when one is beside the repository, else toyshop)
#      -> benchmarks/results/backend_epoch-<date>-<gpu>.md; the metrics must agree.
# About 8 minutes on an H100.
#     bash scripts/gpu_check.sh
#     bash scripts/gpu_check.sh --rehearse     # no GPU: the same steps on the CPU under
#                                              # TRITON_INTERPRET=1, tiny sizes, tables in a temp folder
set -uo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python}
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"     # the repository's tiny_mmmlp, installed or not
rehearse=0
[ "${1:-}" = "--rehearse" ] && rehearse=1

missing=$($PY - <<'PYEOF'
import importlib.util
print(" ".join(m for m in ("numpy", "torch", "triton", "tqdm", "PIL", "pytest", "hypothesis")
               if importlib.util.find_spec(m) is None))
PYEOF
)
case " $missing " in *" numpy "*|*" torch "*|*" triton "*|*" tqdm "*|*" PIL "*)
    echo "gpu_check: missing Python packages: $missing (torch, triton, numpy, tqdm and Pillow are needed)"; exit 2;; esac

if [ $rehearse = 1 ]; then
    export TRITON_INTERPRET=1 MPLBACKEND=Agg
    export TINY_MMMLP_CACHE=${TINY_MMMLP_CACHE:-$(mktemp -d)}
    results=$(mktemp -d); device=cpu; gpu=rehearsal; modalities=${MODALITIES:-id}
    small="--max-len 6 --d-model 8 --token-hidden 4 --channel-hidden 8 --n-layers 1 --batch-size 32"
    data=${DATA:-$results/sequences.txt}       # 16 users: the interpreter runs every program in Python
    [ -n "${DATA:-}" ] || for u in $(seq 1 16); do
        echo "u$u $(for j in 0 1 2 3 4 5; do printf 'i%d ' $(( (u + 2 * j) % 12 )); done)"; done > "$data"
else
    unset TRITON_INTERPRET
    export MPLBACKEND=Agg
    $PY -c "import torch; assert torch.cuda.is_available(), 'no CUDA device visible'" || exit 2
    results=benchmarks/results; device=cuda
    gpu=$($PY -c "import torch; print(torch.cuda.get_device_name().replace(' ', '-'))")
    data=${DATA:-}
    for d in ../shared/data/amazon/scientific shared/data/amazon/scientific; do
        [ -z "$data" ] && [ -d "$d" ] && data=$d
    done
    data=${data:-toyshop}; modalities=${MODALITIES:-all}; small=""
fi
$PY -c "import torch, triton; print('gpu_check: torch', torch.__version__, 'triton', triton.__version__)"
day=$(date +%Y-%m-%d)
status=0

tv=$($PY -c "import triton; print(triton.__version__)")
res="$results/kernel_resources-$day-triton$tv.md"
shapes=(); [ $rehearse = 1 ] && shapes=(--shapes ci --targets sm_90a)
timeout 300 $PY benchmarks/kernel_resources.py --jobs 8 --check "${shapes[@]}" --out "$res" > /dev/null || status=1
echo "gpu_check: 1/4 kernel resources (status so far $status) in $res"

if [ -n "$missing" ]; then
    echo "gpu_check: 2/4 skipped, not installed: $missing"; status=1
elif [ $rehearse = 1 ]; then
    timeout 300 $PY -m pytest -q -p no:cacheprovider tests/benchmarks/test_kernels_benchmark.py -x || status=1
    echo "gpu_check: 2/4 rehearsal: the CUDA tests are collected only on a GPU; ran the benchmark's smoke test"
else
    timeout 240 $PY -m pytest -q -p no:cacheprovider tests/test_kernels.py tests/benchmarks/test_kernels_benchmark.py \
        -x --durations=5 || status=1
    echo "gpu_check: 2/4 kernel tests (status so far $status)"
fi

out="$results/kernels-$day-$gpu.md"
bench=(--dtypes bfloat16,float32); [ $rehearse = 1 ] && bench=(--interpret-smoke)
timeout 300 $PY benchmarks/kernel_speed.py "${bench[@]}" --out "$out" || status=1
echo "gpu_check: 3/4 kernel benchmark (status so far $status) in $out"

epoch="$results/backend_epoch-$day-$gpu.md"
timeout 300 $PY benchmarks/backend_epoch.py --data "$data" --device $device --modalities "$modalities" \
    --train-flags "$small" --out "$epoch" || status=1
echo "gpu_check: 4/4 one epoch, triton against torch on $data (status so far $status) in $epoch"

echo "gpu_check: finished with status $status; tables: $res $out $epoch"
exit $status
