"""scikit-learn integration: Pipeline with TfidfVectorizer, clone, GridSearchCV, and
scikit-learn's own estimator checks (the expected failures are listed, with the reason, in
each estimator's `_xfail_checks` tag in nnmf/_estimators.py)."""
import numpy as np
import pytest

sklearn = pytest.importorskip("sklearn")
from sklearn.base import clone  # noqa: E402
from sklearn.feature_extraction.text import TfidfVectorizer  # noqa: E402
from sklearn.model_selection import GridSearchCV  # noqa: E402
from sklearn.pipeline import Pipeline, make_pipeline  # noqa: E402
from sklearn.utils.estimator_checks import parametrize_with_checks  # noqa: E402

import nnmf  # noqa: E402

TOPICS = {
    "space": "orbit rocket launch nasa shuttle moon planet satellite astronaut mission".split(),
    "hockey": "goal puck team season playoff coach skate score league ice".split(),
    "crypto": "key encryption chip clipper secure algorithm privacy cipher government nsa".split(),
}


def corpus(n_per_topic=30, seed=0):
    rng = np.random.default_rng(seed)
    docs, labels = [], []
    common = "the and of to a in is it that for".split()
    for c, words in enumerate(TOPICS.values()):
        for _ in range(n_per_topic):
            w = list(rng.choice(words, size=12)) + list(rng.choice(common, size=8))
            docs.append(" ".join(rng.permutation(w)))
            labels.append(c)
    order = rng.permutation(len(docs))  # mixed classes in every cross-validation fold
    return [docs[i] for i in order], np.array(labels)[order]


def test_pipeline_with_tfidf():
    docs, y = corpus()
    pipe = Pipeline([("tfidf", TfidfVectorizer()),
                     ("nnmf", nnmf.NeuralNMF(ranks=(6, 3), random_state=0, n_threads=2))])
    W = pipe.fit_transform(docs)
    assert W.shape == (len(docs), 3)
    # the three topics are found without labels: each class has its own strongest topic
    top = np.argmax(W, axis=1)
    assert len({np.bincount(top[y == c]).argmax() for c in range(3)}) == 3
    terms = pipe[-1].top_terms(pipe[0].get_feature_names_out(), n=5, layer=1)
    assert all(set(t) <= set(sum(TOPICS.values(), [])) for t in terms)
    # supervised through the pipeline, with a third of the labels hidden
    y_partial = np.where(np.arange(len(y)) % 3 == 0, -1, y)
    pipe.fit(docs, y_partial)
    assert pipe.score(docs, y) >= 0.95
    assert set(pipe.predict(docs[:5])) <= {0, 1, 2}


def test_clone_and_params():
    est = nnmf.NeuralNMF(ranks=(5, 2), lambda_=0.5, random_state=3)
    c = clone(est)
    assert c.get_params() == est.get_params() and c is not est
    c.set_params(ranks=(4, 2))
    assert est.ranks == (5, 2)
    assert "lambda_=0.5" in repr(est)


def test_grid_search():
    docs, y = corpus(n_per_topic=20)
    pipe = make_pipeline(TfidfVectorizer(), nnmf.NeuralNMF(random_state=0, n_threads=2, max_iter=50))
    grid = GridSearchCV(pipe, {"neuralnmf__ranks": [(6, 3), (5, 3)], "neuralnmf__lambda_": [1.0, 10.0]},
                        cv=3)
    grid.fit(docs, y)
    assert grid.best_score_ >= 0.9
    assert grid.best_estimator_[-1].ranks in [(6, 3), (5, 3)]
    # unsupervised: score is minus the relative error, so the larger rank wins
    grid_u = GridSearchCV(make_pipeline(TfidfVectorizer(), nnmf.NMF(random_state=0)),
                          {"nmf__n_components": [2, 6]}, cv=3)
    grid_u.fit(docs)
    assert grid_u.best_params_["nmf__n_components"] == 6


@parametrize_with_checks([
    nnmf.NeuralNMF(ranks=(2, 1), max_iter=20, random_state=0, n_threads=1),
    nnmf.NMF(n_components=2, max_iter=50, random_state=0, n_threads=1),
    nnmf.HierarchicalNMF(ranks=(2, 1), max_iter=50, random_state=0, n_threads=1),
    nnmf.DeepNMF(ranks=(2, 1), max_iter=50, backward_max_iter=10, random_state=0, n_threads=1),
])
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)
