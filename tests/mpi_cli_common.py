"""What the mpirun command-line checks share (tests/mpi_cli_check.py, mpi_cli_methods_check.py):
their arguments (MPIEXEC NNMF DATA_DIR WORK_DIR; importing this module starts in a fresh
WORK_DIR), the failure list, launching nnmf on np processes, and comparing Matrix Market files."""
import os
import shutil
import subprocess
import sys

mpiexec, nnmf, data, work = sys.argv[1:5]
shutil.rmtree(work, ignore_errors=True)
os.makedirs(work)
os.chdir(work)
syn = os.path.join(data, "synthetic-hierarchy")
news = os.path.join(data, "20news-subsample")
failures = []


def check(ok, what):
    if not ok:
        failures.append(what)
        print("FAIL:", what)


def run(np, args, timeout=120):
    cmd = ([mpiexec, "-np", str(np), "--oversubscribe"] if np > 1 else []) + [nnmf] + args
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    return p.returncode, p.stderr


def read_mtx(path):
    """(rows, cols, the lines after the size line) of a Matrix Market file."""
    with open(path) as f:
        lines = [l for l in f if not l.startswith("%")]
    rows, cols = map(int, lines[0].split()[:2])
    return rows, cols, lines[1:]


def dense_values(path):
    rows, cols, body = read_mtx(path)
    return rows, cols, [float(v) for l in body for v in l.split()]


def rel_diff(a, b):
    """Largest difference of two dense files relative to the largest entry of the first."""
    ra, ca, va = dense_values(a)
    rb, cb, vb = dense_values(b)
    if (ra, ca) != (rb, cb):
        return float("inf")
    top = max((abs(v) for v in va), default=0.0) or 1.0
    return max((abs(x - y) for x, y in zip(va, vb)), default=0.0) / top
