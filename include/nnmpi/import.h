/* import: dataset files from other formats — MNIST-style IDX, CSV, and the synthetic sets of
 * synth.h — each streamed in blocks of ~1 MiB of rows through dataset_write.h.
 * Layer 4: zlib, dataset_write, synth, libc; never calls MPI_*, never prints. Errors name the
 * input file and, for text, the line and column. */
#ifndef NNMPI_IMPORT_H
#define NNMPI_IMPORT_H

#include <stdbool.h>
#include <stdint.h>

typedef struct nn_import_result {
  int64_t rows;
  int d, k;        /* features; target columns (0: labels) */
  int num_classes; /* classes of this import (the file keeps the max over imports) */
} nn_import_result;

/* MNIST-style IDX files (gzip or plain): images (N, ...) uint8 → X (N, D) uint8 with scale
 * 1/255; labels (N) uint8 → y, each < num_classes. Writes split group of out (append: into an
 * existing file). class_names: NULL or "a,b,...". */
int nn_import_idx(const char *images, const char *labels, const char *out, const char *group, bool append,
                  int num_classes, const char *class_names, nn_import_result *res);

typedef struct nn_csv_options {
  bool header;             /* skip the first line */
  int label_col;           /* 1-based column of integer labels (negative: from the end); 0: none */
  const char *target_cols; /* "a,b,..." 1-based columns of float targets (negative: from end) */
  int num_classes;         /* 0: infer max label + 1 */
  const char *class_names; /* NULL or "a,b,..." */
} nn_csv_options;

/* Numeric comma-separated values, one row per line; all columns but the label/target columns
 * become X (float32). Exactly one of label_col / target_cols is set. */
int nn_import_csv(const char *in, const char *out, const char *group, bool append, const nn_csv_options *opt,
                  nn_import_result *res);

/* Writes nn_synth_fill data (include/nnmpi/synth.h) for kind: /train with n rows from stream
 * NN_SYNTH_STREAM_TRAIN and, when n_test > 0, /test from NN_SYNTH_STREAM_TEST. d, k, noise as
 * resolved by nn_synth_resolve. */
int nn_synth_write(const char *out, const char *kind, uint64_t seed, int64_t n, int64_t n_test, int d, int k,
                   float noise);

#endif
