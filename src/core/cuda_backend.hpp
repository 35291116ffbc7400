// Entry points of the CUDA backend that the backend-neutral code calls (context creation and
// queries). Implemented in src/cuda/ when nnmf is built with CUDA, and by the stubs of
// src/core/cuda_hooks.cpp otherwise, which throw NotCompiled.
#pragma once

#include <memory>
#include <string>

#include "nnmf/context.hpp"

namespace nnmf::detail::cuda {

/// True in a build with the CUDA backend.
bool compiled() noexcept;
/// Usable devices (0 when none or not compiled); never throws.
int device_count() noexcept;
/// Stream and library handles for @p device; throws InvalidArgument for a bad ordinal and
/// BackendError when the device cannot be initialised.
std::shared_ptr<CudaResources> make_resources(int device);
/// Device name.
std::string device_name(const CudaResources& r);
/// Waits for the context's stream; throws BackendError on an asynchronous error.
void synchronize(const CudaResources& r);

}  // namespace nnmf::detail::cuda
