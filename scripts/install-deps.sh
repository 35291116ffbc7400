#!/usr/bin/env bash
# Installs the Debian packages nnmf needs, when missing. Usage: install-deps.sh [--tests]
# (--tests adds GoogleTest, Google Benchmark, pybind11, NumPy, SciPy, pytest and
# scikit-learn for the Python package, and Open MPI for the multi-process tests, docs/mpi.md).
# Safe to run repeatedly.
set -euo pipefail
pkgs=(g++ cmake make zlib1g-dev libopenblas-openmp-dev liblapacke-dev libcli11-dev nlohmann-json3-dev)
if [[ "${1:-}" == "--tests" ]]; then
  pkgs+=(libgtest-dev libbenchmark-dev)
  # the Python package and its tests (built for /usr/bin/python3, which these modules serve)
  pkgs+=(pybind11-dev python3-dev python3-numpy python3-scipy python3-pytest python3-sklearn)
  # data-parallel training over MPI (NNMF_WITH_MPI; its tests run under mpirun)
  pkgs+=(libopenmpi-dev openmpi-bin)
fi
# --fuzz: clang with its sanitizer runtimes and OpenMP, for scripts/fuzz.sh.
if [[ "${1:-}" == "--fuzz" ]]; then
  pkgs+=(clang libclang-rt-dev libomp-dev)
fi
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# Any OpenBLAS development package will do (pthread or openmp variant).
if [[ " ${missing[*]} " == *" libopenblas-openmp-dev "* ]] &&
   dpkg-query -W -f='${Status}' libopenblas-dev 2>/dev/null | grep -q "install ok installed"; then
  missing=("${missing[@]/libopenblas-openmp-dev}")
fi
missing=($(printf '%s\n' "${missing[@]}" | grep -v '^$' || true))
if ((${#missing[@]} == 0)); then
  exit 0
fi
echo "install-deps: installing ${missing[*]}" >&2
sudo=""
if [[ $(id -u) -ne 0 ]]; then
  command -v sudo >/dev/null || { echo "install-deps: need root (or sudo) to install: ${missing[*]}" >&2; exit 1; }
  sudo=sudo
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
