/* dataset_write: writing nnmpi dataset files (docs/formats.md) — the one writer used by the
 * importers (import.h). Layer 4: HDF5 (not visible here), libc; never calls MPI_*, never
 * prints. Every function returns NN_OK or NN_EDATA/NN_EIO/NN_EINVAL/NN_ENOMEM with a message
 * (nn_errmsg) naming the file and object. */
#ifndef NNMPI_DATASET_WRITE_H
#define NNMPI_DATASET_WRITE_H

#include <stdbool.h>
#include <stdint.h>

#include "nnmpi/dataset.h"

/* Root attributes merged into the file. */
typedef struct nn_dataset_meta {
  int num_classes;         /* classes of y; 0 for regression. The file keeps max(old, new). */
  const char *class_names; /* NULL or one comma-separated string with num_classes names */
  const char *source;      /* NULL or free text; appended to an existing source with "; " */
} nn_dataset_meta;

typedef struct nn_dataset_file nn_dataset_file; /* a dataset file open for writing */
typedef struct nn_split_writer nn_split_writer; /* a split being written */

/* Creates path (truncating any existing file) with format/format_version attributes, or with
 * append opens an existing nnmpi dataset file to add splits (creating it when missing).
 * *file is set on success (close it with nn_dataset_close). */
int nn_dataset_create(const char *path, bool append, nn_dataset_file **file);
/* Merges meta into the root attributes: num_classes = max(file, meta), class_names (NN_EDATA
 * when they conflict with the file's or their count differs from num_classes; nothing is
 * written then), source appended. Importers call it before committing their split, so a
 * refusal leaves no half-described split behind. */
int nn_dataset_set_meta(nn_dataset_file *file, const nn_dataset_meta *meta);
/* Closes and frees file. keep == false (a failed import) removes the file when
 * nn_dataset_create made it. NN_EIO when closing fails. NULL-safe. */
int nn_dataset_close(nn_dataset_file *file, bool keep);

/* Creates group name (e.g. "/train") of file with X (0, d) of xtype (uint8 X gets scale/offset
 * attributes) and y (k == 0) or Y (0, k), row-chunked and extendible, with shuffle + deflate +
 * Fletcher32. NN_EDATA when the group already exists. *w is set on success. */
int nn_dataset_split_begin(nn_dataset_file *file, const char *name, nn_dtype xtype, int d, float scale, float offset,
                           int k, nn_split_writer **w);
/* Appends nrows rows: X (nrows, d) of xtype, and y (nrows) or Y (nrows, k). */
int nn_dataset_split_append(nn_split_writer *w, int64_t nrows, const void *X, const int32_t *y, const float *Y);
/* Closes and frees the split. commit == false (a failed import) unlinks the group instead.
 * NN_EDATA when committing a split with no rows. NULL-safe. */
int nn_dataset_split_end(nn_split_writer *w, bool commit);

#endif
