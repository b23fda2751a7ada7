#!/usr/bin/env bash
# One command for a CUDA machine with torch and triton already installed (never installs torch):
# compiles every kernel for sm_80 and sm_90a with this machine's triton and writes registers,
# spills and shared memory to benchmarks/results/kernel_resources-<date>-triton<version>.md,
# runs the kernel tests on the GPU (float32 and bfloat16), then the benchmark, and writes its
# table to benchmarks/results/kernels-<date>-<gpu>.md. About 10 minutes on an H200.
#     bash scripts/gpu_check.sh
set -uo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python}
unset TRITON_INTERPRET

# tiny_mmmlp.kernels lives in kernels/. Unless the package is installed already, map it
# without pip: a throw-away folder holding tiny_mmmlp/ = links to tiny_mmmlp/* plus kernels/.
if ! $PY -c "import tiny_mmmlp.kernels.token_mixing" 2>/dev/null; then
    shim=$(mktemp -d)
    mkdir "$shim/tiny_mmmlp"
    for f in "$PWD"/tiny_mmmlp/*; do ln -s "$f" "$shim/tiny_mmmlp/"; done
    ln -s "$PWD/kernels" "$shim/tiny_mmmlp/kernels"
    export PYTHONPATH="$shim${PYTHONPATH:+:$PYTHONPATH}"
fi
$PY - <<'PYEOF' || exit 1
import torch, triton, tiny_mmmlp.kernels as k
assert torch.cuda.is_available(), "no CUDA device visible"
print("torch", torch.__version__, "triton", triton.__version__, torch.cuda.get_device_name(),
      "kernels available:", k.is_available("cuda"))
PYEOF

status=0
tv=$($PY -c "import triton; print(triton.__version__)")
res="benchmarks/results/kernel_resources-$(date +%Y-%m-%d)-triton${tv}.md"
timeout 300 $PY benchmarks/kernel_resources.py --jobs 8 --check --out "$res" > /dev/null || status=1
echo "gpu_check: kernel resources (status so far $status) in $res"

if ! $PY -c "import pytest, hypothesis" 2>/dev/null; then
    echo "gpu_check: pytest or hypothesis is not installed; skipping the tests, running the benchmark"
    status=1
else timeout 240 $PY -m pytest -q -p no:cacheprovider tests/test_kernels.py tests/test_kernels_benchmark.py \
    -x --durations=5 || status=1
fi

gpu=$($PY -c "import torch; print(torch.cuda.get_device_name().replace(' ', '-'))")
out="benchmarks/results/kernels-$(date +%Y-%m-%d)-${gpu}.md"
timeout 300 $PY benchmarks/kernel_speed.py --dtypes bfloat16,float32 --out "$out" || status=1

# Data-parallel scale-out (issue 13), only when more than one GPU is visible: training
# examples/s of 1 process on 1 GPU against torchrun on all of them, 1024 rows per GPU.
ngpu=$($PY -c "import torch; print(torch.cuda.device_count())")
if [ "$ngpu" -gt 1 ]; then
    ddp_data=${DDP_DATA:-../shared/data/amazon/beauty}
    [ -d "$ddp_data" ] || ddp_data=toyshop
    ddp_out="benchmarks/results/ddp-$(date +%Y-%m-%d)-${gpu}x${ngpu}.md"
    timeout 600 $PY benchmarks/ddp_throughput.py --device cuda --procs "1,$ngpu" --data "$ddp_data" \
        --per-process-batch 1024 --epochs 2 --modalities id --out "$ddp_out" || status=1
    echo "gpu_check: 1 GPU vs $ngpu GPUs (torchrun) in $ddp_out"
fi

echo "gpu_check: resources, tests and benchmark finished with status $status; tables in $res and $out"
exit $status
