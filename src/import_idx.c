/* import_idx: MNIST-style IDX files (gzip or plain, via zlib) → an nnmpi dataset split, streamed
 * in blocks of ~1 MiB of rows. Layer 4: zlib, dataset_write, libc; never prints. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "fs.h"
#include "nnmpi/dataset_write.h"
#include "nnmpi/import.h"
#include "nnmpi/status.h"

enum { BLOCK_BYTES = 1 << 20 };

typedef struct {
  gzFile f;
  const char *path;
  int64_t n, d; /* items, bytes per item */
} idx_file;

/* Reads exactly len bytes; what names the part for the message. */
static int idx_read(idx_file *x, void *buf, size_t len, const char *what) {
  for (size_t got = 0; got < len;) {
    size_t want = len - got > (1u << 30) ? (1u << 30) : len - got;
    int r = gzread(x->f, (char *)buf + got, (unsigned)want);
    if (r <= 0) {
      int zerr = 0;
      const char *m = gzerror(x->f, &zerr);
      size_t pl = strlen(x->path);
      if (zerr == Z_OK) m = "file ends early";
      else if (!strncmp(m, x->path, pl) && !strncmp(m + pl, ": ", 2)) m += pl + 2; /* zlib prefixes the path */
      return NN_FAIL(NN_EDATA, "%s: truncated or corrupt while reading %s (%s)", x->path, what, m);
    }
    got += (size_t)r;
  }
  return NN_OK;
}

/* Opens an IDX file of unsigned bytes with ndim dimensions (images: ndim >= 2). */
static int idx_open(idx_file *x, const char *path, bool images) {
  unsigned char h[4], b[4];
  x->path = path, x->n = 0, x->d = 1;
  const char *kind;
  int fd = nn_fs_open_regular(path, &kind); /* never blocks on a FIFO */
  if (fd < 0 && kind) return NN_FAIL(NN_EDATA, "%s: is %s, expected an IDX file", path, kind);
  if (fd < 0) return NN_FAIL(NN_EDATA, "%s: cannot open IDX file: %s", path, strerror(errno));
  if (!(x->f = gzdopen(fd, "rb"))) {
    close(fd);
    return NN_FAIL(NN_EDATA, "%s: cannot open IDX file: out of memory", path);
  }
  gzbuffer(x->f, 1 << 17);
  int rc = idx_read(x, h, 4, "the IDX header");
  if (rc) return rc;
  if (h[0] || h[1] || h[2] != 0x08)
    return NN_FAIL(NN_EDATA, "%s: IDX magic %02x %02x %02x %02x, expected 00 00 08 0N (unsigned bytes)", path, h[0],
                   h[1], h[2], h[3]);
  if (images ? h[3] < 2 : h[3] != 1)
    return NN_FAIL(NN_EDATA, "%s: IDX file with %d dimensions, expected %s", path, h[3],
                   images ? "2 or more (images)" : "1 (labels)");
  for (int i = 0; i < h[3]; i++) {
    if ((rc = idx_read(x, b, 4, "the IDX dimensions"))) return rc;
    int64_t v = (int64_t)b[0] << 24 | b[1] << 16 | b[2] << 8 | b[3];
    if (i == 0) x->n = v;
    else x->d *= v;
    if (v == 0 || x->d > INT_MAX)
      return NN_FAIL(NN_EDATA, "%s: IDX dimension %d is %lld, expected 1..%d items", path, i, (long long)v, INT_MAX);
  }
  return NN_OK;
}

int nn_import_idx(const char *images, const char *labels, const char *out, const char *group, bool append,
                  int num_classes, const char *class_names, nn_import_result *res) {
  idx_file xi = {0}, xl = {0};
  uint8_t *buf = NULL;
  nn_dataset_file *f = NULL;
  nn_split_writer *w = NULL;
  memset(res, 0, sizeof *res);
  if (num_classes < 1 || num_classes > 256)
    return NN_FAIL(NN_EINVAL, "import-idx: --num-classes %d, expected 1..256", num_classes);
  int rc = idx_open(&xi, images, true);
  if (!rc) rc = idx_open(&xl, labels, false);
  if (!rc && xi.n != xl.n)
    rc = NN_FAIL(NN_EDATA, "%s has %lld images but %s has %lld labels", images, (long long)xi.n, labels, (long long)xl.n);
  if (rc) goto out_close_inputs;
  int64_t block = BLOCK_BYTES / xi.d;
  if (block < 1) block = 1;
  buf = malloc((size_t)block * ((size_t)xi.d + 1 + sizeof(int32_t)));
  if (!buf) {
    rc = NN_FAIL(NN_ENOMEM, "import-idx: no memory for a block of %lld rows", (long long)block);
    goto out_close_inputs;
  }
  int32_t *y = (int32_t *)buf;                      /* (block) labels as int32 */
  uint8_t *X = buf + (size_t)block * sizeof(int32_t); /* (block, d) pixels */
  uint8_t *lab = X + (size_t)block * xi.d;            /* (block) labels as read */
  if ((rc = nn_dataset_create(out, append, &f))) goto out_close_inputs;
  rc = nn_dataset_split_begin(f, group, NN_DTYPE_U8, (int)xi.d, 1.0f / 255.0f, 0.0f, 0, &w);
  char what[96];
  for (int64_t r = 0; !rc && r < xi.n; r += block) {
    int64_t m = xi.n - r < block ? xi.n - r : block;
    snprintf(what, sizeof what, "items [%lld, %lld) of %lld", (long long)r, (long long)(r + m), (long long)xi.n);
    if ((rc = idx_read(&xi, X, (size_t)(m * xi.d), what)) || (rc = idx_read(&xl, lab, (size_t)m, what))) break;
    for (int64_t i = 0; i < m; i++) {
      if (lab[i] >= num_classes) {
        rc = NN_FAIL(NN_EDATA, "%s: label %d at item %lld, expected 0..%d", labels, lab[i], (long long)(r + i), num_classes - 1);
        break;
      }
      y[i] = lab[i];
    }
    if (!rc) rc = nn_dataset_split_append(w, m, X, y, NULL);
  }
  for (idx_file *x = &xi; !rc && x; x = x == &xi ? &xl : NULL) {
    char extra;
    if (gzread(x->f, &extra, 1) > 0)
      rc = NN_FAIL(NN_EDATA, "%s: data after the %lld items its header announces", x->path, (long long)x->n);
  }
  char src[1024];
  snprintf(src, sizeof src, "%s: import-idx %s %s", group, images, labels);
  if (!rc) rc = nn_dataset_set_meta(f, &(nn_dataset_meta){num_classes, class_names, src});
  int rc2 = nn_dataset_split_end(w, rc == NN_OK);
  if (!rc) rc = rc2;
  rc2 = nn_dataset_close(f, rc == NN_OK);
  if (!rc) rc = rc2;
  if (!rc) *res = (nn_import_result){xi.n, (int)xi.d, 0, num_classes};
out_close_inputs:
  if (xi.f) gzclose(xi.f);
  if (xl.f) gzclose(xl.f);
  free(buf);
  return rc;
}
