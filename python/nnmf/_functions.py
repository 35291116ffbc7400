"""Batched NNLS and its gradient, in scipy.optimize.nnls' orientation: A x = b with A of shape
(n, k), every column of B (n, m) one problem, X of shape (k, m); and rank selection by
bi-cross-validation."""

import warnings

import numpy as np

from . import _nnmf
from ._validation import check_array, core_array, issparse, to_core


def _dtype(*arrays):
    dt = np.result_type(*[a.dtype for a in arrays])
    return np.float32 if dt == np.float32 else np.float64


def _operands(A, B, who):
    A = check_array(A, who, name="A")
    vector = not issparse(B) and np.ndim(B) == 1
    B = check_array(B, who, name="B", allow_1d=True)
    if vector:
        B = B.reshape(-1, 1)
    dt = _dtype(A, B)
    if A.shape[0] != B.shape[0]:
        raise ValueError(f"{who}: A has {A.shape[0]} rows but B has {B.shape[0]} "
                         f"(A is {A.shape}, B is {B.shape})")
    A = core_array(A, dt)
    if issparse(B):
        # A CSC B is the core's own layout (columns are the problems).
        B = B.tocsc().astype(dt, copy=False)
        if not B.has_canonical_format:
            B = B.copy()
            B.sum_duplicates()
        Bc = (B.shape[0], B.shape[1], B.indptr, B.indices, B.data)
    else:
        Bc = core_array(B, dt)
    return A, Bc, dt, vector


def nnls(A, B, *, tol=0.0, max_iter=0, return_support=False, n_threads=0, device="cpu"):
    """X = argmin_{X >= 0} ||A X - B||_F for every column of B at once.

    A (n, k) with k <= n and B (n, m) or (n,), dense or sparse (B only), nonnegative and
    finite. All columns share A^T A, so this is one call where scipy.optimize.nnls needs m.
    The result has B's shape in k: (k, m), or (k,) for a 1-D B; float32 inputs give float32.
    tol: relative optimality tolerance (0 = 1e-10 for float64, 1e-5 for float32); max_iter:
    active-set steps per column (0 = 3k + 30); columns that reach it are feasible but not
    optimal and raise a RuntimeWarning. return_support also returns the passive sets (k, m)
    bool, as nnls_backward takes them.
    """
    A, Bc, dt, vector = _operands(A, B, "nnls")
    fn = _nnmf.nnls32 if dt == np.float32 else _nnmf.nnls64
    S, support, status, _ = fn(A, Bc, tol=float(tol), max_iter=int(max_iter), device=device,
                               n_threads=int(n_threads))
    bad = int(np.count_nonzero(status == 1))
    if bad:
        warnings.warn(f"nnls: {bad} of {status.size} columns reached max_iter; they are feasible "
                      f"but not optimal", RuntimeWarning, stacklevel=2)
    support = support.astype(bool)
    if vector:
        S, support = S[:, 0], support[:, 0]
    return (S, support) if return_support else S


def nnls_backward(A, B, X, grad_X, *, support=None, compute_grad_B=True, n_threads=0, device="cpu"):
    """Gradients through X = nnls(A, B): given dL/dX, returns (dL/dA, dL/dB).

    Per column, z_T = G_TT^{-1} g_T on the support T of X (G = A^T A), and
    dL/dB = A Z, dL/dA = B Z^T - A (X Z^T + Z X^T) (Neural NMF paper, Theorems 2.3, 2.6).
    support: the passive sets from nnls(..., return_support=True); default X > 0.
    dL/dB is dense (n, m); compute_grad_B=False skips it (returns None there).
    """
    A, Bc, dt, vector = _operands(A, B, "nnls_backward")
    X = np.asarray(X, dtype=dt)
    grad_X = np.asarray(grad_X, dtype=dt)
    if vector:
        X, grad_X = X.reshape(-1, 1), grad_X.reshape(-1, 1)
    k, m = A.shape[1], (Bc[1] if isinstance(Bc, tuple) else Bc.shape[1])
    for name, M in (("X", X), ("grad_X", grad_X)):
        if M.shape != (k, m):
            raise ValueError(f"nnls_backward: {name} has shape {M.shape}, expected {(k, m)} "
                             f"(A is {A.shape}, B has {m} columns)")
    if not np.all(np.isfinite(grad_X)):
        raise ValueError("nnls_backward: grad_X contains NaN or infinite entries")
    if support is None:
        support = X > 0
    support = np.asarray(support)
    if vector and support.ndim == 1:
        support = support.reshape(-1, 1)
    fn = _nnmf.nnls_backward32 if dt == np.float32 else _nnmf.nnls_backward64
    dA, dB, _ = fn(A, Bc, np.asfortranarray(X), np.asfortranarray(support, dtype=np.uint8),
                   np.asfortranarray(grad_X), compute_dA=True, compute_dB=bool(compute_grad_B),
                   device=device, n_threads=int(n_threads))
    if vector and dB is not None:
        dB = dB[:, 0]
    return dA, dB


def select_rank(X, ranks, *, holdout=0.25, replicates=3, solver="hals", max_iter=200,
                random_state=None, device="cpu", n_threads=0):
    """Scores candidate NMF ranks by the error on held-out entries (bi-cross-validation, Owen &
    Perry 2009; include/nnmf/select_rank.hpp), like ``nnmf select-rank``. X: (n_samples,
    n_features), dense or sparse, nonnegative. Returns a dict: ``scores`` (per rank, in
    increasing order: rank, test_error and train_error per replicate, their means),
    ``best_rank`` (smallest mean held-out error) and ``one_se_rank`` (the smallest rank within
    one standard error of it)."""
    X = check_array(X, "select_rank", name="X")
    ranks = sorted({int(k) for k in np.atleast_1d(ranks)})
    from ._estimators import _seed  # scikit-learn's random_state convention
    opts = dict(ranks=ranks, holdout=float(holdout), replicates=int(replicates), seed=_seed(random_state),
                algorithm=solver, max_iter=int(max_iter))
    dt = np.float32 if X.dtype == np.float32 else np.float64
    fn = _nnmf.select_rank32 if dt == np.float32 else _nnmf.select_rank64
    return fn(to_core(X.astype(dt, copy=False)), opts, device=device, n_threads=int(n_threads))
