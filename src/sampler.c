/* sampler: batch and rank slicing arithmetic (see sampler.h). Layer 5 helper, libc only. */
#include "nnmpi/sampler.h"

#include "nnmpi/rng.h"

void nn_split_range(int64_t n, int rank, int world, int64_t *lo, int64_t *hi) {
  *lo = n * rank / world;
  *hi = n * (rank + 1) / world;
}

int64_t nn_steps_per_epoch(int64_t n, int64_t b, bool drop_last) {
  return drop_last ? n / b : (n + b - 1) / b;
}

void nn_batch_slice(int64_t n, int64_t b, int64_t k, int rank, int world, int64_t *lo, int64_t *hi) {
  int64_t start = k * b, end = start + b < n ? start + b : n;
  nn_split_range(end - start, rank, world, lo, hi);
  *lo += start, *hi += start;
}

uint64_t nn_epoch_stream(int64_t epoch, int shard_rank) {
  return NN_STREAM_EPOCH0 + (uint64_t)epoch * 65536u + (uint64_t)(shard_rank + 1);
}
