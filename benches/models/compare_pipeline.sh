#!/usr/bin/env bash
# The ReCap pipeline per image and per stage, recap vs Python (transformers + numpy + faiss),
# in one sitting, on FLAN-T5-base and CLIP ViT-B/32 sized random weights.
#   benches/models/compare_pipeline.sh [IMAGES=8] [ROWS=100000]
# Needs the torch venv (PY, default /tmp/hf-venv/bin/python, with torch, transformers,
# faiss-cpu) and the random models: t5_transformers.py makes /tmp/t5-base-random,
# clip_image_tower_transformers.py makes /tmp/clip-b32-random.
set -euo pipefail
cd "$(dirname "$0")/../.."
PY="${PY:-/tmp/hf-venv/bin/python}"
T5="${T5:-/tmp/t5-base-random}"
CLIP="${CLIP:-/tmp/clip-b32-random}"
OUT="${OUT:-/tmp/recap-pipeline-bench}"
export CUDA_VISIBLE_DEVICES=
[ -f "$T5/model.safetensors" ] || "$PY" benches/models/t5_transformers.py "$T5"
[ -f "$CLIP/model.safetensors" ] || "$PY" benches/models/clip_image_tower_transformers.py --make --model "$CLIP" --iters 1
[ -f "$T5/tokenizer.json" ] || "$PY" benches/models/pipeline_stages.py prepare "$T5"
cargo build --release --features models,http
target/release/recap bench caption --clip "$CLIP" --lm "$T5" --out-dir "$OUT" \
    --images "${1:-8}" --rows "${2:-100000}" --threads 2
"$PY" benches/models/pipeline_stages.py run "$OUT" "$T5" "$CLIP"
