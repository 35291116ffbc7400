"""scikit-learn-shaped estimators on the compiled core.

Parameters are stored unchanged in ``__init__`` (so ``get_params``, ``set_params`` and
``clone`` work); data are checked and converted in ``fit``; fitted attributes end in ``_``.
Every estimator ends as a hierarchy of factors A(0..L) (A(0): n_features x k0, A(l):
k(l-1) x k(l)) held by a compiled model, whose forward pass S(l) = argmin_{S>=0}
||S(l-1) - A(l) S|| gives ``transform`` for all of them.
"""

import logging
import numbers
import os
import tempfile
import warnings

import numpy as np

from . import _nnmf
from ._validation import check_array, check_held_out, check_labels, held_out_to_user, issparse, to_core

logger = logging.getLogger("nnmf")

try:  # scikit-learn is optional: without it the package brings the small part it needs
    from sklearn.base import BaseEstimator as _Base
    from sklearn.base import TransformerMixin as _TransformerMixin
    from sklearn.exceptions import ConvergenceWarning, NotFittedError
except ImportError:
    import inspect

    class _Base:
        """get_params/set_params as scikit-learn's BaseEstimator defines them."""

        @classmethod
        def _get_param_names(cls):
            sig = inspect.signature(cls.__init__)
            return sorted(p.name for p in sig.parameters.values()
                          if p.name != "self" and p.kind != p.VAR_KEYWORD)

        def get_params(self, deep=True):
            return {k: getattr(self, k) for k in self._get_param_names()}

        def set_params(self, **params):
            valid = self._get_param_names()
            for k, v in params.items():
                if k not in valid:
                    raise ValueError(f"Invalid parameter {k!r} for estimator {type(self).__name__}")
                setattr(self, k, v)
            return self

        def __repr__(self):
            args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
            return f"{type(self).__name__}({args})"

    class _TransformerMixin:
        def fit_transform(self, X, y=None, **fit_params):
            return self.fit(X, y, **fit_params).transform(X)

    class ConvergenceWarning(UserWarning):
        """The fit stopped at its iteration cap."""

    class NotFittedError(ValueError, AttributeError):
        """The estimator is used before fit."""


def _seed(random_state):
    """A 64-bit seed by scikit-learn's random_state convention (None: from NumPy's global RNG)."""
    if random_state is None or random_state is np.random:
        return int(np.random.mtrand._rand.randint(np.iinfo(np.int32).max))
    if isinstance(random_state, (int, np.integer)):
        if random_state < 0:
            raise ValueError(f"random_state must be >= 0, got {random_state}")
        return int(random_state)
    if isinstance(random_state, np.random.RandomState):
        return int(random_state.randint(np.iinfo(np.int32).max))
    raise ValueError(f"random_state must be None, an int or a RandomState, got {random_state!r}")


def _ranks(ranks, who):
    try:
        r = [int(k) for k in np.atleast_1d(ranks)]
    except (TypeError, ValueError):
        raise TypeError(f"{who}: ranks must be a sequence of ints, got {ranks!r}") from None
    if not r or any(k < 1 for k in r):
        raise ValueError(f"{who}: ranks must be positive, got {tuple(r)}")
    return r


class _Hierarchy(_TransformerMixin, _Base):
    """What every nnmf estimator shares once it holds its factors."""

    # ---- subclass interface: _fit_model(X, y) -> compiled model ----

    def fit(self, X, y=None, held_out=None):
        """Fits the model to X (n_samples, n_features), dense or sparse, nonnegative. y (one
        label per sample, -1 for unknown) makes the fit (semi-)supervised where the method
        supports it. held_out (a SciPy sparse matrix of X's shape: its nonzero entries; or a
        boolean mask, True = held out): entries of X the fit never reads, scored in
        held_out_error_. Returns self."""
        return self._fit(X, y, held_out=held_out)

    def _fit(self, X, y, **fit_params):
        who = f"{type(self).__name__}.fit"
        X = check_array(X, who)
        n, f = X.shape
        if n < 1 or f < 1:
            what = "sample" if n < 1 else "feature"
            raise ValueError(f"{who}: Found array with 0 {what}(s) (shape={X.shape}) while a "
                             f"minimum of 1 is required.")
        labels = None
        if y is not None and self._supervised:
            labels = check_labels(y, n, who)
        model, extra = self._fit_model(X, labels, who, **fit_params)
        # Attributes are set only now: an interrupted or failed fit leaves self as it was.
        self._model = model
        self.n_features_in_ = f
        self.classes_ = labels[2] if labels is not None else None
        self._set_fitted(X, extra)
        return self

    def _held_out_set(self, X, held_out, seed, who):
        """The core's held-out pattern of this fit (None for none)."""
        frac = self.held_out_fraction
        if held_out is not None and frac is not None:
            raise ValueError(f"{who}: held_out and held_out_fraction={frac!r}: give one (a set "
                             f"of entries, or a share to draw)")
        if held_out is not None:
            H = check_held_out(held_out, X.shape, who)
            if not _any_held_out_value(X, H):
                raise ValueError(f"{who}: X is 0 on every held-out entry ({H[3].size} entries); "
                                 f"the held-out error would have nothing to score against")
            return H
        if frac is None:
            return None
        if not isinstance(frac, numbers.Real) or not 0 < frac < 1:
            raise ValueError(f"{who}: held_out_fraction must lie in (0, 1), got {frac!r}")
        H = _fn(X, "random_held_out")(to_core(X), float(frac), seed)
        if H[3].size == 0:
            raise ValueError(f"{who}: held_out_fraction={frac!r} holds out no entry of X "
                             f"(shape {X.shape}, {_nnz(X)} nonzero entries); raise it")
        return H

    def _held_out_errors(self, model, X, H):
        """Each layer's error on H (None without a set); before any attribute is set, so that a
        failure leaves self as it was."""
        if H is None:
            return None
        return list(model.held_out_errors(to_core(X), H, device=self.device, n_threads=int(self.n_threads)))

    def _fitted_errors(self, X, A, S, H):
        """Each layer's ||X - A0..Al Sl||_F / ||X||_F from the factors A and the coefficients S a
        baseline fitted (one column per sample), on the entries outside H when given: the CLI's
        rel_error (nnmf::relative_errors / observed_errors of the fit's S, not a new forward
        pass). Before any attribute is set, as _held_out_errors."""
        if H is None:
            return list(_fn(X, "relative_errors")(to_core(X), A, S, device=self.device,
                                                  n_threads=int(self.n_threads)))
        return list(_fn(X, "observed_errors")(to_core(X), A, S, H, device=self.device,
                                              n_threads=int(self.n_threads)))

    def _set_fitted(self, X, extra):
        H = extra.get("held_out")
        self.held_out_ = None if H is None else held_out_to_user(H, X.shape)
        self.held_out_error_ = extra.get("held_out_error")
        self.factors_ = self._model.factors
        self.ranks_ = tuple(self._model.ranks)
        self.n_components_ = self.ranks_[-1]
        self.components_ = [self._model.layer_dictionary(l).T for l in range(len(self.ranks_))]
        hist = self._model.history
        self.history_ = hist
        self.loss_curve_ = [h["loss"] for h in hist]
        n_iter = extra.get("n_iter", len(hist))
        if n_iter is not None:
            self.n_iter_ = n_iter
        # Each layer's error as the CLI's rel_error: a baseline's from the coefficients it fitted
        # (extra["relative_errors"], see _fitted_errors), NeuralNMF's from its forward pass, which
        # is its S. With a held-out set, the training error on the observed entries.
        errs = extra.get("relative_errors")
        if errs is None and H is None:
            errs = [r["rel_error"] for r in self._model.evaluate(to_core(X), device=self.device,
                                                                 n_threads=self.n_threads)]
        elif errs is None:
            errs = list(self._model.observed_errors(to_core(X), H, device=self.device,
                                                    n_threads=int(self.n_threads)))
        self.relative_errors_ = errs
        self.reconstruction_err_ = errs[-1] * _norm(X if H is None else _observed(X, self.held_out_))

    def __sklearn_is_fitted__(self):
        # lambda_ is a parameter, so scikit-learn's default test (attributes ending in "_")
        # would call an unfitted NeuralNMF fitted.
        return hasattr(self, "_model")

    def _check_fitted(self):
        if not hasattr(self, "_model"):
            raise NotFittedError(f"This {type(self).__name__} instance is not fitted yet; "
                                 f"call 'fit' first.")

    def _check_X(self, X, who):
        self._check_fitted()
        X = check_array(X, who, dtype=self._dtype)
        if X.shape[1] != self.n_features_in_:
            raise ValueError(f"{who}: X has {X.shape[1]} features, but {type(self).__name__} "
                             f"is expecting {self.n_features_in_} features as input")
        return X

    @property
    def _dtype(self):
        return np.float32 if isinstance(self._model, _nnmf.Model32) else np.float64

    def transform(self, X, layer=-1):
        """The representation of X at ``layer`` (default the last), shape (n_samples,
        ranks[layer]): the forward pass of NNLS solves through the fitted factors."""
        X = self._check_X(X, f"{type(self).__name__}.transform")
        S = self._model.transform(to_core(X), device=self.device, n_threads=self.n_threads)
        return S[self._layer(layer)].T

    def transform_all(self, X):
        """[transform(X, layer=l) for every layer], from one forward pass."""
        X = self._check_X(X, f"{type(self).__name__}.transform_all")
        return [s.T for s in self._model.transform(to_core(X), device=self.device, n_threads=self.n_threads)]

    def fit_transform(self, X, y=None, **fit_params):
        """fit(X, y, **fit_params).transform(X)."""
        return self.fit(X, y, **fit_params).transform(X)

    def held_out_error(self, X, held_out):
        """The held-out error of each layer l on the entries H of X, ||P_H(X - X_hat_l)||_F /
        ||P_H(X)||_F, where X_hat_l is the reconstruction from the forward pass of X with H's
        entries dropped (no held-out value reaches the prediction). held_out: a SciPy sparse
        matrix of X's shape (its nonzero entries) or a boolean mask (True = held out).
        Lower is better; a list with one value per layer."""
        who = f"{type(self).__name__}.held_out_error"
        X = self._check_X(X, who)
        H = check_held_out(held_out, X.shape, who)
        return list(self._model.held_out_errors(to_core(X), H, device=self.device,
                                                n_threads=int(self.n_threads)))

    def inverse_transform(self, W, layer=-1):
        """Maps a representation of ``layer`` (n_samples, ranks[layer]) back to X's space."""
        self._check_fitted()
        W = check_array(W, f"{type(self).__name__}.inverse_transform", nonnegative=False)
        C = self.components_[self._layer(layer)]
        if W.shape[1] != C.shape[0]:
            raise ValueError(f"{type(self).__name__}.inverse_transform: W has {W.shape[1]} columns "
                             f"but layer {layer} has rank {C.shape[0]}")
        return np.asarray(W @ C)

    def score(self, X, y=None):
        """Higher is better: the accuracy of predict on the known labels of y (y != -1) for a
        supervised model given y, otherwise minus the relative reconstruction error
        ||X - X_hat||_F / ||X||_F of the last layer, with X_hat from transform(X) (the forward
        pass). On the training data this is -relative_errors_[-1] for NeuralNMF (fitted
        without held-out entries), whose coefficients are that pass; a baseline's
        relative_errors_ comes from the coefficients it fitted, so its score(X) differs."""
        if y is not None and getattr(self, "classes_", None) is not None:
            _, known, _ = check_labels(y, np.shape(X)[0], f"{type(self).__name__}.score")
            y = np.asarray(y).ravel()
            pred = self.predict(X)
            k = known.astype(bool)
            return float(np.mean(pred[k] == y[k]))
        X = self._check_X(X, f"{type(self).__name__}.score")
        rep = self._model.evaluate(to_core(X), device=self.device, n_threads=self.n_threads)
        return -rep[-1]["rel_error"]

    def _layer(self, layer):
        L = len(self.ranks_)
        if not isinstance(layer, (int, np.integer)) or not -L <= layer < L:
            raise ValueError(f"layer must be an int in [{-L}, {L}), got {layer!r}")
        return int(layer) % L

    # ---- topics and hierarchy as plain Python structures ----

    def top_terms(self, vocabulary=None, n=10, layer=None):
        """The n strongest features of each topic: for one layer a list (one per topic) of
        lists of terms, for layer=None a list over layers. Without a vocabulary, feature
        indices. vocabulary: sequence of terms (e.g. TfidfVectorizer.get_feature_names_out())."""
        self._check_fitted()
        if vocabulary is not None:
            vocabulary = list(vocabulary)
            if len(vocabulary) != self.n_features_in_:
                raise ValueError(f"top_terms: vocabulary has {len(vocabulary)} terms but the "
                                 f"model has {self.n_features_in_} features")
        if n < 1:
            raise ValueError(f"top_terms: n must be >= 1, got {n}")
        layers = range(len(self.ranks_)) if layer is None else [self._layer(layer)]
        out = []
        for l in layers:
            idx = self._model.top_features(l, int(n))
            out.append([[vocabulary[i] if vocabulary is not None else int(i) for i in t] for t in idx])
        return out if layer is None else out[0]

    def coherence(self, X, n=10, layer=None):
        """NPMI coherence of each topic's n strongest features on the corpus X (documents x
        features; document co-occurrence, -1 for features never together; see
        include/nnmf/topics.hpp): for one layer a list (one value per topic), for layer=None
        a list over layers. The mean of a layer's list is the layer's coherence."""
        self._check_fitted()
        X = self._check_X(X, f"{type(self).__name__}.coherence")
        if n < 2:
            raise ValueError(f"coherence: n must be >= 2 (pairs of terms), got {n}")
        layers = range(len(self.ranks_)) if layer is None else [self._layer(layer)]
        out = [list(_fn(X, "npmi")(to_core(X), self._model.top_features(l, int(n)))) for l in layers]
        return out if layer is None else out[0]

    def hierarchy(self, min_weight=0.0):
        """Which topics of layer l feed each topic of layer l+1: a list over l of lists (one
        per topic j of layer l+1) of (topic i of layer l, share) pairs, strongest first, with
        share = A(l+1)[i, j] / sum_i A(l+1)[i, j]; shares below min_weight are left out."""
        self._check_fitted()
        out = []
        for A in self.factors_[1:]:
            col = A.sum(axis=0)
            layer = []
            for j in range(A.shape[1]):
                share = A[:, j] / col[j] if col[j] > 0 else A[:, j] * 0
                order = np.argsort(-share, kind="stable")
                layer.append([(int(i), float(share[i])) for i in order if share[i] > min_weight])
            out.append(layer)
        return out

    def plot_hierarchy(self, layer=1, ax=None):
        """Heat map of A(layer) (topics of layer-1 by topics of layer) with matplotlib."""
        self._check_fitted()
        try:
            import matplotlib.pyplot as plt
        except ImportError:
            raise ImportError("plot_hierarchy needs matplotlib (apt install python3-matplotlib)") from None
        A = self.factors_[self._layer(layer)]
        if ax is None:
            _, ax = plt.subplots()
        im = ax.imshow(A / np.maximum(A.sum(axis=0, keepdims=True), 1e-300), aspect="auto", cmap="viridis")
        ax.set_xlabel(f"topic of layer {self._layer(layer)}")
        ax.set_ylabel(f"topic of layer {self._layer(layer) - 1}")
        ax.figure.colorbar(im, ax=ax, label="share")
        return ax

    # ---- persistence ----

    def save(self, path):
        """Writes the factors, classifier and history in nnmf's checksummed model format
        (docs/model_format.md), readable by the C++ library and `nnmf transform|eval|topics`."""
        self._check_fitted()
        self._model.save(os.fspath(path))

    @classmethod
    def load(cls, path, **params):
        """A fitted estimator from a model file (save, or `nnmf fit`'s model.nnmf). Class labels
        are not in the file: predict returns class indices 0..c-1."""
        path = os.fspath(path)
        try:
            model = _nnmf.Model64.load(path)
        except Exception:
            model = _nnmf.Model32.load(path)
        est = cls(**params)
        if "ranks" in est.get_params():
            est.ranks = tuple(model.ranks)
        est._model = model
        est.n_features_in_ = model.features
        B = model.classifier
        est.classes_ = np.arange(B.shape[0]) if B is not None else None
        est._set_loaded()
        return est

    def _set_loaded(self):
        self.factors_ = self._model.factors
        self.ranks_ = tuple(self._model.ranks)
        self.n_components_ = self.ranks_[-1]
        self.components_ = [self._model.layer_dictionary(l).T for l in range(len(self.ranks_))]
        self.history_ = self._model.history
        self.loss_curve_ = [h["loss"] for h in self.history_]
        self.n_iter_ = len(self.history_)

    def __getstate__(self):
        state = self.__dict__.copy()
        model = state.pop("_model", None)
        if model is not None:
            # The pickle carries the model in its checksummed file format.
            with tempfile.TemporaryDirectory() as d:
                p = os.path.join(d, "model.nnmf")
                model.save(p)
                with open(p, "rb") as fh:
                    state["_model_bytes"] = (isinstance(model, _nnmf.Model32), fh.read())
        return state

    def __setstate__(self, state):
        blob = state.pop("_model_bytes", None)
        self.__dict__.update(state)
        if blob is not None:
            is32, data = blob
            with tempfile.TemporaryDirectory() as d:
                p = os.path.join(d, "model.nnmf")
                with open(p, "wb") as fh:
                    fh.write(data)
                self._model = (_nnmf.Model32 if is32 else _nnmf.Model64).load(p)

    def _more_tags(self):
        return {"requires_positive_X": True, "preserves_dtype": [np.float64, np.float32]}


class _ClassifierPart:
    """predict for the estimators that take labels (NMF does not)."""

    def predict(self, X):
        """Classes of X by the classifier of a supervised fit (argmax of B S_L)."""
        self._check_fitted()
        B = self._model.classifier
        if B is None or self.classes_ is None:
            raise AttributeError(f"{type(self).__name__}.predict: the model was fitted without "
                                 f"labels; pass y to fit")
        S = self.transform(X)
        return self.classes_[np.argmax(S @ B.T, axis=1)]


def _observed(X, held):
    """X with the entries of the boolean matrix held set to 0."""
    if issparse(X):
        return X - X.multiply(held)
    return np.where(held.toarray(), 0, X)


def _norm(X):
    if issparse(X):
        return float(np.sqrt(np.dot(X.data.astype(np.float64), X.data.astype(np.float64))))
    return float(np.linalg.norm(X.astype(np.float64, copy=False)))


def _any_held_out_value(X, H):
    """Whether X is nonzero somewhere on the held-out pattern H (core tuple)."""
    _, _, indptr, indices = H
    rows = np.repeat(np.arange(X.shape[0]), np.diff(indptr))
    values = X[rows, indices]
    return bool(np.any(np.asarray(values) != 0))


def _nnz(X):
    return X.nnz if issparse(X) else int(np.count_nonzero(X))


def _model_class(X):
    return _nnmf.Model32 if X.dtype == np.float32 else _nnmf.Model64


def _fn(X, name):
    return getattr(_nnmf, name + ("32" if X.dtype == np.float32 else "64"))


def _check_ranks_fit(ranks, X, who, strict=True):
    n, f = X.shape
    if ranks[0] > f:
        raise ValueError(f"{who}: ranks[0] = {ranks[0]} is larger than n_features = {f} "
                         f"(X has shape {X.shape}); lower the ranks")
    for a, b in zip(ranks, ranks[1:]):
        if (b >= a) if strict else (b > a):
            raise ValueError(f"{who}: ranks must {'decrease' if strict else 'not increase'} "
                             f"layer by layer, got {tuple(ranks)}")


class NeuralNMF(_ClassifierPart, _Hierarchy):
    """Neural NMF (Will et al.): a hierarchy of NNLS layers trained end to end.

    X (n_samples, n_features) ~ S_L A_L^T ... A_0^T. ``transform(X, layer=l)`` is S_l^T,
    ``components_[l]`` the topics of layer l over the features (ranks[l], n_features).

    Parameters
    ----------
    ranks : sequence of int, decreasing; ranks[0] <= n_features.
    loss : 'reconstruction', 'energy' or 'both' (see include/nnmf/model.hpp).
    supervision : 'l2' or 'ce' (cross-entropy): the label loss when fit gets y.
    lambda_ : weight of the supervision term.
    max_iter : epoch cap.  tol, n_iter_no_change : stop when the loss decreases by less than
        tol (relative) over n_iter_no_change epochs (FitOptions::rel_tol and patience; None =
        the library's defaults; n_iter_no_change=0 runs max_iter epochs).
    validation_fraction : share of the known labels held out to stop training once their
        accuracy stops improving, keeping the best epoch (FitOptions::validation_fraction; used
        only when it holds out at least 100 labels; None = the library's 0.1, 0 = off).
    held_out_fraction : masked cross-validation: hold out a seeded random set of X's entries,
        round(fraction x nnz) of its nonzero entries and as many zero entries, drawn by the
        library's random_held_out with the fit's seed (the set of `nnmf fit --holdout-fraction F
        --seed S` for random_state=S). In (0, 1); None = off. Not with fit's ``held_out``.
    init : 'nmf' (hierarchical NMF with restarts) or 'random'.
    random_state : None, int or RandomState.
    scaling : 'sum' or 'mean'.  optimizer : 'line-search', 'gd' or 'adam' (learning_rate for
        the last two).
    device : 'cpu' or 'cuda'.  n_threads : host threads (0 = OpenMP's default).
    verbose : log each epoch to the 'nnmf' logger (INFO).
    callback : callable(dict) called after each epoch with epoch, loss, its terms, step and
        seconds.

    Held-out entries (masked cross-validation, missing data)
    --------------------------------------------------------
    ``fit(X, y, held_out=H)`` (H: a SciPy sparse matrix of X's shape, whose nonzero entries are
    held out, or a boolean mask, True = held out) or ``held_out_fraction`` train without ever
    reading the held-out values of X: they are dropped from the forward pass and left out of
    the loss. The set is data, not a hyperparameter, hence a fit argument (like scikit-learn's
    sample_weight); the fraction is a parameter. After such a fit, ``held_out_`` is the set
    used (boolean CSR matrix) and ``held_out_error_`` the error of each layer on it,
    ||P_H(X - X_hat_l)|| / ||P_H(X)|| (``report.json``'s ``held_out_error`` of `nnmf fit
    --holdout`); both are None after a fit without held-out entries.
    ``held_out_error(X, H)`` scores any fitted model on a set H.

    Fitted errors
    -------------
    ``relative_errors_``: each layer's ||X - A_0..A_l S_l||_F / ||X||_F with S_l the forward
    pass of X (the model's coefficients: ``transform(X, layer=l)``), as ``report.json``'s
    ``rel_error`` of `nnmf fit`; after a fit with held-out entries, on the observed entries
    only. ``reconstruction_err_``: relative_errors_[-1] times the norm of X (without the
    held-out entries).
    """

    _supervised = True

    def __init__(self, ranks=(20, 6), *, loss="reconstruction", supervision="l2", lambda_=1.0,
                 max_iter=200, tol=None, n_iter_no_change=None, validation_fraction=None,
                 held_out_fraction=None, init="nmf", random_state=None, scaling="sum",
                 optimizer="line-search", learning_rate=0.0, device="cpu", n_threads=0,
                 verbose=0, callback=None):
        self.ranks = ranks
        self.loss = loss
        self.supervision = supervision
        self.lambda_ = lambda_
        self.max_iter = max_iter
        self.tol = tol
        self.n_iter_no_change = n_iter_no_change
        self.validation_fraction = validation_fraction
        self.held_out_fraction = held_out_fraction
        self.init = init
        self.random_state = random_state
        self.scaling = scaling
        self.optimizer = optimizer
        self.learning_rate = learning_rate
        self.device = device
        self.n_threads = n_threads
        self.verbose = verbose
        self.callback = callback

    def fit(self, X, y=None, held_out=None):
        """Fits the model to X (n_samples, n_features), dense or sparse, nonnegative. y (one
        label per sample, -1 for unknown) makes the fit (semi-)supervised. held_out (a SciPy
        sparse matrix of X's shape: its nonzero entries; or a boolean mask, True = held out):
        entries of X the training never reads, scored in held_out_error_. Returns self."""
        return self._fit(X, y, held_out=held_out)

    def _fit_model(self, X, labels, who, held_out=None):
        ranks = _ranks(self.ranks, who)
        _check_ranks_fit(ranks, X, who)
        seed = _seed(self.random_state)  # one seed for the draw of H and the fit, as the CLI
        H = self._held_out_set(X, held_out, seed, who)
        opts = dict(ranks=ranks, loss=self.loss, scaling=self.scaling, optimizer=self.optimizer,
                    learning_rate=float(self.learning_rate), epochs=int(self.max_iter),
                    rel_tol=None if self.tol is None else float(self.tol),
                    patience=None if self.n_iter_no_change is None else int(self.n_iter_no_change),
                    validation_fraction=(None if self.validation_fraction is None
                                         else float(self.validation_fraction)),
                    init=self.init,
                    seed=seed)
        sup = {}
        if labels is not None:
            sup = dict(labels=labels[0].tolist(), known=labels[1].tolist(),
                       num_classes=len(labels[2]), lambda_=float(self.lambda_),
                       supervision=self.supervision)
        model = _model_class(X).fit(to_core(X), opts, device=self.device, n_threads=int(self.n_threads),
                                    callback=self._epoch_hook(), held_out=H, **sup)
        if len(model.history) >= self.max_iter > 0:
            warnings.warn(f"{type(self).__name__}: reached max_iter={self.max_iter} epochs before "
                          f"the loss settled; raise max_iter", ConvergenceWarning)
        return model, {"held_out": H, "held_out_error": self._held_out_errors(model, X, H)}

    def _epoch_hook(self):
        user, verbose = self.callback, self.verbose
        if user is None and not verbose:
            return None

        def hook(rec):
            if verbose:
                logger.info("epoch %d: loss %.6g (step %.3g, %.1f ms)", rec["epoch"], rec["loss"],
                            rec["step"], 1e3 * rec["seconds"])
            if user is not None:
                user(rec)
        return hook


class NMF(_Hierarchy):
    """NMF X ~ W H (one layer) by alternating NNLS on the batched core (``solver="anls"``),
    HALS coordinate descent (``"hals"``: what ``nnmf fit --method nmf`` uses; on large sparse
    data it reaches a given error sooner) or multiplicative updates (``"mu"``). Like
    sklearn.decomposition.NMF: ``components_`` is H (n_components, n_features) and
    ``transform(X)`` solves W >= 0 for fixed H (NNLS, exact).

    Held-out entries (``fit(X, held_out=H)`` or ``held_out_fraction``, as for NeuralNMF): the
    fit is then masked multiplicative updates (SSNMF without labels, whatever ``solver``; ANLS
    and HALS cannot leave entries out), as `nnmf fit --method nmf --holdout`; ``held_out_``
    and ``held_out_error_`` as for NeuralNMF.

    ``reconstruction_err_`` is ||X - W H||_F of the fitted W and H (as scikit-learn's), and
    ``relative_errors_`` [reconstruction_err_ / ||X||_F], the `nnmf fit --method nmf`
    ``rel_error``; with held-out entries both are taken on the observed entries. They come
    from the fit's W, not from ``transform(X)`` (a fresh NNLS solve, whose error on the
    training data is at most the fitted one), so ``score(X)`` need not equal
    -relative_errors_[0]."""

    _supervised = False

    def __init__(self, n_components=10, *, init="nndsvd", solver="anls", max_iter=200, tol=1e-6,
                 held_out_fraction=None, random_state=None, device="cpu", n_threads=0, verbose=0):
        self.n_components = n_components
        self.init = init
        self.solver = solver
        self.max_iter = max_iter
        self.tol = tol
        self.held_out_fraction = held_out_fraction
        self.random_state = random_state
        self.device = device
        self.n_threads = n_threads
        self.verbose = verbose

    def _fit_model(self, X, labels, who, held_out=None):
        k = _ranks(self.n_components, who)
        if len(k) != 1:
            raise ValueError(f"{who}: n_components must be one int, got {self.n_components!r}")
        k = k[0]
        n, f = X.shape
        if k > min(n, f):
            which = f"n_features = {f}" if f <= n else f"n_samples = {n}"
            raise ValueError(f"{who}: n_components = {k} is larger than {which} (X has shape "
                             f"{X.shape}); lower n_components")
        seed = _seed(self.random_state)
        held = self._held_out_set(X, held_out, seed, who)
        opts = dict(algorithm=self.solver, init=self.init, max_iter=int(self.max_iter),
                    rel_tol=float(self.tol), seed=seed)
        W, H, objective, iters = _fn(X, "nmf")(to_core(X), k, opts, device=self.device,
                                               n_threads=int(self.n_threads), held_out=held)
        if self.verbose:
            logger.info("NMF: %d iterations, objective %.6g", iters, objective[-1] if objective else 0)
        if iters >= self.max_iter > 0:
            warnings.warn(f"NMF: reached max_iter={self.max_iter} before converging (tol={self.tol})",
                          ConvergenceWarning)
        model = _model_class(X).from_factors([W])
        return model, {"n_iter": iters, "objective": objective, "held_out": held,
                       "held_out_error": self._held_out_errors(model, X, held),
                       "relative_errors": self._fitted_errors(X, [W], [H], held)}

    def _set_fitted(self, X, extra):
        super()._set_fitted(X, extra)
        self.loss_curve_ = list(extra["objective"])
        self.components_ = self.components_[0]

    def _set_loaded(self):
        super()._set_loaded()
        self.components_ = self.components_[0]

    def inverse_transform(self, W):
        """W @ components_."""
        self._check_fitted()
        W = check_array(W, "NMF.inverse_transform", nonnegative=False)
        return np.asarray(W @ self.components_)


class _Multilayer(_ClassifierPart, _Hierarchy):
    _supervised = True

    def _common_opts(self, who, X):
        ranks = _ranks(self.ranks, who)
        _check_ranks_fit(ranks, X, who, strict=False)
        if ranks[0] > X.shape[0]:
            raise ValueError(f"{who}: ranks[0] = {ranks[0]} is larger than n_samples = "
                             f"{X.shape[0]} (X has shape {X.shape})")
        return dict(ranks=ranks, algorithm=self.solver, init=self.init, max_iter=int(self.max_iter),
                    rel_tol=float(self.tol), seed=_seed(self.random_state))

    def _run(self, name, X, labels, opts, held_out, who):
        sup = {}
        if labels is not None:
            sup = dict(labels=labels[0].tolist(), known=labels[1].tolist(),
                       num_classes=len(labels[2]), lambda_=float(self.lambda_))
        H = self._held_out_set(X, held_out, opts["seed"], who)  # one seed for the draw and the fit
        A, S, B, objective, layer_objective, iters = _fn(X, name)(
            to_core(X), opts, device=self.device, n_threads=int(self.n_threads), held_out=H, **sup)
        model = _model_class(X).from_factors(A, B)
        return model, {"n_iter": iters, "objective": objective, "layer_objective": layer_objective,
                       "held_out": H, "held_out_error": self._held_out_errors(model, X, H),
                       "relative_errors": self._fitted_errors(X, A, S, H)}


class HierarchicalNMF(_Multilayer):
    """Hierarchical NMF: NMF of X with rank ranks[0], then NMF of each layer's coefficients;
    semi-supervised NMF at the last layer when fit gets y. ``transform`` is the NNLS forward
    pass through the fitted factors (as for NeuralNMF). Held-out entries (``fit(X,
    held_out=H)`` or ``held_out_fraction``, as for NeuralNMF): layer 0 is fitted by masked
    multiplicative updates that never read them; ``held_out_error_`` scores every layer (from
    that forward pass, as the CLI).

    ``relative_errors_`` is each layer's ||X - A_0..A_l S_l||_F / ||X||_F with the
    coefficients S_l the fit produced (not the forward pass of ``transform``), as `nnmf fit
    --method hnmf`'s ``rel_error``; with held-out entries, on the observed entries.
    ``reconstruction_err_`` is relative_errors_[-1] times the norm of X (without the held-out
    entries)."""

    def __init__(self, ranks=(20, 6), *, init="nndsvd", solver="anls", max_iter=200, tol=1e-6,
                 lambda_=1.0, held_out_fraction=None, random_state=None, device="cpu", n_threads=0,
                 verbose=0):
        self.ranks = ranks
        self.init = init
        self.solver = solver
        self.max_iter = max_iter
        self.tol = tol
        self.lambda_ = lambda_
        self.held_out_fraction = held_out_fraction
        self.random_state = random_state
        self.device = device
        self.n_threads = n_threads
        self.verbose = verbose

    def _fit_model(self, X, labels, who, held_out=None):
        model, extra = self._run("hierarchical_nmf", X, labels, self._common_opts(who, X), held_out, who)
        extra["n_iter"] = None  # the per-layer NMFs do not report their iteration counts
        if self.verbose:
            logger.info("HierarchicalNMF: layer objectives %s", extra["layer_objective"])
        return model, extra

    def _set_fitted(self, X, extra):
        super()._set_fitted(X, extra)
        self.layer_objective_ = list(extra["layer_objective"])

    def _more_tags(self):
        tags = super()._more_tags()
        # Expected failures of scikit-learn's estimator checks, with the reason.
        tags["_xfail_checks"] = {
            "check_transformer_n_iter": "the per-layer NMFs of the core do not report their "
                                        "iteration counts, so there is no n_iter_",
        }
        return tags


class DeepNMF(_Multilayer):
    """Deep NMF (after Flenner & Hunter): forward multilayer NMF with max pooling along the
    samples (``pool``), a semi-supervised last layer when fit gets y, then multiplicative-update
    backpropagation (``backward_max_iter`` iterations). Held-out entries (``fit(X,
    held_out=H)`` or ``held_out_fraction``, as for NeuralNMF): layer 0 is fitted, forward and
    backward, by masked multiplicative updates that never read them; ``held_out_error_``
    scores every layer (from the forward pass of ``transform``, as the CLI).

    ``relative_errors_`` is each layer's ||X - A_0..A_l S_l||_F / ||X||_F with the
    coefficients S_l the fit produced (with pooling, each sample scored by its group's code),
    not the forward pass of ``transform``, as `nnmf fit --method deep`'s ``rel_error``; with
    held-out entries, on the observed entries. ``reconstruction_err_`` is relative_errors_[-1]
    times the norm of X (without the held-out entries)."""

    def __init__(self, ranks=(20, 6), *, pool=0, init="nndsvd", solver="anls", max_iter=200,
                 tol=1e-6, backward_max_iter=300, backward_tol=1e-6, lambda_=1.0,
                 held_out_fraction=None, random_state=None, device="cpu", n_threads=0, verbose=0):
        self.ranks = ranks
        self.pool = pool
        self.init = init
        self.solver = solver
        self.max_iter = max_iter
        self.tol = tol
        self.backward_max_iter = backward_max_iter
        self.backward_tol = backward_tol
        self.lambda_ = lambda_
        self.held_out_fraction = held_out_fraction
        self.random_state = random_state
        self.device = device
        self.n_threads = n_threads
        self.verbose = verbose

    def _fit_model(self, X, labels, who, held_out=None):
        opts = self._common_opts(who, X)
        opts.update(pool=int(self.pool), backward_max_iter=int(self.backward_max_iter),
                    backward_rel_tol=float(self.backward_tol))
        model, extra = self._run("deep_nmf", X, labels, opts, held_out, who)
        if self.verbose:
            logger.info("DeepNMF: %d backward iterations", extra["n_iter"])
        return model, extra

    def _set_fitted(self, X, extra):
        super()._set_fitted(X, extra)
        self.loss_curve_ = list(extra["objective"])
        self.layer_objective_ = list(extra["layer_objective"])
