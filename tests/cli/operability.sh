#!/bin/bash
# Operability (issue 13): the progress bar only on a real terminal (never in a file, also under
# mpirun), warnings and data-safety lines on stderr whatever log.progress says, step events every
# log.every_steps in every progress mode, the layout line, and the trace timeline.
source "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3
have_py() { "$PY" -c 'import json' 2>/dev/null; }
small="--set data.synth_samples=640 --set train.batch_size=64 --set train.epochs=2"

# 1. progress = auto: lines into a file (mpirun hands ranks a pseudo-terminal even then), a bar on
# a terminal (script gives mpirun one)
TERM=xterm mpi 2 train $small --set log.run_dir=p1 >p1.out 2>&1
grep -q 'epoch 1/2 \[' p1.out && fail "a bar was drawn into a file" || pass "no bar in a file under mpirun"
grep -q 'epoch 1/2 step 10 (batch 10/10)' p1.out && pass "lines in a file" || fail "no progress lines in the file"
if command -v script >/dev/null; then
  TERM=xterm script -qec "$MPIEXEC -n 2 --oversubscribe $NNMPI train $small --set log.run_dir=p2" /dev/null >p2.out 2>&1
  grep -q 'epoch 1/2 \[' p2.out && pass "a bar on a terminal" || { fail "no bar on a terminal"; tail -5 p2.out; }
else echo "SKIP: script(1) missing: terminal case not checked"; fi

# 2. step events follow log.every_steps whatever the progress mode (20 steps: 5, 10, 15, 20)
for mode in bar lines none; do
  mpi 2 train $small --set log.every_steps=5 --set log.progress=$mode --set log.run_dir=e-$mode >/dev/null 2>&1
  n=$(grep -c '"event":"step"' e-$mode/metrics.jsonl || true)
  [ "$n" = 4 ] && pass "progress=$mode: 4 step events" || fail "progress=$mode: $n step events, expected 4"
done

# 3. with log.progress = none the lines that matter still reach stderr: a skipped checkpoint,
# "resumed from", the layout
mpi 1 train $small --set log.run_dir=w >/dev/null 2>&1
printf 'x' | dd of=w/checkpoints/ckpt-00000020.h5 bs=1 seek=600 conv=notrunc status=none
mpi 2 train $small --set log.run_dir=w --set log.progress=none >w.out 2>w.err
grep -q "skipped checkpoint" w.err && pass "progress=none: the skipped checkpoint is on stderr" || fail "no warning on stderr"
grep -q "^resumed from" w.err && pass "progress=none: 'resumed from' on stderr" || fail "no 'resumed from' on stderr"
grep -q "^layout: 2 ranks on 1 node" w.err && pass "layout line" || fail "no layout line"
grep -qE 'epoch [0-9]+/[0-9]+ (\[|step)' w.out && fail "progress=none printed progress" || pass "progress=none: no progress on stdout"
grep -q "^eval epoch 2:" w.out && pass "progress=none: evaluations still reported" || fail "progress=none hid the evaluation"

# 4. the trace: every rank, every phase, phases adding up to the step time
expect_rc 2 "log.trace = bogus" mpi 1 train --set log.trace=bogus --set log.run_dir=t0
expect_out "log.trace" "the key is named"
mpi 1 train $small --set log.run_dir=t1 >/dev/null 2>&1
[ -e t1/trace.json ] && fail "trace.json written with log.trace = false" || pass "no trace when off"
expect_rc 0 "traced run" mpi 2 train $small --set log.trace=3-20 --set log.run_dir=t2
expect_out "trace: t2/trace.json" "the trace is announced"
if have_py; then
  if "$PY" - t2/trace.json >check.out 2>&1 <<'PYEOF'; then pass "trace.json: $(cat check.out)"; else fail "trace.json: $(cat check.out)"; fi
import json, sys
ev = [e for e in json.load(open(sys.argv[1]))["traceEvents"] if e.get("ph") == "X"]
ranks = {e["tid"] for e in ev}
assert ranks == {0, 1}, "ranks %s" % sorted(ranks)
need = {"data", "forward", "backward", "reduction", "optimizer", "eval", "checkpoint", "step"}
for r in ranks:
    got = {e["name"] for e in ev if e["tid"] == r}
    assert need <= got, "rank %d lacks %s" % (r, sorted(need - got))
steps = {e["args"]["step"] for e in ev}
assert steps == set(range(3, 21)), "steps %s" % sorted(steps)
for r in ranks:
    step = sum(e["dur"] for e in ev if e["tid"] == r and e["name"] == "step")
    parts = sum(e["dur"] for e in ev if e["tid"] == r and e["name"] in ("data", "forward", "backward", "reduction", "optimizer"))
    assert 0.9 * step <= parts <= step * 1.001 + 1, "rank %d: phases %.0f us of steps %.0f us" % (r, parts, step)
print("%d events, ranks 0 and 1, every phase, steps 3-20, phases within 10%% of the step time" % len(ev))
PYEOF
else echo "SKIP: /usr/bin/python3 missing: trace.json not parsed"; fi
finish
