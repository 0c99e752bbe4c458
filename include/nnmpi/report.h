/* report: what `nnmpi report` says about training runs — for each run directory its state
 * (running, finished, stopped for requeue, failed), progress, evaluation, throughput, time
 * split, newest valid checkpoint and segments, read from metrics.jsonl, config.ini and the
 * checkpoint directory; the config keys that differ between runs; and one SVG overlaying
 * their learning curves. Reads only: safe on runs in progress (complete JSON lines only).
 * Layer 5 (nntrain); never prints, never calls MPI. */
#ifndef NNMPI_REPORT_H
#define NNMPI_REPORT_H

#include <stdbool.h>
#include <stdint.h>

#include "nnmpi/config.h"

typedef enum {
  NN_RUN_RUNNING,       /* the run directory's lock is held: a live process trains it */
  NN_RUN_RUNNING_GUESS, /* no lock file; no end event and metrics.jsonl changed recently */
  NN_RUN_FINISHED,      /* the last segment ended normally with training complete */
  NN_RUN_STOPPED,       /* stopped after a checkpoint (exit 75) or ended early: resume me */
  NN_RUN_FAILED,        /* a failed event, or a segment without an end event and no process */
} nn_run_state;

enum { NN_RUN_STEP_PHASES = 5 }; /* data, forward, backward, allreduce, optimizer */

typedef struct nn_run_kv {
  char key[64]; /* "optim.lr" */
  char *value;  /* "0.01" (malloc'ed) */
} nn_run_kv;

typedef struct nn_run_report {
  char dir[NN_PATH_MAX];               /* as given */
  char name[NN_PATH_MAX];              /* short name: the dir without the prefix all runs share (nn_report_names) */
  char ckpt_dir[2 * NN_PATH_MAX + 32]; /* where its checkpoints are looked for; "" = unknown */
  nn_run_state state;
  char state_text[192];      /* "finished", "stopped (resume me)", "failed: <message, shortened>", ... */
  char *message;             /* failed: the whole message (malloc'ed), else NULL */
  int64_t step, total_steps; /* steps done; planned (0 = unknown) */
  double epochs_done;        /* fractional when mid-epoch; NAN = unknown */
  int epochs;                /* train.epochs; 0 = unknown */
  int metric;                /* 0 none yet, 1 accuracy, 2 MSE */
  int n_evals;
  double last_metric, last_metric_epoch, best_metric, best_metric_epoch, last_eval_loss;
  double samples_per_s;                  /* NAN = unknown */
  bool samples_per_s_live;               /* from the step events of the running segment */
  double step_share[NN_RUN_STEP_PHASES]; /* share of the step time per phase (last summary); NAN = none */
  double phase_seconds[7];               /* the last summary's seconds per phase incl. eval, checkpoint; NAN = none */
  double train_seconds;                  /* training time over all segments; NAN = unknown */
  char ckpt[2 * NN_PATH_MAX + 64];       /* newest checkpoint that verifies; "" = none */
  char ckpt_note[256];                   /* "none verifies", "2 newer ones do not verify", ... */
  int segments, killed_segments, failed_segments;
  int ranks;           /* of the last segment; 0 = unknown */
  char ranks_text[32]; /* the rank counts of the segments as they changed: "2", "1,2" */
  double last_time;    /* Unix time of the last event; 0 = none */
  bool config_ok;      /* config.ini was read: kv holds every key */
  nn_run_kv *kv;
  int n_kv;
  char notes[1024];      /* what a person should know: skipped lines, unreadable config.ini, ... */
  struct nn_runlog *log; /* the series, for the SVG */
} nn_run_report;

/* Reads run directory dir into r (zeroed first; nn_report_free afterwards either way). now is
 * the current Unix time (for "running?" and ages). NN_EIO when dir or its metrics.jsonl cannot
 * be read (the message names it); a damaged or incomplete metrics.jsonl is not an error. */
int nn_report_read(const char *dir, double now, nn_run_report *r);
void nn_report_free(nn_run_report *r);

/* Sets every run's name to its dir without the leading directories all of them share
 * ("runs/sweep-7/1", "runs/sweep-7/2" -> "1", "2"; one run: its last path component). */
void nn_report_names(nn_run_report *runs, int n);

/* The config keys whose values differ between the runs that have a config (log.run_dir, which
 * always differs, left out), in the table's order: fills keys (pointers into the runs, valid
 * until they are freed; at most cap) and returns the count. */
int nn_report_diff(const nn_run_report *runs, int n, const char **keys, int cap);

/* The value of key in r's config.ini; "?" when it was not read. */
const char *nn_report_value(const nn_run_report *r, const char *key);

/* Writes the learning curves of the runs overlaid into path (SVG), each run labelled with its
 * name and its values of keys[0..n_keys). NN_EIO. */
int nn_report_svg(const nn_run_report *runs, int n, const char *const *keys, int n_keys, const char *path);

#endif
