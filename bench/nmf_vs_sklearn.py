#!/usr/bin/env python3
"""Time to relative error of NMF: nnmf's `fit --method nmf` against scikit-learn's
NMF(solver='cd') on the same matrix, side by side in one run.

Relative error = ||X - W H||_F / ||X||_F. For nnmf, one fit per solver with a fixed iteration
count writes report.json; its history gives the objective ||X - W H||^2 and the wall time of
every iteration (the clock starts at the nmf() call: checks, NNDSVDa start and iterations,
not the file reading). For scikit-learn, which reports only the final error, one fit per
iteration count in a doubling schedule (tol=0), each timed around fit_transform (validation,
NNDSVDa start and iterations). Both use the same thread count (OMP/OpenBLAS variables and
threadpoolctl) and NNDSVDa starts. The table gives, per target error, the median over
--repeats of the first time each solver reached it ("-" = not reached).

Usage (repository root; needs numpy, scipy, scikit-learn, e.g. /usr/bin/python3 after
`apt-get install python3-sklearn`):
  python3 bench/nmf_vs_sklearn.py --nnmf build/src/cli/nnmf \
      --X ../shared/data/20news/X.mtx --k 20 --threads 2 --repeats 3
Check the machine's load (`uptime`) before and report it with the figures.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time


def nnmf_curve(args, algorithm, iters):
    """[(seconds, rel_error)] after each iteration of one nnmf fit."""
    with tempfile.TemporaryDirectory() as d:
        out = os.path.join(d, "fit")
        cmd = [args.nnmf, "--threads", str(args.threads), "fit", args.X, "--method", "nmf",
               "--ranks", str(args.k), "--epochs", str(iters), "--set", "rel_tol=0",
               "--set", "anls=" + ("1" if algorithm == "anls" else "0"), "--seed", str(args.seed),
               "-o", out, "-q"]
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
        with open(os.path.join(out, "report.json")) as f:
            rep = json.load(f)
    curve, t = [], 0.0
    for h in rep["history"]:
        t += h["seconds"]
        curve.append((t, max(h["loss"], 0.0) ** 0.5 / args.xnorm))
    return curve


def sklearn_curve(args, Xt, schedule):
    """[(seconds, rel_error)] of one scikit-learn fit per iteration count."""
    from sklearn.decomposition import NMF
    from threadpoolctl import threadpool_limits
    import warnings
    from sklearn.exceptions import ConvergenceWarning
    curve = []
    with threadpool_limits(limits=args.threads), warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for it in schedule:
            model = NMF(n_components=args.k, solver="cd", init="nndsvda", tol=0, max_iter=it,
                        random_state=args.seed)
            t0 = time.perf_counter()
            model.fit_transform(Xt)
            curve.append((time.perf_counter() - t0, model.reconstruction_err_ / args.xnorm))
    return curve


def first_time(curve, target):
    for t, e in curve:
        if e <= target:
            return t
    return None


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--nnmf", required=True, help="path of the nnmf command-line tool")
    p.add_argument("--X", required=True, help="Matrix Market file, features x documents")
    p.add_argument("--k", type=int, default=20)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--seed", type=int, default=0,
                   help="seed of both starts (nnmf --seed, scikit-learn random_state): the local "
                        "minimum each ends in depends on it")
    p.add_argument("--iters", type=int, default=200, help="nnmf iterations per fit")
    p.add_argument("--schedule", default="2,4,8,16,32,64,128,200",
                   help="scikit-learn max_iter values (one fit each)")
    p.add_argument("--algorithms", default="hals,anls",
                   help="nnmf solvers to run: hals (the default of --method nmf), anls")
    p.add_argument("--targets", default="", help="relative errors to report (default: from the curves)")
    p.add_argument("--no-sklearn", action="store_true")
    args = p.parse_args()
    for v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[v] = str(args.threads)

    import numpy as np
    import scipy.io
    import scipy.sparse
    X = scipy.sparse.csc_matrix(scipy.io.mmread(args.X))
    args.xnorm = float(np.sqrt(X.multiply(X).sum()))
    Xt = scipy.sparse.csr_matrix(X.T)  # documents x terms, the sample-by-feature layout of sklearn
    print(f"# X {X.shape[0]} x {X.shape[1]}, nnz {X.nnz}, k={args.k}, threads {args.threads}, "
          f"repeats {args.repeats}, seed {args.seed}; load at start: {os.getloadavg()[0]:.2f}", flush=True)

    curves = {}
    for r in range(args.repeats):
        for alg in args.algorithms.split(","):
            curves.setdefault("nnmf " + alg, []).append(nnmf_curve(args, alg, args.iters))
        if not args.no_sklearn:
            try:
                curves.setdefault("sklearn cd", []).append(
                    sklearn_curve(args, Xt, [int(s) for s in args.schedule.split(",")]))
            except ImportError as e:
                print(f"# scikit-learn not available ({e}); nnmf only", file=sys.stderr)
                args.no_sklearn = True
        print(f"# repeat {r + 1} done; load {os.getloadavg()[0]:.2f}", flush=True)

    if args.targets:
        targets = [float(t) for t in args.targets.split(",")]
    else:
        best = [min(e for _, e in c) for cs in curves.values() for c in cs]
        worst = [c[0][1] for cs in curves.values() for c in cs]
        lo, hi = max(best), min(worst)  # errors every solver reaches
        targets = [hi - (hi - lo) * f for f in (0.5, 0.8, 0.9, 0.95, 0.99, 1.0)]
    names = list(curves)
    print("\n| rel. error | " + " | ".join(names) + " |")
    print("|---|" + "---|" * len(names))
    for tg in targets:
        row = []
        for n in names:
            ts = [first_time(c, tg) for c in curves[n]]
            ok = [t for t in ts if t is not None]
            row.append(f"{statistics.median(ok):.2f} s" if len(ok) == len(ts) else "-")
        print(f"| {tg:.6f} | " + " | ".join(row) + " |")
    print("\nfinal relative error (median): " + ", ".join(
        f"{n} {statistics.median(c[-1][1] for c in curves[n]):.6f} at "
        f"{statistics.median(c[-1][0] for c in curves[n]):.2f} s" for n in names))
    print(f"# load at end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
