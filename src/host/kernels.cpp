// Host implementations of the kernel interface (core/kernels.inc): OpenBLAS for the dense
// products, OpenMP across columns for everything else. Reductions are summed in a fixed order
// (per-thread partials over static ranges, then serially), so results depend only on the
// input and the context's thread count.
#include <cblas.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "core/column_solver.hpp"
#include "core/kernels.hpp"
#include "core/kernels_instantiate.hpp"
#include "host/lane_solver.hpp"

extern "C" void openblas_set_num_threads(int num_threads);

namespace nnmf::detail::host {
namespace {

// Work (in flops or elements) below which a loop runs on one thread: the fork costs more.
constexpr index_t kParallelWork = 1 << 15;

void set_blas_threads(const Context& ctx) {
  thread_local int current = -1;
  if (current != ctx.threads()) {
    openblas_set_num_threads(ctx.threads());
    current = ctx.threads();
  }
}

CBLAS_TRANSPOSE cblas_op(Trans t) { return t == Trans::N ? CblasNoTrans : CblasTrans; }

void blas_gemm(Trans ta, Trans tb, index_t M, index_t N, index_t K, double alpha,
               const double* A, index_t lda, const double* B, index_t ldb, double beta,
               double* C, index_t ldc) {
  cblas_dgemm(CblasColMajor, cblas_op(ta), cblas_op(tb), M, N, K, alpha, A, lda, B, ldb, beta,
              C, ldc);
}
void blas_gemm(Trans ta, Trans tb, index_t M, index_t N, index_t K, float alpha, const float* A,
               index_t lda, const float* B, index_t ldb, float beta, float* C, index_t ldc) {
  cblas_sgemm(CblasColMajor, cblas_op(ta), cblas_op(tb), M, N, K, alpha, A, lda, B, ldb, beta,
              C, ldc);
}
void blas_syrk(index_t k, index_t n, const double* A, index_t lda, double* G) {
  cblas_dsyrk(CblasColMajor, CblasUpper, CblasTrans, k, n, 1.0, A, lda, 0.0, G, k);
}
void blas_syrk(index_t k, index_t n, const float* A, index_t lda, float* G) {
  cblas_ssyrk(CblasColMajor, CblasUpper, CblasTrans, k, n, 1.0f, A, lda, 0.0f, G, k);
}

template <class T>
void scale_view(MatrixView<T> C, T beta) {
  for (index_t j = 0; j < C.cols; ++j)
    for (index_t i = 0; i < C.rows; ++i) C(i, j) = beta == T(0) ? T(0) : beta * C(i, j);
}

/// Deterministic parallel sum of f(i) for i in [0, n): static ranges per thread, partials
/// added in thread order. Within a range, eight running sums (i mod 8) added pairwise at
/// the end: one chain of dependent additions would bound the sum at an addition's latency per
/// entry (the line search's norms and inner products over A(0), N x k, took 15% of an epoch
/// at m = 2000 that way).
template <class F>
double ordered_sum(const Context& ctx, index_t n, F f) {
  const int nt = n > kParallelWork ? ctx.threads() : 1;
  std::vector<double> part(static_cast<std::size_t>(nt), 0.0);
#pragma omp parallel num_threads(nt) if (nt > 1)
  {
    const int t = omp_get_thread_num();
    const index_t lo = n * t / nt, hi = n * (t + 1) / nt;
    double a[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    index_t i = lo;
    for (; i + 8 <= hi; i += 8)
      for (int u = 0; u < 8; ++u) a[u] += f(i + u);
    for (; i < hi; ++i) a[0] += f(i);
    part[static_cast<std::size_t>(t)] = ((a[0] + a[1]) + (a[2] + a[3])) + ((a[4] + a[5]) + (a[6] + a[7]));
  }
  double s = 0;
  for (double p : part) s += p;
  return s;
}

}  // namespace

template <class T>
void gemm(const Context& ctx, Trans ta, Trans tb, T alpha, MatrixView<const T> A,
          MatrixView<const T> B, T beta, MatrixView<T> C) {
  const index_t K = ta == Trans::N ? A.cols : A.rows;
  if (C.rows == 0 || C.cols == 0) return;
  if (K == 0) {
    scale_view(C, beta);
    return;
  }
  set_blas_threads(ctx);
  blas_gemm(ta, tb, C.rows, C.cols, K, alpha, A.data, A.ld, B.data, B.ld, beta, C.data, C.ld);
}

template <class T>
void gram(const Context& ctx, MatrixView<const T> A, MatrixView<T> G) {
  const index_t k = A.cols;
  if (k == 0) return;
  if (A.rows == 0) {
    scale_view(G, T(0));
    return;
  }
  set_blas_threads(ctx);
  blas_syrk(k, A.rows, A.data, A.ld, G.data);
  for (index_t j = 0; j < k; ++j)
    for (index_t i = j + 1; i < k; ++i) G(i, j) = G(j, i);
}

template <class T>
void transpose(const Context& ctx, MatrixView<const T> A, MatrixView<T> B) {
  // Blocks of 32 x 32 keep both the reads and the writes within a few cache lines.
  constexpr index_t bs = 32;
  const index_t nbj = (A.cols + bs - 1) / bs;
#pragma omp parallel for num_threads(ctx.threads()) if (A.rows * A.cols > kParallelWork) \
    schedule(static)
  for (index_t bj = 0; bj < nbj; ++bj)
    for (index_t bi = 0; bi < A.rows; bi += bs)
      for (index_t j = bj * bs; j < std::min(A.cols, (bj + 1) * bs); ++j)
        for (index_t i = bi; i < std::min(A.rows, bi + bs); ++i) B(j, i) = A(i, j);
}

/// Scratch of n entries that a calling thread keeps between calls up to 64 MiB (an epoch
/// calls the sparse products with the same sizes every time: fresh pages cost a fault and a
/// clearing each), allocated per call above that. Tag tells the users apart.
template <class T, int Tag>
T* kept_scratch(std::size_t n, std::vector<T>& local) {
  thread_local std::vector<T> kept;
  if (n * sizeof(T) > (std::size_t{64} << 20)) {
    local.resize(n);
    return local.data();
  }
  if (kept.size() < n) kept.resize(n);
  return kept.data();
}

/// The sparse products read or update one k-vector per nonzero, at rows in no order the
/// hardware can predict: the vector kPrefetchAhead nonzeros ahead is requested early
/// (measured on 20 Newsgroups, k = 20: 10-15% off a product; the arithmetic is unchanged).
constexpr index_t kPrefetchAhead = 12;

/// Rows of a column-major N x k result written together: a run of 8 rows of one column at a
/// time (a cache line of doubles) instead of k strided entries per row.
constexpr index_t kRowBlock = 8;

template <class T>
inline void prefetch_vector(const T* v, index_t k) {
  const char* c = reinterpret_cast<const char*>(v);
  for (std::size_t off = 0; off < static_cast<std::size_t>(k) * sizeof(T); off += 64) __builtin_prefetch(c + off);
}

/// acc (k) = sum over the entries p of column j of x of values[p] * src[rowind[p] * ld .. + k):
/// one column of a sparse-times-dense product, gathering contiguous k-vectors.
template <class T>
inline void sparse_column_combination(const CscView<T>& x, index_t j, const T* src, index_t ld,
                                      index_t k, T* acc) {
  std::fill(acc, acc + k, T(0));
  const index_t nnz = x.nnz();
  for (index_t p = x.colptr[j]; p < x.colptr[j + 1]; ++p) {
    if (p + kPrefetchAhead < nnz) prefetch_vector(src + x.rowind[p + kPrefetchAhead] * ld, k);
    const T v = x.values[p];
    const T* a = src + x.rowind[p] * ld;
    for (index_t q = 0; q < k; ++q) acc[q] += v * a[q];
  }
}

template <class T>
void spmm_tn(const Context& ctx, T alpha, MatrixView<const T> A, const DSparse<T>& X, T beta,
             MatrixView<T> C) {
  const index_t n = A.rows, k = A.cols, m = X.cols();
  // At (k x n): row i of A contiguous, so each nonzero reads one contiguous k-vector. Written
  // in its own order (k read streams), not A's (k-strided writes).
  std::vector<T> local;
  T* At = kept_scratch<T, 0>(static_cast<std::size_t>(n * k), local);
  for (index_t i = 0; i < n; ++i)
    for (index_t q = 0; q < k; ++q) At[q + i * k] = A(i, q);
  const CscView<T>& x = X.csc();
  const int nt = (x.nnz() * k > kParallelWork) ? ctx.threads() : 1;
#pragma omp parallel num_threads(nt) if (nt > 1)
  {
    std::vector<T> acc(static_cast<std::size_t>(k));
#pragma omp for schedule(static)
    for (index_t j = 0; j < m; ++j) {
      sparse_column_combination(x, j, At, k, k, acc.data());
      for (index_t q = 0; q < k; ++q)
        C(q, j) = alpha * acc[q] + (beta == T(0) ? T(0) : beta * C(q, j));
    }
  }
}

/// R = alpha X Z^T + beta R from the CSC arrays alone: each thread scatters a static range of
/// columns into its own Rt (k x n), and the partial sums are added in thread order (the same
/// result for a given thread count).
template <class T>
void spmm_nt_by_columns(const Context&, int nt, T alpha, const DSparse<T>& X,
                        MatrixView<const T> Z, T beta, MatrixView<T> R) {
  const index_t n = X.rows(), m = X.cols(), k = Z.rows;
  const CscView<T>& x = X.csc();
  const std::size_t size = static_cast<std::size_t>(nt) * static_cast<std::size_t>(n * k);
  std::vector<T> local;
  T* part = kept_scratch<T, 1>(size, local);
  std::fill(part, part + size, T(0));
#pragma omp parallel num_threads(nt) if (nt > 1)
  {
    const int t = omp_get_thread_num();
    T* Rt = part + static_cast<std::size_t>(t) * static_cast<std::size_t>(n * k);  // (k, n)
    const index_t j0 = m * t / nt, j1 = m * (t + 1) / nt, end = x.colptr[j1];
    for (index_t j = j0; j < j1; ++j) {
      const T* z = Z.data + j * Z.ld;
      for (index_t p = x.colptr[j]; p < x.colptr[j + 1]; ++p) {
        if (p + kPrefetchAhead < end) prefetch_vector(Rt + x.rowind[p + kPrefetchAhead] * k, k);
        const T v = x.values[p];
        T* r = Rt + x.rowind[p] * k;
        for (index_t q = 0; q < k; ++q) r[q] += v * z[q];
      }
    }
#pragma omp barrier
#pragma omp for schedule(static)
    for (index_t i = 0; i < n; ++i)
      for (index_t q = 0; q < k; ++q) {
        T s = 0;
        for (int u = 0; u < nt; ++u)
          s += part[static_cast<std::size_t>(u) * static_cast<std::size_t>(n * k) + static_cast<std::size_t>(q + i * k)];
        R(i, q) = alpha * s + (beta == T(0) ? T(0) : beta * R(i, q));
      }
  }
}

template <class T>
void spmm_nt(const Context& ctx, T alpha, const DSparse<T>& X, MatrixView<const T> Z, T beta,
             MatrixView<T> R) {
  const index_t n = X.rows(), k = Z.rows;
  if (!X.has_rows()) {
    // Without the row form, per-thread partial sums avoid building it (an O(nnz) transpose)
    // unless they would take much memory.
    const int nt = (X.nnz() * k > kParallelWork) ? ctx.threads() : 1;
    if (double(nt) * double(n) * double(k) * sizeof(T) <= 256.0 * (1 << 20)) {
      spmm_nt_by_columns(ctx, nt, alpha, X, Z, beta, R);
      return;
    }
    X.ensure_rows(ctx);
  }
  const CscView<T>& xr = X.rows_view();  // column i of X^T = row i of X
  const int nt = (X.nnz() * k > kParallelWork) ? ctx.threads() : 1;
  const index_t blocks = (n + kRowBlock - 1) / kRowBlock;
#pragma omp parallel num_threads(nt) if (nt > 1)
  {
    std::vector<T> acc(static_cast<std::size_t>(kRowBlock * k));
#pragma omp for schedule(static)
    for (index_t b = 0; b < blocks; ++b) {
      // kRowBlock rows at once: R is written a run of rows of one column at a time.
      const index_t i0 = b * kRowBlock, rows = std::min(kRowBlock, n - i0);
      for (index_t r = 0; r < rows; ++r) sparse_column_combination(xr, i0 + r, Z.data, Z.ld, k, acc.data() + r * k);
      for (index_t q = 0; q < k; ++q)
        for (index_t r = 0; r < rows; ++r)
          R(i0 + r, q) = alpha * acc[static_cast<std::size_t>(q + r * k)] + (beta == T(0) ? T(0) : beta * R(i0 + r, q));
    }
  }
}

template <class T>
void csc_transpose(const Context&, CscView<T> X, index_t* rowptr, index_t* colind, T* valt) {
  const index_t n = X.rows, m = X.cols, nnz = X.nnz();
  std::fill(rowptr, rowptr + n + 1, index_t{0});
  for (index_t p = 0; p < nnz; ++p) ++rowptr[X.rowind[p] + 1];
  for (index_t i = 0; i < n; ++i) rowptr[i + 1] += rowptr[i];
  std::vector<index_t> next(rowptr, rowptr + n);
  for (index_t j = 0; j < m; ++j) {
    for (index_t p = X.colptr[j]; p < X.colptr[j + 1]; ++p) {
      const index_t q = next[static_cast<std::size_t>(X.rowind[p])]++;
      colind[q] = j;
      valt[q] = X.values[p];
    }
  }
}

/// G with leading dimension k, as the column solvers read it: G's own memory when it already
/// is, else a copy in @p copy.
template <class T>
const T* packed_gram(MatrixView<const T> G, std::vector<T>& copy) {
  const index_t k = G.rows;
  if (G.ld == k) return G.data;
  copy.resize(static_cast<std::size_t>(k * k));
  for (index_t j = 0; j < k; ++j)
    for (index_t i = 0; i < k; ++i) copy[static_cast<std::size_t>(i + j * k)] = G(i, j);
  return copy.data();
}

/// Everything one range of columns of a batched solve reads.
template <class T>
struct ColumnBatch {
  const T* G;
  index_t k;
  MatrixView<const T> C;
  MatrixView<T> S;
  const std::uint64_t* warm;
  const T* Lfull;
  std::uint64_t* support;
  std::uint8_t* status;
  ColumnParams<T> prm;
};

constexpr int kLanes = 4;

/// One column by the scalar solver.
template <class T>
void solve_column(const ColumnBatch<T>& b, index_t j, ColumnWorkspace<T, UnitStride> ws,
                  index_t* iters, index_t* limited) {
  const UnitStride u{};
  const index_t wpc = (b.k + 63) / 64;
  Vec<const T, UnitStride> c{b.C.data + j * b.C.ld, u};
  Vec<T, UnitStride> x{b.S.data + j * b.S.ld, u};
  int it = 0;
  const int st = nnls_column(b.G, b.k, c, x, ws, b.warm ? b.warm + j * wpc : nullptr, b.Lfull,
                             b.support + j * wpc, b.prm, &it);
  b.status[j] = static_cast<std::uint8_t>(st);
  *iters += it;
  *limited += st;
}

/// Column j by the scalar solver from the factor and solve of its warm start on lane l (the
/// point nnls_column reaches after factoring that start: the same steps from there on).
template <class T>
void continue_column(const ColumnBatch<T>& b, index_t j, const Lanes<T, kLanes>& lanes, int l, T tol,
                     ColumnWorkspace<T, UnitStride> ws, index_t* iters, index_t* limited) {
  const UnitStride u{};
  const index_t k = b.k, np = lanes.np(l);
  Vec<const T, UnitStride> c{b.C.data + j * b.C.ld, u};
  Vec<T, UnitStride> x{b.S.data + j * b.S.ld, u};
  for (index_t i = 0; i < k; ++i) {
    x[i] = T(0);
    ws.state[i] = kStateZero;
  }
  lanes.export_lane(l, ws);
  for (index_t r = 0; r < np; ++r) ws.state[ws.P[r]] = kStatePassive;
  int it = 0;
  const int st = nnls_column_from(b.G, k, c, x, ws, np, tol, b.support + j * ((k + 63) / 64), b.prm, &it);
  b.status[j] = static_cast<std::uint8_t>(st);
  *iters += it;
  *limited += st;
}

/// Columns j[0..n) (n <= kLanes) warm-started at their previous supports, on the lanes: a
/// column whose support is still optimal is done with one factor and one solve (no
/// iteration, the scalar solver's bits); the others go through the scalar solver.
template <class T>
void solve_warm_group(const ColumnBatch<T>& b, const index_t* j, int n, Lanes<T, kLanes>& lanes,
                      ColumnWorkspace<T, UnitStride> ws, index_t* iters, index_t* limited) {
  const index_t k = b.k, wpc = (k + 63) / 64;
  const std::uint64_t* sup[kLanes];
  const T* c[kLanes];
  T tol[kLanes], zero[kLanes] = {};
  bool finite[kLanes];
  for (int l = 0; l < kLanes; ++l) {
    const index_t jl = j[std::min(l, n - 1)];  // spare lanes repeat the last column
    sup[l] = b.warm + jl * wpc;
    c[l] = b.C.data + jl * b.C.ld;
    finite[l] = rhs_tolerance(k, Vec<const T, UnitStride>{c[l], UnitStride{}}, b.prm.tol_rel, &tol[l]);
  }
  lanes.set_supports(sup);
  for (int l = 0; l < kLanes; ++l)
    if (!finite[l]) lanes.fail(l);
  lanes.factor(b.G, b.prm.pivot_eps, zero);
  lanes.solve(c);
  lanes.require_positive();
  lanes.require_optimal(b.G, c, tol);
  for (int l = 0; l < n; ++l) {
    if (!lanes.ok(l)) {
      if (lanes.factored(l))
        continue_column(b, j[l], lanes, l, tol[l], ws, iters, limited);
      else
        solve_column(b, j[l], ws, iters, limited);
      continue;
    }
    lanes.scatter(l, b.S.data + j[l] * b.S.ld);
    std::copy(sup[l], sup[l] + wpc, b.support + j[l] * wpc);
    b.status[j[l]] = 0;
  }
}

/// Columns j0..j1-1 ordered by the size of their supports (stable), so that groups of
/// kLanes consecutive columns pad little. A counting sort on the sizes (0..64 wpc) in order's
/// own storage: nothing allocated once order has grown.
inline void by_support_size(const std::uint64_t* support, index_t wpc, index_t j0, index_t j1,
                            std::vector<index_t>& order) {
  const index_t n = j1 - j0, buckets = 64 * wpc + 2;
  order.resize(static_cast<std::size_t>(2 * n + buckets));
  index_t* size = order.data() + n;
  index_t* start = size + n;  // start[s + 1] counts the columns of size s, then offsets
  std::fill(start, start + buckets, index_t{0});
  for (index_t j = 0; j < n; ++j) {
    index_t s = 0;
    for (index_t q = 0; q < wpc; ++q) s += __builtin_popcountll(support[(j0 + j) * wpc + q]);
    size[j] = s;
    ++start[s + 1];
  }
  for (index_t b = 1; b < buckets; ++b) start[b] += start[b - 1];
  for (index_t j = 0; j < n; ++j) order[static_cast<std::size_t>(start[size[j]]++)] = j0 + j;
  order.resize(static_cast<std::size_t>(n));
}

/// Columns [j0, j1): warm-started ones in groups of kLanes of similar support sizes, cold
/// ones one by one.
template <class T>
void solve_columns(const ColumnBatch<T>& b, index_t j0, index_t j1, T* real, int* ints,
                   Lanes<T, kLanes>& lanes, std::vector<index_t>& order, index_t* iters, index_t* limited) {
  const auto ws = ColumnWorkspace<T, UnitStride>::carve(real, ints, b.k, UnitStride{});
  if (!b.warm) {
    for (index_t j = j0; j < j1; ++j) solve_column(b, j, ws, iters, limited);
    return;
  }
  // The groups take the columns out of order: ask for all of them first.
  for (index_t j = j0; j < j1; ++j) {
    prefetch_vector(b.C.data + j * b.C.ld, b.k);
    prefetch_vector(b.S.data + j * b.S.ld, b.k);
  }
  by_support_size(b.warm, (b.k + 63) / 64, j0, j1, order);
  for (std::size_t q = 0; q < order.size(); q += kLanes) {
    const int n = static_cast<int>(std::min<std::size_t>(kLanes, order.size() - q));
    solve_warm_group(b, order.data() + q, n, lanes, ws, iters, limited);
  }
}

template <class T>
NnlsBatchStats nnls_batch(const Context& ctx, MatrixView<const T> G, MatrixView<const T> C,
                          const NnlsBatchParams<T>& prm, MatrixView<T> S, std::uint64_t* support,
                          const std::uint64_t* warm, std::uint8_t* status) {
  const index_t k = G.rows, m = C.cols;
  std::vector<T> Gc;
  const T* g = packed_gram(G, Gc);
  // Shared factor of G for the unconstrained probe of cold starts (none if G is singular).
  std::vector<T> Lfull(static_cast<std::size_t>(k * (k + 1) / 2));
  const T* lf = (!warm && chol_full(g, k, Lfull.data(), prm.pivot_eps)) ? Lfull.data() : nullptr;
  const ColumnBatch<T> batch{g, k, C, S, warm, lf, support, status,
                             ColumnParams<T>{prm.tol_rel, prm.pivot_eps, prm.max_iter}};
  index_t iters_total = 0, limited = 0;
  constexpr index_t chunk = 16;
  const index_t chunks = (m + chunk - 1) / chunk;
  const int nt = (m * k * k > kParallelWork) ? ctx.threads() : 1;
#pragma omp parallel num_threads(nt) if (nt > 1) reduction(+ : iters_total, limited)
  {
    using Ws = ColumnWorkspace<T, UnitStride>;
    std::vector<T> real(static_cast<std::size_t>(Ws::reals(k)));
    std::vector<int> ints(static_cast<std::size_t>(Ws::ints(k)));
    Lanes<T, kLanes> lanes(k);
    std::vector<index_t> order;  // the chunk's columns by support size
#pragma omp for schedule(dynamic, 1)
    for (index_t q = 0; q < chunks; ++q)
      solve_columns(batch, q * chunk, std::min(m, (q + 1) * chunk), real.data(), ints.data(),
                    lanes, order, &iters_total, &limited);
  }
  return {iters_total, limited};
}

/// Everything the masked solves of one batch read.
template <class T>
struct MaskedBatch {
  const T* G;
  index_t k;
  const std::uint64_t* support;
  MatrixView<const T> D;
  MatrixView<T> Z;
  T pivot_eps, ridge;
  std::uint8_t* status;
};

/// Columns [j0, j1) sharing one support: one factor, a solve per column.
template <class T>
index_t masked_shared(const MaskedBatch<T>& b, index_t j0, index_t j1,
                      ColumnWorkspace<T, UnitStride> ws) {
  const UnitStride u{};
  int r = 0;
  const index_t np = masked_factor(b.G, b.k, b.support + j0 * ((b.k + 63) / 64), ws, b.pivot_eps, b.ridge, &r);
  for (index_t j = j0; j < j1; ++j) {
    masked_apply(b.k, np, Vec<const T, UnitStride>{b.D.data + j * b.D.ld, u},
                 Vec<T, UnitStride>{b.Z.data + j * b.Z.ld, u}, ws);
    if (b.status) b.status[j] = static_cast<std::uint8_t>(r ? 2 : 0);
  }
  return r ? j1 - j0 : 0;
}

/// Columns j[0..n) (n <= kLanes) on the lanes; a column whose block needs the ridge (a pivot
/// below pivot_eps x its largest diagonal entry) goes through the scalar solve.
template <class T>
index_t masked_group(const MaskedBatch<T>& b, const index_t* j, int n, Lanes<T, kLanes>& lanes,
                     ColumnWorkspace<T, UnitStride> ws) {
  const index_t k = b.k, wpc = (k + 63) / 64;
  const std::uint64_t* sup[kLanes];
  const T* d[kLanes];
  T threshold[kLanes];
  for (int l = 0; l < kLanes; ++l) {
    const index_t jl = j[std::min(l, n - 1)];  // spare lanes repeat the last column
    sup[l] = b.support + jl * wpc;
    d[l] = b.D.data + jl * b.D.ld;
  }
  lanes.set_supports(sup);
  for (int l = 0; l < kLanes; ++l) {
    T dmax = T(0);
    for (index_t r = 0; r < lanes.np(l); ++r) dmax = std::max(dmax, b.G[lanes.P(l, r) * (k + 1)]);
    threshold[l] = b.pivot_eps * (dmax > T(0) ? dmax : T(1));
  }
  lanes.factor(b.G, T(0), threshold);
  lanes.solve(d);
  index_t regularized = 0;
  for (int l = 0; l < n; ++l) {
    if (!lanes.ok(l)) {
      regularized += masked_shared(b, j[l], j[l] + 1, ws);
      continue;
    }
    lanes.scatter(l, b.Z.data + j[l] * b.Z.ld);
    if (b.status) b.status[j[l]] = 0;
  }
  return regularized;
}

template <class T>
index_t masked_solve(const Context& ctx, MatrixView<const T> G, const std::uint64_t* support,
                     MatrixView<const T> D, T pivot_eps, T ridge, MatrixView<T> Z,
                     std::uint8_t* status) {
  const index_t k = G.rows, m = D.cols, wpc = (k + 63) / 64;
  std::vector<T> Gc;
  const MaskedBatch<T> b{packed_gram(G, Gc), k, support, D, Z, pivot_eps, ridge, status};
  index_t regularized = 0;
  const int nt = (m * k * k > kParallelWork) ? ctx.threads() : 1;
#pragma omp parallel num_threads(nt) if (nt > 1) reduction(+ : regularized)
  {
    using Ws = ColumnWorkspace<T, UnitStride>;
    std::vector<T> real(static_cast<std::size_t>(Ws::reals(k)));
    std::vector<int> ints(static_cast<std::size_t>(Ws::ints(k)));
    const Ws ws = Ws::carve(real.data(), ints.data(), k, UnitStride{});
    Lanes<T, kLanes> lanes(k);
    std::vector<index_t> order;
    constexpr index_t chunk = 64;
    const index_t chunks = (m + chunk - 1) / chunk;
#pragma omp for schedule(dynamic, 1)
    for (index_t c = 0; c < chunks; ++c) {
      const index_t j0 = c * chunk, j1 = std::min(m, (c + 1) * chunk);
      // Runs of one support (all-passive columns of dense data) share their factor (the
      // same bits as refactoring); other columns go on the lanes.
      const std::uint64_t* s0 = support + j0 * wpc;
      bool shared = true;
      for (index_t j = j0 + 1; j < j1 && shared; ++j) shared = std::equal(s0, s0 + wpc, support + j * wpc);
      if (shared) {
        regularized += masked_shared(b, j0, j1, ws);
        continue;
      }
      for (index_t j = j0; j < j1; ++j) {
        prefetch_vector(D.data + j * D.ld, k);
        prefetch_vector(Z.data + j * Z.ld, k);
      }
      by_support_size(support, wpc, j0, j1, order);
      for (std::size_t q = 0; q < order.size(); q += kLanes) {
        const int n = static_cast<int>(std::min<std::size_t>(kLanes, order.size() - q));
        regularized += masked_group(b, order.data() + q, n, lanes, ws);
      }
    }
  }
  return regularized;
}

template <class T>
void fill(const Context& ctx, index_t n, T value, T* x) {
#pragma omp parallel for num_threads(ctx.threads()) if (n > kParallelWork) schedule(static)
  for (index_t i = 0; i < n; ++i) x[i] = value;
}

template <class T>
void axpy(const Context& ctx, index_t n, T alpha, const T* x, T* y) {
#pragma omp parallel for num_threads(ctx.threads()) if (n > kParallelWork) schedule(static)
  for (index_t i = 0; i < n; ++i) y[i] += alpha * x[i];
}

template <class T>
void scal(const Context& ctx, index_t n, T alpha, T* x) {
#pragma omp parallel for num_threads(ctx.threads()) if (n > kParallelWork) schedule(static)
  for (index_t i = 0; i < n; ++i) x[i] *= alpha;
}

template <class T>
double dot(const Context& ctx, index_t n, const T* x, const T* y) {
  return ordered_sum(ctx, n, [&](index_t i) {
    return static_cast<double>(x[i]) * static_cast<double>(y[i]);
  });
}

template <class T>
void projected_step(const Context& ctx, index_t n, const T* a, const T* g, T step, T* out) {
#pragma omp parallel for num_threads(ctx.threads()) if (n > kParallelWork) schedule(static)
  for (index_t i = 0; i < n; ++i) {
    const T v = a[i] - step * g[i];
    out[i] = v > T(0) ? v : T(0);
  }
}

template <class T>
void adam_step(const Context& ctx, index_t n, T* a, const T* g, T* m1, T* m2, T lr, T beta1,
               T beta2, T eps, int t) {
  const T c1 = T(1) / (T(1) - std::pow(beta1, T(t)));
  const T c2 = T(1) / (T(1) - std::pow(beta2, T(t)));
#pragma omp parallel for num_threads(ctx.threads()) if (n > kParallelWork) schedule(static)
  for (index_t i = 0; i < n; ++i) {
    m1[i] = beta1 * m1[i] + (T(1) - beta1) * g[i];
    m2[i] = beta2 * m2[i] + (T(1) - beta2) * g[i] * g[i];
    const T v = a[i] - lr * (m1[i] * c1) / (std::sqrt(m2[i] * c2) + eps);
    a[i] = v > T(0) ? v : T(0);
  }
}

template <class T>
void mu_update(const Context& ctx, index_t n, T* a, const T* num, const T* den, T eps) {
#pragma omp parallel for num_threads(ctx.threads()) if (n > kParallelWork) schedule(static)
  for (index_t i = 0; i < n; ++i) a[i] *= num[i] / std::max(den[i], eps);
}

template <class T>
void masked_diff(const Context& ctx, index_t n, const T* W, const T* X, const T* P, T* R) {
#pragma omp parallel for num_threads(ctx.threads()) if (n > kParallelWork) schedule(static)
  for (index_t i = 0; i < n; ++i) R[i] = W[i] * (X[i] - P[i]);
}

template <class T>
void scale_columns(const Context& ctx, MatrixView<T> M, const T* w) {
#pragma omp parallel for num_threads(ctx.threads()) if (M.rows * M.cols > kParallelWork) \
    schedule(static)
  for (index_t j = 0; j < M.cols; ++j)
    for (index_t i = 0; i < M.rows; ++i) M(i, j) *= w[j];
}

template <class T>
void masked_residual(const Context& ctx, MatrixView<const T> Y, MatrixView<const T> P,
                     const T* w, MatrixView<T> R) {
#pragma omp parallel for num_threads(ctx.threads()) if (R.rows * R.cols > kParallelWork) \
    schedule(static)
  for (index_t j = 0; j < R.cols; ++j)
    for (index_t i = 0; i < R.rows; ++i) R(i, j) = w[j] * (Y(i, j) - P(i, j));
}

template <class T>
double softmax_xent(const Context& ctx, MatrixView<const T> logits, const int* labels,
                    const T* w, MatrixView<T> dlogits) {
  const index_t c = logits.rows, m = logits.cols;
  std::vector<double> colloss(static_cast<std::size_t>(m), 0.0);
#pragma omp parallel for num_threads(ctx.threads()) if (c * m > kParallelWork) schedule(static)
  for (index_t j = 0; j < m; ++j) {
    if (w[j] == T(0)) {
      for (index_t i = 0; i < c; ++i) dlogits(i, j) = T(0);
      continue;
    }
    double mx = -std::numeric_limits<double>::infinity();
    for (index_t i = 0; i < c; ++i) mx = std::max(mx, static_cast<double>(logits(i, j)));
    double s = 0;
    for (index_t i = 0; i < c; ++i) s += std::exp(static_cast<double>(logits(i, j)) - mx);
    const double lse = mx + std::log(s);
    for (index_t i = 0; i < c; ++i) {
      const double p = std::exp(static_cast<double>(logits(i, j)) - lse);
      dlogits(i, j) = static_cast<T>(w[j] * (p - (i == labels[j] ? 1.0 : 0.0)));
    }
    colloss[static_cast<std::size_t>(j)] =
        static_cast<double>(w[j]) * (lse - static_cast<double>(logits(labels[j], j)));
  }
  double total = 0;
  for (double v : colloss) total += v;
  return total;
}

template <class T>
void argmax_cols(const Context&, MatrixView<const T> M, int* out) {
  for (index_t j = 0; j < M.cols; ++j) {
    index_t best = 0;
    for (index_t i = 1; i < M.rows; ++i)
      if (M(i, j) > M(best, j)) best = i;
    out[j] = static_cast<int>(best);
  }
}

// ---- baselines: SSNMF and Deep NMF ----------------------------------------------------------

template <class T>
void hadamard(const Context& ctx, index_t n, const T* x, const T* y, T* out) {
#pragma omp parallel for num_threads(ctx.threads()) if (n > kParallelWork) schedule(static)
  for (index_t i = 0; i < n; ++i) out[i] = x[i] * y[i];
}

template <class T>
void max_pool_cols(const Context& ctx, MatrixView<const T> S, const index_t* ptr, MatrixView<T> P,
                   index_t* arg) {
  const index_t k = S.rows, G = P.cols;
#pragma omp parallel for num_threads(ctx.threads()) if (S.rows * S.cols > kParallelWork) \
    schedule(static)
  for (index_t g = 0; g < G; ++g)
    for (index_t i = 0; i < k; ++i) {
      index_t best = ptr[g];
      for (index_t j = ptr[g] + 1; j < ptr[g + 1]; ++j)
        if (S(i, j) > S(i, best)) best = j;
      P(i, g) = S(i, best);
      arg[i + g * k] = best;
    }
}

template <class T>
void max_pool_cols_backward(const Context& ctx, MatrixView<const T> D, const index_t* arg, T alpha,
                            MatrixView<T> Out) {
  const index_t k = D.rows, G = D.cols;
#pragma omp parallel for num_threads(ctx.threads()) if (k * G > kParallelWork) schedule(static)
  for (index_t g = 0; g < G; ++g)
    for (index_t i = 0; i < k; ++i) Out(i, arg[i + g * k]) += alpha * D(i, g);
}

// One output entry per loop iteration (no scatter), so the threads never share a target and
// the sums run in the same order for any thread count.

template <class T>
void sampled_product(const Context& ctx, MatrixView<const T> A, MatrixView<const T> V,
                     const PatternView& H, T* E) {
  const index_t k = A.cols;
#pragma omp parallel for num_threads(ctx.threads()) if (H.nnz * k > kParallelWork) schedule(static)
  for (index_t j = 0; j < H.cols; ++j)
    for (index_t q = H.col_ptr[j]; q < H.col_ptr[j + 1]; ++q) {
      const index_t i = H.row_idx[q];
      T s(0);
      for (index_t r = 0; r < k; ++r) s += A(i, r) * V(r, j);
      E[q] = s;
    }
}

template <class T>
void pattern_tn(const Context& ctx, T alpha, MatrixView<const T> A, const PatternView& H,
                const T* E, MatrixView<T> C) {
  const index_t k = A.cols;  // C (k x m)
#pragma omp parallel for num_threads(ctx.threads()) if (H.nnz * k > kParallelWork) schedule(static)
  for (index_t j = 0; j < H.cols; ++j)
    for (index_t r = 0; r < k; ++r) {
      T s(0);
      for (index_t q = H.col_ptr[j]; q < H.col_ptr[j + 1]; ++q) s += A(H.row_idx[q], r) * E[q];
      C(r, j) += alpha * s;
    }
}

template <class T>
void pattern_nt(const Context& ctx, T alpha, const PatternView& H, const T* E,
                MatrixView<const T> V, MatrixView<T> R) {
  const index_t k = V.rows;  // R (n x k)
#pragma omp parallel for num_threads(ctx.threads()) if (H.nnz * k > kParallelWork) schedule(static)
  for (index_t i = 0; i < H.rows; ++i)
    for (index_t r = 0; r < k; ++r) {
      T s(0);
      for (index_t p = H.row_ptr[i]; p < H.row_ptr[i + 1]; ++p) s += E[H.perm[p]] * V(r, H.col_idx[p]);
      R(i, r) += alpha * s;
    }
}

NNMF_INSTANTIATE_KERNELS(float)
NNMF_INSTANTIATE_KERNELS(double)

}  // namespace nnmf::detail::host
