/* rng: counter-based generator (a SplitMix64-style mix of seed, stream and counter).
 * Layer 0, libc only. */
#include "nnmpi/rng.h"

#include <math.h>

static uint64_t mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

nn_rng nn_rng_make(uint64_t seed, uint64_t stream) { return (nn_rng){seed, stream, 0}; }

uint64_t nn_rng_u64(nn_rng *r) {
  uint64_t key = mix64(r->seed ^ mix64(r->stream + 0x9E3779B97F4A7C15ull));
  return mix64(key + 0x9E3779B97F4A7C15ull * ++r->counter);
}

float nn_rng_uniform(nn_rng *r) { return (float)(nn_rng_u64(r) >> 40) * (1.0f / 16777216.0f); }

float nn_rng_normal(nn_rng *r) {
  /* u1 in (0, 1] so log() is finite */
  double u1 = ((double)(nn_rng_u64(r) >> 11) + 1.0) * (1.0 / 9007199254740992.0);
  double u2 = (double)(nn_rng_u64(r) >> 11) * (1.0 / 9007199254740992.0);
  return (float)(sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2));
}

uint64_t nn_rng_below(nn_rng *r, uint64_t n) {
  uint64_t limit = UINT64_MAX - UINT64_MAX % n; /* reject the incomplete top block */
  uint64_t x;
  do x = nn_rng_u64(r);
  while (x >= limit);
  return x % n;
}

void nn_rng_permutation(uint64_t seed, uint64_t stream, uint32_t *idx, size_t n) {
  nn_rng r = nn_rng_make(seed, stream);
  for (size_t i = 0; i < n; i++) idx[i] = (uint32_t)i;
  for (size_t i = n; i > 1; i--) { /* Fisher-Yates */
    size_t j = (size_t)nn_rng_below(&r, i);
    uint32_t t = idx[i - 1];
    idx[i - 1] = idx[j];
    idx[j] = t;
  }
}
