/* step: one global training step — this rank's forward/backward over its rows of the global
 * batch, the gradient reduction (train.reduce fast or exact; one allreduce, or sharded as a
 * reduce-scatter and an allgather), the mean, clipping, the non-finite check and the optimiser
 * update (one fused pass). Layer 5, private to the trainer (src/ only); uses net, optim,
 * sampler, loader, dist; never prints. docs/architecture.md ("The training step") explains it.
 *
 * Sharded (train.shard_optimizer, ZeRO stage 1): the parameters are cut into one slice per rank
 * (whole blocks of NN_STEP_BLOCK values, nn_shard_range of the blocks); rank r keeps the
 * optimiser state of its slice only, updates only that slice of the parameters from its slice
 * of the reduced gradient, and the allgather gives every rank all parameters again. The update
 * of each value is the same arithmetic either way, so sharding changes no bit.
 *
 * Node path (sharded, every rank on one node, train.node_memory): the parameters live once in
 * node-shared memory and each rank's gradient sums in its own region there. After a barrier each
 * rank adds its slice over the regions in rank order and updates that slice of the shared
 * parameters in place; a second barrier ends the step. No MPI reduction and no allgather: the
 * bytes the two halves of an allreduce would copy are read where they lie. */
#ifndef NNMPI_STEP_H
#define NNMPI_STEP_H

#include <stdbool.h>
#include <stdint.h>

#include "metrics.h"
#include "nnmpi/config.h"
#include "nnmpi/dist.h"
#include "nnmpi/loader.h"
#include "nnmpi/net.h"
#include "nnmpi/optim.h"
#include "nnmpi/sampler.h"

/* Parameters per block: the unit of the slices and of the gradient norm's partial sums (the norm
 * is the sum of per-block sums in block order, so it has the same bits sharded or not). */
enum { NN_STEP_BLOCK = 1024 };

typedef struct nn_step {
  /* borrowed */
  const nn_config *c;
  nn_net *net;
  const nn_loader *data;
  nn_sampler *sampler;
  nn_timers *tm;
  float *X, *Y; /* batch scratch of net->cap rows */
  int32_t *y;
  uint32_t *rows; /* net->cap row indices */
  /* owned */
  nn_optim opt; /* the state of this rank's slice [lo, hi) of the parameters */
  bool sharded;
  int64_t lo, hi;
  int *counts; /* sharded: every rank's slice (values; the slices follow each other in rank order) */
  int n_blocks;
  double *blocks;    /* per-block sums of squares (clipping) */
  int64_t *acc;      /* exact: fixed-point gradient sums, n_params + tail */
  int64_t *acc_part; /* exact + sharded: this rank's reduced slice (node path: a piece of it) */
  float *g_part;     /* sharded: this rank's slice of the reduced gradient (node path without
                        clipping: the piece being updated) */
  /* the node path (NULL pointers without it) */
  bool node;        /* chosen at init */
  bool bound;       /* net->params and net->grads point into the block (from the first step) */
  nn_shm shm;       /* the block: params | W gradient regions | W exact regions | scalars | flags */
  float *shm_params;
  float *shm_grads; /* region r (rank r's) at r * g_stride */
  int64_t *shm_acc; /* exact: region r at r * a_stride, n_params + the scalars */
  double *shm_tail; /* fast: rank r's scalars at r * NN_STEP_TAIL_STRIDE */
  double *shm_blocks; /* clipping: block b's sum of squares, written by the rank owning it */
  int *shm_finite;  /* rank r's update was finite, at r * NN_STEP_TAIL_STRIDE */
  size_t g_stride, a_stride;
} nn_step;

/* Doubles between two ranks' scalars in the block (a cache line each). */
enum { NN_STEP_TAIL_STRIDE = 8 };

/* What one step yields besides the update. */
typedef struct nn_step_out {
  double loss, rows, correct; /* sums over the global batch */
  bool stop, ckpt_time;       /* some rank asked to stop; rank 0's clock wants a checkpoint */
} nn_step_out;

/* train.shard_optimizer = auto shards in fast mode when the replicated optimiser state (n_state
 * arrays of P floats) reaches this size: below it the one float allreduce of the replicated path
 * measured faster (docs/performance.md), above it the memory sharding saves on every rank
 * matters more. In exact mode it always shards on 2 or more ranks: the reduce-scatter of the
 * int64 sums and the allgather of float parameters move 3/4 of the bytes of an int64
 * allreduce, and only 1/N of the sums go back to float (6-7 % faster per step at np = 2,
 * bench/results/scaling-exact-shard.txt). */
#define NN_STEP_SHARD_AUTO_BYTES (256.0 * 1024 * 1024)

/* train.node_memory = auto takes the node path (when the ranks share one node and the optimiser
 * is sharded or may be) from this many bytes of parameters: below it the parameters stay in each
 * core's own cache with the replicated MPI path, which measured as fast for the default model's
 * 0.94 MB; from 2.7 MB the node path was 6-19 % faster per step (bench/results/
 * scaling-node-crossover.txt, docs/performance.md). */
#define NN_STEP_NODE_AUTO_BYTES (2.0 * 1024 * 1024)

/* Whether train.node_memory (auto, true, false) wants the node path for P parameters under
 * train.shard_optimizer = shard (true: whenever possible; auto: for an explicitly sharded
 * optimiser, or from NN_STEP_NODE_AUTO_BYTES of parameters). */
bool nn_step_node_wanted(size_t P, nn_shard_mode node_memory, nn_shard_mode shard);

/* Whether train.shard_optimizer = auto shards P parameters with n_state optimiser state arrays
 * on W ranks, in exact mode or not. */
bool nn_step_shard_auto(size_t P, int W, int n_state, bool exact);

/* Sets up s for the borrowed objects already in it (c, net, data, sampler, tm and the scratch):
 * sharding per train.shard_optimizer and the rank count, the node path (train.node_memory, when
 * the ranks share one node), the optimiser of this rank's slice, and the reduction buffers.
 * Collective. NN_ENOMEM, NN_ECONFIG (a slice too large for an MPI count), dist failures.
 * On the node path the first nn_step_run moves net's parameters into the block and points net
 * at it; nn_step_free moves them back (net must outlive s). */
int nn_step_init(nn_step *s);
void nn_step_free(nn_step *s);

/* One global step on batch k of the current epoch at learning rate lr. stop and ckpt_time are
 * this rank's requests (they ride in the reduction, so every rank sees them on the same step).
 * Collective. NN_ENUMERIC for a non-finite loss or gradient or an exact-mode range error, or a
 * dist failure; the caller prefixes the step. */
int nn_step_run(nn_step *s, int64_t k, float lr, bool stop, bool ckpt_time, nn_step_out *out);

/* The whole optimiser state for a checkpoint. Unsharded: *full = &s->opt. Sharded (collective):
 * rank 0 gets the slices of every rank gathered into a new optimiser (*full; release it with
 * nn_step_release_optim), the other ranks *full = NULL. */
int nn_step_gather_optim(nn_step *s, nn_optim **full);
void nn_step_release_optim(nn_step *s, nn_optim *full);

/* Resume: an optimiser for all parameters (t, kind and the whole state, read from a checkpoint)
 * into s->opt: this rank's slice when sharded, all of it otherwise. */
void nn_step_load_optim(nn_step *s, const nn_optim *full);

#endif
