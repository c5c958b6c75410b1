"""Tiny CLIP fixtures for tests/models_clip.rs, with references from transformers itself.

Run: CUDA_VISIBLE_DEVICES= /tmp/hf-venv/bin/python tests/data/models/clip/make_fixtures.py
(fixed seeds; no downloads). Writes, beside this script:

  images/            small committed test images of odd sizes: a non-square RGB PNG, a JPEG,
                     a grayscale PNG, an RGBA PNG with varied alpha, a larger JPEG (downsampling)
  pil_decoded/       Pillow's decoding of the JPEGs (lossless PNG)
  crop224/<name>.png the uint8 image CLIPImageProcessorPil (PIL BICUBIC) feeds the model at the
                     real 224 setting, recovered exactly from its normalized pixel_values
  tiny/              a tiny CLIPModel (quick_gelu, legacy eos_token_id = 2: argmax pooling),
                     tokenizer.json (CLIP's BPE pipeline), preprocessor_config.json
  tiny-eos/          config.json only: tiny's weights with hidden_act gelu and eos_token_id =
                     the real EOS id (first-EOS pooling)
  ref/               pixel values (tiny size), token ids, embeddings, vision last_hidden_state
"""

import json
import os
import shutil

import numpy as np
import torch
from PIL import Image
from tokenizers import Regex, Tokenizer, decoders, normalizers, pre_tokenizers, processors
from tokenizers.models import BPE
from transformers import CLIPConfig, CLIPModel, CLIPTokenizer
from transformers.models.clip.image_processing_pil_clip import CLIPImageProcessorPil

HERE = os.path.dirname(os.path.abspath(__file__))
MEAN = np.array([0.48145466, 0.4578275, 0.40821073])
STD = np.array([0.26862954, 0.26130258, 0.27577711])

TEXTS = [
    "a photo of a cat",
    "Two DOGS   playing in the snow, near a red barn!",
    "",
    "it's a café — naïve résumé 123",
    " ".join(["word"] * 50) + " " + " ".join(f"x{i}" for i in range(40)),  # > 77 tokens
]


def bytes_to_unicode():
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return [chr(c) for c in cs]


def make_tokenizer(path):
    """CLIP's vocab layout: 256 byte symbols, the same with </w>, merges, then the specials."""
    syms = bytes_to_unicode()
    vocab = {}
    for s in syms:
        vocab[s] = len(vocab)
    for s in syms:
        vocab[s + "</w>"] = len(vocab)
    merges = []
    for word in ["a", "photo", "of", "cat", "dog", "dogs", "the", "in", "snow", "red", "word", "playing", "near", "barn"]:
        parts = list(word[:-1]) + [word[-1] + "</w>"]
        while len(parts) > 1:
            a, b = parts[0], parts[1]
            merged = a + b
            if (a, b) not in merges:
                merges.append((a, b))
            if merged not in vocab:
                vocab[merged] = len(vocab)
            parts = [merged] + parts[2:]
    vocab["<|startoftext|>"] = len(vocab)
    vocab["<|endoftext|>"] = len(vocab)
    tok = Tokenizer(BPE(vocab=vocab, merges=merges, dropout=None, continuing_subword_prefix="",
                        end_of_word_suffix="</w>", fuse_unk=False, unk_token="<|endoftext|>"))
    tok.normalizer = normalizers.Sequence([normalizers.NFC(), normalizers.Replace(Regex(r"\s+"), " "), normalizers.Lowercase()])
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(r"""<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+"""),
                             behavior="removed", invert=True),
        pre_tokenizers.ByteLevel(add_prefix_space=False),
    ])
    tok.decoder = decoders.ByteLevel()
    tok.add_special_tokens(["<|startoftext|>", "<|endoftext|>"])
    bos, eos = vocab["<|startoftext|>"], vocab["<|endoftext|>"]
    tok.post_processor = processors.RobertaProcessing(("<|endoftext|>", eos), ("<|startoftext|>", bos), False, False)
    tok.save(path)
    return len(vocab), bos, eos


def make_images(d):
    os.makedirs(d, exist_ok=True)
    rng = np.random.default_rng(7)

    def smooth(h, w, c):
        y, x = np.mgrid[0:h, 0:w]
        base = np.stack([(x * 255 / max(w - 1, 1)), (y * 255 / max(h - 1, 1)), ((x + y) * 127 / (h + w))], -1)[..., :c]
        noise = rng.integers(-6, 7, size=(h, w, c))
        return np.clip(base + noise, 0, 255).astype(np.uint8)

    Image.fromarray(smooth(23, 37, 3)).save(f"{d}/rgb_37x23.png")
    Image.fromarray(smooth(61, 45, 3)).save(f"{d}/photo_45x61.jpg", quality=90)
    Image.fromarray(smooth(29, 29, 1)[..., 0], mode="L").save(f"{d}/gray_29x29.png")
    rgba = smooth(19, 33, 3)
    alpha = rng.integers(0, 256, size=(19, 33, 1)).astype(np.uint8)
    alpha[0, :4] = 0
    alpha[1, :4] = 255
    Image.fromarray(np.concatenate([rgba, alpha], -1), mode="RGBA").save(f"{d}/rgba_33x19.png")
    Image.fromarray(smooth(257, 300, 3)).save(f"{d}/large_300x257.jpg", quality=85)
    with open(f"{d}/not_an_image.jpg", "wb") as f:
        f.write(b"this is not a JPEG\n")
    return ["rgb_37x23.png", "photo_45x61.jpg", "gray_29x29.png", "rgba_33x19.png", "large_300x257.jpg"]


def processor(size):
    return CLIPImageProcessorPil(size={"shortest_edge": size}, crop_size={"height": size, "width": size})


def save_model(d, config, state, tokenizer_json, size):
    os.makedirs(d, exist_ok=True)
    model = CLIPModel(config).eval()
    model.load_state_dict(state)
    model.save_pretrained(d, safe_serialization=True)
    shutil.copy(tokenizer_json, f"{d}/tokenizer.json")
    with open(f"{d}/tokenizer_config.json", "w") as f:
        json.dump({"tokenizer_class": "CLIPTokenizer", "model_max_length": 77, "bos_token": "<|startoftext|>",
                   "eos_token": "<|endoftext|>", "pad_token": "<|endoftext|>", "unk_token": "<|endoftext|>"}, f, indent=1)
    processor(size).save_pretrained(d)
    return model


def main():
    torch.manual_seed(0)
    img_dir = f"{HERE}/images"
    names = make_images(img_dir)
    ref = f"{HERE}/ref"
    os.makedirs(ref, exist_ok=True)
    os.makedirs(f"{HERE}/crop224", exist_ok=True)

    # JPEG decoders differ by a few levels (the image crate's zune-jpeg vs Pillow's
    # libjpeg-turbo): keep Pillow's decoding so the resize can be checked bit for bit.
    os.makedirs(f"{HERE}/pil_decoded", exist_ok=True)
    for n in names:
        if n.endswith(".jpg"):
            Image.open(f"{img_dir}/{n}").convert("RGB").save(f"{HERE}/pil_decoded/{n.rsplit('.', 1)[0]}.png")

    # Preprocessing at the real 224 setting: the uint8 crop, recovered exactly.
    p224 = processor(224)
    for n in names:
        pv = p224(images=Image.open(f"{img_dir}/{n}"), return_tensors="np")["pixel_values"][0].astype(np.float64)
        u = (pv * STD[:, None, None] + MEAN[:, None, None]) * 255
        r = np.round(u)
        assert np.abs(u - r).max() < 1e-3, n
        Image.fromarray(r.astype(np.uint8).transpose(1, 2, 0)).save(f"{HERE}/crop224/{n.rsplit('.', 1)[0]}.png")

    tok_json = "/tmp/clip_tiny_tokenizer.json"
    vocab_size, bos, eos = make_tokenizer(tok_json)
    size = 32
    tcfg = dict(vocab_size=vocab_size, hidden_size=32, intermediate_size=37, num_hidden_layers=2,
                num_attention_heads=4, max_position_embeddings=77, hidden_act="quick_gelu",
                bos_token_id=bos, eos_token_id=2, pad_token_id=1, projection_dim=16)
    vcfg = dict(hidden_size=32, intermediate_size=37, num_hidden_layers=2, num_attention_heads=4,
                image_size=size, patch_size=8, hidden_act="quick_gelu", projection_dim=16)
    config = CLIPConfig(text_config=tcfg, vision_config=vcfg, projection_dim=16)
    model = CLIPModel(config).eval()
    with torch.no_grad():  # make the class and position embeddings matter
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    state = {k: v.clone() for k, v in model.state_dict().items()}
    tiny = save_model(f"{HERE}/tiny", config, state, tok_json, size)

    tcfg2 = dict(tcfg, hidden_act="gelu", eos_token_id=eos)
    vcfg2 = dict(vcfg, hidden_act="gelu")
    config2 = CLIPConfig(text_config=tcfg2, vision_config=vcfg2, projection_dim=16)
    tiny2 = save_model(f"{HERE}/tiny-eos", config2, state, tok_json, size)
    # tiny-eos shares tiny's weights and tokenizer: keep only its config.json (the test
    # assembles the directory from tiny/ plus this config).
    for n in os.listdir(f"{HERE}/tiny-eos"):
        if n != "config.json":
            os.remove(f"{HERE}/tiny-eos/{n}")

    tokenizer = CLIPTokenizer.from_pretrained(f"{HERE}/tiny")
    enc = tokenizer(TEXTS, padding=True, truncation=True, max_length=77, return_tensors="pt")
    ids = enc["input_ids"]
    with open(f"{ref}/tokens.json", "w") as f:
        json.dump({"texts": TEXTS,
                   "ids": [tokenizer(t, truncation=True, max_length=77)["input_ids"] for t in TEXTS],
                   "padded_ids": ids.tolist(), "attention_mask": enc["attention_mask"].tolist()},
                  f, ensure_ascii=False, indent=1)

    p = processor(size)
    pixels = p(images=[Image.open(f"{img_dir}/{n}") for n in names], return_tensors="pt")["pixel_values"]
    np.save(f"{ref}/pixels.npy", pixels.numpy().astype(np.float32).reshape(len(names), -1))  # n x (3*32*32)
    with open(f"{ref}/images.json", "w") as f:
        json.dump(names, f, indent=1)

    for tag, m in [("tiny", tiny), ("tiny-eos", tiny2)]:
        with torch.no_grad():
            out = m(input_ids=ids, attention_mask=enc["attention_mask"], pixel_values=pixels)
            vis = m.vision_model(pixel_values=pixels)
        np.save(f"{ref}/{tag}_image_embeds.npy", out.image_embeds.numpy().astype(np.float32))
        np.save(f"{ref}/{tag}_text_embeds.npy", out.text_embeds.numpy().astype(np.float32))
        lh = vis.last_hidden_state.numpy().astype(np.float32)
        np.save(f"{ref}/{tag}_vision_last_hidden.npy", lh.reshape(-1, lh.shape[-1]))  # (n*17) x 32


if __name__ == "__main__":
    main()
