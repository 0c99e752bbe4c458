/* rng: a counter-based random number generator whose whole state is three integers.
 * Layer 0, libc only. Value number c of stream s under seed k is a pure function of (k, s, c),
 * so every rank derives the same numbers without communication and a checkpoint stores the
 * state exactly. */
#ifndef NNMPI_RNG_H
#define NNMPI_RNG_H

#include <stddef.h>
#include <stdint.h>

typedef struct nn_rng {
  uint64_t seed;    /* user seed */
  uint64_t stream;  /* independent stream id (e.g. epoch, purpose) */
  uint64_t counter; /* values drawn so far */
} nn_rng;

/* Streams used by the program, so that purposes never share numbers. */
enum { NN_STREAM_INIT = 1, NN_STREAM_SYNTH = 2, NN_STREAM_GRADCHECK = 3, NN_STREAM_EPOCH0 = 1000 };

nn_rng nn_rng_make(uint64_t seed, uint64_t stream);
uint64_t nn_rng_u64(nn_rng *r);
/* Uniform in [0, 1) with 24 random bits (exactly representable in float). */
float nn_rng_uniform(nn_rng *r);
/* Standard normal (Box-Muller from two fresh draws; no cached value, so state stays 3 ints). */
float nn_rng_normal(nn_rng *r);
/* Uniform integer in [0, n), unbiased; n > 0. */
uint64_t nn_rng_below(nn_rng *r, uint64_t n);
/* idx[0..n) = a uniform permutation of 0..n-1 drawn from stream (seed, stream). */
void nn_rng_permutation(uint64_t seed, uint64_t stream, uint32_t *idx, size_t n);

#endif
