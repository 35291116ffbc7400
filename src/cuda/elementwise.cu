// CUDA elementwise kernels and reductions, each the device form of the host loop of the same
// name in src/host/kernels.cpp (same expression, same evaluation order; this file is built
// with --fmad=false so that no multiply-add is fused where the host rounds twice).
//
// Reductions (dot, softmax_xent's loss) are deterministic for a given device: a fixed grid of
// blocks (elementwise_blocks: a function of n and the device only) each sums a fixed strided
// subset in order, cub::BlockReduce combines a block's threads in a fixed tree, and one block
// adds the per-block partials in a fixed tree. No floating-point atomics.
#include <cmath>
#include <cstdint>
#include <cub/block/block_reduce.cuh>
#include <limits>

#include "core/kernels.hpp"
#include "core/kernels_instantiate.hpp"
#include "cuda/blas.hpp"
#include "cuda/cuda_resources.hpp"

namespace nnmf::detail::cuda {
namespace {

constexpr int kBlock = 256;

/// Runs f(i) for i in [0, n) on the context's stream.
template <class F>
__global__ void map_kernel(index_t n, F f) {
  NNMF_GRID_STRIDE(i, n) f(i);
}

template <class F>
void launch_map(const CudaResources& r, index_t n, F f) {
  if (n <= 0) return;
  map_kernel<<<elementwise_blocks(r, n, kBlock), kBlock, 0, r.stream>>>(n, f);
  NNMF_CUDA_CHECK_LAUNCH();
}

// ---- elementwise functors (the host loop bodies) -------------------------------------------

template <class T>
struct FillOp {
  T value;
  T* x;
  __device__ void operator()(index_t i) const { x[i] = value; }
};
template <class T>
struct AxpyOp {
  T alpha;
  const T* x;
  T* y;
  __device__ void operator()(index_t i) const { y[i] += alpha * x[i]; }
};
template <class T>
struct ScalOp {
  T alpha;
  T* x;
  __device__ void operator()(index_t i) const { x[i] *= alpha; }
};
template <class T>
struct ProjectedStepOp {
  const T* a;
  const T* g;
  T step;
  T* out;
  __device__ void operator()(index_t i) const {
    const T v = a[i] - step * g[i];
    out[i] = v > T(0) ? v : T(0);
  }
};
template <class T>
struct AdamOp {
  T* a;
  const T* g;
  T* m1;
  T* m2;
  T lr, beta1, beta2, eps, c1, c2;
  __device__ void operator()(index_t i) const {
    m1[i] = beta1 * m1[i] + (T(1) - beta1) * g[i];
    m2[i] = beta2 * m2[i] + (T(1) - beta2) * g[i] * g[i];
    const T v = a[i] - lr * (m1[i] * c1) / (sqrt(m2[i] * c2) + eps);
    a[i] = v > T(0) ? v : T(0);
  }
};
template <class T>
struct MuUpdateOp {
  T* a;
  const T* num;
  const T* den;
  T eps;
  __device__ void operator()(index_t i) const {
    const T d = den[i] < eps ? eps : den[i];  // std::max(den, eps): den unless den < eps
    a[i] *= num[i] / d;
  }
};
template <class T>
struct MaskedDiffOp {
  const T* W;
  const T* X;
  const T* P;
  T* R;
  __device__ void operator()(index_t i) const { R[i] = W[i] * (X[i] - P[i]); }
};
template <class T>
struct ScaleColumnsOp {
  MatrixView<T> M;
  const T* w;
  __device__ void operator()(index_t e) const {
    const index_t i = e % M.rows, j = e / M.rows;
    M.data[i + j * M.ld] *= w[j];
  }
};
template <class T>
struct MaskedResidualOp {
  MatrixView<const T> Y, P;
  const T* w;
  MatrixView<T> R;
  __device__ void operator()(index_t e) const {
    const index_t i = e % R.rows, j = e / R.rows;
    R.data[i + j * R.ld] = w[j] * (Y.data[i + j * Y.ld] - P.data[i + j * P.ld]);
  }
};

/// One column of softmax_xent per thread (c, the number of classes, is small).
template <class T>
struct SoftmaxXentOp {
  MatrixView<const T> logits;
  const int* labels;
  const T* w;
  MatrixView<T> dlogits;
  double* colloss;
  __device__ void operator()(index_t j) const {
    const index_t c = logits.rows;
    const T* l = logits.data + j * logits.ld;
    T* d = dlogits.data + j * dlogits.ld;
    if (w[j] == T(0)) {
      for (index_t i = 0; i < c; ++i) d[i] = T(0);
      colloss[j] = 0.0;
      return;
    }
    double mx = -std::numeric_limits<double>::infinity();
    for (index_t i = 0; i < c; ++i) {
      const double v = static_cast<double>(l[i]);
      mx = mx < v ? v : mx;  // std::max(mx, v)
    }
    double s = 0;
    for (index_t i = 0; i < c; ++i) s += exp(static_cast<double>(l[i]) - mx);
    const double lse = mx + log(s);
    for (index_t i = 0; i < c; ++i) {
      const double p = exp(static_cast<double>(l[i]) - lse);
      d[i] = static_cast<T>(w[j] * (p - (i == labels[j] ? 1.0 : 0.0)));
    }
    colloss[j] = static_cast<double>(w[j]) * (lse - static_cast<double>(l[labels[j]]));
  }
};

template <class T>
struct ArgmaxOp {
  MatrixView<const T> M;
  int* out;
  __device__ void operator()(index_t j) const {
    const T* col = M.data + j * M.ld;
    index_t best = 0;
    for (index_t i = 1; i < M.rows; ++i)
      if (col[i] > col[best]) best = i;
    out[j] = static_cast<int>(best);
  }
};

// ---- deterministic sums ----------------------------------------------------------------------

template <class T>
struct DotTerm {
  const T* x;
  const T* y;
  __device__ double operator()(index_t i) const {
    return static_cast<double>(x[i]) * static_cast<double>(y[i]);
  }
};
struct ArrayTerm {
  const double* v;
  __device__ double operator()(index_t i) const { return v[i]; }
};

/// part[block] = sum over the block's strided share of f(i), i in [0, n).
template <class F>
__global__ void __launch_bounds__(kBlock) partial_sums_kernel(index_t n, F f, double* part) {
  double acc = 0;
  NNMF_GRID_STRIDE(i, n) acc += f(i);
  using Reduce = cub::BlockReduce<double, kBlock>;
  __shared__ typename Reduce::TempStorage tmp;
  const double s = Reduce(tmp).Sum(acc);
  if (threadIdx.x == 0) part[blockIdx.x] = s;
}

/// out[0] = sum of part[0..nparts) by one block.
__global__ void __launch_bounds__(kBlock)
    final_sum_kernel(int nparts, const double* part, double* out) {
  double acc = 0;
  for (int i = threadIdx.x; i < nparts; i += kBlock) acc += part[i];
  using Reduce = cub::BlockReduce<double, kBlock>;
  __shared__ typename Reduce::TempStorage tmp;
  const double s = Reduce(tmp).Sum(acc);
  if (threadIdx.x == 0) out[0] = s;
}

/// sum_{i < n} f(i) in double, synchronising to return it.
template <class F>
double ordered_sum(const Context& ctx, index_t n, F f, const char* what) {
  if (n <= 0) return 0.0;
  const CudaResources& r = resources(ctx);
  const unsigned int blocks = elementwise_blocks(r, n, kBlock);
  Buffer<double> part(ctx, blocks + 1);  // partials, then the total
  partial_sums_kernel<<<blocks, kBlock, 0, r.stream>>>(n, f, part.data());
  NNMF_CUDA_CHECK_LAUNCH();
  final_sum_kernel<<<1, kBlock, 0, r.stream>>>(static_cast<int>(blocks), part.data(),
                                               part.data() + blocks);
  NNMF_CUDA_CHECK_LAUNCH();
  double total = 0;
  NNMF_CUDA_TRY(cudaMemcpyAsync(&total, part.data() + blocks, sizeof(double),
                                cudaMemcpyDeviceToHost, r.stream));
  sync_and_check(r, what);
  return total;
}


}  // namespace

template <class T>
void fill(const Context& ctx, index_t n, T value, T* x) {
  const CudaResources& r = resources(ctx);
  DeviceGuard guard(r.device);
  launch_map(r, n, FillOp<T>{value, x});
}

template <class T>
void axpy(const Context& ctx, index_t n, T alpha, const T* x, T* y) {
  const CudaResources& r = resources(ctx);
  DeviceGuard guard(r.device);
  launch_map(r, n, AxpyOp<T>{alpha, x, y});
}

template <class T>
void scal(const Context& ctx, index_t n, T alpha, T* x) {
  const CudaResources& r = resources(ctx);
  DeviceGuard guard(r.device);
  launch_map(r, n, ScalOp<T>{alpha, x});
}

template <class T>
double dot(const Context& ctx, index_t n, const T* x, const T* y) {
  DeviceGuard guard(resources(ctx).device);
  return ordered_sum(ctx, n, DotTerm<T>{x, y}, "dot");
}

template <class T>
void projected_step(const Context& ctx, index_t n, const T* a, const T* g, T step, T* out) {
  const CudaResources& r = resources(ctx);
  DeviceGuard guard(r.device);
  launch_map(r, n, ProjectedStepOp<T>{a, g, step, out});
}

template <class T>
void adam_step(const Context& ctx, index_t n, T* a, const T* g, T* m1, T* m2, T lr, T beta1,
               T beta2, T eps, int t) {
  const CudaResources& r = resources(ctx);
  DeviceGuard guard(r.device);
  // The bias corrections exactly as the host computes them.
  const T c1 = T(1) / (T(1) - std::pow(beta1, T(t)));
  const T c2 = T(1) / (T(1) - std::pow(beta2, T(t)));
  launch_map(r, n, AdamOp<T>{a, g, m1, m2, lr, beta1, beta2, eps, c1, c2});
}

template <class T>
void mu_update(const Context& ctx, index_t n, T* a, const T* num, const T* den, T eps) {
  const CudaResources& r = resources(ctx);
  DeviceGuard guard(r.device);
  launch_map(r, n, MuUpdateOp<T>{a, num, den, eps});
}

template <class T>
void masked_diff(const Context& ctx, index_t n, const T* W, const T* X, const T* P, T* R) {
  const CudaResources& r = resources(ctx);
  DeviceGuard guard(r.device);
  launch_map(r, n, MaskedDiffOp<T>{W, X, P, R});
}

template <class T>
void scale_columns(const Context& ctx, MatrixView<T> M, const T* w) {
  const CudaResources& r = resources(ctx);
  DeviceGuard guard(r.device);
  launch_map(r, M.rows * M.cols, ScaleColumnsOp<T>{M, w});
}

template <class T>
void masked_residual(const Context& ctx, MatrixView<const T> Y, MatrixView<const T> P, const T* w,
                     MatrixView<T> R) {
  const CudaResources& r = resources(ctx);
  DeviceGuard guard(r.device);
  launch_map(r, R.rows * R.cols, MaskedResidualOp<T>{Y, P, w, R});
}

template <class T>
double softmax_xent(const Context& ctx, MatrixView<const T> logits, const int* labels, const T* w,
                    MatrixView<T> dlogits) {
  const index_t m = logits.cols;
  if (m == 0) return 0.0;
  const CudaResources& r = resources(ctx);
  DeviceGuard guard(r.device);
  Buffer<double> colloss(ctx, static_cast<std::size_t>(m));
  launch_map(r, m, SoftmaxXentOp<T>{logits, labels, w, dlogits, colloss.data()});
  return ordered_sum(ctx, m, ArrayTerm{colloss.data()}, "softmax_xent");
}

template <class T>
void argmax_cols(const Context& ctx, MatrixView<const T> M, int* out) {
  const CudaResources& r = resources(ctx);
  DeviceGuard guard(r.device);
  launch_map(r, M.cols, ArgmaxOp<T>{M, out});
}

NNMF_INSTANTIATE_ELEMENTWISE_KERNELS(float)
NNMF_INSTANTIATE_ELEMENTWISE_KERNELS(double)

}  // namespace nnmf::detail::cuda
