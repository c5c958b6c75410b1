#!/usr/bin/env bash
# Kendall τ between caption metrics and human ratings (clipscore's Flickr8k protocol), the
# CLIP-based metrics computed from the images: CLIP-S, RefCLIP-S, and through a fitted W
# (ReCap's aCLIP-S, RefaCLIP-S).
#   run.sh --mini [--out DIR]   tiny random models + synthetic shapes with ratings (CI)
#   run.sh [--out DIR]          the real run; set JUDGMENTS (flickr8k.json), IMAGE_ROOT (the
#                               folder image_path is relative to), CLIP, MAP (a W.npy fitted
#                               by recap fit, e.g. paper-repro/recap_coco's), TAU (c|b)
# Writes to OUT: items.json (item order, ratings, every metric's score), the embeddings,
# correlation.json (τ per metric), correlation.{png,svg} (each metric vs the rating).
set -euo pipefail
source "$(dirname "$0")/../common.sh"
parse_args "$@"
if [ "$MINI" = 1 ]; then
    mini_inputs "$OUT/inputs"
    IMAGE_ROOT="$OUT/inputs/data/test"
    r embed --model "$CLIP" --images "$TRAIN_IMAGES" --out "$OUT/train_img.npy" --quiet
    r embed --model "$CLIP" --texts "$TRAIN_CAPTIONS" --out "$OUT/train_txt.npy" --quiet
    r fit --images "$OUT/train_img.npy" --texts "$OUT/train_txt.npy" \
        --captions "$TRAIN_CAPTIONS" --method ridge --lambda 1 --out "$OUT/W.npy" --quiet
    MAP="$OUT/W.npy"
    TAU=c
else
    need JUDGMENTS IMAGE_ROOT CLIP MAP
fi

# The item order of the protocol, then the texts and images in that order.
r correlate --judgments "$JUDGMENTS" --tau "${TAU:-c}" --metrics bleu,rouge,cider \
    --items-out "$OUT/items.json" --json > /dev/null
python3 - "$JUDGMENTS" "$OUT" "$IMAGE_ROOT" <<'PY'
import json, os, sys
judgments, out, root = sys.argv[1], sys.argv[2], sys.argv[3]
items = json.load(open(os.path.join(out, "items.json")))
data = json.load(open(judgments))
keys = sorted(data)
with open(os.path.join(out, "candidates.txt"), "w") as f:
    f.write("".join(i["candidate"] + "\n" for i in items))
refs = [(k, " ".join(r.split())) for k in keys for r in data[k]["ground_truth"]]
with open(os.path.join(out, "references.txt"), "w") as f:
    f.write("".join(r + "\n" for _, r in refs))
json.dump([k for k, _ in refs], open(os.path.join(out, "reference_ids.json"), "w"))
with open(os.path.join(out, "images.txt"), "w") as f:
    f.write("".join(os.path.abspath(os.path.join(root, data[k]["image_path"])) + "\n" for k in keys))
json.dump(keys, open(os.path.join(out, "image_keys.json"), "w"))
PY
r embed --model "$CLIP" --images "$OUT/images.txt" --out "$OUT/images.npy" --quiet
r embed --model "$CLIP" --texts "$OUT/candidates.txt" --out "$OUT/candidates.npy" --quiet
r embed --model "$CLIP" --texts "$OUT/references.txt" --out "$OUT/references.npy" --quiet
r correlate --judgments "$JUDGMENTS" --tau "${TAU:-c}" \
    --metrics bleu,rouge,cider,clip-s,refclip-s,aclip-s,refaclip-s \
    --images "$OUT/images.npy" --image-ids "$OUT/image_keys.json" \
    --cand-emb "$OUT/candidates.npy" --ref-emb "$OUT/references.npy" \
    --ref-ids "$OUT/reference_ids.json" --map "$MAP" --out "$OUT/correlation.json" \
    --items-out "$OUT/items.json"
r plot correlation --input "$OUT/items.json" --tau "${TAU:-c}" --out "$OUT/correlation"
echo "flickr8k_correlation: outputs in $OUT"
