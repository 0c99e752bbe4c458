# slurm_preempt: jobs/preemptible.sbatch with the real trainer. Mid-run (after the first
# checkpoint) the batch shell gets SIGUSR1 (`scancel --batch --signal=USR1`, what
# --signal=B:USR1@N sends before the time limit); the script forwards it, nnmpi checkpoints and
# exits 75, the job requeues itself and the requeued run resumes and finishes. The final
# weights are bit-identical to an uninterrupted run with the same config and rank count.
# Done with srun and with mpirun as the launcher.
. "$(dirname "$0")/slurm/lib.sh"
need_trainer
command -v h5diff >/dev/null || skip "h5diff (hdf5-tools) not installed"
slurm_up
export CONFIG=$SRC/configs/spirals.ini
# ~5 s of training on 2 ranks, a checkpoint every 50 steps; 30 epochs = 1890 steps.
ARGS=(--set model.layers=2,384,384,2 --set checkpoint.every_steps=50)

log "reference: uninterrupted train.sbatch, 2 tasks"
ref=$(sbatch --parsable -n 2 --time=10 "$SRC/jobs/train.sbatch" "${ARGS[@]}" --set log.run_dir=runs/ref) || fail "sbatch"
st=$(job_wait "$ref" 300) || fail "reference job $ref ended $st"
evals_once runs/ref/metrics.jsonl 30
refck=$(newest_ckpt runs/ref); [ "$(ckpt_step "$refck")" = 1890 ] || fail "reference: newest checkpoint $refck, expected step 1890"

for launcher in srun mpirun; do
  log "preemptible.sbatch ($launcher), SIGUSR1 to the batch shell after the first checkpoint"
  id=$(LAUNCHER=$launcher sbatch --parsable -n 2 --time=10 "$SRC/jobs/preemptible.sbatch" "${ARGS[@]}" \
       --set log.run_dir=runs/pre-%j) || fail "sbatch"
  run=runs/pre-$id
  wait_for 120 "a first checkpoint in $run" has_ckpt "$run"
  [ "$(job_field "$id" JobState)" = RUNNING ] || fail "job $id is $(job_field "$id" JobState) after its first checkpoint: the run is too short to interrupt"
  scancel --batch --signal=USR1 "$id" || fail "scancel --batch --signal=USR1 $id"
  st=$(job_wait "$id" 300) || fail "preemptible job $id ended $st"
  out=nnmpi-preemptible-$id.out
  grep -q 'got SIGUSR1, forwarding' "$out" || fail "$out: the batch shell did not forward SIGUSR1"
  grep -q 'stopped with a checkpoint: requeueing' "$out" || fail "$out: no exit 75 / requeue"
  grep -q '^resumed from .*ckpt-' "$out" || fail "$out: the requeued run did not resume from a checkpoint"
  grep -q 'nnmpi exited with 0' "$out" || fail "$out: the requeued run did not finish with 0"
  [ "$(job_field "$id" Restarts)" = 1 ] || fail "job $id: Restarts=$(job_field "$id" Restarts), expected 1"
  [ "$(grep -c '"event":"stopped"' "$run/metrics.jsonl")" = 1 ] || fail "$run/metrics.jsonl: expected one stopped event"
  stop=$(sed -n 's/.*"event":"stopped","step":\([0-9]*\).*/\1/p' "$run/metrics.jsonl")
  [ "$stop" -gt 0 ] && [ "$stop" -lt 1890 ] || fail "stopped at step '$stop', expected mid-run"
  evals_once "$run/metrics.jsonl" 30
  ck=$(newest_ckpt "$run"); [ "$(ckpt_step "$ck")" = 1890 ] || fail "$run: newest checkpoint $ck, expected step 1890"
  same_model "$refck" "$ck"
  log "$launcher: stopped at step $stop, resumed, final /model identical to the reference"
done
echo "slurm_preempt: all checks passed"
