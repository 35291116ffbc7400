"""`nnmf fit` under mpirun for every method, with --columns and with one file per process
(--x-per-process), against one process (docs/mpi.md): losses within 1e-12 relative, relative
errors within 1e-9, the same accuracies, factors and S within 1e-10 of their largest entry. A
per-process file that one process cannot read (missing, other row count) stops every process
with an error naming the file and the process, in bounded time, leaving no output folder.

Usage: mpi_cli_methods_check.py MPIEXEC NNMF DATA_DIR WORK_DIR"""
import json
import os
import subprocess
import sys

from mpi_cli_common import check, failures, news, read_mtx, rel_diff, run, syn


def compare(name, ref_dir, out_dir):
    ref = json.load(open(ref_dir + "/report.json"))
    rep = json.load(open(out_dir + "/report.json"))
    h1, h2 = ref["history"], rep["history"]
    check(len(h1) == len(h2), f"{name}: {len(h2)} iterations, one process {len(h1)}")
    for a, b in zip(h1, h2):
        check(abs(a["loss"] - b["loss"]) <= 1e-12 * abs(a["loss"]),
              f"{name}: iteration {a['epoch']} loss {b['loss']!r} vs {a['loss']!r}")
    for a, b in zip(ref["layers"], rep["layers"]):
        check(a.get("accuracy") == b.get("accuracy"), f"{name}: layer {a['layer']} accuracy")
        check(abs(a["rel_error"] - b["rel_error"]) <= 1e-9 * a["rel_error"],
              f"{name}: layer {a['layer']} rel_error {b['rel_error']} vs {a['rel_error']}")
    for f in sorted(os.listdir(ref_dir)):
        if f.endswith(".mtx"):
            d = rel_diff(os.path.join(ref_dir, f), os.path.join(out_dir, f))
            check(d <= 1e-10, f"{name}: {f} differs by {d:.3g} of its largest entry")


def fit_everywhere(name, args, counts=(2, 3)):
    rc, err = run(1, ["fit"] + args + ["-o", name + "1", "--quiet"])
    check(rc == 0, f"{name}: one process failed: {err}")
    for np in counts:
        rc, err = run(np, ["fit"] + args + ["-o", f"{name}{np}", "--quiet"])
        check(rc == 0, f"{name} -np {np} failed: {err}")
        if rc == 0 and os.path.exists(name + "1"):
            compare(f"{name} -np {np}", name + "1", f"{name}{np}")


X_syn, X_news = os.path.join(syn, "X.mtx"), os.path.join(news, "X.mtx")
lab = ["--labels", os.path.join(news, "super_labels.txt"), "--known", os.path.join(news, "known60.txt")]

# Every method splits the columns.
fit_everywhere("nmf", [X_news, "--method", "nmf", "--ranks", "8", "--epochs", "20"])
fit_everywhere("ssnmf", [X_syn, "--method", "ssnmf", "--ranks", "4", "--labels", os.path.join(syn, "labels4.txt"),
                         "--known", os.path.join(syn, "known20.txt"), "--epochs", "30"])
fit_everywhere("hnmf", [X_news, "--method", "hnmf", "--ranks", "10,4", "--epochs", "20"] + lab)
fit_everywhere("deep", [X_news, "--method", "deep", "--ranks", "10,4", "--epochs", "10",
                        "--set", "forward_iter=20", "--set", "ssnmf_iter=20"] + lab)
fit_everywhere("deeppool", [X_syn, "--method", "deep", "--ranks", "9,4", "--epochs", "10", "--set", "pool=2",
                            "--set", "forward_iter=20"])

# --columns: an index list in its own order, and a 0/1 mask.
order = [(37 * j) % 200 for j in range(150)]
open("cols.txt", "w").write("".join(f"{j}\n" for j in order))
open("mask.txt", "w").write("".join("1\n" if j % 3 else "0\n" for j in range(200)))
fit_everywhere("colsneural", [X_news, "--ranks", "8,3", "--epochs", "8", "--columns", "cols.txt"] + lab)
fit_everywhere("colshnmf", [X_news, "--method", "hnmf", "--ranks", "8,3", "--epochs", "15", "--columns", "mask.txt"])

# One file per process, cut from the 20 Newsgroups sample (process 1 of 3 holds no column).
rows, cols, body = read_mtx(X_news)


def cut(path, first, count):
    keep = [l for l in body if first < int(l.split()[1]) <= first + count]
    with open(path, "w") as f:
        f.write("%%MatrixMarket matrix coordinate real general\n")
        f.write(f"{rows} {count} {len(keep)}\n")
        for l in keep:
            i, j, v = l.split()
            f.write(f"{i} {int(j) - first} {v}\n")


for np, splits in ((2, [(0, 120), (120, 80)]), (3, [(0, 90), (90, 0), (90, 110)])):
    os.makedirs(f"parts{np}")
    for p, (first, count) in enumerate(splits):
        cut(f"parts{np}/X.p{p}.mtx", first, count)
for method, extra in (("neural", ["--ranks", "10,4", "--epochs", "8"]),
                      ("hnmf", ["--method", "hnmf", "--ranks", "10,4", "--epochs", "15"])):
    rc, err = run(1, ["fit", X_news] + extra + lab + ["-o", f"pp{method}1", "--quiet"])
    check(rc == 0, f"per-process {method}: one process failed: {err}")
    for np in (2, 3):
        rc, err = run(np, ["fit", f"parts{np}/X.p{{p}}.mtx", "--x-per-process"] + extra + lab +
                      ["-o", f"pp{method}{np}", "--quiet"])
        check(rc == 0, f"per-process {method} -np {np} failed: {err}")
        if rc == 0:
            compare(f"per-process {method} -np {np}", f"pp{method}1", f"pp{method}{np}")
rc, err = run(3, ["transform", "pphnmf1/model.nnmf", "parts3/X.p{p}.mtx", "--x-per-process", "-o", "pptr3", "--quiet"])
check(rc == 0, f"transform --x-per-process failed: {err}")
rc, err = run(1, ["transform", "pphnmf1/model.nnmf", X_news, "-o", "pptr1", "--quiet"])
if rc == 0 and os.path.exists("pptr3"):
    for l in range(2):
        d = rel_diff(f"pptr1/S{l}.mtx", f"pptr3/S{l}.mtx")
        check(d <= 1e-12, f"transform --x-per-process: S{l} differs by {d:.3g}")

# A file one process cannot read: missing, or with another row count. Every process stops.
os.makedirs("bad")
cut("bad/X.p0.mtx", 0, 100)
for what, make in (("missing", lambda: None),
                   ("rows", lambda: open("bad/X.p1.mtx", "w").write(
                       "%%MatrixMarket matrix coordinate real general\n5 2 1\n1 1 1.0\n"))):
    make()
    try:
        rc, err = run(2, ["fit", "bad/X.p{p}.mtx", "--x-per-process", "--ranks", "4", "-o", "badout"], timeout=60)
        check(rc != 0, f"per-process file {what}: exit status 0")
        check("[process 1 of 2]" in err and "X.p1.mtx" in err,
              f"per-process file {what}: the error does not name process 1 and its file: {err}")
    except subprocess.TimeoutExpired:
        check(False, f"per-process file {what}: mpirun still running after 60 s")
    check(not os.path.exists("badout"), f"per-process file {what}: output left behind")

print("FAILED" if failures else "OK", len(failures), "failures")
sys.exit(1 if failures else 0)
