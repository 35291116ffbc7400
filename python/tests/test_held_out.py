"""Held-out entries (masked cross-validation): NeuralNMF.fit(X, held_out=H) and
held_out_fraction give the model and held-out errors of `nnmf fit --holdout` /
`--holdout-fraction`, never read a held-out value, and refuse bad sets with the sizes. The
baselines (NMF, HierarchicalNMF, DeepNMF) give the factors and report (rel_error,
held_out_error) of `nnmf fit --method nmf|hnmf|deep`, with and without held-out entries."""
import json
import os
import subprocess

import numpy as np
import pytest
import scipy.io
import scipy.sparse as sp

import nnmf

CLI = os.environ.get("NNMF_CLI")
needs_cli = pytest.mark.skipif(not CLI or not os.path.exists(CLI),
                               reason="NNMF_CLI does not name the nnmf binary (set by ctest)")

SETTINGS = dict(ranks=(8, 3), max_iter=3, random_state=5, n_threads=2)
CLI_SETTINGS = ["--ranks", "8,3", "--epochs", "3", "--seed", "5", "--threads", "2", "--quiet"]


def run_cli(*args):
    r = subprocess.run([CLI, *args], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    return r


def cli_fit(X_path, out, *extra):
    run_cli("fit", X_path, *CLI_SETTINGS, *extra, "-o", str(out))
    report = json.loads((out / "report.json").read_text())
    return nnmf.NeuralNMF.load(out / "model.nnmf"), report


def assert_same_fit(est, cli_model, report):
    """The factors and held-out errors of the CLI's fit (none without a held-out set)."""
    assert len(est.factors_) == len(cli_model.factors_)
    for a, b in zip(est.factors_, cli_model.factors_):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)
    if "held_out_error" not in report["layers"][0]:
        assert est.held_out_error_ is None
        return
    errs = [layer["held_out_error"] for layer in report["layers"]]
    np.testing.assert_allclose(est.held_out_error_, errs, rtol=1e-10)


def pattern(H):
    """The set of (row, col) pairs of a sparse pattern or mask."""
    r, c = sp.coo_matrix(H).nonzero()
    return set(zip(r.tolist(), c.tolist()))


@needs_cli
def test_held_out_fraction_matches_the_cli(news, tmp_path):
    cli_model, report = cli_fit(os.path.join(news["dir"], "X.mtx"), tmp_path / "out",
                                "--holdout-fraction", "0.1", "--holdout-out", str(tmp_path / "H.mtx"))
    est = nnmf.NeuralNMF(held_out_fraction=0.1, **SETTINGS).fit(news["X"])
    H_cli = scipy.io.mmread(str(tmp_path / "H.mtx")).T  # the CLI's features x documents
    assert pattern(est.held_out_) == pattern(H_cli)
    assert est.held_out_.shape == news["X"].shape and est.held_out_.dtype == bool
    assert_same_fit(est, cli_model, report)
    assert len(est.held_out_error_) == 2 and all(0 < e < 2 for e in est.held_out_error_)
    assert est.held_out_error(news["X"], est.held_out_) == pytest.approx(est.held_out_error_, rel=1e-12)
    # The training error on the observed entries, as the CLI reports it; and the residual's norm.
    np.testing.assert_allclose(est.relative_errors_, [layer["rel_error"] for layer in report["layers"]], rtol=1e-9)
    kept = news["X"] - news["X"].multiply(est.held_out_)
    assert est.reconstruction_err_ == pytest.approx(est.relative_errors_[-1] * np.sqrt(kept.multiply(kept).sum()), rel=1e-12)


@needs_cli
@pytest.mark.parametrize("form", ["sparse", "mask"])
def test_held_out_set_from_python_matches_the_cli(synthetic, tmp_path, rng, form):
    X = synthetic["X"]
    mask = rng.random(X.shape) < 0.1
    mmpath = str(tmp_path / "H.mtx")
    scipy.io.mmwrite(mmpath, sp.coo_matrix(mask.T.astype(np.float64)))
    cli_model, report = cli_fit(os.path.join(synthetic["dir"], "X.mtx"), tmp_path / "out",
                                "--holdout", mmpath)
    H = sp.csr_matrix(mask) if form == "sparse" else mask
    est = nnmf.NeuralNMF(**SETTINGS).fit(X, held_out=H)
    assert pattern(est.held_out_) == pattern(mask)
    assert_same_fit(est, cli_model, report)


def with_held_out_values(X, mask, value):
    """X with every held-out entry (mask True) set to value, in X's storage."""
    if sp.issparse(X):
        Y = X.tolil(copy=True)
        r, c = np.nonzero(mask)
        Y[r, c] = value
        return Y.tocsr()
    Y = X.copy()
    Y[mask] = value
    return Y


@pytest.mark.parametrize("data", ["synthetic", "news"])
def test_training_never_reads_held_out_values(request, data):
    X = request.getfixturevalue(data)["X"]
    if data == "news":
        X = X[:, :3000]  # sparse, and small enough to fit twice quickly
    est = nnmf.NeuralNMF(held_out_fraction=0.05, **SETTINGS).fit(X)
    mask = est.held_out_.toarray()
    assert mask.any() and not mask.all()
    Y = with_held_out_values(X, mask, 1e12)
    other = nnmf.NeuralNMF(**SETTINGS).fit(Y, held_out=est.held_out_)
    for a, b in zip(est.factors_, other.factors_):
        np.testing.assert_array_equal(a, b)
    assert other.held_out_error_[0] > 0.99  # scored against the new values
    if data == "synthetic":  # without the set, the same change does reach the model
        plain = nnmf.NeuralNMF(**SETTINGS).fit(Y)
        assert not np.allclose(plain.factors_[0], est.factors_[0])


def test_fit_without_held_out_clears_the_attributes(synthetic):
    est = nnmf.NeuralNMF(held_out_fraction=0.1, **SETTINGS).fit(synthetic["X"])
    assert est.held_out_error_ is not None
    est.set_params(held_out_fraction=None).fit(synthetic["X"])
    assert est.held_out_ is None and est.held_out_error_ is None


def test_held_out_fraction_is_seeded(synthetic):
    a = nnmf.NeuralNMF(held_out_fraction=0.2, **SETTINGS).fit(synthetic["X"]).held_out_
    b = nnmf.NeuralNMF(held_out_fraction=0.2, **SETTINGS).fit(synthetic["X"]).held_out_
    c = nnmf.NeuralNMF(held_out_fraction=0.2, **{**SETTINGS, "random_state": 6}).fit(synthetic["X"]).held_out_
    assert pattern(a) == pattern(b) != pattern(c)


def test_bad_held_out_sets_raise_value_errors(synthetic):
    X = synthetic["X"]  # (90, 87)
    est = nnmf.NeuralNMF(**SETTINGS)
    with pytest.raises(ValueError, match=r"held_out has shape \(87, 90\) but X has shape \(90, 87\)"):
        est.fit(X, held_out=sp.csr_matrix(np.ones((87, 90))))
    with pytest.raises(ValueError, match=r"held_out has shape \(90, 86\) but X has shape \(90, 87\)"):
        est.fit(X, held_out=np.zeros((90, 86), dtype=bool))
    with pytest.raises(ValueError, match="held_out must be a 2-D mask"):
        est.fit(X, held_out=np.zeros(90 * 87, dtype=bool))
    with pytest.raises(ValueError, match="boolean mask .* got dtype float64"):
        est.fit(X, held_out=np.full(X.shape, 0.5))
    with pytest.raises(ValueError, match="held_out holds no entry"):
        est.fit(X, held_out=sp.csr_matrix(X.shape))
    X0 = X.copy()
    X0[3, 4] = 0
    zero = np.zeros(X.shape, dtype=bool)
    zero[3, 4] = True
    with pytest.raises(ValueError, match=r"X is 0 on every held-out entry \(1 entries\)"):
        est.fit(X0, held_out=zero)
    assert not hasattr(est, "_model")  # a refused fit leaves the estimator unfitted


@pytest.mark.parametrize("frac", [0, 1, 1.5, -0.1, "0.1"])
def test_bad_held_out_fraction_raises(synthetic, frac):
    with pytest.raises(ValueError, match="held_out_fraction must lie in \\(0, 1\\)"):
        nnmf.NeuralNMF(held_out_fraction=frac, **SETTINGS).fit(synthetic["X"])


def test_held_out_and_fraction_together_raise(synthetic):
    mask = np.zeros(synthetic["X"].shape, dtype=bool)
    mask[0, :5] = True
    with pytest.raises(ValueError, match="held_out and held_out_fraction=0.1: give one"):
        nnmf.NeuralNMF(held_out_fraction=0.1, **SETTINGS).fit(synthetic["X"], held_out=mask)


def test_held_out_error_method_checks_its_arguments(synthetic):
    X = synthetic["X"]
    est = nnmf.NeuralNMF(**SETTINGS).fit(X)
    with pytest.raises(ValueError, match=r"held_out_error: held_out has shape \(2, 2\)"):
        est.held_out_error(X, np.ones((2, 2), dtype=bool))
    mask = X > 0
    errs = est.held_out_error(X, mask)
    assert len(errs) == 2 and all(np.isfinite(errs))


# ---- the baselines: NMF (HALS; masked multiplicative updates with held-out entries),
# HierarchicalNMF, DeepNMF (also with pooling) ----

BASELINES = {
    # estimator and its settings, and the same fit from the CLI (NMF: the CLI's HALS; with
    # held-out entries both fit by masked multiplicative updates whatever the solver)
    "nmf": (lambda **kw: nnmf.NMF(n_components=8, solver="hals", max_iter=30, **kw),
            ["--method", "nmf", "--ranks", "8", "--epochs", "30"]),
    "hnmf": (lambda **kw: nnmf.HierarchicalNMF(ranks=(8, 3), max_iter=30, **kw),
             ["--method", "hnmf", "--ranks", "8,3", "--epochs", "30"]),
    "deep": (lambda **kw: nnmf.DeepNMF(ranks=(8, 3), backward_max_iter=30, **kw),
             ["--method", "deep", "--ranks", "8,3", "--epochs", "30"]),
    "deep-pool": (lambda **kw: nnmf.DeepNMF(ranks=(8, 3), pool=2, backward_max_iter=30, **kw),
                  ["--method", "deep", "--ranks", "8,3", "--epochs", "30", "--set", "pool=2"]),
}


@needs_cli
@pytest.mark.parametrize("held_out", [False, True], ids=["all-entries", "held-out"])
@pytest.mark.parametrize("data", ["news", "synthetic", "synthetic-float32"])
@pytest.mark.parametrize("method", sorted(BASELINES))
def test_baseline_matches_the_cli(request, tmp_path, method, data, held_out):
    """A baseline's factors and report as `nnmf fit --method ...` (sparse and dense X, both
    precisions): its relative_errors_ is the CLI's rel_error, from the coefficients S the
    method fitted (not a new forward pass; on the observed entries with a held-out set), and
    reconstruction_err_ that error times the norm of X (without the held-out entries)."""
    make, cli_args = BASELINES[method]
    d = request.getfixturevalue(data.split("-")[0])
    X = d["X"].astype(np.float32) if data.endswith("float32") else d["X"]
    precision = ["--precision", "float"] if data.endswith("float32") else []
    out = tmp_path / "out"
    holdout = ["--holdout-fraction", "0.1", "--holdout-out", str(tmp_path / "H.mtx")] if held_out else []
    run_cli("fit", os.path.join(d["dir"], "X.mtx"), *cli_args, *precision, "--seed", "5", "--threads", "2",
            "--quiet", *holdout, "-o", str(out))
    report = json.loads((out / "report.json").read_text())
    cli_model = nnmf.NeuralNMF.load(out / "model.nnmf")
    est = make(held_out_fraction=0.1 if held_out else None, random_state=5, n_threads=2).fit(X)
    assert est.factors_[0].dtype == X.dtype
    assert_same_fit(est, cli_model, report)
    np.testing.assert_allclose(est.relative_errors_, [layer["rel_error"] for layer in report["layers"]],
                               rtol=1e-10)
    if held_out:
        assert pattern(est.held_out_) == pattern(scipy.io.mmread(str(tmp_path / "H.mtx")).T)
        assert all(0 < e < 2 for e in est.held_out_error_)
        X = X - X.multiply(est.held_out_) if sp.issparse(X) else np.where(est.held_out_.toarray(), 0, X)
    norm = np.sqrt(X.multiply(X).sum()) if sp.issparse(X) else np.linalg.norm(X.astype(np.float64))
    assert est.reconstruction_err_ == pytest.approx(est.relative_errors_[-1] * norm, rel=1e-12)


@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_error_bindings_score_given_coefficients(synthetic, rng, sparse, dtype):
    """The bindings of nnmf::relative_errors / observed_errors (what the baselines' relative_errors_
    come from) against NumPy, on coefficients that are no forward pass."""
    from nnmf import _nnmf
    from nnmf._validation import check_held_out, to_core
    suffix = "32" if dtype == np.float32 else "64"
    X = synthetic["X"].astype(dtype)  # (90 samples, 87 features); the core's is X.T
    A = [np.asfortranarray(rng.random(shape), dtype=dtype) for shape in ((87, 6), (6, 3))]
    S = [np.asfortranarray(rng.random(shape), dtype=dtype) for shape in ((6, 90), (3, 90))]
    Xc = to_core(sp.csr_matrix(X) if sparse else X)
    R = [X.T - A[0] @ S[0], X.T - A[0] @ A[1] @ S[1]]
    got = getattr(_nnmf, "relative_errors" + suffix)(Xc, A, S, n_threads=2)
    want = [np.linalg.norm(r.astype(np.float64)) / np.linalg.norm(X.astype(np.float64)) for r in R]
    np.testing.assert_allclose(got, want, rtol=1e-5 if dtype == np.float32 else 1e-10)
    mask = rng.random(X.shape) < 0.2
    H = check_held_out(mask, X.shape, "test")
    got = getattr(_nnmf, "observed_errors" + suffix)(Xc, A, S, H, n_threads=2)
    keep = ~mask.T
    want = [np.linalg.norm(r[keep].astype(np.float64)) / np.linalg.norm(X.T[keep].astype(np.float64)) for r in R]
    np.testing.assert_allclose(got, want, rtol=1e-5 if dtype == np.float32 else 1e-10)
    with pytest.raises(ValueError, match="S1 is 6 x 90, expected 3 x 90"):
        getattr(_nnmf, "relative_errors" + suffix)(Xc, A, [S[0], S[0]])
    with pytest.raises(ValueError, match="held_out is 3 x 3 but X is 87 x 90"):
        getattr(_nnmf, "observed_errors" + suffix)(Xc, A, S, (3, 3, np.zeros(4, np.int64), np.zeros(0, np.int64)))


@pytest.mark.parametrize("method", sorted(BASELINES))
def test_baselines_never_read_held_out_values(synthetic, method):
    make, _ = BASELINES[method]
    X = synthetic["X"]
    est = make(held_out_fraction=0.1, random_state=3).fit(X)
    mask = est.held_out_.toarray()
    assert mask.any() and not mask.all()
    other = make(random_state=3).fit(with_held_out_values(X, mask, 1e12), held_out=est.held_out_)
    for a, b in zip(est.factors_, other.factors_):
        np.testing.assert_array_equal(a, b)
    assert other.held_out_error_[0] > 0.99  # scored against the new values
    plain = make(random_state=3).fit(X)
    assert plain.held_out_ is None and plain.held_out_error_ is None
    with pytest.raises(ValueError, match=r"held_out has shape \(87, 90\) but X has shape \(90, 87\)"):
        make(random_state=3).fit(X, held_out=np.ones((87, 90), dtype=bool))
