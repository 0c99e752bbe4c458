/* sampler: which held rows each rank trains on at each step. Pure arithmetic, no MPI.
 * Layer 5 helper (DESIGN.md "Sampling and sharding"):
 *  global: epoch e has one permutation of 0..N-1 drawn from (seed, e); global batch k is its
 *    positions [kB, min((k+1)B, N)); rank r of W takes the contiguous slice
 *    [floor(r·b/W), floor((r+1)·b/W)) of that batch's b rows. Slices differ by at most one row
 *    and the content of every global batch does not depend on W.
 *  shard: rank r holds rows nn_shard_range(N, r, W) and permutes them with (seed, e, r); its
 *    share of each global batch is nn_shard_range(B, r, W) rows of that permutation. Batches then
 *    depend on W (documented in docs/data-loading.md). */
#ifndef NNMPI_SAMPLER_H
#define NNMPI_SAMPLER_H

#include <stdbool.h>
#include <stdint.h>

/* Rows [*lo, *hi) of n that part rank of world owns: floor(rank·n/world) .. floor((rank+1)·n/world).
 * Parts differ by at most one and tile 0..n-1 in rank order. */
void nn_shard_range(int64_t n, int rank, int world, int64_t *lo, int64_t *hi);

typedef struct nn_sampler {
  int64_t n;          /* rows of the split */
  int64_t held;       /* rows this rank holds: n (global) or its shard */
  int64_t batch;      /* global batch size B, >= world */
  bool drop_last;     /* drop the last partial global batch */
  bool shard;         /* shard sampling */
  int rank, world;
  uint64_t seed;
  uint32_t *perm;     /* (held) permutation of the current epoch; caller-owned buffer */
  int64_t epoch;      /* epoch perm was drawn for; -1 = none */
} nn_sampler;

/* Global batches per epoch (the same on every rank). */
int64_t nn_sampler_steps(const nn_sampler *s);

/* Draws the permutation of epoch e into s->perm (no-op when already drawn). */
void nn_sampler_epoch(nn_sampler *s, int64_t e);

/* Held-row indices this rank trains on in global batch k of the current epoch, into rows;
 * returns their count (0 is possible on a shard that ran out). */
int64_t nn_sampler_rows(const nn_sampler *s, int64_t k, uint32_t *rows);

/* Exact reduction (global sampling only): global batch k is cut into n_chunks fixed chunks,
 * chunk j being rows nn_shard_range(b, j, n_chunks) of the batch's b rows; rank r computes the
 * whole chunks nn_shard_range(n_chunks, r, world). Writes the held-row indices of chunk j into
 * rows and returns their count (0 for an empty chunk of a short batch). */
int64_t nn_sampler_chunk(const nn_sampler *s, int64_t k, int j, int n_chunks, uint32_t *rows);

/* Most rows any rank gets in one step (workspace size). */
int64_t nn_sampler_max_rows(const nn_sampler *s);

#endif
