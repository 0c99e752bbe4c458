/* runlog: a run's history read back from its metrics.jsonl — the training and evaluation
 * series, and one segment per start event (a resumed or requeued run appends a segment) with
 * how it ended. What the learning curves (curves.c) and `nnmpi report` (report.c) draw and
 * tabulate. Layer 5 (private); libc only.
 *
 * Reading is safe on a file another process is appending to: only complete lines (ending in
 * '\n') count; lines that are not one JSON object, unknown events and unknown fields are
 * skipped. When a segment starts at step S, points after S from earlier segments are dropped:
 * the resumed run redid those steps (a run killed after its last checkpoint), so the series
 * show the history of the weights the run has now. */
#ifndef NNMPI_RUNLOG_H
#define NNMPI_RUNLOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum { NN_RL_PHASES = 7 };
/* The phases of a summary event, in its order: data, forward, backward, allreduce, optimizer
 * (these five are the training step), eval, checkpoint. */
extern const char *const nn_rl_phase_names[NN_RL_PHASES];

typedef enum { NN_RL_METRIC_NONE, NN_RL_ACCURACY, NN_RL_MSE } nn_rl_metric;

/* One step event: means over the steps since the previous one. */
typedef struct nn_rl_point {
  double step, time, loss;
  double acc; /* training accuracy; NAN for regression */
  double sps; /* samples/s over the interval */
  bool pause; /* the interval holds an evaluation or a checkpoint (its samples/s counts their time) */
} nn_rl_point;

typedef struct nn_rl_eval {
  double step, epoch, time, loss;
  double metric; /* accuracy or MSE (nn_runlog.metric) */
} nn_rl_eval;

typedef enum {
  NN_RL_OPEN,    /* no end event (yet): running, or killed */
  NN_RL_DONE,    /* a summary without a stopped event: the segment ended normally */
  NN_RL_STOPPED, /* a stopped event: checkpoint written, exit 75, resume me */
  NN_RL_FAILED   /* a failed event */
} nn_rl_end;

typedef struct nn_rl_segment {
  double t_start, t_last;  /* times (Unix seconds) of the start event and of the segment's last event */
  double max_gap;          /* the longest time between two consecutive events of the segment */
  int64_t step0, step;     /* step at the start, and at the segment's last event */
  int64_t epoch0;          /* epochs completed at the start */
  int64_t summary_epoch;   /* epochs completed per the summary event; -1 = none */
  int epochs;              /* train.epochs of the segment */
  int64_t steps_per_epoch; /* 0 = unknown */
  int ranks, nodes, batch_size;
  bool resumed;
  nn_rl_end end;
  bool summary;  /* has a summary event */
  char *message; /* failed: its message (malloc'ed) */
  /* from the summary */
  int64_t samples_this_run, steps_this_run;
  double wall, elapsed, sps;
  double phase[NN_RL_PHASES]; /* seconds (mean over ranks) */
  bool has_phases;
  /* from the step events */
  double sps_last; /* samples/s of the last step event; NAN = none */
  bool pause;      /* an eval or checkpoint event since the last step event */
} nn_rl_segment;

typedef struct nn_runlog {
  nn_rl_point *pts;
  int n_pts, cap_pts;
  nn_rl_eval *evals;
  int n_evals, cap_evals;
  nn_rl_segment *seg;
  int n_seg, cap_seg;
  nn_rl_metric metric;
  char *last_ckpt;     /* path of the last checkpoint written (checkpoint or stopped event), malloc'ed */
  char last_event[16]; /* "" when no event was read */
  double last_time;    /* time of the last event; 0 = none */
  int64_t lines;       /* complete lines read */
  int64_t bad_lines;   /* of those, lines that are not a JSON object */
  int64_t first_bad;   /* line number of the first one */
  bool partial;        /* the file ends in an incomplete line (being written) */
  bool oom;            /* memory ran out: the series are incomplete */
} nn_runlog;

/* Reads path into rl (zeroed first). NN_EIO names path when it cannot be opened or read;
 * the contents are never an error. */
int nn_runlog_read(const char *path, nn_runlog *rl);
/* Adds text[0..len) to rl as read from a file (rl zeroed before the first call): lines without
 * their final '\n' mark rl->partial and are not used. For tests and nn_runlog_read. */
void nn_runlog_parse(nn_runlog *rl, const char *text, size_t len);
void nn_runlog_free(nn_runlog *rl);

/* path opened for reading when it is a regular file, without blocking on a FIFO or device;
 * NULL with errno set otherwise (EINVAL: not a regular file). */
FILE *nn_runlog_open_file(const char *path);

/* The last step the run reached (last event of any kind that names a step); 0 when none. */
int64_t nn_runlog_last_step(const nn_runlog *rl);

#endif
