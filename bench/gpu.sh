#!/usr/bin/env bash
# bench/gpu.sh: robustdx's whole GPU measurement, one run, under ten minutes.
#
# On a machine with an NVIDIA GPU (written for 16 cores and no internet), from the repository
# root (it changes there itself):
#   bench/gpu.sh                     # or PYTHON=/path/to/python bench/gpu.sh
# it
#   1. prints the GPU (nvidia-smi -L) and stops, exit status 0 and nothing measured, where no
#      GPU is visible: nothing else in the project needs a GPU;
#   2. builds once: cargo build --release --locked -p robustdx (into $CARGO_TARGET_DIR, default
#      ./target; the crates must already be in cargo's cache when there is no internet),
#      at most 300 s, which only a warm target directory meets; ROBUSTDX_BIN=path skips it;
#   3. robustdx bench compare --backends wgpu,cpu --large --torch-device cuda --large-batch 32:
#      robustdx's PGD-10, APGD-CE-10 and PGD-AT step on its wgpu and CPU backends against PyTorch +
#      torchattacks on CUDA (tests/fixtures/attacks/speed_torchattacks.py), on small-cnn and
#      AttnVGG at 64 px and ResNet-18 and DenseNet-121 at 224 px, batch 32; at most 180 s.
#      PyTorch is $PYTHON, else the first of ./v/bin/python, /tmp/v/bin/python and python3 that
#      imports torch and torchattacks and sees CUDA; without one, robustdx's side only;
#   4. robustdx bench models --backends wgpu --sizes full --batch 16 --steps 3: forward +
#      backward images/s of each full-size architecture on the GPU; at most 60 s;
#   5. robustdx bench speed --backends wgpu --batch 128: PGD-10 images/s of the two 64-px
#      models at batch 128 on the GPU; at most 60 s.
# Each step runs under `timeout`, and the budgets shrink so the whole run ends inside 580 s;
# a step cut short keeps the rows it printed (the wgpu rows of step 3 come before the CPU
# ones). Everything printed also goes to bench/gpu-YYYYMMDD-HHMM.log. Benchmarks: nothing is
# asserted; the exit status is 1 if a step failed or ran out of time, else 0.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

LOG="bench/gpu-$(date +%Y%m%d-%H%M).log"
TOTAL_S=580 # the whole run, the build included; the steps' budgets shrink to fit
FAILED=()

# Seconds a step may take: its own budget, or what is left of TOTAL_S if that is less.
budget() {
    local left=$((TOTAL_S - SECONDS))
    if ((left < $1)); then echo "$left"; else echo "$1"; fi
}

# step NAME SECONDS COMMAND...: run COMMAND under timeout, note a failure, carry on.
step() {
    local name=$1 limit rc=0
    limit=$(budget "$2")
    shift 2
    echo
    if ((limit < 10)); then
        echo "=== $name: skipped, the ${TOTAL_S} s of the whole run are spent: $*"
        FAILED+=("$name (skipped)")
        return 0
    fi
    echo "=== $name (at most ${limit} s): $*"
    local t0=$SECONDS
    timeout --kill-after=10 "$limit" "$@" || rc=$?
    if ((rc == 124 || rc == 137)); then
        echo "=== $name: stopped after ${limit} s; the rows above are the ones it finished"
        FAILED+=("$name (timed out)")
    elif ((rc != 0)); then
        echo "=== $name: failed, exit status $rc"
        FAILED+=("$name (exit $rc)")
    else
        echo "=== $name: done in $((SECONDS - t0)) s"
    fi
}

# Prints the GPUs; fails where none is visible.
show_gpu() {
    local smi
    smi=$(command -v nvidia-smi || true)
    if [[ -z $smi && -x /usr/local/nvidia/bin/nvidia-smi ]]; then
        smi=/usr/local/nvidia/bin/nvidia-smi
    fi
    if [[ -n $smi ]]; then
        local gpus
        gpus=$(timeout 30 "$smi" -L 2>&1 | grep '^GPU ' || true)
        [[ -n $gpus ]] || return 1
        echo "$gpus"
        timeout 30 "$smi" --query-gpu=driver_version,memory.total --format=csv,noheader 2>/dev/null |
            sed 's/^/driver, memory: /' || true
        return 0
    fi
    # No nvidia-smi: the driver's own view.
    local found=1 gpu
    for gpu in /proc/driver/nvidia/gpus/*/information; do
        [[ -r $gpu ]] || continue
        grep -m1 '^Model:' "$gpu" | sed 's/^Model:[[:space:]]*/GPU: /'
        found=0
    done
    return "$found"
}

# The first Python that imports torch and torchattacks and sees CUDA, or nothing.
find_python() {
    local c
    for c in ./v/bin/python /tmp/v/bin/python python3; do
        command -v "$c" >/dev/null 2>&1 || continue
        if timeout 60 "$c" -c 'import sys, torch, torchattacks
sys.exit(0 if torch.cuda.is_available() else 1)' >/dev/null 2>&1; then
            echo "$c"
            return 0
        fi
    done
    return 0
}

main() {
    echo "bench/gpu.sh, $(date -Is), log: $LOG"
    echo "robustdx $(git rev-parse --short HEAD 2>/dev/null || echo '(no git)')$(
        [[ -n $(git status --porcelain 2>/dev/null) ]] && echo ' (work tree modified)'
    ), $(uname -srm), $(nproc) cores"

    if ! show_gpu; then
        echo
        echo "No NVIDIA GPU is visible (nvidia-smi -L lists none, or there is no nvidia-smi"
        echo "and no /proc/driver/nvidia/gpus): nothing was measured."
        return 0
    fi
    if ! { ldconfig -p 2>/dev/null || /sbin/ldconfig -p 2>/dev/null; } | grep -q 'libvulkan\.so\.1'; then
        echo "warning: no Vulkan loader (libvulkan.so.1) found: robustdx's wgpu backend may not"
        echo "find the GPU and its rows may be missing (install libvulkan1)"
    fi

    local target=${CARGO_TARGET_DIR:-target}
    local bin=$target/release/robustdx
    # A cold build of burn takes far longer than ten minutes: bring a release binary built for
    # this machine's CPU and Vulkan (ROBUSTDX_BIN=path) and the build step is skipped.
    if [[ -n ${ROBUSTDX_BIN:-} ]]; then
        bin=$ROBUSTDX_BIN
        echo
        echo "=== build: skipped, using \$ROBUSTDX_BIN=$bin"
    elif command -v cargo >/dev/null 2>&1; then
        step build 300 cargo build --release --locked -p robustdx
    else
        echo
        echo "=== build: no cargo on PATH"
        FAILED+=("build (no cargo)")
    fi
    if [[ ! -x $bin ]]; then
        echo
        echo "No $bin: nothing measured beyond the GPU above."
        return 1
    fi
    if ((${#FAILED[@]})); then
        echo "=== using the $bin already there, built $(date -r "$bin" -Is): it may be stale"
    fi

    local py=${PYTHON:-}
    if [[ -n $py ]]; then
        echo
        echo "PyTorch side: \$PYTHON=$py"
        timeout 60 "$py" -c 'import torch, torchattacks
print("torch", torch.__version__, "torchattacks", torchattacks.__version__,
      "cuda", torch.cuda.is_available())' ||
            echo "warning: $py cannot import torch and torchattacks, or sees no CUDA"
    else
        py=$(find_python)
        echo
        if [[ -n $py ]]; then
            echo "PyTorch side: $py"
        else
            echo "PyTorch side: none (no \$PYTHON, and none of ./v/bin/python, /tmp/v/bin/python,"
            echo "python3 imports torch and torchattacks with CUDA); robustdx's side only"
        fi
    fi
    if [[ -n $py ]]; then
        step compare 180 "$bin" bench compare --backends wgpu,cpu --large \
            --torch-device cuda --large-batch 32 --python "$py"
    else
        step compare 180 "$bin" bench compare --backends wgpu,cpu --large \
            --large-batch 32 --python /nonexistent
    fi
    step models 60 "$bin" bench models --backends wgpu --sizes full --batch 16 --steps 3
    step speed 60 "$bin" bench speed --backends wgpu --batch 128

    echo
    if ((${#FAILED[@]})); then
        echo "Done in ${SECONDS} s; did not finish: ${FAILED[*]}"
        return 1
    fi
    echo "Done in ${SECONDS} s"
}

trap 'echo "log: $LOG"' EXIT
main 2>&1 | tee -a "$LOG"
