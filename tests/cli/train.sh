#!/bin/bash
# End-to-end training: convergence, np-invariance, replica agreement, the error paths a user
# hits first (bad batch size, non-finite loss, a rank that cannot read its data).
source "$(dirname "$0")/lib.sh"

# 1. the built-in default works with no config at all
expect_rc 0 "nnmpi train with no config" mpi 1 train --set train.epochs=2 --set log.run_dir=default
expect_out "eval epoch 2:" "default run evaluates"

# 2. convergence: spirals >= 97 % on 2 ranks
expect_rc 0 "spirals on 2 ranks" mpi 2 train -c "$SRC/configs/spirals.ini" --set log.run_dir=spirals
acc=$(last_eval spirals accuracy)
if awk -v a="$acc" 'BEGIN{exit !(a >= 0.97)}'; then pass "spirals accuracy $acc >= 0.97"; else fail "spirals accuracy $acc < 0.97"; fi

# the curves (src/curves.c marks each with its class; tests/cli/report.sh renders them)
curves=$(grep -o "<polyline[^>]*class='[a-z-]*'" spirals/learning-curves.svg | sed -E "s/.*class='//; s/'$//" | sort -u | tr '\n' ' ')
[ "$curves" = "eval-acc eval-loss speed train-acc train-loss " ] && pass "learning-curves.svg has its 5 curves" ||
  fail "learning-curves.svg has the curves '$curves'"
grep -q '"event":"summary"' spirals/metrics.jsonl && pass "metrics.jsonl has the summary" || fail "no summary event"

# 3. regression teacher: low test MSE
expect_rc 0 "teacher regression on 2 ranks" mpi 2 train -c "$SRC/configs/regression.ini" --set log.run_dir=reg
mse=$(last_eval reg mse)
if awk -v a="$mse" 'BEGIN{exit !(a < 0.01)}'; then pass "regression mse $mse < 0.01"; else fail "regression mse $mse >= 0.01"; fi

# 4. np-invariance: the same 120 steps on 1, 2 and 3 ranks. Only the order of float additions
# differs (per-rank partial sums, then the allreduce), so weights agree to a relative 1e-4
# (measured differences are ~1e-6); the same rank count reproduces bit for bit.
for np in 1 2 3 1; do
  dir=inv$np; [ -d $dir ] && dir=inv${np}b
  expect_rc 0 "120 steps on $np rank(s)" mpi $np train -c "$SRC/configs/spirals.ini" --set train.max_steps=120 \
    --set optim.name=momentum --set optim.lr=0.05 --set log.run_dir=$dir
done
if same_weights "$(newest_ckpt inv1)" "$(newest_ckpt inv1b)"; then pass "np=1 twice: bit-identical"; else fail "np=1 twice differ"; fi
for np in 2 3; do
  if same_weights "$(newest_ckpt inv1)" "$(newest_ckpt inv$np)" 1e-4; then pass "np=$np matches np=1 within 1e-4"
  else fail "np=$np differs from np=1 by more than 1e-4"; h5diff -p 1e-4 "$(newest_ckpt inv1)" "$(newest_ckpt inv$np)" /model /model | head; fi
done

# 4b. reduce = exact: bit-identical weights and optimiser state on 1, 2, 3 and 4 ranks
for np in 1 2 3 4; do
  expect_rc 0 "exact reduction on $np rank(s)" mpi $np train -c "$SRC/configs/spirals.ini" --set train.max_steps=100 \
    --set train.reduce=exact --set train.exact_chunks=8 --set log.run_dir=exact$np
done
for np in 2 3 4; do
  expect_same_state "$(newest_ckpt exact1)" "$(newest_ckpt exact$np)" "exact: np=$np vs np=1"
done
expect_rc 2 "exact with more ranks than chunks" mpi 3 train --set train.reduce=exact --set train.exact_chunks=2 --set log.run_dir=x
expect_out "set train.exact_chunks to at least 3" "tells what to change"
expect_rc 2 "exact, auto chunks (batch 64 / 32 = 2) on 3 ranks" mpi 3 train --set train.reduce=exact --set log.run_dir=x
expect_out "2 chunks per batch (train.exact_chunks = 0: auto" "names the automatic chunk count"
expect_rc 2 "exact with shard sampling" mpi 1 train --set train.reduce=exact --set data.sampling=shard --set log.run_dir=x
expect_out "requires data.sampling = global" "names the conflict"

# 4d. sharded optimizer (train.shard_optimizer): each rank updates its slice of the parameters,
# on one node through node-shared memory (train.node_memory), else after an MPI reduce-scatter
# and before an allgather (ring). The arithmetic per value is the same on every path, so exact
# mode stays bit-identical to one rank (weights and the whole optimiser state in the
# checkpoint), also with clipping by the global norm, and on 2 ranks (where a sum of two is the
# same either way) fast mode gives the same bits on all three paths.
declare -A path=([node]="--set train.shard_optimizer=true --set train.node_memory=true"
  [ring]="--set train.shard_optimizer=true --set train.node_memory=false"
  [repl]="--set train.shard_optimizer=false")
for p in node ring repl; do
  expect_rc 0 "exact + clipping, 3 ranks, $p" mpi 3 train -c "$SRC/configs/spirals.ini" \
    --set train.max_steps=60 --set train.reduce=exact --set train.exact_chunks=8 --set optim.clip_norm=0.5 ${path[$p]} \
    --set log.run_dir=clip3-$p
done
expect_rc 0 "exact + clipping, 1 rank" mpi 1 train -c "$SRC/configs/spirals.ini" --set train.max_steps=60 \
  --set train.reduce=exact --set train.exact_chunks=8 --set optim.clip_norm=0.5 --set log.run_dir=clip1
for p in node ring repl; do
  expect_same_state "$(newest_ckpt clip1)" "$(newest_ckpt clip3-$p)" "exact + clipping: 3 ranks ($p) vs 1 rank"
done
for p in node ring repl; do
  expect_rc 0 "fast, momentum, 2 ranks, $p" mpi 2 train -c "$SRC/configs/spirals.ini" \
    --set train.max_steps=60 --set optim.name=momentum --set optim.lr=0.05 ${path[$p]} --set log.run_dir=fast2-$p
  [ $p = ring ] && expect_out "sharded over the ranks, reduced by MPI" "the layout line names the MPI path"
done
expect_same_state "$(newest_ckpt fast2-node)" "$(newest_ckpt fast2-repl)" "fast, 2 ranks: node memory vs replicated"
expect_same_state "$(newest_ckpt fast2-ring)" "$(newest_ckpt fast2-repl)" "fast, 2 ranks: ring vs replicated"
# a gradient above dist.c's 8 MiB pieces (2.25 M parameters: 9 MB as floats, 18 MB as exact's
# int64): the allreduce in pieces, the ring reduce-scatter (uneven slices on 3 ranks) and the
# node path's chunked adds give the same bits as one rank (exact) and as each other (fast, 2
# ranks); rings whose blocks span several pieces are tested in tests/test_dist.c
big=(-c "$SRC/configs/spirals.ini" --set model.layers=2,1500,1500,2 --set train.max_steps=4 --set optim.lr=0.001 --set train.exact_chunks=8)
expect_rc 0 "2.25 M parameters, exact, 1 rank" mpi 1 train "${big[@]}" --set train.reduce=exact --set log.run_dir=big1
for p in node ring; do
  expect_rc 0 "2.25 M parameters, exact, 3 ranks, $p" mpi 3 train "${big[@]}" --set train.reduce=exact \
    ${path[$p]} --set log.run_dir=big3-$p
done
expect_rc 0 "2.25 M parameters, exact, 2 ranks replicated" mpi 2 train "${big[@]}" --set train.reduce=exact \
  ${path[repl]} --set log.run_dir=big2
for d in big3-node big3-ring big2; do
  expect_same_state "$(newest_ckpt big1)" "$(newest_ckpt $d)" "2.25 M parameters, exact: $d vs 1 rank"
done
for p in node ring repl; do
  expect_rc 0 "2.25 M parameters, fast, 2 ranks, $p" mpi 2 train "${big[@]}" ${path[$p]} --set log.run_dir=bigf-$p
done
for p in node ring; do
  if h5diff -q "$(newest_ckpt bigf-$p)" "$(newest_ckpt bigf-repl)" /model /model; then
    pass "2.25 M parameters, fast, 2 ranks: $p bit-identical to replicated (pieces)"
  else fail "2.25 M parameters, fast, 2 ranks: $p differs from replicated"; fi
done
# node_memory = auto takes the node path on one node from 2 MiB of parameters (or when the
# optimiser is explicitly sharded), and shard_optimizer = auto then shards; below that, and
# across (pretend) nodes, the MPI rules: fast mode shards only a large optimiser state (256
# MiB), exact mode on 2 or more ranks, never on one
expect_rc 0 "auto, default model (0.94 MB), 2 ranks" mpi 2 train --set train.max_steps=3 --set log.run_dir=auto2
expect_out "optimizer state replicated on every rank" "auto keeps a small model replicated through MPI"
grep -q '"node_memory":false' auto2/metrics.jsonl && pass "the start event says node_memory false" || fail "start event: node_memory"
expect_rc 0 "auto, 2.25 M parameters (9 MB), 2 ranks" mpi 2 train "${big[@]}" --set log.run_dir=auto2b
expect_out "optimizer state sharded over the ranks, reduced and updated in node-shared memory" \
  "auto takes the node path from 2 MiB of parameters"
grep -q '"node_memory":true' auto2b/metrics.jsonl && pass "the start event says node_memory true" || fail "start event: node_memory"
expect_rc 0 "auto, 2.25 M parameters, 2 ranks on 2 pretend nodes" mpi 2 train "${big[@]}" \
  --set data.ranks_per_node=1 --set log.run_dir=auto2bn
expect_out "optimizer state replicated on every rank" "across nodes no node path, and fast mode stays replicated"
expect_rc 0 "node_memory=true, default model, 2 ranks" mpi 2 train --set train.max_steps=3 --set train.node_memory=true \
  --set log.run_dir=auto2t
expect_out "reduced and updated in node-shared memory" "node_memory=true takes the node path for any size"
expect_rc 0 "shard_optimizer=true, default model, 2 ranks" mpi 2 train --set train.max_steps=3 \
  --set train.shard_optimizer=true --set log.run_dir=auto2s
expect_out "reduced and updated in node-shared memory" "an explicitly sharded optimiser on one node goes through node memory"
expect_rc 0 "node_memory=false, 2.25 M parameters, 2 ranks" mpi 2 train "${big[@]}" \
  --set train.node_memory=false --set log.run_dir=auto2bf
expect_out "optimizer state replicated on every rank" "node_memory=false keeps the MPI rules"
expect_rc 0 "auto, exact, default model, 2 ranks" mpi 2 train --set train.max_steps=3 --set train.reduce=exact \
  --set log.run_dir=auto2x
expect_out "optimizer state sharded over the ranks, reduced by MPI" "auto shards a small model in exact mode through MPI"
expect_rc 0 "shard_optimizer=auto, exact, 1 rank" mpi 1 train --set train.max_steps=3 --set train.reduce=exact \
  --set log.run_dir=auto1x
expect_out "optimizer state replicated on every rank" "auto does not shard one rank"

# 4c. shard sampling from a file (each rank reads only its rows) and global sampling with every
# rank treated as its own node (the multi-node path of the node-shared copy) both converge
"$NNMPI" data synth --kind spirals --n 4000 --n-test 1000 --out spirals.h5 >/dev/null
for set in data.sampling=shard data.ranks_per_node=1; do
  expect_rc 0 "spirals.h5 on 3 ranks with $set" mpi 3 train -c "$SRC/configs/spirals.ini" --set data.path=spirals.h5 \
    --set $set --set log.run_dir=run-$set
  acc=$(last_eval run-$set accuracy)
  awk -v a="$acc" 'BEGIN{exit !(a >= 0.97)}' && pass "$set: accuracy $acc >= 0.97" || fail "$set: accuracy $acc"
done
grep -q "3 node copy" out.txt && pass "ranks_per_node=1 makes 3 node copies" || fail "node copies not reported as 3"

# 5. global batch smaller than the rank count
expect_rc 2 "batch_size < ranks is a config error" mpi 3 train --set train.batch_size=2 --set log.run_dir=small
expect_out "smaller than the number of ranks" "message names the cause"

# 6. non-finite loss stops with the step named
expect_rc 1 "diverging run stops" mpi 2 train --set optim.name=sgd --set optim.lr=1e30 --set log.run_dir=nan
expect_out "non-finite" "message says non-finite"
expect_out "step 2 (epoch 1, batch 2)" "message names the step"
for p in node ring; do
  expect_rc 1 "diverging run stops, sharded optimizer, 3 ranks, $p" mpi 3 train --set optim.name=sgd --set optim.lr=1e30 \
    ${path[$p]} --set log.run_dir=nan3-$p
  expect_out "non-finite" "sharded ($p): message says non-finite"
done

# 7. one rank cannot read its data (a node-local file missing on one node): every rank stops with
# the message, quickly. MPMD: rank 0 runs in a directory with the file, rank 1 in one without.
mkdir -p nodeA nodeB
"$NNMPI" data synth --kind spirals --n 400 --n-test 100 --out nodeA/data.h5 >/dev/null
t0=$(date +%s)
expect_rc 3 "rank 1 without its data file" timeout 60 "$MPIEXEC" --oversubscribe \
  -n 1 -wdir "$WORK/nodeA" "$NNMPI" train --set data.path=data.h5 --set log.run_dir=$WORK/runA : \
  -n 1 -wdir "$WORK/nodeB" "$NNMPI" train --set data.path=data.h5 --set log.run_dir=$WORK/runA
expect_out "rank 1: " "the failing rank is named"
expect_out "data.h5" "the file is named"
t1=$(date +%s)
if [ $((t1 - t0)) -lt 30 ]; then pass "failure propagated in $((t1 - t0)) s"; else fail "failure took $((t1 - t0)) s"; fi

finish
