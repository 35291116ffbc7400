#!/usr/bin/env bash
# Run from the repository root after building (scripts/test.sh builds build-test/; set NNMF).
# Reads ../shared/data (set DATA); says so and stops when it is missing.
set -euo pipefail
# Hierarchical NMF on the synthetic hierarchy (ranks 9,4,2), 25 seeds, per variant: mean
# relative error / accuracy of each layer (accuracy by the paper's rule, B fitted on all columns).
D=${DATA:-../shared/data}/synthetic-hierarchy
[[ -f $D/X.mtx ]] || { echo "hnmf_variants.sh: $D/X.mtx not found (needs ../shared/data; set DATA)" >&2; exit 1; }
NNMF=${NNMF:-build/src/cli/nnmf}
for extra in "" "--set normalize=0" "--set nndsvd=0" "--set nndsvd=0 --set normalize=0" "--set nndsvd=0 --set normalize=0 --set algorithm_mu=1"; do
  for seed in $(seq 0 24); do
    out=$(mktemp -d)
    $NNMF fit $D/X.mtx --ranks 9,4,2 --method hnmf $extra --seed $seed -q \
      --eval-labels $D/labels9.txt,$D/labels4.txt,$D/labels2.txt -o $out/r >/dev/null
    python3 -c "import json,sys; print(json.dumps(json.load(open(sys.argv[1]))))" $out/r/report.json
    rm -rf $out
  done | python3 -c "
import json,sys,statistics as st
rs=[json.loads(l) for l in sys.stdin if l.strip()]
cols=[]
for i in range(3):
  e=[r['layers'][i]['rel_error'] for r in rs]; a=[r['layers'][i]['accuracy'] for r in rs]
  cols.append('%.3f / %.3f' % (st.mean(e), st.mean(a)))
print('| \`${extra:-(defaults)}\` | ' + ' | '.join(cols) + ' |')"
done
