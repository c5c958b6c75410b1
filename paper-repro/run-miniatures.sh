#!/usr/bin/env bash
# Every paper-repro miniature end to end (tiny random models, synthetic shape images): what
# CI runs through tests/paper_repro.rs. Usage: run-miniatures.sh [OUT_DIR] (default: a temp dir).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="${1:-$(mktemp -d)}"
for folder in recap_coco dal smallcap_coco flickr8k_correlation; do
    echo "== $folder"
    bash "$here/$folder/run.sh" --mini --out "$out/$folder"
done
echo "miniatures: outputs in $out"
