/* config: the run configuration — defaults, INI parsing (inih), --set overrides, validation,
 * and INI output. Layer 3: libc + inih only. One table of keys (config.c) drives parsing,
 * printing, and the generated reference docs/config.md, so they cannot drift. */
#ifndef NNMPI_CONFIG_H
#define NNMPI_CONFIG_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

enum { NN_MAX_LAYERS = 16, NN_PATH_MAX = 1024 };

typedef enum { NN_ACT_SIGMOID, NN_ACT_TANH, NN_ACT_RELU, NN_ACT_LEAKY_RELU, NN_ACT_LINEAR, NN_ACT_SOFTMAX } nn_act;
typedef enum { NN_LOSS_MSE, NN_LOSS_CROSS_ENTROPY, NN_LOSS_BCE } nn_loss;
typedef enum { NN_INIT_AUTO, NN_INIT_HE_NORMAL, NN_INIT_HE_UNIFORM, NN_INIT_XAVIER_NORMAL, NN_INIT_XAVIER_UNIFORM } nn_init;
typedef enum { NN_OPT_SGD, NN_OPT_MOMENTUM, NN_OPT_NESTEROV, NN_OPT_ADAM, NN_OPT_ADAMW } nn_opt_kind;
typedef enum { NN_SCHED_CONSTANT, NN_SCHED_STEP, NN_SCHED_COSINE } nn_sched_kind;
typedef enum { NN_SAMPLING_GLOBAL, NN_SAMPLING_SHARD } nn_sampling;
typedef enum { NN_REDUCE_FAST, NN_REDUCE_EXACT } nn_reduce;
typedef enum { NN_PROGRESS_AUTO, NN_PROGRESS_BAR, NN_PROGRESS_LINES, NN_PROGRESS_NONE } nn_progress;

typedef struct nn_config {
  struct {
    int n_sizes;                 /* number of entries in sizes (layers + 1), >= 2 */
    int sizes[NN_MAX_LAYERS + 1];/* units per layer, input first: "784,256,128,10" */
    nn_act hidden;               /* activation of hidden layers */
    nn_act output;               /* activation of the output layer */
    nn_loss loss;
    float leaky_slope;           /* slope of leaky_relu for z < 0 */
    nn_init init;                /* auto = He for relu-family hidden layers, Xavier otherwise */
    uint64_t seed;               /* weights init and all sampling */
  } model;
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
    int exact_chunks;            /* exact: each global batch is this many fixed chunks of rows */
  } train;
  struct {
    nn_opt_kind name;
    float lr;
    float momentum;
    float beta1, beta2, eps;
    float weight_decay;          /* L2 (sgd/momentum/nesterov/adam) or decoupled (adamw) */
    float clip_norm;             /* clip gradients to this global L2 norm; 0 = off */
    nn_sched_kind schedule;
    int64_t step_size;           /* step schedule: multiply lr by gamma every step_size steps */
    float gamma;
    int64_t warmup_steps;        /* linear warmup from 0 in front of any schedule */
    float min_lr;                /* cosine floor */
  } optim;
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

/* Writes c as INI text that nn_config_parse accepts again. Returns NN_OK or NN_EIO. */
int nn_config_write(const nn_config *c, FILE *out);

/* Same into a malloc'ed NUL-terminated string (caller frees); NULL on ENOMEM. */
char *nn_config_to_string(const nn_config *c);

/* Writes the Markdown reference of every key (docs/config.md). */
int nn_config_write_doc(FILE *out);

/* Names of enum values as they appear in INI ("relu", "cross_entropy", ...). */
const char *nn_act_name(nn_act a);
const char *nn_loss_name(nn_loss l);
const char *nn_opt_name(nn_opt_kind o);

/* Compares the keys that give checkpointed state its meaning ([model] sizes, activations,
 * loss; optimiser name; data.sampling; train.batch_size). Writes "key: a vs b" lines for each
 * difference into diff (cap bytes). Returns the number of differing keys. */
int nn_config_diff_state(const nn_config *a, const nn_config *b, char *diff, size_t cap);

#endif
