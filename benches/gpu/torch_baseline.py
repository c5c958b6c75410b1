#!/usr/bin/env python3
"""PyTorch baseline for `recap bench device --device cuda` (same shapes, same GPU).

Fit: Gram X^T X and X^T Y from host memory (copied to the GPU in chunks), ridge, then
torch.linalg.solve. Search: torch.mm score tiles + torch.topk, merged per tile (the q x m
matrix is also timed whole when it fits). Prints JSON. Usage:
    python3 torch_baseline.py [--n 566000 --d 768 --q 5000 --m 566000 --k 7,4096 --reps 3]
"""
import argparse, json, time

import torch


def best(reps, f):
    t = float("inf")
    out = None
    for _ in range(reps):
        torch.cuda.synchronize()
        t0 = time.perf_counter()
        out = f()
        torch.cuda.synchronize()
        t = min(t, time.perf_counter() - t0)
    return t, out


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--n", type=int, default=566_000)
    p.add_argument("--d", type=int, default=768)
    p.add_argument("--q", type=int, default=5_000)
    p.add_argument("--m", type=int, default=566_000)
    p.add_argument("--k", default="7,4096")
    p.add_argument("--reps", type=int, default=3)
    p.add_argument("--chunk", type=int, default=65_536)
    a = p.parse_args()
    torch.backends.cuda.matmul.allow_tf32 = False
    dev = torch.device("cuda")
    g = torch.Generator().manual_seed(0)
    rows = []

    x = torch.rand(a.n, a.d, generator=g).mul_(2).sub_(1).pin_memory()
    y = torch.rand(a.n, a.d, generator=g).mul_(2).sub_(1).pin_memory()

    def fit():
        xtx = torch.zeros(a.d, a.d, dtype=torch.float64, device=dev)
        xty = torch.zeros(a.d, a.d, dtype=torch.float64, device=dev)
        for s in range(0, a.n, a.chunk):
            xc = x[s : s + a.chunk].to(dev, non_blocking=True)
            yc = y[s : s + a.chunk].to(dev, non_blocking=True)
            xtx += (xc.T @ xc).double()
            xty += (xc.T @ yc).double()
        lam = 1e-3 * torch.trace(xtx) / a.d
        return torch.linalg.solve(xtx + lam * torch.eye(a.d, dtype=torch.float64, device=dev), xty)

    t, _ = best(a.reps, fit)
    rows.append({"what": f"torch fit n={a.n} d={a.d} (chunked Gram f32->f64, linalg.solve)", "seconds": t})

    qs = (torch.rand(a.q, a.d, generator=g) * 2 - 1).to(dev)
    xs = (torch.rand(a.m, a.d, generator=g) * 2 - 1).to(dev)
    try:
        t, _ = best(a.reps, lambda: torch.mm(qs, xs.T))
        rows.append({"what": f"torch.mm q={a.q} m={a.m} d={a.d}", "seconds": t})
    except torch.cuda.OutOfMemoryError:
        pass
    for k in [int(v) for v in a.k.split(",")]:
        def search():
            s = torch.mm(qs, xs.T)
            return torch.topk(s, min(k, a.m), dim=1)
        try:
            t, _ = best(a.reps, search)
            rows.append({"what": f"torch.topk(torch.mm) k={k}", "seconds": t})
        except (torch.cuda.OutOfMemoryError, RuntimeError) as e:
            rows.append({"what": f"torch.topk(torch.mm) k={k}", "error": str(e)[:200]})
        torch.cuda.empty_cache()
    flops_search = 2.0 * a.q * a.m * a.d
    for r in rows:
        if "seconds" in r and "fit" not in r["what"]:
            r["gflops"] = flops_search / r["seconds"] / 1e9
    print(json.dumps({"device": torch.cuda.get_device_name(), "torch": torch.__version__,
                      "cuda": torch.version.cuda, "rows": rows}, indent=2))


if __name__ == "__main__":
    main()
