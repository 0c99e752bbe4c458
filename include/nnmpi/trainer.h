/* trainer: the training loop — data, sampling, forward/backward, one allreduce per step,
 * optimiser step, evaluation, checkpoints, stop requests, metrics and the run report.
 * Layer 5: uses everything below it. Writes progress only to the FILE* it is given (rank 0);
 * never exits. */
#ifndef NNMPI_TRAINER_H
#define NNMPI_TRAINER_H

#include <signal.h>
#include <stdbool.h>
#include <stdio.h>

#include "nnmpi/checkpoint.h"
#include "nnmpi/config.h"

typedef struct nn_train_opts {
  const char *config_text;  /* effective config as INI (stored in every checkpoint) */
  const char *resume;       /* "auto" (default when NULL), "never", or a checkpoint path */
  bool force;               /* with "never": remove existing checkpoints instead of refusing */
  FILE *log;                /* progress and report (rank 0); NULL = silent */
  FILE *warn;               /* warnings, "resumed from", stop requests (rank 0), always; NULL = silent */
  bool tty;                 /* log is a terminal: progress bar instead of lines */
  volatile sig_atomic_t *stop_flag; /* non-zero after SIGUSR1/SIGTERM: checkpoint and stop */
  double end_time;          /* Unix time the allocation ends (SLURM_JOB_END_TIME), 0 = none */
  int64_t stop_at_step;     /* > 0: behave as if asked to stop once this global step is done */
} nn_train_opts;

typedef struct nn_train_result {
  nn_ckpt_progress prog;    /* where training stands at return */
  char run_dir[NN_PATH_MAX];
  char last_ckpt[NN_PATH_MAX + 32]; /* newest checkpoint written or resumed from ("" if none) */
} nn_train_result;

/* Trains per c. Collective: every rank calls it with the same c and options.
 * Returns NN_OK when training is complete (also at once when a resumed checkpoint says so),
 * NN_ESTOPPED after a stop request once the checkpoint is committed, or an error agreed by all
 * ranks (NN_ECONFIG, NN_EDATA, NN_ECKPT, NN_ENUMERIC naming the step, ...). */
int nn_train(const nn_config *c, const nn_train_opts *o, nn_train_result *res);

#endif
