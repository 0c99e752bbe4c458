# slurm_tcp: inside a Slurm allocation, mpirun (the launcher alternative to srun, mapped as on a
# multi-node cluster with --map-by ppr:N:node) trains spirals on 2 ranks once with Open MPI's
# default transport and once over TCP only (--mca btl tcp,self --mca pml ob1, loopback
# interface), as a multi-node run without a fast fabric would; the final weights must agree
# (bit-identical expected for the same rank count; within 1e-5 relative accepted, and said).
. "$(dirname "$0")/slurm/lib.sh"
need_trainer
command -v h5diff >/dev/null || skip "h5diff (hdf5-tools) not installed"
slurm_up
cat > tcp.sbatch <<'SH'
#!/bin/bash
#SBATCH --job-name=tcp
#SBATCH --ntasks=2
#SBATCH --output=%x-%j.out
set -u
args=(-c "$NN_SOURCE_DIR/configs/spirals.ini" --set train.epochs=10)
mpirun -np 2 --map-by ppr:2:node "$NNMPI" train "${args[@]}" --set log.run_dir=runs/default || exit
mpirun -np 2 --map-by ppr:2:node --mca btl tcp,self --mca pml ob1 --mca btl_tcp_if_include lo \
  "$NNMPI" train "${args[@]}" --set log.run_dir=runs/tcp
SH
export NN_SOURCE_DIR=$SRC NNMPI
id=$(sbatch --parsable tcp.sbatch) || fail "sbatch"
st=$(job_wait "$id" 300) || fail "job $id ended $st"
[ "$(grep -c '^done: epoch 10, step 630' "tcp-$id.out")" = 2 ] || fail "tcp-$id.out: expected two finished runs"
[ "$(grep -c 'nnmpi train: 2 rank(s)' "tcp-$id.out")" = 2 ] || fail "tcp-$id.out: expected 2 ranks in both runs"
for r in default tcp; do evals_once "runs/$r/metrics.jsonl" 10; done
a=$(newest_ckpt runs/default) b=$(newest_ckpt runs/tcp)
[ "$(ckpt_step "$a")" = 630 ] && [ "$(ckpt_step "$b")" = 630 ] || fail "final checkpoints $a $b, expected step 630"
if h5diff -r "$a" "$b" /model /model > h5diff.txt 2>&1; then
  log "TCP and default transport: final /model bit-identical"
else
  h5diff -r --relative=1e-5 "$a" "$b" /model /model > h5diff.txt 2>&1 ||
    fail "TCP vs default transport: /model differs by more than 1e-5 relative: $(head -n 20 h5diff.txt)"
  log "TCP and default transport: final /model equal within 1e-5 relative (not bit-identical)"
fi
echo "slurm_tcp: all checks passed"
