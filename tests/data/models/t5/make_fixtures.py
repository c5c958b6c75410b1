"""Build the tiny FLAN-T5-shaped fixture and its reference outputs (transformers 5.24, torch f32).

Run from anywhere:  CUDA_VISIBLE_DEVICES= /tmp/hf-venv/bin/python tests/data/models/t5/make_fixtures.py

Writes beside this script:
  config.json, model.safetensors (untied lm_head, as FLAN-T5), tokenizer.json (SentencePiece
  Unigram built with `tokenizers`), and the references:
  buckets.json       HF `_relative_position_bucket` for both directions (fixture and FLAN-T5 sizes)
  inputs.json        the two prompts' ids/mask, the decoder inputs, generation results, token ids
  encoder.npy        encoder outputs (2, S, d) for the padded batch of 2 prompts
  logits.npy         teacher-forced logits (2, 40, V) at every decoder position
  logits_tied.npy    logits (1, 40, V) with tie_word_embeddings=true and no lm_head.weight
                     (head = shared, decoder output scaled by d_model^-0.5)
"""

import json
import os
import shutil
import tempfile

import numpy as np
import torch
from safetensors.torch import load_file, save_file
from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors
from transformers import T5Config, T5ForConditionalGeneration

HERE = os.path.dirname(os.path.abspath(__file__))
VOCAB = 128
EOS = 1


def build_tokenizer():
    words = ("a man woman dog cat sitting on the of in with and is are two red blue "
             "standing table street picture riding horse bike people group white black "
             "small large water grass next to").split()
    pieces = [("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0), ("\u2581", -2.0)]
    pieces += [("\u2581" + w, -3.0 - 0.01 * i) for i, w in enumerate(words)]
    pieces += [(c, -6.0 - 0.01 * i) for i, c in enumerate("abcdefghijklmnopqrstuvwxyz.,'")]
    pieces += [("\u2581" + c, -7.0 - 0.01 * i) for i, c in enumerate("abcdefghijklmnopqrstuvwxyz")]
    pieces += [(s, -5.0) for s in ("ing", "ed", "er", "s")]
    tok = Tokenizer(models.Unigram(pieces, unk_id=2, byte_fallback=False))
    tok.normalizer = normalizers.Sequence([normalizers.NFKC(), normalizers.Replace(Regex(" {2,}"), " ")])
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="\u2581", prepend_scheme="always", split=True)
    tok.post_processor = processors.TemplateProcessing(
        single="$A </s>", pair="$A </s> $B </s>", special_tokens=[("</s>", EOS)])
    tok.decoder = decoders.Metaspace(replacement="\u2581", prepend_scheme="always", split=True)
    tok.add_special_tokens(["<pad>", "</s>", "<unk>"])
    return tok


def main():
    torch.manual_seed(0)
    np.random.seed(0)
    cfg = T5Config(vocab_size=VOCAB, d_model=32, d_kv=8, d_ff=64, num_layers=2, num_decoder_layers=2,
                   num_heads=4, relative_attention_num_buckets=32, relative_attention_max_distance=20,
                   feed_forward_proj="gated-gelu", layer_norm_epsilon=1e-6, tie_word_embeddings=False,
                   decoder_start_token_id=0, pad_token_id=0, eos_token_id=EOS, dropout_rate=0.0)
    model = T5ForConditionalGeneration(cfg).eval()
    for p in model.parameters():  # layer norms away from 1 so that their weight matters
        if p.dim() == 1:
            p.data = 1.0 + 0.3 * torch.randn_like(p)
    sd = {k: v.contiguous() for k, v in model.state_dict().items()}
    head = torch.randn(VOCAB, 32) * 0.6
    head[EOS] *= 2.2  # EOS competitive so that generation ends inside the fixture's budget
    sd["lm_head.weight"] = head
    for k in ("encoder.embed_tokens.weight", "decoder.embed_tokens.weight"):
        sd.pop(k, None)
    model.save_pretrained(HERE)
    save_file(sd, os.path.join(HERE, "model.safetensors"), metadata={"format": "pt"})
    conf = json.load(open(os.path.join(HERE, "config.json")))
    conf["tie_word_embeddings"] = False  # as in the FLAN-T5 checkpoints
    conf.pop("scale_decoder_outputs", None)
    conf.pop("transformers_version", None)
    json.dump(conf, open(os.path.join(HERE, "config.json"), "w"), indent=1, sort_keys=True)
    for extra in ("generation_config.json",):
        if os.path.exists(os.path.join(HERE, extra)):
            os.remove(os.path.join(HERE, extra))
    tok = build_tokenizer()
    tok.save(os.path.join(HERE, "tokenizer.json"))

    model = T5ForConditionalGeneration.from_pretrained(HERE).eval()
    assert torch.equal(model.lm_head.weight, head)
    assert not model.config.scale_decoder_outputs

    # Buckets straight from HF.
    bucket = model.encoder.block[0].layer[0].SelfAttention._relative_position_bucket
    rel = torch.arange(-300, 301)
    buckets = {"relative": rel.tolist()}
    for name, nb, md in (("fixture", 32, 20), ("flan", 32, 128)):
        for bi in (True, False):
            key = f"{name}_{'bi' if bi else 'uni'}"
            buckets[key] = bucket(rel, bidirectional=bi, num_buckets=nb, max_distance=md).tolist()
    json.dump(buckets, open(os.path.join(HERE, "buckets.json"), "w"))

    texts = ["a man riding a horse on the street", "two dogs"]
    enc = [tok.encode(t).ids for t in texts]
    s = max(len(e) for e in enc)
    ids = torch.tensor([e + [0] * (s - len(e)) for e in enc])
    mask = torch.tensor([[1] * len(e) + [0] * (s - len(e)) for e in enc])
    g = torch.Generator().manual_seed(1)
    dec = torch.randint(2, VOCAB, (2, 40), generator=g)
    dec[:, 0] = 0
    with torch.no_grad():
        enc_out = model.encoder(input_ids=ids, attention_mask=mask).last_hidden_state
        logits = model(input_ids=ids, attention_mask=mask, decoder_input_ids=dec).logits
    np.save(os.path.join(HERE, "encoder.npy"), enc_out.numpy().astype(np.float32))
    np.save(os.path.join(HERE, "logits.npy"), logits.numpy().astype(np.float32))

    # Generation references, one prompt at a time (no padding).
    gens = []
    for i, e in enumerate(enc):
        x = torch.tensor([e])
        with torch.no_grad():
            out = model.generate(x, do_sample=False, num_beams=1, max_new_tokens=20)
        gens.append({"prompt": i, "kind": "greedy", "max_new_tokens": 20, "sequences": [out[0, 1:].tolist()]})
        for nb, nr, lp, es, mx in ((4, 4, 1.0, False, 20), (4, 2, 2.0, True, 20), (3, 3, 0.5, "never", 12),
                                   (4, 4, 1.0, False, 5), (1, 1, 1.0, False, 20)):
            with torch.no_grad():
                out = model.generate(x, do_sample=False, num_beams=nb, num_return_sequences=nr,
                                     length_penalty=lp, early_stopping=es, max_new_tokens=mx,
                                     output_scores=True, return_dict_in_generate=True)
            seqs = []
            for row in out.sequences[:, 1:].tolist():
                if EOS in row:
                    row = row[: row.index(EOS) + 1]
                seqs.append(row)
            gens.append({"prompt": i, "kind": "beam", "num_beams": nb, "num_return_sequences": nr,
                         "length_penalty": lp, "early_stopping": es, "max_new_tokens": mx,
                         "sequences": seqs, "sequences_scores": None if nb == 1 else out.sequences_scores.tolist()})

    tok_cases = []
    for t in ["a man riding a horse on the street", "Two  dogs, sitting next to the water.",
              "zebra xylophone", ""]:
        tok_cases.append({"text": t, "ids": tok.encode(t).ids})
    tok.enable_truncation(max_length=5)
    trunc = [{"text": t, "max_length": 5, "ids": tok.encode(t).ids}
             for t in ["a man riding a horse on the street", "two dogs"]]
    tok.no_truncation()

    json.dump({"texts": texts, "input_ids": ids.tolist(), "attention_mask": mask.tolist(),
               "decoder_input_ids": dec.tolist(), "generate": gens, "tokenize": tok_cases,
               "truncate": trunc}, open(os.path.join(HERE, "inputs.json"), "w"), indent=1)

    # Tied variant: no lm_head.weight, tie_word_embeddings true -> head = shared, scaled output.
    with tempfile.TemporaryDirectory() as tmp:
        sd2 = dict(sd)
        sd2.pop("lm_head.weight")
        save_file(sd2, os.path.join(tmp, "model.safetensors"), metadata={"format": "pt"})
        conf2 = dict(conf)
        conf2["tie_word_embeddings"] = True
        json.dump(conf2, open(os.path.join(tmp, "config.json"), "w"))
        tied = T5ForConditionalGeneration.from_pretrained(tmp).eval()
        assert tied.config.scale_decoder_outputs
        assert torch.equal(tied.lm_head.weight, sd["shared.weight"])
        with torch.no_grad():
            lt = tied(input_ids=ids[:1], attention_mask=mask[:1], decoder_input_ids=dec[:1]).logits
        np.save(os.path.join(HERE, "logits_tied.npy"), lt.numpy().astype(np.float32))
    for g in gens:
        print(g["kind"], g.get("num_beams"), g["sequences"], g.get("sequences_scores"))


if __name__ == "__main__":
    main()
