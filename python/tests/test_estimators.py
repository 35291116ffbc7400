"""The estimators' contract: fitted attributes, transform/inverse_transform, semi-supervised
fit and predict, pickling and the model file, topics and hierarchy, progress, Ctrl-C."""
import _thread
import logging
import pickle
import threading

import numpy as np
import pytest
import scipy.sparse as sp

import nnmf


@pytest.fixture(scope="module")
def fitted(synthetic):
    return nnmf.NeuralNMF(ranks=(9, 4, 2), random_state=0, n_threads=2).fit(synthetic["X"])


def test_fitted_attributes(fitted, synthetic):
    X = synthetic["X"]
    assert fitted.ranks_ == (9, 4, 2)
    assert fitted.n_features_in_ == X.shape[1]
    assert [c.shape for c in fitted.components_] == [(9, 87), (4, 87), (2, 87)]
    assert [a.shape for a in fitted.factors_] == [(87, 9), (9, 4), (4, 2)]
    assert fitted.n_iter_ == len(fitted.loss_curve_) > 0
    assert np.all(np.diff(fitted.loss_curve_) <= 1e-12 * fitted.loss_curve_[0])  # line search
    # the paper's Table 1 figures for this data (README): 0.024, 0.282, 0.468
    assert fitted.relative_errors_[0] < 0.03 and fitted.relative_errors_[2] < 0.5
    np.testing.assert_allclose(fitted.reconstruction_err_,
                               np.linalg.norm(X - fitted.inverse_transform(fitted.transform(X))),
                               rtol=1e-8)
    assert fitted.score(X) == pytest.approx(-fitted.relative_errors_[-1])


def test_transform_layers_and_inverse(fitted, synthetic):
    X = synthetic["X"]
    S = fitted.transform_all(X)
    for l, s in enumerate(S):
        np.testing.assert_allclose(fitted.transform(X, layer=l), s)
        rel = np.linalg.norm(X - fitted.inverse_transform(s, layer=l)) / np.linalg.norm(X)
        assert rel == pytest.approx(fitted.relative_errors_[l], rel=1e-8)
    np.testing.assert_allclose(fitted.transform(X, layer=-1), S[-1])
    with pytest.raises(ValueError, match="layer"):
        fitted.transform(X, layer=3)
    # the topics of layer l are those of layer l-1 combined by A(l)
    np.testing.assert_allclose(fitted.components_[1], fitted.factors_[1].T @ fitted.components_[0])


def test_fit_transform_is_fit_then_transform(synthetic):
    X = synthetic["X"]
    a = nnmf.NeuralNMF(ranks=(9, 4), random_state=3, max_iter=20, n_threads=2)
    b = nnmf.NeuralNMF(ranks=(9, 4), random_state=3, max_iter=20, n_threads=2)
    np.testing.assert_array_equal(a.fit_transform(X), b.fit(X).transform(X))


def test_semi_supervised_fit_and_predict(synthetic):
    X, y = synthetic["X"], synthetic["labels"][4]
    y_partial = np.where(synthetic["known"], y, -1)
    names = np.array(["w", "x", "y", "z"])
    est = nnmf.NeuralNMF(ranks=(9, 4), random_state=0, n_threads=2).fit(X, y_partial)
    assert list(est.classes_) == [0, 1, 2, 3]
    assert np.mean(est.predict(X) == y) == 1.0
    assert est.score(X, y) == 1.0
    # string labels: unknown marked by None in an object array
    ys = np.array([names[v] if k else None for v, k in zip(y, synthetic["known"])], dtype=object)
    est2 = nnmf.NeuralNMF(ranks=(9, 4), random_state=0, n_threads=2).fit(X, ys)
    assert list(est2.classes_) == list(names)
    assert np.mean(est2.predict(X) == names[y]) == 1.0
    ce = nnmf.NeuralNMF(ranks=(9, 4), supervision="ce", random_state=0, n_threads=2, max_iter=50)
    assert ce.fit(X, y_partial).score(X, y) > 0.9


def test_unsupervised_model_has_no_predict(fitted, synthetic):
    with pytest.raises(AttributeError, match="without labels"):
        fitted.predict(synthetic["X"])


def test_pickle_and_model_file(fitted, synthetic, tmp_path):
    X = synthetic["X"]
    clone = pickle.loads(pickle.dumps(fitted))
    np.testing.assert_array_equal(clone.transform(X), fitted.transform(X))
    assert clone.get_params() == fitted.get_params()
    fitted.save(tmp_path / "m.nnmf")
    loaded = nnmf.NeuralNMF.load(tmp_path / "m.nnmf", n_threads=2)
    np.testing.assert_array_equal(loaded.transform(X), fitted.transform(X))
    assert loaded.ranks == (9, 4, 2) and loaded.n_iter_ == fitted.n_iter_
    data = (tmp_path / "m.nnmf").read_bytes()
    (tmp_path / "bad.nnmf").write_bytes(data[:-10])
    with pytest.raises(OSError, match="bad.nnmf"):
        nnmf.NeuralNMF.load(tmp_path / "bad.nnmf")
    corrupt = bytearray(data)
    corrupt[len(corrupt) // 2] ^= 0xFF
    (tmp_path / "corrupt.nnmf").write_bytes(bytes(corrupt))
    with pytest.raises(OSError):
        nnmf.NeuralNMF.load(tmp_path / "corrupt.nnmf")


def test_float32_pickle(synthetic):
    est = nnmf.NMF(n_components=4, random_state=0).fit(synthetic["X"].astype(np.float32))
    back = pickle.loads(pickle.dumps(est))
    assert back.transform(synthetic["X"]).dtype == np.float32


def test_topics_and_hierarchy(news):
    X, vocab = news["X"], news["vocab"]
    est = nnmf.NeuralNMF(ranks=(10, 6), loss="energy", init="random", random_state=0, n_threads=2,
                         max_iter=5).fit(X)
    terms = est.top_terms(vocab, n=5)
    assert [len(t) for t in terms] == [10, 6] and all(len(w) == 5 for t in terms for w in t)
    assert all(isinstance(w, str) for w in terms[0][0])
    idx = est.top_terms(n=3, layer=0)
    assert [vocab[i] for i in idx[0]] == terms[0][0][:3]
    h = est.hierarchy()
    assert len(h) == 1 and len(h[0]) == 6
    for parents in h[0]:
        assert sum(s for _, s in parents) == pytest.approx(1.0)
        assert [s for _, s in parents] == sorted((s for _, s in parents), reverse=True)
    with pytest.raises(ValueError, match="vocabulary has 3 terms"):
        est.top_terms(["a", "b", "c"])


def test_plot_hierarchy_needs_matplotlib(fitted):
    try:
        import matplotlib
        matplotlib.use("Agg")
    except ImportError:
        with pytest.raises(ImportError, match="matplotlib"):
            fitted.plot_hierarchy()
        return
    assert fitted.plot_hierarchy(layer=2) is not None


def test_verbose_logs_and_callback(synthetic, caplog):
    seen = []
    est = nnmf.NeuralNMF(ranks=(9, 4), random_state=0, max_iter=5, verbose=1, n_threads=2,
                         callback=seen.append)
    with caplog.at_level(logging.INFO, logger="nnmf"):
        est.fit(synthetic["X"])
    assert [r["epoch"] for r in seen] == list(range(1, est.n_iter_ + 1))
    assert sum("epoch" in m for m in caplog.messages) == est.n_iter_


def test_callback_exception_stops_the_fit_and_propagates(synthetic):
    def boom(rec):
        if rec["epoch"] == 3:
            raise RuntimeError("stop here")
    est = nnmf.NeuralNMF(ranks=(9, 4), random_state=0, max_iter=50, callback=boom)
    with pytest.raises(RuntimeError, match="stop here"):
        est.fit(synthetic["X"])
    assert not hasattr(est, "components_")


def test_ctrl_c_stops_the_fit_cleanly():
    """KeyboardInterrupt (what the SIGINT handler raises) arrives while the fit runs in C++
    without the GIL; the fit stops at the next poll (an epoch or an initialization phase),
    raises KeyboardInterrupt, and leaves the estimator as it was. The fit would otherwise run
    for hours, so the interrupt cannot miss it."""
    X = np.random.default_rng(0).random((1500, 400))
    est = nnmf.NeuralNMF(ranks=(60, 30), init="random", max_iter=10**7, tol=0, random_state=0,
                         n_threads=2)
    timer = threading.Timer(1.0, _thread.interrupt_main)
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            est.fit(X)
    finally:
        timer.cancel()
    assert not hasattr(est, "components_")
    est.set_params(max_iter=3).fit(X[:200])  # and nothing is left broken
    assert est.n_iter_ <= 3


def test_nmf_matches_sklearn_quality(synthetic):
    from_sklearn = pytest.importorskip("sklearn.decomposition")
    X = synthetic["X"]
    ours = nnmf.NMF(n_components=9, random_state=0, max_iter=500, tol=1e-8).fit(X)
    theirs = from_sklearn.NMF(n_components=9, init="nndsvda", max_iter=1000, tol=1e-8,
                              random_state=0).fit(X)
    assert ours.components_.shape == theirs.components_.shape == (9, 87)
    # A sanity bound, not a ranking: ANLS from NNDSVD and scikit-learn's coordinate descent
    # from NNDSVDa can settle in different local minima on this data (seen: relative errors
    # 0.108 and 0.024; the CLI's `fit --method nmf` gives the same 0.108).
    assert ours.reconstruction_err_ <= theirs.reconstruction_err_ * 5
    # reconstruction_err_ is the error of the fitted W H (as scikit-learn's; relative_errors_
    # is the CLI's rel_error). transform(X) solves W >= 0 afresh (exact NNLS), so on the training
    # data its error, which score(X) reports, is no larger, and close once the fit has settled.
    norm = np.linalg.norm(X)
    assert ours.reconstruction_err_ == pytest.approx(ours.relative_errors_[0] * norm, rel=1e-12)
    W = ours.transform(X)
    fresh = np.linalg.norm(X - W @ ours.components_)
    assert fresh <= ours.reconstruction_err_ * (1 + 1e-12)
    assert fresh == pytest.approx(ours.reconstruction_err_, rel=1e-6)
    assert ours.score(X) == pytest.approx(-fresh / norm, rel=1e-10)
    np.testing.assert_allclose(ours.inverse_transform(W), W @ ours.components_)


@pytest.mark.parametrize("cls", [nnmf.HierarchicalNMF, nnmf.DeepNMF])
def test_baselines(cls, synthetic):
    X = synthetic["X"]
    y = np.where(synthetic["known"], synthetic["labels"][4], -1)
    est = cls(ranks=(9, 4), random_state=0).fit(X)
    assert est.transform(X).shape == (90, 4) and est.relative_errors_[0] < 0.15
    # relative_errors_ is from the fitted coefficients (test_held_out: the CLI's rel_error);
    # score(X) from the forward pass of transform, so the two need not agree
    fresh = np.linalg.norm(X - est.inverse_transform(est.transform(X))) / np.linalg.norm(X)
    assert est.score(X) == pytest.approx(-fresh, rel=1e-10)
    assert est.reconstruction_err_ == pytest.approx(est.relative_errors_[-1] * np.linalg.norm(X), rel=1e-12)
    assert len(est.layer_objective_) == 2
    sup = cls(ranks=(9, 4), random_state=0).fit(X, y)
    assert sup.score(X, synthetic["labels"][4]) > 0.8
    assert cls(ranks=(9, 4), random_state=0).fit(sp.csr_matrix(X)).transform(X).shape == (90, 4)


def test_deep_nmf_pooling(synthetic):
    est = nnmf.DeepNMF(ranks=(9, 4), pool=2, random_state=0, backward_max_iter=20).fit(synthetic["X"])
    assert est.transform(synthetic["X"]).shape == (90, 4)


def test_cuda_device_without_cuda_is_a_clear_error(synthetic):
    if nnmf.cuda_compiled and nnmf.cuda_device_count() > 0:
        pytest.skip("a CUDA device is present")
    # NotCompiled (RuntimeError) in a build without CUDA; no device (ValueError) with it
    with pytest.raises((RuntimeError, ValueError), match="(?i)cuda|device"):
        nnmf.NeuralNMF(ranks=(2, 1), device="cuda").fit(synthetic["X"])


def test_validation_fraction_reaches_the_library(news):
    """Early stopping on held-out labels: off on data this small (it needs 100 held-out
    labels; 0.3 x 200 = 60), and a fraction outside [0, 1) is the library's error."""
    y = news["sub"] % 6
    records = []
    nnmf.NeuralNMF(ranks=(10, 6), max_iter=3, random_state=0, validation_fraction=0.3,
                   callback=records.append).fit(news["X"], y)
    assert len(records) == 3 and all("validation_accuracy" not in r for r in records)
    with pytest.raises(ValueError, match="validation_fraction must lie in"):
        nnmf.NeuralNMF(ranks=(10, 6), max_iter=3, validation_fraction=1.5).fit(news["X"], y)
