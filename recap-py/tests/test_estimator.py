"""LinearAlignment as a scikit-learn estimator."""

import numpy as np
import pytest
from sklearn.linear_model import Ridge
from sklearn.utils.estimator_checks import check_estimator

from recap_rs import LinearAlignment


def test_passes_sklearns_estimator_checks():
    # Every check runs; a failure raises. (No check is marked as expected to fail.)
    check_estimator(LinearAlignment())


def test_fit_predict_and_layout_match_ridge(pairs):
    x, y = pairs
    est = LinearAlignment(alpha=0.5).fit(x, y)
    ref = Ridge(alpha=0.5, fit_intercept=False).fit(x.astype(np.float64), y.astype(np.float64))
    assert est.coef_.shape == ref.coef_.shape == (32, 48) and est.W_.shape == (48, 32)
    assert est.n_features_in_ == 48
    np.testing.assert_allclose(est.coef_, ref.coef_, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(est.predict(x[:100]), ref.predict(x[:100]), rtol=1e-4, atol=1e-5)
    assert est.get_params()["alpha"] == 0.5
    est.set_params(method="procrustes")
    assert est.fit(np.ascontiguousarray(x[:, :32]), y).W_.shape == (32, 32)


def test_partial_fit_over_batches_equals_fit(pairs):
    x, y = pairs
    est = LinearAlignment(alpha=0.5, center=True, precision="f64")
    for s in range(0, 2000, 500):
        est.partial_fit(x[s : s + 500], y[s : s + 500])
    full = LinearAlignment(alpha=0.5, center=True, precision="f64").fit(x, y)
    np.testing.assert_allclose(est.W_, full.W_, rtol=1e-9, atol=1e-12)
    with pytest.raises(ValueError, match="features"):
        est.partial_fit(x[:, :10], y)
