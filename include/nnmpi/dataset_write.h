/* dataset_write: writing nnmpi dataset files (docs/formats.md) — the one writer used by the IDX
 * and CSV importers and the synthetic generators — plus small HDF5 helpers shared by the
 * dataset units and the data/inspect commands. Layer 4: HDF5, zlib, libc; never calls MPI_*,
 * never prints. Every function returns NN_OK or NN_EDATA/NN_EIO/NN_EINVAL/NN_ENOMEM with a
 * message (nn_errmsg) naming the file, object and, for text input, the line. */
#ifndef NNMPI_DATASET_WRITE_H
#define NNMPI_DATASET_WRITE_H

#include <hdf5.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nnmpi/dataset.h"

#define NN_DATASET_FORMAT "nnmpi-dataset"
#define NN_DATASET_FORMAT_VERSION 1

/* ---- HDF5 helpers */

/* Turns off HDF5's own error printing for this thread (failures become NN_FAIL messages). */
void nn_h5_quiet(void);
/* The most specific description on the current HDF5 error stack ("" if none). Static buffer,
 * valid until the next call in this thread. */
const char *nn_h5_errstr(void);
/* Opens path read-only; NN_EDATA with "path: no such file" / "not an HDF5 file" / the HDF5
 * reason (e.g. truncated file). The caller closes *file with H5Fclose. */
int nn_h5_open_ro(const char *path, hid_t *file);
/* Reads a string attribute (fixed or variable length) of obj into buf. Returns 1 when read,
 * 0 when absent, NN_EDATA when present but not a string (no message: caller words it). */
int nn_h5_attr_str(hid_t obj, const char *name, char *buf, size_t cap);
/* Reads an integer attribute (any integer type, scalar or 1 element). 1 / 0 / NN_EDATA. */
int nn_h5_attr_int(hid_t obj, const char *name, long long *v);
/* A short name of an HDF5 datatype: "uint8", "int32", "float32", "string", "compound"... */
void nn_h5_type_name(hid_t type, char *buf, size_t cap);

/* ---- writer */

/* Root attributes merged into the file when it is closed. */
typedef struct nn_dataset_meta {
  int num_classes;         /* classes of y; 0 for regression. The file keeps max(old, new). */
  const char *class_names; /* NULL or one comma-separated string with num_classes names */
  const char *source;      /* NULL or free text; appended to an existing source with "; " */
} nn_dataset_meta;

/* Creates path (truncating any existing file) with format/format_version attributes, or with
 * append opens an existing nnmpi dataset file to add splits (creating it when missing).
 * *created tells whether a new file was made (so a failed import can remove it). */
int nn_dataset_create(const char *path, bool append, hid_t *file, bool *created);
/* Merges meta into the root attributes: num_classes = max(file, meta), class_names (NN_EDATA when
 * they conflict with the file's or their count differs from num_classes; nothing is written
 * then), source appended. Importers call it before committing their split, so a refusal leaves
 * no half-described split behind. */
int nn_dataset_set_meta(hid_t file, const char *path, const nn_dataset_meta *meta);
/* nn_dataset_set_meta (when meta is non-NULL), then closes the file. */
int nn_dataset_close(hid_t file, const char *path, const nn_dataset_meta *meta);

/* A split being written: row-chunked extendible datasets with shuffle + deflate + Fletcher32. */
typedef struct nn_split_writer {
  hid_t file, group, X, y; /* y is labels y (N) int32 or targets Y (N, K) float32 */
  nn_dtype xtype;
  int d, k;                /* k == 0: labels y */
  int64_t n;               /* rows appended so far */
  char path[512], name[256];
} nn_split_writer;

/* Creates group name (e.g. "/train") with X (0, d) of xtype (uint8 X gets scale/offset
 * attributes) and y (k == 0) or Y (0, k). NN_EDATA when the group already exists. */
int nn_dataset_split_begin(nn_split_writer *w, hid_t file, const char *path, const char *name,
                           nn_dtype xtype, int d, float scale, float offset, int k);
/* Appends nrows rows: X (nrows, d) of xtype, and y (nrows) or Y (nrows, k). */
int nn_dataset_split_append(nn_split_writer *w, int64_t nrows, const void *X, const int32_t *y,
                            const float *Y);
/* Closes the split. commit == false (a failed import) unlinks the group instead. NN_EDATA when
 * committing a split with no rows. Safe to call once after a failed begin. */
int nn_dataset_split_end(nn_split_writer *w, bool commit);

/* ---- importers and generators (each streams in blocks of ~1 MiB of rows) */

typedef struct nn_import_result {
  int64_t rows;
  int d, k;        /* features; target columns (0: labels) */
  int num_classes; /* classes of this import (the file keeps the max over imports) */
} nn_import_result;

/* MNIST-style IDX files (gzip or plain): images (N, ...) uint8 → X (N, D) uint8 with scale
 * 1/255; labels (N) uint8 → y, each < num_classes. Writes split group of out (append: into an
 * existing file). class_names: NULL or "a,b,...". */
int nn_import_idx(const char *images, const char *labels, const char *out, const char *group,
                  bool append, int num_classes, const char *class_names, nn_import_result *res);

typedef struct nn_csv_options {
  bool header;             /* skip the first line */
  int label_col;           /* 1-based column of integer labels (negative: from the end); 0: none */
  const char *target_cols; /* "a,b,..." 1-based columns of float targets (negative: from end) */
  int num_classes;         /* 0: infer max label + 1 */
  const char *class_names; /* NULL or "a,b,..." */
} nn_csv_options;

/* Numeric comma-separated values, one row per line; all columns but the label/target columns
 * become X (float32). Exactly one of label_col / target_cols is set. */
int nn_import_csv(const char *in, const char *out, const char *group, bool append,
                  const nn_csv_options *opt, nn_import_result *res);

/* Writes nn_synth_fill data (include/nnmpi/synth.h) for kind: /train with n rows from stream
 * NN_SYNTH_STREAM_TRAIN and, when n_test > 0, /test from NN_SYNTH_STREAM_TEST. d, k, noise as
 * resolved by nn_synth_resolve. */
int nn_synth_write(const char *out, const char *kind, uint64_t seed, int64_t n, int64_t n_test,
                   int d, int k, float noise);

#endif
