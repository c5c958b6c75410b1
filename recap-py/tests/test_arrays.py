"""Zero-copy in, arrays out, the GIL released, bad input as Python errors."""

import threading
import time

import numpy as np
import pytest

import recap_rs
from recap_rs import GramStats, RecapError


def test_float32_arrays_and_memmaps_are_read_in_place(tmp_path, pairs):
    x, _ = pairs
    assert recap_rs._data_pointer(x) == x.__array_interface__["data"][0]
    np.save(tmp_path / "x.npy", x)
    mm = np.load(tmp_path / "x.npy", mmap_mode="r")
    assert recap_rs._data_pointer(mm) == mm.__array_interface__["data"][0]
    # float16 is widened once: a different buffer
    h = x.astype(np.float16)
    assert recap_rs._data_pointer(h) != h.__array_interface__["data"][0]


def _rss_anon_kb() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("RssAnon:"):
                return int(line.split()[1])
    raise RuntimeError("no RssAnon in /proc/self/status")


def test_a_1gb_memmap_is_not_copied(tmp_path):
    n, d = 350_000, 768  # 1.07 GB of float32
    path = tmp_path / "big.npy"
    big = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(n, d))
    for s in range(0, n, 50_000):
        big[s : s + 50_000] = np.random.default_rng(s).standard_normal((min(50_000, n - s), d), dtype=np.float32)
    big.flush()
    del big
    x = np.load(path, mmap_mode="r")
    y = np.ascontiguousarray(x[:, :4])
    stats = GramStats(d, 4)
    before = _rss_anon_kb()
    stats.update(x, y)
    grown_mb = (_rss_anon_kb() - before) / 1024
    assert stats.n == n
    assert grown_mb < 200, f"anonymous memory grew by {grown_mb:.0f} MB for a 1.07 GB memmap"


def test_the_gil_is_released_during_update():
    x = np.random.default_rng(0).standard_normal((400_000, 256), dtype=np.float32)
    y = np.ascontiguousarray(x[:, :64])
    count, stop = [0], threading.Event()

    def counter():
        while not stop.is_set():
            count[0] += 1

    t = threading.Thread(target=counter)
    t.start()
    time.sleep(0.05)
    start = count[0]
    stats = GramStats(256, 64, precision="f64")
    stats.update(x, y)
    during = count[0] - start
    stop.set()
    t.join()
    assert during > 1000, f"the counting thread advanced only {during} times during update"


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda x: x.astype(np.float64), "dtype"),
        (lambda x: x[:, ::2], "C-contiguous"),
        (lambda x: x[0], "2-d"),
        (lambda x: x.tolist(), "numpy.ndarray"),
    ],
)
def test_bad_arrays_raise_the_crate_message(pairs, make, match):
    x, y = pairs
    with pytest.raises(RecapError, match=match):
        recap_rs.fit(make(x), y, method="ols")


def test_shape_and_value_errors(pairs):
    x, y = pairs
    with pytest.raises(RecapError, match="rows"):
        GramStats(48, 32).update(x, y[:10])
    with pytest.raises(RecapError, match="columns"):
        GramStats(48, 31).update(x, y)
    bad = x.copy()
    bad[17, 3] = np.nan
    with pytest.raises(RecapError, match="row 17"):
        GramStats(48, 32).update(bad, y)
    with pytest.raises(RecapError, match="row 17"):
        recap_rs.fit(bad, y, method="ridge", alpha=1.0)
    with pytest.raises(RecapError, match="method"):
        recap_rs.fit(x, y, method="svd")
    with pytest.raises(OSError, match="missing.npy"):
        recap_rs.fit_files("missing.npy", "missing.npy", method="ols")
    with pytest.raises(RecapError):
        GramStats.from_bytes(b"not an npz")
