/* metrics: what a training run reports — progress lines or a bar on rank 0's terminal, a
 * JSON-lines metrics file in the run directory, and the end-of-run time split with
 * min/mean/max over ranks. Layer 5 (private to the trainer): uses dist for the summary. */
#ifndef NNMPI_METRICS_H
#define NNMPI_METRICS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "nnmpi/checkpoint.h"
#include "nnmpi/config.h"
#include "nnmpi/eval.h"
#include "nnmpi/loader.h"
#include "nnmpi/status.h"

enum { NN_T_DATA, NN_T_FORWARD, NN_T_BACKWARD, NN_T_REDUCE, NN_T_OPTIM, NN_T_EVAL, NN_T_CKPT, NN_T_COUNT };

struct nn_trace;

typedef struct nn_timers {
  double t[NN_T_COUNT]; /* seconds per phase on this rank */
  int64_t steps;        /* steps timed */
  int n_ckpt;           /* checkpoints written (for the mean checkpoint time) */
  struct nn_trace *trace; /* log.trace: every phase also goes to the timeline; NULL = off */
} nn_timers;

/* Adds the phase (NN_T_*; NN_T_COUNT is a whole step, traced only) that ran from t0 to t1 to
 * the timers and the trace. Returns t1, so phases can be chained: t = nn_timers_add(tm, P, t, nn_now()). */
double nn_timers_add(nn_timers *tm, int phase, double t0, double t1);

typedef struct nn_metrics {
  FILE *log;            /* rank 0's progress and report stream; NULL elsewhere */
  bool no_progress;     /* log.progress = none: no bar or step lines (evaluations, checkpoints and
                           the summary are still reported) */
  FILE *warn;           /* rank 0's warnings and the lines that matter for data safety, whatever
                           log.progress says; NULL elsewhere */
  FILE *jsonl;          /* <run_dir>/metrics.jsonl (rank 0); NULL elsewhere */
  bool tty;
  int every;            /* log.every_steps */
  int epochs;
  double t_last;        /* time of the last progress output */
  int64_t samples_last; /* samples at t_last */
  int64_t samples_start;/* samples when this run started (resume) */
  double loss_sum;      /* losses since the last output */
  double acc_sum;
  int n_sum;
  double jt_last;       /* the same for metrics.jsonl's step events (every log.every_steps) */
  int64_t jsamples_last;
  double jloss_sum, jacc_sum;
  int jn_sum;
  int64_t steps_start;  /* step when this run started (resume) */
  bool sharded;         /* the optimiser is sharded (for the start event) */
  bool node_memory;     /* ... and reduced and updated in node-shared memory */
  double epoch_t0;
  bool labels;          /* classification: report accuracy (else MSE) */
  char run_dir[NN_PATH_MAX]; /* rank 0: where metrics.jsonl and learning-curves.svg go */
} nn_metrics;

/* Opens <run_dir>/metrics.jsonl for appending (rank 0: run_dir non-NULL). NN_EIO. */
int nn_metrics_open(nn_metrics *m, FILE *log, FILE *warn, bool tty, const nn_config *c, const char *run_dir);
void nn_metrics_close(nn_metrics *m);

void nn_metrics_start(nn_metrics *m, const nn_config *c, const nn_loader *train, const nn_loader *eval,
                      const nn_net *net, const char *resumed_from, const nn_ckpt_progress *p,
                      int64_t steps_per_epoch, const char *ckpt_dir);
/* Starts the epoch's clock (progress bar ETA). */
void nn_metrics_epoch_begin(nn_metrics *m);
/* acc < 0: regression (no accuracy). */
void nn_metrics_step(nn_metrics *m, const nn_ckpt_progress *p, int64_t steps_per_epoch, double loss, double acc,
                     float lr, int64_t rows);
void nn_metrics_eval(nn_metrics *m, const nn_ckpt_progress *p, const nn_eval_result *e, bool labels);
void nn_metrics_checkpoint(nn_metrics *m, const char *path, const nn_ckpt_progress *p, double seconds);
void nn_metrics_stopped(nn_metrics *m, const nn_ckpt_progress *p, const char *ckpt);
/* A warning or a line that matters for data safety ("resumed from", skipped checkpoints, failed
 * checkpoints, stop requests): "nnmpi: ..." on the warn stream, whatever log.progress says. */
void nn_metrics_warn(nn_metrics *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The same without the "nnmpi: " prefix ("resumed from ..."). */
void nn_metrics_note(nn_metrics *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Draws <run_dir>/learning-curves.svg from <run_dir>/metrics.jsonl (rank 0). NN_EIO. */
int nn_curves_write(const char *run_dir);

/* A "failed" event with the error message (rank 0; the run ends with an error). */
void nn_metrics_failed(nn_metrics *m, const nn_ckpt_progress *p, const char *message);

/* Collective: reduces the timers over ranks and prints the run summary (rank 0). */
void nn_metrics_summary(nn_metrics *m, const nn_ckpt_progress *p, const nn_timers *tm, double wall);

#endif
