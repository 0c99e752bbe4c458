/* cli_launcher: a rank started by a launcher (mpirun, srun) ends when its launcher does. After
 * `kill -9` of mpirun its ranks lived on for seconds and kept writing and rotating checkpoints,
 * so an immediate relaunch on the same run directory overlapped them. Layer 6 (process
 * plumbing of the executable, not MPI's business); Linux prctl. */
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "cli.h"

void nn_cli_die_with_launcher(void) {
  /* a plain `nnmpi train` from a shell must not die with that shell's parent */
  if (!getenv("OMPI_COMM_WORLD_SIZE") && !getenv("PMIX_RANK") && !getenv("SLURM_STEP_ID")) return;
  pid_t launcher = getppid();
  if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) return;
  /* the launcher may have died before prctl: then the signal will never come */
  if (getppid() != launcher) raise(SIGKILL);
}
