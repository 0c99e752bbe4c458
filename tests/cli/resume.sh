#!/bin/bash
# Checkpoint/resume end to end: bit-exact resume (mid-epoch and at an epoch boundary, 1 and 2
# ranks), resume on another rank count, stop signals, and the --resume error paths.
source "$(dirname "$0")/lib.sh"

# adam (state m, v, t) + warmup + cosine: everything that resume must restore exactly
cfg=(-c "$SRC/configs/spirals.ini" --set train.exact_chunks=8 --set train.epochs=4 --set optim.schedule=cosine --set optim.warmup_steps=20
     --set optim.min_lr=1e-4 --set checkpoint.every_steps=25)
evals() { grep '"event":"eval"' "$1/metrics.jsonl" | sed -E 's/^\{"time":[0-9.]+,//'; }

for np in 1 2; do
  expect_rc 0 "np=$np uninterrupted" mpi $np train "${cfg[@]}" --set log.run_dir=full$np
  # 63 steps per epoch: stop mid-epoch (37), at an epoch boundary (126), then run to the end
  expect_rc 75 "np=$np stop at step 37 (mid-epoch)" mpi $np train "${cfg[@]}" --set log.run_dir=cut$np --stop-after-steps 37
  expect_out "stopped on request" "exit 75 is explained"
  expect_rc 75 "np=$np resume, stop at step 126 (epoch boundary)" mpi $np train "${cfg[@]}" --set log.run_dir=cut$np --stop-after-steps 126
  expect_out "resumed from" "second segment resumed"
  expect_rc 0 "np=$np resume to the end" mpi $np train "${cfg[@]}" --set log.run_dir=cut$np
  if same_weights "$(newest_ckpt full$np)" "$(newest_ckpt cut$np)"; then pass "np=$np: stopped twice = uninterrupted, bit for bit"
  else fail "np=$np: resumed weights differ from the uninterrupted run"; fi
  if [ "$(evals full$np)" = "$(evals cut$np)" ]; then pass "np=$np: identical eval metrics"
  else fail "np=$np: eval metrics differ"; diff <(evals full$np) <(evals cut$np) | head; fi
done

# resume on a different rank count: 2 -> 1 and 1 -> 3 continue and converge
expect_rc 75 "np=2 stop at 100" mpi 2 train "${cfg[@]}" --set log.run_dir=r21 --stop-after-steps 100
expect_rc 0 "resume on 1 rank" mpi 1 train "${cfg[@]}" --set log.run_dir=r21
expect_out "saved on 2 rank(s)" "resume reports the saving rank count"
# converges as far as the uninterrupted run (4 short epochs: about 65 %)
ref=$(last_eval full1 accuracy)
acc=$(last_eval r21 accuracy)
awk -v a="$acc" -v r="$ref" 'BEGIN{exit !(a >= r - 0.02)}' && pass "2->1 reaches $acc (uninterrupted: $ref)" || fail "2->1 accuracy $acc vs $ref"
if same_weights "$(newest_ckpt full1)" "$(newest_ckpt r21)" 1e-3; then pass "2->1 matches the 1-rank run within 1e-3"; else fail "2->1 drifted"; fi
expect_rc 75 "np=1 stop at 60" mpi 1 train "${cfg[@]}" --set log.run_dir=r13 --stop-after-steps 60
expect_rc 0 "resume on 3 ranks" mpi 3 train "${cfg[@]}" --set log.run_dir=r13
acc=$(last_eval r13 accuracy)
awk -v a="$acc" -v r="$ref" 'BEGIN{exit !(a >= r - 0.02)}' && pass "1->3 reaches $acc (uninterrupted: $ref)" || fail "1->3 accuracy $acc vs $ref"

# reduce = exact: stopped on 2 ranks, resumed on 3, bit-identical to 1 rank uninterrupted
expect_rc 0 "exact, 1 rank uninterrupted" mpi 1 train "${cfg[@]}" --set train.reduce=exact --set log.run_dir=ex1
expect_rc 75 "exact, 2 ranks, stop at 37" mpi 2 train "${cfg[@]}" --set train.reduce=exact --set log.run_dir=ex23 --stop-after-steps 37
expect_rc 0 "exact, resume on 3 ranks" mpi 3 train "${cfg[@]}" --set train.reduce=exact --set log.run_dir=ex23
if same_weights "$(newest_ckpt ex1)" "$(newest_ckpt ex23)"; then pass "exact: 2 ranks then 3 ranks = 1 rank, bit for bit"
else fail "exact: rank-count change is not bit-exact"; fi
# the same across sharded and replicated optimiser state (the checkpoint holds the whole state
# either way): 2 ranks sharded in node memory, then 3 replicated, then 3 sharded through MPI
ex=("${cfg[@]}" --set train.reduce=exact --set log.run_dir=ex23s)
expect_rc 75 "exact, 2 ranks sharded, stop at 37" mpi 2 train "${ex[@]}" --set train.shard_optimizer=true --stop-after-steps 37
expect_out "optimizer state sharded over the ranks, reduced and updated in node-shared memory" "the layout line says sharded in node memory"
expect_rc 75 "exact, 3 ranks replicated, stop at 80" mpi 3 train "${ex[@]}" --set train.shard_optimizer=false --stop-after-steps 80
expect_out "optimizer state replicated on every rank" "the layout line says replicated"
expect_rc 0 "exact, 3 ranks sharded through MPI, to the end" mpi 3 train "${ex[@]}" --set train.shard_optimizer=true \
  --set train.node_memory=false
expect_out "optimizer state sharded over the ranks, reduced by MPI" "the layout line says sharded through MPI"
if same_state "$(newest_ckpt ex1)" "$(newest_ckpt ex23s)"; then
  pass "exact: sharded 2, replicated 3, sharded 3 = 1 rank, weights and optimiser state bit for bit"
else fail "exact: resume across sharded and replicated state is not bit-exact"; fi

# training already complete: exit 0 at once, no new steps
expect_rc 0 "resume of a finished run" mpi 2 train "${cfg[@]}" --set log.run_dir=full2
expect_out "already complete" "says so"

# SIGUSR1 through mpirun and SIGTERM to a singleton: checkpoint, exit 75, exact resume
# long enough (seconds) that the signal always lands mid-run, even on a loaded machine
big=(-c "$SRC/configs/spirals.ini" --set data.synth_samples=100000 --set train.epochs=4)
expect_rc 0 "long reference run, 1 rank" mpi 1 train "${big[@]}" --set log.run_dir=sigrefTERM
expect_rc 0 "long reference run, 2 ranks" mpi 2 train "${big[@]}" --set log.run_dir=sigrefUSR1
for sig in USR1 TERM; do
  # mpirun forwards SIGUSR1 to its ranks (exec'd here so $! is mpirun itself)
  if [ $sig = USR1 ]; then "$MPIEXEC" -n 2 "$NNMPI" train "${big[@]}" --set log.run_dir=sig$sig >sig.out 2>&1 & pid=$!
  else "$NNMPI" train "${big[@]}" --set log.run_dir=sig$sig >sig.out 2>&1 & pid=$!; fi
  for _ in $(seq 200); do grep -q '"event":"start"' sig$sig/metrics.jsonl 2>/dev/null && break; sleep 0.05; done
  kill -$sig $pid; kill -$sig $pid 2>/dev/null || true   # a second signal must not hurt
  rc=0; wait $pid || rc=$?
  [ $rc -eq 75 ] && pass "SIG$sig: exit 75" || { fail "SIG$sig: exit $rc"; tail sig.out; }
  np=1; [ $sig = USR1 ] && np=2
  expect_rc 0 "SIG$sig: resume" mpi $np train "${big[@]}" --set log.run_dir=sig$sig
  if same_weights "$(newest_ckpt sigref$sig)" "$(newest_ckpt sig$sig)"; then pass "SIG$sig: resumed = uninterrupted, bit for bit"
  else fail "SIG$sig: weights differ"; fi
done
# the same through the node path (train.node_memory = true): the stop request rides in the
# scalars of node-shared memory, so both ranks stop on the same step, and the checkpoint holds
# the slices of the optimiser state of both ranks
nm=("${big[@]}" --set train.node_memory=true)
expect_rc 0 "long reference run, 2 ranks, node path" mpi 2 train "${nm[@]}" --set log.run_dir=sigrefnode
"$MPIEXEC" -n 2 "$NNMPI" train "${nm[@]}" --set log.run_dir=signode >sig.out 2>&1 & pid=$!
for _ in $(seq 200); do grep -q '"event":"start"' signode/metrics.jsonl 2>/dev/null && break; sleep 0.05; done
kill -USR1 $pid
rc=0; wait $pid || rc=$?
[ $rc -eq 75 ] && pass "node path, SIGUSR1: exit 75" || { fail "node path, SIGUSR1: exit $rc"; tail sig.out; }
grep -q "reduced and updated in node-shared memory" sig.out && pass "the run took the node path" || fail "no node path"
expect_rc 0 "node path, SIGUSR1: resume" mpi 2 train "${nm[@]}" --set log.run_dir=signode
if same_state "$(newest_ckpt sigrefnode)" "$(newest_ckpt signode)"; then
  pass "node path, SIGUSR1: resumed = uninterrupted, weights and optimiser state bit for bit"
else fail "node path, SIGUSR1: weights or optimiser state differ"; fi

# --resume paths that must fail clearly
expect_rc 4 "--resume never with checkpoints present" mpi 1 train "${cfg[@]}" --set log.run_dir=full1 --resume never
expect_out "already holds checkpoints" "refusal explained"
expect_rc 0 "--resume never --force starts fresh" mpi 1 train "${cfg[@]}" --set log.run_dir=cut1 --resume never --force --set train.epochs=1
expect_rc 4 "--resume PATH that does not exist" mpi 1 train "${cfg[@]}" --set log.run_dir=x --resume nope/ckpt-1.h5
expect_out "nope/ckpt-1.h5" "path named"
expect_rc 4 "checkpoint of another architecture" mpi 1 train "${cfg[@]}" --set log.run_dir=full1 --set model.layers=2,32,2
expect_out "model.layers" "differing key listed"

finish
