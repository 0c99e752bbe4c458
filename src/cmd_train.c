/* cmd_train: `nnmpi train` — options, config broadcast from rank 0, stop signals, run.
 * Layer 6. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "cli.h"
#include "nnmpi/config.h"
#include "nnmpi/dist.h"
#include "nnmpi/status.h"
#include "nnmpi/trainer.h"

static const char train_help[] =
    "usage: mpirun -np N nnmpi train [-c CONFIG] [--set section.key=value ...]\n"
    "                                [--resume auto|never|PATH] [--force] [--stop-after-steps N]\n"
    "\n"
    "Trains the model of CONFIG data-parallel on N ranks (also: plain `nnmpi train` on one rank,\n"
    "or `srun --mpi=pmix nnmpi train`). Without -c, a built-in synthetic spirals task is trained.\n"
    "\n"
    "  -c, --config FILE   INI config (docs/config.md), read by rank 0\n"
    "  --set S.K=V         override one key, e.g. --set optim.lr=0.05 (repeatable, applied in order);\n"
    "                      rank 0's effective config (defaults + file + overrides) is sent to all ranks\n"
    "  --resume auto       continue from the newest checkpoint that verifies, if any (default)\n"
    "  --resume never      start fresh; refuses when the checkpoint directory holds checkpoints\n"
    "  --resume PATH       continue from that checkpoint file; newer checkpoints of the checkpoint\n"
    "                      directory are moved to its superseded-<UTC time>/ (a branch starts)\n"
    "  --force             with --resume never: delete existing checkpoints first\n"
    "  --stop-after-steps N  act as if SIGUSR1 arrived once global step N is done: checkpoint, exit 75\n"
    "Every option but --set may be given once. Numbers are decimal.\n"
    "\n"
    "Run directory log.run_dir gets metrics.jsonl, config.ini and checkpoints/; it is locked\n"
    "(nnmpi.lock) while the run lasts: a second run on it exits 4 naming the first's host and pid.\n"
    "SIGUSR1 or SIGTERM: checkpoint at the next step and exit 75 (resume with the same command).\n"
    "SLURM_JOB_END_TIME, when set, makes the run checkpoint and exit 75 before the time limit.\n"
    "Open MPI: nnmpi sets OMPI_MCA_btl_vader_single_copy_mechanism=none and\n"
    "OMPI_MCA_btl_vader_max_send_size=131072 unless they are set (=cma and =32768 restore Open\n"
    "MPI's defaults; docs/multinode.md).\n"
    "exit codes: 0 done, 2 usage/config, 3 data, 4 checkpoint, 75 stopped after a checkpoint, 1 other\n";

/* A terminal device (a tty or pseudo-terminal), by its major number (Linux: 4 ttys, 5 the
 * console and /dev/tty, 136-143 pseudo-terminal slaves). */
static bool terminal_device(const char *path) {
  struct stat st;
  if (stat(path, &st) != 0 || !S_ISCHR(st.st_mode)) return false;
  unsigned maj = major(st.st_rdev);
  return maj == 4 || maj == 5 || (maj >= 136 && maj <= 143);
}

/* A person watching a terminal (progress bar) rather than a log file. Needs a usable TERM, no
 * Slurm batch step (SLURM_PTY_PORT marks an interactive srun --pty), and, under mpirun — which
 * hands ranks a pseudo-terminal even when its own output goes to a file — the launcher's own
 * output on a terminal: rank 0 must be mpirun's child (a rank started by a remote daemon never
 * draws) and mpirun's stdout a terminal device. */
static bool is_terminal(int fd) {
  const char *term = getenv("TERM");
  if (!isatty(fd) || !term || !*term || !strcmp(term, "dumb")) return false;
  if (getenv("SLURM_JOB_ID") && !getenv("SLURM_PTY_PORT")) return false;
  if (!getenv("OMPI_COMM_WORLD_SIZE")) return true;
  char path[64], comm[64] = "";
  snprintf(path, sizeof path, "/proc/%d/comm", (int)getppid());
  FILE *f = fopen(path, "r");
  if (!f) return false;
  if (!fgets(comm, sizeof comm, f)) comm[0] = 0;
  fclose(f);
  comm[strcspn(comm, "\n")] = 0;
  if (strcmp(comm, "mpirun") && strcmp(comm, "mpiexec") && strcmp(comm, "orterun") && strcmp(comm, "prterun"))
    return false;
  snprintf(path, sizeof path, "/proc/%d/fd/%d", (int)getppid(), fd);
  return terminal_device(path);
}

static volatile sig_atomic_t stop_requested;
static void on_stop_signal(int sig) {
  (void)sig;
  stop_requested = 1;
}

/* SIGUSR1 and SIGTERM set stop_requested: the loop checkpoints at its next step and exits 75. */
static void install_stop_handlers(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_stop_signal;
  sa.sa_flags = SA_RESTART;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGUSR1, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
}

/* A stop request must never kill `nnmpi train` (the default action of both signals), however
 * early it comes. The constructors of the shared libraries (OpenBLAS, Open MPI, GnuTLS, ...)
 * run before main() and take tens of milliseconds, so the handlers go in from the ELF
 * .preinit_array, which runs before any of them (executables only; glibc passes argc, argv). */
static void preinit_stop_handlers(int argc, char **argv, char **envp) {
  (void)envp;
  if (argc > 1 && argv && argv[1] && !strcmp(argv[1], "train")) install_stop_handlers();
}
__attribute__((section(".preinit_array"), used)) static void (*const preinit)(int, char **,
                                                                              char **) = preinit_stop_handlers;

/* Rank 0 builds the effective config (defaults, file, --set overrides, validation) and sends
 * its INI text; every rank parses that same text, so all run one config even when files or
 * command lines differ between nodes. */
static int load_config(nn_config *cfg, char **effective, const char *path, int n_sets, char **sets) {
  int rc = NN_OK;
  *effective = NULL;
  if (nn_dist_rank() == 0) {
    rc = nn_config_load(cfg, path, n_sets, sets);
    if (!rc && !(*effective = nn_config_to_string(cfg))) rc = NN_FAIL(NN_ENOMEM, "config text");
  }
  if ((rc = nn_dist_agree(rc)) || (rc = nn_dist_bcast_string(effective))) return rc;
  if (nn_dist_rank() != 0) {
    nn_config_defaults(cfg);
    rc = nn_config_parse(cfg, *effective, "config from rank 0");
    if (!rc) rc = nn_config_validate(cfg);
  }
  return nn_dist_agree(rc);
}

int nn_cmd_train(int argc, char **argv) {
  if (nn_cli_wants_help(argc, argv)) {
    fputs(train_help, stdout);
    return NN_OK;
  }
  /* (again, for a caller other than main: a stop request while MPI, the config or the data
   * start up is acted on at the first step) */
  install_stop_handlers();
  const char *cfg_path = NULL, *resume = "auto";
  char **sets = calloc((size_t)argc, sizeof *sets);
  int n_sets = 0;
  bool force = false, seen_c = false, seen_resume = false, seen_force = false, seen_stop = false;
  long long stop_at = 0;
  int rc = sets ? NN_OK : NN_FAIL(NN_ENOMEM, "train: out of memory");
  for (int i = 1; i < argc && !rc; i++) {
    const char *a = argv[i];
    bool has_val = i + 1 < argc;
    if ((!strcmp(a, "-c") || !strcmp(a, "--config")) && has_val) {
      if (!(rc = nn_cli_once("train", a, &seen_c))) cfg_path = argv[++i];
    } else if (!strcmp(a, "--set") && has_val) {
      sets[n_sets++] = argv[++i];
    } else if (!strcmp(a, "--resume") && has_val) {
      if (!(rc = nn_cli_once("train", a, &seen_resume))) resume = argv[++i];
      if (!rc && !*resume)
        rc = NN_FAIL(NN_EINVAL,
                     "train: --resume \"\": expected auto, never or a checkpoint path (see nnmpi train --help)");
    } else if (!strcmp(a, "--force")) {
      if (!(rc = nn_cli_once("train", a, &seen_force))) force = true;
    } else if (!strcmp(a, "--stop-after-steps") && has_val) {
      char *end;
      if ((rc = nn_cli_once("train", a, &seen_stop))) break;
      stop_at = strtoll(argv[++i], &end, 10);
      if (*end || stop_at < 1) rc = NN_FAIL(NN_EINVAL, "train: --stop-after-steps wants a step number >= 1, got '%s'", argv[i]);
    } else {
      rc = NN_FAIL(NN_EINVAL, "train: unknown or incomplete option '%s' (see nnmpi train --help)", a);
    }
  }
  if (!rc) rc = nn_cli_regular_input("train", "-c", cfg_path, NN_ECONFIG);
  if (!rc && strcmp(resume, "auto") && strcmp(resume, "never"))
    rc = nn_cli_regular_input("train", "--resume", resume, NN_ECKPT);
  if (!rc) rc = nn_dist_init(&argc, &argv);
  char *effective = NULL;
  nn_config cfg;
  nn_config_defaults(&cfg);
  if (!rc) rc = load_config(&cfg, &effective, cfg_path, n_sets, sets);
  FILE *log = nn_dist_rank() == 0 ? stdout : NULL;
  if (!rc && log) {
    fprintf(log, "nnmpi train: %d rank(s), config %s%s\n", nn_dist_size(), cfg_path ? cfg_path : "(built-in defaults)",
            n_sets ? " with --set overrides" : "");
    fprintf(log, "---- effective config\n%s----\n", effective);
    fflush(log);
  }
  if (!rc) {
    const char *end = getenv("SLURM_JOB_END_TIME");
    nn_train_opts o = {.config_text = effective, .resume = resume, .force = force, .log = log,
                       .warn = nn_dist_rank() == 0 ? stderr : NULL,
                       .tty = log && is_terminal(fileno(log)), .stop_flag = &stop_requested,
                       .end_time = end ? atof(end) : 0, .stop_at_step = stop_at};
    nn_train_result res;
    rc = nn_train(&cfg, &o, &res);
    if (rc == NN_ESTOPPED) NN_FAIL(NN_ESTOPPED, "checkpoint %s written at step %lld; run the same command to resume",
                                   res.last_ckpt, (long long)res.prog.step);
  }
  free(effective);
  free(sets);
  return rc;
}
