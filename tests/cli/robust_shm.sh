#!/bin/bash
# Node-shared memory that cannot be had. Open MPI keeps a shared window in a file under its
# osc_sm_backing_directory (/dev/shm by default; Docker gives containers 64 MB there). When
# that directory was missing or too small, the node's other ranks hung inside
# MPI_Win_allocate_shared until the watchdog (300 s) blamed "lost" ranks; now every rank stops
# at once with the directory, the space needed and free, and the fix (exit 1). A missing
# directory needs no root; a too small one mounts a tmpfs (root only, skipped visibly).
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/lib.sh"
source "$HERE/robust_lib.sh"

"$NNMPI" data synth --kind spirals --n 4000 --n-test 500 --out small.h5 >/dev/null
base=(--set data.path="$WORK/small.h5" --set model.layers=2,16,2 --set train.max_steps=5
      --set train.watchdog_seconds=60 --set log.progress=lines)

# a backing directory that does not exist: the training data's copy per node
OMPI_MCA_osc_sm_backing_directory="$WORK/none" run mpi 2 train "${base[@]}" --set log.run_dir=none2
rc_is 1 "no backing directory, 2 ranks"
has "$WORK/none" "names the directory"
has "osc_sm_backing_directory" "names Open MPI's variable"
has "small.h5:/train: one copy per node" "says what the memory is for"
lacks "did not complete" "no watchdog (nothing hung)"
# a node of one rank needs no backing file (Open MPI keeps its window in private memory)
OMPI_MCA_osc_sm_backing_directory="$WORK/none" run mpi 1 train "${base[@]}" --set log.run_dir=none1
rc_is 0 "no backing directory, 1 rank: trains"
# the way out the message names: data.sampling = shard keeps the rows in private memory
OMPI_MCA_osc_sm_backing_directory="$WORK/none" run mpi 2 train "${base[@]}" --set data.sampling=shard \
  --set log.run_dir=none-shard
rc_is 0 "no backing directory, data.sampling = shard, 2 ranks: trains"
# the node path's block (train.node_memory = true) needs the directory too
OMPI_MCA_osc_sm_backing_directory="$WORK/none" run mpi 2 train "${base[@]}" --set data.sampling=shard \
  --set train.node_memory=true --set log.run_dir=none-node
rc_is 1 "no backing directory, the node path, 2 ranks"
has "train.node_memory" "the node path: names train.node_memory"
lacks "did not complete" "the node path: no watchdog (nothing hung)"

if [ "$(id -u)" -ne 0 ]; then skip "not root, cannot mount a small tmpfs"; finish_robust; exit; fi
mkdir -p shm
if ! mount -t tmpfs -o size=1m tmpfs shm 2>/dev/null; then skip "mounting a tmpfs failed"; finish_robust; exit; fi
MOUNTED="$WORK/shm"   # unmounted by cleanup (robust_lib.sh)
export OMPI_MCA_osc_sm_backing_directory="$WORK/shm"
# 200,000 rows of 2 features and a label: 2.3 MB of training data in 1 MB
"$NNMPI" data synth --kind spirals --n 200000 --n-test 500 --out big.h5 >/dev/null
run mpi 2 train "${base[@]}" --set data.path="$WORK/big.h5" --set log.run_dir=full-data
rc_is 1 "training data larger than a 1 MB backing directory, 2 ranks"
has_re "MiB are needed in .*shm.*which has 1\.0 MiB free" "names the space needed and free"
has "big.h5:/train" "says what the memory is for"
lacks "did not complete" "no watchdog (nothing hung)"
# the node path's block of a 1.05 M-parameter model (3 x 4 MB) in 1 MB; the data fits
run mpi 2 train "${base[@]}" --set model.layers=2,1024,1024,2 --set train.node_memory=true --set log.run_dir=full-node
rc_is 1 "the node path's block larger than the backing directory, 2 ranks"
has "train.node_memory" "names train.node_memory"
has_re "which has [01]\.[0-9] MiB free" "names the free space"
lacks "did not complete" "no watchdog (nothing hung)"
# room enough: the same runs train (the check has no false alarm)
umount "$WORK/shm"; mount -t tmpfs -o size=64m tmpfs "$WORK/shm"
run mpi 2 train "${base[@]}" --set data.path="$WORK/big.h5" --set model.layers=2,1024,1024,2 \
  --set train.node_memory=true --set log.run_dir=room
rc_is 0 "64 MB backing directory: the data and the node path's block fit, 2 ranks"
has "reduced and updated in node-shared memory" "... on the node path"
finish_robust
