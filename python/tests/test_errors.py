"""Bad input gives a clear ValueError/TypeError naming the problem, never a crash."""
import numpy as np
import pytest
import scipy.sparse as sp

import nnmf

ESTIMATORS = [lambda: nnmf.NeuralNMF(ranks=(4, 2), max_iter=5), lambda: nnmf.NMF(n_components=3),
              lambda: nnmf.HierarchicalNMF(ranks=(4, 2)), lambda: nnmf.DeepNMF(ranks=(4, 2))]


@pytest.fixture
def X(rng):
    return rng.random((30, 12))


@pytest.mark.parametrize("make", ESTIMATORS)
@pytest.mark.parametrize("value, match", [(np.nan, "NaN at \\[3, 5\\]"), (np.inf, "infinite entry at \\[3, 5\\]"),
                                          (-1.0, "negative entry \\(-1.0\\) at \\[3, 5\\]")])
@pytest.mark.parametrize("sparse", [False, True])
def test_bad_values_name_the_entry(make, X, value, match, sparse):
    X = X.copy()
    X[3, 5] = value
    with pytest.raises(ValueError, match=match):
        make().fit(sp.csr_matrix(X) if sparse else X)


@pytest.mark.parametrize("make", ESTIMATORS)
def test_wrong_number_of_features_at_transform(make, X):
    est = make().fit(X)
    with pytest.raises(ValueError, match="X has 11 features, but .* is expecting 12"):
        est.transform(X[:, :11])
    with pytest.raises(ValueError, match="NaN"):
        est.transform(np.full_like(X, np.nan))


@pytest.mark.parametrize("make", ESTIMATORS)
def test_unfitted(make, X):
    from nnmf._estimators import NotFittedError
    with pytest.raises(NotFittedError, match="not fitted"):
        make().transform(X)


def test_ranks_too_large_or_not_decreasing(X):
    with pytest.raises(ValueError, match="ranks\\[0\\] = 20 is larger than n_features = 12"):
        nnmf.NeuralNMF(ranks=(20, 6)).fit(X)
    with pytest.raises(ValueError, match="decrease"):
        nnmf.NeuralNMF(ranks=(4, 4)).fit(X)
    with pytest.raises(ValueError, match="positive"):
        nnmf.NeuralNMF(ranks=(4, 0)).fit(X)
    with pytest.raises(TypeError, match="ranks"):
        nnmf.NeuralNMF(ranks="abc").fit(X)
    with pytest.raises(ValueError, match="n_components = 13 is larger than n_features = 12"):
        nnmf.NMF(n_components=13).fit(X)
    with pytest.raises(ValueError, match="n_samples = 30"):
        nnmf.HierarchicalNMF(ranks=(40, 2)).fit(np.random.default_rng(0).random((30, 50)))


def test_labels_of_the_wrong_length_or_kind(X):
    est = nnmf.NeuralNMF(ranks=(4, 2), max_iter=5)
    with pytest.raises(ValueError, match="y has 29 labels but X has 30 samples"):
        est.fit(X, np.zeros(29, dtype=int))
    with pytest.raises(ValueError, match="no known label"):
        est.fit(X, -np.ones(30, dtype=int))
    with pytest.raises(ValueError, match="1-D"):
        est.fit(X, np.zeros((30, 2), dtype=int))
    with pytest.raises(ValueError, match="non-integer"):
        est.fit(X, np.full(30, 0.5))


@pytest.mark.parametrize("param, value, match", [
    ("loss", "bogus", "loss must be"), ("supervision", "bogus", "supervision must be"),
    ("init", "bogus", "init must be"), ("optimizer", "bogus", "optimizer must be"),
    ("scaling", "bogus", "scaling must be"), ("device", "tpu", "tpu"), ("n_threads", -1, "n_threads"),
    ("random_state", -3, "random_state"), ("max_iter", -1, "epochs|max_iter"),
])
def test_bad_parameters(X, param, value, match):
    y = np.arange(30) % 2
    est = nnmf.NeuralNMF(ranks=(4, 2), max_iter=5).set_params(**{param: value})
    with pytest.raises(ValueError, match=match):
        est.fit(X, y)


def test_bad_nmf_parameters(X):
    with pytest.raises(ValueError, match="solver must be"):
        nnmf.NMF(n_components=2, solver="bogus").fit(X)
    with pytest.raises(ValueError, match="init must be"):
        nnmf.NMF(n_components=2, init="bogus").fit(X)


def test_errors_leave_a_fitted_estimator_unchanged(X):
    est = nnmf.NeuralNMF(ranks=(4, 2), max_iter=5, random_state=0).fit(X)
    before = [f.copy() for f in est.factors_]
    with pytest.raises(ValueError):
        est.fit(np.full_like(X, np.nan))
    for a, b in zip(before, est.factors_):
        np.testing.assert_array_equal(a, b)
