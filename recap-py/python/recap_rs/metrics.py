"""Caption metrics with pycocoevalcap's call shapes, computed by recap in Rust.

An evaluation script written for pycocoevalcap changes only its imports::

    from recap_rs.metrics import Bleu, Cider, Meteor, PTBTokenizer, Rouge

    gts = PTBTokenizer().tokenize({"1": [{"caption": "A dog runs."}, ...], ...})
    res = PTBTokenizer().tokenize({"1": [{"caption": "a dog is running"}], ...})
    score, scores = Cider().compute_score(gts, res)

Each scorer returns what pycocoevalcap 1.2's returns (same types, same order: the keys of
`gts`), with values equal to pycocoevalcap's. CIDEr is CIDEr-D (pycocoevalcap's `Cider`).
The CLIP-S family works on embeddings: `clip_score`, `refclip_score`.
"""

from __future__ import annotations

from typing import Any, Dict, List, Sequence, Tuple

import numpy as np

from . import _recap_rs

Captions = Dict[Any, List[str]]


def _paired(gts: Captions, res: Captions) -> Tuple[List[Any], List[str], List[List[str]]]:
    if gts.keys() != res.keys():
        raise ValueError("gts and res must have the same keys (image ids)")
    ids = list(gts.keys())
    cands = []
    for i in ids:
        hypo = res[i]
        if not isinstance(hypo, list) or len(hypo) != 1:
            raise ValueError(f"res[{i!r}] must be a list with exactly one caption")
        if not isinstance(gts[i], list) or len(gts[i]) < 1:
            raise ValueError(f"gts[{i!r}] must be a non-empty list of captions")
        cands.append(hypo[0])
    return ids, cands, [list(gts[i]) for i in ids]


class PTBTokenizer:
    """pycocoevalcap's PTBTokenizer (Stanford PTB rules, lower case, punctuation removed),
    without Java."""

    def tokenize(self, captions_for_image: Dict[Any, List[Dict[str, str]]]) -> Captions:
        ids, flat = [], []
        for k, caps in captions_for_image.items():
            for c in caps:
                ids.append(k)
                flat.append(c["caption"])
        out: Captions = {k: [] for k in captions_for_image}
        for k, tok in zip(ids, _recap_rs.ptb_tokenize(flat)):
            out[k].append(tok)
        return out


class Bleu:
    """BLEU-1..n (n ≤ 4), closest reference length, as pycocoevalcap's `Bleu(n)`."""

    def __init__(self, n: int = 4) -> None:
        if not 1 <= n <= 4:
            raise ValueError("Bleu: n must be between 1 and 4")
        self._n = n

    def compute_score(self, gts: Captions, res: Captions, verbose: int = 0) -> Tuple[List[float], List[List[float]]]:
        _, cands, refs = _paired(gts, res)
        corpus, per_item = _recap_rs.bleu_scores(cands, refs)
        n = self._n
        return list(corpus[:n]), [[row[k] for row in per_item] for k in range(n)]

    def method(self) -> str:
        return "Bleu"


class Rouge:
    """ROUGE-L (β = 1.2), as pycocoevalcap's `Rouge()`."""

    def compute_score(self, gts: Captions, res: Captions) -> Tuple[float, np.ndarray]:
        _, cands, refs = _paired(gts, res)
        _, per_item = _recap_rs.rouge_scores(cands, refs)
        scores = np.array(per_item)
        return float(np.mean(scores)), scores

    def method(self) -> str:
        return "Rouge"


class Cider:
    """CIDEr-D (σ = 6, clipped counts, ×10), as pycocoevalcap's `Cider()`."""

    def compute_score(self, gts: Captions, res: Captions) -> Tuple[float, np.ndarray]:
        _, cands, refs = _paired(gts, res)
        corpus, per_item = _recap_rs.cider_scores(cands, refs)
        return corpus, np.array(per_item)

    def method(self) -> str:
        return "CIDEr"


class Meteor:
    """METEOR 1.5 through its jar (``jar=`` or ``$RECAP_METEOR_JAR``; Java on PATH)."""

    def __init__(self, jar: str | None = None) -> None:
        self._jar = jar

    def compute_score(self, gts: Captions, res: Captions) -> Tuple[float, List[float]]:
        _, cands, refs = _paired(gts, res)
        corpus, per_item = _recap_rs.meteor_scores(cands, refs, self._jar)
        return corpus, list(per_item)

    def method(self) -> str:
        return "METEOR"


def clip_score(images: np.ndarray, candidates: np.ndarray, w: float = 2.5) -> Tuple[float, np.ndarray]:
    """CLIP-S = w·max(cos(image_i, candidate_i), 0) per row (w = 2.5 clipscore, 2.0 PAC-S):
    the corpus mean and the per-item scores."""
    corpus, per_item = _recap_rs.clip_score(images, candidates, w)
    return corpus, np.array(per_item)


def refclip_score(
    images: np.ndarray,
    candidates: np.ndarray,
    references: np.ndarray,
    reference_owner: Sequence[int],
    w: float = 2.5,
    variant: str = "clipscore",
) -> Dict[str, Tuple[float, np.ndarray]]:
    """CLIP-S and RefCLIP-S (harmonic mean of CLIP-S and the best reference cosine);
    ``reference_owner[j]`` is the candidate row of reference row ``j``."""
    (c, cs), (r, rs) = _recap_rs.refclip_score(images, candidates, references, list(reference_owner), w, variant)
    return {"CLIP-S": (c, np.array(cs)), "RefCLIP-S": (r, np.array(rs))}
