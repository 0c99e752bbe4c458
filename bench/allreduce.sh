#!/bin/bash
# MPI collectives over buffer sizes 4 B ... 64 MiB at np = 2 and 4 (4 is oversubscribed on a
# 2-core machine and labelled so): bench_allreduce (bench/allreduce.c) once per rank count, one
# table each, to bench/results/allreduce.txt. bench/model.py fits the alpha-beta cost of the
# ring allreduce to it. Not part of the test suite; run on a quiet machine.
#   bench/allreduce.sh [BUILD_DIR]
# Environment: NPS="2 4"  BUDGET=0.3 (seconds of timed reps per size and op)
#              OUT=bench/results/allreduce.txt  ARGS="extra bench_allreduce options"
#              MPIRUN_ARGS="extra mpirun options"; default "--mca btl_vader_single_copy_mechanism none",
#              what nnmpi sets for itself (src/dist.c); MPIRUN_ARGS="" measures Open MPI's default (CMA)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
nps=${NPS:-2 4} budget=${BUDGET:-0.3} out=${OUT:-bench/results/allreduce.txt}
MPIRUN_ARGS=${MPIRUN_ARGS---mca btl_vader_single_copy_mechanism none}
bin=$build/bench/bench_allreduce
[ -x "$bin" ] || { echo "bench/allreduce.sh: $bin missing (cmake --build $build --target bench_allreduce)" >&2; exit 1; }
if [ "$(id -u)" -eq 0 ]; then export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1; fi
cores=$(nproc)
tmp=$out.tmp
{
  echo "# bench/allreduce.sh: $(date -u +%Y-%m-%dT%H:%MZ); $cores cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
  echo "# git $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet HEAD -- bench 2>/dev/null || echo '+dirty'); $(mpirun --version 2>/dev/null | head -n 1)"
  echo "# command: NPS=\"$nps\" BUDGET=$budget${MPIRUN_ARGS:+ MPIRUN_ARGS=\"$MPIRUN_ARGS\"}${ARGS:+ ARGS=\"$ARGS\"} bench/allreduce.sh $build"
  echo "# one table per rank count; shared-memory transport (one node); load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
} >"$tmp"
for np in $nps; do
  extra=() label="not oversubscribed"
  if [ "$np" -gt "$cores" ]; then extra=(--oversubscribe); label="oversubscribed ($np ranks on $cores cores)"; fi
  echo >>"$tmp"
  # shellcheck disable=SC2086
  mpirun "${extra[@]}" ${MPIRUN_ARGS:-} -np "$np" "$bin" --budget "$budget" --label "$label" ${ARGS:-} --out "$tmp" --append
  echo "bench/allreduce.sh: np=$np done" >&2
done
mv "$tmp" "$out"
cat "$out"
