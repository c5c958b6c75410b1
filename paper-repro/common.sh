# Shared by the paper-repro scripts (sourced, not run).
#
# RECAP: the recap binary (default: target/release/recap, built with the models and http
# features when missing). mini_inputs DIR writes the miniature's inputs: the tiny random
# models of `recap make-tiny-models` and the shape images of `recap synth-images`; it sets
# CLIP, LM, SMALLCAP, TRAIN_IMAGES, TRAIN_CAPTIONS, TEST_IMAGES, TEST_REFS, JUDGMENTS.
# The miniature checks that the whole protocol runs end to end and writes every output and
# figure; with untrained models its numbers mean nothing.

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if [ -z "${RECAP:-}" ]; then
    RECAP="$ROOT/target/release/recap"
    if [ ! -x "$RECAP" ]; then
        (cd "$ROOT" && cargo build --release --features models,http)
    fi
fi
export RECAP

# Run recap, echoing the command for the log.
r() {
    echo "+ recap $*" >&2
    "$RECAP" "$@"
}

mini_inputs() {
    local dir="$1"
    mkdir -p "$dir"
    r make-tiny-models --out "$dir/models" --quiet
    r synth-images --out-dir "$dir/data" --n-train "${MINI_TRAIN:-60}" --n-test "${MINI_TEST:-8}" \
        --image-size 32 --quiet
    CLIP="$dir/models/clip"
    LM="$dir/models/t5"
    SMALLCAP="$dir/models/smallcap"
    TRAIN_IMAGES="$dir/data/train/images"
    TRAIN_CAPTIONS="$dir/data/train/captions.json"
    TEST_IMAGES="$dir/data/test/images"
    TEST_REFS="$dir/data/test/references.json"
    JUDGMENTS="$dir/data/test/judgments.json"
    # The miniature's decoding: short, few beams (the tiny models write noise anyway).
    DECODE_FLAGS=(-n 4 --beams 4 --max-new-tokens 8)
}

# Parse --mini / --out DIR; sets MINI (0/1) and OUT.
parse_args() {
    MINI=0
    OUT=""
    while [ $# -gt 0 ]; do
        case "$1" in
            --mini) MINI=1 ;;
            --out) OUT="$2"; shift ;;
            *) echo "unknown argument $1 (use --mini and/or --out DIR)" >&2; return 2 ;;
        esac
        shift
    done
    OUT="${OUT:-$(pwd)/out}"
    mkdir -p "$OUT"
}

# Fail with a message when a variable the full run needs is unset.
need() {
    for v in "$@"; do
        if [ -z "${!v:-}" ]; then
            echo "set $v (see this folder's README.md), or run with --mini" >&2
            exit 2
        fi
    done
}
