"""`nnmf fit` and `nnmf transform` under mpirun -np 2 and 3 against one process (docs/mpi.md):
the same report (losses per epoch within 1e-12 relative, accuracies equal, relative errors
within 1e-9), the same factors and S within 1e-10 of their largest entry; report.json says
processes and per-process times; a block that one process cannot read stops every process
with that process's error, in bounded time, leaving no output folder.

Usage: mpi_cli_check.py MPIEXEC NNMF DATA_DIR WORK_DIR"""
import json
import os
import subprocess
import sys

from mpi_cli_common import check, dense_values, failures, news, rel_diff, run, syn


fits = {
    "synthetic": [os.path.join(syn, "X.mtx"), "--ranks", "9,4,2", "--labels", os.path.join(syn, "labels2.txt"),
                  "--known", os.path.join(syn, "known40.txt"), "--eval-labels",
                  ",".join(os.path.join(syn, f) for f in ["labels9.txt", "labels4.txt", "labels2.txt"]),
                  "--seed", "1", "--epochs", "20", "--quiet"],
    "news": [os.path.join(news, "X.mtx"), "--ranks", "10,4", "--loss", "energy", "--labels",
             os.path.join(news, "super_labels.txt"), "--known", os.path.join(news, "known60.txt"),
             "--seed", "2", "--epochs", "10", "--quiet"],
}
for name, args in fits.items():
    rc, err = run(1, ["fit"] + args + ["-o", name + "1"])
    check(rc == 0, f"{name}: one process failed: {err}")
    ref = json.load(open(name + "1/report.json"))
    check(ref["processes"] == 1, f"{name}: processes {ref['processes']} for one process")
    for np in (2, 3):
        out = f"{name}{np}"
        rc, err = run(np, ["fit"] + args + ["-o", out])
        check(rc == 0, f"{name} -np {np} failed: {err}")
        if rc != 0:
            continue
        rep = json.load(open(out + "/report.json"))
        check(rep["processes"] == np, f"{name} -np {np}: processes {rep['processes']}")
        per = rep["timings"]["processes"]
        check(len(per) == np and all("communication_s" in p and "fit_s" in p for p in per),
              f"{name} -np {np}: per-process timings {per}")
        h1, h2 = ref["history"], rep["history"]
        check(len(h1) == len(h2), f"{name} -np {np}: {len(h2)} epochs, one process {len(h1)}")
        for a, b in zip(h1, h2):
            check(abs(a["loss"] - b["loss"]) <= 1e-12 * abs(a["loss"]),
                  f"{name} -np {np}: epoch {a['epoch']} loss {b['loss']!r} vs {a['loss']!r}")
        for a, b in zip(ref["layers"], rep["layers"]):
            check(a.get("accuracy") == b.get("accuracy") and
                  a.get("accuracy_unlabeled") == b.get("accuracy_unlabeled"),
                  f"{name} -np {np}: layer {a['layer']} accuracy {b.get('accuracy')} vs {a.get('accuracy')}")
            check(abs(a["rel_error"] - b["rel_error"]) <= 1e-9 * a["rel_error"],
                  f"{name} -np {np}: layer {a['layer']} rel_error {b['rel_error']} vs {a['rel_error']}")
        for f in sorted(os.listdir(name + "1")):
            if f.endswith(".mtx"):
                d = rel_diff(os.path.join(name + "1", f), os.path.join(out, f))
                check(d <= 1e-10, f"{name} -np {np}: {f} differs by {d:.3g} of its largest entry")

# transform under mpirun: S of the one-process model, gathered on process 0.
model = "synthetic1/model.nnmf"
rc, err = run(1, ["transform", model, os.path.join(syn, "X.mtx"), "-o", "tr1", "--quiet"])
check(rc == 0, f"transform failed: {err}")
rc, err = run(3, ["transform", model, os.path.join(syn, "X.mtx"), "-o", "tr3", "--quiet"])
check(rc == 0, f"transform -np 3 failed: {err}")
if rc == 0:
    for l in range(3):
        d = rel_diff(f"tr1/S{l}.mtx", f"tr3/S{l}.mtx")
        check(d <= 1e-12, f"transform -np 3: S{l} differs by {d:.3g}")

# --s-per-process: each process's columns of S in S<l>.p<r>.mtx, together the gathered S.
rc, err = run(3, ["transform", model, os.path.join(syn, "X.mtx"), "-o", "trp", "--s-per-process", "--quiet"])
check(rc == 0, f"transform --s-per-process failed: {err}")
if rc == 0:
    for l in range(3):
        r1, c1, v1 = dense_values(f"tr1/S{l}.mtx")
        vals, cols = [], 0
        for p in range(3):
            r, c, v = dense_values(f"trp/S{l}.p{p}.mtx")
            check(r == r1, f"S{l}.p{p}.mtx has {r} rows, S{l} {r1}")
            vals += v
            cols += c
        check(cols == c1 and max(abs(x - y) for x, y in zip(v1, vals)) <= 1e-12 * max(map(abs, v1)),
              f"S{l}.p*.mtx together differ from S{l}.mtx")

# A value only process 1 reads (a column of its block) is malformed: every process stops.
lines = open(os.path.join(news, "X.mtx")).read().splitlines()
body = [i for i, l in enumerate(lines) if not l.startswith("%")][1:]
target = next(i for i in body if int(lines[i].split()[1]) > 150)
lines[target] = " ".join(lines[target].split()[:2]) + " 1.5e400"
open("bad.mtx", "w").write("\n".join(lines) + "\n")
try:
    rc, err = run(2, ["fit", "bad.mtx", "--ranks", "5", "-o", "bad"], timeout=60)
    check(rc != 0, "a block one process cannot read: exit status 0")
    check("[process 1 of 2]" in err and "bad.mtx" in err and "1.5e400" in err,
          f"a block one process cannot read: the error does not name process 1 and the value: {err}")
except subprocess.TimeoutExpired:
    check(False, "a block one process cannot read: mpirun still running after 60 s")
check(not os.path.exists("bad") and not any(f.startswith(".nnmf-staging") for f in os.listdir(".")),
      "a failed fit left output behind: " + " ".join(os.listdir(".")))

# Only fit and transform split the columns.
rc, err = run(2, ["eval", model, os.path.join(syn, "X.mtx")])
check(rc == 2 and "only `fit` and `transform`" in err, f"eval under mpirun: {rc} {err}")

# Masked cross-validation runs on one process: --holdout-fraction is refused under mpirun.
rc, err = run(2, ["fit", os.path.join(syn, "X.mtx"), "--ranks", "9,4", "--holdout-fraction", "0.1", "-q", "-o", "ho"])
check(rc == 2 and "--holdout-fraction: not under mpirun" in err, f"--holdout-fraction under mpirun: {rc} {err}")

print("FAILED" if failures else "OK", len(failures), "failures")
sys.exit(1 if failures else 0)
