/* import_check: see import_check.h. */
#include "import_check.h"

#include <stdlib.h>
#include <unistd.h>

#include "fuzzutil.h"
#include "nnmpi/dataset.h"
#include "nnmpi/status.h"

const char *nnf_template(bool regression) {
  static bool made[2];
  const char *path = nnf_tmppath(regression ? 3 : 2, regression ? "template-regression.h5" : "template-classes.h5");
  if (!made[regression]) {
    int rc = regression ? nn_synth_write(path, "teacher", 1, 6, 2, 3, 2, 0.01f)
                        : nn_synth_write(path, "blobs", 1, 6, 2, 2, 3, 1.0f);
    if (rc) nnf_oracle_fail(__FILE__, __LINE__, "template", "nn_synth_write failed: %s", nn_errmsg());
    made[regression] = true;
  }
  return path;
}

/* Every row of the split reads back and passes the checks, in blocks of at most 1 MiB. */
static void read_all(const char *out, const char *group, const nn_split_info *in) {
  size_t row = (size_t)in->d * (in->xtype == NN_DTYPE_U8 ? 1 : 4) + 4 * (size_t)(in->has_labels ? 1 : in->k);
  int64_t block = (int64_t)((1u << 20) / row);
  if (block < 1) block = 1;
  if (block > in->n) block = in->n;
  void *X = malloc((size_t)block * row);
  int32_t *y = malloc((size_t)block * sizeof *y);
  float *Y = malloc((size_t)block * ((size_t)in->k + 1) * sizeof *Y);
  ORACLE(X && y && Y, "no memory for a block of %lld rows", (long long)block);
  for (int64_t r = 0; r < in->n; r += block) {
    int64_t m = in->n - r < block ? in->n - r : block;
    int rc = nn_dataset_read_rows(out, group, in, r, m, X, y, Y);
    ORACLE(rc == NN_OK, "rows [%lld, %lld) of the imported split do not read back", (long long)r, (long long)(r + m));
    rc = nn_dataset_check_rows(out, group, in, r, m, X, y, Y);
    ORACLE(rc == NN_OK, "rows [%lld, %lld) of the imported split fail the checks", (long long)r, (long long)(r + m));
  }
  free(X), free(y), free(Y);
}

bool nnf_split_exists(const char *out, const char *group) {
  nn_split_info in;
  return nn_dataset_probe(out, group, &in) == NN_OK;
}

void nnf_check_import(int rc, const char *out, const char *group, bool append, bool existed,
                      const nn_import_result *res, const char *importer) {
  nn_split_info in;
  if (rc == NN_OK) {
    ORACLE(res->rows >= 1 && res->d >= 1 && res->k >= 0, "%s reported rows=%lld d=%d k=%d", importer,
           (long long)res->rows, res->d, res->k);
    ORACLE(res->k > 0 || res->num_classes >= 1, "%s of labels reported num_classes = %d", importer, res->num_classes);
    rc = nn_dataset_probe(out, group, &in);
    ORACLE(rc == NN_OK, "the split %s written by %s does not probe", group, importer);
    ORACLE(in.n == res->rows && in.d == res->d && in.k == res->k && in.has_labels == (res->k == 0),
           "%s reported %lld rows, d=%d, k=%d; the file has %lld rows, d=%d, k=%d", importer, (long long)res->rows,
           res->d, res->k, (long long)in.n, in.d, in.k);
    ORACLE(res->k > 0 || in.num_classes >= res->num_classes, "%s: %d classes imported, the file says num_classes = %d",
           importer, res->num_classes, in.num_classes);
    read_all(out, group, &in);
  } else if (!append) {
    ORACLE(access(out, F_OK) != 0, "a failed %s left its new output file behind", importer);
  } else {
    ORACLE(nn_dataset_probe(out, "/train", &in) == NN_OK, "a failed %s damaged the file it appended to", importer);
    if (!existed)
      ORACLE(nn_dataset_probe(out, group, &in) != NN_OK, "a failed %s left its split %s behind", importer, group);
  }
}
