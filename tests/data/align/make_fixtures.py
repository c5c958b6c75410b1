"""Reference fixtures for tests/align_*.rs. Run: /tmp/peers-venv/bin/python make_fixtures.py

Writes small float32 inputs and float64 reference maps from numpy / scipy / scikit-learn:
  X.npy (200x16), Y.npy (200x16), Y8.npy (200x8)                      inputs (float32)
  W_ols.npy        scipy.linalg.cho_solve(cho_factor(XᵀX), XᵀY)
  W_ridge1.npy     sklearn Ridge(alpha=1, fit_intercept=False)
  W_ridge1_center.npy  sklearn Ridge(alpha=1, fit_intercept=True) coef_ (centers X and Y)
  W_ridge1_zscore.npy  StandardScaler on X and Y, then Ridge(alpha=1, fit_intercept=False)
  W_ridge1_l2.npy  rows L2-normalized (X and Y), then Ridge(alpha=1, fit_intercept=False)
  W_lstsq.npy      numpy.linalg.lstsq(X, Y)
  W_procrustes.npy  scipy.linalg.orthogonal_procrustes(X, Y); W_procrustes8.npy: U Vᵀ of numpy svd(XᵀY8)
  loo_grid.npy, loo_scores.npy, loo_alpha.npy  RidgeCV(alphas=grid, fit_intercept=False)
      efficient leave-one-out: per-alpha mean squared LOO error (over rows and targets)
"""
import numpy as np
from scipy.linalg import cho_factor, cho_solve, orthogonal_procrustes
from sklearn.linear_model import Ridge, RidgeCV
from sklearn.preprocessing import StandardScaler

rng = np.random.default_rng(7)
n, d = 200, 16
spec = (np.arange(1, d + 1) ** -1.0).astype(np.float64)
R = np.linalg.qr(rng.standard_normal((d, d)))[0]
X = (rng.standard_normal((n, d)) * np.sqrt(spec)) @ R + 0.3
Wt = 0.7 * np.eye(d) + 0.3 * rng.standard_normal((d, d)) / np.sqrt(d)
Y = X @ Wt + 0.1 * rng.standard_normal((n, d)) - 0.2
X = X.astype(np.float32)
Y = Y.astype(np.float32)
Y8 = Y[:, :8].copy()
np.save("X.npy", X)
np.save("Y.npy", Y)
np.save("Y8.npy", Y8)

X64, Y64 = X.astype(np.float64), Y.astype(np.float64)
G = X64.T @ X64
np.save("W_ols.npy", cho_solve(cho_factor(G), X64.T @ Y64))
np.save("W_ridge1.npy", Ridge(alpha=1.0, fit_intercept=False).fit(X64, Y64).coef_.T)
np.save("W_ridge1_center.npy", Ridge(alpha=1.0, fit_intercept=True).fit(X64, Y64).coef_.T)
Xz = StandardScaler().fit_transform(X64)
Yz = StandardScaler().fit_transform(Y64)
np.save("W_ridge1_zscore.npy", Ridge(alpha=1.0, fit_intercept=False).fit(Xz, Yz).coef_.T)
Xl = X64 / np.linalg.norm(X64, axis=1, keepdims=True)
Yl = Y64 / np.linalg.norm(Y64, axis=1, keepdims=True)
np.save("W_ridge1_l2.npy", Ridge(alpha=1.0, fit_intercept=False).fit(Xl, Yl).coef_.T)
np.save("W_lstsq.npy", np.linalg.lstsq(X64, Y64, rcond=None)[0])
np.save("W_procrustes.npy", orthogonal_procrustes(X64, Y64)[0])
# scipy's orthogonal_procrustes needs equal shapes; the semi-orthogonal solution is U Vᵀ
# from numpy's thin SVD of XᵀY8.
U, _, Vt = np.linalg.svd(X64.T @ Y8.astype(np.float64), full_matrices=False)
np.save("W_procrustes8.npy", U @ Vt)

grid = np.array([1e-3, 1e-2, 1e-1, 0.3, 1.0, 3.0, 10.0, 100.0])
cv = RidgeCV(alphas=grid, fit_intercept=False, store_cv_results=True).fit(X64, Y64)
np.save("loo_grid.npy", grid)
np.save("loo_scores.npy", cv.cv_results_.mean(axis=(0, 1)))
np.save("loo_alpha.npy", np.array([cv.alpha_]))
print("fixtures written; LOO alpha", cv.alpha_)
