/* sampler: epoch permutations and per-rank batch slices (see sampler.h). Layer 5 helper,
 * libc + rng only. */
#include "nnmpi/sampler.h"

#include <string.h>

#include "nnmpi/rng.h"

/* floor(r·n/w) without overflowing r·n: n = q·w + m gives r·q + floor(r·m/w). */
static int64_t part_start(int64_t n, int r, int w) { return r * (n / w) + r * (n % w) / w; }

void nn_shard_range(int64_t n, int rank, int world, int64_t *lo, int64_t *hi) {
  *lo = part_start(n, rank, world);
  *hi = part_start(n, rank + 1, world);
}

static int64_t steps(int64_t n, int64_t b, bool drop_last) { return drop_last ? n / b : (n + b - 1) / b; }

int64_t nn_sampler_steps(const nn_sampler *s) {
  if (!s->shard) return steps(s->n, s->batch, s->drop_last);
  /* shard: the rank needing most batches of its share sets the count (fewest with drop_last) */
  int64_t best = s->drop_last ? INT64_MAX : 0;
  for (int q = 0; q < s->world; q++) {
    int64_t nlo, nhi, blo, bhi;
    nn_shard_range(s->n, q, s->world, &nlo, &nhi);
    nn_shard_range(s->batch, q, s->world, &blo, &bhi);
    int64_t k = steps(nhi - nlo, bhi - blo, s->drop_last);
    best = s->drop_last ? (k < best ? k : best) : (k > best ? k : best);
  }
  return best;
}

void nn_sampler_epoch(nn_sampler *s, int64_t e) {
  if (s->epoch == e) return;
  /* global: one stream per epoch, the same on every rank; shard: one per (epoch, rank) */
  uint64_t stream = NN_STREAM_EPOCH0 + (uint64_t)e * 65536u + (s->shard ? (uint64_t)s->rank + 1 : 0);
  nn_rng_permutation(s->seed, stream, s->perm, (size_t)s->held);
  s->epoch = e;
}

int64_t nn_sampler_rows(const nn_sampler *s, int64_t k, uint32_t *rows) {
  int64_t lo, hi;
  if (s->shard) {
    int64_t blo, bhi;
    nn_shard_range(s->batch, s->rank, s->world, &blo, &bhi);
    int64_t b = bhi - blo;
    lo = k * b < s->held ? k * b : s->held;
    hi = lo + b < s->held ? lo + b : s->held;
  } else {
    int64_t start = k * s->batch, end = start + s->batch < s->n ? start + s->batch : s->n;
    nn_shard_range(end - start, s->rank, s->world, &lo, &hi);
    lo += start, hi += start;
  }
  memcpy(rows, s->perm + lo, sizeof(uint32_t) * (size_t)(hi - lo));
  return hi - lo;
}

int64_t nn_sampler_chunk(const nn_sampler *s, int64_t k, int j, int n_chunks, uint32_t *rows) {
  int64_t start = k * s->batch, end = start + s->batch < s->n ? start + s->batch : s->n, lo, hi;
  nn_shard_range(end - start, j, n_chunks, &lo, &hi);
  memcpy(rows, s->perm + start + lo, sizeof(uint32_t) * (size_t)(hi - lo));
  return hi - lo;
}

int64_t nn_sampler_max_rows(const nn_sampler *s) { return (s->batch + s->world - 1) / s->world; }
