"""transformers side of the FLAN-T5 decode-speed comparison (examples/bench_t5.rs is the Rust side).

  CUDA_VISIBLE_DEVICES= /tmp/hf-venv/bin/python benches/models/t5_transformers.py [/tmp/t5-base-random]

Creates (once) a FLAN-T5-base sized model with random weights (f32, untied head) in the
directory, then measures with torch f32 on 2 threads: encoding a 120-token prompt, and one
cached decoder step (self-attention cache of 1..30 tokens) for 1 hypothesis and for 8
hypotheses sharing the prompt (the encoder output expanded to 8 rows, as generate does).
Prints medians in ms.
"""

import os
import sys
import time

import torch
from transformers import T5Config, T5ForConditionalGeneration
from transformers.cache_utils import DynamicCache, EncoderDecoderCache

DIR = sys.argv[1] if len(sys.argv) > 1 else "/tmp/t5-base-random"
FLAN_T5_BASE = dict(vocab_size=32128, d_model=768, d_kv=64, d_ff=2048, num_layers=12,
                    num_decoder_layers=12, num_heads=12, relative_attention_num_buckets=32,
                    relative_attention_max_distance=128, feed_forward_proj="gated-gelu",
                    layer_norm_epsilon=1e-6, tie_word_embeddings=False, decoder_start_token_id=0,
                    pad_token_id=0, eos_token_id=1, dropout_rate=0.0)


def ensure_model():
    if os.path.exists(os.path.join(DIR, "model.safetensors")):
        return
    torch.manual_seed(0)
    m = T5ForConditionalGeneration(T5Config.from_dict(FLAN_T5_BASE)).eval()
    m.save_pretrained(DIR)
    # transformers 5 always ties lm_head on save; write an untied head like FLAN-T5's.
    from safetensors.torch import load_file, save_file
    import json
    sd = load_file(os.path.join(DIR, "model.safetensors"))
    sd["lm_head.weight"] = torch.randn(32128, 768) * 0.05
    save_file(sd, os.path.join(DIR, "model.safetensors"), metadata={"format": "pt"})
    c = json.load(open(os.path.join(DIR, "config.json")))
    c["tie_word_embeddings"] = False
    c.pop("scale_decoder_outputs", None)
    json.dump(c, open(os.path.join(DIR, "config.json"), "w"), indent=1)


def median_ms(xs):
    """"median / min ms" (the min is the least disturbed by other load)."""
    xs = sorted(xs)
    return f"{1000 * xs[len(xs) // 2]:.1f} / {1000 * xs[0]:.1f}"


def main():
    ensure_model()
    torch.set_num_threads(2)
    model = T5ForConditionalGeneration.from_pretrained(DIR, dtype=torch.float32).eval()
    g = torch.Generator().manual_seed(0)
    prompt = torch.randint(2, 32000, (1, 120), generator=g)
    prompt[0, -1] = 1
    with torch.inference_mode():
        enc_times = []
        for _ in range(5):
            t = time.perf_counter()
            enc = model.encoder(input_ids=prompt).last_hidden_state
            enc_times.append(time.perf_counter() - t)
        print(f"encode 120 tokens: {median_ms(enc_times)} ms (median / min)")
        for n in (1, 8):
            states = enc.expand(n, -1, -1)
            cache = EncoderDecoderCache(DynamicCache(), DynamicCache())
            tok = torch.zeros((n, 1), dtype=torch.long)
            times = []
            for _ in range(31):
                t = time.perf_counter()
                out = model(encoder_outputs=(states,), decoder_input_ids=tok, cache=cache,
                            use_cache=True)
                times.append(time.perf_counter() - t)
                cache = out.past_key_values
                tok = out.logits[:, -1].argmax(-1, keepdim=True)
            print(f"decode step, {n} hypothes{'is' if n == 1 else 'es'}: {median_ms(times[1:])} ms (median / min)")


if __name__ == "__main__":
    main()
