#!/usr/bin/env python3
"""Time pycocoevalcap 1.2 on the captions `cargo bench --bench recap_bench -- metrics` uses.

Same generator as benches/metrics_bench.rs (64-bit LCG, Zipf-like words). Times:
- the Java PTBTokenizer step (pycocoevalcap's PTBTokenizer.tokenize on all captions),
- Bleu(4) + Rouge() + Cider() compute_score on the tokenized captions (pure Python).

    /tmp/metrics-venv/bin/python tests/data/metrics/bench_pycoco.py [N]   # N = 5000 default
"""
import sys
import time

from pycocoevalcap.bleu.bleu import Bleu
from pycocoevalcap.cider.cider import Cider
from pycocoevalcap.rouge.rouge import Rouge
from pycocoevalcap.tokenizer.ptbtokenizer import PTBTokenizer

MASK = (1 << 64) - 1
VOCAB = 2000


class Lcg:
    def __init__(self, seed):
        self.x = seed

    def next_f64(self):
        self.x = (self.x * 6364136223846793005 + 1442695040888963407) & MASK
        return (self.x >> 11) / float(1 << 53)

    def below(self, n):
        return min(int(self.next_f64() * n), n - 1)


def caption(rng):
    length = 8 + rng.below(8)
    words = []
    for i in range(length):
        u = rng.next_f64()
        w = "w%d" % int(VOCAB * u * u)
        r = rng.next_f64()
        if r < 0.05:
            w += "'s"
        elif r < 0.10 and i + 1 < length:
            w += ","
        if i == 0:
            w = w.replace("w", "W", 1)
        words.append(w)
    return " ".join(words) + "."


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 5000
    rng = Lcg(42)
    cands, refs = [], []
    for _ in range(n):
        cands.append(caption(rng))
        refs.append([caption(rng) for _ in range(5)])
    tok = PTBTokenizer()
    t0 = time.perf_counter()
    gts = tok.tokenize({i: [{"caption": r} for r in rs] for i, rs in enumerate(refs)})
    res = tok.tokenize({i: [{"caption": c}] for i, c in enumerate(cands)})
    t_tok = time.perf_counter() - t0
    print("n=%d candidates x 5 refs (%d captions)" % (n, 6 * n))
    print("java PTBTokenizer (2 calls, as COCOEvalCap does): %.3f s" % t_tok)
    total = 0.0
    for name, scorer in [("Bleu(4)", Bleu(4)), ("Rouge", Rouge()), ("Cider", Cider())]:
        t0 = time.perf_counter()
        if name.startswith("Bleu"):
            score, _ = scorer.compute_score(gts, res, verbose=0)
        else:
            score, _ = scorer.compute_score(gts, res)
        dt = time.perf_counter() - t0
        total += dt
        print("%-8s %.3f s  corpus=%s" % (name, dt, score))
    print("Bleu+Rouge+Cider: %.3f s" % total)


if __name__ == "__main__":
    main()
