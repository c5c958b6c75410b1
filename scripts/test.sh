#!/usr/bin/env bash
# Every test, on a fresh machine: provides the METEOR 1.5 jar (from PyPI's pycocoevalcap, once)
# so the METEOR parity tests run instead of skipping, then `cargo test`. Extra arguments go to
# cargo test. Plain `cargo test` also works; without Java or the jar only the METEOR parity
# check is skipped (loudly).
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
exec cargo test "$@"
