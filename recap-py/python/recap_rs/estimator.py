"""A scikit-learn estimator for the linear map W (X @ W ≈ Y), fitted in closed form by recap.

`LinearAlignment(method="ridge", alpha=1.0)` matches
`sklearn.linear_model.Ridge(alpha=1.0, fit_intercept=False)` (`coef_` is `W.T`, scikit-learn's
`(n_targets, n_features)` layout); `center=True` is `fit_intercept=True`; `method="procrustes"`
is `scipy.linalg.orthogonal_procrustes`. `partial_fit` accumulates `GramStats` and re-solves
(ols, ridge, procrustes), so a fit can stream over batches that never sit in memory together.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, MultiOutputMixin, RegressorMixin, TransformerMixin
from sklearn.utils.validation import check_is_fitted, validate_data

from ._recap_rs import FittedMap, GramStats, fit


def _f32(a: np.ndarray) -> np.ndarray:
    """float32, C-contiguous: a no-op (no copy) when it already is."""
    return np.ascontiguousarray(a, dtype=np.float32)


class LinearAlignment(MultiOutputMixin, RegressorMixin, TransformerMixin, BaseEstimator):
    """Closed-form linear map from X (e.g. CLIP image embeddings) to Y (text embeddings).

    Parameters
    ----------
    method : "ridge", "ols", "lstsq", "procrustes" or "robust_procrustes"
    alpha : λ of ridge (ignored by the other methods)
    normalize : "none", "l2" (unit rows, repeated by predict) or "zscore"
    center : subtract the column means (an intercept), as ``fit_intercept=True``
    device : "cpu", "cuda", "cuda:N" or "auto"
    precision : arithmetic of the statistics pass, "auto", "f32" or "f64"

    Fitted attributes: ``W_`` (n_features x n_targets, float64 as solved), ``coef_`` (its
    transpose, scikit-learn's layout), ``n_features_in_``, ``map_`` (the crate's FittedMap,
    whose ``report_json`` holds residuals, condition number and timings).
    """

    def __init__(
        self,
        method: str = "ridge",
        alpha: float = 1.0,
        normalize: str = "none",
        center: bool = False,
        device: str = "cpu",
        precision: str = "auto",
    ) -> None:
        self.method = method
        self.alpha = alpha
        self.normalize = normalize
        self.center = center
        self.device = device
        self.precision = precision

    def _alpha(self) -> float | None:
        return float(self.alpha) if self.method == "ridge" else None

    def _set_fitted(self, m: FittedMap, y_1d: bool) -> "LinearAlignment":
        self.map_ = m
        self.W_ = m.w64
        self.coef_ = self.W_.T
        self._y_1d = y_1d
        return self

    def fit(self, X: Any, y: Any) -> "LinearAlignment":
        """Fit W on all rows (float32 arrays are read in place)."""
        X, y = validate_data(self, X, y, multi_output=True, y_numeric=True, dtype=[np.float32, np.float64])
        y_1d = y.ndim == 1
        Y = y.reshape(-1, 1) if y_1d else y
        self._stats = None
        m = fit(
            _f32(X),
            _f32(Y),
            method=self.method,
            alpha=self._alpha(),
            normalize=self.normalize,
            center=self.center,
            device=self.device,
            precision=self.precision,
        )
        return self._set_fitted(m, y_1d)

    def partial_fit(self, X: Any, y: Any) -> "LinearAlignment":
        """Add a batch to the running statistics and re-solve (ols, ridge, procrustes)."""
        first = getattr(self, "_stats", None) is None
        X, y = validate_data(self, X, y, multi_output=True, y_numeric=True, reset=first, dtype=[np.float32, np.float64])
        y_1d = y.ndim == 1
        Y = y.reshape(-1, 1) if y_1d else y
        if first:
            l2 = "l2" if self.normalize == "l2" else "none"
            precision = "f64" if self.precision == "f64" else "f32"
            self._stats = GramStats(X.shape[1], Y.shape[1], normalize=l2, precision=precision, device=self.device)
        self._stats.update(_f32(X), _f32(Y))
        solve_norm = "zscore" if self.normalize == "zscore" else None
        m = self._stats.solve(method=self.method, alpha=self._alpha(), normalize=solve_norm, center=self.center)
        return self._set_fitted(m, y_1d)

    def predict(self, X: Any) -> np.ndarray:
        """Map rows with the fit's preprocessing: ``X̃ @ W`` in Y's coordinates.

        Computed in float32 by the crate; returned in X's float dtype (float32 or float64),
        as scikit-learn's regressors do."""
        check_is_fitted(self, "map_")
        X = validate_data(self, X, reset=False, dtype=[np.float32, np.float64])
        out = self.map_.apply(_f32(X)).astype(X.dtype, copy=False)
        return out.ravel() if self._y_1d else out

    def transform(self, X: Any) -> np.ndarray:
        """Same as `predict`: the aligned embeddings."""
        return self.predict(X)

    def __sklearn_tags__(self):  # type: ignore[no-untyped-def]
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        tags.target_tags.single_output = True
        return tags
