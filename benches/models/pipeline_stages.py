"""Python side of the per-stage ReCap pipeline benchmark (`recap bench caption` is the Rust
side; `benches/models/compare_pipeline.sh` runs both in one sitting).

  pipeline_stages.py prepare T5_DIR
      writes T5_DIR/tokenizer.json: the Unigram tokenizer of recap's T5 fixture
      (tests/data/models/t5/tokenizer.json) padded with filler pieces to FLAN-T5's 32128 ids,
      so every id the random FLAN-T5-base can generate decodes to text on both sides.
  pipeline_stages.py run INPUT_DIR T5_DIR CLIP_DIR
      reads what `recap bench caption --out-dir INPUT_DIR` wrote (images.npy, datastore.npy,
      W.npy, captions.json, recap_stages.json), runs the same stages the way the papers' code
      does (numpy for x W, faiss IndexFlatIP over L2-normalized rows, str.format prompts,
      transformers' generate with beam search, CLIPTextModelWithProjection for candidates,
      numpy re-ranking, faiss add for the DAL append), torch f32 on 2 threads, checks that
      both sides built the same prompts, writes python_stages.json and prints the table.

Run with the torch venv: CUDA_VISIBLE_DEVICES= /tmp/hf-venv/bin/python pipeline_stages.py ...
"""

import json
import os
import sys
import time

import numpy as np

STAGES = ["retrieve", "prompt", "generate", "embed_candidates", "rerank", "dal_append"]
HERE = os.path.dirname(os.path.abspath(__file__))
TEMPLATE = "Similar images show:\n{captions}\nThis image shows:"  # recap's RECAP_TEMPLATE


def prepare(t5_dir):
    fixture = os.path.join(HERE, "..", "..", "tests", "data", "models", "t5", "tokenizer.json")
    tok = json.load(open(fixture))
    vocab = tok["model"]["vocab"]
    have = {p for p, _ in vocab}
    i = 0
    while len(vocab) < 32128:
        piece = f"\u2581q{i}"
        i += 1
        if piece not in have:
            vocab.append([piece, -30.0])
    json.dump(tok, open(os.path.join(t5_dir, "tokenizer.json"), "w"))
    print(f"{t5_dir}/tokenizer.json: {len(vocab)} pieces")


def normalize(m):
    return m / np.linalg.norm(m, axis=1, keepdims=True)


def render(captions, k):
    kept = [c.strip().rstrip(".").rstrip() for c in captions[:k]]
    return TEMPLATE.replace("{captions}", "\n".join(kept))


def run(inputs, t5_dir, clip_dir):
    import faiss
    import torch
    from transformers import (CLIPTextModelWithProjection, PreTrainedTokenizerFast,
                              T5ForConditionalGeneration)

    torch.set_num_threads(2)
    faiss.omp_set_num_threads(2)
    ours = json.load(open(os.path.join(inputs, "recap_stages.json")))
    k, n, max_new = ours["k"], ours["n"], ours["max_new_tokens"]
    images = np.load(os.path.join(inputs, "images.npy"))
    store = np.ascontiguousarray(np.load(os.path.join(inputs, "datastore.npy")), dtype=np.float32)
    w = np.load(os.path.join(inputs, "W.npy"))
    captions = json.load(open(os.path.join(inputs, "captions.json")))
    faiss.normalize_L2(store)
    index = faiss.IndexFlatIP(store.shape[1])
    index.add(store)
    t5_tok = PreTrainedTokenizerFast(tokenizer_file=os.path.join(t5_dir, "tokenizer.json"),
                                     eos_token="</s>", pad_token="<pad>", unk_token="<unk>")
    t5 = T5ForConditionalGeneration.from_pretrained(t5_dir, dtype=torch.float32).eval()
    clip_tok = PreTrainedTokenizerFast(tokenizer_file=os.path.join(clip_dir, "tokenizer.json"),
                                       pad_token="<|endoftext|>")
    clip = CLIPTextModelWithProjection.from_pretrained(clip_dir, dtype=torch.float32).eval()

    def embed(texts):
        t = clip_tok(texts, padding=True, truncation=True, max_length=77, return_tensors="pt")
        with torch.inference_mode():
            return normalize(clip(**t).text_embeds.numpy())

    times = {s: 0.0 for s in STAGES}
    prompts, chosen = [], []
    for i in range(images.shape[0]):
        t = time.perf_counter()
        q = np.ascontiguousarray(images[i:i + 1] @ w, dtype=np.float32)
        faiss.normalize_L2(q)
        _, idx = index.search(q, k)
        times["retrieve"] += time.perf_counter() - t
        t = time.perf_counter()
        prompt = render([captions[j] for j in idx[0]], k)
        ids = t5_tok(prompt, truncation=True, max_length=512, return_tensors="pt").input_ids
        times["prompt"] += time.perf_counter() - t
        t = time.perf_counter()
        with torch.inference_mode():
            out = t5.generate(ids, num_beams=n, num_return_sequences=n, max_new_tokens=max_new,
                              length_penalty=1.0, early_stopping=False, do_sample=False)
        cands = [c.strip() for c in t5_tok.batch_decode(out, skip_special_tokens=True)]
        cands = [c for c in cands if c]
        times["generate"] += time.perf_counter() - t
        t = time.perf_counter()
        emb = embed(cands)
        times["embed_candidates"] += time.perf_counter() - t
        t = time.perf_counter()
        distinct = list(dict.fromkeys(cands))
        rows = [cands.index(c) for c in distinct]
        scores = 2.5 * np.maximum(emb[rows] @ q[0], 0.0)
        best = distinct[int(np.argmax(scores))]
        times["rerank"] += time.perf_counter() - t
        t = time.perf_counter()
        index.add(embed([best]).astype(np.float32))
        captions.append(best)
        times["dal_append"] += time.perf_counter() - t
        prompts.append(prompt)
        chosen.append(best)
    m = images.shape[0]
    per = {s: v / m for s, v in times.items()}
    total = sum(per.values())
    result = {"side": "python (transformers + numpy + faiss)", "images": m,
              "seconds_per_image": per, "total_seconds_per_image": total,
              "images_per_second": 1.0 / total, "prompts": prompts, "chosen": chosen,
              "same_prompts_as_recap": prompts == ours["prompts"],
              "torch": torch.__version__, "faiss": faiss.__version__}
    json.dump(result, open(os.path.join(inputs, "python_stages.json"), "w"), indent=1)
    table(ours, result)


def table(ours, theirs):
    print(f"{ours['images']} images, datastore {ours['datastore_rows']} x {ours['dim']}, "
          f"k = {ours['k']}, n = {ours['n']} beams, <= {ours['max_new_tokens']} tokens; "
          f"same prompts on both sides: {theirs['same_prompts_as_recap']}")
    print(f"{'stage':<17} {'recap ms/img':>13} {'%':>6} {'python ms/img':>14} {'%':>6} "
          f"{'python/recap':>13}")
    rt, pt = ours["total_seconds_per_image"], theirs["total_seconds_per_image"]
    for s in STAGES + ["total"]:
        r = rt if s == "total" else ours["seconds_per_image"][s]
        p = pt if s == "total" else theirs["seconds_per_image"][s]
        ratio = p / r if r > 0 else float("inf")
        print(f"{s:<17} {1000 * r:>13.3f} {100 * r / rt:>6.1f} {1000 * p:>14.3f} "
              f"{100 * p / pt:>6.1f} {ratio:>12.2f}x")


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "prepare":
        prepare(sys.argv[2])
    elif len(sys.argv) == 5 and sys.argv[1] == "run":
        run(*sys.argv[2:])
    else:
        sys.exit(__doc__)
