/* fuzz_dataset: dataset validation of an arbitrary HDF5 file image — nn_dataset_probe, then
 * nn_dataset_read_rows and nn_dataset_check_rows on the first and the last block of rows of /train
 * and of /test, as the loader and `nnmpi eval` do.
 *
 * Input: the bytes of a file, given to nnmpi as the path of an in-memory file.
 *
 * Oracles: every failure is NN_EDATA with a message naming the file; a split that probes has
 * n >= 1, d >= 1, labels xor targets, finite scale/offset; no HDF5 id stays open. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fuzzutil.h"
#include "nnmpi/dataset.h"
#include "nnmpi/status.h"

enum { BLOCK_BYTES = 1 << 20, MAX_ROW_BYTES = 4 << 20 };

/* Reads and checks rows [row0, row0 + m). */
static void read_block(const char *path, const char *group, const nn_split_info *in, int64_t row0, int64_t m) {
  size_t xsize = in->xtype == NN_DTYPE_U8 ? 1 : 4, d = (size_t)in->d, k = (size_t)in->k;
  void *X = malloc((size_t)m * d * xsize);
  int32_t *y = in->has_labels ? malloc((size_t)m * sizeof *y) : NULL;
  float *Y = in->has_labels ? NULL : malloc((size_t)m * k * sizeof *Y);
  if (X && (y || Y)) {
    int rc = nn_dataset_read_rows(path, group, in, row0, m, X, y, Y);
    ORACLE(rc == NN_OK || rc == NN_EDATA, "nn_dataset_read_rows(%s, rows [%lld, %lld)) returned %d (%s)", group,
           (long long)row0, (long long)(row0 + m), rc, nn_strerror(rc));
    nnf_check_message(rc, path, "nn_dataset_read_rows");
    if (rc == NN_OK) {
      rc = nn_dataset_check_rows(path, group, in, row0, m, X, y, Y);
      ORACLE(rc == NN_OK || rc == NN_EDATA, "nn_dataset_check_rows returned %d", rc);
      nnf_check_message(rc, path, "nn_dataset_check_rows");
    }
  }
  free(X), free(y), free(Y);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static const char *const groups[] = {"/train", "/test"};
  const char *path = nnf_input_file(0, data, size);
  nnf_ids_begin();
  for (int g = 0; g < 2; g++) {
    nn_split_info in;
    int rc = nn_dataset_probe(path, groups[g], &in);
    ORACLE(rc == NN_OK || rc == NN_EDATA, "nn_dataset_probe(%s) returned %d (%s)", groups[g], rc, nn_strerror(rc));
    nnf_check_message(rc, path, "nn_dataset_probe");
    if (rc) continue;
    ORACLE(in.n >= 1 && in.d >= 1 && (in.has_labels ? in.k == 0 : in.k >= 1) && in.num_classes >= 0 &&
               isfinite(in.scale) && isfinite(in.offset),
           "probe of %s accepted n=%lld d=%d k=%d labels=%d num_classes=%d scale=%g offset=%g", groups[g],
           (long long)in.n, in.d, in.k, in.has_labels, in.num_classes, (double)in.scale, (double)in.offset);
    int64_t row_bytes = (int64_t)in.d * (in.xtype == NN_DTYPE_U8 ? 1 : 4) + 4 * (int64_t)(in.has_labels ? 1 : in.k);
    if (row_bytes > MAX_ROW_BYTES) continue; /* one row would not fit the memory budget */
    int64_t block = BLOCK_BYTES / row_bytes;
    if (block < 1) block = 1;
    if (block > in.n) block = in.n;
    read_block(path, groups[g], &in, 0, block);
    if (in.n > block) read_block(path, groups[g], &in, in.n - block, block);
  }
  nnf_ids_end("probe/read/check");
  return 0;
}
