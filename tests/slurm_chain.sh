# slurm_chain: jobs/chain.sh with jobs/train.sbatch. A chain of 3 jobs where the first two are
# cut short (SIGUSR1 to the job steps, as --signal=USR1@N sends) finishes the training exactly
# once: every epoch evaluated once, the final /model bit-identical to an uninterrupted run;
# a spare 4th job finds training complete and exits 0 at once. Then a run stopped on 2 tasks
# resumes on 1 task (rank-count change) and finishes.
. "$(dirname "$0")/slurm/lib.sh"
need_trainer
command -v h5diff >/dev/null || skip "h5diff (hdf5-tools) not installed"
slurm_up
export CONFIG=$SRC/configs/spirals.ini
ARGS=(--set model.layers=2,384,384,2 --set checkpoint.every_steps=50)   # ~5 s, 1890 steps
stopped_step() { sed -n 's/.*"event":"stopped","step":\([0-9]*\).*/\1/p' "$1" | tail -n 1; }
running() { [ "$(job_field "$1" JobState)" = RUNNING ]; }
# cut ID RUN_DIR AFTER_STEP: once job ID has a checkpoint past AFTER_STEP, SIGUSR1 to its steps;
# the job must end FAILED with exit code 75 (stopped after a checkpoint).
cut() {
  wait_for 120 "job $1 running with a checkpoint past step $3" eval "running $1 && ckpt_newer_than $2 $3"
  scancel --signal=USR1 "$1" || fail "scancel --signal=USR1 $1"
  local st; st=$(job_wait "$1" 120)
  [ "$st" = FAILED ] && [ "$(job_field "$1" ExitCode)" = 75:0 ] ||
    fail "job $1: $st $(job_field "$1" ExitCode), expected FAILED 75:0 (stopped, resume me)"
}

log "reference: uninterrupted, 2 tasks"
ref=$(sbatch --parsable -n 2 "$SRC/jobs/train.sbatch" "${ARGS[@]}" --set log.run_dir=runs/ref) || fail "sbatch"
st=$(job_wait "$ref" 300) || fail "reference job $ref ended $st"
refck=$(newest_ckpt runs/ref); [ "$(ckpt_step "$refck")" = 1890 ] || fail "reference: newest checkpoint $refck"

log "chain.sh 3, jobs 1 and 2 cut short"
ids=$("$SRC/jobs/chain.sh" 3 -n 2 --time=10 -- "${ARGS[@]}" --set log.run_dir=runs/chain) || fail "chain.sh"
set -- $ids; [ $# = 3 ] || fail "chain.sh printed '$ids', expected 3 job ids"
cut "$1" runs/chain 0
s1=$(stopped_step runs/chain/metrics.jsonl)
cut "$2" runs/chain "$s1"
s2=$(stopped_step runs/chain/metrics.jsonl)
st=$(job_wait "$3" 300) || fail "job $3 ended $st"
[ "$s1" -lt "$s2" ] && [ "$s2" -lt 1890 ] || fail "stop steps $s1, $s2: expected 0 < s1 < s2 < 1890"
for j in "$2" "$3"; do grep -q '^resumed from .*ckpt-' "nnmpi-train-$j.out" || fail "job $j did not resume"; done
[ "$(grep -c '"event":"stopped"' runs/chain/metrics.jsonl)" = 2 ] || fail "runs/chain: expected 2 stopped events"
evals_once runs/chain/metrics.jsonl 30
ck=$(newest_ckpt runs/chain); [ "$(ckpt_step "$ck")" = 1890 ] || fail "runs/chain: newest checkpoint $ck"
same_model "$refck" "$ck"
log "stopped at steps $s1 and $s2; final /model identical to the reference"

log "a spare link finds training complete"
n=$(wc -l < runs/chain/metrics.jsonl)
id=$(sbatch --parsable -n 2 "$SRC/jobs/train.sbatch" "${ARGS[@]}" --set log.run_dir=runs/chain) || fail "sbatch"
st=$(job_wait "$id" 120) || fail "spare job $id ended $st"
grep -q 'already complete' "nnmpi-train-$id.out" || fail "nnmpi-train-$id.out: no 'already complete'"
grep -q '"event":"step"' <(tail -n +$((n + 1)) runs/chain/metrics.jsonl) && fail "the spare job trained steps again"
evals_once runs/chain/metrics.jsonl 30

log "rank-count change: stopped on 2 tasks, resumed on 1"
a=$(sbatch --parsable -n 2 "$SRC/jobs/train.sbatch" "${ARGS[@]}" --set log.run_dir=runs/ranks) || fail "sbatch"
b=$(sbatch --parsable -n 1 --dependency=afterany:"$a" "$SRC/jobs/train.sbatch" "${ARGS[@]}" --set log.run_dir=runs/ranks) || fail "sbatch"
cut "$a" runs/ranks 0
st=$(job_wait "$b" 300) || fail "1-task job $b ended $st"
grep -q 'nnmpi train: 1 rank(s)' "nnmpi-train-$b.out" || fail "job $b: not 1 rank"
grep -q '^resumed from .*saved on 2 rank(s)' "nnmpi-train-$b.out" || fail "job $b: did not resume the 2-rank checkpoint"
evals_once runs/ranks/metrics.jsonl 30
ck=$(newest_ckpt runs/ranks); [ "$(ckpt_step "$ck")" = 1890 ] || fail "runs/ranks: newest checkpoint $ck"
# Same batches on 1 and 2 ranks; only the summation order differs: the result stays close.
acc=$(last_accuracy runs/ranks/metrics.jsonl) racc=$(last_accuracy runs/ref/metrics.jsonl)
awk -v a="$acc" -v r="$racc" 'BEGIN { d = a - r; exit !(d < 0.03 && d > -0.03) }' ||
  fail "accuracy after the rank change $acc vs uninterrupted $racc"
log "rank change: final accuracy $acc (uninterrupted 2-rank: $racc)"
echo "slurm_chain: all checks passed"
