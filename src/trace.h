/* trace: a timeline of the training phases of every rank for a window of steps, written as
 * Chrome trace-event JSON (<run_dir>/trace.json; Perfetto or chrome://tracing open it), one
 * thread per rank, so load imbalance and waiting show at a glance (Horovod's timeline is the
 * model). Layer 5, private to the trainer; uses dist to gather the events to rank 0. */
#ifndef NNMPI_TRACE_H
#define NNMPI_TRACE_H

#include <stdbool.h>
#include <stdint.h>

typedef struct nn_trace {
  int64_t first, last; /* steps traced, inclusive (1-based global steps) */
  int64_t step;        /* the step being run; -1 before the first */
  double origin;       /* this rank's clock when every rank passed the start barrier */
  int n, cap;
  double *ev; /* n events of 4 doubles: step, phase, start, end (seconds from origin) */
} nn_trace;

/* Starts a trace of steps [first, last] (nn_config_trace_steps; collective: a barrier aligns
 * the ranks' clocks). About 8 events of 32 bytes per step and rank are kept. */
int nn_trace_init(nn_trace *t, int64_t first, int64_t last);
void nn_trace_free(nn_trace *t);

/* Records phase (an NN_T_* of metrics.h; the step itself is NN_T_COUNT) of the current step
 * from t0 to t1 (nn_now seconds), when the step is in the window. No allocation after the
 * window is full. */
void nn_trace_add(nn_trace *t, int phase, double t0, double t1);

/* Collective: gathers every rank's events to rank 0, which writes path (names: run_dir). */
int nn_trace_write(nn_trace *t, const char *path);

#endif
