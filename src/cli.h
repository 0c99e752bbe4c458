/* cli: the subcommands of the nnmpi executable (layer 6). Each returns an NN_* status;
 * main() prints the recorded message once (rank 0) and maps it to the exit code.
 * Subcommands print their own --help and results. */
#ifndef NNMPI_CLI_H
#define NNMPI_CLI_H

#include <stdbool.h>

int nn_cmd_train(int argc, char **argv);
int nn_cmd_eval(int argc, char **argv);     /* eval */
int nn_cmd_predict(int argc, char **argv);  /* predict */
int nn_cmd_data(int argc, char **argv);     /* data import-idx | import-csv | synth */
int nn_cmd_inspect(int argc, char **argv);
int nn_cmd_config(int argc, char **argv);
int nn_cmd_gradcheck(int argc, char **argv);
int nn_cmd_report(int argc, char **argv);    /* report RUN_DIR...: compare and follow runs */
/* Prints the summary of a checkpoint file and verifies its checksums (used by inspect). */
int nn_cmd_inspect_checkpoint(const char *path);

/* (cli_launcher.c) Under a launcher (OMPI_COMM_WORLD_SIZE, PMIX_RANK or SLURM_STEP_ID set), this
 * process gets SIGKILL when its parent, the launcher, dies (Linux PR_SET_PDEATHSIG); checked
 * again after setting, in case the launcher died first. A no-op for a plain `nnmpi CMD`. */
void nn_cli_die_with_launcher(void);

/* An input file named by an option (-c, --resume, --model, --data) must not be a FIFO, socket,
 * device or directory: NN_FAIL(code, "CMD: OPT PATH: is a FIFO, expected a regular file"),
 * checked with stat before MPI starts (a FIFO would block its reader; MPI's start-up costs
 * seconds). NN_OK otherwise, also for a missing file (its reader names the cause) and NULL. */
int nn_cli_regular_input(const char *cmd, const char *opt, const char *path, int code);

/* True when argv[1..] contains -h or --help. */
int nn_cli_wants_help(int argc, char **argv);
/* An option that may be given once: the first call sets *seen, a second one is NN_EINVAL
 * "CMD: OPT given twice; give it once" (opt as typed, e.g. "-c"). */
int nn_cli_once(const char *cmd, const char *opt, bool *seen);

#endif
