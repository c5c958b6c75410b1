"""SmallCap7M-sized decoder with random weights, for the decode-speed comparison
(tests/models_smallcap_speed.rs). Not a fixture: writes ~530 MB to OUT_DIR (not committed).

GPT-2 base (d 768, 12 layers, 12 heads, vocab 50257, 1024 positions) with SmallCap's reduced
cross-attention (r = 4), transformers' GPT2LMHeadModel initialisation (seed 0), the same
ReducedCrossAttention as make_fixtures.py. Records a 70-token prompt, (1, 50, 768) image
features, the greedy continuation (25 tokens, no EOS stop) and its logits, and times PyTorch:
prefill + 25 cached greedy steps for n = 1 and n = 3 hypotheses (HF-style: the image repeated
per hypothesis, cross K/V cached after the first step), median of 5, at 1 and 2 threads.

Run: CUDA_VISIBLE_DEVICES= /tmp/hf-venv/bin/python bench_reference.py OUT_DIR
"""

import json
import os
import statistics
import sys
import time

import numpy as np
import torch
from safetensors.torch import save_file
from transformers import GPT2Config, GPT2LMHeadModel
from transformers.cache_utils import DynamicCache, EncoderDecoderCache
from transformers.models.gpt2.modeling_gpt2 import GPT2Attention
from transformers.pytorch_utils import Conv1D

OUT = sys.argv[1]
os.makedirs(OUT, exist_ok=True)
torch.manual_seed(0)
R, NEW, PROMPT = 4, 25, 70


class ReducedCrossAttention(GPT2Attention):
    """SmallCap's ThisGPT2Attention(is_cross_attention=True) (see make_fixtures.py)."""

    def __init__(self, config, layer_idx):
        super().__init__(config, is_cross_attention=True, layer_idx=layer_idx)
        r = config.cross_attention_reduce_factor
        self.c_attn = Conv1D(int(2 / r * self.embed_dim), self.embed_dim)
        self.q_attn = Conv1D(int(self.embed_dim / r), self.embed_dim)
        self.c_proj = Conv1D(self.embed_dim, int(self.embed_dim / r))
        self.split_size = int(self.split_size / r)
        self.head_dim = int(self.head_dim / r)
        self.scaling = self.head_dim ** -0.5


dec = dict(vocab_size=50257, n_positions=1024, n_embd=768, n_layer=12, n_head=12,
           activation_function="gelu_new", add_cross_attention=True)
config = GPT2Config(**dec, attn_implementation="eager")
config.cross_attention_reduce_factor = R
model = GPT2LMHeadModel(config)
for i, block in enumerate(model.transformer.h):
    block.crossattention = ReducedCrossAttention(config, i)
    for m in block.crossattention.modules():
        if isinstance(m, Conv1D):
            torch.nn.init.normal_(m.weight, std=0.02)
model.eval()

TIME_ONLY = os.environ.get("TIME_ONLY") == "1"  # same model (seed 0), nothing written
state = {f"decoder.{k}": v.detach().clone().contiguous() for k, v in model.state_dict().items()}
state.pop("decoder.lm_head.weight", None)
if not TIME_ONLY:
    save_file(state, os.path.join(OUT, "model.safetensors"))
with open(os.path.join(OUT, "config.json"), "w") as f:
    json.dump({"model_type": "smallcap", "encoder": {"hidden_size": 768},
               "decoder": {**dec, "model_type": "this_gpt2", "cross_attention_reduce_factor": R}}, f)

gen = torch.Generator().manual_seed(1)
prompt = torch.randint(0, 50257, (PROMPT,), generator=gen).tolist()
features = torch.randn(1, 50, 768, generator=gen)


@torch.no_grad()
def decode(n, steps=NEW):
    """Prefill once per hypothesis row (HF expands the inputs), then cached greedy steps."""
    ids = torch.tensor([prompt] * n)
    enc = features.repeat(n, 1, 1)
    cache = EncoderDecoderCache(DynamicCache(), DynamicCache())
    out = model(input_ids=ids, encoder_hidden_states=enc, past_key_values=cache, use_cache=True)
    new, logits = [], [out.logits[:, -1]]
    for _ in range(steps):
        nxt = out.logits[:, -1].argmax(-1)
        new.append(nxt[0].item())
        out = model(input_ids=nxt[:, None], encoder_hidden_states=enc,
                    past_key_values=out.past_key_values, use_cache=True)
        logits.append(out.logits[:, -1])
    return new, torch.stack(logits, 1)


new, logits = decode(1)
if TIME_ONLY:
    with open(os.path.join(OUT, "expected.json")) as f:
        assert json.load(f)["greedy_new_ids"] == new, "not the model of OUT_DIR"
else:
    np.save(os.path.join(OUT, "features.npy"), features.numpy())
    np.save(os.path.join(OUT, "greedy_logits.npy"), logits[0].numpy())  # (NEW + 1, vocab)
    with open(os.path.join(OUT, "expected.json"), "w") as f:
        json.dump({"prompt_ids": prompt, "greedy_new_ids": new}, f)

timings = {}
for threads in [int(t) for t in os.environ.get("THREADS", "1,2").split(",")]:
    torch.set_num_threads(threads)
    for n in (1, 3):
        decode(n, 2)  # warm-up
        runs = []
        for _ in range(5):
            t = time.perf_counter()
            decode(n)
            runs.append(time.perf_counter() - t)
        timings[f"threads={threads} n={n}"] = statistics.median(runs)
        print(f"pytorch threads={threads} n={n}: prefill {PROMPT} + {NEW} steps: "
              f"{statistics.median(runs) * 1e3:.0f} ms (median of 5)", flush=True)
print(json.dumps(timings))
