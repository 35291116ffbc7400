// NMF by alternating NNLS (exact blocks on the batched core) or multiplicative updates.
#include "nnmf/nmf.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <string>

#include "core/data.hpp"
#include "core/nmf_internal.hpp"
#include "core/nnls_internal.hpp"
#include "core/small_dense.hpp"
#include "core/validate.hpp"
#include "nnmf/error.hpp"

namespace nnmf {

const char* to_string(NmfAlgorithm a) noexcept {
  switch (a) {
    case NmfAlgorithm::anls:
      return "anls";
    case NmfAlgorithm::mu:
      return "mu";
    case NmfAlgorithm::hals:
      return "hals";
  }
  return "unknown";
}
const char* to_string(NmfInit i) noexcept { return i == NmfInit::nndsvd ? "nndsvd" : "random"; }

namespace detail {

template <class T>
BatchSolver<T>::BatchSolver(const Context& ctx, index_t k, index_t m, const NnlsOptions& o)
    : ctx_(ctx),
      params_(nnls_params<T>(o, k)),
      wpc_((k + 63) / 64),
      support_(ctx, static_cast<std::size_t>(wpc_ * m)),
      status_(ctx, static_cast<std::size_t>(m)) {}

template <class T>
NnlsBatchStats BatchSolver<T>::solve(MatrixView<const T> G, MatrixView<const T> C, MatrixView<T> S,
                                     const std::uint64_t* warm) {
  const NnlsBatchStats st =
      ops::nnls_batch<T>(ctx_, G, C, params_, S, support_.data(), warm, status_.data());
  have_ = true;
  return st;
}

namespace {

template <class T>
Matrix<double> to_double(const Matrix<T>& h) {
  Matrix<double> d(h.rows(), h.cols());
  for (index_t q = 0; q < h.size(); ++q) d.data()[q] = h.data()[q];
  return d;
}

template <class T>
DMatrix<T> upload_double(const Context& ctx, const Matrix<double>& d) {
  Matrix<T> h(d.rows(), d.cols());
  for (index_t q = 0; q < h.size(); ++q) h.data()[q] = static_cast<T>(d.data()[q]);
  return DMatrix<T>::upload(ctx, h.view());
}

/// Y (n x l) <- orthonormal basis of its columns.
template <class T>
void orthonormalize_on_host(const Context& ctx, DMatrix<T>& Y) {
  Matrix<double> d = to_double(Y.download());
  orthonormalize(d);
  Y = upload_double<T>(ctx, d);
}

/// Columns first_col .. first_col + cols - 1 of the l x total matrix of standard normal numbers
/// (Box-Muller on pairs of seeded uniforms, in column-major order): the same numbers for a
/// column whatever the split of the columns over processes.
Matrix<double> gaussian_columns(index_t l, index_t cols, index_t first_col, std::uint64_t seed) {
  Matrix<double> Om(l, cols);
  const std::uint64_t q0 = std::uint64_t(l) * std::uint64_t(first_col);
  const std::uint64_t q1 = q0 + std::uint64_t(l) * std::uint64_t(cols);
  const std::uint64_t qs = q0 & ~std::uint64_t(1);  // pair p = q / 2 takes uniforms 2p, 2p + 1
  Rng rng(seed);
  rng.skip(qs);
  for (std::uint64_t q = qs; q < q1; q += 2) {
    const double u1 = std::max(rng.uniform(), 1e-300), u2 = rng.uniform();
    const double r = std::sqrt(-2 * std::log(u1)), t = 6.283185307179586 * u2;
    if (q >= q0) Om.data()[q - q0] = r * std::cos(t);
    if (q + 1 >= q0 && q + 1 < q1) Om.data()[q + 1 - q0] = r * std::sin(t);
  }
  return Om;
}

/// NNDSVDa fills the zeros of W with mean(X). Filled so, W jumps where an entry of u that
/// cancels to about 1e-17 changes sign with the rounding of the sums above (their order
/// depends on the split of the columns over processes; on the 20 Newsgroups sample a 1e-15
/// change of X moved W by 1e-7). Here entries w < d of column j, d = 1e-6 @p tops[j], go
/// to avg + (d - avg) w / d instead: avg at 0 as in NNDSVDa, w from d on, and continuous, so
/// that rounding moves the start by rounding times at most avg / d. tops[j] = max of column j
/// over all processes.
void fill_small_entries(Matrix<double>& W, double avg, const std::vector<double>& tops) {
  for (index_t j = 0; j < W.cols(); ++j) {
    const double d = 1e-6 * tops[static_cast<std::size_t>(j)];
    for (index_t i = 0; i < W.rows(); ++i) {
      const double w = W(i, j);
      if (w == 0)
        W(i, j) = avg;
      else if (w < d)
        W(i, j) = avg + (d - avg) * (w / d);
    }
  }
}

std::vector<double> column_maxima(const Matrix<double>& W) {
  std::vector<double> tops(static_cast<std::size_t>(W.cols()), 0.0);
  for (index_t j = 0; j < W.cols(); ++j)
    for (index_t i = 0; i < W.rows(); ++i) tops[static_cast<std::size_t>(j)] = std::max(tops[static_cast<std::size_t>(j)], W(i, j));
  return tops;
}

/// The column maxima of a matrix whose rows are split over the processes.
std::vector<double> global_column_maxima(const Context& ctx, const Matrix<double>& W) {
  const std::vector<double> mine = column_maxima(W), all = allgather(ctx, mine);
  std::vector<double> tops(mine.size(), 0.0);
  for (std::size_t q = 0; q < all.size(); ++q) tops[q % tops.size()] = std::max(tops[q % tops.size()], all[q]);
  return tops;
}

/// A truncated SVD X ~ U diag(s) Vt (U = Q Ub, Vt = diag(1/s) Ub^T B, B = Q^T X; Vt holds this
/// process's columns), its first k pairs, and for each the norms of the positive and negative
/// parts of its left (up, un) and right (vp, vn) vectors.
struct TruncatedSvd {
  Matrix<double> U, Vt;  ///< N x k, k x m
  std::vector<double> s, up, un, vp, vn;
};

/// U = Q Ub and Vt = diag(1/s) Ub^T B, first k columns / rows.
void singular_vectors(TruncatedSvd& svd, const Matrix<double>& Q, const Matrix<double>& Ub, const Matrix<double>& B,
                      index_t k) {
  svd.U = Matrix<double>(Q.rows(), k);
  svd.Vt = Matrix<double>(k, B.cols());
  for (index_t j = 0; j < k; ++j) {
    for (index_t i = 0; i < Q.rows(); ++i) {
      double t = 0;
      for (index_t p = 0; p < Q.cols(); ++p) t += Q(i, p) * Ub(p, j);
      svd.U(i, j) = t;
    }
    const double sj = svd.s[static_cast<std::size_t>(j)];
    for (index_t c = 0; c < B.cols(); ++c) {
      double x = 0;
      for (index_t p = 0; p < Ub.rows(); ++p) x += Ub(p, j) * B(p, c);
      svd.Vt(j, c) = sj > 0 ? x / sj : 0.0;
    }
  }
}

template <class T>
TruncatedSvd truncated_svd(const Context& ctx, const PreparedData<T>& X, index_t k, std::uint64_t seed) {
  const index_t n = X.rows(), m = X.cols(), l = std::min(k + 10, std::min(n, X.total_cols));
  // Randomized subspace iteration with 4 power iterations (Halko, Martinsson & Tropp) through
  // products with X that are sums over the columns, Y = X Z^T (n x l, all-reduced), so that
  // the result is the same for any split of the columns over processes; QR of the replicated
  // Y on the host in double. The SVD of B = Q^T X (l x m) comes from the eigenpairs of the
  // all-reduced B B^T (B = Ub diag(s) Vt, Vt = diag(1/s) Ub^T B).
  DMatrix<T> OmT = upload_double<T>(ctx, gaussian_columns(l, m, X.first_col, seed));
  DMatrix<T> Y(ctx, n, l), Zt(ctx, l, m);
  ops::x_zt<T>(ctx, T(1), X.op, OmT.view(), T(0), Y.view());  // Y = X Omega
  allreduce_sum<T>(ctx, Y.view());
  for (int it = 0; it < 4; ++it) {
    orthonormalize_on_host(ctx, Y);
    ops::at_x<T>(ctx, T(1), Y.view(), X.op, T(0), Zt.view());  // Zt = Y^T X
    ops::x_zt<T>(ctx, T(1), X.op, Zt.view(), T(0), Y.view());  // Y = X X^T Y
    allreduce_sum<T>(ctx, Y.view());
  }
  orthonormalize_on_host(ctx, Y);
  ops::at_x<T>(ctx, T(1), Y.view(), X.op, T(0), Zt.view());  // B = Q^T X (l x m)
  DMatrix<T> BBt(ctx, l, l);
  ops::gemm<T>(ctx, Trans::N, Trans::T, T(1), Zt.view(), Zt.view(), T(0), BBt.view());
  allreduce_sum<T>(ctx, BBt.view());
  TruncatedSvd svd;
  Matrix<double> Ub;
  symmetric_eigen(to_double(BBt.download()), Ub, svd.s);
  for (double& x : svd.s) x = std::sqrt(std::max(x, 0.0));
  singular_vectors(svd, to_double(Y.download()), Ub, to_double(Zt.download()), k);
  std::vector<double> vnorm(2 * static_cast<std::size_t>(k), 0.0);  // (vp^2, vn^2) per j
  for (index_t j = 0; j < k; ++j)
    for (index_t c = 0; c < m; ++c) {
      const double x = svd.Vt(j, c);
      vnorm[2 * static_cast<std::size_t>(j) + (x > 0 ? 0 : 1)] += x * x;
    }
  allreduce_sum(ctx, vnorm.data(), vnorm.size());
  for (index_t j = 0; j < k; ++j) {
    double up = 0, un = 0;
    for (index_t i = 0; i < n; ++i) {
      const double x = svd.U(i, j);
      (x > 0 ? up : un) += x * x;
    }
    svd.up.push_back(std::sqrt(up));
    svd.un.push_back(std::sqrt(un));
    svd.vp.push_back(std::sqrt(vnorm[2 * static_cast<std::size_t>(j)]));
    svd.vn.push_back(std::sqrt(vnorm[2 * static_cast<std::size_t>(j) + 1]));
  }
  return svd;
}

/// NNDSVD's choice for singular pair j: each pair contributes the dominant nonnegative part
/// of its rank-one term (pair 0 its absolute values); sqrt(s_j sigma) splits evenly over the
/// two sides, each normalized by the norm of its part.
struct NndsvdPair {
  bool pos, abs;
  double fu, fv;  ///< factors on the chosen parts of u and v
};
NndsvdPair nndsvd_pair(const TruncatedSvd& svd, index_t j) {
  const std::size_t q = static_cast<std::size_t>(j);
  NndsvdPair p;
  p.abs = j == 0;
  p.pos = j == 0 || svd.up[q] * svd.vp[q] >= svd.un[q] * svd.vn[q];
  const double sigma = j == 0 ? 1.0 : (p.pos ? svd.up[q] * svd.vp[q] : svd.un[q] * svd.vn[q]);
  const double nu = j == 0 ? std::hypot(svd.up[q], svd.un[q]) : (p.pos ? svd.up[q] : svd.un[q]);
  const double nv = j == 0 ? std::hypot(svd.vp[q], svd.vn[q]) : (p.pos ? svd.vp[q] : svd.vn[q]);
  const double root = std::sqrt(svd.s[q] * sigma);
  p.fu = root / (nu > 0 ? nu : 1.0);
  p.fv = root / (nv > 0 ? nv : 1.0);
  return p;
}
double nndsvd_part(const NndsvdPair& p, double f, double x) {
  return p.abs ? f * std::abs(x) : f * (p.pos ? std::max(x, 0.0) : std::max(-x, 0.0));
}

}  // namespace

template <class T>
NndsvdStart<T> nndsvd(const Context& ctx, const PreparedData<T>& X, index_t k, std::uint64_t seed, bool with_h) {
  const TruncatedSvd svd = truncated_svd(ctx, X, k, seed);
  const index_t n = X.rows(), m = X.cols();
  Matrix<double> W(n, k), Ht(m, k);  // H transposed: a topic per column, as W
  for (index_t j = 0; j < k; ++j) {
    const NndsvdPair p = nndsvd_pair(svd, j);
    for (index_t i = 0; i < n; ++i) W(i, j) = nndsvd_part(p, p.fu, svd.U(i, j));
    if (with_h)
      for (index_t c = 0; c < m; ++c) Ht(c, j) = nndsvd_part(p, p.fv, svd.Vt(j, c));
  }
  fill_small_entries(W, X.mean(), column_maxima(W));
  NndsvdStart<T> out;
  out.W = upload_double<T>(ctx, W);
  if (with_h) {
    fill_small_entries(Ht, X.mean(), global_column_maxima(ctx, Ht));
    out.Ht = upload_double<T>(ctx, Ht);
  }
  return out;
}

namespace {

/// One HALS sweep over the columns of F (r x k) for min_{F >= 0} ||Y - F Q^T||^2 given the
/// Gram Q^T Q = @p G (k x k) and the product Y Q = @p P (r x k): for i = 0..k-1,
///   F(:, i) <- max(0, F(:, i) - (F G(:, i) - P(:, i)) / G(i, i)),
/// each update exact for its column given the others (coordinate descent). g: r x 1 scratch.
/// Columns with G(i, i) = 0 (a zero factor on the other side) are left as they are.
template <class T>
void hals_sweep(const Context& ctx, const DMatrix<T>& G, MatrixView<const T> P, MatrixView<T> F,
                MatrixView<T> g) {
  const index_t k = G.rows(), r = F.rows;
  const Matrix<T> Gh = G.download();  // the diagonal, on the host
  for (index_t i = 0; i < k; ++i) {
    const T gii = Gh(i, i);
    if (!(gii > T(0))) continue;
    ops::gemm<T>(ctx, Trans::N, Trans::N, T(1), MatrixView<const T>(F), G.view().col_range(i, 1), T(0),
                 g);  // F G(:, i)
    ops::axpy<T>(ctx, r, T(-1), P.data + i * P.ld, g.data);
    T* fi = F.data + i * F.ld;
    ops::projected_step<T>(ctx, r, fi, g.data, T(1) / gii, fi);
  }
}

}  // namespace

namespace {

/// One NMF run's state and products: W, H, G = W^T W, C = W^T X, G2 = H H^T, R = X H^T.
template <class T>
struct NmfRun {
  const Context& ctx;
  const PreparedData<T>& X;
  index_t k, n, m;
  const NmfOptions& o;
  std::chrono::steady_clock::time_point t0;
  NmfState<T> st;
  DMatrix<T> G, C, G2, R;
  double prev = std::numeric_limits<double>::infinity();

  NmfRun(const Context& c, const PreparedData<T>& x, index_t rank, const NmfOptions& opts,
         std::chrono::steady_clock::time_point start)
      : ctx(c), X(x), k(rank), n(x.rows()), m(x.cols()), o(opts), t0(start),
        G(c, rank, rank), C(c, rank, x.cols()), G2(c, rank, rank), R(c, x.rows(), rank) {}

  /// Records iteration @p it: f = ||X||^2 - 2 <W, X H^T> + <W^T W, H H^T> and its time; true
  /// when the relative decrease is below rel_tol.
  bool record(int it) {
    const double f = std::max(X.sqnorm - 2 * ops::dot<T>(ctx, st.W.view(), R.view()) +
                                  ops::dot<T>(ctx, G.view(), G2.view()),
                              0.0);
    st.objective.push_back(f);
    st.seconds.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    st.iterations = it;
    const bool done = o.rel_tol > 0 && std::isfinite(prev) && prev - f <= o.rel_tol * prev;
    prev = f;
    return done;
  }

  /// Alternating exact NNLS solves for H and W^T, warm-started from their supports.
  void anls() {
    BatchSolver<T> hsolve(ctx, k, m, o.nnls), wsolve(ctx, k, n, o.nnls);
    DMatrix<T> Ct(ctx, k, n), Wt(ctx, k, n);
    for (int it = 1; it <= o.max_iter; ++it) {
      ops::at_x<T>(ctx, T(1), st.W.view(), X.op, T(0), C.view());
      hsolve.solve(G.view(), C.view(), st.H.view(), hsolve.support());
      ops::gemm<T>(ctx, Trans::N, Trans::T, T(1), st.H.view(), st.H.view(), T(0), G2.view());
      ops::x_zt<T>(ctx, T(1), X.op, st.H.view(), T(0), R.view());
      allreduce_sum<T>(ctx, {G2.view(), R.view()});  // H H^T and X H^T: sums over columns
      ops::transpose<T>(ctx, R.view(), Ct.view());
      wsolve.solve(G2.view(), Ct.view(), Wt.view(), wsolve.support());
      ops::transpose<T>(ctx, Wt.view(), st.W.view());
      ops::gram<T>(ctx, st.W.view(), G.view());
      if (record(it)) break;
    }
  }

  /// H from @p Ht0 (NNDSVDa's, with @p h_start) or one exact solve, then per iteration one
  /// HALS sweep over the rows of H (as the columns of H^T, so that each is contiguous) and one
  /// over the columns of W.
  void hals(DMatrix<T> Ht0, bool h_start) {
    BatchSolver<T> hsolve(ctx, k, m, o.nnls);
    DMatrix<T> Ht = h_start ? std::move(Ht0) : DMatrix<T>(ctx, m, k);
    DMatrix<T> Ct(ctx, m, k), gm(ctx, m, 1), gn(ctx, n, 1);
    for (int it = 1; it <= o.max_iter; ++it) {
      ops::at_x<T>(ctx, T(1), st.W.view(), X.op, T(0), C.view());
      if (it == 1 && !h_start) {
        hsolve.solve(G.view(), C.view(), st.H.view(), nullptr);
        ops::transpose<T>(ctx, st.H.view(), Ht.view());
      } else {
        ops::transpose<T>(ctx, C.view(), Ct.view());
        hals_sweep<T>(ctx, G, Ct.view(), Ht.view(), gm.view());
        ops::transpose<T>(ctx, Ht.view(), st.H.view());
      }
      ops::gram<T>(ctx, Ht.view(), G2.view());
      ops::x_zt<T>(ctx, T(1), X.op, st.H.view(), T(0), R.view());
      allreduce_sum<T>(ctx, {G2.view(), R.view()});
      hals_sweep<T>(ctx, G2, R.view(), st.W.view(), gn.view());
      ops::gram<T>(ctx, st.W.view(), G.view());
      if (record(it)) break;
    }
  }

  /// Multiplicative updates from H at the same scale as W (they keep both nonnegative).
  void mu(Rng& rng, double scale) {
    st.H = random_columns<T>(ctx, k, m, X.first_col, scale, rng);
    DMatrix<T> GH(ctx, k, m), WG2(ctx, n, k);
    const T eps = static_cast<T>(o.mu_eps);
    for (int it = 1; it <= o.max_iter; ++it) {
      ops::at_x<T>(ctx, T(1), st.W.view(), X.op, T(0), C.view());
      ops::gemm<T>(ctx, Trans::N, Trans::N, T(1), G.view(), st.H.view(), T(0), GH.view());
      ops::mu_update<T>(ctx, k * m, st.H.data(), C.data(), GH.data(), eps);
      ops::x_zt<T>(ctx, T(1), X.op, st.H.view(), T(0), R.view());
      ops::gemm<T>(ctx, Trans::N, Trans::T, T(1), st.H.view(), st.H.view(), T(0), G2.view());
      allreduce_sum<T>(ctx, {R.view(), G2.view()});
      ops::gemm<T>(ctx, Trans::N, Trans::N, T(1), st.W.view(), G2.view(), T(0), WG2.view());
      ops::mu_update<T>(ctx, n * k, st.W.data(), R.data(), WG2.data(), eps);
      ops::gram<T>(ctx, st.W.view(), G.view());
      if (record(it)) break;
    }
  }
};

}  // namespace

template <class T>
NmfState<T> nmf_on_backend(const Context& ctx, const PreparedData<T>& X, index_t k,
                           const NmfOptions& o, const DMatrix<T>* W0,
                           std::chrono::steady_clock::time_point t0) {
  NmfRun<T> run(ctx, X, k, o, t0);
  Rng rng(o.seed);
  const double scale = std::sqrt(std::max(X.mean(), 1e-300) / double(k));
  // HALS from NNDSVDa starts H there too (as scikit-learn's cd does); the others solve for H.
  const bool h_start = !W0 && o.init == NmfInit::nndsvd && o.algorithm == NmfAlgorithm::hals;
  DMatrix<T> Ht0;
  if (W0) {
    run.st.W = clone<T>(ctx, W0->view());
  } else if (o.init == NmfInit::nndsvd) {
    NndsvdStart<T> start = nndsvd<T>(ctx, X, k, o.seed, h_start);
    run.st.W = std::move(start.W);
    Ht0 = std::move(start.Ht);
  } else {
    run.st.W = random_matrix<T>(ctx, X.rows(), k, scale, rng);
  }
  run.st.H = DMatrix<T>(ctx, k, X.cols());
  ops::gram<T>(ctx, run.st.W.view(), run.G.view());
  if (o.algorithm == NmfAlgorithm::anls)
    run.anls();
  else if (o.algorithm == NmfAlgorithm::hals)
    run.hals(std::move(Ht0), h_start);
  else
    run.mu(rng, scale);
  return std::move(run.st);
}

void check_nmf_options(const char* who, const NmfOptions& o, index_t n, index_t m, index_t k) {
  if (k < 1 || k > std::min(n, m))
    throw InvalidArgument(std::string(who) + ": rank k = " + std::to_string(k) +
                          " must lie in [1, min(N, m)] = [1, " + std::to_string(std::min(n, m)) +
                          "] for X (" + shape_string(n, m) + ")");
  if (o.max_iter < 1)
    throw InvalidArgument(std::string(who) + ": max_iter must be >= 1, got " +
                          std::to_string(o.max_iter));
  if (!(o.rel_tol >= 0) || !std::isfinite(o.rel_tol))
    throw InvalidArgument(std::string(who) + ": rel_tol must be finite and >= 0");
  if (!(o.mu_eps > 0))
    throw InvalidArgument(std::string(who) + ": mu_eps must be > 0");
}

template <class T>
NmfResult<T> finish(NmfState<T>&& st) {
  NmfResult<T> r;
  r.W = st.W.download();
  r.H = st.H.download();
  r.objective = std::move(st.objective);
  r.seconds = std::move(st.seconds);
  r.iterations = st.iterations;
  return r;
}

template struct BatchSolver<float>;
template struct BatchSolver<double>;
template NmfState<float> nmf_on_backend<float>(const Context&, const PreparedData<float>&, index_t,
                                               const NmfOptions&, const DMatrix<float>*,
                                               std::chrono::steady_clock::time_point);
template NmfState<double> nmf_on_backend<double>(const Context&, const PreparedData<double>&,
                                                 index_t, const NmfOptions&, const DMatrix<double>*,
                                                 std::chrono::steady_clock::time_point);
template NndsvdStart<float> nndsvd<float>(const Context&, const PreparedData<float>&, index_t, std::uint64_t, bool);
template NndsvdStart<double> nndsvd<double>(const Context&, const PreparedData<double>&, index_t, std::uint64_t, bool);

}  // namespace detail

template <class T>
NmfResult<T> nmf(const Context& ctx, MatrixView<const T> X, index_t k, const NmfOptions& opts) {
  const auto t0 = std::chrono::steady_clock::now();
  detail::all_or_none(ctx, [&] { detail::check_values("nmf", "X", X, true, ctx.threads()); });
  auto d = detail::prepare(ctx, X);
  detail::check_nmf_options("nmf", opts, X.rows, d->total_cols, k);
  return detail::finish(detail::nmf_on_backend<T>(ctx, *d, k, opts, nullptr, t0));
}

template <class T>
NmfResult<T> nmf(const Context& ctx, const CscMatrix<T>& X, index_t k, const NmfOptions& opts) {
  const auto t0 = std::chrono::steady_clock::now();
  detail::all_or_none(ctx, [&] { detail::check_values("nmf", "X", X.view(), true, ctx.threads()); });
  auto d = detail::prepare(ctx, X);
  detail::check_nmf_options("nmf", opts, X.rows(), d->total_cols, k);
  return detail::finish(detail::nmf_on_backend<T>(ctx, *d, k, opts, nullptr, t0));
}

template NmfResult<float> nmf<float>(const Context&, MatrixView<const float>, index_t, const NmfOptions&);
template NmfResult<double> nmf<double>(const Context&, MatrixView<const double>, index_t, const NmfOptions&);
template NmfResult<float> nmf<float>(const Context&, const CscMatrix<float>&, index_t, const NmfOptions&);
template NmfResult<double> nmf<double>(const Context&, const CscMatrix<double>&, index_t, const NmfOptions&);

}  // namespace nnmf
