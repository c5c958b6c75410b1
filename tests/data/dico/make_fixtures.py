"""Reference values for recap's DiCO objective (tests/dico.rs).

Follows the authors' code (aimagelab/DiCO, trainers/dico_trainer.py: compute_rank,
weight_quality_distances, dico_loss, compute_dico_logps) in torch float64, with autograd for
the gradients. Embeddings, logits and log-probabilities are drawn as float32 (what recap reads)
and widened to float64. Run: python make_fixtures.py  (torch, numpy) -> cases.json
"""
import json

import numpy as np
import torch
import torch.nn.functional as F

torch.set_default_dtype(torch.float64)


def rewards_of(images, cands, k, weight, clip):
    img = torch.from_numpy(images.astype(np.float64)).repeat_interleave(k, dim=0)
    cnd = torch.from_numpy(cands.astype(np.float64))
    cos = (img * cnd).sum(-1) / (img.norm(dim=-1) * cnd.norm(dim=-1))
    return weight * (cos.clamp(min=0) if clip else cos)


def dico(rewards, policy, reference, k, tau, beta):
    """The authors' dico_loss on flat image-major tensors; returns outputs and dL/dpolicy."""
    policy = policy.clone().requires_grad_(True)
    r = rewards.view(-1, k)
    chosen = torch.zeros_like(r, dtype=torch.bool).scatter(1, torch.argmax(r, dim=-1, keepdim=True), True)
    rejected = ~chosen
    pol, ref = policy.view(-1, k), reference.view(-1, k)
    gamma = F.softmax(((r[chosen].unsqueeze(1) - r)[rejected] * tau).view(-1, k - 1), dim=-1)
    pol_rej = (pol[rejected].view(-1, k - 1) * gamma).sum(-1)
    ref_rej = (ref[rejected].view(-1, k - 1) * gamma).sum(-1)
    z = (pol[chosen] - pol_rej) - (ref[chosen] - ref_rej)
    terms = -F.logsigmoid(beta * z)
    loss = terms.mean()
    loss.backward()
    weights = torch.zeros_like(r)
    weights[rejected] = gamma.reshape(-1)
    return {
        "winners": chosen.float().argmax(-1).tolist(),
        "loser_weights": weights.reshape(-1).tolist(),
        "margins": z.detach().tolist(),
        "loss_terms": terms.detach().tolist(),
        "loss": loss.item(),
        "grad_logp_policy": policy.grad.tolist(),
        "chosen_rewards": (beta * (pol[chosen] - ref[chosen])).detach().tolist(),
        "rejected_rewards": (beta * (pol_rej - ref_rej)).detach().tolist(),
    }


def f32(rng, *shape, scale=1.0):
    return (rng.standard_normal(shape) * scale).astype(np.float32)


def objective_case(name, rng, n, k, d, tau=300.0, beta=0.2, weight=2.0, clip=False, logp_scale=10.0, tie=False):
    images = f32(rng, n, d)
    cands = f32(rng, n * k, d)
    if tie:  # equal rewards: candidates 1 and 3 of every image are copies of candidate 0
        for i in range(n):
            cands[i * k + 1] = cands[i * k]
            cands[i * k + min(3, k - 1)] = cands[i * k]
    policy = f32(rng, n * k, scale=logp_scale) - 20
    reference = f32(rng, n * k, scale=logp_scale) - 20
    r = rewards_of(images, cands, k, weight, clip)
    out = dico(r, torch.from_numpy(policy.astype(np.float64)), torch.from_numpy(reference.astype(np.float64)), k, tau, beta)
    return {
        "name": name, "k": k, "tau": tau, "beta": beta, "weight": weight, "clip_at_zero": clip,
        "dim": d, "images": images.reshape(-1).tolist(), "candidates": cands.reshape(-1).tolist(),
        "policy_logp": policy.tolist(), "ref_logp": reference.tolist(), "rewards": r.tolist(), **out,
    }


def logprob_case(name, rng, batch, length, vocab, pad, k):
    logits = f32(rng, batch, length, vocab, scale=3.0)
    targets = rng.integers(0, vocab, size=(batch, length))
    targets[targets == pad] = (pad + 1) % vocab
    targets[1, 4:] = pad           # a short sequence (trailing padding)
    targets[2, 2] = pad            # padding in the middle of a sequence
    targets[batch - 1, 5:] = pad
    x = torch.from_numpy(logits.astype(np.float64)).requires_grad_(True)
    y = torch.from_numpy(targets)
    mask = y != pad
    per_token = torch.gather(x.log_softmax(-1), dim=2, index=y.unsqueeze(2)).squeeze(2)
    logp = (per_token * mask).sum(-1)
    upstream = torch.from_numpy(rng.standard_normal(batch))
    (logp * upstream).sum().backward()
    return {
        "name": name, "batch": batch, "len": length, "vocab": vocab, "pad_id": pad, "k": k,
        "logits": logits.reshape(-1).tolist(), "targets": targets.reshape(-1).tolist(),
        "logp": logp.detach().tolist(), "upstream": upstream.tolist(),
        "grad_logits": x.grad.reshape(-1).tolist(),
    }


def main():
    rng = np.random.default_rng(20261203)
    cases = {
        "objective": [
            objective_case("random", rng, n=6, k=5, d=16),
            objective_case("ties", rng, n=4, k=5, d=8, tie=True),
            objective_case("large_margins", rng, n=5, k=5, d=8, logp_scale=2000.0),
            objective_case("k2", rng, n=7, k=2, d=8),
            objective_case("clip_tau_beta", rng, n=3, k=4, d=8, tau=7.5, beta=1.3, weight=2.5, clip=True),
        ],
        "logprob": [logprob_case("padded", rng, batch=4, length=9, vocab=13, pad=0, k=2)],
    }
    with open("cases.json", "w") as f:
        json.dump(cases, f)


if __name__ == "__main__":
    main()
