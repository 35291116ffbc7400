#include "core/small_dense.hpp"

#include <lapacke.h>

#include <algorithm>
#include <string>
#include <vector>

#include "nnmf/error.hpp"
#include "nnmf/model.hpp"

extern "C" int openblas_get_num_threads(void);
extern "C" void openblas_set_num_threads(int num_threads);

namespace nnmf::detail {
namespace {

/// Runs the LAPACK calls of this file on one thread, restoring OpenBLAS's count after. They
/// are small (k x k, or n x l with l ~ k + 10) and would otherwise use every core with
/// OpenBLAS's default: in the OpenMP build those threads spin at each region's end, which on
/// a shared machine costs more than the call (a 46240 x 20 QR: 3.8 s instead of 0.3 s with
/// another busy process on 2 cores).
class SerialBlas {
 public:
  SerialBlas() : saved_(openblas_get_num_threads()) {
    if (saved_ != 1) openblas_set_num_threads(1);
  }
  ~SerialBlas() {
    if (saved_ != 1) openblas_set_num_threads(saved_);
  }
  SerialBlas(const SerialBlas&) = delete;
  SerialBlas& operator=(const SerialBlas&) = delete;

 private:
  int saved_;
};

}  // namespace

Matrix<double> right_pinv_solve(const Matrix<double>& N, const Matrix<double>& M) {
  const index_t k = M.rows(), c = N.rows();
  Matrix<double> B(c, k);
  if (k == 0) return B;
  Matrix<double> V = M;  // overwritten by the eigenvectors
  std::vector<double> lambda(static_cast<std::size_t>(k));
  const SerialBlas serial;
  const lapack_int info = LAPACKE_dsyev(LAPACK_COL_MAJOR, 'V', 'U', static_cast<lapack_int>(k),
                                        V.data(), static_cast<lapack_int>(k), lambda.data());
  if (info != 0)
    throw BackendError("LAPACKE_dsyev failed with info = " + std::to_string(info) +
                       " on a " + shape_string(k, k) + " Gram matrix");
  const double lmax = std::max(0.0, lambda.back());
  const double cut = 1e-12 * lmax;
  // B = N V diag(1/lambda) V^T over the kept eigenpairs.
  Matrix<double> NV(c, k);
  for (index_t q = 0; q < k; ++q) {
    if (!(lambda[static_cast<std::size_t>(q)] > cut)) continue;
    const double inv = 1.0 / lambda[static_cast<std::size_t>(q)];
    for (index_t i = 0; i < c; ++i) {
      double s = 0;
      for (index_t p = 0; p < k; ++p) s += N(i, p) * V(p, q);
      NV(i, q) = s * inv;
    }
  }
  for (index_t j = 0; j < k; ++j)
    for (index_t i = 0; i < c; ++i) {
      double s = 0;
      for (index_t q = 0; q < k; ++q) s += NV(i, q) * V(j, q);
      B(i, j) = s;
    }
  return B;
}

template <class T>
std::vector<int> classes_of(const Matrix<T>& B, MatrixView<const T> S) {
  Matrix<double> scores(B.rows(), S.cols);
  for (index_t j = 0; j < S.cols; ++j)
    for (index_t t = 0; t < S.rows; ++t) {
      const double s = static_cast<double>(S(t, j));
      if (s != 0)
        for (index_t c = 0; c < B.rows(); ++c) scores(c, j) += static_cast<double>(B(c, t)) * s;
    }
  return argmax_columns<double>(scores.view());
}

template std::vector<int> classes_of<float>(const Matrix<float>&, MatrixView<const float>);
template std::vector<int> classes_of<double>(const Matrix<double>&, MatrixView<const double>);

}  // namespace nnmf::detail

namespace nnmf::detail {

void orthonormalize(Matrix<double>& A) {
  const lapack_int n = static_cast<lapack_int>(A.rows()), l = static_cast<lapack_int>(A.cols());
  if (l == 0) return;
  std::vector<double> tau(static_cast<std::size_t>(l));
  const SerialBlas serial;
  lapack_int info = LAPACKE_dgeqrf(LAPACK_COL_MAJOR, n, l, A.data(), n, tau.data());
  if (info == 0) info = LAPACKE_dorgqr(LAPACK_COL_MAJOR, n, l, l, A.data(), n, tau.data());
  if (info != 0)
    throw BackendError("LAPACK QR of a " + shape_string(n, l) + " matrix failed, info = " +
                       std::to_string(info));
}

void symmetric_eigen(const Matrix<double>& M, Matrix<double>& V, std::vector<double>& lambda) {
  const lapack_int k = static_cast<lapack_int>(M.rows());
  Matrix<double> W = M;
  std::vector<double> w(static_cast<std::size_t>(k));
  if (k > 0) {
    const SerialBlas serial;
    const lapack_int info = LAPACKE_dsyev(LAPACK_COL_MAJOR, 'V', 'U', k, W.data(), k, w.data());
    if (info != 0)
      throw BackendError("LAPACKE_dsyev failed with info = " + std::to_string(info) + " on a " +
                         shape_string(k, k) + " symmetric matrix");
  }
  V = Matrix<double>(k, k);
  lambda.assign(static_cast<std::size_t>(k), 0.0);
  for (index_t j = 0; j < k; ++j) {  // dsyev's order is increasing
    const index_t src = k - 1 - j;
    lambda[static_cast<std::size_t>(j)] = w[static_cast<std::size_t>(src)];
    for (index_t i = 0; i < k; ++i) V(i, j) = W(i, src);
  }
}

void thin_svd(const Matrix<double>& B, Matrix<double>& U, std::vector<double>& s, Matrix<double>& Vt) {
  const lapack_int l = static_cast<lapack_int>(B.rows()), m = static_cast<lapack_int>(B.cols());
  const lapack_int r = std::min(l, m);
  Matrix<double> work = B;
  U = Matrix<double>(l, r);
  Vt = Matrix<double>(r, m);
  s.assign(static_cast<std::size_t>(r), 0.0);
  const SerialBlas serial;
  const lapack_int info = LAPACKE_dgesdd(LAPACK_COL_MAJOR, 'S', l, m, work.data(), std::max(1, l),
                                         s.data(), U.data(), std::max(1, l), Vt.data(),
                                         std::max(1, r));
  if (info != 0)
    throw BackendError("LAPACK SVD of a " + shape_string(l, m) + " matrix failed, info = " +
                       std::to_string(info));
}

}  // namespace nnmf::detail
