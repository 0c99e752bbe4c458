#!/bin/bash
# Keeps the layering of docs/architecture.md true: only dist*.c calls MPI_*; the numerical core
# includes neither mpi.h nor hdf5.h; library code never prints to stdout/stderr or exits.
source "$(dirname "$0")/lib.sh"
cd "$SRC/src"
core="status.c rng.c tensor.c layers.c net.c optim.c config.c synth.c gradcheck.c sampler.c"
lib="$core dataset.c dataset_write.c import_idx.c import_csv.c checkpoint.c predictions.c dist.c dist_shm.c loader.c trainer.c"

mpi_users=$(grep -l 'MPI_[A-Z][a-z_]*(' *.c | grep -v '^dist' || true)
[ -z "$mpi_users" ] && pass "only dist*.c call MPI_*" || fail "MPI_* called outside dist: $mpi_users"

bad=$(grep -lE '#include [<"](mpi|hdf5)\.h' $core || true)
[ -z "$bad" ] && pass "core includes neither mpi.h nor hdf5.h" || fail "core includes mpi.h/hdf5.h: $bad"
bad=$(cd "$SRC/include/nnmpi" && for h in status rng tensor layers net optim config synth gradcheck sampler; do
  grep -lE '#include [<"](mpi|hdf5)\.h' $h.h; done || true)
[ -z "$bad" ] && pass "core headers include neither mpi.h nor hdf5.h" || fail "core headers: $bad"

bad=$(grep -nE '\b(printf|puts|exit|abort|MPI_Abort)\s*\(|\b(stdout|stderr)\b' $lib | grep -v 'fprintf(f\b' | grep -vE '^dist\.c:.*(MPI_Abort|exit)\(' || true)
# (nn_dist_abort in dist.c holds the job's only MPI_Abort/exit; only main calls it)
[ -z "$bad" ] && pass "library code neither prints nor exits" || fail "library code prints or exits:
$bad"

# the executable answers --version with the libraries it was built with
"$NNMPI" --version >"$WORK/out.txt"
expect_out "nnmpi " "--version names nnmpi"
expect_out "MPI: " "--version names MPI"
expect_out "HDF5" "--version names HDF5"
expect_out "BLAS" "--version names BLAS"
for cmd in train eval predict data inspect config gradcheck; do
  expect_rc 0 "nnmpi $cmd --help" "$NNMPI" $cmd --help
  expect_out "usage: " "nnmpi $cmd --help prints usage"
done
expect_rc 2 "unknown command" "$NNMPI" frobnicate
expect_rc 2 "no command" "$NNMPI"
expect_rc 0 "gradcheck of the default model" "$NNMPI" gradcheck
expect_rc 0 "gradcheck of fashion-mnist.ini" "$NNMPI" gradcheck -c "$SRC/configs/fashion-mnist.ini" --samples 100
expect_out "gradcheck passed" "gradcheck reports"
finish
