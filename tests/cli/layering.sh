#!/bin/bash
# Keeps the layering of docs/architecture.md true:
#  - the include graph: every #include "..." of src/ and include/nnmpi/ points to the file's own
#    layer or below (and the sibling layers config, io and dist do not include each other);
#  - only dist*.c calls MPI_*; only src/h5.h includes hdf5.h; no public header includes hdf5.h
#    or mpi.h; library code never prints to stdout/stderr or exits.
# The build enforces the same from the other side: each unit test links only its layer's library.
source "$(dirname "$0")/lib.sh"
cd "$SRC"

# The layer of every unit (file name without .c/.h). A new file must be added here.
declare -A group
for u in status rng hash clock simd version; do group[$u]=L0; done
group[tensor]=L1
group[layers]=L2
for u in net optim gradcheck synth sampler; do group[$u]=L3; done
group[config]=CONFIG
for u in h5 fs dataset dataset_inspect dataset_write import import_idx import_csv import_synth checkpoint \
  checkpoint_header checkpoint_dir predictions; do group[$u]=IO; done
for u in dist dist_shm dist_watchdog; do group[$u]=DIST; done
for u in loader eval step trainer metrics curves trace svg json runlog report; do group[$u]=TRAIN; done
for u in main cli cli_launcher cmd_train cmd_eval cmd_data cmd_inspect cmd_inspect_ckpt cmd_config cmd_gradcheck cmd_report; do group[$u]=CLI; done
# What each layer may include.
declare -A allowed=(
  [L0]="L0" [L1]="L0 L1" [L2]="L0 L1 L2" [L3]="L0 L1 L2 L3"
  [CONFIG]="L0 L1 L2 L3 CONFIG" [IO]="L0 L1 L2 L3 IO" [DIST]="L0 L1 L2 L3 DIST"
  [TRAIN]="L0 L1 L2 L3 CONFIG IO DIST TRAIN" [CLI]="L0 L1 L2 L3 CONFIG IO DIST TRAIN CLI")

bad=""
for f in src/*.c src/*.h include/nnmpi/*.h include/nnmpi/*.h.in; do
  u=$(basename "$f"); u=${u%.in}; u=${u%.[ch]}
  g=${group[$u]:-}
  if [ -z "$g" ]; then bad+="$f: no layer assigned (add it to tests/cli/layering.sh)"$'\n'; continue; fi
  while read -r inc; do
    v=$(basename "$inc"); v=${v%.h}
    h=${group[$v]:-}
    if [ -z "$h" ]; then bad+="$f includes \"$inc\": no layer assigned"$'\n'
    elif [[ " ${allowed[$g]} " != *" $h "* ]]; then bad+="$f ($g) includes \"$inc\" ($h)"$'\n'; fi
  done < <(sed -n 's/^#include "\([^"]*\)".*/\1/p' "$f")
done
[ -z "$bad" ] && pass "every include points to its own layer or below" || fail "include graph:
$bad"

mpi_users=$(grep -l 'MPI_[A-Z][a-z_]*(' src/*.c | grep -v '^src/dist' || true)
[ -z "$mpi_users" ] && pass "only dist*.c call MPI_*" || fail "MPI_* called outside dist: $mpi_users"

bad=$(grep -lE '#include [<"]hdf5\.h' src/* include/nnmpi/* | grep -v '^src/h5\.h$' || true)
[ -z "$bad" ] && pass "only src/h5.h includes hdf5.h" || fail "hdf5.h included by: $bad"
bad=$(grep -lE '#include [<"](mpi|hdf5)\.h' include/nnmpi/* || true)
[ -z "$bad" ] && pass "no public header includes mpi.h or hdf5.h" || fail "public headers: $bad"

lib=$(for f in src/*.c; do u=$(basename "$f" .c); [ "${group[$u]}" != CLI ] && echo "$f"; done)
bad=$(grep -nE '\b(printf|puts|exit|abort|MPI_Abort)\s*\(|\b(stdout|stderr)\b' $lib | grep -v 'fprintf(f\b' |
  grep -vE '^src/dist\.c:.*(MPI_Abort|exit)\(' || true)
# (nn_dist_abort in dist.c holds the job's only MPI_Abort/exit; only main calls it)
[ -z "$bad" ] && pass "library code neither prints nor exits" || fail "library code prints or exits:
$bad"

# the executable answers --version with the libraries it was built with
"$NNMPI" --version >"$WORK/out.txt"
expect_out "nnmpi " "--version names nnmpi"
expect_out "MPI: " "--version names MPI"
expect_out "HDF5" "--version names HDF5"
expect_out "BLAS" "--version names BLAS"
for cmd in train eval predict data inspect config gradcheck report; do
  expect_rc 0 "nnmpi $cmd --help" "$NNMPI" $cmd --help
  expect_out "usage: " "nnmpi $cmd --help prints usage"
done
expect_rc 2 "unknown command" "$NNMPI" frobnicate
expect_rc 2 "no command" "$NNMPI"
expect_rc 0 "gradcheck of the default model" "$NNMPI" gradcheck
expect_rc 0 "gradcheck of fashion-mnist.ini" "$NNMPI" gradcheck -c "$SRC/configs/fashion-mnist.ini" --samples 100
expect_out "gradcheck passed" "gradcheck reports"
finish
