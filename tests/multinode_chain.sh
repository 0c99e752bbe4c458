# multinode_chain: jobs/chain.sh 3 --nodes=1-2 on the private multi-node cluster; each link
# gets the nodes that are free when it starts (2 ranks per node): node 2 is drained for link 1,
# back for link 2 and drained again for link 3, so the links run on 1 node (2 ranks), 2 nodes
# (4 ranks) and 1 node (2 ranks). Links 1 and 2 are cut short with SIGUSR1 to their steps (as
# --signal=USR1@N sends). spirals, train.reduce = exact: every epoch is evaluated exactly once,
# each link reports its layout and resumes from the previous link's checkpoint, and the final
# /model is bit-identical to an uninterrupted 1-rank run.
. "$(dirname "$0")/cluster/lib.sh"
need_trainer
command -v h5diff >/dev/null || skip "h5diff (hdf5-tools) not installed"
cluster_up 2
"$NNMPI" data synth --kind spirals --n 4000 --out sp.h5 > /dev/null || fail "nnmpi data synth"
export CONFIG=$SRC/configs/spirals.ini
ARGS=(--set data.path="$T/sp.h5" --set train.reduce=exact --set train.exact_chunks=8 --set model.layers=2,384,384,2 --set train.epochs=10
      --set checkpoint.every_steps=20 --set log.progress=lines)   # 630 steps, long enough to cut on an idle machine
stopped_step() { sed -n 's/.*"event":"stopped","step":\([0-9]*\).*/\1/p' "$1" | tail -n 1; }
running() { [ "$(job_field "$1" JobState)" = RUNNING ]; }
drain() { scontrol update NodeName="$NODE2" State=DRAIN Reason=multinode_chain || fail "drain $NODE2"; }
undrain() { scontrol update NodeName="$NODE2" State=RESUME || fail "resume $NODE2"; }
# cut ID AFTER_STEP: once job ID runs with a checkpoint past AFTER_STEP, SIGUSR1 to its steps; the
# job must end FAILED with exit code 75 (stopped, resume me).
cut() {
  wait_for 120 "job $1 running with a checkpoint past step $2" eval "running $1 && ckpt_newer_than runs/chain $2"
  scancel --signal=USR1 "$1" || fail "scancel --signal=USR1 $1"
  local st; st=$(job_wait "$1" 120)
  [ "$st" = FAILED ] && [ "$(job_field "$1" ExitCode)" = 75:0 ] ||
    fail "job $1: $st $(job_field "$1" ExitCode), expected FAILED 75:0 (stopped, resume me)"
}

host_run_bg 1 runs/ref -c "$CONFIG" "${ARGS[@]}"   # reference: uninterrupted, 1 rank on this machine
log "chain.sh 3 --nodes=1-2, $NODE2 drained: link 1 on 1 node"
drain
ids=$("$SRC/jobs/chain.sh" 3 --nodes=1-2 --time=10 -- "${ARGS[@]}" --set log.run_dir=runs/chain) || fail "chain.sh"
set -- $ids; [ $# = 3 ] || fail "chain.sh printed '$ids', expected 3 job ids"
wait_for 60 "link 1 (job $1) running" running "$1"
undrain   # link 2 waits for link 1; it will find both nodes free
cut "$1" 0
s1=$(stopped_step runs/chain/metrics.jsonl)
log "link 1 stopped at step $s1; link 2 on 2 nodes"
wait_for 60 "link 2 (job $2) running" running "$2"
drain     # DRAINING while link 2 runs; link 3 will get node 1 only
cut "$2" "$s1"
s2=$(stopped_step runs/chain/metrics.jsonl)
log "link 2 stopped at step $s2; link 3 on 1 node"
st=$(job_wait "$3" 300) || fail "link 3 (job $3) ended $st"
undrain
[ "$s1" -lt "$s2" ] && [ "$s2" -lt 630 ] || fail "stop steps $s1, $s2: expected 0 < s1 < s2 < 630"
host_wait; refck=$(newest_ckpt runs/ref); [ "$(ckpt_step "$refck")" = 630 ] || fail "reference: newest checkpoint $refck"

L=($ids) N=(1 2 1)
for i in 0 1 2; do
  id=${L[$i]} out=nnmpi-train-${L[$i]}.out
  [ "$(job_nodes "$id")" = "${N[$i]}" ] || fail "link $((i + 1)) (job $id) ran on $(job_nodes "$id") node(s), expected ${N[$i]}"
  check_layout "$out" "${N[$i]}" 2 "${N[$i]}"
done
grep -q "^resumed from .*ckpt-0*$s1.h5: .*saved on 2 rank(s)" "nnmpi-train-$2.out" || fail "link 2 did not resume from step $s1 (2 ranks)"
grep -q "^resumed from .*ckpt-0*$s2.h5: .*saved on 4 rank(s)" "nnmpi-train-$3.out" || fail "link 3 did not resume from step $s2 (4 ranks)"
[ "$(grep -c '"event":"stopped"' runs/chain/metrics.jsonl)" = 2 ] || fail "runs/chain: expected 2 stopped events"
evals_once runs/chain/metrics.jsonl 10
ck=$(newest_ckpt runs/chain); [ "$(ckpt_step "$ck")" = 630 ] || fail "runs/chain: newest checkpoint $ck"
same_model "$refck" "$ck"
log "links on 1, 2, 1 node(s) stopped at steps $s1 and $s2; every epoch once; /model identical to 1 rank"
echo "multinode_chain: all checks passed"
