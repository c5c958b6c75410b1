"""The pycocoevalcap-shaped scorers against pycocoevalcap 1.2's own, on the same captions."""

import shutil

import numpy as np
import pytest
from pycocoevalcap.bleu.bleu import Bleu as RefBleu
from pycocoevalcap.cider.cider import Cider as RefCider
from pycocoevalcap.rouge.rouge import Rouge as RefRouge

from recap_rs import RecapError
from recap_rs.metrics import Bleu, Cider, Meteor, PTBTokenizer, Rouge, clip_score, refclip_score

SETS = ["hand", "synthetic", "good_captions", "bad_captions"]


def tokenized(s):
    t = s["tokenized"]
    gts = {i: list(t[i]["refs"]) for i in s["ids"]}
    res = {i: [t[i]["cand"]] for i in s["ids"]}
    return gts, res


@pytest.mark.parametrize("name", SETS)
def test_bleu_rouge_cider_equal_pycocoevalcap(ngram_sets, name):
    gts, res = tokenized(ngram_sets[name])
    for ours, ref in [(Bleu(4), RefBleu(4)), (Rouge(), RefRouge()), (Cider(), RefCider())]:
        got, want = ours.compute_score(gts, res), ref.compute_score(gts, res)
        assert ours.method() == ref.method()
        assert type(got[0]) is type(want[0]) or isinstance(got[0], float)
        np.testing.assert_allclose(np.asarray(got[0], float), np.asarray(want[0], float), rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(np.asarray(got[1], float), np.asarray(want[1], float), rtol=1e-12, atol=1e-15)


def test_bleu_n_and_shapes(ngram_sets):
    gts, res = tokenized(ngram_sets["hand"])
    score, scores = Bleu(2).compute_score(gts, res)
    assert len(score) == 2 and len(scores) == 2 and len(scores[0]) == len(gts)
    r, rs = Rouge().compute_score(gts, res)
    assert isinstance(rs, np.ndarray) and rs.shape == (len(gts),)


@pytest.mark.parametrize("name", SETS)
def test_ptb_tokenizer_equals_pycocoevalcaps(ngram_sets, name):
    s = ngram_sets[name]
    raw = {i: [{"caption": c} for c in s["raw"][i]["refs"]] for i in s["ids"]}
    got = PTBTokenizer().tokenize(raw)
    assert got == {i: list(s["tokenized"][i]["refs"]) for i in s["ids"]}


@pytest.mark.skipif(shutil.which("java") is None, reason="no java on PATH")
def test_ptb_tokenizer_equals_the_live_java_tokenizer(ngram_sets):
    from pycocoevalcap.tokenizer.ptbtokenizer import PTBTokenizer as RefTok

    s = ngram_sets["hand"]
    raw = {i: [{"caption": c} for c in s["raw"][i]["refs"] + [s["raw"][i]["cand"]]] for i in s["ids"]}
    assert PTBTokenizer().tokenize(raw) == RefTok().tokenize(raw)


def test_meteor_equals_pycocoevalcap(ngram_sets, meteor_jar):
    from pycocoevalcap.meteor.meteor import Meteor as RefMeteor

    gts, res = tokenized(ngram_sets["synthetic"])
    got = Meteor(jar=meteor_jar).compute_score(gts, res)
    ref = RefMeteor()
    want = ref.compute_score(gts, res)
    del ref
    assert Meteor().method() == "METEOR"
    assert abs(got[0] - want[0]) < 1e-12
    np.testing.assert_allclose(got[1], want[1], rtol=0, atol=1e-12)


def test_clip_family_against_numpy():
    rng = np.random.default_rng(5)
    img, cand = rng.standard_normal((2, 20, 16), dtype=np.float32)
    refs = rng.standard_normal((50, 16), dtype=np.float32)
    owner = [i % 20 for i in range(50)]
    c, per = clip_score(img, cand, w=2.5)
    cos = np.sum(img * cand, 1, dtype=np.float64) / np.linalg.norm(img.astype(np.float64), axis=1) / np.linalg.norm(cand.astype(np.float64), axis=1)
    np.testing.assert_allclose(per, 2.5 * np.maximum(cos, 0), rtol=1e-6)
    assert abs(c - per.mean()) < 1e-12
    out = refclip_score(img, cand, refs, owner)
    cn = cand / np.linalg.norm(cand, axis=1, keepdims=True)
    rn = refs / np.linalg.norm(refs, axis=1, keepdims=True)
    best = np.array([max(cn[i] @ rn[j] for j in range(50) if owner[j] == i) for i in range(20)])
    s = out["CLIP-S"][1]
    want = np.where((s > 0) & (best > 0), 2 * s * best / (s + best), 0.0)
    mask = (s > 0) & (best > 0)
    np.testing.assert_allclose(out["RefCLIP-S"][1][mask], want[mask], rtol=1e-5)


def test_mismatched_keys_and_bad_hypotheses_raise(ngram_sets):
    gts, res = tokenized(ngram_sets["hand"])
    with pytest.raises(ValueError, match="same keys"):
        Cider().compute_score(gts, {k: v for k, v in list(res.items())[1:]})
    bad = dict(res)
    bad[next(iter(bad))] = ["one", "two"]
    with pytest.raises(ValueError, match="exactly one"):
        Bleu().compute_score(gts, bad)
    with pytest.raises(RecapError):
        clip_score(np.zeros((3, 4), np.float32), np.ones((3, 4), np.float32))
