// _nnmf: the compiled part of the Python package. Thin by design: it converts NumPy buffers
// and CSC arrays at the door, releases the GIL around every C++ call that does work, and maps
// nnmf's typed exceptions to Python's. Everything scikit-learn-shaped (orientation, dtype
// policy, labels, fitted attributes) lives in python/nnmf/*.py.
//
// Orientation: every matrix crossing this boundary is in the core's orientation, features x
// samples, column-major (a C-ordered NumPy X of shape (n_samples, n_features) is exactly that
// buffer, so X.T crosses without a copy). Sparse data crosses as the CSC arrays of that
// orientation, i.e. the CSR arrays of the user's X.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "nnmf/nnmf.hpp"

namespace py = pybind11;
using nnmf::index_t;

namespace {

// ---- data at the door ----------------------------------------------------------------------

/// A dense view borrowed from a NumPy array, or a CSC matrix built from its arrays. The
/// array reference keeps the buffer alive while the GIL is released.
template <class T>
struct Data {
  py::array keep;
  nnmf::MatrixView<const T> dense;
  std::optional<nnmf::CscMatrix<T>> csc;
  bool sparse() const { return csc.has_value(); }
  index_t rows() const { return sparse() ? csc->rows() : dense.rows; }
  index_t cols() const { return sparse() ? csc->cols() : dense.cols; }
};

/// Column-major view of a 2-D array of dtype T whose first axis is contiguous (any column
/// stride): F-ordered arrays, X.T of a C-ordered X, and row/column slices of those.
template <class T>
nnmf::MatrixView<const T> dense_view(const py::array& a, const char* name) {
  if (!a.dtype().is(py::dtype::of<T>()))
    throw py::type_error(std::string(name) + ": dtype " + py::str(a.dtype()).cast<std::string>() +
                         " does not match the operation's (" +
                         py::str(py::dtype::of<T>()).cast<std::string>() + ")");
  if (a.ndim() != 2)
    throw py::value_error(std::string(name) + ": expected a 2-D array, got " +
                          std::to_string(a.ndim()) + "-D");
  const index_t rows = a.shape(0), cols = a.shape(1);
  const auto item = static_cast<index_t>(sizeof(T));
  const index_t s0 = a.strides(0), s1 = a.strides(1);
  index_t ld = rows > 0 ? rows : 1;
  if (cols > 1) {
    if (s1 <= 0 || s1 % item != 0 || s1 / item < ld)
      throw py::value_error(std::string(name) + ": column stride " + std::to_string(s1) +
                            " bytes is not a column-major layout (internal: pass np.asfortranarray)");
    ld = s1 / item;
  }
  if (rows > 1 && s0 != item)
    throw py::value_error(std::string(name) + ": row stride " + std::to_string(s0) +
                          " bytes is not contiguous (internal: pass np.asfortranarray)");
  return {static_cast<const T*>(a.data()), rows, cols, ld};
}

/// Data from either a 2-D array or a tuple (rows, cols, colptr, rowind, values) of CSC arrays.
/// CSC arrays are copied once into the core's CscMatrix (64-bit indices), never densified.
template <class T>
Data<T> to_data(const py::object& obj, const char* name) {
  Data<T> d;
  if (py::isinstance<py::array>(obj)) {
    d.keep = py::reinterpret_borrow<py::array>(obj);
    d.dense = dense_view<T>(d.keep, name);
    return d;
  }
  if (!py::isinstance<py::tuple>(obj) || py::len(obj) != 5)
    throw py::type_error(std::string(name) + ": expected an array or CSC arrays");
  const auto t = py::reinterpret_borrow<py::tuple>(obj);
  const auto rows = t[0].cast<index_t>(), cols = t[1].cast<index_t>();
  auto colptr = py::array_t<index_t, py::array::c_style | py::array::forcecast>::ensure(t[2]);
  auto rowind = py::array_t<index_t, py::array::c_style | py::array::forcecast>::ensure(t[3]);
  auto values = py::array::ensure(t[4]);
  if (!colptr || !rowind || !values) throw py::type_error(std::string(name) + ": bad CSC arrays");
  if (!values.dtype().is(py::dtype::of<T>()))
    throw py::type_error(std::string(name) + ": sparse values have dtype " +
                         py::str(values.dtype()).cast<std::string>() + ", expected " +
                         py::str(py::dtype::of<T>()).cast<std::string>());
  auto vals = py::array_t<T, py::array::c_style>::ensure(values);
  std::vector<index_t> cp(colptr.data(), colptr.data() + colptr.size());
  std::vector<index_t> ri(rowind.data(), rowind.data() + rowind.size());
  std::vector<T> vv(vals.data(), vals.data() + vals.size());
  d.csc.emplace(rows, cols, std::move(cp), std::move(ri), std::move(vv));
  return d;
}

/// Hands a Matrix to NumPy without copying: the matrix moves into the array's base object.
template <class T>
py::array_t<T> to_numpy(nnmf::Matrix<T>&& m) {
  if (m.empty()) return py::array_t<T>(std::vector<py::ssize_t>{m.rows(), m.cols()});
  auto* owned = new nnmf::Matrix<T>(std::move(m));
  py::capsule base(owned, [](void* p) { delete static_cast<nnmf::Matrix<T>*>(p); });
  const py::ssize_t item = sizeof(T);
  return py::array_t<T>({owned->rows(), owned->cols()}, {item, item * owned->ld()}, owned->data(), base);
}

template <class T>
nnmf::Matrix<T> to_matrix(const py::array& a, const char* name) {
  return nnmf::Matrix<T>::copy_of(dense_view<T>(a, name));
}

/// A held-out set from the tuple (rows, cols, col_ptr, row_idx) of its CSC pattern in the
/// core's orientation (the CSR arrays of the user's mask), or none for None. The core checks it.
nnmf::HeldOut to_held_out(const py::object& obj) {
  nnmf::HeldOut H;
  if (obj.is_none()) return H;
  if (!py::isinstance<py::tuple>(obj) || py::len(obj) != 4)
    throw py::type_error("held_out: expected (rows, cols, col_ptr, row_idx)");
  const auto t = py::reinterpret_borrow<py::tuple>(obj);
  H.rows = t[0].cast<index_t>();
  H.cols = t[1].cast<index_t>();
  H.col_ptr = t[2].cast<std::vector<index_t>>();
  H.row_idx = t[3].cast<std::vector<index_t>>();
  return H;
}

py::tuple held_out_to_python(const nnmf::HeldOut& H) {
  return py::make_tuple(H.rows, H.cols, py::array_t<index_t>(H.col_ptr.size(), H.col_ptr.data()),
                        py::array_t<index_t>(H.row_idx.size(), H.row_idx.data()));
}

py::array_t<std::uint8_t> support_to_numpy(const nnmf::SupportMask& s) {
  py::array_t<std::uint8_t, py::array::f_style> out({s.k(), s.cols()});
  auto* p = out.mutable_data();
  for (index_t j = 0; j < s.cols(); ++j)
    for (index_t i = 0; i < s.k(); ++i) p[i + j * s.k()] = s.test(i, j) ? 1 : 0;
  return out;
}

nnmf::SupportMask support_from_numpy(const py::array& a, index_t k, index_t m) {
  auto u = py::array_t<std::uint8_t, py::array::f_style | py::array::forcecast>::ensure(a);
  if (!u || u.ndim() != 2 || u.shape(0) != k || u.shape(1) != m)
    throw py::value_error("support: expected a " + nnmf::shape_string(k, m) + " array");
  nnmf::SupportMask s(k, m);
  for (index_t j = 0; j < m; ++j)
    for (index_t i = 0; i < k; ++i) s.set(i, j, u.data()[i + j * k] != 0);
  return s;
}

template <class E>
py::array_t<std::uint8_t> status_to_numpy(const std::vector<E>& st) {
  py::array_t<std::uint8_t> out(static_cast<py::ssize_t>(st.size()));
  for (std::size_t j = 0; j < st.size(); ++j) out.mutable_data()[j] = static_cast<std::uint8_t>(st[j]);
  return out;
}

nnmf::Context make_context(const std::string& device, int threads) {
  if (threads < 0) throw nnmf::InvalidArgument("n_threads must be >= 0, got " + std::to_string(threads));
  return nnmf::parse_backend(device) == nnmf::Backend::cuda ? nnmf::Context::cuda(0, threads)
                                                            : nnmf::Context::host(threads);
}

/// f(ctx, X) with X in its own storage (CSC or the dense view), the GIL released and the
/// context made meanwhile: the one way every binding calls into the core.
template <class T, class F>
auto without_gil(const Data<T>& d, const std::string& device, int threads, F&& f) {
  py::gil_scoped_release nogil;
  const auto ctx = make_context(device, threads);
  return d.sparse() ? f(ctx, *d.csc) : f(ctx, d.dense);
}

// ---- options from keyword dictionaries ---------------------------------------------------------

/// Reads the keys of a dict of options, and rejects any key left unread (a typo in the
/// Python layer would otherwise be ignored).
class Options {
 public:
  explicit Options(py::dict d) : d_(std::move(d)) {}
  template <class V>
  V get(const char* key, V dflt) {
    used_.emplace_back(key);
    return d_.contains(key) && !d_[key].is_none() ? d_[key].cast<V>() : dflt;
  }
  void done(const char* who) const {
    for (auto kv : d_) {
      const auto k = kv.first.cast<std::string>();
      if (std::find(used_.begin(), used_.end(), k) == used_.end())
        throw py::type_error(std::string(who) + ": unknown option '" + k + "'");
    }
  }

 private:
  py::dict d_;
  std::vector<std::string> used_;
};

std::optional<nnmf::Supervision> supervision(const py::object& labels, const py::object& known,
                                             int num_classes, double lambda, const std::string& loss,
                                             const std::string& classifier) {
  if (labels.is_none()) return std::nullopt;
  nnmf::Supervision s;
  s.labels = labels.cast<std::vector<int>>();
  if (!known.is_none()) s.known = known.cast<std::vector<std::uint8_t>>();
  s.num_classes = num_classes;
  s.lambda = lambda;
  if (loss == "l2") {
    s.loss = nnmf::SupervisionLoss::l2;
  } else if (loss == "ce" || loss == "cross-entropy") {
    s.loss = nnmf::SupervisionLoss::cross_entropy;
  } else {
    throw nnmf::InvalidArgument("supervision must be 'l2' or 'ce', got '" + loss + "'");
  }
  if (classifier == "trained" || s.loss == nnmf::SupervisionLoss::cross_entropy)
    s.classifier = nnmf::ClassifierMode::trained;  // cross-entropy has no closed form
  else if (classifier != "closed")
    throw nnmf::InvalidArgument("classifier must be 'closed' or 'trained', got '" + classifier + "'");
  return s;
}

nnmf::FitOptions fit_options(Options& o) {
  nnmf::FitOptions f;
  f.ranks = o.get("ranks", std::vector<index_t>{});
  const auto loss = o.get<std::string>("loss", "reconstruction");
  if (loss == "reconstruction") {
    f.reconstruction_weight = 1, f.energy_weight = 0;
  } else if (loss == "energy") {
    f.reconstruction_weight = 0, f.energy_weight = 1;
  } else if (loss == "both") {
    f.reconstruction_weight = 1, f.energy_weight = 1;
  } else {
    throw nnmf::InvalidArgument("loss must be 'reconstruction', 'energy' or 'both', got '" + loss + "'");
  }
  const auto scaling = o.get<std::string>("scaling", "sum");
  if (scaling == "sum") f.scaling = nnmf::Scaling::sum;
  else if (scaling == "mean") f.scaling = nnmf::Scaling::mean;
  else throw nnmf::InvalidArgument("scaling must be 'sum' or 'mean', got '" + scaling + "'");
  const auto opt = o.get<std::string>("optimizer", "line-search");
  if (opt == "line-search") f.optimizer = nnmf::Optimizer::line_search;
  else if (opt == "gd") f.optimizer = nnmf::Optimizer::gd;
  else if (opt == "adam") f.optimizer = nnmf::Optimizer::adam;
  else throw nnmf::InvalidArgument("optimizer must be 'line-search', 'gd' or 'adam', got '" + opt + "'");
  f.learning_rate = o.get("learning_rate", f.learning_rate);
  f.epochs = o.get("epochs", f.epochs);
  f.rel_tol = o.get("rel_tol", f.rel_tol);
  f.patience = o.get("patience", f.patience);
  f.validation_fraction = o.get("validation_fraction", f.validation_fraction);
  const auto init = o.get<std::string>("init", "nmf");
  if (init == "nmf") f.init = nnmf::Init::nmf;
  else if (init == "random") f.init = nnmf::Init::random;
  else throw nnmf::InvalidArgument("init must be 'nmf' or 'random', got '" + init + "'");
  f.init_iterations = o.get("init_iterations", f.init_iterations);
  f.init_restarts = o.get("init_restarts", f.init_restarts);
  f.seed = o.get<std::uint64_t>("seed", 0);
  return f;
}

nnmf::NmfOptions nmf_options(Options& o) {
  nnmf::NmfOptions n;
  const auto alg = o.get<std::string>("algorithm", "anls");
  if (alg == "anls") n.algorithm = nnmf::NmfAlgorithm::anls;
  else if (alg == "mu") n.algorithm = nnmf::NmfAlgorithm::mu;
  else if (alg == "hals") n.algorithm = nnmf::NmfAlgorithm::hals;
  else throw nnmf::InvalidArgument("solver must be 'anls', 'hals' or 'mu', got '" + alg + "'");
  const auto init = o.get<std::string>("init", "nndsvd");
  if (init == "nndsvd") n.init = nnmf::NmfInit::nndsvd;
  else if (init == "random") n.init = nnmf::NmfInit::random;
  else throw nnmf::InvalidArgument("init must be 'nndsvd' or 'random', got '" + init + "'");
  n.max_iter = o.get("max_iter", n.max_iter);
  n.rel_tol = o.get("rel_tol", n.rel_tol);
  n.seed = o.get<std::uint64_t>("seed", 0);
  return n;
}

// ---- progress and Ctrl-C -----------------------------------------------------------------------

py::dict epoch_dict(const nnmf::EpochRecord& r) {
  py::dict d(py::arg("epoch") = r.epoch, py::arg("loss") = r.loss,
             py::arg("reconstruction") = r.reconstruction, py::arg("energy") = r.energy,
             py::arg("supervision") = r.supervision, py::arg("step") = r.step,
             py::arg("seconds") = r.seconds, py::arg("nnls_iterations") = r.nnls_iterations,
             py::arg("line_search_trials") = r.line_search_trials);
  if (r.validation_accuracy >= 0) d["validation_accuracy"] = r.validation_accuracy;
  return d;
}

/// The fit's callbacks: on_epoch calls a Python callable, should_stop checks for signals. Both
/// run on the fit's thread with the GIL released, so each reacquires it. A Python exception
/// (KeyboardInterrupt from Ctrl-C, or one raised by the callback) ends the fit at the next
/// poll and is re-raised once the fit has returned.
struct FitHooks {
  py::object callback;
  std::optional<py::error_already_set> error;

  void install(nnmf::FitOptions& f) {
    if (!callback.is_none())
      f.on_epoch = [this](const nnmf::EpochRecord& r) {
        py::gil_scoped_acquire gil;
        if (error) return;
        try {
          callback(epoch_dict(r));
        } catch (py::error_already_set& e) {
          error.emplace(std::move(e));
        }
      };
    f.should_stop = [this]() {
      py::gil_scoped_acquire gil;
      if (!error && PyErr_CheckSignals() != 0) error.emplace();
      return error.has_value();
    };
  }
  void rethrow() {
    if (error) {
      py::error_already_set e = std::move(*error);
      error.reset();
      throw e;
    }
  }
};

// ---- the model ---------------------------------------------------------------------------------

template <class T>
void bind_model(py::module_& m, const char* name) {
  using Model = nnmf::NeuralNmf<T>;
  py::class_<Model>(m, name)
      .def_static(
          "fit",
          [](const py::object& X, py::dict opts, const std::string& device, int threads,
             const py::object& labels, const py::object& known, int num_classes, double lambda,
             const std::string& sup_loss, const std::string& classifier, const py::object& callback,
             const py::object& held_out) {
            Options o(std::move(opts));
            nnmf::FitOptions f = fit_options(o);
            o.done("NeuralNmf.fit");
            f.supervision = supervision(labels, known, num_classes, lambda, sup_loss, classifier);
            f.held_out = to_held_out(held_out);
            const Data<T> d = to_data<T>(X, "X");
            FitHooks hooks{callback, std::nullopt};
            hooks.install(f);
            std::optional<Model> model;
            model.emplace(without_gil(d, device, threads,
                                      [&](const auto& ctx, const auto& x) { return Model::fit(ctx, x, f); }));
            hooks.rethrow();
            return std::move(*model);
          },
          py::arg("X"), py::arg("options"), py::arg("device") = "cpu", py::arg("n_threads") = 0,
          py::arg("labels") = py::none(), py::arg("known") = py::none(), py::arg("num_classes") = 0,
          py::arg("lambda_") = 1.0, py::arg("supervision") = "l2", py::arg("classifier") = "closed",
          py::arg("callback") = py::none(), py::arg("held_out") = py::none())
      .def_static(
          "from_factors",
          [](const std::vector<py::array>& A, const py::object& B) {
            std::vector<nnmf::Matrix<T>> f;
            for (const auto& a : A) f.push_back(to_matrix<T>(a, "factor"));
            nnmf::Matrix<T> b;
            if (!B.is_none()) b = to_matrix<T>(B.cast<py::array>(), "classifier");
            return Model::from_factors(std::move(f), std::move(b));
          },
          py::arg("factors"), py::arg("classifier") = py::none())
      .def_static("load", [](const std::string& path) { return Model::load(path); }, py::arg("path"))
      .def("save", &Model::save, py::arg("path"), py::call_guard<py::gil_scoped_release>())
      .def(
          "transform",
          [](const Model& self, const py::object& X, const std::string& device, int threads) {
            const Data<T> d = to_data<T>(X, "X");
            std::vector<nnmf::Matrix<T>> S = without_gil(
                d, device, threads, [&](const auto& ctx, const auto& x) { return self.transform(ctx, x); });
            py::list out;
            for (auto& s : S) out.append(to_numpy<T>(std::move(s)));
            return out;
          },
          py::arg("X"), py::arg("device") = "cpu", py::arg("n_threads") = 0)
      .def(
          "evaluate",
          [](const Model& self, const py::object& X, const std::string& device, int threads,
             const std::vector<std::vector<int>>& labels, const std::vector<std::uint8_t>& fit_mask,
             const std::vector<std::uint8_t>& score_mask) {
            const Data<T> d = to_data<T>(X, "X");
            std::vector<nnmf::LayerReport> rep =
                without_gil(d, device, threads, [&](const auto& ctx, const auto& x) {
                  return self.evaluate(ctx, x, labels, fit_mask, score_mask);
                });
            py::list out;
            for (const auto& r : rep) {
              py::dict l(py::arg("rank") = r.rank, py::arg("rel_error") = r.rel_error);
              if (r.accuracy) l["accuracy"] = *r.accuracy;
              out.append(l);
            }
            return out;
          },
          py::arg("X"), py::arg("device") = "cpu", py::arg("n_threads") = 0,
          py::arg("labels") = std::vector<std::vector<int>>{}, py::arg("fit_mask") = std::vector<std::uint8_t>{},
          py::arg("score_mask") = std::vector<std::uint8_t>{})
      .def(
          "held_out_errors",
          [](const Model& self, const py::object& X, const py::object& held_out, const std::string& device,
             int threads) {
            const Data<T> d = to_data<T>(X, "X");
            const nnmf::HeldOut H = to_held_out(held_out);
            return without_gil(d, device, threads, [&](const auto& ctx, const auto& x) {
              return nnmf::held_out_errors<T>(ctx, self, x, H);
            });
          },
          py::arg("X"), py::arg("held_out"), py::arg("device") = "cpu", py::arg("n_threads") = 0)
      .def(
          "observed_errors",
          [](const Model& self, const py::object& X, const py::object& held_out, const std::string& device,
             int threads) {
            const Data<T> d = to_data<T>(X, "X");
            const nnmf::HeldOut H = to_held_out(held_out);
            return without_gil(d, device, threads, [&](const auto& ctx, const auto& x) {
              return nnmf::observed_errors<T>(ctx, self, x, H);
            });
          },
          py::arg("X"), py::arg("held_out"), py::arg("device") = "cpu", py::arg("n_threads") = 0)
      .def_property_readonly("factors",
                             [](const Model& self) {
                               py::list out;
                               for (const auto& a : self.factors()) out.append(to_numpy<T>(nnmf::Matrix<T>(a)));
                               return out;
                             })
      .def_property_readonly("classifier",
                             [](const Model& self) -> py::object {
                               if (self.classifier().empty()) return py::none();
                               return to_numpy<T>(nnmf::Matrix<T>(self.classifier()));
                             })
      .def_property_readonly("history",
                             [](const Model& self) {
                               py::list out;
                               for (const auto& r : self.history()) out.append(epoch_dict(r));
                               return out;
                             })
      .def_property_readonly("ranks", &Model::ranks)
      .def_property_readonly("features", &Model::features)
      .def("layer_dictionary", [](const Model& self, index_t l) { return to_numpy<T>(self.layer_dictionary(l)); })
      .def("top_features", &Model::top_features, py::arg("layer"), py::arg("count"));
}

// ---- functions ---------------------------------------------------------------------------------

template <class T>
py::tuple nnls_impl(const py::array& A, const py::object& X, double tol, int max_iter,
                    const std::string& device, int threads) {
  const auto a = dense_view<T>(A, "A");
  const Data<T> d = to_data<T>(X, "B");
  nnmf::NnlsOptions o;
  o.tol = tol;
  o.max_iter = max_iter;
  std::optional<nnmf::NnlsResult<T>> r;
  r.emplace(without_gil(d, device, threads,
                        [&](const auto& ctx, const auto& x) { return nnmf::nnls<T>(ctx, a, x, o); }));
  auto support = support_to_numpy(r->support);
  auto status = status_to_numpy(r->status);
  return py::make_tuple(to_numpy<T>(std::move(r->S)), support, status, r->iterations);
}

template <class T>
py::tuple nnls_backward_impl(const py::array& A, const py::object& X, const py::array& S,
                             const py::array& support, const py::array& dS, bool compute_dA,
                             bool compute_dX, const std::string& device, int threads) {
  const auto a = dense_view<T>(A, "A");
  const Data<T> d = to_data<T>(X, "B");
  const auto s = dense_view<T>(S, "X");
  const auto ds = dense_view<T>(dS, "grad_X");
  const nnmf::SupportMask mask = support_from_numpy(support, s.rows, s.cols);
  nnmf::BackwardOptions o;
  o.compute_dA = compute_dA;
  o.compute_dX = compute_dX;
  std::optional<nnmf::NnlsGradients<T>> g;
  g.emplace(without_gil(d, device, threads, [&](const auto& ctx, const auto& x) {
    return nnmf::nnls_backward<T>(ctx, a, x, s, mask, ds, o);
  }));
  auto status = status_to_numpy(g->status);
  py::object dA = compute_dA ? py::object(to_numpy<T>(std::move(g->dA))) : py::none();
  py::object dX = compute_dX ? py::object(to_numpy<T>(std::move(g->dX))) : py::none();
  return py::make_tuple(dA, dX, status);
}

/// Factors or coefficients A(0..L) / S(0..L) from a list of 2-D arrays (copied).
template <class T>
std::vector<nnmf::Matrix<T>> to_matrices(const std::vector<py::array>& list, const char* name) {
  std::vector<nnmf::Matrix<T>> out;
  out.reserve(list.size());
  for (const auto& a : list) out.push_back(to_matrix<T>(a, name));
  return out;
}

/// Each layer's ||X - A0..Al Sl||_F / ||X||_F from given factors and coefficients
/// (nnmf::relative_errors: what `nnmf fit` reports as rel_error from the S a method fitted).
template <class T>
std::vector<double> relative_errors_impl(const py::object& X, const std::vector<py::array>& A,
                                         const std::vector<py::array>& S, const std::string& device,
                                         int threads) {
  const Data<T> d = to_data<T>(X, "X");
  const auto a = to_matrices<T>(A, "A");
  const auto s = to_matrices<T>(S, "S");
  return without_gil(d, device, threads,
                     [&](const auto& ctx, const auto& x) { return nnmf::relative_errors<T>(ctx, x, a, s); });
}

/// The same on the entries outside the held-out set H (nnmf::observed_errors: rel_error of a
/// fit with --holdout).
template <class T>
std::vector<double> observed_errors_impl(const py::object& X, const std::vector<py::array>& A,
                                         const std::vector<py::array>& S, const py::object& held_out,
                                         const std::string& device, int threads) {
  const Data<T> d = to_data<T>(X, "X");
  const auto a = to_matrices<T>(A, "A");
  const auto s = to_matrices<T>(S, "S");
  const nnmf::HeldOut H = to_held_out(held_out);
  return without_gil(d, device, threads, [&](const auto& ctx, const auto& x) {
    return nnmf::observed_errors<T>(ctx, x, a, s, H);
  });
}

/// The seeded held-out set of X (nnmf::random_held_out, as `nnmf fit --holdout-fraction`).
template <class T>
py::tuple random_held_out_impl(const py::object& X, double fraction, std::uint64_t seed) {
  const Data<T> d = to_data<T>(X, "X");
  const nnmf::HeldOut H = without_gil(d, "cpu", 1, [&](const auto&, const auto& x) {
    return nnmf::random_held_out<T>(x, fraction, seed);
  });
  return held_out_to_python(H);
}

/// NMF with held-out entries: masked multiplicative updates (SSNMF without labels), as
/// `nnmf fit --method nmf --holdout`; the NMF options' iterations, tolerance, seed and start.
template <class T>
py::tuple masked_nmf(const Data<T>& d, index_t k, const nnmf::NmfOptions& n, nnmf::HeldOut H,
                     const std::string& device, int threads) {
  nnmf::SsnmfOptions s;
  s.max_iter = n.max_iter;
  s.rel_tol = n.rel_tol;
  s.seed = n.seed;
  s.init = n.init == nnmf::NmfInit::nndsvd ? nnmf::SsnmfInit::nmf : nnmf::SsnmfInit::random;
  s.held_out = std::move(H);
  std::optional<nnmf::SsnmfResult<T>> r;
  r.emplace(without_gil(d, device, threads,
                        [&](const auto& ctx, const auto& x) { return nnmf::ssnmf<T>(ctx, x, k, s); }));
  return py::make_tuple(to_numpy<T>(std::move(r->A)), to_numpy<T>(std::move(r->S)), r->objective,
                        r->iterations);
}

template <class T>
py::tuple nmf_impl(const py::object& X, index_t k, py::dict opts, const std::string& device, int threads,
                   const py::object& held_out) {
  Options o(std::move(opts));
  const nnmf::NmfOptions n = nmf_options(o);
  o.done("nmf");
  const Data<T> d = to_data<T>(X, "X");
  if (!held_out.is_none()) return masked_nmf<T>(d, k, n, to_held_out(held_out), device, threads);
  std::optional<nnmf::NmfResult<T>> r;
  r.emplace(without_gil(d, device, threads,
                        [&](const auto& ctx, const auto& x) { return nnmf::nmf<T>(ctx, x, k, n); }));
  return py::make_tuple(to_numpy<T>(std::move(r->W)), to_numpy<T>(std::move(r->H)), r->objective,
                        r->iterations);
}

template <class T>
std::vector<double> npmi_impl(const py::object& X, const std::vector<std::vector<index_t>>& topics) {
  const Data<T> d = to_data<T>(X, "X");
  return without_gil(d, "cpu", 1, [&](const auto&, const auto& x) { return nnmf::npmi_coherence<T>(x, topics); });
}

template <class T>
py::dict select_rank_impl(const py::object& X, py::dict opts, const std::string& device, int threads) {
  Options o(std::move(opts));
  nnmf::RankSelectionOptions r;
  r.ranks = o.get("ranks", std::vector<index_t>{});
  r.holdout = o.get("holdout", r.holdout);
  r.replicates = o.get("replicates", r.replicates);
  r.seed = o.get<std::uint64_t>("seed", 0);
  r.nmf = nmf_options(o);  // its "seed" is the same key: one seed, as `nnmf select-rank --seed`
  o.done("select_rank");
  const Data<T> d = to_data<T>(X, "X");
  const nnmf::RankSelection s = without_gil(d, device, threads, [&](const auto& ctx, const auto& x) {
    return nnmf::select_rank<T>(ctx, x, r);
  });
  py::list scores;
  for (const auto& sc : s.scores)
    scores.append(py::dict(py::arg("rank") = sc.rank, py::arg("test_error") = sc.test_error,
                           py::arg("train_error") = sc.train_error, py::arg("mean_test_error") = sc.mean_test,
                           py::arg("mean_train_error") = sc.mean_train));
  return py::dict(py::arg("scores") = scores, py::arg("best_rank") = s.best, py::arg("one_se_rank") = s.one_se);
}

template <class T>
py::tuple multilayer_tuple(nnmf::MultilayerResult<T>&& r) {
  py::list A, S;
  for (auto& a : r.A) A.append(to_numpy<T>(std::move(a)));
  for (auto& s : r.S) S.append(to_numpy<T>(std::move(s)));
  py::object B = r.B.empty() ? py::object(py::none()) : py::object(to_numpy<T>(std::move(r.B)));
  return py::make_tuple(A, S, B, r.objective, r.layer_objective, r.iterations);
}

nnmf::SsnmfOptions ssnmf_options(Options& o) {
  nnmf::SsnmfOptions s;
  s.max_iter = o.get("ssnmf_max_iter", s.max_iter);
  s.rel_tol = o.get("ssnmf_rel_tol", s.rel_tol);
  s.seed = o.get<std::uint64_t>("seed", 0);
  return s;
}

template <class T>
py::tuple hierarchical_impl(const py::object& X, py::dict opts, const std::string& device, int threads,
                            const py::object& labels, const py::object& known, int num_classes,
                            double lambda, const py::object& held_out) {
  Options o(std::move(opts));
  nnmf::HierarchicalNmfOptions h;
  h.held_out = to_held_out(held_out);
  h.ranks = o.get("ranks", std::vector<index_t>{});
  h.nmf = nmf_options(o);
  h.ssnmf = ssnmf_options(o);
  h.seed = h.nmf.seed;
  o.done("hierarchical_nmf");
  h.supervision = supervision(labels, known, num_classes, lambda, "l2", "closed");
  const Data<T> d = to_data<T>(X, "X");
  return multilayer_tuple<T>(without_gil(
      d, device, threads, [&](const auto& ctx, const auto& x) { return nnmf::hierarchical_nmf<T>(ctx, x, h); }));
}

template <class T>
py::tuple deep_impl(const py::object& X, py::dict opts, const std::string& device, int threads,
                    const py::object& labels, const py::object& known, int num_classes, double lambda,
                    const py::object& held_out) {
  Options o(std::move(opts));
  nnmf::DeepNmfOptions p;
  p.held_out = to_held_out(held_out);
  p.ranks = o.get("ranks", std::vector<index_t>{});
  p.pool = o.get<index_t>("pool", 0);
  p.max_iter = o.get("backward_max_iter", p.max_iter);
  p.rel_tol = o.get("backward_rel_tol", p.rel_tol);
  p.forward = nmf_options(o);
  p.ssnmf = ssnmf_options(o);
  p.seed = p.forward.seed;
  o.done("deep_nmf");
  p.supervision = supervision(labels, known, num_classes, lambda, "l2", "closed");
  const Data<T> d = to_data<T>(X, "X");
  nnmf::MultilayerResult<T> r = without_gil(
      d, device, threads, [&](const auto& ctx, const auto& x) { return nnmf::deep_nmf<T>(ctx, x, p); });
  // One column of S per sample, as the CLI writes it: layer l pooled pool^l columns.
  index_t window = 1;
  for (auto& S : r.S) {
    S = nnmf::unpool_columns<T>(S, window, d.cols());
    if (p.pool > 1) window *= p.pool;
  }
  return multilayer_tuple<T>(std::move(r));
}

}  // namespace

PYBIND11_MODULE(_nnmf, m) {
  m.doc() = "nnmf's compiled core (use the nnmf package, not this module)";
  m.attr("__version__") = NNMF_VERSION_STRING;
  m.attr("cuda_compiled") = nnmf::Context::cuda_compiled();
  m.def("cuda_device_count", &nnmf::Context::cuda_device_count);

  // Most derived first: pybind11 tries translators in reverse order of registration.
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const nnmf::OutOfMemory& e) {
      PyErr_SetString(PyExc_MemoryError, e.what());
    } catch (const nnmf::InvalidArgument& e) {  // DimensionMismatch included
      PyErr_SetString(PyExc_ValueError, e.what());
    } catch (const nnmf::IoError& e) {
      PyErr_SetString(PyExc_OSError, e.what());
    } catch (const nnmf::NotCompiled& e) {
      PyErr_SetString(PyExc_RuntimeError, e.what());
    } catch (const nnmf::Error& e) {  // BackendError and the base class
      PyErr_SetString(PyExc_RuntimeError, e.what());
    }
  });

  bind_model<double>(m, "Model64");
  bind_model<float>(m, "Model32");

  // One function per precision: the Python layer picks by the data's dtype.
  m.def("nnls64", &nnls_impl<double>, py::arg("A"), py::arg("B"), py::arg("tol") = 0.0,
        py::arg("max_iter") = 0, py::arg("device") = "cpu", py::arg("n_threads") = 0);
  m.def("nnls32", &nnls_impl<float>, py::arg("A"), py::arg("B"), py::arg("tol") = 0.0,
        py::arg("max_iter") = 0, py::arg("device") = "cpu", py::arg("n_threads") = 0);
  m.def("nnls_backward64", &nnls_backward_impl<double>, py::arg("A"), py::arg("B"), py::arg("X"),
        py::arg("support"), py::arg("grad_X"), py::arg("compute_dA") = true,
        py::arg("compute_dB") = true, py::arg("device") = "cpu", py::arg("n_threads") = 0);
  m.def("nnls_backward32", &nnls_backward_impl<float>, py::arg("A"), py::arg("B"), py::arg("X"),
        py::arg("support"), py::arg("grad_X"), py::arg("compute_dA") = true,
        py::arg("compute_dB") = true, py::arg("device") = "cpu", py::arg("n_threads") = 0);
  m.def("nmf64", &nmf_impl<double>, py::arg("X"), py::arg("k"), py::arg("options"),
        py::arg("device") = "cpu", py::arg("n_threads") = 0, py::arg("held_out") = py::none());
  m.def("nmf32", &nmf_impl<float>, py::arg("X"), py::arg("k"), py::arg("options"),
        py::arg("device") = "cpu", py::arg("n_threads") = 0, py::arg("held_out") = py::none());
  m.def("relative_errors64", &relative_errors_impl<double>, py::arg("X"), py::arg("A"), py::arg("S"),
        py::arg("device") = "cpu", py::arg("n_threads") = 0);
  m.def("relative_errors32", &relative_errors_impl<float>, py::arg("X"), py::arg("A"), py::arg("S"),
        py::arg("device") = "cpu", py::arg("n_threads") = 0);
  m.def("observed_errors64", &observed_errors_impl<double>, py::arg("X"), py::arg("A"), py::arg("S"),
        py::arg("held_out"), py::arg("device") = "cpu", py::arg("n_threads") = 0);
  m.def("observed_errors32", &observed_errors_impl<float>, py::arg("X"), py::arg("A"), py::arg("S"),
        py::arg("held_out"), py::arg("device") = "cpu", py::arg("n_threads") = 0);
  m.def("random_held_out64", &random_held_out_impl<double>, py::arg("X"), py::arg("fraction"), py::arg("seed"));
  m.def("random_held_out32", &random_held_out_impl<float>, py::arg("X"), py::arg("fraction"), py::arg("seed"));
  m.def("npmi64", &npmi_impl<double>, py::arg("X"), py::arg("topics"));
  m.def("npmi32", &npmi_impl<float>, py::arg("X"), py::arg("topics"));
  m.def("select_rank64", &select_rank_impl<double>, py::arg("X"), py::arg("options"), py::arg("device") = "cpu",
        py::arg("n_threads") = 0);
  m.def("select_rank32", &select_rank_impl<float>, py::arg("X"), py::arg("options"), py::arg("device") = "cpu",
        py::arg("n_threads") = 0);
  m.def("hierarchical_nmf64", &hierarchical_impl<double>, py::arg("X"), py::arg("options"),
        py::arg("device") = "cpu", py::arg("n_threads") = 0, py::arg("labels") = py::none(),
        py::arg("known") = py::none(), py::arg("num_classes") = 0, py::arg("lambda_") = 1.0,
        py::arg("held_out") = py::none());
  m.def("hierarchical_nmf32", &hierarchical_impl<float>, py::arg("X"), py::arg("options"),
        py::arg("device") = "cpu", py::arg("n_threads") = 0, py::arg("labels") = py::none(),
        py::arg("known") = py::none(), py::arg("num_classes") = 0, py::arg("lambda_") = 1.0,
        py::arg("held_out") = py::none());
  m.def("deep_nmf64", &deep_impl<double>, py::arg("X"), py::arg("options"), py::arg("device") = "cpu",
        py::arg("n_threads") = 0, py::arg("labels") = py::none(), py::arg("known") = py::none(),
        py::arg("num_classes") = 0, py::arg("lambda_") = 1.0, py::arg("held_out") = py::none());
  m.def("deep_nmf32", &deep_impl<float>, py::arg("X"), py::arg("options"), py::arg("device") = "cpu",
        py::arg("n_threads") = 0, py::arg("labels") = py::none(), py::arg("known") = py::none(),
        py::arg("num_classes") = 0, py::arg("lambda_") = 1.0, py::arg("held_out") = py::none());
}
