"""recap_rs: recap's numeric core for Python.

Closed-form alignment of CLIP image embeddings to text embeddings (`GramStats`, `fit`,
`LinearAlignment` for scikit-learn), exact top-k retrieval with faiss's call shape (`Index`,
`merge_topk`), the caption metrics with pycocoevalcap's call shapes (`recap_rs.metrics`), and a
Ray path for sharded fits and searches (`recap_rs.distributed.ray`).

float32 arrays (C-contiguous, memmaps included) are read in place, never copied; float16 input
is widened once; results are numpy arrays owning the Rust buffers. Calls that compute release the
GIL. Errors are `RecapError` (a `ValueError`) or `OSError`, with the crate's message.
"""

from typing import Any

from ._recap_rs import (
    FittedMap,
    GramStats,
    Index,
    RecapError,
    __version__,
    _data_pointer,
    fit,
    fit_files,
    merge_topk,
)

__all__ = [
    "FittedMap",
    "GramStats",
    "Index",
    "LinearAlignment",
    "RecapError",
    "__version__",
    "fit",
    "fit_files",
    "merge_topk",
    "metrics",
]


def __getattr__(name: str) -> Any:
    # scikit-learn is imported only when the estimator is asked for.
    if name == "LinearAlignment":
        from .estimator import LinearAlignment

        return LinearAlignment
    if name == "metrics":
        from . import metrics

        return metrics
    raise AttributeError(f"module 'recap_rs' has no attribute {name!r}")
