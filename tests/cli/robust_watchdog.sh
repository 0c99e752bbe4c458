#!/bin/bash
# Issue 11, item 10: the watchdog also covers the collectives around checkpoints. Two ranks
# checkpoint every step (so a rank is mostly writing, or waiting for the writer, when it is
# stopped); one of them gets SIGSTOP a moment into training. Within 30 s the job must be over
# (launcher and both ranks gone) with a non-zero exit and a message naming the watchdog.
# Five trials: rank 1 and rank 0, each at two delays, and one on the node path. Ranks are found only as children of the
# launcher this script started.
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/lib.sh"
source "$HERE/robust_lib.sh"

rank_of() { tr '\0' '\n' <"/proc/$1/environ" 2>/dev/null | sed -n 's/^OMPI_COMM_WORLD_RANK=//p'; }

trial=0
# The fifth trial takes the node path (train.node_memory = true), whose barriers in node-shared
# memory the watchdog must cover too.
for t in "1 0.3" "0 0.6" "1 1.0" "0 1.4" "1 0.6 node"; do
  set -- $t; want_rank=$1 delay=$2; trial=$((trial + 1))
  path=(); [ "${3:-}" = node ] && path=(--set train.node_memory=true)
  desc="10.$trial: SIGSTOP rank $want_rank ${delay} s after the first checkpoint${3:+ (node path)}"
  "$MPIEXEC" -n 2 --oversubscribe "$NNMPI" train --set train.epochs=1000 ${path[@]+"${path[@]}"} \
    --set train.watchdog_seconds=5 --set checkpoint.every_steps=1 --set log.run_dir=wd$trial --set log.progress=lines \
    >wd$trial.out 2>&1 &
  launcher=$!; LEFT="$LEFT $launcher"
  if ! wait_for wd$trial/metrics.jsonl '"event":"checkpoint"' 120; then
    fail "$desc: no checkpoint within 120 s"; tail -n 3 wd$trial.out; kill -KILL $launcher || true; continue
  fi
  sleep "$delay"
  ranks=$(pgrep -P $launcher || true); LEFT="$LEFT $ranks"
  victim=""; for p in $ranks; do [ "$(rank_of $p)" = "$want_rank" ] && victim=$p; done
  if [ -z "$victim" ]; then fail "$desc: rank $want_rank not found among the launcher's children ($ranks)"; kill -KILL $launcher $ranks || true; continue; fi
  kill -STOP "$victim"
  t0=$SECONDS
  over=0; wait_gone 30 $launcher $ranks && over=1
  t1=$SECONDS
  for p in $ranks $launcher; do kill -CONT $p; kill -KILL $p; done 2>/dev/null || true
  rc=0; wait $launcher 2>/dev/null || rc=$?
  [ $over -eq 1 ] && pass "$desc: the job ended, all processes gone, $((t1 - t0)) s after the stall" \
    || fail "$desc: processes still there 30 s after the stall (killed now)"
  [ $over -eq 1 ] && [ $rc -ne 0 ] && pass "$desc: non-zero exit ($rc)" || fail "$desc: exit $rc (job over: $over)"
  # (not the "watchdog_seconds = 5" line of the effective config that every run prints)
  if grep -iE "watchdog|did not complete" wd$trial.out | grep -qviE '^ *watchdog_seconds *='; then pass "$desc: the message names the watchdog"
  else fail "$desc: no 'watchdog' / 'did not complete' in the output"; tail -n 3 wd$trial.out | sed 's/^/    | /'; fi
done

finish_robust
