#!/bin/bash
# Issue 11, processes: a run directory in use by another run is refused (2), ranks die with
# their launcher and the run directory can be used again at once (2), and SIGUSR1 early in a run
# always means checkpoint + exit 75 (12). Processes are only ever found as children of the
# launcher this script started, and signalled by pid.
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/lib.sh"
source "$HERE/robust_lib.sh"

is_nnmpi() { tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null | grep -qF -- "$NNMPI"; }

# ---- 2. run-directory lock: a second train on the same log.run_dir exits 4 at once
long=(--set data.synth_samples=20000 --set train.epochs=4 --set checkpoint.every_steps=100 --set log.progress=lines)
"$NNMPI" train "${long[@]}" --set log.run_dir=lock >holder.out 2>&1 &
holder=$!; LEFT="$LEFT $holder"
if wait_for lock/metrics.jsonl '"event":"step"' 120; then
  kill -STOP $holder   # holds the run dir for as long as the second run needs
  expect 4 "2: a second train on a run dir in use" timeout 60 "$NNMPI" train "${long[@]}" --set log.run_dir=lock
  has "in use" "2: the message says 'in use'"
  has_re "(^|[^0-9])$holder([^0-9]|$)" "2: ... names the holder's pid ($holder)"
  has "$(hostname)" "2: ... and its host ($(hostname))"
  kill -CONT $holder
  rc=0; wait $holder || rc=$?
  [ $rc -eq 0 ] && pass "2: the first run finishes normally" || { fail "2: the first run: exit $rc"; tail -5 holder.out; }
  bad=""; n=0
  for f in lock/checkpoints/ckpt-*.h5; do n=$((n + 1)); verifies "$f" || bad="$bad $f"; done
  [ $n -gt 0 ] && [ -z "$bad" ] && pass "2: its $n checkpoints verify" || fail "2: checkpoints that do not verify:$bad (of $n)"
else
  fail "2: the first run did not start training"; tail -5 holder.out; kill -KILL $holder 2>/dev/null || true
fi

# ---- 2. kill -9 of the launcher: no rank survives it by more than 1 s; relaunch resumes.
# Trial "small": a small model, killed after its first checkpoint, then relaunched on its run dir.
# Trial "big": 2.25 M parameters checkpointed every 3 steps, killed 0.3 s after a checkpoint
# event, so that the ranks are busy writing or waiting for the writer.
# (A rank whose parent died is a zombie until init reaps it: that counts as dead.)
kill9_trial() { # NAME DELAY ARGS...
  local name=$1 delay=$2; shift 2
  "$MPIEXEC" -n 2 --oversubscribe "$NNMPI" train "$@" --set log.run_dir=k9-$name >k9-$name.out 2>&1 &
  local launcher=$!
  if ! wait_for k9-$name/metrics.jsonl '"event":"checkpoint"' 120; then
    fail "2 ($name): the 2-rank run wrote no checkpoint"; tail -5 k9-$name.out; kill -KILL $launcher 2>/dev/null || true
    return 1
  fi
  sleep $delay
  local ranks alive="" p
  ranks=$(pgrep -P $launcher || true)
  LEFT="$LEFT $ranks"
  kill -KILL $launcher
  sleep 1
  for p in $ranks; do gone $p || ! is_nnmpi $p || alive="$alive $p"; done
  [ -n "$ranks" ] && [ -z "$alive" ] && pass "2 ($name): 1 s after kill -9 of mpirun, none of its ranks ($(echo $ranks)) is alive" \
    || fail "2 ($name): ranks still alive 1 s after kill -9 of mpirun:${alive:- (none found: '$ranks')}"
  for p in $alive; do kill -KILL $p 2>/dev/null || true; done   # before any relaunch
  wait $launcher 2>/dev/null || true
}
small=(--set data.synth_samples=100000 --set train.epochs=20 --set checkpoint.every_steps=100 --set log.progress=lines)
if kill9_trial small 0 "${small[@]}"; then
  expect 0 "2 (small): an immediate relaunch on the same run dir" timeout 120 "$MPIEXEC" -n 2 --oversubscribe "$NNMPI" \
    train "${small[@]}" --set train.max_steps=400 --set log.run_dir=k9-small
  has "resumed from" "2 (small): ... resumes"
fi
kill9_trial big 0.3 --set model.layers=2,1500,1500,2 --set train.epochs=20 --set checkpoint.every_steps=3 \
  --set log.progress=lines || true

# ---- 12. SIGUSR1 0.05-0.3 s into a 1-rank run: checkpoint and exit 75, never death by the signal (138)
# The clock starts once the loader has mapped the libraries (libmpi in /proc/PID/maps): nnmpi
# installs its handler from .preinit_array, before the constructors of those libraries, so an
# early signal must already be caught (a handler installed in main() fails this). In a sanitizer
# build the sanitizer runtime starts up between the two, for tens of ms under load (once over
# 50 ms after its first mapping, the clock this used before); there the clock starts once the
# process catches SIGUSR1 (bit 10 of SigCgt in /proc/PID/status).
asan=0; ldd "$NNMPI" 2>/dev/null | grep -q libasan && asan=1
catches_usr1() {
  local m
  m=$(sed -n 's/^SigCgt:[[:space:]]*//p' "/proc/$1/status" 2>/dev/null) || return 1
  [ -n "$m" ] && (( (16#$m >> 9) & 1 ))
}
started() { if [ $asan -eq 1 ]; then catches_usr1 "$1"; else grep -q libmpi "/proc/$1/maps" 2>/dev/null; fi; }
for d in 0.05 0.1 0.15 0.2 0.3; do
  "$NNMPI" train -c "$SRC/configs/spirals.ini" --set train.epochs=200 --set log.run_dir=usr1-$d --set log.progress=lines \
    >"$WORK/so.txt" 2>"$WORK/se.txt" &
  p=$!; LEFT="$LEFT $p"
  # start the clock (started, above)
  for _ in $(seq 2000); do started $p && break; gone $p && break; sleep 0.005; done
  sleep $d
  kill -USR1 $p 2>/dev/null || true
  wait_gone 120 $p || kill -KILL $p 2>/dev/null || true
  RC=0 SHOWN=0; wait $p || RC=$?
  cat "$WORK/so.txt" "$WORK/se.txt" >"$WORK/out.txt"
  rc_is 75 "12: SIGUSR1 $d s after start"
  ck=$(sed -nE 's/.*checkpoint ([^ ]+) written at step.*/\1/p' "$WORK/out.txt" | tail -n 1)
  [ -n "$ck" ] && verifies "$ck" && pass "12: SIGUSR1 at $d s: the checkpoint it names ($ck) verifies" \
    || fail "12: SIGUSR1 at $d s: named checkpoint '${ck}' missing or does not verify"
done

finish_robust
