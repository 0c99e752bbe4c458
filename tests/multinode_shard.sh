# multinode_shard: data.sampling = shard across 2 nodes x 2 ranks (jobs/train.sbatch, srun) on
# the private multi-node cluster, Fashion-MNIST (20000 training rows):
# - each rank reads only its shard of the file: an LD_PRELOAD logger records every read of the
#   dataset file per process; each rank reads about 1/4 of it (its rows' chunks and the
#   metadata), together they read it about once;
# - no node-shared copy of the data (Pss_Shmem from /proc/PID/smaps_rollup), and the run says
#   "shard sampling";
# - training converges: the final checkpoint classifies the first 2000 test images >= 75 %.
. "$(dirname "$0")/cluster/lib.sh"
need_trainer
command -v cc >/dev/null || skip "cc not found (for the read logger)"
cluster_up 2

N=20000
fmnist_subset fm.h5 "$N"          # /train only: every read of the file is a read of the training split
fmnist_subset fmtest.h5 0 2000    # /test, for `nnmpi eval` at the end
readlog_wrapper fm.h5
export CONFIG=$SRC/configs/fashion-mnist.ini
# 20 epochs of 157 steps (a few seconds): long enough that the memory snapshot taken after the
# data line finds every rank still running (2 epochs, 0.3 s, once ended first).
EPOCHS=20
ARGS=(--set data.path="$T/fm.h5" --set data.eval= --set data.sampling=shard --set model.layers=784,64,10
      --set train.epochs=$EPOCHS --set optim.warmup_steps=20 --set log.progress=lines --set log.run_dir=runs/shard)

log "train.sbatch --nodes=2 --ntasks-per-node=2, shard sampling (srun)"
id=$(NNMPI=$T/nnmpi-readlog sbatch --parsable --nodes=2 --ntasks-per-node=2 "$SRC/jobs/train.sbatch" "${ARGS[@]}") ||
  fail "sbatch"
out=nnmpi-train-$id.out
wait_for 120 "the data line of job $id (data loaded)" grep -q '^data: ' "$out"
mem_snapshot runs/shard || fail "job $id: no rank found to measure after its data line"
st=$(job_wait "$id" 300) || fail "job $id ended $st"
[ "$(job_nodes "$id")" = 2 ] || fail "job $id ran on $(job_nodes "$id") node(s), expected 2"
grep -q 'nnmpi train: 4 rank(s)' "$out" || fail "$out: not 4 ranks"
grep -q '^data: .*shard sampling' "$out" || fail "$out: the data line does not say shard sampling"

# Reads. The file's X is stored in chunks of 334 rows; a rank's shard of N/4 rows touches at
# most N/4/334 + 2 chunks. Allowed per rank: its quarter of the file plus 3 chunks.
size=$(stat -c %s fm.h5)
chunk=$(( size / ((N + 333) / 334) ))
logs=(reads/*)
[ -f "${logs[0]}" ] && [ ${#logs[@]} = 4 ] || fail "reads/: expected the logs of 4 ranks, got: $(ls reads)"
tot=0
for f in "${logs[@]}"; do
  b=$(read_bytes "$f"); tot=$((tot + b))
  log "${f#reads/}: read $b bytes of the $size-byte file ($(awk -v b="$b" -v s="$size" 'BEGIN { printf "%.0f", 100 * b / s }') %)"
  [ "$b" -le $((size / 4 + 3 * chunk)) ] || fail "${f#reads/} read $b bytes, more than its shard (1/4 of $size + 3 chunks of $chunk)"
done
for node in $NNMPI_CLUSTER_NODES; do
  [ "$(ls reads | grep -c "^$node\.")" = 2 ] || fail "reads/: expected 2 ranks of $node: $(ls reads)"
done
[ "$tot" -ge $((size * 9 / 10)) ] && [ "$tot" -le $((size * 13 / 10)) ] ||
  fail "the 4 ranks read $tot bytes together, expected about the file size $size (every shard once)"

# Memory: no node-shared copy of the data (each rank keeps its shard of N/4 rows privately).
shard_kb=$(( N / 4 * 788 / 1024 ))
for node in $NNMPI_CLUSTER_NODES; do
  r=$(node_shmem_copies "$node" 2 "$shard_kb") || fail "mem.txt: expected 2 ranks of $node: $(cat mem.txt)"
  set -- $r
  log "$node: node-shared memory $1 x a shard ($shard_kb kB); largest private (Pss_Anon) $2 kB"
  awk -v c="$1" 'BEGIN { exit !(c < 0.5) }' || fail "$node: its ranks share $1 shards' worth of memory, expected none"
done

# Convergence.
ck=$(newest_ckpt runs/shard); [ -n "$ck" ] || fail "runs/shard: no checkpoint"
"$NNMPI" eval --model "$ck" --data fmtest.h5:/test > eval.txt 2>&1 || fail "nnmpi eval: $(cat eval.txt)"
acc=$(sed -n 's/^accuracy //p' eval.txt)
log "test accuracy after $EPOCHS epochs of shard sampling: $acc"
awk -v a="$acc" 'BEGIN { exit !(a >= 0.75) }' || fail "test accuracy $acc < 0.75"
echo "multinode_shard: all checks passed"
