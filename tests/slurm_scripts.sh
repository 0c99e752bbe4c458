# slurm_scripts: the logic of the jobs/ scripts on the private cluster, with a stand-in trainer
# (a shell script that counts steps, stops with 75 on SIGUSR1/SIGTERM and resumes from its
# count), so it runs without nnmpi: preemptible.sbatch forwards the signal (srun and mpirun),
# requeues on 75 and finishes; other exit codes propagate; chain.sh runs K jobs one after the
# other; sweep.sbatch gives each array task its table line and run dir.
. "$(dirname "$0")/slurm/lib.sh"
slurm_up
J=$SRC/jobs

cat > fake-nnmpi <<'SH'
#!/bin/bash
# stand-in for `nnmpi train`: FAKE_STEPS steps of 0.2 s, progress kept in <run_dir>/steps.<rank>
[ "$1" = train ] || exit 1; shift
run=run args="$*"
while [ $# -gt 0 ]; do case $1 in --set) case $2 in log.run_dir=*) run=${2#*=};; esac; shift 2;; *) shift;; esac; done
rank=${OMPI_COMM_WORLD_RANK:-${SLURM_PROCID:-0}}   # mpirun in a batch job: SLURM_PROCID=0 for all
mkdir -p "$run"; [ "$rank" = 0 ] && echo "$args" >> "$run/args"
n=$(cat "$run/steps.$rank" 2>/dev/null || echo 0)
stop=; trap 'stop=USR1' USR1; trap 'stop=TERM' TERM
echo "rank $rank start at step $n end_time=${SLURM_JOB_END_TIME:-none}"
while [ "$n" -lt "${FAKE_STEPS:-20}" ]; do
  [ -n "$stop" ] && { echo "rank $rank stopped by $stop at step $n"; exit 75; }
  sleep 0.2 & wait $!; n=$((n + 1)); echo $n > "$run/steps.$rank"   # wait: traps run at once
done
echo "rank $rank done at step $n"; exit "${FAKE_RC:-0}"
SH
chmod +x fake-nnmpi
export NNMPI=$T/fake-nnmpi CONFIG=none
steps_at_least() { [ "$(cat "$1" 2>/dev/null || echo 0)" -ge "$2" ]; }

for launcher in srun mpirun; do
  log "preemptible.sbatch with $launcher: USR1 to the batch shell -> 75 -> requeue -> done"
  rm -rf run
  id=$(LAUNCHER=$launcher FAKE_STEPS=30 sbatch --parsable -n 2 --time=5 -o p-%j.out "$J/preemptible.sbatch") || fail "sbatch"
  wait_for 60 "first steps of job $id" steps_at_least run/steps.0 3
  scancel --batch --signal=USR1 "$id" || fail "scancel --batch --signal=USR1 $id"
  st=$(job_wait "$id" 120) || fail "preemptible job $id ($launcher) ended $st"
  f=p-$id.out
  grep -q 'got SIGUSR1, forwarding' "$f" || fail "$f: the batch shell did not get/forward SIGUSR1"
  # (mpirun may kill the other rank once the first exits 75, before it prints: any rank will do)
  grep -qE 'rank [0-9]+ stopped by USR1' "$f" || fail "$f: no rank stopped by USR1"
  grep -q 'stopped with a checkpoint: requeueing' "$f" || fail "$f: no requeue on exit 75"
  grep -q 'start (run 1 of this job)' "$f" || fail "$f: the requeued run did not start"
  [ "$(grep -c 'done at step 30' "$f")" = 2 ] || fail "$f: expected both ranks done at step 30 after the requeue"
  grep -q 'nnmpi exited with 0' "$f" || fail "$f: final exit code not 0"
  [ "$(job_field "$id" Restarts)" = 1 ] || fail "job $id: Restarts=$(job_field "$id" Restarts), expected 1"
  # the end time the script derived for nnmpi: about now + 5 minutes
  e=$(grep -o 'end_time=[0-9]*' "$f" | tail -n 1); e=${e#end_time=}
  [ -n "$e" ] && [ $((e - $(date +%s))) -gt 200 ] && [ $((e - $(date +%s))) -le 300 ] ||
    fail "$f: SLURM_JOB_END_TIME not set to the job's end ($e)"
done

log "preemptible.sbatch propagates other exit codes without requeue"
rm -rf run
id=$(FAKE_STEPS=2 FAKE_RC=3 sbatch --parsable -n 1 -o q-%j.out "$J/preemptible.sbatch") || fail "sbatch"
st=$(job_wait "$id" 60) && fail "job $id exiting 3 reported COMPLETED"
[ "$st" = FAILED ] && [ "$(job_field "$id" ExitCode)" = 3:0 ] || fail "job $id: $st $(job_field "$id" ExitCode), expected FAILED 3:0"
[ "$(job_field "$id" Restarts)" = 0 ] || fail "job $id was requeued on exit 3"
grep -q 'nnmpi exited with 3' "q-$id.out" || fail "q-$id.out: exit 3 not reported"

log "train.sbatch + chain.sh: 3 chained jobs, the first stopped by USR1 (to the steps)"
rm -rf run
ids=$(FAKE_STEPS=15 "$J/chain.sh" 3 -n 2 -o c-%j.out) || fail "chain.sh"
set -- $ids; [ $# = 3 ] || fail "chain.sh printed '$ids', expected 3 job ids"
[ "$(job_field "$2" Dependency)" = "afterany:$1(unfulfilled)" ] || fail "job $2: Dependency=$(job_field "$2" Dependency)"
wait_for 60 "first steps of job $1" steps_at_least run/steps.0 3
scancel --signal=USR1 "$1"
st=$(job_wait "$3" 120) || fail "last chained job $3 ended $st"
st=$(job_wait "$1" 5); [ "$st" = FAILED ] && [ "$(job_field "$1" ExitCode)" = 75:0 ] ||
  fail "job $1: $st $(job_field "$1" ExitCode), expected FAILED 75:0 (stopped, resume me)"
grep -q 'nnmpi exited with 75' "c-$1.out" || fail "c-$1.out: 75 not reported"
grep -q 'rank 0 start at step [1-9]' "c-$2.out" && grep -q 'rank 0 done at step 15' "c-$2.out" ||
  fail "c-$2.out: job 2 did not resume and finish"
grep -q 'rank 0 start at step 15' "c-$3.out" && grep -q 'nnmpi exited with 0' "c-$3.out" ||
  fail "c-$3.out: job 3 should find training complete and exit 0"
s2=$(date -d "$(job_field "$2" StartTime)" +%s); e1=$(date -d "$(job_field "$1" EndTime)" +%s)
[ "$s2" -ge "$e1" ] || fail "job $2 started before job $1 ended"

log "sweep.sbatch: each array task gets its line and run dir"
printf '# test table\noptim.lr=0.5\n\noptim.lr=0.25 train.epochs=7\n' > table.txt
id=$(SWEEP=table.txt RUNS=sw FAKE_STEPS=2 sbatch --parsable --array=1-2 -o s-%A_%a.out "$J/sweep.sbatch" --set x.y=1) || fail "sbatch"
st=$(job_wait "$id" 120) || fail "sweep $id ended $st"
[ "$(cat "sw/sweep-$id/1/args")" = "-c none --set log.run_dir=sw/sweep-$id/1 --set optim.lr=0.5 --set x.y=1" ] ||
  fail "task 1 args: $(cat "sw/sweep-$id/1/args" 2>&1)"
[ "$(cat "sw/sweep-$id/2/args")" = "-c none --set log.run_dir=sw/sweep-$id/2 --set optim.lr=0.25 --set train.epochs=7 --set x.y=1" ] ||
  fail "task 2 args: $(cat "sw/sweep-$id/2/args" 2>&1)"
id=$(SWEEP=table.txt sbatch --parsable --array=3 -o s-%A_%a.out "$J/sweep.sbatch") || fail "sbatch"
st=$(job_wait "$id" 60) && fail "sweep task 3 of a 2-line table reported COMPLETED"
grep -q 'has no line 3' "s-${id}_3.out" || fail "s-${id}_3.out: missing 'has no line 3'"
echo "slurm_scripts: all checks passed"
