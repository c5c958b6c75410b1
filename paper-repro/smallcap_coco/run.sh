#!/usr/bin/env bash
# SmallCap on COCO (Ramos et al., CVPR 2023): CLIP ViT-B/32 retrieval of k = 7 captions from
# the training captions (an image never retrieves its own), SmallCap's prompt with the first 4,
# its decoder (beam 3, 25 tokens), metrics on the test split.
#   run.sh --mini [--out DIR]   tiny random models + synthetic shapes (CI's miniature)
#   run.sh [--out DIR]          the real run; set CLIP (openai/clip-vit-base-patch32),
#                               SMALLCAP (Yova/SmallCap7M), TOKENIZER (gpt2), TRAIN_CAPTIONS,
#                               TEST_IMAGES, TEST_CAPTIONS (see README.md)
# Writes to OUT: datastore.npy, results.json (COCO), retrieved.json (SmallCap's format),
# report.json (per image: retrieved, prompt, caption; metrics; seconds per stage).
set -euo pipefail
source "$(dirname "$0")/../common.sh"
parse_args "$@"
TOKENIZER_FLAGS=()
if [ "$MINI" = 1 ]; then
    mini_inputs "$OUT/inputs"
    TEST_CAPTIONS="$OUT/inputs/data/test/captions.json"
    EXTRA=(--max-new-tokens 8)
else
    need CLIP SMALLCAP TOKENIZER TRAIN_CAPTIONS TEST_IMAGES TEST_CAPTIONS
    TOKENIZER_FLAGS=(--tokenizer "$TOKENIZER")
    EXTRA=()
fi

r embed --model "$CLIP" --texts "$TRAIN_CAPTIONS" --out "$OUT/datastore.npy" --quiet
r caption --system smallcap --images "$TEST_IMAGES" --clip "$CLIP" --lm "$SMALLCAP" \
    "${TOKENIZER_FLAGS[@]}" --texts "$OUT/datastore.npy" --captions "$TRAIN_CAPTIONS" -k 7 \
    "${EXTRA[@]}" --references "$TEST_CAPTIONS" --out "$OUT/results.json" \
    --retrieved-out "$OUT/retrieved.json" --report "$OUT/report.json" --quiet
echo "smallcap_coco: outputs in $OUT"
