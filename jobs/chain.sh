#!/bin/bash
# jobs/chain.sh K [sbatch options...] [-- script arguments...]
# Submits K runs of a job script (default jobs/train.sbatch, or $SCRIPT), each one starting after
# the previous one ended in any way (--dependency=afterany). Every run resumes from the newest
# checkpoint (nnmpi's default --resume auto), so a long training is cut into K jobs that each fit
# the time limit; a run that finds training already complete exits 0 at once, so spare links
# cost seconds. The run dir must be the same for all links: do not put %j in log.run_dir.
# Prints the job ids, one per line. Example:
#   CONFIG=configs/fashion-mnist.ini jobs/chain.sh 4 -n 8 --time=2:00:00 -- --set log.run_dir=runs/fm
# Cancel the rest of a chain with `scancel ID...`; jobs whose dependency can never be met
# are removed by Slurm (or stay pending with reason DependencyNeverSatisfied).
set -u
K=${1:-}
case $K in ''|*[!0-9]*|0) echo "usage: jobs/chain.sh K [sbatch options...] [-- script arguments...]" >&2; exit 2;; esac
shift
SCRIPT=${SCRIPT:-$(dirname "$0")/train.sbatch}
opts=()
while [ $# -gt 0 ] && [ "$1" != -- ]; do opts+=("$1"); shift; done   # sbatch options
[ "${1:-}" = -- ] && shift                                            # the rest: script args
prev=
for i in $(seq "$K"); do
  dep=(); [ -n "$prev" ] && dep=("--dependency=afterany:$prev")      # start after the previous
  out=$(sbatch --parsable "${dep[@]}" "${opts[@]}" "$SCRIPT" "$@") || { echo "chain.sh: sbatch failed at job $i of $K" >&2; exit 1; }
  prev=${out%%;*}                                                     # "id" or "id;cluster"
  echo "$prev"
done
