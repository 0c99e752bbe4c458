#!/bin/bash
# nnmpi report: a sweep through jobs/sweep.sbatch (srun stood in for), a chain of segments
# (stopped, resumed, killed), a failed run, runs in progress (a half-written line, the lock
# held, a stale file), a missing run dir, usage errors, CSV, and the SVG: it parses as XML,
# rsvg-convert renders it (skipped visibly without librsvg2-bin, or with NN_TEST_NO_RSVG=1), one
# curve per run.
source "$(dirname "$0")/lib.sh"

tiny=(--set train.epochs=4 --set data.synth_samples=600 --set log.every_steps=4 --set log.progress=lines)
rows() { awk -v n="$1" '$1 == n' "$WORK/out.txt"; } # the table row of run $1
row_has() { # row_has NAME TEXT DESC: the row of run NAME contains TEXT
  if rows "$1" | grep -qF -- "$2"; then pass "$3"
  else fail "$3: row '$1' lacks '$2'"; cat "$WORK/out.txt"; fi
}
PY=/usr/bin/python3; [ -x $PY ] || PY=python3
svg_ok() { # svg_ok FILE DESC: well-formed XML, and renders to PNG when rsvg-convert is there
  if $PY -c 'import sys, xml.etree.ElementTree as E; E.parse(sys.argv[1])' "$1" 2>"$WORK/xml.txt"; then
    pass "$2: well-formed XML"
  else fail "$2: not well-formed XML: $(cat "$WORK/xml.txt")"; fi
  if [ "${NN_TEST_NO_RSVG:-0}" != 1 ] && command -v rsvg-convert >/dev/null; then
    if rsvg-convert "$1" -o "${1%.svg}.png" 2>"$WORK/rsvg.txt" && [ -s "${1%.svg}.png" ]; then
      pass "$2: rsvg-convert renders it to PNG"
    else fail "$2: rsvg-convert failed: $(cat "$WORK/rsvg.txt")"; fi
  else
    echo "SKIP (visible): rsvg-convert missing or NN_TEST_NO_RSVG=1 (Debian: librsvg2-bin, scripts/install-deps): $2 not rendered"
  fi
}
# curves FILE CLASS: the runs (data-run indices) that have a curve of CLASS in FILE
curves() { grep -o "class='$2' data-run='[0-9]*'" "$1" | sed -E "s/.*data-run='([0-9]+)'/\1/" | sort -un | tr '\n' ' '; }

# ---- usage
expect_rc 0 "report --help" "$NNMPI" report --help
expect_out "usage: nnmpi report" "--help shows the usage"
expect_out "stopped (resume me)" "--help explains the states"
expect_rc 2 "report without a run dir" "$NNMPI" report
expect_rc 2 "report with an unknown option" "$NNMPI" report --frobnicate x
expect_rc 2 "report --svg without a file" "$NNMPI" report --svg

# ---- a sweep of 3 runs through jobs/sweep.sbatch, srun stood in for by a script that drops its
# options and the Slurm variables (one rank each)
mkdir -p bin
cat >bin/srun <<'EOF'
#!/bin/sh
while [ $# -gt 0 ]; do case $1 in --*) shift ;; *) break ;; esac; done
exec env -u SLURM_JOB_ID -u SLURM_ARRAY_JOB_ID -u SLURM_ARRAY_TASK_ID -u SLURM_JOB_END_TIME "$@"
EOF
chmod +x bin/srun
printf '# the learning rates\noptim.lr=0.003\noptim.lr=0.01\n\noptim.lr=0.03\n' >sweep.txt
printf '[train]\nepochs = 4\n[data]\nsynth_samples = 600\n[log]\nevery_steps = 4\nprogress = lines\n' >tiny.ini
for i in 1 2 3; do
  expect_rc 0 "sweep task $i" env PATH="$WORK/bin:$PATH" SLURM_ARRAY_TASK_ID=$i SLURM_ARRAY_JOB_ID=77 SLURM_JOB_ID=$((77 + i)) \
    SLURM_JOB_END_TIME=$(($(date +%s) + 3600)) NNMPI="$NNMPI" CONFIG=tiny.ini SWEEP=sweep.txt RUNS=runs \
    bash "$SRC/jobs/sweep.sbatch"
done
expect_rc 0 "report on the sweep" "$NNMPI" report --svg sweep.svg runs/sweep-77/*
head -n 1 out.txt | grep -qE '^run +optim\.lr +state ' && pass "the table lists exactly optim.lr as differing" ||
  fail "header: $(head -n 1 out.txt)"
for i in 1 2 3; do row_has $i finished "sweep run $i finished"; done
row_has 1 0.003 "run 1 shows its optim.lr"
row_has 3 0.03 "run 3 shows its optim.lr"
row_has 2 "40/40" "steps done/planned"
row_has 2 "4/4" "epochs done/planned"
row_has 2 "ckpt-00000040.h5" "the newest valid checkpoint"
row_has 2 "acc " "the evaluation accuracy"
expect_out "3 runs: 3 finished" "the count of states"
expect_out "learning curves: sweep.svg" "the SVG is named"
svg_ok sweep.svg "sweep overlay"
for cls in train-loss eval-loss eval-acc speed; do
  [ "$(curves sweep.svg $cls)" = "0 1 2 " ] && pass "one $cls curve per run" || fail "$cls curves of runs: $(curves sweep.svg $cls)"
done
grep -qF "3: optim.lr=0.03" sweep.svg && pass "the legend names what differs" || fail "legend lacks 3: optim.lr=0.03"
svg_ok runs/sweep-77/1/learning-curves.svg "learning-curves.svg of one run"

expect_rc 0 "report --csv" "$NNMPI" report --csv --no-svg runs/sweep-77/*
[ "$(wc -l <out.txt)" -eq 4 ] && pass "CSV: a header and 3 rows" || fail "CSV has $(wc -l <out.txt) lines"
head -n 1 out.txt | grep -q '^run,dir,optim.lr,state,' && pass "CSV header" || fail "CSV header: $(head -n 1 out.txt)"
[ ! -e nnmpi-report.svg ] && pass "--no-svg writes no SVG" || fail "--no-svg wrote nnmpi-report.svg"

# ---- a chain: stopped (exit 75), resumed to the end
expect_rc 75 "chain segment 1 stops at step 18" "$NNMPI" train "${tiny[@]}" --set log.run_dir=chain --stop-after-steps 18
expect_rc 0 "report between the segments" "$NNMPI" report --no-svg chain
row_has chain "stopped (resume me)" "a stopped segment says resume me"
row_has chain "ckpt-00000018.h5" "its checkpoint"
expect_rc 0 "chain segment 2 to the end" "$NNMPI" train "${tiny[@]}" --set log.run_dir=chain
expect_rc 0 "report on the chain" "$NNMPI" report --svg chain.svg chain
row_has chain finished "the chain finished"
awk '$1 == "chain"' out.txt | grep -qE ' 2 +[0-9]+s ago' && pass "2 segments" || fail "segments: $(rows chain)"
svg_ok chain.svg "chain"
grep -qF "segment 2 started at step 18" chain.svg && pass "the resume point is marked" || fail "no resume mark at 18"

# ---- a failed run: diverging SGD
expect_rc 1 "lr = 1e30 diverges" "$NNMPI" train "${tiny[@]}" --set log.run_dir=bad --set optim.name=sgd --set optim.lr=1e30
expect_rc 0 "report on the failed run" "$NNMPI" report --no-svg bad
row_has bad "failed: " "a failed event gives failed"
expect_out "non-finite" "with the message"

# ---- runs in progress, from hand-written metrics.jsonl (no config.ini): complete lines only
mkdir -p prog
cat >prog/metrics.jsonl <<'EOF'
{"time":1700000000.0,"event":"start","ranks":2,"nodes":1,"step":0,"epoch":0,"epochs":10,"steps_per_epoch":16,"batch_size":64,"resumed":false}
{"time":1700000001.0,"event":"step","epoch":1,"step":8,"loss":0.7,"acc":0.5,"lr":0.01,"samples_per_s":1000.0}
garbage that is not JSON
{"time":1700000002.0,"event":"something_new","step":9,"detail":{"nested":[1,2,{"x":null}]}}
{"time":1700000003.0,"event":"step","epoch":1,"step":16,"loss":0.6,"acc":0.6,"lr":0.01,"samples_per_s":1200.0}
{"time":1700000004.0,"event":"eval","epoch":1,"step":16,"loss":0.55,"accuracy":0.625,"rows":100}
EOF
printf '{"time":1700000005.0,"event":"step","epoch":2,"step":24,"loss":0.5,"acc":0.7,"lr":0.01,"samples_pe' >>prog/metrics.jsonl
expect_rc 0 "report on a run in progress" "$NNMPI" report --svg prog.svg prog
row_has prog "running? (no lock file)" "fresh, no end event, no lock file: running?"
row_has prog "16/160" "the half-written line is not read (step 16 of 160)"
row_has prog "1/10" "1 epoch of 10"
row_has prog "acc 62.50%" "the last eval"
row_has prog "1.1k" "samples/s of the running segment"
expect_out "1 line(s) skipped that are not JSON objects (first: line 3)" "garbage lines are counted, not fatal"
svg_ok prog.svg "run in progress"
# the trainer's lock is a POSIX (fcntl) lock on nnmpi.lock; Python's lockf takes the same kind
if /usr/bin/python3 -c 'import fcntl' 2>/dev/null; then
  /usr/bin/python3 -c 'import fcntl, sys, time
f = open("prog/nnmpi.lock", "a"); fcntl.lockf(f, fcntl.LOCK_EX); f.write("host h, pid 1\n"); f.flush()
open("prog/locked", "w").close(); time.sleep(30)' &
  holder=$!
  for _ in $(seq 100); do [ -e prog/locked ] && break; sleep 0.1; done
  expect_rc 0 "report with the lock held" "$NNMPI" report --no-svg prog
  row_has prog "running" "the lock held by a live process: running"
  kill $holder; wait $holder 2>/dev/null || true
  rm -f prog/locked
else
  echo "SKIP: /usr/bin/python3 cannot take a POSIX lock here: the held-lock case is not checked"
  : >prog/nnmpi.lock
fi
expect_rc 0 "report with the lock file free" "$NNMPI" report --no-svg prog
row_has prog "failed: killed or crashed" "a lock file nobody holds and no end event: killed"
rm prog/nnmpi.lock
touch -d '10 minutes ago' prog/metrics.jsonl
expect_rc 0 "report on a stale run" "$NNMPI" report --no-svg prog
row_has prog "failed: killed or crashed" "no lock file, no end event, quiet for 10 minutes: killed"

# a slow run (10 minutes between events) quiet for 5 minutes is still running?
mkdir -p slow
printf '%s\n' '{"time":1700000000.0,"event":"start","ranks":1,"step":0,"epoch":0,"epochs":2,"steps_per_epoch":100}' \
  '{"time":1700000600.0,"event":"step","epoch":1,"step":50,"loss":0.7,"acc":0.5,"samples_per_s":10.0}' >slow/metrics.jsonl
touch -d '5 minutes ago' slow/metrics.jsonl
expect_rc 0 "report on a slow run" "$NNMPI" report --no-svg slow
row_has slow "running? (no lock file)" "the quiet time is measured against its pauses"

# ---- a run killed with -9 in the middle, then resumed and stopped again
"$NNMPI" train --set train.epochs=1000 --set data.synth_samples=600 --set log.every_steps=4 --set log.progress=lines \
  --set log.run_dir=killed >killed.log 2>&1 &
pid=$!
for _ in $(seq 300); do
  n=$(grep -c '"event":"eval"' killed/metrics.jsonl 2>/dev/null || true)
  [ "${n:-0}" -ge 3 ] && break
  sleep 0.1
done
kill -9 $pid; wait $pid 2>/dev/null || true
touch -d '3 minutes ago' killed/metrics.jsonl # (without a lock file, a fresh file would be "running?")
expect_rc 0 "report on the killed run" "$NNMPI" report --no-svg killed
row_has killed "failed: killed or crashed" "kill -9 mid-run: killed or crashed"
row_has killed "ckpt-0000" "the killed run's newest checkpoint"
step=$(grep -o '"step":[0-9]*' killed/metrics.jsonl | tail -n 1 | cut -d: -f2)
expect_rc 75 "resume the killed run, stop 10 steps later" "$NNMPI" train --set train.epochs=1000 --set data.synth_samples=600 \
  --set log.every_steps=4 --set log.progress=lines --set log.run_dir=killed --stop-after-steps $((step + 10))
expect_rc 0 "report on the resumed run" "$NNMPI" report --svg killed.svg killed
row_has killed "stopped (resume me)" "resumed and stopped: resume me"
row_has killed "2 (1 killed)" "2 segments, 1 killed"
svg_ok killed.svg "killed and resumed"

# ---- checkpoint.dir outside the run dir, relative to where the job ran; reported from elsewhere
expect_rc 0 "a run with checkpoint.dir" "$NNMPI" train "${tiny[@]}" --set log.run_dir=runs/own --set checkpoint.dir=ckpts/own
(cd / && "$NNMPI" report --no-svg "$WORK/runs/own") >out.txt 2>&1 && pass "report from another directory" || fail "report failed"
row_has own "ckpt-00000040.h5" "the checkpoint in checkpoint.dir is found"

# ---- a missing run dir: named, exit 1, the others still reported
expect_rc 1 "report with a missing run dir" "$NNMPI" report --svg all.svg runs/sweep-77/1 nope chain bad
expect_out "nnmpi report: nope: No such file or directory" "the missing dir is named"
row_has runs/sweep-77/1 finished "the other runs are still reported"
row_has chain finished "the chain too"
expect_out "learning curves: all.svg" "and the SVG is still written"
svg_ok all.svg "mixed runs"
expect_rc 1 "a dir without metrics.jsonl" "$NNMPI" report --no-svg bin
expect_out "no metrics.jsonl" "says what is missing"
# FIFOs never block the report (bounded by timeout 20)
mkdir fifo && mkfifo fifo/metrics.jsonl
expect_rc 1 "metrics.jsonl is a FIFO" timeout 20 "$NNMPI" report --no-svg fifo
expect_out "fifo/metrics.jsonl: not a regular file" "named as not a regular file"
rm fifo/metrics.jsonl && cp chain/metrics.jsonl fifo/ && mkfifo fifo/config.ini
expect_rc 0 "config.ini is a FIFO" timeout 20 "$NNMPI" report --no-svg fifo
expect_out "config.ini: not a regular file" "a note says so, the run is still reported"

finish
