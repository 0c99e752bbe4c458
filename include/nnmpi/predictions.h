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

/* True when path is a regular HDF5 file whose root attribute format is "nnmpi-predictions"
 * (what predict may replace without --force). Never blocks (a FIFO is not opened). */
bool nn_predictions_is_file(const char *path);

/* What a predictions file holds, checked (`nnmpi inspect`). */
typedef struct nn_predictions_info {
  long long format_version;
  int64_t n;          /* rows */
  int k;              /* outputs per row */
  bool has_predicted; /* /predicted (classifiers) */
  char model[1024], data[2048];
  double out_min, out_max; /* over /outputs */
} nn_predictions_info;

/* Reads and verifies a predictions file: /outputs (N, K) float32 with finite values, the
 * optional /predicted (N) integer in 0..max(K, 2)-1, the root attributes. NN_EDATA naming the
 * file and object. */
int nn_predictions_inspect(const char *path, nn_predictions_info *info);

#endif
