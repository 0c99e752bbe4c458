/* loader: makes a training split reachable from every rank — one copy per node in node-shared
 * memory (global sampling) or this rank's contiguous shard in private memory (shard sampling) —
 * and assembles float batches from the held rows. Layer 5: uses dataset (HDF5 reads and row
 * checks) and dist (agreement, node-shared memory). Design: docs/data-loading.md. */
#ifndef NNMPI_LOADER_H
#define NNMPI_LOADER_H

#include <stddef.h>
#include <stdint.h>

#include "nnmpi/config.h"  /* nn_sampling */
#include "nnmpi/dataset.h" /* nn_split_info */
#include "nnmpi/dist.h"    /* nn_shm */
#include "nnmpi/sampler.h" /* nn_shard_range */

/* A loaded split. Rows are held raw, in their storage type: uint8 X stays uint8 (4x smaller
 * than float) and is converted by nn_loader_gather. Every field is read-only for the caller. */
typedef struct nn_loader {
  nn_split_info info;     /* of the whole split (info.n rows in the file) */
  nn_sampling mode;
  int64_t first_row;      /* global index of held row 0 (0 in global mode) */
  int64_t rows_held;      /* rows reachable from this rank (info.n in global mode) */
  const void *X;          /* (rows_held, d) of info.xtype */
  const int32_t *y;       /* (rows_held) labels, or NULL when the split has targets */
  const float *Y;         /* (rows_held, k) targets, or NULL when the split has labels */
  size_t bytes_private;   /* bytes this rank allocated in private memory */
  size_t bytes_shared;    /* bytes of node-shared memory this rank allocated (node rank 0 only) */
  nn_shm shm;             /* the node block in global mode (shm.n_nodes etc. for reports) */
  void *mem;              /* the private block (shard mode, built-in sets); owned */
  char where[1200];       /* what was loaded, for messages: "FILE:/group" or "synthetic spirals (train)" */
} nn_loader;

/* Loads split `group` ("/train") of the dataset file at path. Collective: every rank calls it.
 * global: one block per node (ranks_per_node K > 0 treats every K consecutive ranks as a node,
 *   a test setting; 0 = real nodes), filled cooperatively with hyperslab reads, readable by all
 *   ranks of the node.
 * shard: rank r of N holds rows nn_shard_range(n, r, N) in private memory.
 * Every rank validates the rows it read (label range, finite values). Every rank returns the
 * same status; on failure the message (of the lowest failing rank, naming file, object and
 * row) is recorded on all ranks and *ld is left empty (nn_loader_close is still safe).
 * Errors: NN_EDATA (missing/invalid file, ranks seeing different shapes, bad rows),
 * NN_ENOMEM, NN_EINVAL (bad mode or ranks_per_node < 0), NN_EINTERNAL (MPI failure). */
int nn_loader_open(nn_loader *ld, const char *path, const char *group, nn_sampling mode,
                   int ranks_per_node);

/* Loads a split the caller built in memory (the built-in synthetic sets; every rank holds the
 * same arrays). The arrays are borrowed, not copied: they must stay valid and unchanged until
 * nn_loader_close. X: (info->n, info->d) of info->xtype; exactly one of y (info->n) and
 * Y (info->n, info->k) matches info->has_labels. shard mode exposes rows nn_shard_range of this
 * rank. name ("synthetic spirals") appears in messages. Collective, same status everywhere.
 * Errors: NN_EINVAL (inconsistent info/arrays), NN_EDATA (a bad row). */
int nn_loader_open_memory(nn_loader *ld, const char *name, const nn_split_info *info,
                          const void *X, const int32_t *y, const float *Y, nn_sampling mode);

/* Loads the training (which = "train") or evaluation ("eval") split of c: a split of the
 * dataset file data.path (FILE or FILE:/group, which then names the training split), or the
 * built-in synthetic set data.synth when data.path is empty; then checks it against the
 * model's input and output sizes (messages name "FILE:/group/X"). Collective, same status on
 * every rank; on failure *ld is left empty. */
int nn_loader_open_config(nn_loader *ld, const nn_config *c, const char *which);

/* Assembles a batch from held rows rows[0..n) (indices relative to first_row, < rows_held):
 * out_X (n, d) float with scale/offset applied; labels into out_y or targets into out_Y
 * (pass NULL for the one the split lacks). Local; no allocation. */
void nn_loader_gather(const nn_loader *ld, const uint32_t *rows, int n, float *out_X,
                      int32_t *out_y, float *out_Y);

/* Bytes this rank allocated: private memory and node-shared memory (only node rank 0 of each
 * node counts the block, so sums over ranks give the job's total). Either pointer may be NULL. */
void nn_loader_memory(const nn_loader *ld, size_t *private_bytes, size_t *shared_bytes);

/* Frees what the loader allocated. Collective over the node in global mode. NULL-safe and
 * idempotent; safe on a loader whose open failed or that was zero-initialised. */
void nn_loader_close(nn_loader *ld);

#endif
