#!/usr/bin/env bash
# The Python package's tests on a fresh venv: build the recap-rs wheel with maturin (release),
# install it with the reference libraries it is tested against (scikit-learn, scipy,
# faiss-cpu, pycocoevalcap 1.2, Ray), run pytest (every test must run: skips are listed, and
# pytest's exit code 5, "no tests collected", is a failure), then mypy.stubtest checks the
# type stubs against the built module.
#
# Env: RECAP_PY_VENV (default /tmp/recap-py-venv; reused when present), RECAP_METEOR_JAR
# (METEOR parity; scripts/test.sh provides it). Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
venv="${RECAP_PY_VENV:-/tmp/recap-py-venv}"
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
fi
py="$venv/bin/python"
"$py" -m pip install -q --upgrade pip
"$py" -m pip install -q "maturin>=1.9,<2" "numpy>=1.23" "scikit-learn>=1.6" scipy faiss-cpu \
    "pycocoevalcap==1.2" "ray>=2.9" pandas pytest "mypy>=1.10"
export RAY_USAGE_STATS_ENABLED=0
wheels="$(mktemp -d)"
trap 'rm -rf "$wheels"' EXIT
"$venv/bin/maturin" build --release --quiet -m recap-py/Cargo.toml -i "$py" -o "$wheels"
"$py" -m pip install -q --force-reinstall --no-deps "$wheels"/recap_rs-*.whl
echo "recap-rs: $("$py" -c 'import recap_rs; print(recap_rs.__version__, recap_rs.__file__)')"
# Run from the tests folder so that the installed wheel, not the source tree, is imported.
cd recap-py/tests
"$py" -m pytest -q -rs -p no:cacheprovider "$@" .
cd ..
echo "stubtest: the stubs of recap_rs._recap_rs against the built module"
"$py" -m mypy.stubtest recap_rs._recap_rs --ignore-missing-stub 2>&1 | tail -20
