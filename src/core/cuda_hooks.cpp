// The CUDA backend as seen from libnnmf when the CUDA code is not linked into it (ginkgo's
// device_hooks pattern, plus a loader): every entry point of core/cuda_backend.hpp and every
// kernel of kernels.inc's cuda:: namespace forwards to the table of libnnmf_cuda.so, which is
// loaded by the first Context::cuda(). So host-only use of a CUDA build never loads the CUDA
// runtime, cuBLAS or cuSPARSE, and a build without CUDA keeps the same API and link graph
// (the loader then throws NotCompiled).
//
// The kernels are only reached with a CUDA context, which exists only after the module was
// loaded; the forwarders still check, so that a misuse is an exception and not a crash.
#include <dlfcn.h>

#include <atomic>
#include <cstdlib>
#include <mutex>
#include <string>
#include <vector>

#include "core/cuda_backend.hpp"
#include "core/kernels.hpp"
#include "core/kernels_instantiate.hpp"
#include "nnmf/config.hpp"
#include "nnmf/error.hpp"

namespace nnmf::detail::cuda {
namespace {

struct Loaded {
  const CudaModule* module = nullptr;
  std::string error;  // why it could not be loaded
};

#if NNMF_WITH_CUDA
/// Directory of the file this function was loaded from (libnnmf.so, or the executable for a
/// static libnnmf), with a trailing '/'; empty when unknown.
std::string own_directory() {
  Dl_info info{};
  if (dladdr(reinterpret_cast<void*>(&own_directory), &info) == 0 || !info.dli_fname) return {};
  const std::string f = info.dli_fname;
  const auto slash = f.rfind('/');
  return slash == std::string::npos ? std::string() : f.substr(0, slash + 1);
}

/// Opens one candidate; returns the table or appends why not to @p why.
const CudaModule* try_open(const std::string& path, std::string& why) {
  void* h = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!h) {
    const char* e = dlerror();
    why += "\n  " + path + ": " + (e ? e : "dlopen failed");
    return nullptr;
  }
  using Entry = const CudaModule* (*)();
  auto entry = reinterpret_cast<Entry>(dlsym(h, NNMF_CUDA_MODULE_SYMBOL));
  if (!entry) {
    why += "\n  " + path + ": no symbol " NNMF_CUDA_MODULE_SYMBOL " (not an nnmf CUDA module)";
    return nullptr;
  }
  const CudaModule* m = entry();
  if (!m || m->abi != kCudaModuleAbi) {
    why += "\n  " + path + ": built from other nnmf sources (module ABI " +
           std::to_string(m ? m->abi : -1) + ", libnnmf expects " +
           std::to_string(kCudaModuleAbi) + ")";
    return nullptr;
  }
  return m;  // never unloaded: CUDA resources and their deleters live in it
}
#endif

/// The module once loaded (null before, or when it cannot be): lets device_count() ask it
/// without triggering a load.
std::atomic<const CudaModule*> g_module{nullptr};

const CudaModule* load_if_loaded() noexcept { return g_module.load(std::memory_order_acquire); }

const Loaded& load() {
  static Loaded loaded;
  static std::once_flag once;
  std::call_once(once, [] {
#if NNMF_WITH_CUDA
    // $NNMF_CUDA_MODULE, then next to libnnmf, then the library search path.
    std::vector<std::string> paths;
    const char* env = std::getenv("NNMF_CUDA_MODULE");
    if (env && *env) paths.emplace_back(env);
    const std::string dir = own_directory();
    if (!dir.empty()) paths.push_back(dir + NNMF_CUDA_MODULE_FILE);
    paths.emplace_back(NNMF_CUDA_MODULE_FILE);
    std::string why;
    for (const std::string& path : paths)
      if ((loaded.module = try_open(path, why))) break;
    g_module.store(loaded.module, std::memory_order_release);
    if (!loaded.module)
      loaded.error = "nnmf was built with CUDA but its CUDA module " NNMF_CUDA_MODULE_FILE
                     " could not be loaded (it is installed next to libnnmf; set "
                     "NNMF_CUDA_MODULE to its path to override). Tried:" +
                     why;
#else
    loaded.error = "nnmf was built without CUDA (configure with -DNNMF_WITH_CUDA=ON on a "
                   "machine with the CUDA toolkit)";
#endif
  });
  return loaded;
}

const CudaModule& module() {
  const Loaded& l = load();
  if (l.module) return *l.module;
#if NNMF_WITH_CUDA
  throw BackendError("Context::cuda: " + l.error);
#else
  throw NotCompiled("Context::cuda: " + l.error);
#endif
}

template <class T>
const CudaKernels<T>& kernels();
template <>
const CudaKernels<float>& kernels<float>() {
  return module().f;
}
template <>
const CudaKernels<double>& kernels<double>() {
  return module().d;
}

/// Devices the driver reports, without loading the CUDA runtime or any CUDA library
/// (libcuda.so.1 is the driver itself; absent on a machine without an NVIDIA driver).
int driver_device_count() noexcept {
  void* h = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
  if (!h) return 0;
  using Init = int (*)(unsigned);
  using Count = int (*)(int*);
  auto init = reinterpret_cast<Init>(dlsym(h, "cuInit"));
  auto count = reinterpret_cast<Count>(dlsym(h, "cuDeviceGetCount"));
  int n = 0;
  if (!init || !count || init(0) != 0 || count(&n) != 0) n = 0;
  return n;  // the driver stays loaded: the CUDA runtime would load it again anyway
}

}  // namespace

bool compiled() noexcept { return NNMF_WITH_CUDA != 0; }

int device_count() noexcept {
  if (!compiled()) return 0;
  const CudaModule* m = load_if_loaded();
  return m ? m->device_count() : driver_device_count();
}

std::shared_ptr<CudaResources> make_resources(int device) {
  return module().make_resources(device);
}
std::string device_name(const CudaResources& r) { return module().device_name(r); }
void synchronize(const CudaResources& r) { module().synchronize(r); }

void* alloc_bytes(const Context& ctx, std::size_t bytes) {
  return module().alloc_bytes(ctx, bytes);
}
void free_bytes(const Context& ctx, void* p) noexcept {
  const Loaded& l = load();
  if (l.module && p) l.module->free_bytes(ctx, p);
}
void copy_bytes(const Context& ctx, void* dst, const void* src, std::size_t bytes, CopyKind kind) {
  module().copy_bytes(ctx, dst, src, bytes, kind);
}
void zero_bytes(const Context& ctx, void* p, std::size_t bytes) {
  module().zero_bytes(ctx, p, bytes);
}

template <class T>
void gemm(const Context& ctx, Trans ta, Trans tb, T alpha, MatrixView<const T> A,
          MatrixView<const T> B, T beta, MatrixView<T> C) {
  kernels<T>().gemm(ctx, ta, tb, alpha, A, B, beta, C);
}
template <class T>
void gram(const Context& ctx, MatrixView<const T> A, MatrixView<T> G) {
  kernels<T>().gram(ctx, A, G);
}
template <class T>
void transpose(const Context& ctx, MatrixView<const T> A, MatrixView<T> B) {
  kernels<T>().transpose(ctx, A, B);
}
template <class T>
void masked_diff(const Context& ctx, index_t n, const T* W, const T* X, const T* P, T* R) {
  kernels<T>().masked_diff(ctx, n, W, X, P, R);
}
template <class T>
void spmm_tn(const Context& ctx, T alpha, MatrixView<const T> A, const DSparse<T>& X, T beta,
             MatrixView<T> C) {
  kernels<T>().spmm_tn(ctx, alpha, A, X, beta, C);
}
template <class T>
void spmm_nt(const Context& ctx, T alpha, const DSparse<T>& X, MatrixView<const T> Z, T beta,
             MatrixView<T> R) {
  kernels<T>().spmm_nt(ctx, alpha, X, Z, beta, R);
}
template <class T>
void csc_transpose(const Context& ctx, CscView<T> X, index_t* rowptr, index_t* colind, T* valt) {
  kernels<T>().csc_transpose(ctx, X, rowptr, colind, valt);
}
template <class T>
NnlsBatchStats nnls_batch(const Context& ctx, MatrixView<const T> G, MatrixView<const T> C,
                          const NnlsBatchParams<T>& prm, MatrixView<T> S, std::uint64_t* support,
                          const std::uint64_t* warm, std::uint8_t* status) {
  return kernels<T>().nnls_batch(ctx, G, C, prm, S, support, warm, status);
}
template <class T>
index_t masked_solve(const Context& ctx, MatrixView<const T> G, const std::uint64_t* support,
                     MatrixView<const T> D, T pivot_eps, T ridge, MatrixView<T> Z,
                     std::uint8_t* status) {
  return kernels<T>().masked_solve(ctx, G, support, D, pivot_eps, ridge, Z, status);
}
template <class T>
void fill(const Context& ctx, index_t n, T value, T* x) {
  kernels<T>().fill(ctx, n, value, x);
}
template <class T>
void axpy(const Context& ctx, index_t n, T alpha, const T* x, T* y) {
  kernels<T>().axpy(ctx, n, alpha, x, y);
}
template <class T>
void scal(const Context& ctx, index_t n, T alpha, T* x) {
  kernels<T>().scal(ctx, n, alpha, x);
}
template <class T>
double dot(const Context& ctx, index_t n, const T* x, const T* y) {
  return kernels<T>().dot(ctx, n, x, y);
}
template <class T>
void projected_step(const Context& ctx, index_t n, const T* a, const T* g, T step, T* out) {
  kernels<T>().projected_step(ctx, n, a, g, step, out);
}
template <class T>
void adam_step(const Context& ctx, index_t n, T* a, const T* g, T* m1, T* m2, T lr, T beta1,
               T beta2, T eps, int t) {
  kernels<T>().adam_step(ctx, n, a, g, m1, m2, lr, beta1, beta2, eps, t);
}
template <class T>
void mu_update(const Context& ctx, index_t n, T* a, const T* num, const T* den, T eps) {
  kernels<T>().mu_update(ctx, n, a, num, den, eps);
}
template <class T>
void scale_columns(const Context& ctx, MatrixView<T> M, const T* w) {
  kernels<T>().scale_columns(ctx, M, w);
}
template <class T>
void masked_residual(const Context& ctx, MatrixView<const T> Y, MatrixView<const T> P,
                     const T* w, MatrixView<T> R) {
  kernels<T>().masked_residual(ctx, Y, P, w, R);
}
template <class T>
double softmax_xent(const Context& ctx, MatrixView<const T> logits, const int* labels,
                    const T* w, MatrixView<T> dlogits) {
  return kernels<T>().softmax_xent(ctx, logits, labels, w, dlogits);
}
template <class T>
void argmax_cols(const Context& ctx, MatrixView<const T> M, int* out) {
  kernels<T>().argmax_cols(ctx, M, out);
}
template <class T>
void hadamard(const Context& ctx, index_t n, const T* x, const T* y, T* out) {
  kernels<T>().hadamard(ctx, n, x, y, out);
}
template <class T>
void max_pool_cols(const Context& ctx, MatrixView<const T> S, const index_t* ptr, MatrixView<T> P,
                   index_t* arg) {
  kernels<T>().max_pool_cols(ctx, S, ptr, P, arg);
}
template <class T>
void max_pool_cols_backward(const Context& ctx, MatrixView<const T> D, const index_t* arg, T alpha,
                            MatrixView<T> Out) {
  kernels<T>().max_pool_cols_backward(ctx, D, arg, alpha, Out);
}

template <class T>
void sampled_product(const Context& ctx, MatrixView<const T> A, MatrixView<const T> V,
                     const PatternView& H, T* E) {
  kernels<T>().sampled_product(ctx, A, V, H, E);
}
template <class T>
void pattern_tn(const Context& ctx, T alpha, MatrixView<const T> A, const PatternView& H,
                const T* E, MatrixView<T> C) {
  kernels<T>().pattern_tn(ctx, alpha, A, H, E, C);
}
template <class T>
void pattern_nt(const Context& ctx, T alpha, const PatternView& H, const T* E,
                MatrixView<const T> V, MatrixView<T> R) {
  kernels<T>().pattern_nt(ctx, alpha, H, E, V, R);
}

NNMF_INSTANTIATE_KERNELS(float)
NNMF_INSTANTIATE_KERNELS(double)

}  // namespace nnmf::detail::cuda
