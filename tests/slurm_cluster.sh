# slurm_cluster: the private Slurm fixture works — an MPI hello program on 2 tasks through
# `srun --mpi=pmix` and through mpirun inside a batch job, output checked; a failing job is
# reported as FAILED with its exit code.
. "$(dirname "$0")/slurm/lib.sh"
command -v mpicc >/dev/null || skip "mpicc not found"
slurm_up

cat > hello.c <<'C'
#include <mpi.h>
#include <stdio.h>
int main(int argc, char **argv) {
  int rank, size, sum = 0;
  MPI_Init(&argc, &argv);
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  MPI_Allreduce(&rank, &sum, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
  printf("hello rank %d of %d sum %d\n", rank, size, sum);
  MPI_Finalize();
  return 0;
}
C
mpicc -o hello hello.c || fail "mpicc hello.c"

check_hello() { # FILE
  local f=$1
  [ "$(grep -c '^hello rank [01] of 2 sum 1$' "$f")" = 2 ] || fail "$f: expected 2 hello lines from 2 ranks, got: $(cat "$f")"
  grep -q '^hello rank 0 ' "$f" && grep -q '^hello rank 1 ' "$f" || fail "$f: ranks 0 and 1 not both present"
}

log "srun --mpi=pmix hostname and hello on 2 tasks"
a=$(sbatch --parsable -n 2 -o a-%j.out --wrap 'srun --mpi=pmix -n 2 hostname; srun --mpi=pmix ./hello') || fail "sbatch"
b=$(sbatch --parsable -n 2 -o b-%j.out --wrap "$MPIEXEC -np 2 ./hello") || fail "sbatch"
c=$(sbatch --parsable -n 1 -o c-%j.out --wrap 'echo about to fail; exit 3') || fail "sbatch"
st=$(job_wait "$a" 120) || fail "job $a ended $st"
[ "$(grep -c "^$(hostname -s)$" "a-$a.out")" = 2 ] || fail "a-$a.out: expected 2 hostname lines: $(cat "a-$a.out")"
check_hello "a-$a.out"
log "mpirun inside a batch job"
st=$(job_wait "$b" 120) || fail "job $b ended $st"
check_hello "b-$b.out"
log "a failing job is reported"
st=$(job_wait "$c" 60) && fail "job $c (exit 3) reported COMPLETED"
[ "$st" = FAILED ] || fail "job $c: expected FAILED, got $st"
[ "$(job_field "$c" ExitCode)" = 3:0 ] || fail "job $c: expected ExitCode=3:0, got $(job_field "$c" ExitCode)"
grep -q 'about to fail' "c-$c.out" || fail "job $c output missing"
echo "slurm_cluster: all checks passed"
