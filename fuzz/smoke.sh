#!/usr/bin/env bash
# CI smoke test of the fuzz targets: build them with stable rustc (RUSTC_BOOTSTRAP=1, the
# recipe in Cargo.toml: no nightly toolchain, no cargo-fuzz; libFuzzer is compiled by
# libfuzzer-sys, so a C++ compiler is needed), then run each target over its committed
# corpus (fuzz/corpus/<target>) followed by a short bounded fuzzing run.
#
# Exits non-zero if any target crashes, panics, times out, runs out of memory or leaks;
# reproducers are copied to fuzz/artifacts/<target>/ (upload them from CI). Nothing is
# written to the committed corpora (new inputs go to a scratch directory).
#
# Knobs (environment):
#   FUZZ_SMOKE_RUNS     fuzzing runs per target, corpus replay included (default 200000)
#   FUZZ_SMOKE_SECONDS  time cap per target in seconds (default 20)
#   FUZZ_SMOKE_TARGETS  space-separated subset of targets (default: all)
#   FUZZ_SMOKE_REPLAY_ONLY=1  only replay the corpora (no fuzzing)
#   FUZZ_SMOKE_NO_BUILD=1     use the binaries already built
set -euo pipefail

cd "$(dirname "$0")"

all_targets="npy_header npy_file npz_member karpathy coco sidecar text_lines"
targets=${FUZZ_SMOKE_TARGETS:-$all_targets}
runs=${FUZZ_SMOKE_RUNS:-200000}
seconds=${FUZZ_SMOKE_SECONDS:-20}
replay_only=${FUZZ_SMOKE_REPLAY_ONLY:-0}

triple=$(rustc -vV | sed -n 's/^host: //p')
export RUSTC_BOOTSTRAP=1
export RUSTFLAGS="--cfg fuzzing -Cdebug-assertions -Coverflow-checks \
-Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 \
-Cllvm-args=-sanitizer-coverage-inline-8bit-counters \
-Cllvm-args=-sanitizer-coverage-pc-table -Cllvm-args=-sanitizer-coverage-trace-compares \
-Zsanitizer=address"

start=$(date +%s)
if [[ ${FUZZ_SMOKE_NO_BUILD:-0} != 1 ]]; then
    bin_args=()
    for t in $targets; do bin_args+=(--bin "$t"); done
    cargo build --release --locked --target "$triple" "${bin_args[@]}"
fi
built=$(date +%s)
echo "fuzz smoke: build $((built - start)) s"

# The targets write each input to a scratch file in TMPDIR; keep those and libFuzzer's
# scratch corpus out of the tree, and the readers single-threaded.
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
export TMPDIR=$scratch RAYON_NUM_THREADS=1

failed=()
summary=()
for t in $targets; do
    bin=${CARGO_TARGET_DIR:-target}/$triple/release/$t
    corpus=corpus/$t
    if [[ ! -d $corpus ]]; then
        echo "fuzz smoke $t: no corpus at fuzz/$corpus" >&2
        failed+=("$t")
        continue
    fi
    new=$scratch/new-$t
    art=$scratch/artifacts-$t/
    mkdir -p "$new" "$art"
    if [[ $replay_only == 1 ]]; then
        limits=(-runs=0)
    else
        limits=(-runs="$runs" -max_total_time="$seconds")
    fi
    log=$scratch/$t.log
    # libFuzzer first runs every corpus input, then mutates; new inputs go to $new only.
    set +e
    "$bin" "${limits[@]}" -max_len=65536 -rss_limit_mb=2048 -timeout=10 \
        -print_final_stats=1 -artifact_prefix="$art" "$new" "$corpus" >"$log" 2>&1
    rc=$?
    set -e
    executed=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    crashes=$(find "$art" -type f | wc -l)
    if [[ $rc -ne 0 || $crashes -ne 0 ]]; then
        tail -n 40 "$log" >&2
        mkdir -p "artifacts/$t"
        find "$art" -type f -exec cp {} "artifacts/$t/" \;
        failed+=("$t")
        crashes=$((crashes > 0 ? crashes : 1))
    fi
    summary+=("fuzz smoke $t: ${executed:-0} runs, $crashes crashes")
done

echo "fuzz smoke: total $(($(date +%s) - start)) s (build $((built - start)) s)"
printf '%s\n' "${summary[@]}"
if ((${#failed[@]})); then
    echo "fuzz smoke FAILED: ${failed[*]} (reproducers in fuzz/artifacts/)" >&2
    exit 1
fi
