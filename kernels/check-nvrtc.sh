#!/usr/bin/env bash
# Compile-check every kernels/*.cu with the real NVRTC, on a machine without CUDA or GPU:
# fetches the NVRTC pip wheels (CUDA 12 and 13) into a temp folder, then runs the kernel
# test against each with the matching cargo feature. Usage: kernels/check-nvrtc.sh
set -euo pipefail
cd "$(dirname "$0")/.."
tmp="${RECAP_NVRTC_DIR:-/tmp/recap-nvrtc}"
mkdir -p "$tmp"
py="${PYTHON:-python3}"
fetch() { # $1 = pip requirement, $2 = folder
    if [ ! -d "$tmp/$2" ]; then
        "$py" -m pip download --quiet --no-deps -d "$tmp/$2.dl" "$1"
        mkdir -p "$tmp/$2" && (cd "$tmp/$2" && unzip -qo "$tmp/$2.dl"/*.whl)
    fi
    dirname "$(find "$tmp/$2" -name 'libnvrtc.so.*' ! -name '*builtins*' ! -name '*alt*' | head -1)"
}
lib12=$(fetch "nvidia-cuda-nvrtc-cu12>=12.8,<13" cu12)
lib13=$(fetch "nvidia-cuda-nvrtc>=13,<14" cu13)
RECAP_REQUIRE_GPU=1 LD_LIBRARY_PATH="$lib12" cargo test --features cuda --test backend_kernels
RECAP_REQUIRE_GPU=1 LD_LIBRARY_PATH="$lib13" cargo test --features cuda-13 --test backend_kernels
