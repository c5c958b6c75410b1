"""DiCO's objective for one batch in PyTorch (CPU), the peer of `recap bench dico`.

The computation of the authors' trainer (aimagelab/DiCO, trainers/dico_trainer.py) on random
data: PAC-S rewards from embeddings, argmax winner, softmax loser weights, the policy's and
the reference's masked sequence log-probabilities (log_softmax + gather), the loss, and its
backward pass to the policy's logits. float32 as the trainer runs it (--dtype float64 for
recap's arithmetic). Prints one JSON line.

  python dico_torch.py [--images 64 --k 5 --len 30 --vocab 49408 --dim 768 --repeat 5 --threads 2]
"""
import argparse
import json
import time

import torch
import torch.nn.functional as F


def objective(img, cand, policy_logits, ref_logits, targets, pad, k, tau=300.0, beta=0.2, weight=2.0):
    policy_logits = policy_logits.requires_grad_(True)
    rewards = weight * F.cosine_similarity(img.repeat_interleave(k, 0), cand, dim=-1)
    r = rewards.view(-1, k)
    chosen = torch.zeros_like(r, dtype=torch.bool).scatter(1, torch.argmax(r, -1, keepdim=True), True)
    rejected = ~chosen
    mask = targets != pad

    def logps(logits):
        return (torch.gather(logits.log_softmax(-1), 2, targets.unsqueeze(2)).squeeze(2) * mask).sum(-1).view(-1, k)

    with torch.no_grad():
        ref = logps(ref_logits)
    pol = logps(policy_logits)
    gamma = F.softmax(((r[chosen].unsqueeze(1) - r)[rejected] * tau).view(-1, k - 1), -1)
    pol_rej = (pol[rejected].view(-1, k - 1) * gamma).sum(-1)
    ref_rej = (ref[rejected].view(-1, k - 1) * gamma).sum(-1)
    z = (pol[chosen] - pol_rej) - (ref[chosen] - ref_rej)
    loss = -F.logsigmoid(beta * z).mean()
    loss.backward()
    return loss.item(), policy_logits.grad


def main():
    p = argparse.ArgumentParser()
    for name, default in [("images", 64), ("k", 5), ("len", 30), ("vocab", 49408), ("dim", 768), ("repeat", 5), ("threads", 2)]:
        p.add_argument(f"--{name}", type=int, default=default)
    p.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    dtype = getattr(torch, a.dtype)
    g = torch.Generator().manual_seed(0)
    rows = a.images * a.k
    img, cand = torch.randn(a.images, a.dim, generator=g), torch.randn(rows, a.dim, generator=g)
    policy = torch.randn(rows, a.len, a.vocab, generator=g, dtype=dtype)
    ref = torch.randn(rows, a.len, a.vocab, generator=g, dtype=dtype)
    targets = torch.randint(1, a.vocab, (rows, a.len), generator=g)
    targets[1::2, -5:] = 0
    times = []
    for _ in range(a.repeat):
        logits = policy.detach().clone()  # a fresh leaf (not timed: the trainer's logits exist)
        start = time.perf_counter()
        loss, _ = objective(img.to(dtype), cand.to(dtype), logits, ref, targets, 0, a.k)
        times.append(time.perf_counter() - start)
    times.sort()
    print(json.dumps({"kind": "dico", "peer": "torch", "torch": torch.__version__, "dtype": a.dtype, "threads": a.threads,
                      "images": a.images, "k": a.k, "len": a.len, "vocab": a.vocab, "median_s": times[len(times) // 2],
                      "times_s": times, "loss": loss}))


if __name__ == "__main__":
    main()
