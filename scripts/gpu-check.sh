#!/usr/bin/env bash
# gpu-check.sh [BUILD_DIR] -- the checks of the CUDA backend on a GPU machine, in one call.
#
# BUILD_DIR is a CUDA build (its tests/nnmf_tests, bench/nnmf_bench, src/cli/nnmf) or an
# unpacked bundle of one (../shared/tools/gpu-bundle BUILD OUT: OUT/run.sh, OUT/bin, OUT/lib).
# Without an argument: the bundle this script sits in, else build-gpu/ of this checkout.
# On a bare GPU machine (CUDA toolkit, none of our Debian libraries), from this checkout:
#   mkdir -p /tmp/b && tar -xzf gpu-bundle.tar.gz -C /tmp/b --strip-components=1
#   scripts/gpu-check.sh /tmp/b
# Data: the tests read $NNMF_TEST_DATA_DIR (default: data/ of this checkout), the benchmarks
# and the end-to-end fit read 20 Newsgroups from $NNMF_SHARED_DATA_DIR/20news (default:
# ../shared/data or shared/data next to this checkout; the steps that need it skip when absent).
#
# Order: host-side checks that need no device (the kernels' code with emulated threads and
# lanes, host-only use loads no CUDA library); then, on a device, the CUDA-vs-host tests, one
# process per test (a sticky device error must not fail every later test); compute-sanitizer
# memcheck on small cases of every kernel family, then racecheck and synccheck on the NNLS
# kernels; nnmf_bench's 20 Newsgroups cases (products floor, forward, backward, end to end,
# epoch, the host beside them; the thread-per-column NNLS kernel beside the warp one); a short
# end-to-end `nnmf fit --device cuda` on 20 Newsgroups against the host's figures (random
# seeded start, 5 epochs: the loss of every epoch and the final errors compared); last the
# dense cases (n = 4096, m = 2^20), the first to be skipped when the time budget runs out.
# Every step has its own timeout, cut to what is left of NNMF_GPU_CHECK_BUDGET seconds (default
# 520, so that one call stays under 9 minutes); with under 20 s left a step is skipped and says
# so. Logs and results go under
# $OUT/gpu-check when OUT is set (else BUILD_DIR/gpu-check); the summary is the last lines of
# the output. Without a CUDA device every device step is reported as skipped and the script
# exits 0 when the host-side steps pass. Exit status: 0 when nothing failed, 1 otherwise.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
target=${1:-}
if [[ -z $target ]]; then
  if [[ -x $here/run.sh && -d $here/bin ]]; then target=$here
  elif [[ -x $root/run.sh && -d $root/bin ]]; then target=$root
  else target=$root/build-gpu; fi
fi
target=$(cd "$target" 2>/dev/null && pwd) ||
  { echo "gpu-check: no such directory: ${1:-}" >&2; exit 2; }

if [[ -x $target/run.sh && -d $target/bin ]]; then
  mode=bundle
  tests=("$target/run.sh" nnmf_tests)
  bench=("$target/run.sh" nnmf_bench)
  cli=("$target/run.sh" nnmf)
  [[ -e $target/bin/nnmf_tests ]] ||
    { echo "gpu-check: $target/bin has no nnmf_tests" >&2; exit 2; }
else
  mode=build
  tests=("$target/tests/nnmf_tests")
  bench=("$target/bench/nnmf_bench")
  cli=("$target/src/cli/nnmf")
  [[ -x ${tests[0]} ]] ||
    { echo "gpu-check: ${tests[0]} not found (build nnmf_tests first)" >&2; exit 2; }
fi
export NNMF_CLI="${cli[*]}"  # the tests' CLI (a command prefix)

export NNMF_TEST_DATA_DIR=${NNMF_TEST_DATA_DIR:-$root/data}
export NNMF_DATA_DIR=${NNMF_DATA_DIR:-$root/data}
if [[ -z ${NNMF_SHARED_DATA_DIR:-} ]]; then
  for d in "$root/../shared/data" "$root/shared/data"; do
    [[ -d $d ]] && { NNMF_SHARED_DATA_DIR=$(cd "$d" && pwd); break; }
  done
fi
export NNMF_SHARED_DATA_DIR=${NNMF_SHARED_DATA_DIR:-$root/../shared/data}
news=$NNMF_SHARED_DATA_DIR/20news/X_tfidf.mtx.gz

outdir=${OUT:-$target}/gpu-check
mkdir -p "$outdir"
summary=$outdir/summary.txt
: >"$summary"
budget=${NNMF_GPU_CHECK_BUDGET:-520}
start=$(date +%s)
npass=0 nfail=0 nskip=0

cuda_bin=$(dirname "$(command -v nvcc 2>/dev/null || echo /usr/local/cuda/bin/nvcc)")
sanitizer=$(command -v compute-sanitizer 2>/dev/null || echo "$cuda_bin/compute-sanitizer")

have_gpu=0
if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L 2>/dev/null | grep -q '^GPU'; then
  have_gpu=1
elif [[ -e /dev/nvidia0 ]]; then
  have_gpu=1
fi

note() { echo "$*" | tee -a "$summary"; }

# step NAME TIMEOUT_S gpu|host CMD...: runs CMD with a timeout, its output in NAME.log.
step() {
  local name=$1 limit=$2 needs=$3
  shift 3
  local now elapsed
  now=$(date +%s)
  elapsed=$((now - start))
  if [[ $needs == gpu && $have_gpu == 0 ]]; then
    note "SKIP  $name (no CUDA device on this machine)"
    nskip=$((nskip + 1))
    return 0
  fi
  # A step gets its own limit or what is left of the budget, whichever is less; with under
  # 20 s left it is skipped (and says so).
  if ((budget - elapsed < 20)); then
    note "SKIP  $name (time budget: ${elapsed}s used of ${budget}s)"
    nskip=$((nskip + 1))
    return 0
  fi
  ((limit > budget - elapsed)) && limit=$((budget - elapsed))
  local t0=$SECONDS rc
  if declare -F "$1" >/dev/null; then
    # A function of this script: timeout(1) cannot run it, so a watchdog ends its subshell.
    ("$@") >"$outdir/$name.log" 2>&1 &
    local pid=$!
    (sleep "$limit" && kill -TERM "$pid" 2>/dev/null) &
    local dog=$!
    wait "$pid"
    rc=$?
    kill "$dog" 2>/dev/null
    wait "$dog" 2>/dev/null
    ((rc == 143)) && rc=124
  else
    timeout -k 10 "$limit" "$@" >"$outdir/$name.log" 2>&1
    rc=$?
  fi
  local dt=$((SECONDS - t0))
  if ((rc == 0)); then
    note "PASS  $name (${dt}s)"
    npass=$((npass + 1))
  elif ((rc == 124 || rc == 137)); then
    note "FAIL  $name: timed out after ${limit}s (log: $outdir/$name.log)"
    nfail=$((nfail + 1))
  else
    note "FAIL  $name: exit $rc after ${dt}s (log: $outdir/$name.log)"
    tail -n 15 "$outdir/$name.log" | sed 's/^/      | /'
    nfail=$((nfail + 1))
  fi
}

# skip NAME WHY
skip() {
  note "SKIP  $1 ($2)"
  nskip=$((nskip + 1))
}

# Host-only use of a CUDA build must not load any CUDA library (the CUDA module is loaded by the
# first Context::cuda()); the dynamic loader's log of a CPU fit says what was initialised.
host_use_loads_no_cuda() {
  local o
  o=$(mktemp -d)
  LD_DEBUG=libs "${cli[@]}" fit "$NNMF_TEST_DATA_DIR/synthetic-hierarchy/X.mtx" --ranks 3 \
    --epochs 2 -o "$o/fit" --device cpu --quiet >"$o/out" 2>&1
  local rc=$?
  grep 'calling init' "$o/out" | sed 's/^ *[0-9]*: *//'
  grep -q 'calling init: .*libnnmf[.]so' "$o/out"
  local logged=$?
  local cuda_libs='nnmf_cuda|cublas|cusparse|cusolver|nvJitLink|cudart'
  grep -E "calling init: .*($cuda_libs)" "$o/out" >/dev/null
  local loaded=$?
  rm -rf "$o"
  if ((rc != 0)); then echo "nnmf fit --device cpu failed (exit $rc)"; return 1; fi
  if ((logged != 0)); then echo "LD_DEBUG=libs logged no libnnmf: cannot tell"; return 1; fi
  if ((loaded == 0)); then echo "a CUDA library was loaded for host-only use"; return 1; fi
  echo "no CUDA library loaded by nnmf fit --device cpu"
}

# Runs a command, shows its output, and fails it when the output matches PATTERN although the
# command exited 0 (then says MESSAGE).
run_checked() {  # PATTERN MESSAGE COMMAND...
  local pattern=$1 message=$2 log rc
  shift 2
  log=$(mktemp)
  "$@" >"$log" 2>&1
  rc=$?
  cat "$log"
  if ((rc == 0)) && grep -q "$pattern" "$log"; then
    echo "gpu-check: $message"
    rc=1
  fi
  rm -f "$log"
  return "$rc"
}

# nnmf_tests with the given arguments; on a machine with a device a test that skips (no usable
# device after all) fails the step instead of passing it.
device_tests() { run_checked '^\[  SKIPPED \]' "a test skipped on a machine that has a device" "${tests[@]}" "$@"; }

# nnmf_bench with the given arguments; a case that reports an error (no device, no data) fails
# the step (the benchmark itself exits 0).
bench_run() { run_checked 'ERROR OCCURRED' "a benchmark case reported an error" "${bench[@]}" "$@"; }

# Runs a command (function) with the thread-per-column NNLS kernels forced.
env_thread_kernel() { NNMF_CUDA_NNLS=thread "$@"; }

# The tests of the given gtest suites, one per line (Suite.Name).
list_tests() {
  "${tests[@]}" --gtest_list_tests 2>/dev/null | awk -v re="^($1)\\.$" '
    /^[^ ]/ { suite = $1; keep = (suite ~ re); next }
    keep && /^  / { print suite $1 }'
}

# Compares two fit reports (host, cuda): rel_error of every layer and the loss of every epoch
# to 1e-5 relative (double; the backends differ by rounding, and a support bit flipped at a
# rounding-level tie moves the loss far less than that in 5 epochs), and prints the timings.
compare_reports() {
  python3 - "$1" "$2" <<'EOF'
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
tol = 1e-5
def close(x, y): return abs(x - y) <= tol * max(abs(x), 1e-300)
ok = True
for la, lb in zip(a["layers"], b["layers"]):
    same = close(la["rel_error"], lb["rel_error"])
    ok = ok and same
    print(f"rank {la['rank']}: rel_error cuda {lb['rel_error']:.9f}, host {la['rel_error']:.9f}"
          f" {'ok' if same else 'DIFFERENT'}")
for ea, eb in zip(a.get("history", []), b.get("history", [])):
    same = close(ea["loss"], eb["loss"])
    ok = ok and same
    print(f"epoch {ea['epoch']}: loss cuda {eb['loss']:.9g}, host {ea['loss']:.9g}, seconds cuda "
          f"{eb['seconds']:.4f}, host {ea['seconds']:.4f} {'ok' if same else 'DIFFERENT'}")
for name, r in (("host", a), ("cuda", b)):
    print(name, r.get("device"), "timings:", json.dumps(r.get("timings")))
sys.exit(0 if ok else 1)
EOF
}

note "gpu-check: $mode at $target; device: $([[ $have_gpu == 1 ]] && echo present || echo none)"
note "gpu-check: results in $outdir; data: $NNMF_TEST_DATA_DIR, 20 Newsgroups: $news"
[[ $have_gpu == 1 ]] && nvidia-smi >"$outdir/nvidia-smi.log" 2>&1

# ---- 1. no device needed --------------------------------------------------------------------
step host-emulation 150 host "${tests[@]}" \
  --gtest_filter='DeviceLayout.*:WarpNnls.*:WarpLanes.*:CudaBuild.*:CudaTestBodies.*'
step host-use-loads-no-cuda 60 host host_use_loads_no_cuda

# ---- 2. CUDA against the host, one process per test -----------------------------------------
if [[ $have_gpu == 1 ]]; then
  mapfile -t device_tests < <(list_tests 'CudaVsHost|CudaContext|BaselinesCudaVsHost')
  ((${#device_tests[@]} > 0)) || note "FAIL  no CUDA-vs-host tests listed by nnmf_tests"
  ((${#device_tests[@]} > 0)) || nfail=$((nfail + 1))
  for t in "${device_tests[@]}"; do
    step "test-$t" 90 gpu device_tests --gtest_filter="$t"
  done
else
  skip "cuda-vs-host tests" "no CUDA device on this machine"
fi

# ---- 3. compute-sanitizer -------------------------------------------------------------------
small='CudaVsHost.NormalEquationsEntryPoint:CudaVsHost.WarmStartsAndIterationLimits'
small+=':CudaVsHost.SingularBlocksAreRegularizedTheSameWay:CudaVsHost.DenseAndSparseProducts'
small+=':CudaVsHost.RowFormOfSparseDataIsIdentical:CudaVsHost.ElementwiseKernelsAndReductions'
small+=':BaselinesCudaVsHost.PoolingJacobianAndHadamardKernels'
nnls_small='CudaVsHost.NormalEquationsEntryPoint:CudaVsHost.WarmStartsAndIterationLimits'
nnls_small+=':CudaVsHost.SingularBlocksAreRegularizedTheSameWay'
san_opts=(--target-processes all --error-exitcode 99)  # follow run.sh's exec; fail on a report
if [[ $have_gpu == 1 && ! -x $sanitizer ]]; then
  skip "compute-sanitizer" "not found at $sanitizer"
else
  step sanitizer-memcheck 150 gpu "$sanitizer" --tool memcheck "${san_opts[@]}" \
    "${tests[@]}" --gtest_filter="$small"
  # The thread-per-column NNLS kernels (v1, the fallback for large k) as well.
  step sanitizer-memcheck-v1 60 gpu env NNMF_CUDA_NNLS=thread "$sanitizer" --tool memcheck \
    "${san_opts[@]}" "${tests[@]}" --gtest_filter="$nnls_small"
  step sanitizer-racecheck 120 gpu "$sanitizer" --tool racecheck "${san_opts[@]}" \
    "${tests[@]}" --gtest_filter="$nnls_small"
  step sanitizer-synccheck 90 gpu "$sanitizer" --tool synccheck "${san_opts[@]}" \
    "${tests[@]}" --gtest_filter="$nnls_small"
fi

# ---- 4. benchmarks: 20 Newsgroups --------------------------------------------------------------
have_bench=1
if [[ $mode == build && ! -e ${bench[-1]} ]] ||
  [[ $mode == bundle && ! -e $target/bin/nnmf_bench ]]; then
  have_bench=0
  skip "benchmarks" "nnmf_bench not built"
else
  [[ -e $news ]] || note "note: $news not found: the 20 Newsgroups cases report an error"
  step bench-news 120 gpu bench_run --benchmark_filter='BM_(Cuda|Host)?News_' \
    --benchmark_out="$outdir/bench-news.json" --benchmark_out_format=json
  step bench-news-thread-kernel 60 gpu env_thread_kernel bench_run \
    --benchmark_filter='BM_CudaNews_Forward' \
    --benchmark_out="$outdir/bench-news-thread.json" --benchmark_out_format=json
fi

# ---- 5. end to end (before the dense benchmarks: those are the first to go when time runs out)
if [[ ! -e $news ]]; then
  skip "fit-20news" "$news not found (set NNMF_SHARED_DATA_DIR)"
elif [[ $have_gpu == 0 ]]; then
  skip "fit-20news" "no CUDA device on this machine"
else
  # Random initial factors (seeded, drawn on the host): the NMF initialization of 20
  # Newsgroups would take most of the step's time on the host.
  fit=(fit "$news" --ranks "20,6" --epochs 5 --seed 1 --init random --quiet)
  step fit-20news-host 150 gpu "${cli[@]}" "${fit[@]}" --device cpu -o "$outdir/fit-host"
  step fit-20news-cuda 90 gpu "${cli[@]}" "${fit[@]}" --device cuda -o "$outdir/fit-cuda"
  if [[ -e $outdir/fit-host/report.json && -e $outdir/fit-cuda/report.json ]]; then
    step fit-20news-compare 30 gpu compare_reports "$outdir/fit-host/report.json" \
      "$outdir/fit-cuda/report.json"
  fi
fi

# ---- 6. benchmarks: dense n = 4096, m = 2^20 (X of 16 / 32 GiB generated on the device) ----
if ((have_bench)); then
  step bench-dense-float 150 gpu bench_run --benchmark_filter='BM_CudaDense_.*<float>' \
    --benchmark_out="$outdir/bench-dense-float.json" --benchmark_out_format=json
  step bench-dense-double 150 gpu bench_run --benchmark_filter='BM_CudaDense_.*<double>' \
    --benchmark_out="$outdir/bench-dense-double.json" --benchmark_out_format=json
fi

# ---- summary --------------------------------------------------------------------------------
total=$(($(date +%s) - start))
device_note="no CUDA device: device steps skipped"
[[ $have_gpu == 1 ]] && device_note="device present"
note "gpu-check summary: $npass passed, $nfail failed, $nskip skipped ($device_note); ${total}s"
((nfail == 0))
