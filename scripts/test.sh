#!/usr/bin/env bash
# Every test, on a fresh machine: provides the METEOR 1.5 jar (from PyPI's pycocoevalcap, once)
# so the METEOR parity tests run instead of skipping, then `cargo test`, then the Python
# package's tests (scripts/test-python.sh), then the list of checks
# this machine could not run (GPU, AVX-512, ...). Tests run with the `models` feature (CLIP,
# FLAN-T5, SmallCap on candle) and the `http` LM client: the default build's tests plus theirs. Extra arguments go
# to cargo test. Plain `cargo test` also works (default build only); without Java or the jar
# the METEOR parity check is skipped.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${RECAP_METEOR_JAR:-}" ]; then
    if command -v java >/dev/null 2>&1; then
        RECAP_METEOR_JAR="$(scripts/fetch_meteor.sh)"
        export RECAP_METEOR_JAR
    else
        echo "scripts/test.sh: no java on PATH: METEOR parity tests will be skipped" >&2
    fi
fi
# Checks that cannot run on this machine (no GPU, no AVX-512, no NVRTC, no METEOR jar) record
# themselves in this file (recap::testing::skip); they are listed after the test summary.
RECAP_SKIP_LOG="$(mktemp)"
export RECAP_SKIP_LOG
trap 'rm -f "$RECAP_SKIP_LOG"' EXIT
status=0
cargo test --features models,http "$@" || status=$?
# The Python package (recap-py): wheel built by maturin into a venv, pytest against
# scikit-learn, scipy, faiss, pycocoevalcap and Ray, stubtest. RECAP_SKIP_PYTHON=1 leaves it
# out (listed below as skipped).
if [ "${RECAP_SKIP_PYTHON:-0}" = 1 ]; then
    echo "python package tests: RECAP_SKIP_PYTHON=1" >> "$RECAP_SKIP_LOG"
else
    scripts/test-python.sh || status=$?
fi
if [ -s "$RECAP_SKIP_LOG" ]; then
    echo
    echo "skipped on this machine ($(sort -u "$RECAP_SKIP_LOG" | wc -l) checks; they did not run):"
    sort "$RECAP_SKIP_LOG" | uniq -c | sed 's/^ */  /'
fi
exit "$status"
