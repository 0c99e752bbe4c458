/* config: the run configuration — defaults, INI parsing (inih), --set overrides, validation,
 * and INI output. Layer 3 (its own library, above the numerical core): libc + inih, and the
 * core's descriptions of a network (net.h) and an optimiser (optim.h), which its [model] and
 * [optim] sections are. One table of keys (config.c) drives parsing, printing, and the
 * generated reference docs/config.md, so they cannot drift. */
#ifndef NNMPI_CONFIG_H
#define NNMPI_CONFIG_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "nnmpi/net.h"
#include "nnmpi/optim.h"

enum { NN_PATH_MAX = 1024 };

typedef enum { NN_SAMPLING_GLOBAL, NN_SAMPLING_SHARD } nn_sampling;
typedef enum { NN_REDUCE_FAST, NN_REDUCE_EXACT } nn_reduce;
typedef enum { NN_SHARD_AUTO, NN_SHARD_ON, NN_SHARD_OFF } nn_shard_mode;
typedef enum { NN_PROGRESS_AUTO, NN_PROGRESS_BAR, NN_PROGRESS_LINES, NN_PROGRESS_NONE } nn_progress;

typedef struct nn_config {
  nn_net_spec model;             /* [model] */
  struct {
    char path[NN_PATH_MAX];      /* dataset file; "" = built-in synthetic set (data.synth) */
    char train[128];             /* group of the training split, "/train" */
    char eval[128];              /* group evaluated each epoch, "/test"; "" = none */
    nn_sampling sampling;
    char synth[32];              /* spirals | rings | blobs | teacher (when path is "") */
    int synth_samples;           /* rows of the built-in synthetic training set */
    int ranks_per_node;          /* test setting: treat every K ranks as one node; 0 = real nodes */
  } data;
  struct {
    int epochs;
    int batch_size;              /* global batch size, split across ranks */
    bool drop_last;              /* drop the last partial batch of an epoch */
    int64_t max_steps;           /* stop after this global step; 0 = no limit */
    int eval_every;              /* evaluate every N epochs; 0 = never */
    int blas_threads;            /* BLAS threads per rank */
    int watchdog_seconds;        /* a collective stalled this long is an error; 0 = off */
    nn_reduce reduce;            /* fast: float allreduce; exact: same bits on any rank count */
    int exact_chunks;            /* exact: each global batch is this many fixed chunks; 0 = auto */
    nn_shard_mode shard_optimizer; /* optimiser state and update split across ranks (ZeRO-1) */
    nn_shard_mode node_memory;   /* one node, sharded: reduce and update in node-shared memory */
  } train;
  nn_optim_spec optim;           /* [optim] */
  struct {
    char dir[NN_PATH_MAX];       /* "" = <log.run_dir>/checkpoints */
    int64_t every_steps;         /* 0 = off */
    double every_seconds;        /* 0 = off */
    bool every_epoch;
    bool at_end;
    int keep;                    /* newest checkpoints kept */
    int keep_every_epochs;       /* also keep one every K epochs forever; 0 = off */
    bool continue_on_error;      /* a failed write warns and training goes on */
  } checkpoint;
  struct {
    char run_dir[NN_PATH_MAX];   /* metrics and checkpoints go here */
    int every_steps;             /* one progress line every N steps (non-terminal output) */
    nn_progress progress;
    char trace[32];              /* timeline of a window of steps: false | true | FIRST-LAST */
  } log;
} nn_config;

/* Fills every field with its documented default. */
void nn_config_defaults(nn_config *c);

/* Parses INI text into c (on top of what c holds). origin names the text in messages
 * ("configs/x.ini"). Unknown section/key, bad value or a key given twice →
 * NN_ECONFIG with "origin:line: ..." recorded. */
int nn_config_parse(nn_config *c, const char *text, const char *origin);

/* Applies one "section.key=value" override. NN_ECONFIG names the argument on failure. */
int nn_config_set(nn_config *c, const char *assignment);

/* Cross-field checks (layer list vs activation/loss pairs, ranges). NN_ECONFIG on failure. */
int nn_config_validate(const nn_config *c);

/* train.exact_chunks = 0 (auto) means chunks of this many rows. */
enum { NN_EXACT_CHUNK_ROWS = 32 };
/* The chunks per global batch of reduce = exact: train.exact_chunks, or for 0 (auto)
 * batch_size / NN_EXACT_CHUNK_ROWS (at least 1). At most that many ranks can run. */
int nn_config_exact_chunks(const nn_config *c);

/* Steps traced when log.trace = true. */
enum { NN_TRACE_DEFAULT_STEPS = 100 };
/* The window of log.trace: steps [*first, *last] (1-based global steps); false when off.
 * log.trace is validated by nn_config_validate. */
bool nn_config_trace_steps(const nn_config *c, int64_t *first, int64_t *last);

/* The one way train, config and gradcheck build a config: defaults, then the INI file at path
 * (when non-NULL; a text file of at most 16 MiB), then each of the n_sets "section.key=value"
 * overrides in order, then nn_config_validate. NN_ECONFIG (message names file:line or the
 * --set argument) / NN_ENOMEM. */
int nn_config_load(nn_config *c, const char *path, int n_sets, char **sets);

/* Writes c as INI text that nn_config_parse accepts again. Returns NN_OK or NN_EIO. */
int nn_config_write(const nn_config *c, FILE *out);

/* Same into a malloc'ed NUL-terminated string (caller frees); NULL on ENOMEM. */
char *nn_config_to_string(const nn_config *c);

/* Calls fn(section, key, value, arg) for every key of the table in table order, value being
 * the key's value in c formatted as nn_config_write writes it (e.g. "optim", "lr", "0.01"). */
void nn_config_each(const nn_config *c, void (*fn)(const char *section, const char *key, const char *value, void *arg),
                    void *arg);

/* Writes the Markdown reference of every key (docs/config.md). */
int nn_config_write_doc(FILE *out);

/* Compares the keys that give checkpointed state its meaning ([model] sizes, activations,
 * loss; optimiser name; data.sampling; train.batch_size). Writes "key: a vs b" lines for each
 * difference into diff (cap bytes). Returns the number of differing keys. */
int nn_config_diff_state(const nn_config *a, const nn_config *b, char *diff, size_t cap);

#endif
