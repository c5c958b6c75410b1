#!/usr/bin/env bash
# recap against the Python peers (../shared/peers) on the same files, in one sitting, with the
# machine's GEMM peak measured in the same run. Writes $RUN/results.jsonl, $RUN/tables.md and
# $RUN/log.txt. Stages (default: all): peak fit566k steep ret566k table.
# env: PEERS (../shared/peers), P (/tmp/peers-venv/bin/python), DATA (/tmp/peers-data),
#      RUN ($DATA/results/recap-<time>), REPEAT (2), RECAP (target/release/recap)
set -uo pipefail
cd "$(dirname "$0")/../.."
PEERS="${PEERS:-$(cd ../shared/peers && pwd)}"
P="${P:-/tmp/peers-venv/bin/python}"
DATA="${DATA:-/tmp/peers-data}"
RUN="${RUN:-$DATA/results/recap-$(date +%Y%m%d-%H%M%S)}"
REPEAT="${REPEAT:-2}"
RECAP="${RECAP:-target/release/recap}"
J="$RUN/results.jsonl"
mkdir -p "$RUN"
[ -x "$P" ] || bash "$PEERS/setup.sh"
[ -x "$RECAP" ] || cargo build --release
STAGES=("$@"); [ ${#STAGES[@]} -gt 0 ] || STAGES=(peak fit566k steep ret566k table)
F="$DATA/fit_n566000_d768"; S="$DATA/fit_n100000_d512_decay2"; R="$DATA/ret_m566000_q5000_d768"
run() { echo "+ $*"; timeout 590 "$@"; }
# faiss-cpu's bundled OpenBLAS does not know recent CPUs; name the kernel this CPU can run.
if grep -q avx512f /proc/cpuinfo; then CORETYPE="${CORETYPE:-SkylakeX}"; else CORETYPE="${CORETYPE:-Haswell}"; fi
# recap (ridge, Procrustes; grouped when $4 > 0) and the four peers on one fit set, then ΔW of
# every ridge W vs the f64 normal equations and every Procrustes W vs f64 Procrustes.
fit_stage() { # tag dir lambda grouped_by
    local tag=$1 D=$2 lam=$3 grouped=$4
    # This VM caps the page cache near 3.6 GB (about the size of X + Y at 566k): warm it once
    # so every participant starts from the same state.
    cat "$D/X.npy" "$D/Y.npy" > /dev/null
    run "$RECAP" bench fit --dir "$D" --methods ridge,procrustes --lambda "$lam" --repeat "$REPEAT" \
        --grouped-by "$grouped" --out-dir "$RUN/recap_$tag" --label "$tag"
    cat "$RUN/recap_$tag/results.jsonl" >> "$J"
    for m in sklearn_ridge procrustes normal_cholesky procrustes_f64; do
      run "$P" "$PEERS/fit_peer.py" "$D/X.npy" "$D/Y.npy" --method $m --lam "$lam" --repeat "$REPEAT" \
          --out "$RUN/W_${tag}_$m.npy" --json "$J" --label "$tag"
    done
    run "$P" "$PEERS/compare_w.py" "$D/X.npy" "$D/Y.npy" --lam "$lam" --ref "$RUN/W_${tag}_normal_cholesky.npy" \
        "$RUN/W_${tag}_sklearn_ridge.npy" "$RUN/recap_$tag"/W_ridge*.npy --json "$J" --label "$tag"
    run "$P" "$PEERS/compare_w.py" "$D/X.npy" "$D/Y.npy" --lam 0 --ref "$RUN/W_${tag}_procrustes_f64.npy" \
        "$RUN/W_${tag}_procrustes.npy" "$RUN/recap_$tag"/W_procrustes*.npy --json "$J" --label "$tag"
}
for s in "${STAGES[@]}"; do case $s in
  peak) run "$P" "$PEERS/peak.py" ;;
  fit566k)
    [ -f "$F/X.npy" ] || run "$P" "$PEERS/gen.py" fit --out "$F" --n 566000 --d 768
    fit_stage fit566k "$F" 1 5 ;;
  steep)
    [ -f "$S/X.npy" ] || run "$P" "$PEERS/gen.py" fit --out "$S" --n 100000 --d 512 --decay 2.0
    fit_stage steep "$S" 0.01 0 ;;
  ret566k)
    [ -f "$R/datastore.npy" ] || run "$P" "$PEERS/gen.py" retrieval --out "$R" --m 566000 --q 5000 --d 768
    run "$RECAP" bench retrieve --texts "$R/datastore.npy" --images "$R/queries.npy" --k 1,7,100 \
        --f16-k 7 --repeat "$REPEAT" --peak-n 4096 --out-prefix "$RUN/recap_ret" --jsonl "$J" --label ret566k
    run env OPENBLAS_CORETYPE="$CORETYPE" "$P" "$PEERS/topk_peer.py" "$R/queries.npy" "$R/datastore.npy" --k 7 \
        --method faiss_flatip --repeat "$REPEAT" --out "$RUN/faiss_skx" --json "$J" --label "ret566k_k7_$CORETYPE"
    run "$P" "$PEERS/topk_peer.py" "$R/queries.npy" "$R/datastore.npy" --k 7 --method faiss_flatip \
        --repeat 1 --out "$RUN/faiss_default" --json "$J" --label ret566k_k7_default
    run "$P" "$PEERS/compare_topk.py" "$R/queries.npy" "$R/datastore.npy" --gt "$R/gt.npy" \
        "$RUN/faiss_skx" "$RUN/recap_ret_k7" "$RUN/recap_ret_f16_k7" --json "$J" --label ret566k ;;
  table) run "$P" "$PEERS/table.py" "$J" | tee "$RUN/tables.md" ;;
esac; done 2>&1 | tee -a "$RUN/log.txt"
echo "results: $RUN"
