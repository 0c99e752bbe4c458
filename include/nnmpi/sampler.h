/* sampler: which rows each rank trains on at each step. Pure arithmetic, no MPI.
 * Layer 5 helper. Global sampling (DESIGN.md "Sampling and sharding"): epoch e has one
 * permutation of 0..N-1 from (seed, e); global batch k is positions [kB, min((k+1)B, N)); rank r
 * of W takes the contiguous slice [floor(r·b/W), floor((r+1)·b/W)) of it, so slices differ by at
 * most one row and the content of every global batch is independent of W. */
#ifndef NNMPI_SAMPLER_H
#define NNMPI_SAMPLER_H

#include <stdbool.h>
#include <stdint.h>

/* Rows [*lo, *hi) of n that part `rank` of `world` owns: floor(rank·n/world) .. */
void nn_split_range(int64_t n, int rank, int world, int64_t *lo, int64_t *hi);

/* Global batches per epoch of n rows in batches of b (the last partial one kept unless
 * drop_last). */
int64_t nn_steps_per_epoch(int64_t n, int64_t b, bool drop_last);

/* Positions [*lo, *hi) of the epoch permutation that rank trains on in global batch k. */
void nn_batch_slice(int64_t n, int64_t b, int64_t k, int rank, int world, int64_t *lo, int64_t *hi);

/* Stream of the epoch permutation for epoch e (and for shard sampling, of rank r). */
uint64_t nn_epoch_stream(int64_t epoch, int shard_rank);

#endif
