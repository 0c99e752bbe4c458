#!/bin/bash
# Side-by-side A/B of two nnmpi builds or two environments on the default model: the same short
# training (configs/fashion-mnist.ini, 997 steps, no eval, no checkpoints) alternating A and B at
# np = 1 and 2, REPS times; medians of the training wall time and of the data phase, and the B/A
# ratios, to OUT. Not part of the test suite; run on a quiet machine.
#   bench/ab.sh OUT NAME_A BIN_A ENV_A NAME_B BIN_B ENV_B      (ENV: "VAR=value ..." or "")
# e.g. the shared-memory single copy:
#   bench/ab.sh bench/results/ab-cma.txt cma build/src/nnmpi \
#     OMPI_MCA_btl_vader_single_copy_mechanism=cma none build/src/nnmpi ""
# Environment: REPS (5), STEPS (997), SETS="key=value ..." more --set options for every run
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -eq 7 ] || { sed -n 2,10p "$0"; exit 2; }
out=$1 names=("$2" "$5") bins=("$3" "$6") envs=("$4" "$7")
reps=${REPS:-5} steps=${STEPS:-997}
[ -f data/fashion-mnist.h5 ] || { echo "bench/ab.sh: data/fashion-mnist.h5 missing (run scripts/quickstart)" >&2; exit 1; }
if [ "$(id -u)" -eq 0 ]; then export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1; fi
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
sets=()
for kv in ${SETS:-}; do sets+=(--set "$kv"); done
field() { grep '"event":"summary"' "$1" | tail -n 1 | grep -o "\"$2\":[-0-9.eE+]*" | head -n 1 | cut -d: -f2; }
for r in $(seq "$reps"); do
  for v in 0 1; do
    for np in 1 2; do
      dir=$work/run
      rm -rf "$dir"
      # shellcheck disable=SC2086
      env OPENBLAS_NUM_THREADS=1 ${envs[$v]} mpirun -np $np "${bins[$v]}" train -c configs/fashion-mnist.ini \
        --set train.max_steps="$steps" --set train.eval_every=0 --set checkpoint.every_epoch=false \
        --set checkpoint.at_end=false --set log.progress=none --set log.run_dir="$dir" ${sets[@]+"${sets[@]}"} >/dev/null 2>&1
      echo "${names[$v]} $np $(field "$dir/metrics.jsonl" wall) $(field "$dir/metrics.jsonl" data)" | tee -a "$work/rows"
    done
  done
done
med() { sort -n | awk '{a[NR]=$1} END{print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
{
  echo "# bench/ab.sh: $(date -u +%Y-%m-%dT%H:%MZ); $(nproc) cores; git $(git rev-parse --short HEAD 2>/dev/null || echo ?)"
  echo "# command: REPS=$reps STEPS=$steps${SETS:+ SETS=\"$SETS\"} bench/ab.sh $*"
  echo "# configs/fashion-mnist.ini, $steps steps, batch 128, no eval/checkpoints; A and B alternate, np 1 and 2"
  echo "# environment: $("${bins[0]}" --version | grep '^BLAS:'); OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-(unset)} unless ENV sets it"
  echo "# variant np median_wall_s median_data_s"
  for v in 0 1; do
    for np in 1 2; do
      w=$(awk -v n="${names[$v]}" -v p=$np '$1==n && $2==p {print $3}' "$work/rows" | med)
      d=$(awk -v n="${names[$v]}" -v p=$np '$1==n && $2==p {print $4}' "$work/rows" | med)
      echo "${names[$v]} $np $w $d"; echo "$v $np $w" >>"$work/med"
    done
  done
  for np in 1 2; do
    a=$(awk -v p=$np '$1==0 && $2==p {print $3}' "$work/med") b=$(awk -v p=$np '$1==1 && $2==p {print $3}' "$work/med")
    echo "# np=$np: wall ${names[1]} / ${names[0]} = $(awk -v a="$a" -v b="$b" 'BEGIN{printf "%.3f", b/a}')"
  done
  echo "# all runs (variant np wall_s data_s):"
  sed 's/^/#   /' "$work/rows"
} >"$out"
cat "$out"
