"""Shared fixtures: the bundled data sets, read with SciPy in scikit-learn's orientation
(samples as rows)."""
import os

import numpy as np
import pytest
import scipy.io
import scipy.sparse as sp

SOURCE_DIR = os.environ.get(
    "NNMF_SOURCE_DIR", os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))
DATA_DIR = os.path.join(SOURCE_DIR, "data")


def read_lines(path):
    with open(path) as fh:
        return [line.rstrip("\n") for line in fh]


@pytest.fixture(scope="session")
def synthetic():
    """The paper's synthetic hierarchy: X (90 samples, 87 features), labels 9/4/2, known40."""
    d = os.path.join(DATA_DIR, "synthetic-hierarchy")
    X = np.ascontiguousarray(scipy.io.mmread(os.path.join(d, "X.mtx")).T)
    labels = {k: np.array([int(v) for v in read_lines(os.path.join(d, f"labels{k}.txt"))])
              for k in (9, 4, 2)}
    known = np.array([int(v) for v in read_lines(os.path.join(d, "known40.txt"))], dtype=bool)
    return {"dir": d, "X": X, "labels": labels, "known": known}


@pytest.fixture(scope="session")
def news():
    """20 Newsgroups subsample: X (200 documents, 37693 terms) CSR, vocabulary, labels."""
    d = os.path.join(DATA_DIR, "20news-subsample")
    X = sp.csr_matrix(scipy.io.mmread(os.path.join(d, "X.mtx")).T)
    return {"dir": d, "X": X, "vocab": read_lines(os.path.join(d, "vocab.txt")),
            "sub": np.array([int(v) for v in read_lines(os.path.join(d, "sub_labels.txt"))])}


@pytest.fixture
def rng():
    return np.random.default_rng(12345)


def pytest_configure(config):
    # Short fits in the tests stop at max_iter on purpose.
    config.addinivalue_line("filterwarnings", "ignore:.*reached max_iter")
