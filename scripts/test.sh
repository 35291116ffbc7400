#!/usr/bin/env bash
# Builds nnmf with its tests and runs them: installs what is missing, configures (the CUDA
# backend is compiled when nvcc is found, its tests skip without a GPU), builds, runs ctest.
# Set NNMF_BUILD_DIR to choose the build directory (default build-test).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/install-deps.sh" --tests
build="${NNMF_BUILD_DIR:-$root/build-test}"
jobs=$(nproc 2>/dev/null || echo 2)
if ! command -v nvcc >/dev/null && [[ -x /usr/local/cuda/bin/nvcc ]]; then
  export PATH="/usr/local/cuda/bin:$PATH"
fi
# The Python package is built for the interpreter that has the Debian modules: the python3
# first on PATH may be another one (pyenv, a virtualenv) without NumPy.
py=()
[[ -x /usr/bin/python3 ]] && py=(-DPython_EXECUTABLE=/usr/bin/python3)
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release "${py[@]}" "$@"
cmake --build "$build" -j "$jobs"
cd "$build"
ctest --output-on-failure -j "$jobs"
