/* checkpoint: HDF5 checkpoint files — write with an atomic commit, read, verify, find the
 * newest valid one, rotate, clean stale temporaries. Layer 4: HDF5, zlib, net, optim.
 * Never calls MPI_* and never prints: rank 0 calls it, the trainer agrees on the result.
 * File format and commit protocol: docs/formats.md ("Checkpoint files").
 * Files: checkpoint.c (write, read, verify), checkpoint_header.c (the user-block header and
 * CRCs), checkpoint_dir.c (names, newest valid, rotation, clean-up). */
#ifndef NNMPI_CHECKPOINT_H
#define NNMPI_CHECKPOINT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nnmpi/net.h"
#include "nnmpi/optim.h"

enum { NN_CKPT_FORMAT_VERSION = 1 };

/* Where training stands: everything besides weights and optimiser state that resume needs.
 * (Named nn_ckpt_progress because config.h uses nn_progress for log.progress.) */
typedef struct nn_ckpt_progress {
  int64_t epoch;        /* epoch of the next batch to train, 0-based */
  int64_t batch;        /* next batch within that epoch (0 = at an epoch boundary) */
  int64_t step;         /* global optimiser steps done; names the file */
  int64_t samples;      /* training samples seen */
  double elapsed;       /* training seconds so far, summed over all runs */
  int world_size;       /* ranks of the run that saved (information; resume may use others) */
  uint64_t seed;        /* model.seed: permutations and init derive from (seed, stream) */
  int complete;         /* 1 when training finished: a resumed job exits 0 at once */
  int eval_epoch;       /* epoch of the last evaluation, -1 = none yet */
  double eval_loss;     /* mean loss of the last evaluation */
  double eval_metric;   /* accuracy (classification) or mse (regression) */
  double eval_metric2;  /* mae (regression); 0 for classification */
} nn_ckpt_progress;

/* What goes into a checkpoint. The pointers are borrowed. */
typedef struct nn_ckpt_data {
  const char *config_text; /* full INI text of the effective config */
  nn_net *net;
  nn_optim *opt;
  nn_ckpt_progress prog;
} nn_ckpt_data;

/* Summary of a verified checkpoint (nn_ckpt_inspect). */
typedef struct nn_ckpt_info {
  int format_version;
  char nnmpi_version[32];
  char created[32];        /* ISO 8601 UTC, "2024-05-01T12:00:00Z" */
  char config_digest[32];  /* "fnv1a64:<16 hex digits>" of the config text */
  char *config_text;       /* malloc'ed; freed by nn_ckpt_info_free */
  int n_layers;
  int sizes[NN_MAX_LAYERS + 1];
  char hidden[24], output[24], loss[24]; /* names as in the config ("relu", "none" if L = 1) */
  float leaky_slope;
  char optimizer[24];
  int64_t opt_t;
  int n_state;
  char state_names[2][16];
  nn_ckpt_progress prog;
  int n_arrays;            /* arrays whose CRC32 was verified */
  int64_t file_bytes;
} nn_ckpt_info;

/* Writes d as <dir>/ckpt-<step, 8+ digits>.h5 (step = d->prog.step): writes <name>.tmp in
 * dir, closes and fsyncs it, renames it to <name>, fsyncs dir. An existing file of that name
 * is replaced atomically. dir must exist. On success the final path goes to path_out (cap
 * bytes; may be NULL). On any failure the .tmp is removed, no file appears under the final
 * name, other checkpoints are untouched, and NN_ECKPT names the path and the cause (strerror
 * text such as "No space left on device"). NN_EINVAL for inconsistent d (net/opt sizes). */
int nn_ckpt_write(const char *dir, const nn_ckpt_data *d, char *path_out, size_t cap);

/* Verifies path completely, then checks that its architecture matches d->net (layer sizes,
 * activations, loss, leaky slope if used) and its optimiser matches d->opt (kind, size), and
 * only then fills d->net params, d->opt state and t, and d->prog. d->config_text is not
 * touched. On any failure nothing is modified and NN_ECKPT says what differs, e.g.
 * "model layers: checkpoint 784,256,10 vs config 784,128,10". NN_ENOMEM. */
int nn_ckpt_read(const char *path, nn_ckpt_data *d);

/* Verifies path and returns its config text in *text (malloc'ed, caller frees).
 * NN_ECKPT / NN_ENOMEM; *text is NULL on failure. */
int nn_ckpt_read_config(const char *path, char **text);

/* Full verification without a net: header, file length, file CRC32, format attributes,
 * config digest, every array's shape against the layer sizes and its CRC32. NN_OK or NN_ECKPT
 * ("<path>: <cause>"). */
int nn_ckpt_verify(const char *path);

/* nn_ckpt_verify that also fills info (zeroed first; on failure it holds what was read before
 * the failure, and config_text may be set). Call nn_ckpt_info_free afterwards either way. */
int nn_ckpt_inspect(const char *path, nn_ckpt_info *info);
void nn_ckpt_info_free(nn_ckpt_info *info);

/* The newest checkpoint in dir (by the step in its name) that verifies and whose /progress
 * step is the step of its name. Each newer file that fails is appended to skipped
 * (skipped_cap bytes, may be NULL/0) as one line "ckpt-00000300.h5: <reason>\n"; so is an
 * entry that is not a regular file (a FIFO, a directory: never opened, not counted).
 * Returns NN_OK with path_out set; NN_OK with path_out "" when dir does not exist or holds no
 * checkpoint files; NN_ECKPT when checkpoint files exist but none verifies (the message lists
 * them: training must not silently start over), or dir is not a readable directory. */
int nn_ckpt_find_latest(const char *dir, char *path_out, size_t cap, char *skipped,
                        size_t skipped_cap);

/* Deletes old checkpoints of dir after the checkpoint of step `written` was written there.
 * Never touched: the file of step `written` and every file with a higher step (a copy, another
 * branch), entries that are not regular files, and files whose header records another step
 * than their name. Of the older ones, sorted by step, the newest max(keep, 1) - 1 stay (with
 * the one just written, max(keep, 1)). When keep_every_epochs = K > 0, an older one also stays
 * if its header records an epoch boundary (batch 0) after a multiple of K epochs (epoch > 0,
 * epoch % K == 0). Others (also those whose header is damaged) are unlinked. NN_OK or
 * NN_ECKPT (dir unreadable, unlink failed). */
int nn_ckpt_rotate(const char *dir, int64_t written, int keep, int keep_every_epochs);

/* Resuming from an older checkpoint (of step `step`) starts a branch: every checkpoint file of
 * dir with a higher step in its name (regular files; except the file `except`, may be NULL) is
 * moved into a new directory dir/superseded-<UTC time, 20240501T120000Z> (path into moved_to,
 * cap bytes), so that neither rotation nor the branch's own checkpoints of the same steps can
 * destroy them. *moved gets the count, *first / *last the lowest and highest step moved (-1
 * when none). Nothing is created when nothing is newer. NN_OK or NN_ECKPT naming the file. */
int nn_ckpt_supersede(const char *dir, int64_t step, const char *except, char *moved_to, size_t cap, int *moved,
                      int64_t *first, int64_t *last);

/* Deletes every checkpoint file (ckpt-<digits>.h5) of dir (--resume never --force). A
 * missing dir is NN_OK; NN_ECKPT names a file that cannot be removed. */
int nn_ckpt_remove_all(const char *dir);

/* Removes stale "ckpt-<digits>.h5.tmp" files left by a crashed write (call at start-up, when
 * no writer is active). *removed (may be NULL) gets the count. A missing dir is NN_OK. */
int nn_ckpt_clean_tmp(const char *dir, int *removed);

/* True when path starts with the checkpoint header ("nnmpi-checkpoint "), without HDF5:
 * lets `nnmpi inspect` route damaged checkpoints here before the HDF5 parser sees them. */
bool nn_ckpt_is_checkpoint(const char *path);

/* The file name of a step: "ckpt-00000300.h5" (into buf of cap bytes). */
void nn_ckpt_name(int64_t step, char *buf, size_t cap);

#endif
