#!/usr/bin/env python3
"""recap-rs against the CLI and the Python peers, in one sitting (benchmarks, not tests).

    python recap-py/bench/bench.py --recap target/release/recap \
        --fit-dir /tmp/peers-data/fit_n566000_d768 --json /tmp/recap-py-bench.json

Measures (min of --repeat runs each, alternating so drift hits both sides):
1. ridge fit from .npy: `recap_rs.fit_files` vs `recap fit` (same files, same λ), and the
   package's peak RSS over the CLI's (`/usr/bin/time`-free: ru_maxrss of children vs self);
2. per-call overhead on tiny inputs (µs): GramStats.update, fit, Index.search, Cider;
3. Index.search vs faiss.IndexFlatIP (100,000 x 512 datastore, 1,000 queries, k = 7);
4. BLEU + ROUGE-L + CIDEr-D vs pycocoevalcap's Python scorers (5,000 images x 5 refs);
5. Ray (2 CPUs): 8-shard fit and 4-shard search over the single process.
"""

import argparse
import contextlib
import io
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

import recap_rs


def best(fn, repeat):
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times), times


def per_call_us(fn, n=2000):
    fn()
    t = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - t) / n * 1e6


def bench_fit(args, out):
    x, y = Path(args.fit_dir) / "X.npy", Path(args.fit_dir) / "Y.npy"
    cli, pkg = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(args.repeat):
            t = time.perf_counter()
            subprocess.run(
                [args.recap, "fit", "--images", str(x), "--texts", str(y), "--method", "ridge",
                 "--lambda", "1", "--out", f"{tmp}/W.npy", "--threads", "0"],
                check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            cli.append(time.perf_counter() - t)
            t = time.perf_counter()
            m = recap_rs.fit_files(x, y, method="ridge", alpha=1.0)
            pkg.append(time.perf_counter() - t)
        w_cli = np.load(f"{tmp}/W.npy")
    rss_pkg = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    rss_cli = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    out["fit_566k"] = {
        "cli_s": min(cli), "package_s": min(pkg), "cli_runs": cli, "package_runs": pkg,
        "ratio_package_over_cli": min(pkg) / min(cli),
        "max_abs_w_diff": float(np.abs(m.w - w_cli).max()),
        "peak_rss_mb_package_process": rss_pkg, "peak_rss_mb_cli": rss_cli,
    }


def bench_overhead(out):
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((2, 8, 4), dtype=np.float32)
    s = recap_rs.GramStats(4, 4)
    idx = recap_rs.Index(rng.standard_normal((10, 4), dtype=np.float32))
    q = x[:1].copy()
    from recap_rs.metrics import Cider

    gts, res = {"a": ["a dog runs", "the dog runs"]}, {"a": ["a dog"]}
    out["overhead_us"] = {
        "GramStats.update(8x4)": per_call_us(lambda: s.update(x, y)),
        "fit(8x4, ridge)": per_call_us(lambda: recap_rs.fit(x, y, method="ridge", alpha=1.0), 500),
        "Index.search(1 query, 10 rows, k=3)": per_call_us(lambda: idx.search(q, 3)),
        "Cider.compute_score(1 image)": per_call_us(lambda: Cider().compute_score(gts, res)),
        "numpy x @ x.T (8x4), for scale": per_call_us(lambda: x @ x.T),
    }


def bench_search(args, out):
    import faiss

    rng = np.random.default_rng(1)
    xb = rng.standard_normal((100_000, 512), dtype=np.float32)
    xb /= np.linalg.norm(xb, axis=1, keepdims=True)
    xq = rng.standard_normal((1000, 512), dtype=np.float32)
    xq /= np.linalg.norm(xq, axis=1, keepdims=True)
    idx = recap_rs.Index(xb, metric="ip")
    fi = faiss.IndexFlatIP(512)
    fi.add(xb)
    ours, _ = best(lambda: idx.search(xq, 7), args.repeat)
    theirs, _ = best(lambda: fi.search(xq, 7), args.repeat)
    same = float((idx.search(xq, 7)[1] == fi.search(xq, 7)[1]).all(axis=1).mean())
    out["search_100k_d512_q1000_k7"] = {"recap_rs_s": ours, "faiss_s": theirs,
                                        "speedup_over_faiss": theirs / ours, "identical_rows_fraction": same}


def bench_metrics(args, out):
    from pycocoevalcap.bleu.bleu import Bleu as RB
    from pycocoevalcap.cider.cider import Cider as RC
    from pycocoevalcap.rouge.rouge import Rouge as RR

    from recap_rs.metrics import Bleu, Cider, Rouge

    # The captions of the crate's own metrics bench (`cargo bench -- metrics`) and of
    # tests/data/metrics/bench_pycoco.py: 5,000 candidates x 5 references, Zipf-like words.
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tests/data/metrics"))
    from bench_pycoco import Lcg, caption

    from recap_rs.metrics import PTBTokenizer

    rng = Lcg(42)
    raw_res, raw_gts = {}, {}
    for i in range(5000):
        raw_res[i] = [{"caption": caption(rng)}]
        raw_gts[i] = [{"caption": caption(rng)} for _ in range(5)]
    tok = PTBTokenizer()
    gts, res = tok.tokenize(raw_gts), tok.tokenize(raw_res)
    ours, _ = best(lambda: [s.compute_score(gts, res) for s in (Bleu(4), Rouge(), Cider())], args.repeat)
    def reference():
        with contextlib.redirect_stdout(io.StringIO()):  # pycocoevalcap's Bleu prints its counts
            return [s.compute_score(gts, res) for s in (RB(4), RR(), RC())]

    theirs, _ = best(reference, 1)
    got = [s.compute_score(gts, res) for s in (Bleu(4), Rouge(), Cider())]
    want = reference()
    assert abs(got[2][0] - want[2][0]) < 1e-12 and max(abs(a - b) for a, b in zip(got[0][0], want[0][0])) < 1e-12
    out["metrics_5000x5"] = {"recap_rs_s": ours, "pycocoevalcap_s": theirs, "speedup": theirs / ours}


def bench_ray(args, out):
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    import ray

    from recap_rs.distributed import ray as rr

    rng = np.random.default_rng(3)
    with tempfile.TemporaryDirectory() as tmp:
        x = rng.standard_normal((200_000, 512), dtype=np.float32)
        y = np.ascontiguousarray(x[:, :384] + 0.1 * rng.standard_normal((200_000, 384), dtype=np.float32))
        pairs = []
        for s in range(8):
            sl = slice(s * 25_000, (s + 1) * 25_000)
            np.save(f"{tmp}/x{s}.npy", x[sl])
            np.save(f"{tmp}/y{s}.npy", y[sl])
            pairs.append((f"{tmp}/x{s}.npy", f"{tmp}/y{s}.npy"))
        np.save(f"{tmp}/x.npy", x)
        np.save(f"{tmp}/y.npy", y)
        ray.init(num_cpus=2, include_dashboard=False, configure_logging=False, log_to_driver=False)
        try:
            rr.fit(pairs[:2], method="ridge", alpha=1.0)  # warm the workers
            single, _ = best(lambda: recap_rs.fit_files(f"{tmp}/x.npy", f"{tmp}/y.npy", method="ridge", alpha=1.0, precision="f32"), args.repeat)
            dist, _ = best(lambda: rr.fit(pairs, method="ridge", alpha=1.0, num_cpus=1), args.repeat)
            shards = [f"{tmp}/y{s}.npy" for s in range(0, 8, 2)]
            for s in range(0, 8, 2):
                np.save(shards[s // 2], y[s * 25_000:(s + 2) * 25_000])
            q = y[:2000].copy()
            idx = recap_rs.Index(y)
            one, _ = best(lambda: idx.search(q, 7), args.repeat)
            si = rr.ShardedIndex(shards, num_cpus=0.5)
            sharded, _ = best(lambda: si.search(q, 7), args.repeat)
            si.shutdown()
        finally:
            ray.shutdown()
    out["ray_2cpu"] = {"fit_single_s": single, "fit_ray_8_shards_s": dist, "fit_overhead": dist / single,
                       "search_single_s": one, "search_ray_4_shards_s": sharded, "search_overhead": sharded / one}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--recap", default="target/release/recap")
    ap.add_argument("--fit-dir", default="/tmp/peers-data/fit_n566000_d768")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--only", nargs="*", default=["fit", "overhead", "search", "metrics", "ray"])
    ap.add_argument("--json")
    args = ap.parse_args()
    out = {"cpu": subprocess.run(["sh", "-c", "lscpu | sed -n 's/^Model name: *//p'"], capture_output=True, text=True).stdout.strip()}
    steps = {"fit": lambda: bench_fit(args, out), "overhead": lambda: bench_overhead(out),
             "search": lambda: bench_search(args, out), "metrics": lambda: bench_metrics(args, out),
             "ray": lambda: bench_ray(args, out)}
    for name in args.only:
        steps[name]()
        print(json.dumps({k: v for k, v in out.items() if k != "cpu"}, indent=1), file=sys.stderr)
    text = json.dumps(out, indent=1)
    if args.json:
        Path(args.json).write_text(text)
    print(text)


if __name__ == "__main__":
    main()
