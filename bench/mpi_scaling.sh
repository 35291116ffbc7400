#!/usr/bin/env bash
# Scaling of a Neural NMF epoch over MPI processes (docs/mpi.md). A benchmark, not a test.
#   strong: the full 20 Newsgroups tf-idf (46240 x 18846), the same data on 1, 2, 4 processes;
#   weak:   a synthetic Zipf corpus (10^5 terms, ~100 terms per document, bench/gen_zipf.cpp)
#           of WEAK_DOCS documents per process, on 1, 2, 4 processes (10^6 documents at 4).
# Each run: `mpirun -np P nnmf fit X --ranks 20,6 --init random --epochs E --patience 0`; the
# table gives process 0's mean epoch time, the communication inside the epochs (the most any
# process spent in reductions, waiting for the others included, per epoch) and its share.
# More processes than cores are oversubscribed (Open MPI --oversubscribe): on a small machine
# the strong-scaling times then show the cost of the split, not a speed-up.
# Usage: bench/mpi_scaling.sh BUILD_DIR [OUT_DIR]
#   env: NEWS (default ../shared/data/20news/X_tfidf.mtx.gz, relative to the repository),
#        PROCS ("1 2 4"), EPOCHS (5), WEAK_DOCS (250000), THREADS (1 per process)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:?usage: bench/mpi_scaling.sh BUILD_DIR [OUT_DIR]}" && pwd)
out=${2:-$build/mpi_scaling}
nnmf=$build/src/cli/nnmf
news=${NEWS:-$root/../shared/data/20news/X_tfidf.mtx.gz}
procs=${PROCS:-"1 2 4"}
epochs=${EPOCHS:-5}
weak_docs=${WEAK_DOCS:-250000}
threads=${THREADS:-1}
mkdir -p "$out"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMP_WAIT_POLICY=passive
export OMP_NUM_THREADS=$threads OPENBLAS_NUM_THREADS=1

fit() {  # fit NAME P X
  local dir=$out/$1-np$2
  mpirun -np "$2" --oversubscribe --bind-to none "$nnmf" fit "$3" --ranks 20,6 --init random \
    --epochs "$epochs" --patience 0 --seed 1 --threads "$threads" -o "$dir" --quiet
  python3 - "$1" "$2" "$dir/report.json" <<'PY'
import json, sys
name, p, path = sys.argv[1], int(sys.argv[2]), sys.argv[3]
r = json.load(open(path))
t = r["timings"]
e = max(t["epochs"], 1)
comm = max(q["training_communication_s"] for q in t["processes"]) / e * 1e3
mb = max(q["communication_bytes"] for q in t["processes"]) / 2**20
print(f"{name:6s} {p:3d} {r['data']['cols']:9d} {r['data']['nnz']:11d} {t['mean_epoch_ms']:12.1f} "
      f"{comm:12.1f} {100 * comm / t['mean_epoch_ms']:6.1f}% {mb:10.1f}")
PY
}

echo "# nnmf MPI scaling, $(date -u +%Y-%m-%dT%H:%MZ), $(nproc --all) cores, $epochs epochs, ranks 20,6"
echo "kind     P      docs         nnz   epoch (ms)  comm/epoch   share   MiB reduced (whole run)"
if [[ -f $news ]]; then
  for p in $procs; do fit strong "$p" "$news"; done
else
  echo "strong: $news not found (the full 20 Newsgroups is not bundled; set NEWS=...)"
fi
c++ -O2 -o "$out/gen_zipf" "$root/bench/gen_zipf.cpp"
for p in $procs; do
  docs=$((p * weak_docs))
  x=$out/zipf-$docs.mtx
  [[ -f $x ]] || "$out/gen_zipf" "$docs" 100000 100 7 > "$x"
  fit weak "$p" "$x"
done
