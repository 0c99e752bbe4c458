/* dataset: HDF5 dataset files — one group per split with X (N, D) float32 or uint8 (+ scale,
 * offset attributes), and labels y (N) int32 or targets Y (N, K) float32.
 * Layer 4: HDF5 and libc; never calls MPI_* and never prints. Format: docs/formats.md. */
#ifndef NNMPI_DATASET_H
#define NNMPI_DATASET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NN_DATASET_FORMAT "nnmpi-dataset" /* root attribute format */
#define NN_DATASET_FORMAT_VERSION 1

typedef enum { NN_DTYPE_F32, NN_DTYPE_U8 } nn_dtype;

/* What a split holds, read from metadata only (no rows). */
typedef struct nn_split_info {
  int64_t n;          /* rows */
  int d;              /* features per row */
  nn_dtype xtype;     /* storage type of X */
  float scale, offset;/* x = v * scale + offset for uint8 X (1, 0 for float32) */
  bool has_labels;    /* y (N) int32 present; otherwise Y (N, k) float32 */
  int k;              /* target columns of Y (0 when has_labels) */
  int num_classes;    /* from the file attribute num_classes; 0 when absent/regression */
} nn_split_info;

/* Splits "FILE:/group" into path and group (group defaults to def_group when there is no
 * ":/"). NN_EINVAL when a part does not fit its buffer. */
int nn_dataset_parse_spec(const char *spec, const char *def_group, char *path, size_t path_cap,
                          char *group, size_t group_cap);

/* Opens path, checks group exists with X and y or Y of valid rank, dtype and matching row
 * counts, N > 0, and fills info. Messages name "path:/group/X". NN_EDATA on any failure. */
int nn_dataset_probe(const char *path, const char *group, nn_split_info *info);

/* Reads rows [row0, row0 + nrows) with hyperslab reads: X raw in its storage type into
 * X (nrows * d elements of xtype), labels into y or targets into Y (whichever the split has;
 * the other pointer may be NULL). NN_EDATA on failure. */
int nn_dataset_read_rows(const char *path, const char *group, const nn_split_info *info,
                         int64_t row0, int64_t nrows, void *X, int32_t *y, float *Y);

/* Checks rows read by nn_dataset_read_rows: labels in [0, num_classes) when num_classes > 0
 * (else >= 0), X and Y finite. row0 is the global index of the first row (for messages, which
 * name "path:/group/y: label 12 at row 40211, expected 0..9"). NN_EDATA on failure. */
int nn_dataset_check_rows(const char *path, const char *group, const nn_split_info *info,
                          int64_t row0, int64_t nrows, const void *X, const int32_t *y, const float *Y);

/* ---- inspection (dataset_inspect.c): what `nnmpi inspect` shows beyond nn_split_info. */

enum { NN_DATASET_MAX_GROUPS = 64, NN_DATASET_GROUP_MAX = 256 };

/* The root of a dataset file. Strings are "" when the attribute is absent. */
typedef struct nn_dataset_summary {
  char format[64];
  long long format_version;  /* -1 when absent */
  long long num_classes;     /* -1 when absent */
  char class_names[4096];
  char source[4096];
  int n_groups; /* splits: groups holding an X, at any depth, in name order */
  char groups[NN_DATASET_MAX_GROUPS][NN_DATASET_GROUP_MAX]; /* "/train", "/folds/0" */
  int n_other; /* groups holding neither an X nor a split below them ("/meta") */
  char other[NN_DATASET_MAX_GROUPS][NN_DATASET_GROUP_MAX];
  bool more; /* more than NN_DATASET_MAX_GROUPS of either kind (not listed) */
} nn_dataset_summary;

/* Opens path (NN_EDATA as nn_dataset_probe words it) and fills s: walks the groups (hard and
 * soft links; external links are not followed) down to 16 levels. */
int nn_dataset_summarize(const char *path, nn_dataset_summary *s);

/* Describes dataset obj ("/train/X") of path into buf: "(60000, 784) uint8, chunks (334, 784),
 * shuffle + deflate(4) + fletcher32" (or "(cannot open: REASON)"). Returns true when its chunks
 * carry Fletcher32 checksums. */
bool nn_dataset_describe(const char *path, const char *obj, char *buf, size_t cap);

/* Versions of the HDF5 library ("HDF5: 1.10.8") into buf. */
void nn_dataset_hdf5_version(char *buf, size_t cap);

#endif
