#!/usr/bin/env bash
# Provide the official METEOR 1.5 jar for recap's METEOR tests and `recap score --metrics meteor`.
# pycocoevalcap's wheel ships it (meteor/meteor-1.5.jar with meteor/data/paraphrase-en.gz).
# Installs pycocoevalcap==1.2 into a venv under /tmp (PyPI) unless one is there, then prints
# the jar's absolute path on stdout (everything else goes to stderr). Needs python3; running
# the jar needs Java.
#   export RECAP_METEOR_JAR="$(scripts/fetch_meteor.sh)"
set -euo pipefail
VENV="${RECAP_METEOR_VENV:-/tmp/recap-meteor-venv}"
if [ ! -x "$VENV/bin/python" ]; then
    python3 -m venv "$VENV" >&2
fi
if ! "$VENV/bin/python" -c "import pycocoevalcap" >/dev/null 2>&1; then
    "$VENV/bin/pip" install --quiet --no-deps "pycocoevalcap==1.2" >&2
fi
JAR="$("$VENV/bin/python" - <<'PY'
import os, importlib.util
spec = importlib.util.find_spec("pycocoevalcap")
# pycocoevalcap is a namespace package (no __init__.py): take its folder.
print(os.path.join(list(spec.submodule_search_locations)[0], "meteor", "meteor-1.5.jar"))
PY
)"
if [ ! -f "$JAR" ]; then
    echo "fetch_meteor.sh: $JAR not found after installing pycocoevalcap" >&2
    exit 1
fi
echo "$JAR"
