#!/usr/bin/python3
"""Python-level benchmarks of nnmf, each against its baseline in the same run, as ratios.

1. nnmf.NMF vs sklearn.decomposition.NMF: same tf-idf matrix, same rank, same iteration cap;
   times and the relative errors ||X - W H||_F / ||X||_F they reach (convergence tests
   differ, so both are printed).
2. nnmf.nnls vs a loop of scipy.optimize.nnls over the columns: same A and B, columns/s.
3. Binding overhead: NeuralNMF.fit from Python vs `nnmf fit` (the C++ CLI) on the same data
   with the same seed, settings and threads: Python's wall time of fit() against the CLI's
   report.json fit_s + eval_s (the CLI's own time in the library, excluding file reading;
   fit() also evaluates the fitted model, as the CLI's eval_s does). Medians of --reps runs.

Usage: PYTHONPATH=BUILD/python /usr/bin/python3 bench/python_bench.py --cli BUILD/src/cli/nnmf
       [--news ../shared/data/20news/X_tfidf.mtx.gz] [--threads 2] [--reps 3] [--quick]
The 20 Newsgroups matrix defaults to ../shared/data/20news (46240 terms x 18846 documents);
without it the bundled 200-document sample is used and the output says so.
"""
import argparse
import gzip
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import warnings

import numpy as np
import scipy.io
import scipy.optimize
import scipy.sparse as sp

import nnmf

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))


def read_mtx(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as fh:
        return scipy.io.mmread(fh)


def median_time(fn, reps):
    times = []
    out = None
    for _ in range(reps):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), out


def rel_error(X, W, H):
    # ||X - W H||^2 = ||X||^2 - 2 <X, W H> + ||W H||^2 without forming W H (X sparse).
    xx = X.multiply(X).sum() if sp.issparse(X) else float(np.sum(X * X))
    cross = float(np.sum((X @ H.T) * W))
    gram = float(np.sum((W.T @ W) * (H @ H.T)))
    return float(np.sqrt(max(xx - 2 * cross + gram, 0) / xx))


def bench_nmf(X, k, iters, reps, threads):
    from sklearn.decomposition import NMF as SkNMF
    ours = nnmf.NMF(n_components=k, max_iter=iters, tol=0, random_state=0, n_threads=threads)
    theirs = SkNMF(n_components=k, init="nndsvda", max_iter=iters, tol=0, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t_ours, W_ours = median_time(lambda: ours.fit_transform(X), reps)
        t_theirs, W_theirs = median_time(lambda: theirs.fit_transform(X), reps)
    e_ours = rel_error(X, W_ours, ours.components_)
    e_theirs = rel_error(X, W_theirs, theirs.components_)
    print(f"NMF, k={k}, {iters} iterations (tol=0), X {X.shape[0]} x {X.shape[1]} ({X.nnz} nnz):")
    print(f"  nnmf.NMF (ANLS)            {t_ours:8.3f} s   rel. error {e_ours:.4f}")
    print(f"  sklearn NMF (cd, nndsvda)  {t_theirs:8.3f} s   rel. error {e_theirs:.4f}")
    print(f"  time ratio sklearn / nnmf: {t_theirs / t_ours:.2f}x")


def bench_nnls(n, k, m, reps, threads):
    rng = np.random.default_rng(0)
    A = rng.random((n, k))
    B = A @ (rng.random((k, m)) * (rng.random((k, m)) < 0.5)) + 0.01 * rng.random((n, m))
    Bf = np.asfortranarray(B)
    t_ours, X = median_time(lambda: nnmf.nnls(A, Bf, n_threads=threads), reps)
    m_scipy = min(m, 2000)  # the loop is slow: time a subset of columns, report per column
    t_scipy, Xs = median_time(
        lambda: np.column_stack([scipy.optimize.nnls(A, B[:, j])[0] for j in range(m_scipy)]), 1)
    err = np.max(np.abs(X[:, :m_scipy] - Xs)) / np.max(np.abs(Xs))
    r_ours, r_scipy = m / t_ours, m_scipy / t_scipy
    print(f"NNLS, A {n} x {k}, B {n} x {m} dense:")
    print(f"  nnmf.nnls (one call)        {r_ours:12.0f} columns/s  ({t_ours * 1e3:.1f} ms)")
    print(f"  scipy.optimize.nnls loop    {r_scipy:12.0f} columns/s  ({m_scipy} columns, "
          f"{t_scipy * 1e3:.1f} ms)")
    print(f"  ratio: {r_ours / r_scipy:.0f}x   (max relative difference {err:.1e})")


def bench_overhead(X, path, cli, ranks, threads, reps, epochs):
    Xs = sp.csr_matrix(X.T)  # (documents, terms)
    rank_s = ",".join(str(r) for r in ranks)
    est = nnmf.NeuralNMF(ranks=ranks, loss="energy", max_iter=epochs, random_state=0,
                         n_threads=threads)
    py_times, cli_times = [], []
    with tempfile.TemporaryDirectory() as d, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for r in range(reps):  # interleaved, so a change of machine load hits both
            t = time.perf_counter()
            est.fit(Xs)
            py_times.append(time.perf_counter() - t)
            out = os.path.join(d, f"run{r}")
            subprocess.run([cli, "fit", path, "--ranks", rank_s, "--loss", "energy", "--epochs",
                            str(epochs), "--seed", "0", "--threads", str(threads), "--quiet", "-o", out],
                           check=True)
            with open(os.path.join(out, "report.json")) as fh:
                tm = json.load(fh)["timings"]
            cli_times.append(tm["fit_s"] + tm["eval_s"])
    t_py, t_cli = statistics.median(py_times), statistics.median(cli_times)
    # The Python side's own work, timed directly (robust to machine load, unlike the difference
    # of two long fits): the checks and layout conversion in Python, and in the binding the
    # copy into the core's CSC arrays, bounded above by a k = 1 forward pass that includes it.
    from nnmf._validation import check_array, to_core
    one = nnmf._nnmf.Model64.from_factors([np.ones((Xs.shape[1], 1))])

    def python_side():
        core = to_core(check_array(Xs, "bench"))
        one.evaluate(core, n_threads=threads)
    t_side, _ = median_time(python_side, 5)
    print(f"Neural NMF fit, ranks {rank_s}, energy loss, {epochs} epochs, {threads} threads:")
    print(f"  Python NeuralNMF.fit       {t_py:8.3f} s   (runs: {', '.join(f'{t:.3f}' for t in py_times)})")
    print(f"  CLI fit_s + eval_s         {t_cli:8.3f} s   (runs: {', '.join(f'{t:.3f}' for t in cli_times)})")
    print(f"  difference: {100 * (t_py - t_cli) / t_cli:+.2f}% of the CLI's time (medians; "
          f"the spread of the runs says how much of it is machine load)")
    print(f"  Python-side work per fit (checks, conversion, + a k=1 forward pass): "
          f"{t_side * 1e3:.1f} ms = {100 * t_side / t_cli:.3f}% of the CLI's fit")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cli", default=os.path.join(ROOT, "build", "src", "cli", "nnmf"))
    ap.add_argument("--news", default=os.path.join(ROOT, "..", "shared", "data", "20news", "X_tfidf.mtx.gz"))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--quick", action="store_true", help="the bundled sample and small sizes only")
    ap.add_argument("--only", choices=["nmf", "nnls", "overhead"], help="run one part")
    ap.add_argument("--epochs", type=int, default=0, help="epochs of the overhead fits (0: 50)")
    a = ap.parse_args()

    print(f"nnmf {nnmf.__version__}, Python {sys.version.split()[0]}, NumPy {np.__version__}, "
          f"SciPy {scipy.__version__}, {a.threads} threads")
    news = a.news if os.path.exists(a.news) and not a.quick else \
        os.path.join(ROOT, "data", "20news-subsample", "X.mtx")
    if news != a.news:
        print(f"(using the bundled sample {news}: {a.news} not found or --quick)")
    t = time.perf_counter()
    Xt = sp.csc_matrix(read_mtx(news))  # terms x documents, as in the file
    print(f"data: {news}, {Xt.shape[0]} terms x {Xt.shape[1]} documents, {Xt.nnz} nnz "
          f"(read in {time.perf_counter() - t:.1f} s)\n")
    X = sp.csr_matrix(Xt.T)

    if a.only in (None, "nmf"):
        bench_nmf(X, k=20 if not a.quick else 10, iters=100 if not a.quick else 30, reps=a.reps,
                  threads=a.threads)
        print()
    if a.only in (None, "nnls"):
        bench_nnls(2000, 32, 20000 if not a.quick else 2000, a.reps, a.threads)
        print()
    if a.only not in (None, "overhead"):
        return
    if os.path.exists(a.cli):
        bench_overhead(Xt, news, a.cli, (20, 6) if not a.quick else (10, 6), a.threads, a.reps,
                       epochs=a.epochs or (50 if not a.quick else 10))
    else:
        print(f"binding overhead: skipped, no CLI at {a.cli} (pass --cli BUILD/src/cli/nnmf)")


if __name__ == "__main__":
    main()
