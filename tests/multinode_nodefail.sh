# multinode_nodefail: a node dies in the middle of training. On the private multi-node cluster
# (2 nodes, 4 CPUs each, SlurmdTimeout=5, KillWait=10), two jobs/preemptible.sbatch jobs train spirals on
# 2 nodes x 2 ranks at the same time, one launched by srun, one by mpirun, with
# train.reduce = exact and train.watchdog_seconds = 10. Once both have checkpoints, node 2 loses
# power (tests/cluster/node DIR 2 crash: its link goes down, then every process on it is killed:
# slurmd, slurmstepd, ranks, orted), so nobody learns of it from a closed connection.
# - the surviving ranks stop within the watchdog time (no hang): nothing else tells them;
# - nnmpi prints ONE message naming the lost rank(s) and their host;
# - every checkpoint under a final name verifies (no corrupt checkpoint);
# - Slurm declares the node dead and requeues both jobs (Restarts=1). A requeued job keeps its
#   size (4 tasks), so it waits for 2 nodes; as a user would, the test shrinks the pending
#   jobs to the remaining node (scontrol update NumNodes=1 NumCPUs=2 NumTasks=2);
# - each resumes from its newest valid checkpoint on 2 ranks and finishes with /model
#   bit-identical to an uninterrupted 1-rank run.
# Checks that need a change of nnmpi are soft (reported at the end, the rest still runs): today
# the survivors print "a collective did not complete" (each of them), naming no rank or host,
# and a peer lost during a checkpoint or an evaluation (blocking collectives without watchdog)
# leaves them waiting until Slurm ends the job.
# (With `tests/cluster/node DIR 2 kill` instead, the node's kernel resets the connections: srun
# or Open MPI then often end the ranks themselves at once, before any watchdog.)
. "$(dirname "$0")/cluster/lib.sh"
need_trainer
command -v h5diff >/dev/null || skip "h5diff (hdf5-tools) not installed"
cluster_up 2 NNMPI_CLUSTER_CPUS=4 NNMPI_CLUSTER_SLURMD_TIMEOUT=5 NNMPI_CLUSTER_KILL_WAIT=10
"$NNMPI" data synth --kind spirals --n 4000 --out sp.h5 > /dev/null || fail "nnmpi data synth"
export CONFIG=$SRC/configs/spirals.ini
WD=10
# 63 steps per epoch; long enough that the jobs still train when node 2 dies (with 6 epochs, 378
# steps, a fast run had finished 3.4 s after start, before the crash)
EPOCHS=18 STEPS=1134
ARGS=(--set data.path="$T/sp.h5" --set train.reduce=exact --set train.exact_chunks=8 --set model.layers=2,128,128,2 --set train.epochs=$EPOCHS
      --set checkpoint.every_steps=20 --set train.watchdog_seconds=$WD --set log.progress=lines)

log "preemptible.sbatch on 2 nodes x 2 ranks, with srun and with mpirun"
declare -A ID
for l in srun mpirun; do
  ID[$l]=$(LAUNCHER=$l sbatch --parsable --nodes=2 --ntasks-per-node=2 --time=10 "$SRC/jobs/preemptible.sbatch" \
           "${ARGS[@]}" --set log.run_dir=runs/$l) || fail "sbatch"
done
host_run_bg 1 runs/ref -c "$CONFIG" "${ARGS[@]}"   # reference: uninterrupted, 1 rank on this machine
for l in srun mpirun; do
  wait_for 120 "job ${ID[$l]} ($l) past its first checkpoint" ckpt_newer_than runs/$l 19
done
for l in srun mpirun; do
  [ "$(job_field "${ID[$l]}" JobState)" = RUNNING ] || fail "job ${ID[$l]} ($l) is $(job_field "${ID[$l]}" JobState): too short to interrupt"
done
# the ranks of each job on node 1 (their command line names the job's run dir)
declare -A SURV STOPPED
for l in srun mpirun; do
  SURV[$l]=$(for p in $(fx_ns_pids "$NODE1"); do
    read -r c 2>/dev/null < "/proc/$p/comm" && [ "$c" = nnmpi ] && tr '\0' ' ' < "/proc/$p/cmdline" | grep -q "runs/$l " && echo "$p"
  done)
  [ "$(echo ${SURV[$l]} | wc -w)" = 2 ] || fail "expected 2 ranks of job ${ID[$l]} ($l) on $NODE1, found: ${SURV[$l]}"
done

log "$NODE2 loses power (link down, every process killed)"
t0=$(date +%s)
"$CL/node" "$T/cluster" "$NODE2" crash || fail "tests/cluster/node crash $NODE2"
alive() { local p; for p in $1; do [ -d "/proc/$p" ] && return 0; done; return 1; }
n=$(( (WD + 90) * 5 ))
while [ $n -gt 0 ]; do
  for l in srun mpirun; do [ -z "${STOPPED[$l]:-}" ] && ! alive "${SURV[$l]}" && STOPPED[$l]=$(( $(date +%s) - t0 )); done
  [ -n "${STOPPED[srun]:-}" ] && [ -n "${STOPPED[mpirun]:-}" ] && break
  sleep 0.2; n=$((n - 1))
done
for l in srun mpirun; do
  [ -n "${STOPPED[$l]:-}" ] || fail "the ranks of job ${ID[$l]} ($l) on $NODE1 still run $((WD + 90)) s after $NODE2 died"
  log "$l: the ranks on $NODE1 stopped ${STOPPED[$l]} s after $NODE2 died (watchdog $WD s)"
done
# Nothing tells the survivors that the node is gone (no connection is closed): nnmpi's watchdog
# must end them within train.watchdog_seconds (else only Slurm's node-failure kill ends them).
for l in srun mpirun; do
  if [ "${STOPPED[$l]}" -gt $((WD + 15)) ]; then
    last=$(grep -E '^(epoch|eval|checkpoint) ' "nnmpi-preemptible-${ID[$l]}.out" | tail -n 1)
    soft_fail "$l: the ranks on $NODE1 stopped ${STOPPED[$l]} s after $NODE2 died, not within the watchdog ($WD s): they waited in a collective without watchdog (last progress line: $last)"
  fi
done

log "Slurm declares $NODE2 dead and requeues both jobs"
requeued() { [ "$(job_field "$1" Restarts)" = 1 ] && [ "$(job_field "$1" JobState)" = PENDING ]; }
for l in srun mpirun; do wait_for 120 "job ${ID[$l]} ($l) requeued" requeued "${ID[$l]}"; done
t2=$(date +%s)
log "both jobs requeued $((t2 - t0)) s after $NODE2 died; $NODE2 is $(sinfo -h -n "$NODE2" -o %t)"
for l in srun mpirun; do
  for f in runs/$l/checkpoints/ckpt-*.h5; do
    "$NNMPI" inspect "$f" > inspect.txt 2>&1 || fail "$f does not verify after the node failure: $(tail -n 3 inspect.txt)"
  done
  eval "newest_$l=$(ckpt_step "$(newest_ckpt runs/$l)")"
done
log "every checkpoint verifies; newest: srun step $newest_srun, mpirun step $newest_mpirun"

host_wait; refck=$(newest_ckpt runs/ref); [ "$(ckpt_step "$refck")" = $STEPS ] || fail "reference: newest checkpoint $refck"
log "shrinking the requeued jobs to the remaining node"
for l in srun mpirun; do
  scontrol update JobId="${ID[$l]}" NumNodes=1 NumCPUs=2 NumTasks=2 || fail "scontrol update JobId=${ID[$l]} NumNodes=1 NumCPUs=2 NumTasks=2"
done
for l in srun mpirun; do
  id=${ID[$l]} out=nnmpi-preemptible-${ID[$l]}.out newest=newest_$l
  st=$(job_wait "$id" 300) || fail "job $id ($l) ended $st after the requeue"
  [ "$(job_nodes "$id")" = 1 ] || fail "job $id ($l) resumed on $(job_nodes "$id") node(s), expected 1"
  grep -q '^nnmpi train: 2 rank(s)' "$out" || fail "$out: the requeued run is not on 2 ranks"
  grep -q "^resumed from .*ckpt-0*${!newest}.h5: .*saved on 4 rank(s)" "$out" ||
    fail "$out: did not resume from the newest checkpoint (step ${!newest}, saved on 4 ranks): $(grep '^resumed' "$out")"
  grep -q 'nnmpi exited with 0' "$out" || fail "$out: the requeued run did not finish with 0"
  evals_once "runs/$l/metrics.jsonl" $EPOCHS
  ck=$(newest_ckpt runs/$l); [ "$(ckpt_step "$ck")" = $STEPS ] || fail "runs/$l: newest checkpoint $ck, expected step $STEPS"
  same_model "$refck" "$ck"
  log "$l: resumed from step ${!newest} on 2 ranks of $NODE1, finished; /model identical to 1 rank"
done

log "the messages of the first runs (before the requeue)"
for l in srun mpirun; do
  out=nnmpi-preemptible-${ID[$l]}.out
  first=$(sed -n '1,/start (run 1 of this job)/p' "$out")
  msgs=$(echo "$first" | grep -E '^nnmpi train: ' | grep -v 'rank(s), config' || true)
  echo "$l: nnmpi's messages: ${msgs:-(none)}"
  echo "$first" | grep -E 'ORTE has lost|Remote daemon|Peer host|unexpectedly disconnected|Node failure' | sed "s/^/$l:   | /"
  [ "$(echo "$msgs" | grep -c .)" = 1 ] || soft_fail "$l: expected one nnmpi message about the failure, got $(echo "$msgs" | grep -c .)"
  echo "$msgs" | grep -qE "rank(s|\(s\))? ([0-9]+(-| and |, ?))*[23]\b" && echo "$msgs" | grep -q "$NODE2" ||
    soft_fail "$l: no nnmpi message names a lost rank (2 or 3) and its host $NODE2"
done
[ ${#SOFT_FAILS[@]} = 0 ] || echo "(these checks wait on nnmpi: one message naming the lost ranks and their host, and a watchdog on every collective; docs/multinode.md)"
soft_finish
echo "multinode_nodefail: all checks passed"
