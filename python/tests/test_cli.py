"""The Python package and the C++ command-line tool give the same model on the synthetic
hierarchy for the same seed, settings and thread count (the core is deterministic for a
given backend and thread count). NNMF_CLI (set by ctest) is the path of the `nnmf` binary."""
import json
import os
import subprocess

import numpy as np
import pytest

import nnmf

CLI = os.environ.get("NNMF_CLI")
pytestmark = pytest.mark.skipif(not CLI or not os.path.exists(CLI),
                                reason="NNMF_CLI does not name the nnmf binary (set by ctest)")


def run_cli(*args):
    r = subprocess.run([CLI, *args], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    return r


@pytest.mark.parametrize("supervised", [False, True])
def test_fit_matches_the_cli(synthetic, tmp_path, supervised):
    d = synthetic["dir"]
    args = ["fit", os.path.join(d, "X.mtx"), "--ranks", "9,4,2", "--seed", "7", "--threads", "2",
            "--rel-tol", "1e-6", "--patience", "8", "--quiet", "-o", str(tmp_path / "out")]
    y = None
    if supervised:
        args += ["--labels", os.path.join(d, "labels2.txt"), "--known", os.path.join(d, "known40.txt")]
        y = np.where(synthetic["known"], synthetic["labels"][2], -1)
    run_cli(*args)
    est = nnmf.NeuralNMF(ranks=(9, 4, 2), random_state=7, tol=1e-6, n_iter_no_change=8,
                         n_threads=2).fit(synthetic["X"], y)
    cli_model = nnmf.NeuralNMF.load(tmp_path / "out" / "model.nnmf")
    for a, b in zip(est.factors_, cli_model.factors_):
        np.testing.assert_array_equal(a, b)
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    errs = [layer["rel_error"] for layer in report["layers"]]
    np.testing.assert_allclose(est.relative_errors_, errs, rtol=1e-12)
    assert est.n_iter_ == len(report["history"])
    np.testing.assert_allclose(est.loss_curve_, [h["loss"] for h in report["history"]], rtol=1e-12)
    if supervised:
        acc = report["layers"][-1]["accuracy"]
        pred = est.predict(synthetic["X"])
        assert np.mean(pred == synthetic["labels"][2]) == pytest.approx(acc)


def test_cli_reads_a_model_saved_from_python(synthetic, tmp_path):
    est = nnmf.NeuralNMF(ranks=(9, 4), random_state=0, max_iter=20, n_threads=2).fit(synthetic["X"])
    est.save(tmp_path / "m.nnmf")
    run_cli("transform", str(tmp_path / "m.nnmf"), os.path.join(synthetic["dir"], "X.mtx"),
            "-o", str(tmp_path / "S"), "--threads", "2", "--quiet")
    import scipy.io
    S1 = np.asarray(scipy.io.mmread(str(tmp_path / "S" / "S1.mtx")))
    np.testing.assert_allclose(S1.T, est.transform(synthetic["X"]), rtol=1e-12, atol=1e-14)


def test_npy_outputs_match_matrix_market(synthetic, tmp_path):
    import scipy.io
    d = synthetic["dir"]
    run_cli("fit", os.path.join(d, "X.mtx"), "--ranks", "9,4", "--labels", os.path.join(d, "labels4.txt"),
            "--epochs", "5", "--npy", "--quiet", "-o", str(tmp_path / "fit"))
    for name in ("A0", "A1", "S0", "S1", "B"):
        np.testing.assert_array_equal(np.load(tmp_path / "fit" / f"{name}.npy"),
                                      scipy.io.mmread(str(tmp_path / "fit" / f"{name}.mtx")))


def test_hals_solver_matches_the_cli(synthetic, tmp_path):
    d = synthetic["dir"]
    run_cli("fit", os.path.join(d, "X.mtx"), "--method", "nmf", "--ranks", "9", "--epochs", "40",
            "--set", "rel_tol=0", "--threads", "2", "--quiet", "-o", str(tmp_path / "nmf"))
    est = nnmf.NMF(n_components=9, solver="hals", max_iter=40, tol=0, n_threads=2,
                   random_state=0).fit(synthetic["X"])
    report = json.loads((tmp_path / "nmf" / "report.json").read_text())
    assert report["settings"]["algorithm"] == "hals"
    cli_model = nnmf.NeuralNMF.load(tmp_path / "nmf" / "model.nnmf")
    np.testing.assert_allclose(est.components_, cli_model.factors_[0].T, rtol=1e-12, atol=1e-14)


def npmi(X, terms):
    """NPMI of a list of terms by document co-occurrence (X: documents x terms), by hand."""
    present = (X[:, terms] != 0).toarray() if hasattr(X, "toarray") else X[:, terms] != 0
    m = present.shape[0]
    vals = []
    for a in range(len(terms)):
        for b in range(a + 1, len(terms)):
            da, db = present[:, a].sum(), present[:, b].sum()
            dab = (present[:, a] & present[:, b]).sum()
            if dab == 0:
                vals.append(-1.0)
            elif dab == m:
                vals.append(1.0)
            else:
                vals.append(np.log(dab * m / (da * db)) / -np.log(dab / m))
    return np.mean(vals) if vals else 0.0


def test_topics_coherence_matches_a_python_computation(news, tmp_path):
    d = news["dir"]
    run_cli("fit", os.path.join(d, "X.mtx"), "--ranks", "8,3", "--epochs", "5", "--quiet",
            "-o", str(tmp_path / "fit"))
    run_cli("topics", str(tmp_path / "fit" / "model.nnmf"), os.path.join(d, "X.mtx"), "--vocab",
            os.path.join(d, "vocab.txt"), "--top", "7", "-o", str(tmp_path / "topics.json"))
    topics = json.loads((tmp_path / "topics.json").read_text())
    index = {w: i for i, w in enumerate(news["vocab"])}
    X = news["X"].tocsc()
    for layer in topics["layers"]:
        values = []
        for t in layer["topics"]:
            expected = npmi(X, [index[w] for w in t["terms"]])
            assert t["npmi"] == pytest.approx(expected, rel=1e-12, abs=1e-14)
            values.append(expected)
        assert layer["npmi"] == pytest.approx(np.mean(values), rel=1e-12)


def test_coherence_matches_the_cli(news, tmp_path):
    d = news["dir"]
    run_cli("fit", os.path.join(d, "X.mtx"), "--ranks", "8,3", "--epochs", "3", "--quiet",
            "-o", str(tmp_path / "fit"))
    report = json.loads((tmp_path / "fit" / "report.json").read_text())
    model = nnmf.NeuralNMF.load(tmp_path / "fit" / "model.nnmf")
    got = model.coherence(news["X"], n=10)
    for layer, values in zip(report["layers"], got):
        np.testing.assert_allclose(values, layer["npmi_topics"], rtol=1e-12)
    assert model.coherence(news["X"], n=10, layer=1) == got[1]
    with pytest.raises(ValueError, match="n must be >= 2"):
        model.coherence(news["X"], n=1)


def test_select_rank_matches_the_cli(synthetic, tmp_path):
    run_cli("select-rank", os.path.join(synthetic["dir"], "X.mtx"), "--ranks", "4,9,12",
            "--replicates", "2", "--seed", "3", "--quiet", "-o", str(tmp_path / "sr"))
    report = json.loads((tmp_path / "sr" / "report.json").read_text())
    py = nnmf.select_rank(synthetic["X"], [12, 4, 9], replicates=2, random_state=3)
    assert py["best_rank"] == report["best_rank"] and py["one_se_rank"] == report["one_se_rank"] == 9
    for a, b in zip(py["scores"], report["scores"]):
        assert a["rank"] == b["rank"]
        np.testing.assert_array_equal(a["test_error"], b["test_error"])
