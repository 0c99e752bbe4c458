# multinode_preempt: stopping a run across nodes, on the private multi-node cluster
# (2 nodes, 3 CPUs each so that the time-limit job runs alongside), spirals, train.reduce = exact.
# - jobs/preemptible.sbatch on 2 nodes x 2 ranks, launched by srun and signalled with
#   `scancel --signal=USR1` (every rank on both nodes gets it), and launched by mpirun and
#   signalled with `scancel --batch --signal=USR1` (the script forwards it to mpirun): all ranks
#   stop after one agreed checkpoint (the stop step's checkpoint, one "stopped" event), exit 75,
#   the job requeues itself and resumes; the final weights are bit-identical to an uninterrupted
#   1-rank run.
# - a time limit: jobs/train.sbatch with --time=1 on 2 nodes x 1 rank; nnmpi stops with 75 before
#   the limit (FAILED 75:0, not TIMEOUT) from the job's end time, with a checkpoint at the stop
#   step; the next job resumes from it, and its result is bit-identical to resuming the same
#   checkpoint on 1 rank.
. "$(dirname "$0")/cluster/lib.sh"
need_trainer
command -v h5diff >/dev/null || skip "h5diff (hdf5-tools) not installed"
cluster_up 2 NNMPI_CLUSTER_CPUS=3
"$NNMPI" data synth --kind spirals --n 4000 --out sp.h5 > /dev/null || fail "nnmpi data synth"
export CONFIG=$SRC/configs/spirals.ini
BASE=(--set data.path="$T/sp.h5" --set train.reduce=exact --set train.exact_chunks=8 --set log.progress=lines)
stopped_step() { sed -n 's/.*"event":"stopped","step":\([0-9]*\).*/\1/p' "$1" | tail -n 1; }

log "time limit: train.sbatch --nodes=2 --ntasks-per-node=1 --time=1 with far more training than fits (runs alongside)"
TL=("${BASE[@]}" --set train.epochs=100000 --set checkpoint.every_epoch=false --set checkpoint.every_seconds=5
    --set log.run_dir=runs/tl)
t0=$(date +%s)
tl=$(sbatch --parsable --nodes=2 --ntasks-per-node=1 --time=1 "$SRC/jobs/train.sbatch" "${TL[@]}") || fail "sbatch"

# 63 steps per epoch: 756 steps, several seconds of training left after the first checkpoint
EPOCHS=12 STEPS=756
ARGS=("${BASE[@]}" --set model.layers=2,128,128,2 --set train.epochs=$EPOCHS --set checkpoint.every_steps=25)
host_run_bg 1 runs/ref -c "$CONFIG" "${ARGS[@]}"   # reference: uninterrupted, 1 rank on this machine

for launcher in srun mpirun; do
  if [ $launcher = srun ]; then how=(--signal=USR1); else how=(--batch --signal=USR1); fi
  log "preemptible.sbatch with $launcher on 2 nodes x 2 ranks: scancel ${how[*]} after the first checkpoint"
  id=$(LAUNCHER=$launcher sbatch --parsable --nodes=2 --ntasks-per-node=2 --time=10 "$SRC/jobs/preemptible.sbatch" \
       "${ARGS[@]}" --set log.run_dir=runs/pre-%j) || fail "sbatch"
  run=runs/pre-$id out=nnmpi-preemptible-$id.out
  wait_for 120 "a first checkpoint in $run" has_ckpt "$run"
  [ "$(job_field "$id" JobState)" = RUNNING ] || fail "job $id is $(job_field "$id" JobState) after its first checkpoint: too short to interrupt"
  scancel "${how[@]}" "$id" || fail "scancel ${how[*]} $id"
  st=$(job_wait "$id" 300) || fail "preemptible job $id ($launcher) ended $st"
  host_wait; refck=$(newest_ckpt runs/ref); [ "$(ckpt_step "$refck")" = $STEPS ] || fail "reference: newest checkpoint $refck"
  [ $launcher = mpirun ] && { grep -q 'got SIGUSR1, forwarding' "$out" || fail "$out: the batch shell did not forward SIGUSR1"; }
  grep -q 'stopped with a checkpoint: requeueing' "$out" || fail "$out: no exit 75 / requeue"
  [ "$(grep -c '^nnmpi train: 4 rank(s)' "$out")" = 2 ] || fail "$out: expected two runs on 4 ranks"
  grep -q '^resumed from .*ckpt-.*saved on 4 rank(s)' "$out" || fail "$out: the requeued run did not resume from a checkpoint"
  grep -q 'nnmpi exited with 0' "$out" || fail "$out: the requeued run did not finish with 0"
  [ "$(job_field "$id" Restarts)" = 1 ] || fail "job $id: Restarts=$(job_field "$id" Restarts), expected 1"
  if [ $launcher = srun ]; then  # srun reports the exit code of every node's tasks
    for node in $NNMPI_CLUSTER_NODES; do
      grep -q "srun: error: $node: tasks* [0-9,-]*: Exited with exit code 75" "$out" || fail "$out: no exit 75 reported from $node: $(grep "^srun: error" "$out" | head -n 6)"
    done
  fi
  [ "$(grep -c '"event":"stopped"' "$run/metrics.jsonl")" = 1 ] || fail "$run/metrics.jsonl: expected one stopped event"
  stop=$(stopped_step "$run/metrics.jsonl")
  [ "$stop" -gt 0 ] && [ "$stop" -lt $STEPS ] || fail "stopped at step '$stop', expected mid-run"
  grep -q "\"event\":\"checkpoint\",\"path\":\"[^\"]*ckpt-0*$stop.h5\"" "$run/metrics.jsonl" || fail "$run: no checkpoint at the stop step $stop"
  evals_once "$run/metrics.jsonl" $EPOCHS
  ck=$(newest_ckpt "$run"); [ "$(ckpt_step "$ck")" = $STEPS ] || fail "$run: newest checkpoint $ck, expected step $STEPS"
  same_model "$refck" "$ck"
  log "$launcher: all 4 ranks stopped at step $stop, requeued, resumed; final /model identical to 1 rank"
done

log "time limit: waiting for job $tl"
st=$(job_wait "$tl" 150)
out=nnmpi-train-$tl.out
[ "$st" = FAILED ] && [ "$(job_field "$tl" ExitCode)" = 75:0 ] ||
  fail "job $tl: $st $(job_field "$tl" ExitCode), expected FAILED 75:0 (stopped before the limit)"
grep -q 'TIME LIMIT' "$out" && fail "$out: Slurm reached the time limit before nnmpi stopped"
check_layout "$out" 2 1 2
for node in $NNMPI_CLUSTER_NODES; do
  grep -q "srun: error: $node: tasks* [0-9,-]*: Exited with exit code 75" "$out" || fail "$out: no exit 75 reported from $node: $(grep "^srun: error" "$out" | head -n 6)"
done
stop=$(stopped_step runs/tl/metrics.jsonl)
[ -n "$stop" ] && [ "$(ckpt_step "$(newest_ckpt runs/tl)")" = "$stop" ] || fail "runs/tl: no checkpoint at the stop step '$stop'"
log "time limit: stopped at step $stop after $(( $(date -d "$(job_field "$tl" EndTime)" +%s) - $(date -d "$(job_field "$tl" StartTime)" +%s) )) s (limit 60 s); the next job resumes"
cp "$(newest_ckpt runs/tl)" tl-stop.h5   # the same checkpoint, resumed on 1 rank here
b=$(sbatch --parsable --nodes=2 --ntasks-per-node=1 --time=2 "$SRC/jobs/train.sbatch" "${TL[@]}" \
    --set train.max_steps=$((stop + 50))) || fail "sbatch"
host_run_bg 1 runs/tl-1 -c "$CONFIG" "${TL[@]}" --set train.max_steps=$((stop + 50)) --resume "$T/tl-stop.h5"
st=$(job_wait "$b" 150) || fail "job $b ended $st"
host_wait
grep -q "^resumed from .*ckpt-0*$stop.h5" "nnmpi-train-$b.out" || fail "job $b did not resume from step $stop"
grep -q "^done: .* step $((stop + 50))," "nnmpi-train-$b.out" || fail "job $b did not finish at step $((stop + 50))"
same_model "$(newest_ckpt runs/tl-1)" "$(newest_ckpt runs/tl)"
log "time limit: resumed on 2 nodes and finished at step $((stop + 50)); /model identical to resuming that checkpoint on 1 rank"
echo "multinode_preempt: all checks passed"
