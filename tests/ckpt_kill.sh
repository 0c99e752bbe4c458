#!/bin/bash
# ckpt_kill: fault injection for the checkpoint commit protocol. Runs `nnmpi train` on
# configs/spirals.ini with checkpoint.every_steps=1 and kills the whole job (every process of its
# session, SIGKILL) at a random moment, N times; each run auto-resumes from the previous one.
# After every kill, every file under a final checkpoint name must verify (`nnmpi inspect`), and
# the newest step must never go backwards. At the end, one unkilled run must auto-resume and
# finish, and its weights and optimiser state must equal, bit for bit, those of a run that was
# never interrupted.
#
#   tests/ckpt_kill.sh                                   20 kills (ctest: cli.ckpt_kill)
#   CKPT_KILL_N=200 NNMPI=build/src/nnmpi tests/ckpt_kill.sh      the long run
# Env: NNMPI (binary), NN_SOURCE_DIR, CKPT_KILL_N (20), CKPT_KILL_NP (1 = run nnmpi directly;
# >1 = under $MPIEXEC), CKPT_KILL_MAX_DELAY (seconds before the kill, uniform in [0, max], 1.5).
set -u
SRC=${NN_SOURCE_DIR:-$(cd "$(dirname "$0")/.." && pwd)}
NNMPI=${NNMPI:-$SRC/build/src/nnmpi}
N=${CKPT_KILL_N:-20}
NP=${CKPT_KILL_NP:-1}
MAXD=${CKPT_KILL_MAX_DELAY:-1.5}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OPENBLAS_NUM_THREADS=1
[ -x "$NNMPI" ] || { echo "ckpt_kill: SKIP: no nnmpi binary at $NNMPI"; exit 77; }
command -v h5diff >/dev/null || { echo "ckpt_kill: SKIP: h5diff (hdf5-tools) not found"; exit 77; }

work=$(mktemp -d "${TMPDIR:-/tmp}/nnmpi-ckpt-kill-XXXXXX")
run=$work/run
ck=$run/checkpoints
launch=("$NNMPI")
[ "$NP" -gt 1 ] && launch=("${MPIEXEC:-mpiexec}" -n "$NP" --oversubscribe "$NNMPI")
# Never completes on its own (100000 epochs); the last run sets train.max_steps.
args=(train -c "$SRC/configs/spirals.ini" --set checkpoint.every_steps=1 --set checkpoint.keep=3
      --set train.epochs=100000 --set log.progress=none)

fail() { echo "ckpt_kill: FAIL: $*"; echo "ckpt_kill: files kept in $work"; exit 1; }

# Kills every process of session $1 (the job started by setsid below), by pid.
kill_session() {
  local pids
  pids=$(ps -eo pid=,sid= | awk -v s="$1" '$2 == s { print $1 }')
  [ -n "$pids" ] && kill -9 $pids 2>/dev/null
  wait "$1" 2>/dev/null
}

checked=0 tmp_seen=0 prev=-1 empty_runs=0
for ((i = 1; i <= N; i++)); do
  setsid "${launch[@]}" "${args[@]}" --set log.run_dir="$run" >"$work/log.$i" 2>&1 &
  job=$!
  sleep "$(awk -v m="$MAXD" -v r="$RANDOM" 'BEGIN { printf "%.3f", m * r / 32767 }')"
  kill_session "$job"
  newest=-1
  shopt -s nullglob
  for f in "$ck"/ckpt-*.h5; do
    "$NNMPI" inspect "$f" >"$work/inspect.out" 2>&1 ||
      fail "kill $i: $f does not verify: $(tail -1 "$work/inspect.out")"
    checked=$((checked + 1))
    s=${f##*/ckpt-}; s=$((10#${s%.h5}))
    ((s > newest)) && newest=$s
  done
  tmps=("$ck"/*.tmp)
  tmp_seen=$((tmp_seen + ${#tmps[@]}))
  shopt -u nullglob
  ((newest < prev)) && fail "kill $i: newest checkpoint went back from step $prev to $newest"
  ((newest == prev || newest < 0)) && empty_runs=$((empty_runs + 1))
  prev=$newest
done
((prev > 0)) || fail "no checkpoint survived $N kills (raise CKPT_KILL_MAX_DELAY)"

# The last run resumes from whatever is there and stops 25 steps later.
final=$((prev + 25))
"${launch[@]}" "${args[@]}" --set log.run_dir="$run" --set train.max_steps=$final >"$work/log.final" 2>&1 ||
  fail "the resumed run failed: $(tail -3 "$work/log.final")"
grep -q '"resumed":true' <(tail -n 400 "$run/metrics.jsonl" | grep '"event":"start"' | tail -1) ||
  fail "the last run did not auto-resume"
resumes=$(grep '"event":"start"' "$run/metrics.jsonl" | grep -c '"resumed":true')
# Reference: the same training, never interrupted.
"${launch[@]}" "${args[@]}" --set log.run_dir="$work/ref" --set checkpoint.every_steps=0 \
  --set train.max_steps=$final >"$work/log.ref" 2>&1 || fail "reference run failed: $(tail -3 "$work/log.ref")"
name=$(printf 'ckpt-%08d.h5' $final)
for obj in /model /optimizer; do
  h5diff "$work/ref/checkpoints/$name" "$ck/$name" $obj $obj >"$work/h5diff.out" 2>&1 ||
    fail "$obj of the killed-and-resumed run differs from the uninterrupted run: $(head -5 "$work/h5diff.out")"
done
echo "ckpt_kill: $N kills (np $NP, delay 0..${MAXD}s): $checked checkpoint files checked, all verify;" \
  "$tmp_seen stale .tmp seen; $((N - empty_runs)) runs advanced the newest checkpoint (to step $prev);" \
  "$resumes runs auto-resumed; final step $final bit-identical to an uninterrupted run"
rm -rf "$work"
