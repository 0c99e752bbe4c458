/* import_synth: the synthetic sets of synth.h written as a dataset file (include/nnmpi/import.h),
 * in blocks of ~1 MiB of rows. Layer 4: dataset_write, synth, libc; never prints. */
#include <stdio.h>
#include <stdlib.h>

#include "nnmpi/dataset_write.h"
#include "nnmpi/import.h"
#include "nnmpi/status.h"
#include "nnmpi/synth.h"

enum { BLOCK_BYTES = 1 << 20 };

int nn_synth_write(const char *out, const char *kind, uint64_t seed, int64_t n, int64_t n_test, int d, int k,
                   float noise) {
  bool cls;
  int rc = nn_synth_resolve(kind, &d, &k, &noise, &cls);
  if (rc) return rc;
  if (n < 1 || n_test < 0)
    return NN_FAIL(NN_EINVAL, "synthetic data: %lld training rows, %lld test rows; need n >= 1", (long long)n,
                   (long long)n_test);
  int64_t block = BLOCK_BYTES / (4 * (int64_t)(d + k));
  if (block < 1) block = 1;
  float *X = malloc((size_t)block * (size_t)(d + k) * sizeof *X), *Y = X + (size_t)block * d;
  if (!X) return NN_FAIL(NN_ENOMEM, "synthetic data: no memory for a block of %lld rows", (long long)block);
  nn_dataset_file *f;
  if ((rc = nn_dataset_create(out, false, &f))) goto out_free;
  const char *names[2] = {"/train", "/test"};
  const uint64_t streams[2] = {NN_SYNTH_STREAM_TRAIN, NN_SYNTH_STREAM_TEST};
  const int64_t rows[2] = {n, n_test};
  for (int s = 0; s < 2 && !rc && rows[s] > 0; s++) {
    nn_split_writer *w = NULL;
    rc = nn_dataset_split_begin(f, names[s], NN_DTYPE_F32, d, 1.0f, 0.0f, cls ? 0 : k, &w);
    for (int64_t r = 0; !rc && r < rows[s]; r += block) {
      int64_t m = rows[s] - r < block ? rows[s] - r : block;
      rc = nn_synth_fill(kind, seed, streams[s], r, m, d, k, noise, X, (int32_t *)Y, Y);
      if (!rc) rc = nn_dataset_split_append(w, m, X, (int32_t *)Y, Y);
    }
    int rc2 = nn_dataset_split_end(w, rc == NN_OK);
    if (!rc) rc = rc2;
  }
  char src[256];
  snprintf(src, sizeof src,
           "nnmpi data synth --kind %s --n %lld --n-test %lld --seed %llu --dim %d --classes %d --noise %g", kind,
           (long long)n, (long long)n_test, (unsigned long long)seed, d, k, (double)noise);
  if (!rc) rc = nn_dataset_set_meta(f, &(nn_dataset_meta){cls ? k : 0, NULL, src});
  int rc2 = nn_dataset_close(f, rc == NN_OK);
  if (!rc) rc = rc2;
out_free:
  free(X);
  return rc;
}
