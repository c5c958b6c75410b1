#!/usr/bin/env bash
# ReCap's datastore-augmentation loop (DAL): caption the images with ReCap, add the best
# synthetic captions (with provenance) to the datastore, repeat; metrics per iteration.
#   run.sh --mini [--out DIR]   tiny random models + synthetic shapes (CI's miniature)
#   run.sh [--out DIR]          the real run; set CLIP, LM, TRAIN_IMAGES, TRAIN_CAPTIONS,
#                               TEST_IMAGES, TEST_CAPTIONS (see README.md); ITERATIONS (3)
# Writes to OUT: W.npy, state/ (the resumable loop: datastore + dal.json with every
# iteration's report), results.json (last iteration, COCO), dal.{png,svg} (metrics per
# iteration). Re-running the same command resumes an interrupted loop.
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
r fit --images "$OUT/train_img.npy" --texts "$OUT/train_txt.npy" --captions "$TRAIN_CAPTIONS" \
    --method ridge --lambda-grid 0.01,0.1,1,10,100,1000 --select gcv --out "$OUT/W.npy" --quiet

r dal --images "$TEST_IMAGES" --clip "$CLIP" --map "$OUT/W.npy" \
    --texts "$OUT/train_txt.npy" --captions "$TRAIN_CAPTIONS" --lm "$LM" -k 7 \
    "${DECODE_FLAGS[@]}" --iterations "${ITERATIONS:-3}" --top-fraction 0.5 \
    --state-dir "$OUT/state" --references "$TEST_CAPTIONS" --out "$OUT/results.json" --quiet
r plot dal --input "$OUT/state/dal.json" --out "$OUT/dal"
echo "dal: outputs in $OUT"
