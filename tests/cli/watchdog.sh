#!/bin/bash
# A rank that stops responding (SIGSTOP, as a hung node would) must not burn the allocation:
# after train.watchdog_seconds the other rank reports the stalled collective, names the silent
# rank and its host (heartbeats in the run directory), and the job ends.
source "$(dirname "$0")/lib.sh"
"$MPIEXEC" -n 2 "$NNMPI" train --set data.synth_samples=200000 --set train.epochs=50 \
  --set train.watchdog_seconds=3 --set log.run_dir=wd --set log.progress=lines >wd.out 2>&1 &
launcher=$!
for _ in $(seq 100); do grep -q '"event":"step"' wd/metrics.jsonl 2>/dev/null && break; sleep 0.1; done
# the ranks are the launcher's children (never pick processes of other tests); stop the last
victim=$(pgrep -P $launcher -f "$NNMPI" | tail -n 1 || true)
if [ -z "$victim" ]; then fail "no rank process found under the launcher"; kill $launcher; finish; exit 1; fi
t0=$(date +%s)
kill -STOP "$victim"
rc=0
timeout 60 tail --pid=$launcher -f /dev/null || rc=124
wait $launcher || rc=$?
t1=$(date +%s)
kill -KILL "$victim" 2>/dev/null || true
[ $rc -ne 0 ] && [ $rc -ne 124 ] && pass "job ended with exit $rc" || { fail "job exit $rc"; tail -20 wd.out; }
grep -q "did not complete within 3 s" wd.out && pass "message names the stalled collective" || { fail "no watchdog message"; tail -20 wd.out; }
grep -q "step [0-9]" wd.out && pass "message names the step" || fail "step not named"
grep -q "lost rank 1 on $(hostname)" wd.out && pass "message names the lost rank and its host" || fail "lost rank not named"
[ "$(grep -c 'did not complete' wd.out)" = 1 ] && pass "one message" || fail "$(grep -c 'did not complete' wd.out) messages"
[ $((t1 - t0)) -lt 30 ] && pass "ended $((t1 - t0)) s after the stall" || fail "took $((t1 - t0)) s"
finish
