#!/usr/bin/env bash
# The main job on the bundled default data: installs what is missing, builds the nnmf tool and
# runs `nnmf demo` (Neural NMF on the paper's synthetic hierarchy, Table 1 column beside the
# paper's figures). Extra arguments go to `nnmf demo` (e.g. --seeds 25).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/install-deps.sh"
build="$root/build-demo"
jobs=$(nproc 2>/dev/null || echo 2)
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DNNMF_WITH_CUDA=OFF \
      -DNNMF_BUILD_TESTS=OFF -DNNMF_BUILD_BENCH=OFF >/dev/null
cmake --build "$build" --target nnmf_cli -j "$jobs" >/dev/null
exec "$build/src/cli/nnmf" demo "$@"
