"""Input layouts and dtypes: every layout gives the same model as the C-ordered float64 array,
float32 stays float32, and layouts nnmf cannot take are rejected with a clear error."""
import numpy as np
import pytest
import scipy.sparse as sp

import nnmf


def small_fit(X, **kw):
    est = nnmf.NeuralNMF(ranks=(9, 4), random_state=1, max_iter=30, n_threads=2, **kw)
    return est.fit(X)


@pytest.fixture(scope="module")
def reference(synthetic):
    X = synthetic["X"]
    est = small_fit(X)
    return X, est


def assert_same_model(a, b, rtol=1e-10):
    assert len(a.factors_) == len(b.factors_)
    for fa, fb in zip(a.factors_, b.factors_):
        np.testing.assert_allclose(fa, fb, rtol=rtol, atol=rtol * np.abs(fa).max())


def test_dense_and_sparse_give_the_same_model(reference):
    X, ref = reference
    est = small_fit(sp.csr_matrix(X))
    assert_same_model(ref, est)
    # Models equal to 1e-10 give S equal to about 1e-8 (the NNLS of a 9-topic layer amplifies
    # the rounding apart of the dense and the sparse products by its condition number).
    np.testing.assert_allclose(est.transform(sp.csr_matrix(X)), ref.transform(X), rtol=1e-7, atol=1e-12)


@pytest.mark.parametrize("layout", ["C", "F", "csr", "csc", "coo", "lil", "rows_view", "cols_view",
                                    "strided", "list", "object", "csr_unsorted"])
def test_every_layout_is_accepted(reference, layout):
    X, ref = reference
    if layout == "C":
        Y = np.ascontiguousarray(X)
    elif layout == "F":
        Y = np.asfortranarray(X)
    elif layout in ("csr", "csc", "coo", "lil"):
        Y = getattr(sp, f"{layout}_matrix")(X)
    elif layout == "rows_view":  # every sample of a larger array: rows 0..n of a bigger buffer
        big = np.vstack([X, X])
        Y = big[: X.shape[0]]
        assert not Y.base is None
    elif layout == "cols_view":  # a column slice: X.T is still column-major with a larger ld
        big = np.hstack([X, X])
        Y = big[:, : X.shape[1]]
        assert not Y.flags.c_contiguous
    elif layout == "strided":  # every other element: needs the one copy
        big = np.repeat(X, 2, axis=1)
        Y = big[:, ::2]
    elif layout == "list":
        Y = X.tolist()
    elif layout == "object":
        Y = X.astype(object)
    elif layout == "csr_unsorted":  # non-canonical CSR: unsorted indices, split duplicates
        C = sp.coo_matrix(X)
        half = C.data / 2
        Y = sp.csr_matrix((np.concatenate([half, half])[::-1],
                           (np.concatenate([C.row, C.row])[::-1], np.concatenate([C.col, C.col])[::-1])),
                          shape=X.shape)
        Y.has_canonical_format = False
    est = small_fit(Y)
    assert_same_model(ref, est)
    np.testing.assert_allclose(ref.transform(Y), ref.transform(X), rtol=1e-9, atol=1e-12)


def test_integer_input_becomes_float64(rng):
    X = rng.integers(0, 5, size=(40, 12))
    est = nnmf.NMF(n_components=3, random_state=0, n_threads=2).fit(X)
    assert est.transform(X).dtype == np.float64
    np.testing.assert_allclose(est.transform(X), est.transform(X.astype(np.float64)))


@pytest.mark.parametrize("sparse", [False, True])
def test_float32_is_kept(synthetic, sparse):
    X = synthetic["X"].astype(np.float32)
    Y = sp.csr_matrix(X) if sparse else X
    est = nnmf.NeuralNMF(ranks=(9, 4), random_state=0, max_iter=20, n_threads=2).fit(Y)
    assert all(f.dtype == np.float32 for f in est.factors_)
    assert est.transform(Y).dtype == np.float32
    assert est.components_[0].dtype == np.float32
    # float64 data given to a float32 model is cast to the model's dtype
    assert est.transform(synthetic["X"]).dtype == np.float32
    est64 = nnmf.NeuralNMF(ranks=(9, 4), random_state=0, max_iter=20, n_threads=2).fit(synthetic["X"])
    np.testing.assert_allclose(est.relative_errors_, est64.relative_errors_, rtol=2e-2)
    for F in (nnmf.NMF(n_components=4, random_state=0), nnmf.HierarchicalNMF(ranks=(9, 4), random_state=0),
              nnmf.DeepNMF(ranks=(9, 4), random_state=0, backward_max_iter=10)):
        assert F.fit(Y).transform(Y).dtype == np.float32


def test_transform_output_is_a_view_in_samples_by_rank(reference):
    X, ref = reference
    W = ref.transform(X)
    assert W.shape == (X.shape[0], 4)
    assert ref.transform(X, layer=0).shape == (X.shape[0], 9)
    assert [w.shape[1] for w in ref.transform_all(X)] == [9, 4]


@pytest.mark.parametrize("bad, exc, match", [
    (np.zeros((3, 4, 5)), ValueError, "2-D"),
    (np.ones(10), ValueError, "2-D"),
    (np.array([["a", "b"], ["c", "d"]]), ValueError, "dtype"),
    (np.ones((10, 10), dtype=complex), ValueError, "Complex"),
    ("some text", TypeError, "array-like"),
    (None, TypeError, "array-like"),
])
def test_unusable_layouts_are_rejected_clearly(bad, exc, match):
    with pytest.raises(exc, match=match):
        nnmf.NeuralNMF(ranks=(2, 1)).fit(bad)


def test_object_array_with_non_numbers_is_a_type_error(synthetic):
    X = synthetic["X"].astype(object)
    X[0, 0] = {"foo": "bar"}
    with pytest.raises(TypeError):
        nnmf.NeuralNMF(ranks=(2, 1)).fit(X)


def test_binding_rejects_a_layout_it_was_not_promised():
    # The compiled module takes only column-major buffers; the Python layer converts. A
    # direct call with a row-major buffer is an error, not a silent transposition.
    with pytest.raises(ValueError, match="column-major|contiguous"):
        nnmf._nnmf.Model64.fit(np.ones((5, 6)), {"ranks": [2]})
    with pytest.raises(TypeError, match="dtype"):
        nnmf._nnmf.Model64.fit(np.ones((6, 5), dtype=np.float32, order="F"), {"ranks": [2]})


def test_dense_layouts_reach_the_core_without_a_copy(rng):
    from nnmf._validation import to_core
    X = rng.random((40, 30))
    for view in (X, X[5:25], X[:, 3:20], X[::2]):  # C-ordered, row/column slices, every other row
        assert np.shares_memory(to_core(view), X), view.strides
    assert not np.shares_memory(to_core(np.asfortranarray(X)), X)  # one transposing copy
    csr = sp.csr_matrix(X)
    f, n, indptr, indices, data = to_core(csr)
    assert (f, n) == (30, 40) and indptr is csr.indptr and data is csr.data  # CSR = CSC of X.T
