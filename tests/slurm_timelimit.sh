# slurm_timelimit: a train.sbatch job with --time=1 and far more training than fits. The script
# hands nnmpi the job's end time (SLURM_JOB_END_TIME, taken from squeue when Slurm does not set
# it), nnmpi checkpoints and exits 75 before the limit (the job is FAILED 75:0, not TIMEOUT);
# the next job resumes from that checkpoint and finishes (here: at max_steps). About 1 minute.
. "$(dirname "$0")/slurm/lib.sh"
need_trainer
[ "${NNMPI_QUICK:-0}" = 1 ] && skip "NNMPI_QUICK=1: the time-limit test waits for a 1-minute limit"
slurm_up
export CONFIG=$SRC/configs/spirals.ini
ARGS=(--set model.layers=2,384,384,2 --set train.epochs=100000 --set checkpoint.every_epoch=false
      --set checkpoint.every_seconds=5 --set log.run_dir=runs/tl)

log "train.sbatch --time=1 with ~100000 epochs of work"
t0=$(date +%s)
a=$(sbatch --parsable -n 2 --time=1 "$SRC/jobs/train.sbatch" "${ARGS[@]}") || fail "sbatch"
st=$(job_wait "$a" 150)
out=nnmpi-train-$a.out
[ "$st" = FAILED ] && [ "$(job_field "$a" ExitCode)" = 75:0 ] ||
  fail "job $a: $st $(job_field "$a" ExitCode), expected FAILED 75:0 (stopped before the limit)"
grep -q 'TIME LIMIT' "$out" && fail "$out: Slurm reached the time limit before nnmpi stopped"
grep -q 'nnmpi exited with 75' "$out" || fail "$out: no exit 75"
stop=$(sed -n 's/.*"event":"stopped","step":\([0-9]*\).*/\1/p' runs/tl/metrics.jsonl)
[ -n "$stop" ] && [ "$(ckpt_step "$(newest_ckpt runs/tl)")" = "$stop" ] || fail "runs/tl: no checkpoint at the stop step '$stop'"
log "stopped at step $stop after $(( $(date +%s) - t0 )) s (limit 60 s)"

log "next job resumes and finishes at train.max_steps"
b=$(sbatch --parsable -n 2 --time=1 "$SRC/jobs/train.sbatch" "${ARGS[@]}" --set train.max_steps=$((stop + 100))) || fail "sbatch"
st=$(job_wait "$b" 150) || fail "job $b ended $st"
grep -q "^resumed from .*ckpt-0*$stop.h5" "nnmpi-train-$b.out" || fail "job $b did not resume from step $stop"
grep -q "^done: .* step $((stop + 100))," "nnmpi-train-$b.out" || fail "job $b did not finish at step $((stop + 100))"
echo "slurm_timelimit: all checks passed"
