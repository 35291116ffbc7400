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
