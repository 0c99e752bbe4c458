#!/bin/bash
# Training throughput and accuracy of configs/fashion-mnist.ini on 1 and 2 ranks, run side by
# side (alternating) REPS times; reports medians and the np=2/np=1 ratio measured in the same
# run, to bench/results/train-fashion-mnist.txt. Not part of the test suite.
#   bench/train.sh [BUILD_DIR] [REPS] [REDUCE]  (needs data/fashion-mnist.h5: scripts/quickstart)
# REDUCE is train.reduce (fast, the default, or exact); exact writes train-fashion-mnist-exact.txt.
# Environment: SETS="key=value ..." more --set options for every run (e.g.
# SETS=train.shard_optimizer=true), OUT=PATH another result file.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build} reps=${2:-3} reduce=${3:-fast}
nnmpi=$build/src/nnmpi
[ -f data/fashion-mnist.h5 ] || { echo "bench/train.sh: data/fashion-mnist.h5 missing (run scripts/quickstart)"; exit 1; }
if [ "$(id -u)" -eq 0 ]; then export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1; fi
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
out=bench/results/train-fashion-mnist.txt
[ "$reduce" = fast ] || out=bench/results/train-fashion-mnist-$reduce.txt
out=${OUT:-$out}
sets=()
for kv in ${SETS:-}; do sets+=(--set "$kv"); done
field() { grep '"event":"summary"' "$1" | tail -n 1 | sed -E "s/.*\"$2\":([-0-9.eE+]+).*/\1/"; }
for r in $(seq "$reps"); do
  for np in 1 2; do
    dir=$work/np$np-$r
    mpirun -np $np "$nnmpi" train -c configs/fashion-mnist.ini --set log.run_dir="$dir" --set log.progress=none \
      --set checkpoint.every_epoch=false --set train.reduce="$reduce" ${sets[@]+"${sets[@]}"} >/dev/null
    wall=$(field "$dir/metrics.jsonl" wall) samples=$(field "$dir/metrics.jsonl" samples)
    acc=$(field "$dir/metrics.jsonl" eval_metric)
    echo "$np $wall $(awk -v s="$samples" -v w="$wall" 'BEGIN{printf "%.0f", s/w}') $acc" >>"$work/rows"
    echo "rep $r np=$np: $wall s, accuracy $acc"
  done
done
med() { sort -n | awk '{a[NR]=$1} END{print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
{
  echo "# bench/train.sh: configs/fashion-mnist.ini (784-256-128-10, 12 epochs, batch 128), train.reduce=$reduce${SETS:+, $SETS}, $reps reps each, alternating np"
  echo "# $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
  echo "# $("$nnmpi" --version | grep '^BLAS:'); OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-(unset)}"
  echo "# np  median_wall_s  median_samples_per_s  median_test_accuracy"
  for np in 1 2; do
    w=$(awk -v n=$np '$1==n{print $2}' "$work/rows" | med)
    s=$(awk -v n=$np '$1==n{print $3}' "$work/rows" | med)
    a=$(awk -v n=$np '$1==n{print $4}' "$work/rows" | med)
    echo "$np $w $s $a"
  done
  w1=$(awk '$1==1{print $2}' "$work/rows" | med) w2=$(awk '$1==2{print $2}' "$work/rows" | med)
  echo "# speedup np=2 over np=1 (median wall ratio): $(awk -v a="$w1" -v b="$w2" 'BEGIN{printf "%.2f", a/b}')"
  echo "# all runs (np wall_s samples_per_s accuracy):"
  sed 's/^/#   /' "$work/rows"
} >"$out"
cat "$out"
