"""GramStats, fit and FittedMap against scikit-learn and scipy on the same data."""

import pickle

import numpy as np
import pytest
import scipy.linalg
from sklearn.linear_model import Ridge

import recap_rs
from recap_rs import GramStats, RecapError


def rel(a, b):
    return np.linalg.norm(np.asarray(a, np.float64) - b) / np.linalg.norm(b)


def test_ridge_equals_sklearn(pairs):
    x, y = pairs
    m = recap_rs.fit(x, y, method="ridge", alpha=0.5)
    ref = Ridge(alpha=0.5, fit_intercept=False, solver="cholesky").fit(x.astype(np.float64), y.astype(np.float64))
    assert m.w.shape == (48, 32) and m.w.dtype == np.float32
    assert rel(m.w64, ref.coef_.T) < 1e-5
    assert m.n == 2000 and m.method == "ridge" and m.alpha == 0.5


def test_centered_ridge_equals_sklearn_with_intercept(pairs):
    x, y = pairs
    m = recap_rs.fit(x, y, method="ridge", alpha=0.5, center=True)
    ref = Ridge(alpha=0.5, fit_intercept=True).fit(x.astype(np.float64), y.astype(np.float64))
    assert rel(m.w64, ref.coef_.T) < 1e-5
    assert np.abs(m.apply(x[:50]) - ref.predict(x[:50].astype(np.float64))).max() < 1e-4


def test_procrustes_equals_scipy(pairs):
    x, y = pairs
    x32 = np.ascontiguousarray(x[:, :32])
    m = recap_rs.fit(x32, y, method="procrustes")
    r, _ = scipy.linalg.orthogonal_procrustes(x32.astype(np.float64), y.astype(np.float64))
    assert rel(m.w64, r) < 1e-6
    assert np.abs(m.w64.T @ m.w64 - np.eye(32)).max() < 1e-10


def test_streamed_and_merged_statistics_equal_one_pass(pairs):
    # f64 products: any split of the rows gives the statistics to float64 rounding (f32
    # products of mean-shifted chunks differ by ~1e-8 relative between chunkings).
    x, y = pairs
    whole = GramStats(48, 32, precision="f64")
    whole.update(x, y)
    a, b = GramStats(48, 32, precision="f64"), GramStats(48, 32, precision="f64")
    a.update(x[:700], y[:700])
    b.update(x[700:], y[700:])
    total = a + b
    assert total.n == whole.n == 2000
    assert rel(total.xtx, whole.xtx) < 1e-12 and rel(total.xty, whole.xty) < 1e-12
    a.merge(b)
    assert a.n == 2000
    direct = recap_rs.fit(x, y, method="ridge", alpha=0.5, precision="f64")
    solved = total.solve(method="ridge", alpha=0.5)
    assert rel(solved.w64, direct.w64) < 1e-9
    f32 = GramStats(48, 32)
    f32.update(x[:700], y[:700])
    f32.update(x[700:], y[700:])
    assert rel(f32.xtx, whole.xtx) < 1e-7 and rel(f32.xty, whole.xty) < 1e-7


def test_update_files_equals_update(tmp_path, pairs):
    x, y = pairs
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "y.npy", y)
    mem, files = GramStats(48, 32, precision="f64"), GramStats(48, 32, precision="f64")
    mem.update(x, y)
    files.update_files(tmp_path / "x.npy", tmp_path / "y.npy", chunk_rows=333)
    assert files.n == mem.n
    assert rel(files.xty, mem.xty) < 1e-12 and rel(files.xtx, mem.xtx) < 1e-12
    m_files = recap_rs.fit_files(tmp_path / "x.npy", tmp_path / "y.npy", method="ridge", alpha=0.5)
    m_mem = recap_rs.fit(x, y, method="ridge", alpha=0.5)
    assert rel(m_files.w64, m_mem.w64) < 1e-6


def test_l2_statistics_and_their_solve(pairs):
    x, y = pairs
    s = GramStats(48, 32, normalize="l2")
    s.update(x * 3.0, y * 0.25)  # row scales do not matter under L2
    m = s.solve(method="ridge", alpha=0.1)
    ref = recap_rs.fit(x, y, method="ridge", alpha=0.1, normalize="l2", precision="f32")
    assert rel(m.w64, ref.w64) < 1e-6
    with pytest.raises(RecapError, match="L2"):
        s.solve(method="ridge", alpha=0.1, normalize="none")
    with pytest.raises(RecapError, match="merged"):
        s.merge(GramStats(48, 32))


def test_pickle_and_bytes_round_trips(tmp_path, pairs):
    x, y = pairs
    s = GramStats(48, 32, normalize="l2")
    s.update(x, y)
    back = pickle.loads(pickle.dumps(s))
    assert back.n == s.n and back.normalize == "l2"
    assert np.array_equal(back.xtx, s.xtx) and np.array_equal(back.xty, s.xty)
    assert back.to_bytes() == s.to_bytes()
    s.save(tmp_path / "s.npz")
    assert (tmp_path / "s.npz").read_bytes() == s.to_bytes()
    m = s.solve(method="ridge", alpha=0.3)
    m2 = pickle.loads(pickle.dumps(m))
    assert np.array_equal(m2.w64, m.w64) and np.array_equal(m2.apply(x), m.apply(x))
    m.save(tmp_path / "W.npy")
    m3 = recap_rs.FittedMap.load(tmp_path / "W.npy")
    assert np.array_equal(np.load(tmp_path / "W.npy"), m.w)
    assert np.array_equal(m3.apply(x[:10]), m.apply(x[:10]))


def test_methods_that_need_rows_are_errors_from_statistics(pairs):
    x, y = pairs
    s = GramStats(48, 32)
    s.update(x, y)
    for method in ("lstsq", "robust_procrustes"):
        with pytest.raises(RecapError, match="rows themselves"):
            s.solve(method=method)
    with pytest.raises(RecapError, match="λ"):
        s.solve(method="ridge")
    gcv = s.solve(method="ridge", alphas=[1e-3, 1e-2, 1e-1, 1.0])
    assert gcv.alpha in (1e-3, 1e-2, 1e-1, 1.0)
