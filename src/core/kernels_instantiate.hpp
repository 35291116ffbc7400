// Explicit instantiation of every kernel of kernels.inc for one value type, in the groups that
// the CUDA backend implements one file each. Each backend's implementation (and the CUDA stubs)
// instantiates them inside its backend namespace: the host and the stubs with
//   NNMF_INSTANTIATE_KERNELS(float)
//   NNMF_INSTANTIATE_KERNELS(double)
// and each CUDA file with its group, so that the lists cannot drift apart.
#pragma once

/// Products (src/cuda/products.cu).
#define NNMF_INSTANTIATE_PRODUCT_KERNELS(T)                                                        \
  template void gemm<T>(const Context&, Trans, Trans, T, MatrixView<const T>, MatrixView<const T>, \
                        T, MatrixView<T>);                                                         \
  template void gram<T>(const Context&, MatrixView<const T>, MatrixView<T>);                       \
  template void transpose<T>(const Context&, MatrixView<const T>, MatrixView<T>);                  \
  template void spmm_tn<T>(const Context&, T, MatrixView<const T>, const DSparse<T>&, T,           \
                           MatrixView<T>);                                                         \
  template void spmm_nt<T>(const Context&, T, const DSparse<T>&, MatrixView<const T>, T,           \
                           MatrixView<T>);                                                         \
  template void csc_transpose<T>(const Context&, CscView<T>, index_t*, index_t*, T*);

/// Batched NNLS and masked solves (src/cuda/nnls_kernels.cu).
#define NNMF_INSTANTIATE_NNLS_KERNELS(T)                                                          \
  template NnlsBatchStats nnls_batch<T>(const Context&, MatrixView<const T>, MatrixView<const T>, \
                                        const NnlsBatchParams<T>&, MatrixView<T>, std::uint64_t*, \
                                        const std::uint64_t*, std::uint8_t*);                     \
  template index_t masked_solve<T>(const Context&, MatrixView<const T>, const std::uint64_t*,     \
                                   MatrixView<const T>, T, T, MatrixView<T>, std::uint8_t*);

/// Elementwise kernels and reductions (src/cuda/elementwise.cu).
#define NNMF_INSTANTIATE_ELEMENTWISE_KERNELS(T)                                               \
  template void fill<T>(const Context&, index_t, T, T*);                                      \
  template void axpy<T>(const Context&, index_t, T, const T*, T*);                            \
  template void scal<T>(const Context&, index_t, T, T*);                                      \
  template double dot<T>(const Context&, index_t, const T*, const T*);                        \
  template void projected_step<T>(const Context&, index_t, const T*, const T*, T, T*);        \
  template void adam_step<T>(const Context&, index_t, T*, const T*, T*, T*, T, T, T, T, int); \
  template void mu_update<T>(const Context&, index_t, T*, const T*, const T*, T);             \
  template void masked_diff<T>(const Context&, index_t, const T*, const T*, const T*, T*);    \
  template void scale_columns<T>(const Context&, MatrixView<T>, const T*);                    \
  template void masked_residual<T>(const Context&, MatrixView<const T>, MatrixView<const T>,  \
                                   const T*, MatrixView<T>);                                  \
  template double softmax_xent<T>(const Context&, MatrixView<const T>, const int*, const T*,  \
                                  MatrixView<T>);                                             \
  template void argmax_cols<T>(const Context&, MatrixView<const T>, int*);

/// Kernels of the baselines (src/cuda/baseline_kernels.cu).
#define NNMF_INSTANTIATE_BASELINE_KERNELS(T)                                                      \
  template void hadamard<T>(const Context&, index_t, const T*, const T*, T*);                     \
  template void max_pool_cols<T>(const Context&, MatrixView<const T>, const index_t*,             \
                                 MatrixView<T>, index_t*);                                        \
  template void max_pool_cols_backward<T>(const Context&, MatrixView<const T>, const index_t*, T, \
                                          MatrixView<T>);

/// Sampled products on a pattern (src/cuda/pattern_kernels.cu).
#define NNMF_INSTANTIATE_PATTERN_KERNELS(T)                                                     \
  template void sampled_product<T>(const Context&, MatrixView<const T>, MatrixView<const T>,    \
                                   const PatternView&, T*);                                     \
  template void pattern_tn<T>(const Context&, T, MatrixView<const T>, const PatternView&,       \
                              const T*, MatrixView<T>);                                         \
  template void pattern_nt<T>(const Context&, T, const PatternView&, const T*,                  \
                              MatrixView<const T>, MatrixView<T>);

#define NNMF_INSTANTIATE_KERNELS(T)       \
  NNMF_INSTANTIATE_PRODUCT_KERNELS(T)     \
  NNMF_INSTANTIATE_PATTERN_KERNELS(T)     \
  NNMF_INSTANTIATE_NNLS_KERNELS(T)        \
  NNMF_INSTANTIATE_ELEMENTWISE_KERNELS(T) \
  NNMF_INSTANTIATE_BASELINE_KERNELS(T)
