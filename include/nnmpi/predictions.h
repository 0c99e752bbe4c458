/* predictions: the file `nnmpi predict` writes — model outputs per row as HDF5.
 * Layer 4: HDF5 only; never calls MPI_*. Format in docs/formats.md. */
#ifndef NNMPI_PREDICTIONS_H
#define NNMPI_PREDICTIONS_H

#include <stdbool.h>
#include <stdint.h>

/* Writes path (replacing it) with /outputs (n, k) float32 — probabilities for softmax and
 * sigmoid outputs, raw outputs otherwise — and, when classification, /predicted (n) int32
 * (argmax, or output > 0.5 for one unit). Root attributes: format = "nnmpi-predictions",
 * format_version = 1, model (checkpoint path), data (FILE:/split). Written to path.tmp and
 * renamed. NN_EIO on failure. */
int nn_predictions_write(const char *path, int64_t n, int k, const float *outputs, bool classification,
                         const char *model, const char *data);

#endif
