#!/usr/bin/env bash
# The whole test suite (install-tree client included) built with AddressSanitizer and
# UndefinedBehaviorSanitizer, host backend. Usage: scripts/sanitize.sh [extra cmake args]
# Set NNMF_BUILD_DIR to choose the build directory (default build-asan).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/install-deps.sh" --tests
build="${NNMF_BUILD_DIR:-$root/build-asan}"
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DNNMF_WITH_CUDA=OFF \
  -DNNMF_BUILD_BENCH=OFF -DNNMF_BUILD_PYTHON=OFF -DNNMF_SANITIZE=address,undefined "$@"
cmake --build "$build" -j "$(nproc 2>/dev/null || echo 2)"
# allocator_may_return_null: a test asks for petabytes on purpose and expects OutOfMemory.
export ASAN_OPTIONS="allocator_may_return_null=1:detect_leaks=1:abort_on_error=0:${ASAN_OPTIONS:-}"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:${UBSAN_OPTIONS:-}"
cd "$build"
ctest --output-on-failure -j "$(nproc 2>/dev/null || echo 2)"
