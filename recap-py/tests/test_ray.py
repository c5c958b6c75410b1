"""The Ray path: 8 shard pairs fitted on a local 2-CPU cluster equal the single-process fit;
the sharded search equals one index bit for bit."""

import os

import numpy as np
import pytest

os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
ray = pytest.importorskip("ray")

import recap_rs
from recap_rs import GramStats, Index
from recap_rs.distributed import ray as rr

from conftest import clip_like


@pytest.fixture(scope="module")
def cluster():
    ray.init(
        num_cpus=2,
        include_dashboard=False,
        _node_ip_address="127.0.0.1",
        configure_logging=False,
        log_to_driver=False,
    )
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def shards(tmp_path_factory):
    d = tmp_path_factory.mktemp("shards")
    x = clip_like(4000, 32, 21)
    rng = np.random.default_rng(22)
    y = (x @ rng.standard_normal((32, 24)).astype(np.float32) / 6 + 0.05 * rng.standard_normal((4000, 24))).astype(np.float32)
    cuts = [0, 300, 800, 1500, 1501, 2200, 3000, 3700, 4000]
    pairs = []
    for s, (a, b) in enumerate(zip(cuts, cuts[1:])):
        np.save(d / f"x{s}.npy", x[a:b])
        np.save(d / f"y{s}.npy", y[a:b])
        pairs.append((str(d / f"x{s}.npy"), str(d / f"y{s}.npy")))
    return x, y, pairs, d


def test_fit_over_8_shard_pairs_equals_single_process(cluster, shards):
    x, y, pairs, _ = shards
    stats = rr.gram_stats(pairs, precision="f64", fan_in=3)
    one = GramStats(32, 24, precision="f64")
    one.update(x, y)
    assert stats.n == one.n == 4000
    assert np.linalg.norm(stats.xtx - one.xtx) / np.linalg.norm(one.xtx) < 1e-12
    assert np.linalg.norm(stats.xty - one.xty) / np.linalg.norm(one.xty) < 1e-12
    w = rr.fit(pairs, method="ridge", alpha=0.3, precision="f64")
    single = recap_rs.fit(x, y, method="ridge", alpha=0.3, precision="f64")
    assert np.abs(w.w64 - single.w64).max() < 1e-9


def test_sharded_search_equals_one_index(cluster, shards):
    _, y, _, d = shards
    cuts = [0, 1000, 1001, 2500, 4000]
    paths = []
    for s, (a, b) in enumerate(zip(cuts, cuts[1:])):
        np.save(d / f"db{s}.npy", y[a:b])
        paths.append(str(d / f"db{s}.npy"))
    q = clip_like(333, 24, 23)
    with pytest.raises(ValueError, match="exceed"):
        rr.ShardedIndex(paths, num_cpus=1)
    index = rr.ShardedIndex(paths, num_cpus=0.5)
    try:
        D, I = index.search(q, 7, batch_size=100)
    finally:
        index.shutdown()
    D1, I1 = Index(y).search(q, 7)
    assert np.array_equal(I, I1) and np.array_equal(D, D1)
