/* synth: synthetic datasets (spirals, rings, blobs, teacher) drawn from the counter-based rng.
 * Layer 3, libc + rng only (no HDF5, never prints). Row i of a stream is a pure function of
 * (kind, seed, stream, i, d, k, noise), so any block of rows can be generated alone and train and
 * test come from the same distribution (shared per-dataset parameters such as blob centres and
 * teacher weights) while holding different rows. */
#ifndef NNMPI_SYNTH_H
#define NNMPI_SYNTH_H

#include <stdbool.h>
#include <stdint.h>

#include "nnmpi/rng.h"

/* Row streams: training rows and test rows never share random numbers. The per-dataset
 * parameters use a third stream, NN_SYNTH_STREAM_PARAMS. */
#define NN_SYNTH_STREAM_TRAIN ((uint64_t)NN_STREAM_SYNTH)
#define NN_SYNTH_STREAM_TEST (((uint64_t)NN_STREAM_SYNTH << 32) | 1u)
#define NN_SYNTH_STREAM_PARAMS (((uint64_t)NN_STREAM_SYNTH << 32) | 2u)

/* Fills in and checks the shape of a kind. In: *d, *k requested (0 = natural), *noise
 * requested (< 0 = natural). Out: the values to use and whether it is classification (labels y,
 * k = classes) or regression (targets Y with k columns).
 *   spirals  d = 2, k = 2 arms (k >= 2), noise 0.05   classification; needs a hidden layer
 *   rings    d = 2, k = 2 rings (k >= 2), noise 0.08  classification
 *   blobs    d = 2, k = 3 blobs,          noise 1.0   classification (blob std; centres N(0, 4^2))
 *   teacher  d = 8, k = 2 targets,        noise 0.01  regression: Y = tanh(X W1 + b1) W2 + b2 + noise
 * NN_EINVAL (with message) for an unknown kind or unsupported d/k/noise. */
int nn_synth_resolve(const char *kind, int *d, int *k, float *noise, bool *classification);

/* Rows [row0, row0 + n) of stream (seed, stream) of kind with resolved (d, k, noise):
 * X (n, d) float32; for classification y (n) with y[i] = (row0 + i) % k (exactly balanced) and
 * Y unused (may be NULL); for regression Y (n, k) and y unused (may be NULL).
 * NN_EINVAL for an unknown kind or bad shape (as nn_synth_resolve). */
int nn_synth_fill(const char *kind, uint64_t seed, uint64_t stream, int64_t row0, int64_t n, int d,
                  int k, float noise, float *X, int32_t *y, float *Y);

#endif
