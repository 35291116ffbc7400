#include "nnmf/context.hpp"

#include <omp.h>

#include <algorithm>
#include <cctype>
#include <string>

#include "core/cuda_backend.hpp"
#include "nnmf/error.hpp"

namespace nnmf {

const char* to_string(Backend b) noexcept { return b == Backend::host ? "host" : "cuda"; }

namespace {
int resolve_threads(int threads, const char* who) {
  if (threads < 0)
    throw InvalidArgument(std::string(who) + ": threads must be >= 0 (0 = all), got " +
                          std::to_string(threads));
  return threads == 0 ? std::max(1, omp_get_max_threads()) : threads;
}
}  // namespace

Context Context::host(int threads) {
  return Context(Backend::host, resolve_threads(threads, "Context::host"), -1, nullptr);
}

Context Context::cuda(int device, int host_threads) {
  const int t = resolve_threads(host_threads, "Context::cuda");
  if (!detail::cuda::compiled())
    throw NotCompiled("Context::cuda: nnmf was built without CUDA (configure with "
                      "-DNNMF_WITH_CUDA=ON on a machine with the CUDA toolkit)");
  return Context(Backend::cuda, t, device, detail::cuda::make_resources(device));
}

bool Context::cuda_compiled() noexcept { return detail::cuda::compiled(); }

int Context::cuda_device_count() noexcept { return detail::cuda::device_count(); }

std::string Context::describe() const {
  if (backend_ == Backend::host)
    return "host (" + std::to_string(threads_) + (threads_ == 1 ? " thread)" : " threads)");
  return "cuda:" + std::to_string(device_) + " (" + detail::cuda::device_name(*cuda_) + ")";
}

void Context::synchronize() const {
  if (backend_ == Backend::cuda) detail::cuda::synchronize(*cuda_);
}

detail::CudaResources& Context::cuda_resources() const {
  if (!cuda_) throw InvalidArgument("Context::cuda_resources: not a CUDA context");
  return *cuda_;
}

Backend parse_backend(const std::string& name) {
  std::string s = name;
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  if (s == "cpu" || s == "host") return Backend::host;
  if (s == "cuda" || s == "gpu") return Backend::cuda;
  throw InvalidArgument("device: expected 'cpu' or 'cuda', got '" + name + "'");
}

}  // namespace nnmf
