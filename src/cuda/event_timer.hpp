// Device-side timing with CUDA events on a context's stream, behind a plain C++ interface so
// that the benchmarks (compiled as ordinary C++ against nnmf) can use it. Only present in a
// build with the CUDA backend (NNMF_WITH_CUDA in nnmf/config.hpp).
#pragma once

#include <memory>

#include "nnmf/context.hpp"

namespace nnmf::detail::cuda {

/// Times the work queued on a CUDA context's stream between start() and stop().
class EventTimer {
 public:
  explicit EventTimer(const Context& ctx);
  ~EventTimer();
  EventTimer(const EventTimer&) = delete;
  EventTimer& operator=(const EventTimer&) = delete;

  /// Records the start event on the stream.
  void start();
  /// Records the stop event, waits for it, and returns the elapsed device time in seconds.
  double stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace nnmf::detail::cuda
