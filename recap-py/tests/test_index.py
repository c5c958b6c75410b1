"""Index.search against faiss.IndexFlatIP and brute force; the exact shard merge."""

import faiss
import numpy as np
import pytest

import recap_rs
from recap_rs import Index, RecapError, merge_topk

from conftest import clip_like


@pytest.fixture(scope="module")
def corpus():
    return clip_like(5000, 64, 11), clip_like(300, 64, 12)


def brute(xb, xq, k, exclude=None):
    s = (xq.astype(np.float64) @ xb.astype(np.float64).T)
    if exclude is not None:
        for i, rows in enumerate(exclude):
            s[i, [r for r in rows if r >= 0]] = -np.inf
    order = np.lexsort((np.broadcast_to(np.arange(xb.shape[0]), s.shape), -s), axis=1)[:, :k]
    return order


def test_search_equals_faiss_flat_ip(corpus):
    xb, xq = corpus
    D, I = Index(xb, metric="cosine").search(xq, 7)
    fi = faiss.IndexFlatIP(64)
    fi.add(xb)
    Df, If = fi.search(xq, 7)
    assert D.dtype == np.float32 and I.dtype == np.int64 and D.shape == (300, 7)
    # identical rows apart from exact ties (none in continuous data: checked by the gap)
    same = (I == If).all(axis=1)
    gaps = np.diff(np.sort(xq @ xb.T, axis=1)[:, ::-1][:, :8], axis=1)
    assert same[np.abs(gaps).min(axis=1) > 1e-6].all()
    assert np.abs(D - Df).max() < 2e-6


def test_ip_metric_exclusion_and_padding_against_brute_force(corpus):
    xb, xq = corpus
    idx = Index(xb[:10] * 2.0, metric="ip")
    D, I = idx.search(xq[:5], 12)  # k > ntotal: padded like faiss
    assert I.shape == (5, 12) and (I[:, 10:] == -1).all() and np.isneginf(D[:, 10:]).all()
    assert (I[:, :10] == brute(xb[:10] * 2.0, xq[:5], 10)).all()
    exclude = [[0, 1, -1], [], [9], [3, 3], [-1]]
    D, I = idx.search(xq[:5], 10, exclude=exclude)
    want = brute(xb[:10] * 2.0, xq[:5], 10, exclude)
    for i, rows in enumerate(exclude):
        n = 10 - len({r for r in rows if r >= 0})
        assert (I[i, :n] == want[i, :n]).all() and (I[i, n:] == -1).all()


@pytest.mark.parametrize("screen", ["int8", "bf16", "auto"])
def test_screened_search_equals_the_plain_search_bit_for_bit(corpus, screen):
    xb, xq = corpus
    idx = Index(xb)
    exclude = [[i, i + 1] for i in range(len(xq))]
    for k in (1, 7, 100):
        D, I = idx.search(xq, k, exclude=exclude, screen=screen)
        D0, I0 = idx.search(xq, k, exclude=exclude, screen="none")
        assert np.array_equal(I, I0) and np.array_equal(D, D0)
    with pytest.raises(RecapError, match="screen"):
        idx.search(xq, 3, screen="int4")


def test_ties_go_to_the_lower_row():
    xb = np.array([[1, 0], [0, 1], [1, 0], [1, 0]], dtype=np.float32)
    D, I = Index(xb).search(np.array([[1, 0]], dtype=np.float32), 3)
    assert I.tolist() == [[0, 2, 3]]


def test_sharded_search_merges_to_the_single_index_bit_for_bit(corpus):
    xb, xq = corpus
    k = 9
    D, I = Index(xb).search(xq, k)
    cuts = [0, 1234, 1235, 4000, 5000]
    parts = [Index(xb[a:b]).search(xq, k) for a, b in zip(cuts, cuts[1:])]
    Dm, Im = merge_topk(parts, cuts[:-1], k)
    assert np.array_equal(I, Im) and np.array_equal(D, Dm)


def test_f16_storage_and_add(corpus):
    xb, xq = corpus
    idx = Index(xb[:2500].astype(np.float16), storage="f16")
    idx.add(xb[2500:])
    assert idx.ntotal == 5000 and idx.storage == "f16" and len(idx) == 5000
    _, I = idx.search(xq, 5)
    _, I32 = Index(xb).search(xq, 5)
    assert (I[:, 0] == I32[:, 0]).mean() > 0.95


def test_bad_input_is_a_python_error(corpus):
    xb, xq = corpus
    idx = Index(xb)
    with pytest.raises(RecapError, match="columns"):
        idx.search(xq[:, :32].copy(), 3)
    with pytest.raises(RecapError, match="k"):
        idx.search(xq, 0)
    bad = xq.copy()
    bad[4, 7] = np.nan
    with pytest.raises(RecapError, match="row 4"):
        idx.search(bad, 3)
    with pytest.raises(RecapError, match="exclude"):
        idx.search(xq, 3, exclude=[[1]])
    with pytest.raises(RecapError, match="metric"):
        Index(xb, metric="l2")
