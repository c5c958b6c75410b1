"""Fits and exact searches over shards on Ray.

Fit: one task per `(X shard, Y shard)` pair of `.npy` files computes `GramStats` through
recap's own reader, the statistics travel as the crate's `.npz` bytes, a tree of merges
combines them, and the driver solves. The result equals the single-process fit (the same `n`,
statistics equal up to the order of float64 additions, W close).

Search: one actor per datastore shard loads its shard once (`np.load(mmap_mode="r")`) into an
`Index` and answers query batches; the driver merges with global row = shard offset + local
row and the crate's tie rule (`merge_topk`), which is exact: the result equals one `Index` over
all rows, bit for bit.

Runs on a laptop after ``ray.init(num_cpus=2)`` and on a cluster unchanged. Each task and
actor keeps rayon's threads within its CPUs (``RAYON_NUM_THREADS`` = its ``num_cpus``).
"""

from __future__ import annotations

from typing import Any, List, Optional, Sequence, Tuple

import numpy as np
import ray

from .._recap_rs import FittedMap, GramStats, Index, merge_topk


def _env(num_cpus: int) -> dict:
    n = str(max(1, int(num_cpus)))
    return {"env_vars": {"RAYON_NUM_THREADS": n, "OMP_NUM_THREADS": n}}


@ray.remote
def _shard_stats(x: str, y: str, dx: int, dy: int, normalize: str, precision: str) -> bytes:
    stats = GramStats(dx, dy, normalize=normalize, precision=precision)
    stats.update_files(x, y)
    return stats.to_bytes()


@ray.remote
def _merge(normalize: str, *parts: bytes) -> bytes:
    total = GramStats.from_bytes(parts[0], normalize)
    for p in parts[1:]:
        total.merge(GramStats.from_bytes(p, normalize))
    return total.to_bytes()


def _npy_cols(path: str) -> int:
    arr = np.load(path, mmap_mode="r")
    if arr.ndim != 2:
        raise ValueError(f"{path}: expected a 2-d array, got shape {arr.shape}")
    return int(arr.shape[1])


def gram_stats(
    pairs: Sequence[Tuple[str, str]],
    *,
    normalize: str = "none",
    precision: str = "f32",
    num_cpus: int = 1,
    fan_in: int = 4,
) -> GramStats:
    """Statistics of all shard pairs: one task per pair, merged in a tree of fan-in `fan_in`."""
    if not pairs:
        raise ValueError("gram_stats: no shard pairs")
    if fan_in < 2:
        raise ValueError("gram_stats: fan_in must be at least 2")
    dx, dy = _npy_cols(pairs[0][0]), _npy_cols(pairs[0][1])
    task = _shard_stats.options(num_cpus=num_cpus, runtime_env=_env(num_cpus))
    refs: List[Any] = [task.remote(str(x), str(y), dx, dy, normalize, precision) for x, y in pairs]
    merge = _merge.options(num_cpus=1, runtime_env=_env(1))
    while len(refs) > 1:
        refs = [merge.remote(normalize, *refs[i : i + fan_in]) for i in range(0, len(refs), fan_in)]
    return GramStats.from_bytes(ray.get(refs[0]), normalize)


def fit(
    pairs: Sequence[Tuple[str, str]],
    *,
    method: str = "ridge",
    alpha: Optional[float] = None,
    normalize: str = "none",
    center: bool = False,
    precision: str = "f32",
    num_cpus: int = 1,
    fan_in: int = 4,
) -> FittedMap:
    """Fit W over shard pairs of `.npy` files: statistics on the cluster, the solve here
    (ols, ridge, procrustes)."""
    l2 = "l2" if normalize == "l2" else "none"
    stats = gram_stats(pairs, normalize=l2, precision=precision, num_cpus=num_cpus, fan_in=fan_in)
    solve_norm = "zscore" if normalize == "zscore" else None
    return stats.solve(method=method, alpha=alpha, normalize=solve_norm, center=center)


@ray.remote
class _ShardActor:
    def __init__(self, path: str, metric: str, storage: str) -> None:
        rows = np.load(path, mmap_mode="r")
        self.index = Index(np.ascontiguousarray(rows, dtype=np.float32), metric=metric, storage=storage)

    def size(self) -> int:
        return self.index.ntotal

    def search(self, xq: np.ndarray, k: int) -> Tuple[np.ndarray, np.ndarray]:
        return self.index.search(xq, k)


class ShardedIndex:
    """Exact top-k over datastore shards (`.npy` files), one actor per shard."""

    def __init__(self, shard_paths: Sequence[str], *, metric: str = "cosine", storage: str = "f32", num_cpus: float = 1) -> None:
        """One actor per shard, each holding `num_cpus` CPUs for its lifetime (fractions
        allowed: 4 shards on 2 CPUs need ``num_cpus=0.5``)."""
        if not shard_paths:
            raise ValueError("ShardedIndex: no shards")
        cpus = float(ray.cluster_resources().get("CPU", 0))
        if len(shard_paths) * num_cpus > cpus:
            raise ValueError(
                f"ShardedIndex: {len(shard_paths)} actors x {num_cpus} CPUs exceed the cluster's "
                f"{cpus:g} CPUs (the actors would wait forever); pass num_cpus={cpus / len(shard_paths):g}"
            )
        actor = _ShardActor.options(num_cpus=num_cpus, runtime_env=_env(num_cpus))
        self._actors = [actor.remote(str(p), metric, storage) for p in shard_paths]
        sizes = ray.get([a.size.remote() for a in self._actors])
        self.offsets = [int(o) for o in np.concatenate([[0], np.cumsum(sizes)[:-1]])]
        self.ntotal = int(sum(sizes))

    def search(self, xq: np.ndarray, k: int, batch_size: int = 4096) -> Tuple[np.ndarray, np.ndarray]:
        """`(D, I)` as `Index.search` over all shards; queries go out in batches."""
        xq = np.ascontiguousarray(xq, dtype=np.float32)
        out_d, out_i = [], []
        for start in range(0, max(len(xq), 1), batch_size):
            batch = ray.put(xq[start : start + batch_size])
            parts = ray.get([a.search.remote(batch, k) for a in self._actors])
            d, i = merge_topk(parts, self.offsets, k)
            out_d.append(d)
            out_i.append(i)
        return np.concatenate(out_d), np.concatenate(out_i)

    def shutdown(self) -> None:
        """Stop the actors."""
        for a in self._actors:
            ray.kill(a)
        self._actors = []
