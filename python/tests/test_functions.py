"""nnmf.nnls against scipy.optimize.nnls, and nnmf.nnls_backward against finite differences."""
import numpy as np
import pytest
import scipy.optimize
import scipy.sparse as sp

import nnmf


def scipy_nnls(A, B):
    return np.column_stack([scipy.optimize.nnls(A, B[:, j])[0] for j in range(B.shape[1])])


@pytest.mark.parametrize("n, k, m", [(30, 5, 40), (60, 20, 25), (12, 12, 10), (8, 1, 5)])
def test_nnls_matches_scipy(rng, n, k, m):
    A = rng.random((n, k))
    B = rng.random((n, m))
    X = nnmf.nnls(A, B, n_threads=2)
    assert X.shape == (k, m)
    ref = scipy_nnls(A, B)
    np.testing.assert_allclose(X, ref, rtol=1e-8, atol=1e-10)
    assert X.min() >= 0


def test_nnls_with_many_active_constraints(rng):
    # B drawn from a sparse nonnegative code plus noise: many zeros in the solution.
    A = rng.random((50, 15))
    C = rng.random((15, 30)) * (rng.random((15, 30)) < 0.3)
    B = A @ C + 0.01 * rng.random((50, 30))
    np.testing.assert_allclose(nnmf.nnls(A, B), scipy_nnls(A, B), rtol=1e-8, atol=1e-10)


def test_nnls_vector_sparse_and_float32(rng):
    A = rng.random((40, 6))
    b = rng.random(40)
    x = nnmf.nnls(A, b)
    assert x.shape == (6,)
    np.testing.assert_allclose(x, scipy.optimize.nnls(A, b)[0], rtol=1e-8, atol=1e-10)
    B = sp.random(40, 25, density=0.2, random_state=1, format="csc")
    np.testing.assert_allclose(nnmf.nnls(A, B), scipy_nnls(A, B.toarray()), rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(nnmf.nnls(A, B.tocsr()), nnmf.nnls(A, B), rtol=1e-12)
    X32 = nnmf.nnls(A.astype(np.float32), B.toarray().astype(np.float32))
    assert X32.dtype == np.float32
    np.testing.assert_allclose(X32, scipy_nnls(A, B.toarray()), rtol=1e-3, atol=1e-4)
    X, support = nnmf.nnls(A, B, return_support=True)
    assert support.dtype == bool and np.array_equal(support, X > 0)


def test_nnls_bad_input():
    with pytest.raises(ValueError, match="rows"):
        nnmf.nnls(np.ones((5, 2)), np.ones((6, 3)))
    with pytest.raises(ValueError, match="NaN"):
        nnmf.nnls(np.ones((5, 2)), np.full((5, 3), np.nan))
    with pytest.raises(ValueError, match="negative"):
        nnmf.nnls(-np.ones((5, 2)), np.ones((5, 3)))
    with pytest.raises(ValueError):  # k > n: the core's check, message from C++
        nnmf.nnls(np.ones((2, 5)), np.ones((2, 3)))


def loss_and_grad(A, B, G):
    """L = <G, nnls(A, B)> and its gradients by nnls_backward."""
    X, support = nnmf.nnls(A, B, return_support=True)
    dA, dB = nnmf.nnls_backward(A, B, X, G, support=support)
    return float(np.sum(G * X)), dA, dB


@pytest.mark.parametrize("sparse", [False, True])
def test_nnls_backward_matches_finite_differences(rng, sparse):
    n, k, m = 20, 6, 8
    A = rng.random((n, k)) + 0.1
    C = rng.random((k, m)) * (rng.random((k, m)) < 0.6)
    B = A @ C + 0.05 * rng.random((n, m))
    G = rng.standard_normal((k, m))
    Bx = sp.csc_matrix(B) if sparse else B
    _, dA, dB = loss_and_grad(A, Bx, G)
    h = 1e-6

    def L(A_, B_):
        return float(np.sum(G * nnmf.nnls(A_, B_)))

    for (i, j) in [(0, 0), (3, 2), (n - 1, k - 1), (7, 4)]:
        Ap, Am = A.copy(), A.copy()
        Ap[i, j] += h
        Am[i, j] -= h
        fd = (L(Ap, B) - L(Am, B)) / (2 * h)
        assert dA[i, j] == pytest.approx(fd, rel=1e-5, abs=1e-7)
    for (i, j) in [(0, 0), (5, 3), (n - 1, m - 1)]:
        Bp, Bm = B.copy(), B.copy()
        Bp[i, j] += h
        Bm[i, j] -= h
        fd = (L(A, Bp) - L(A, Bm)) / (2 * h)
        assert dB[i, j] == pytest.approx(fd, rel=1e-5, abs=1e-7)


def test_nnls_backward_shapes_and_errors(rng):
    A = rng.random((10, 3))
    b = rng.random(10)
    x = nnmf.nnls(A, b)
    dA, db = nnmf.nnls_backward(A, b, x, np.ones(3))
    assert dA.shape == (10, 3) and db.shape == (10,)
    dA2, none = nnmf.nnls_backward(A, b, x, np.ones(3), compute_grad_B=False)
    assert none is None
    np.testing.assert_allclose(dA2, dA)
    with pytest.raises(ValueError, match="grad_X has shape"):
        nnmf.nnls_backward(A, b, x, np.ones(4))
    with pytest.raises(ValueError, match="NaN"):
        nnmf.nnls_backward(A, b, x, np.full(3, np.nan))
