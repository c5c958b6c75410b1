"""Tiny SmallCap decoder fixtures for tests/models_smallcap.rs (fixed seeds, no downloads).

Reference: SmallCap (Ramos et al., CVPR 2023), https://github.com/RitaRamo/smallcap
(src/gpt2.py, src/vision_encoder_decoder.py, src/utils.py, infer.py). The decoder is
transformers' GPT2LMHeadModel whose per-block cross-attention is replaced by SmallCap's
reduced variant (reduce factor r): q_attn d -> d/r, c_attn d -> 2d/r (keys, values of the
image features), head dim (d/h)/r, scores scaled by 1/sqrt((d/h)/r), c_proj d/r -> d.

Writes, beside this script:
  config.json          SmallCap layout: {"model_type": "smallcap", "encoder": {...}, "decoder": {...}}
  model.safetensors    decoder.* (lm_head tied: absent) (the GPT-2 with cross-attention) + a few encoder.* tensors
  bin/                 the same model as pytorch_model.bin (SmallCap7M's published format)
  tokenizer.json       a tiny byte-level BPE (GPT-2 style) trained here
  features.npy         (2, 50, d) random image features
  tokens.npy           (t,) prompt + continuation ids (int64)
  logits.npy           (2, t, vocab) teacher-forced logits for each image
  expected.json        the prompt string, its ids, the greedy continuation per image, ...

Run: CUDA_VISIBLE_DEVICES= /tmp/hf-venv/bin/python make_fixtures.py
"""

import json
import os

import numpy as np
import torch
from safetensors.torch import save_file
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
from transformers import GPT2Config, GPT2LMHeadModel
from transformers.models.gpt2.modeling_gpt2 import GPT2Attention
from transformers.pytorch_utils import Conv1D

HERE = os.path.dirname(os.path.abspath(__file__))
torch.manual_seed(0)
np.random.seed(0)

# ---------------------------------------------------------------- tokenizer
CORPUS = [
    "a man riding a wave on top of a surfboard",
    "a dog sitting on a couch next to a cat",
    "two people walking down a street with umbrellas",
    "a plate of food with broccoli and rice",
    "a red truck parked on the side of the road",
    "a group of people standing around a table",
    "Similar images show", "This image shows", "a bus driving down a city street!",
]
tok = Tokenizer(models.BPE())
tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
tok.decoder = decoders.ByteLevel()
tok.post_processor = processors.ByteLevel(trim_offsets=False)
trainer = trainers.BpeTrainer(
    vocab_size=300,
    special_tokens=["<|endoftext|>"],
    initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    show_progress=False,
)
tok.train_from_iterator(CORPUS * 5, trainer=trainer)
tok.save(os.path.join(HERE, "tokenizer.json"))
vocab = tok.get_vocab_size()
PAD, EOS = tok.token_to_id("!"), tok.token_to_id(".")  # infer.py: pad '!', eos '.'

# ---------------------------------------------------------------- prompt (src/utils.py)
TEMPLATE = "Similar images show\n\n||\n\nThis image shows \n"  # src/template.txt
template = TEMPLATE.strip() + " "  # infer.py: open(...).read().strip() + ' '
CAPS = [
    "a man riding a wave",
    "a dog on a couch",
    "two people walking",
    "a red truck",
    "a plate of food",  # the 5th is dropped: k = 4
]
K = 4
prompt = template.replace("||", "\n\n".join(CAPS[:K]) + ".")
prompt_ids = tok.encode(prompt).ids  # is_test: no truncation, no padding, no special tokens

# ---------------------------------------------------------------- model (src/gpt2.py)
D, H, L, R, S = 48, 4, 2, 4, 50  # head dim 12, reduced 3


class ReducedCrossAttention(GPT2Attention):
    """SmallCap's ThisGPT2Attention(is_cross_attention=True) on transformers 5's GPT2Attention."""

    def __init__(self, config, layer_idx):
        super().__init__(config, is_cross_attention=True, layer_idx=layer_idx)
        r = config.cross_attention_reduce_factor
        self.c_attn = Conv1D(int(2 / r * self.embed_dim), self.embed_dim)
        self.q_attn = Conv1D(int(self.embed_dim / r), self.embed_dim)
        self.c_proj = Conv1D(self.embed_dim, int(self.embed_dim / r))
        self.split_size = int(self.split_size / r)
        self.head_dim = int(self.head_dim / r)
        # SmallCap's _attn divides by value.size(-1) ** 0.5: the REDUCED head dim.
        self.scaling = self.head_dim ** -0.5


dec_cfg = dict(
    vocab_size=vocab, n_positions=96, n_inner=2 * D, n_embd=D, n_layer=L, n_head=H,
    activation_function="gelu_new", layer_norm_epsilon=1e-5, add_cross_attention=True,
    bos_token_id=tok.token_to_id("<|endoftext|>"), eos_token_id=tok.token_to_id("<|endoftext|>"),
)
config = GPT2Config(**dec_cfg, attn_implementation="eager")
config.cross_attention_reduce_factor = R
model = GPT2LMHeadModel(config)
for i, block in enumerate(model.transformer.h):
    block.crossattention = ReducedCrossAttention(config, i)
with torch.no_grad():  # random weights, non-trivial layer norms and biases
    for name, p in model.named_parameters():
        if name.endswith(".weight") and p.dim() == 1:
            p.copy_(1.0 + 0.2 * torch.randn_like(p))
        elif name.endswith(".bias"):
            p.copy_(0.1 * torch.randn_like(p))
        else:
            p.copy_(0.15 * torch.randn_like(p))
model.eval()

# ---------------------------------------------------------------- checkpoint (published names)
state = {f"decoder.{k}": v.detach().clone().contiguous() for k, v in model.state_dict().items()}
state.pop("decoder.lm_head.weight", None)  # tied to wte (tie_word_embeddings)
# The vision tower's tensors live under encoder.* (unused by the decoder; two stand-ins).
state["encoder.post_layernorm.weight"] = torch.ones(D)
state["encoder.post_layernorm.bias"] = torch.zeros(D)
save_file(state, os.path.join(HERE, "model.safetensors"))
full_config = {
    "model_type": "smallcap",
    "architectures": ["SmallCap"],
    "encoder": {"model_type": "clip_vision_model", "hidden_size": D},
    "decoder": {
        **dec_cfg, "model_type": "this_gpt2", "architectures": ["ThisGPT2LMHeadModel"],
        "cross_attention_reduce_factor": R, "scale_attn_weights": True,
        "scale_attn_by_inverse_layer_idx": False, "reorder_and_upcast_attn": False,
        "tie_word_embeddings": True,
    },
    "tie_word_embeddings": False,
}
with open(os.path.join(HERE, "config.json"), "w") as f:
    json.dump(full_config, f, indent=1)
os.makedirs(os.path.join(HERE, "bin"), exist_ok=True)
# The published pytorch_model.bin stores the tied lm_head too.
state["decoder.lm_head.weight"] = state["decoder.transformer.wte.weight"]
torch.save(state, os.path.join(HERE, "bin", "pytorch_model.bin"))
with open(os.path.join(HERE, "bin", "config.json"), "w") as f:
    json.dump(full_config, f, indent=1)

# ---------------------------------------------------------------- reference outputs
features = torch.randn(2, S, D)


@torch.no_grad()
def logits_of(ids, feats):
    out = model(input_ids=torch.tensor([ids] * feats.shape[0]), encoder_hidden_states=feats,
                use_cache=False)
    return out.logits


@torch.no_grad()
def greedy(ids, feats, max_new=12):
    ids = list(ids)
    new = []
    for _ in range(max_new):
        nxt = int(logits_of(ids, feats)[0, -1].argmax())
        ids.append(nxt)
        new.append(nxt)
        if nxt == EOS:
            break
    return new


greedy_new = [greedy(prompt_ids, features[i : i + 1]) for i in range(2)]


@torch.no_grad()
def beams(ids, feats, num_beams, max_new):
    """SmallCap's infer.py decoding (length_penalty 0, early stopping, eos '.'), all beams
    returned best first, through transformers' generate."""
    out = model.generate(input_ids=torch.tensor([ids]), encoder_hidden_states=feats,
                         num_beams=num_beams, num_return_sequences=num_beams,
                         length_penalty=0.0, early_stopping=True, max_new_tokens=max_new,
                         eos_token_id=EOS, pad_token_id=PAD, do_sample=False,
                         no_repeat_ngram_size=0, output_scores=True,
                         return_dict_in_generate=True)
    seqs = [[t for t in row[len(ids):].tolist()] for row in out.sequences]
    # Drop the padding after EOS (shorter beams are padded with PAD to the longest).
    trimmed = []
    for row in seqs:
        cut = row.index(EOS) + 1 if EOS in row else len(row)
        trimmed.append(row[:cut])
    scores = getattr(out, "sequences_scores", None)  # absent for num_beams = 1
    return trimmed, None if scores is None else scores.tolist()


# Greedy through generate equals the hand loop (checks generate is driven as intended).
assert [beams(prompt_ids, features[i : i + 1], 1, 12)[0][0] for i in range(2)] == greedy_new
beam_runs = [beams(prompt_ids, features[i : i + 1], 3, 25) for i in range(2)]
continuation = tok.encode(" a dog riding a truck.").ids
tokens = prompt_ids + continuation
logits = logits_of(tokens, features).numpy().astype(np.float32)

np.save(os.path.join(HERE, "features.npy"), features.numpy().astype(np.float32))
np.save(os.path.join(HERE, "tokens.npy"), np.array(tokens, dtype=np.int64))
np.save(os.path.join(HERE, "logits.npy"), logits)
with open(os.path.join(HERE, "expected.json"), "w") as f:
    json.dump({
        "captions": CAPS, "k": K, "prompt": prompt, "prompt_ids": prompt_ids,
        "no_rag_prompt_ids": tok.encode("This image shows ").ids,
        "continuation_ids": continuation, "greedy_new_ids": greedy_new,
        "eos_id": EOS, "pad_id": PAD, "vocab_size": vocab,
        "greedy_text": [tok.decode(prompt_ids + g) for g in greedy_new],
        "beam3_new_ids": [b[0] for b in beam_runs], "beam3_scores": [b[1] for b in beam_runs],
    }, f, indent=1)
print("vocab", vocab, "prompt tokens", len(prompt_ids), "tokens", len(tokens),
      "greedy", greedy_new, "eos", EOS, "pad", PAD, "max |logit|", np.abs(logits).max())
