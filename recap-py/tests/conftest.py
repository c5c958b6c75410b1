"""Shared data for the recap_rs tests: CLIP-like unit-norm embeddings, deterministic."""

import json
import os
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]


def clip_like(n: int, d: int, seed: int, offset: float = 0.5) -> np.ndarray:
    """Unit rows with a power-law spectrum and a shared offset (a modality gap)."""
    rng = np.random.default_rng(seed)
    scale = (np.arange(1, d + 1) ** -0.5).astype(np.float32)
    z = rng.standard_normal((n, d), dtype=np.float32) * scale
    u = np.zeros(d, dtype=np.float32)
    u[0] = 1.0
    x = z / np.linalg.norm(z, axis=1, keepdims=True) + offset * u
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


@pytest.fixture(scope="session")
def pairs():
    """X (2000 x 48) and Y = X·Wt + noise (2000 x 32), float32, C-contiguous."""
    x = clip_like(2000, 48, 1)
    rng = np.random.default_rng(2)
    wt = rng.standard_normal((48, 32)).astype(np.float32) / 7
    y = (x @ wt + 0.05 * rng.standard_normal((2000, 32))).astype(np.float32)
    return x, y


@pytest.fixture(scope="session")
def ngram_sets():
    """Caption sets with pycocoevalcap 1.2's own tokenization and scores (the crate's goldens)."""
    with open(REPO / "tests/data/metrics/ngram.json") as f:
        return json.load(f)["sets"]


@pytest.fixture(scope="session")
def meteor_jar():
    jar = os.environ.get("RECAP_METEOR_JAR")
    if not jar or not Path(jar).exists():
        pytest.skip("RECAP_METEOR_JAR is not set (scripts/fetch_meteor.sh provides it)")
    return jar
