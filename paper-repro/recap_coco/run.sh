#!/usr/bin/env bash
# ReCap on COCO (Paischer et al., "Linear Alignment of Vision-language Models for Image
# Captioning"): fit W (ridge, λ by GCV) on the training pairs, retrieve through W from the
# training captions, prompt FLAN-T5, re-rank by aCLIP-S, score the test split.
#   run.sh --mini [--out DIR]   tiny random models + synthetic shapes (CI's miniature)
#   run.sh [--out DIR]          the real run; set CLIP, LM, TRAIN_IMAGES, TRAIN_CAPTIONS,
#                               TEST_IMAGES, TEST_CAPTIONS (see README.md)
# Writes to OUT: W.npy (+ W.json), fit.json, lambda.{png,svg}, recall_{raw,aligned}.json,
# recall.{png,svg}, results.json (COCO), retrieved.json, report.json (metrics inside).
set -euo pipefail
source "$(dirname "$0")/../common.sh"
parse_args "$@"
DECODE_FLAGS=()
if [ "$MINI" = 1 ]; then
    mini_inputs "$OUT/inputs"
    TEST_CAPTIONS="$OUT/inputs/data/test/captions.json"
else
    need CLIP LM TRAIN_IMAGES TRAIN_CAPTIONS TEST_IMAGES TEST_CAPTIONS
fi

r embed --model "$CLIP" --images "$TRAIN_IMAGES" --out "$OUT/train_img.npy" --quiet
r embed --model "$CLIP" --texts "$TRAIN_CAPTIONS" --out "$OUT/train_txt.npy" --quiet
r embed --model "$CLIP" --images "$TEST_IMAGES" --out "$OUT/test_img.npy" --quiet
r embed --model "$CLIP" --texts "$TEST_CAPTIONS" --out "$OUT/test_txt.npy" --quiet

# 1. The alignment: ridge over a λ grid, chosen by GCV; the λ curve as a figure.
r fit --images "$OUT/train_img.npy" --texts "$OUT/train_txt.npy" --captions "$TRAIN_CAPTIONS" \
    --method ridge --lambda-grid 0.01,0.1,1,10,100,1000 --select gcv \
    --out "$OUT/W.npy" --report "$OUT/fit.json" --plot "$OUT/lambda" --quiet

# 2. Retrieval on the test split, raw CLIP vs through W (recall@k), and its figure.
for mode in raw aligned; do
    map=()
    [ "$mode" = aligned ] && map=(--map "$OUT/W.npy")
    r eval-retrieval --images "$OUT/test_img.npy" --texts "$OUT/test_txt.npy" \
        --captions "$TEST_CAPTIONS" "${map[@]}" --json --quiet > "$OUT/recall_$mode.json"
done
r plot recall --input "$OUT/recall_raw.json" --label "CLIP" \
    --input "$OUT/recall_aligned.json" --label "CLIP + W" --out "$OUT/recall"

# 3. Captioning: retrieve k = 7 through W, prompt FLAN-T5, 10 beams, re-rank by aCLIP-S,
#    metrics against the test references in the same run.
r caption --images "$TEST_IMAGES" --clip "$CLIP" --map "$OUT/W.npy" \
    --texts "$OUT/train_txt.npy" --captions "$TRAIN_CAPTIONS" --lm "$LM" -k 7 \
    "${DECODE_FLAGS[@]}" --rerank aclip-s --references "$TEST_CAPTIONS" \
    --out "$OUT/results.json" --retrieved-out "$OUT/retrieved.json" --report "$OUT/report.json" \
    --quiet
echo "recap_coco: outputs in $OUT"
