"""Input checks and conversion to the core's layout.

scikit-learn's orientation is X of shape (n_samples, n_features); the core's is features x
samples, column-major. The two are the same buffer: a C-ordered X is passed as X.T without a
copy, and a CSR X is the CSC matrix of X.T (same arrays). Other layouts are converted once
here: Fortran-ordered and strided arrays are copied (contiguous row and column slices of a
C-ordered array are not), CSC/COO/other sparse formats become CSR. float32 and float64 are
kept; other numeric dtypes become float64.
"""

import numbers

import numpy as np

try:
    import scipy.sparse as _sp
except ImportError:  # SciPy is optional for dense-only use
    _sp = None

FLOAT_DTYPES = (np.float64, np.float32)


def issparse(X):
    return _sp is not None and _sp.issparse(X)


def _float_dtype(dtype, want=None):
    if want is not None:
        return np.dtype(want)
    return np.dtype(dtype) if np.dtype(dtype) in FLOAT_DTYPES else np.dtype(np.float64)


def check_array(X, who, dtype=None, name="X", nonnegative=True, allow_1d=False):
    """X as a 2-D float32/float64 ndarray or canonical CSR matrix, checked for NaN, infinities
    and (by default) negative entries, with messages in the caller's orientation."""
    if issparse(X):
        X = X.tocsr()
        target = _float_dtype(X.dtype, dtype)
        if X.dtype != target:
            X = X.astype(target)
        if not X.has_canonical_format:  # the core wants sorted, unique indices per row
            X = X.copy()
            X.sum_duplicates()
        _check_values(X.data, who, name, nonnegative, sparse=X)
        return X
    if isinstance(X, (str, bytes)) or X is None:
        raise TypeError(f"{who}: {name} must be an array-like or a SciPy sparse matrix, "
                        f"got {type(X).__name__}")
    try:
        arr = np.asarray(X)
    except (ValueError, TypeError) as e:
        raise ValueError(f"{who}: {name} could not be converted to an array: {e}") from None
    if arr.dtype.kind in "USV":
        raise ValueError(f"{who}: {name} has dtype {arr.dtype}; expected numbers "
                         f"(vectorize text first, e.g. with TfidfVectorizer)")
    if arr.dtype.kind == "c":
        raise ValueError(f"{who}: Complex data not supported ({name} has dtype {arr.dtype})")
    if arr.dtype.kind == "O":
        arr = arr.astype(np.float64)  # raises TypeError/ValueError on non-numbers
    if arr.ndim == 1 and allow_1d:
        pass
    elif arr.ndim != 2:
        hint = (". Reshape your data either using X.reshape(-1, 1) if it has a single feature or "
                "X.reshape(1, -1) if it is a single sample") if arr.ndim == 1 else ""
        raise ValueError(f"{who}: expected a 2-D {name}, got {arr.ndim}-D with shape "
                         f"{arr.shape}{hint}")
    if arr.ndim == 2 and min(arr.shape) == 0:  # scikit-learn's wording, which its checks expect
        what = "sample" if arr.shape[0] == 0 else "feature"
        raise ValueError(f"{who}: Found array with 0 {what}(s) (shape={arr.shape}) while a "
                         f"minimum of 1 is required.")
    target = _float_dtype(arr.dtype, dtype)
    if arr.dtype != target:
        arr = arr.astype(target)
    _check_values(arr, who, name, nonnegative)
    return arr


def _check_values(values, who, name, nonnegative, sparse=None):
    if values.size == 0:
        return
    finite = np.isfinite(values)
    bad = ~finite
    if nonnegative:
        bad |= values < 0
    if not bad.any():
        return
    flat = int(np.flatnonzero(bad.ravel())[0])
    v = values.ravel()[flat]
    what = "NaN" if np.isnan(v) else ("an infinite entry" if np.isinf(v) else f"a negative entry ({v})")
    if sparse is not None:
        row = int(np.searchsorted(sparse.indptr, flat, side="right") - 1)
        where = (row, int(sparse.indices[flat]))
    else:
        where = np.unravel_index(flat, values.shape)
    pos = ", ".join(str(int(i)) for i in where)
    need = "finite and nonnegative" if nonnegative else "finite"
    raise ValueError(f"{who}: {name} contains {what} at [{pos}]; entries must be {need}")


def to_core(X):
    """The object the compiled module takes for a checked X: a features x samples column-major
    array (X.T, copied only when X.T is not column-major) or the CSC arrays of X.T."""
    if issparse(X):
        n, f = X.shape
        return (f, n, X.indptr, X.indices, X.data)
    Xt = X.T
    item = Xt.itemsize
    rows, cols = Xt.shape
    s0, s1 = Xt.strides
    ok = (rows <= 1 or s0 == item) and (cols <= 1 or (s1 > 0 and s1 % item == 0 and s1 >= rows * item))
    return Xt if ok else np.asfortranarray(Xt)


def core_array(A, dtype):
    """A matrix already in the core's orientation (nnls' A and B), column-major, of dtype."""
    A = np.asarray(A, dtype=dtype)
    return A if A.flags.f_contiguous else np.asfortranarray(A)


def check_labels(y, n_samples, who):
    """Encodes y for the core. Returns (codes, known mask, classes); -1 (or None / NaN in an
    object array) marks an unknown label, as in scikit-learn's semi-supervised estimators."""
    y = np.asarray(y)
    if y.ndim != 1:
        if y.ndim == 2 and y.shape[1] == 1:
            y = y.ravel()
        else:
            raise ValueError(f"{who}: y must be 1-D (one label per sample), got shape {y.shape}")
    if y.shape[0] != n_samples:
        raise ValueError(f"{who}: y has {y.shape[0]} labels but X has {n_samples} samples")
    if y.dtype.kind == "f":
        if not np.all(np.isfinite(y)) or np.any(y != np.round(y)):
            raise ValueError(f"{who}: y holds non-integer floats; expected class labels "
                             f"(-1 for unknown)")
        y = y.astype(np.int64)
    if y.dtype.kind in "iu":
        known = y != -1
    else:
        known = np.array([not (v is None or (isinstance(v, numbers.Real) and v == -1)) for v in y.tolist()])
    if not known.any():
        raise ValueError(f"{who}: y has no known label (every entry is -1)")
    classes, codes = np.unique(y[known], return_inverse=True)
    full = np.zeros(n_samples, dtype=np.int64)
    full[known] = codes
    return full, known.astype(np.uint8), classes


def check_held_out(H, shape, who):
    """The held-out set H of an X of ``shape`` (n_samples, n_features) as the core's CSC pattern
    (rows, cols, col_ptr, row_idx) of X.T, i.e. the CSR arrays of H. H is a SciPy sparse matrix
    (its nonzero entries are held out) or a boolean (or 0/1) array of X's shape (True = held
    out, as in numpy.ma)."""
    if issparse(H):
        indptr, indices = _sparse_pattern(H, shape, who)
    else:
        indptr, indices = _mask_pattern(H, shape, who)
    if indices.size == 0:
        raise ValueError(f"{who}: held_out holds no entry (shape {tuple(shape)}); mark at least "
                         f"one entry of X to hold out")
    return (shape[1], shape[0], indptr.astype(np.int64), indices.astype(np.int64))


def _check_held_out_shape(got, shape, who):
    if tuple(got) != tuple(shape):
        raise ValueError(f"{who}: held_out has shape {tuple(got)} but X has shape {tuple(shape)}; "
                         f"give one entry per entry of X (n_samples, n_features)")


def _sparse_pattern(H, shape, who):
    _check_held_out_shape(H.shape, shape, who)
    H = _sp.csr_matrix(H, copy=True)
    H.eliminate_zeros()  # explicit zeros (False) are not held out
    H.sum_duplicates()  # also sorts the indices of each row
    return H.indptr, H.indices


def _mask_pattern(H, shape, who):
    try:
        arr = np.asarray(H)
    except (ValueError, TypeError) as e:
        raise ValueError(f"{who}: held_out could not be converted to an array: {e}") from None
    if arr.ndim != 2:
        raise ValueError(f"{who}: held_out must be a 2-D mask or a sparse matrix, got "
                         f"{arr.ndim}-D with shape {arr.shape}")
    _check_held_out_shape(arr.shape, shape, who)
    if arr.dtype.kind != "b":
        if arr.dtype.kind not in "iuf" or not np.all((arr == 0) | (arr == 1)):
            raise ValueError(f"{who}: held_out as an array must be a boolean mask (True = held "
                             f"out) or hold only 0 and 1, got dtype {arr.dtype}")
        arr = arr != 0
    indptr = np.concatenate(([0], np.cumsum(arr.sum(axis=1))))
    return indptr, np.nonzero(arr)[1]


def held_out_to_user(core, shape):
    """The core's held-out pattern as a boolean CSR matrix of ``shape`` (a dense boolean mask
    without SciPy)."""
    _, _, indptr, indices = core
    if _sp is not None:
        return _sp.csr_matrix((np.ones(indices.size, dtype=bool), indices, indptr), shape=shape)
    mask = np.zeros(shape, dtype=bool)
    mask[np.repeat(np.arange(shape[0]), np.diff(indptr)), indices] = True
    return mask
