/* main: dispatches subcommands, prints the failure message once, picks the exit code.
 * Layer 6: the only place that exits. */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "nnmpi/status.h"
#include "nnmpi/version.h"
#include "nnmpi/dataset.h"
#include "nnmpi/dist.h"
#include "nnmpi/tensor.h"

static const char usage[] =
    "usage: nnmpi <command> [options]\n"
    "\n"
    "Train fully-connected networks data-parallel over MPI; HDF5 data and checkpoints.\n"
    "\n"
    "commands:\n"
    "  train      train a model:  mpirun -np N nnmpi train -c CONFIG [--set k=v ...] [--resume auto|never|PATH]\n"
    "  eval       evaluate a checkpoint:  nnmpi eval --model CKPT --data FILE:/test\n"
    "  predict    write predictions:  nnmpi predict --model CKPT --data FILE:/test --out preds.h5\n"
    "  data       write dataset files:  nnmpi data import-idx | import-csv | synth ...\n"
    "  inspect    summarise and verify a dataset or checkpoint file:  nnmpi inspect FILE.h5\n"
    "  config     print the effective config as INI:  nnmpi config [-c CONFIG] [--set k=v ...]\n"
    "  gradcheck  finite differences vs backprop:  nnmpi gradcheck [-c CONFIG]\n"
    "  report     compare and follow runs (table + learning curves):  nnmpi report RUN_DIR...\n"
    "\n"
    "  nnmpi <command> --help   options of one command\n"
    "  nnmpi --version          versions of nnmpi and the MPI, HDF5 and BLAS it was built with\n"
    "\n"
    "exit codes: 0 done, 2 usage or config error, 3 data error, 4 checkpoint error,\n"
    "            75 stopped on request after a checkpoint (resume me), 1 anything else\n";

static const struct {
  const char *name;
  int (*run)(int, char **);
} commands[] = {
    {"train", nn_cmd_train},     {"eval", nn_cmd_eval},       {"predict", nn_cmd_predict},
    {"data", nn_cmd_data},       {"inspect", nn_cmd_inspect}, {"config", nn_cmd_config},
    {"gradcheck", nn_cmd_gradcheck}, {"report", nn_cmd_report},
};

static const char *command = "";

/* The watchdog found a collective stalled: this rank cannot agree with the others, so it speaks
 * for itself and ends; the launcher then ends the job. Runs on the watchdog's thread. */
static void watchdog_expired(const char *msg) {
  fprintf(stderr, "nnmpi %s: %s: rank %d: %s\n", command, nn_strerror(NN_EPEER), nn_dist_rank(), msg);
  fflush(stderr);
  _exit(nn_exit_code(NN_EPEER));
}

int nn_cli_wants_help(int argc, char **argv) {
  for (int i = 1; i < argc; i++)
    if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) return 1;
  return 0;
}

int nn_cli_once(const char *cmd, const char *opt, bool *seen) {
  if (*seen) return NN_FAIL(NN_EINVAL, "%s: %s given twice; give it once (see nnmpi %s --help)", cmd, opt, cmd);
  *seen = true;
  return NN_OK;
}

int nn_cli_regular_input(const char *cmd, const char *opt, const char *path, int code) {
  struct stat st;
  if (!path || stat(path, &st) != 0 || S_ISREG(st.st_mode)) return NN_OK;
  const char *kind = S_ISDIR(st.st_mode)                          ? "a directory"
                     : S_ISFIFO(st.st_mode)                       ? "a FIFO"
                     : S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode) ? "a device"
                                                                  : "not a regular file";
  return NN_FAIL(code, "%s: %s %s: is %s, expected a regular file", cmd, opt, path, kind);
}

int main(int argc, char **argv) {
  if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
    fputs(usage, argc < 2 ? stderr : stdout);
    return argc < 2 ? 2 : 0;
  }
  if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "version")) {
    char mpi[1024], hdf5[128], blas[512];
    nn_dist_versions(mpi, sizeof mpi);
    nn_dataset_hdf5_version(hdf5, sizeof hdf5);
    nn_blas_version(blas, sizeof blas);
    printf("nnmpi %s\n%s%s\n%s\n", NN_VERSION_STRING, mpi, hdf5, blas);
    return 0;
  }
  for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
    if (strcmp(argv[1], commands[i].name)) continue;
    command = commands[i].name;
    nn_cli_die_with_launcher();
    nn_dist_on_watchdog(watchdog_expired);
    int rc = commands[i].run(argc - 1, argv + 1);
    /* a stalled peer: this rank cannot agree with the others, so it speaks for itself and
     * ends the whole job instead of waiting in the next collective */
    if (rc != NN_OK && (nn_dist_rank() == 0 || rc == NN_EPEER)) {
      const char *msg = nn_errmsg();
      fprintf(stderr, "nnmpi %s: %s%s%s\n", argv[1], nn_strerror(rc), *msg ? ": " : "", msg);
    }
    if (rc == NN_EPEER) nn_dist_abort(nn_exit_code(rc));
    nn_dist_finalize();
    return nn_exit_code(rc);
  }
  fprintf(stderr, "nnmpi: unknown command '%s'\n\n%s", argv[1], usage);
  return 2;
}
