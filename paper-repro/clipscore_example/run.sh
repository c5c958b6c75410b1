#!/usr/bin/env bash
# Reproduce the n-gram metrics of jmhessel/clipscore's README example with recap.
# Expected (clipscore README; pycocoevalcap 1.2 with Java 17):
#   good_captions.json: BLEU-1..4 0.6667 0.4899 0.3469 0.0000, METEOR 0.3444, ROUGE-L 0.4280, CIDEr 0.5637
#   bad_captions.json:  BLEU-1..4 0.4815 0.2404 0.1359 0.0000, METEOR 0.1861, ROUGE-L 0.3121, CIDEr 0.2790
# METEOR needs Java and the official jar (RECAP_METEOR_JAR or scripts/fetch_meteor.sh).
set -euo pipefail
cd "$(dirname "$0")/../.."
D=tests/data/metrics/clipscore_example
RECAP="${RECAP:-target/release/recap}"
[ -x "$RECAP" ] || cargo build --release
METRICS=bleu,rouge,cider
if command -v java >/dev/null 2>&1; then
    export RECAP_METEOR_JAR="${RECAP_METEOR_JAR:-$(scripts/fetch_meteor.sh)}"
    METRICS=bleu,meteor,rouge,cider
fi
for c in good_captions bad_captions; do
    echo "== $c.json"
    "$RECAP" score --candidates "$D/$c.json" --references "$D/refs.json" --metrics "$METRICS" \
        --out "/tmp/recap_clipscore_$c.json"
done
