#!/usr/bin/env bash
# Builds the libFuzzer harnesses (clang, AddressSanitizer + UBSan) and runs each for a bounded
# time on the seed corpus of fuzz/seeds. Usage: scripts/fuzz.sh [SECONDS_PER_HARNESS] (default 60).
# Prints, per harness, the inputs tried and what was found; exits non-zero on any finding
# (the crashing input is kept under BUILD/findings). Set NNMF_BUILD_DIR (default build-fuzz).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
secs="${1:-60}"
"$root/scripts/install-deps.sh" --fuzz
build="${NNMF_BUILD_DIR:-$root/build-fuzz}"
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=clang++ \
  -DCMAKE_C_COMPILER=clang -DNNMF_WITH_CUDA=OFF -DNNMF_BUILD_TESTS=OFF -DNNMF_BUILD_BENCH=OFF \
  -DNNMF_BUILD_CLI=OFF -DNNMF_BUILD_PYTHON=OFF -DNNMF_FUZZ=ON >/dev/null
cmake --build "$build" -j "$(nproc 2>/dev/null || echo 2)" --target fuzz_mtx fuzz_mtx_gz fuzz_model fuzz_text
export ASAN_OPTIONS="allocator_may_return_null=1:detect_leaks=1:${ASAN_OPTIONS:-}"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:${UBSAN_OPTIONS:-}"
mkdir -p "$build/findings"
status=0
summary=()
run() {  # harness seeds-dir max-len
  local h=$1 seeds=$2 maxlen=$3
  local corpus="$build/corpus/$h" log="$build/$h.log"
  mkdir -p "$corpus"
  set +e
  "$build/fuzz/$h" "$corpus" "$seeds" -max_total_time="$secs" -max_len="$maxlen" -timeout=20 \
    -rss_limit_mb=2560 -print_final_stats=1 -artifact_prefix="$build/findings/$h-" >"$log" 2>&1
  local rc=$?
  set -e
  local runs
  runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo "?")
  local cov
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*' || echo "?")
  if [[ $rc -eq 0 ]]; then
    summary+=("fuzz $h: $runs inputs in ${secs} s, coverage $cov edges, corpus $(ls "$corpus" | wc -l) files: nothing found")
  else
    status=1
    summary+=("fuzz $h: FOUND a failure after $runs inputs (exit $rc); see $log and $build/findings")
    grep -E 'ERROR|SUMMARY|runtime error' "$log" | head -5 >&2 || true
  fi
}
run fuzz_mtx "$root/fuzz/seeds/mtx" 8192
run fuzz_mtx_gz "$root/fuzz/seeds/mtx" 8192
run fuzz_model "$root/fuzz/seeds/model" 4096
run fuzz_text "$root/fuzz/seeds/text" 4096
printf '%s\n' "${summary[@]}"
exit $status
