#!/bin/bash
# Training throughput and accuracy of configs/fashion-mnist.ini on 1 and 2 ranks, run side by
# side (alternating) REPS times; reports medians and the np=2/np=1 ratio measured in the same
# run, to bench/results/train-fashion-mnist.txt. Not part of the test suite.
#   bench/train.sh [BUILD_DIR] [REPS] [REDUCE]  (needs data/fashion-mnist.h5: scripts/quickstart)
# REDUCE is train.reduce (fast, the default, or exact); exact writes train-fashion-mnist-exact.txt.
# REDUCE="fast exact" runs both, alternating within every rep (fast np=1, fast np=2, exact
# np=1, exact np=2, ...), and adds the exact/fast time ratio at each np, as a ratio of medians
# and as the median of the per-rep ratios: train-fashion-mnist-exact-vs-fast.txt.
# An entry may also be NAME:key=value[,key=value...] (a variant with those --set options, in
# fast mode unless it sets train.reduce), e.g. REDUCE="mpi:train.node_memory=false
# node:train.node_memory=true" compares the two reduction paths side by side the same way.
# Environment: SETS="key=value ..." more --set options for every run (e.g.
# SETS=train.shard_optimizer=true), OUT=PATH another result file.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build} reps=${2:-3} reduce=${3:-fast}
nnmpi=$build/src/nnmpi
[ -f data/fashion-mnist.h5 ] || { echo "bench/train.sh: data/fashion-mnist.h5 missing (run scripts/quickstart)"; exit 1; }
if [ "$(id -u)" -eq 0 ]; then export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1; fi
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
read -r -a modes <<<"$reduce"
case "$reduce" in
  fast) out=bench/results/train-fashion-mnist.txt ;;
  "fast exact") out=bench/results/train-fashion-mnist-exact-vs-fast.txt ;;
  *) out=bench/results/train-fashion-mnist-$(echo "$reduce" | sed -E 's/:[^ ]*//g; s/ /-vs-/g').txt ;;
esac
# mode_sets NAME_OR_VARIANT: the --set options of one entry of REDUCE
mode_sets() {
  case "$1" in
    *:*) local kv; for kv in $(echo "${1#*:}" | tr ',' ' '); do printf -- '--set %s ' "$kv"; done ;;
    *) printf -- '--set train.reduce=%s' "$1" ;;
  esac
}
names=()
for m in "${modes[@]}"; do names+=("${m%%:*}"); done
out=${OUT:-$out}
sets=()
for kv in ${SETS:-}; do sets+=(--set "$kv"); done
field() { grep '"event":"summary"' "$1" | tail -n 1 | sed -E "s/.*\"$2\":([-0-9.eE+]+).*/\1/"; }
for r in $(seq "$reps"); do
  for i in "${!modes[@]}"; do
    mode=${names[$i]}
    read -r -a msets <<<"$(mode_sets "${modes[$i]}")"
    for np in 1 2; do
      dir=$work/$mode-np$np-$r
      mpirun -np $np "$nnmpi" train -c configs/fashion-mnist.ini --set log.run_dir="$dir" --set log.progress=none \
        --set checkpoint.every_epoch=false "${msets[@]}" ${sets[@]+"${sets[@]}"} >/dev/null
      wall=$(field "$dir/metrics.jsonl" wall) samples=$(field "$dir/metrics.jsonl" samples)
      acc=$(field "$dir/metrics.jsonl" eval_metric)
      echo "$mode $np $wall $(awk -v s="$samples" -v w="$wall" 'BEGIN{printf "%.0f", s/w}') $acc $r" >>"$work/rows"
      echo "rep $r $mode np=$np: $wall s, accuracy $acc"
    done
  done
done
med() { sort -n | awk '{a[NR]=$1} END{print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
col() { awk -v m="$1" -v n="$2" -v c="$3" '$1==m && $2==n{print $c}' "$work/rows"; }
{
  echo "# bench/train.sh: configs/fashion-mnist.ini (784-256-128-10, 12 epochs, batch 128), runs: $reduce${SETS:+, $SETS}, $reps reps each, alternating"
  echo "# $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
  echo "# $("$nnmpi" --version | grep '^BLAS:'); OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-(unset)}"
  if [ ${#modes[@]} -gt 1 ]; then echo "# mode np  median_wall_s  median_samples_per_s  median_test_accuracy"
  else echo "# np  median_wall_s  median_samples_per_s  median_test_accuracy"; fi
  for mode in "${names[@]}"; do
    for np in 1 2; do
      pre=""; [ ${#modes[@]} -gt 1 ] && pre="$mode "
      echo "$pre$np $(col "$mode" $np 3 | med) $(col "$mode" $np 4 | med) $(col "$mode" $np 5 | med)"
    done
    w1=$(col "$mode" 1 3 | med) w2=$(col "$mode" 2 3 | med)
    echo "# ${pre}speedup np=2 over np=1 (median wall ratio): $(awk -v a="$w1" -v b="$w2" 'BEGIN{printf "%.2f", a/b}')"
  done
  if [ ${#modes[@]} -gt 1 ]; then
    a=${names[0]} b=${names[1]}
    for np in 1 2; do
      ratio=$(awk -v x="$(col "$b" $np 3 | med)" -v y="$(col "$a" $np 3 | med)" 'BEGIN{printf "%.3f", x/y}')
      paired=$(awk -v m1="$a" -v m2="$b" -v n=$np '$2==n && $1==m1{t[$6]=$3} $2==n && $1==m2{u[$6]=$3}
        END{for (r in u) if (r in t) printf "%.4f\n", u[r]/t[r]}' "$work/rows" | sort -n | tr '\n' ' ')
      pm=$(echo "$paired" | tr ' ' '\n' | grep . | med)
      echo "# np=$np: time $b / $a = $ratio (ratio of medians); paired per rep: median $pm [$paired]"
    done
  fi
  echo "# all runs (mode np wall_s samples_per_s accuracy rep):"
  sed 's/^/#   /' "$work/rows"
} >"$out"
cat "$out"
