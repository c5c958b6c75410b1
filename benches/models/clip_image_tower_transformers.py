"""Images/s of CLIP's image tower in transformers (torch f32, CPU), the reference for
`examples/clip_image_speed.rs` (run both in the same sitting).

    CUDA_VISIBLE_DEVICES= /tmp/hf-venv/bin/python benches/models/clip_image_tower_transformers.py \
        --model /tmp/clip-b32-random --threads 2 --batch 32 --iters 3

--make DIR first writes a random CLIPModel with openai/clip-vit-base-patch32's config values
(not trained; speed only) plus a small CLIP tokenizer.json so `recap` can load it.
Model only: pixel_values -> get_image_features (projection), batch of random 224 px inputs.
"""

import argparse
import json
import os
import shutil
import time

import torch
from transformers import CLIPConfig, CLIPModel

HERE = os.path.dirname(os.path.abspath(__file__))
TOKENIZER = os.path.join(HERE, "..", "..", "tests", "data", "models", "clip", "tiny", "tokenizer.json")

B32 = dict(
    text_config=dict(vocab_size=49408, hidden_size=512, intermediate_size=2048, num_hidden_layers=12,
                     num_attention_heads=8, max_position_embeddings=77, hidden_act="quick_gelu",
                     layer_norm_eps=1e-5, bos_token_id=0, eos_token_id=2, pad_token_id=1),
    vision_config=dict(hidden_size=768, intermediate_size=3072, num_hidden_layers=12, num_attention_heads=12,
                       image_size=224, patch_size=32, hidden_act="quick_gelu", layer_norm_eps=1e-5),
    projection_dim=512,
)


def make(path):
    torch.manual_seed(0)
    model = CLIPModel(CLIPConfig(**B32)).eval()
    model.save_pretrained(path, safe_serialization=True)
    shutil.copy(TOKENIZER, os.path.join(path, "tokenizer.json"))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="/tmp/clip-b32-random")
    ap.add_argument("--make", action="store_true")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--iters", type=int, default=3)
    a = ap.parse_args()
    if a.make:
        make(a.model)
    torch.set_num_threads(a.threads)
    model = CLIPModel.from_pretrained(a.model).eval()
    x = torch.randn(a.batch, 3, 224, 224, generator=torch.Generator().manual_seed(0))
    with torch.inference_mode():
        model.get_image_features(pixel_values=x)  # warm-up
        t = time.perf_counter()
        for _ in range(a.iters):
            model.get_image_features(pixel_values=x)
        dt = time.perf_counter() - t
    print(json.dumps({"impl": "transformers", "torch": torch.__version__, "threads": a.threads,
                      "batch": a.batch, "iters": a.iters, "images_per_s": a.batch * a.iters / dt}))


if __name__ == "__main__":
    main()
