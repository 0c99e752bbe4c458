# multinode_train: `sbatch --nodes=2 --ntasks-per-node=2 jobs/train.sbatch` on the private
# multi-node cluster (tests/cluster/up: 2 nodes, each its own network, hostname and shared
# memory), train.reduce = exact:
# - spirals (configs/spirals.ini, data from `nnmpi data synth`) with LAUNCHER=mpirun, and
#   Fashion-MNIST (30000 rows of Debian's dataset-fashion-mnist) with srun --mpi=pmix;
# - the run reports its layout: 2 nodes, 2 ranks per node, 2 data copies (one per node);
# - per-rank memory (Pss from /proc/PID/smaps_rollup of each rank, measured once the data is
#   loaded, the ranks briefly stopped): the 2 ranks of a node hold one shared copy of the
#   training split, and no private one;
# - file reads (an LD_PRELOAD logger): each node reads the file once, split between its ranks;
# - final weights bit-identical to a 4-rank single-node run and a 1-rank run (this machine,
#   outside Slurm), which run while the cluster jobs do.
. "$(dirname "$0")/cluster/lib.sh"
need_trainer
command -v h5diff >/dev/null || skip "h5diff (hdf5-tools) not installed"
command -v cc >/dev/null || skip "cc not found (for the read logger)"
cluster_up 2

# ---- spirals, mpirun
"$NNMPI" data synth --kind spirals --n 4000 --out sp.h5 > /dev/null || fail "nnmpi data synth"
export CONFIG=$SRC/configs/spirals.ini
SP=(--set data.path="$T/sp.h5" --set train.epochs=3 --set train.reduce=exact --set train.exact_chunks=8 --set log.progress=lines)   # 189 steps
log "spirals: LAUNCHER=mpirun sbatch --nodes=2 --ntasks-per-node=2 jobs/train.sbatch; references 1 and 4 ranks"
id=$(LAUNCHER=mpirun sbatch --parsable --nodes=2 --ntasks-per-node=2 "$SRC/jobs/train.sbatch" "${SP[@]}" \
     --set log.run_dir=runs/sp-2x2) || fail "sbatch"
host_run_bg 1 runs/sp-1 -c "$CONFIG" "${SP[@]}"
host_run_bg 4 runs/sp-4 -c "$CONFIG" "${SP[@]}"
st=$(job_wait "$id" 300) || fail "job $id ended $st"
host_wait
out=nnmpi-train-$id.out
[ "$(job_nodes "$id")" = 2 ] || fail "job $id ran on $(job_nodes "$id") node(s), expected 2"
check_layout "$out" 2 2 2
check_layout runs/sp-4.out 1 4 1
evals_once runs/sp-2x2/metrics.jsonl 3
a=$(newest_ckpt runs/sp-2x2); [ "$(ckpt_step "$a")" = 189 ] || fail "runs/sp-2x2: newest checkpoint $a, expected step 189"
same_model "$(newest_ckpt runs/sp-1)" "$a"
same_model "$(newest_ckpt runs/sp-4)" "$a"
log "spirals: 2 nodes x 2 ranks (mpirun) = 4 ranks on one node = 1 rank, bit for bit"

# ---- Fashion-MNIST, srun. 30000 rows: the shared block (23 MB) stands well above a rank's own
# memory (~8 MB), so a private copy would show; training stops after 1200 steps, 25 into its 6th
# epoch of 235 (long enough that the memory snapshot after the data line finds the ranks still
# running: 200 steps once ended first, with exact mode's sharded optimizer).
fmnist_subset fm.h5 30000 1000
export CONFIG=$SRC/configs/fashion-mnist.ini
FM=(--set data.path="$T/fm.h5" --set model.layers=784,32,10 --set train.max_steps=1200 --set train.reduce=exact --set train.exact_chunks=8
    --set log.progress=lines)
log "Fashion-MNIST: sbatch --nodes=2 --ntasks-per-node=2 jobs/train.sbatch (srun), memory and reads watched; references"
readlog_wrapper fm.h5
id=$(NNMPI=$T/nnmpi-readlog sbatch --parsable --nodes=2 --ntasks-per-node=2 "$SRC/jobs/train.sbatch" "${FM[@]}" \
     --set log.run_dir=runs/fm-2x2) || fail "sbatch"
out=nnmpi-train-$id.out
host_run_bg 1 runs/fm-1 -c "$CONFIG" "${FM[@]}"
host_run_bg 4 runs/fm-4 -c "$CONFIG" "${FM[@]}"
wait_for 120 "the data line of job $id (data loaded)" grep -q '^data: ' "$out"
mem_snapshot runs/fm-2x2 || fail "job $id: no rank found to measure after its data line"
st=$(job_wait "$id" 300) || fail "job $id ended $st"
host_wait
[ "$(job_nodes "$id")" = 2 ] || fail "job $id ran on $(job_nodes "$id") node(s), expected 2"
check_layout "$out" 2 2 2
a=$(newest_ckpt runs/fm-2x2); [ "$(ckpt_step "$a")" = 1200 ] || fail "runs/fm-2x2: newest checkpoint $a, expected step 1200"
same_model "$(newest_ckpt runs/fm-1)" "$a"
same_model "$(newest_ckpt runs/fm-4)" "$a"
log "Fashion-MNIST: 2 nodes x 2 ranks (srun) = 4 ranks on one node = 1 rank, bit for bit"

# Memory. The loader's blocks (training and eval split) hold N x 784 uint8 + N int32 labels.
block_kb=$(( (30000 + 1000) * 788 / 1024 ))
for node in $NNMPI_CLUSTER_NODES; do
  r=$(node_shmem_copies "$node" 2 "$block_kb") || fail "mem.txt: expected 2 ranks of $node: $(cat mem.txt)"
  set -- $r
  log "$node: node-shared memory of its 2 ranks = $1 x the $block_kb kB of data; largest private (Pss_Anon) $2 kB"
  awk -v c="$1" 'BEGIN { exit !(c >= 0.9 && c < 1.5) }' ||
    fail "$node: its ranks hold $1 copies of the data in shared memory, expected 1 (mem.txt: $(grep " $node " mem.txt | tail -n 2))"
  [ "$2" -lt "$block_kb" ] || fail "$node: a rank holds $2 kB of private memory, more than a whole copy ($block_kb kB)"
done

# Reads: each node reads the file once between its 2 ranks (node rank j reads its half of the rows).
size=$(stat -c %s fm.h5)
for node in $NNMPI_CLUSTER_NODES; do
  logs=(reads/"$node".*); [ -f "${logs[0]}" ] && [ ${#logs[@]} = 2 ] || fail "reads/: expected the logs of 2 ranks of $node: $(ls reads)"
  tot=0 each=; for f in "${logs[@]}"; do b=$(read_bytes "$f"); tot=$((tot + b)) each="$each $b"; done
  log "$node: its ranks read$each bytes of the $size-byte file"
  [ "$tot" -lt $((size * 3 / 2)) ] || fail "$node read $tot bytes of a $size-byte file: more than one copy"
done
echo "multinode_train: all checks passed"
