// Run-time dispatch of the kernel interface (kernels.inc) on ctx.backend(), plus the
// operations on the data operand (dense or sparse) that the algorithms are written with.
// This is the only place that chooses between backends.
#pragma once

#include "core/kernels.hpp"

namespace nnmf::detail::ops {

#define NNMF_DISPATCH(fn, ...)                              \
  (ctx.backend() == Backend::host ? host::fn(__VA_ARGS__) \
                                  : cuda::fn(__VA_ARGS__))

template <class T>
void gemm(const Context& ctx, Trans ta, Trans tb, T alpha, MatrixView<const T> A,
          MatrixView<const T> B, T beta, MatrixView<T> C) {
  NNMF_DISPATCH(gemm<T>, ctx, ta, tb, alpha, A, B, beta, C);
}
template <class T>
void gram(const Context& ctx, MatrixView<const T> A, MatrixView<T> G) {
  NNMF_DISPATCH(gram<T>, ctx, A, G);
}
template <class T>
void transpose(const Context& ctx, MatrixView<const T> A, MatrixView<T> B) {
  NNMF_DISPATCH(transpose<T>, ctx, A, B);
}
template <class T>
void masked_diff(const Context& ctx, index_t n, const T* W, const T* X, const T* P, T* R) {
  NNMF_DISPATCH(masked_diff<T>, ctx, n, W, X, P, R);
}
template <class T>
void csc_transpose(const Context& ctx, CscView<T> X, index_t* rowptr, index_t* colind, T* valt) {
  NNMF_DISPATCH(csc_transpose<T>, ctx, X, rowptr, colind, valt);
}
template <class T>
NnlsBatchStats nnls_batch(const Context& ctx, MatrixView<const T> G, MatrixView<const T> C,
                          const NnlsBatchParams<T>& prm, MatrixView<T> S, std::uint64_t* support,
                          const std::uint64_t* warm, std::uint8_t* status) {
  return NNMF_DISPATCH(nnls_batch<T>, ctx, G, C, prm, S, support, warm, status);
}
template <class T>
index_t masked_solve(const Context& ctx, MatrixView<const T> G, const std::uint64_t* support,
                     MatrixView<const T> D, T pivot_eps, T ridge, MatrixView<T> Z,
                     std::uint8_t* status) {
  return NNMF_DISPATCH(masked_solve<T>, ctx, G, support, D, pivot_eps, ridge, Z, status);
}
template <class T>
void fill(const Context& ctx, index_t n, T value, T* x) {
  NNMF_DISPATCH(fill<T>, ctx, n, value, x);
}
template <class T>
void axpy(const Context& ctx, index_t n, T alpha, const T* x, T* y) {
  NNMF_DISPATCH(axpy<T>, ctx, n, alpha, x, y);
}
template <class T>
void scal(const Context& ctx, index_t n, T alpha, T* x) {
  NNMF_DISPATCH(scal<T>, ctx, n, alpha, x);
}
template <class T>
double dot(const Context& ctx, index_t n, const T* x, const T* y) {
  return NNMF_DISPATCH(dot<T>, ctx, n, x, y);
}
template <class T>
void projected_step(const Context& ctx, index_t n, const T* a, const T* g, T step, T* out) {
  NNMF_DISPATCH(projected_step<T>, ctx, n, a, g, step, out);
}
template <class T>
void adam_step(const Context& ctx, index_t n, T* a, const T* g, T* m1, T* m2, T lr, T beta1,
               T beta2, T eps, int t) {
  NNMF_DISPATCH(adam_step<T>, ctx, n, a, g, m1, m2, lr, beta1, beta2, eps, t);
}
template <class T>
void mu_update(const Context& ctx, index_t n, T* a, const T* num, const T* den, T eps) {
  NNMF_DISPATCH(mu_update<T>, ctx, n, a, num, den, eps);
}
template <class T>
void scale_columns(const Context& ctx, MatrixView<T> M, const T* w) {
  NNMF_DISPATCH(scale_columns<T>, ctx, M, w);
}
template <class T>
void masked_residual(const Context& ctx, MatrixView<const T> Y, MatrixView<const T> P,
                     const T* w, MatrixView<T> R) {
  NNMF_DISPATCH(masked_residual<T>, ctx, Y, P, w, R);
}
template <class T>
double softmax_xent(const Context& ctx, MatrixView<const T> logits, const int* labels,
                    const T* w, MatrixView<T> dlogits) {
  return NNMF_DISPATCH(softmax_xent<T>, ctx, logits, labels, w, dlogits);
}
template <class T>
void argmax_cols(const Context& ctx, MatrixView<const T> M, int* out) {
  NNMF_DISPATCH(argmax_cols<T>, ctx, M, out);
}

template <class T>
void hadamard(const Context& ctx, index_t n, const T* x, const T* y, T* out) {
  NNMF_DISPATCH(hadamard<T>, ctx, n, x, y, out);
}
template <class T>
void max_pool_cols(const Context& ctx, MatrixView<const T> S, const index_t* ptr, MatrixView<T> P,
                   index_t* arg) {
  NNMF_DISPATCH(max_pool_cols<T>, ctx, S, ptr, P, arg);
}
template <class T>
void max_pool_cols_backward(const Context& ctx, MatrixView<const T> D, const index_t* arg, T alpha,
                            MatrixView<T> Out) {
  NNMF_DISPATCH(max_pool_cols_backward<T>, ctx, D, arg, alpha, Out);
}

template <class T>
void sampled_product(const Context& ctx, MatrixView<const T> A, MatrixView<const T> V,
                     const PatternView& H, T* E) {
  NNMF_DISPATCH(sampled_product<T>, ctx, A, V, H, E);
}
template <class T>
void pattern_tn(const Context& ctx, T alpha, MatrixView<const T> A, const PatternView& H,
                const T* E, MatrixView<T> C) {
  NNMF_DISPATCH(pattern_tn<T>, ctx, alpha, A, H, E, C);
}
template <class T>
void pattern_nt(const Context& ctx, T alpha, const PatternView& H, const T* E,
                MatrixView<const T> V, MatrixView<T> R) {
  NNMF_DISPATCH(pattern_nt<T>, ctx, alpha, H, E, V, R);
}

#undef NNMF_DISPATCH

// ---- on whole (contiguous) matrices ---------------------------------------------------------

/// <A, B> = sum_ij A_ij B_ij for same-shaped contiguous matrices.
template <class T>
double dot(const Context& ctx, MatrixView<const T> A, MatrixView<const T> B) {
  return dot(ctx, A.rows * A.cols, A.data, B.data);
}
template <class T>
double sqnorm(const Context& ctx, MatrixView<const T> A) {
  return dot(ctx, A.rows * A.cols, A.data, A.data);
}
/// B += alpha A.
template <class T>
void axpy(const Context& ctx, T alpha, MatrixView<const T> A, MatrixView<T> B) {
  axpy(ctx, A.rows * A.cols, alpha, A.data, B.data);
}
template <class T>
void zero(const Context& ctx, MatrixView<T> A) {
  fill(ctx, A.rows * A.cols, T(0), A.data);
}
template <class T>
void copy(const Context& ctx, MatrixView<const T> src, MatrixView<T> dst) {
  copy_bytes(ctx, dst.data, src.data, sizeof(T) * static_cast<std::size_t>(src.rows * src.cols),
             CopyKind::within_backend);
}

// ---- with the data operand X (n x m), dense or sparse ---------------------------------------

/// C = alpha A^T X + beta C.
template <class T>
void at_x(const Context& ctx, T alpha, MatrixView<const T> A, const DataOperand<T>& X, T beta,
          MatrixView<T> C) {
  if (X.sparse) {
    if (ctx.backend() == Backend::host)
      host::spmm_tn<T>(ctx, alpha, A, *X.sp, beta, C);
    else
      cuda::spmm_tn<T>(ctx, alpha, A, *X.sp, beta, C);
  } else {
    gemm<T>(ctx, Trans::T, Trans::N, alpha, A, X.dense, beta, C);
  }
}

/// R = alpha X Z^T + beta R.
template <class T>
void x_zt(const Context& ctx, T alpha, const DataOperand<T>& X, MatrixView<const T> Z, T beta,
          MatrixView<T> R) {
  if (X.sparse) {
    if (ctx.backend() == Backend::host)
      host::spmm_nt<T>(ctx, alpha, *X.sp, Z, beta, R);
    else
      cuda::spmm_nt<T>(ctx, alpha, *X.sp, Z, beta, R);
  } else {
    gemm<T>(ctx, Trans::N, Trans::T, alpha, X.dense, Z, beta, R);
  }
}

}  // namespace nnmf::detail::ops
