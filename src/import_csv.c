/* import_csv: numeric comma-separated values → an nnmpi dataset split, streamed line by line in
 * blocks of ~1 MiB of rows. Layer 4: dataset_write, libc; never prints. */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fs.h"
#include "nnmpi/dataset_write.h"
#include "nnmpi/import.h"
#include "nnmpi/status.h"

enum { BLOCK_BYTES = 1 << 20 };

/* Resolves a 1-based (negative: from the end) column number against ncols; -1 when outside. */
static int resolve_col(long c, int ncols) {
  if (c > 0 && c <= ncols) return (int)c - 1;
  if (c < 0 && -c <= ncols) return ncols + (int)c;
  return -1;
}

/* role[c]: 'x' feature, 'l' label, 't' target. */
static int assign_roles(const char *in, const nn_csv_options *o, int ncols, long long line, char *role) {
  memset(role, 'x', (size_t)ncols);
  if (o->label_col) {
    int c = resolve_col(o->label_col, ncols);
    if (c < 0)
      return NN_FAIL(NN_EINVAL, "%s:%lld: --label-col %d outside 1..%d (the line has %d columns)", in, line, o->label_col,
                     ncols, ncols);
    role[c] = 'l';
    return NN_OK;
  }
  for (const char *p = o->target_cols; *p;) {
    char *end;
    errno = 0;
    long v = strtol(p, &end, 10);
    int c = end == p || errno ? -1 : resolve_col(v, ncols);
    if (c < 0 || (*end && *end != ','))
      return NN_FAIL(NN_EINVAL, "%s:%lld: --target-cols '%s': expected column numbers in 1..%d (or -1..-%d from the end) separated by commas",
                     in, line, o->target_cols, ncols, ncols);
    if (role[c] == 't') return NN_FAIL(NN_EINVAL, "--target-cols '%s': column %d named twice", o->target_cols, c + 1);
    role[c] = 't';
    p = *end ? end + 1 : end;
  }
  return NN_OK;
}

int nn_import_csv(const char *in, const char *out, const char *group, bool append, const nn_csv_options *o,
                  nn_import_result *res) {
  memset(res, 0, sizeof *res);
  if (!o->label_col == !(o->target_cols && *o->target_cols))
    return NN_FAIL(NN_EINVAL, "import-csv: give exactly one of --label-col N or --target-cols a,b,...");
  if (o->num_classes < 0) return NN_FAIL(NN_EINVAL, "import-csv: --num-classes %d, expected >= 1", o->num_classes);
  const char *kind;
  int fd = nn_fs_open_regular(in, &kind); /* never blocks on a FIFO */
  if (fd < 0 && kind) return NN_FAIL(NN_EDATA, "%s: is %s, expected a CSV file", in, kind);
  FILE *fp = fd < 0 ? NULL : fdopen(fd, "r");
  if (!fp) {
    int e = errno;
    if (fd >= 0) close(fd);
    return NN_FAIL(NN_EDATA, "%s: cannot open: %s", in, strerror(e));
  }
  char *line = NULL, *role = NULL;
  size_t cap = 0;
  float *X = NULL, *Y = NULL;
  int32_t *y = NULL;
  int ncols = 0, d = 0, k = 0, rc = NN_OK;
  long long lineno = 0, first_line = 0, max_label = -1;
  int64_t block = 0, nb = 0;
  int64_t rows = 0;
  nn_dataset_file *f = NULL;
  nn_split_writer *w = NULL;
  ssize_t len;
  while (!rc && (len = getline(&line, &cap, fp)) >= 0) {
    lineno++;
    while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r')) line[--len] = 0;
    if ((o->header && lineno == 1) || strspn(line, " \t") == (size_t)len) continue; /* header, blank line */
    int cells = 1;
    for (char *p = line; *p; p++) cells += *p == ',';
    if (!ncols) { /* first data row: fixes the columns, then the output is created */
      ncols = cells, first_line = lineno;
      if (!(role = malloc((size_t)ncols)) || (rc = assign_roles(in, o, ncols, lineno, role))) {
        if (!role) rc = NN_FAIL(NN_ENOMEM, "%s: no memory", in);
        break;
      }
      for (int c = 0; c < ncols; c++) d += role[c] == 'x', k += role[c] == 't';
      if (d == 0) {
        rc = NN_FAIL(NN_EDATA, "%s:%lld: no feature columns left after the label/target columns", in, lineno);
        break;
      }
      block = BLOCK_BYTES / (4 * (int64_t)(d + k + 1));
      if (block < 1) block = 1;
      X = malloc((size_t)block * (size_t)(d + k + 1) * sizeof *X);
      if (!X) {
        rc = NN_FAIL(NN_ENOMEM, "%s: no memory for a block of %lld rows", in, (long long)block);
        break;
      }
      Y = X + (size_t)block * d, y = (int32_t *)(Y + (size_t)block * k);
      if ((rc = nn_dataset_create(out, append, &f))) break;
      if ((rc = nn_dataset_split_begin(f, group, NN_DTYPE_F32, d, 1.0f, 0.0f, k, &w))) break;
    }
    if (cells != ncols) {
      rc = NN_FAIL(NN_EDATA, "%s:%lld: %d columns, expected %d (as on line %lld)", in, lineno, cells, ncols, first_line);
      break;
    }
    char *p = line;
    float *xr = X + nb * d, *yr = Y + nb * k;
    for (int c = 0; c < ncols && !rc; c++) {
      char *end;
      double v = strtod(p, &end);
      char *q = end;
      while (*q == ' ' || *q == '\t') q++;
      if (end == p || (*q && *q != ',')) {
        size_t n = strcspn(p, ",");
        rc = NN_FAIL(NN_EDATA, "%s:%lld: column %d: expected a number, found \"%.*s\"", in, lineno, c + 1,
                     (int)(n > 40 ? 40 : n), p);
      } else if (!isfinite((float)v)) {
        rc = NN_FAIL(NN_EDATA, "%s:%lld: column %d: %.*s is not a finite float32 number", in, lineno, c + 1,
                     (int)(q - p > 40 ? 40 : q - p), p);
      } else if (role[c] == 'x') {
        *xr++ = (float)v;
      } else if (role[c] == 't') {
        *yr++ = (float)v;
      } else if (v != floor(v) || v < 0 || v >= INT32_MAX || (o->num_classes && v >= o->num_classes)) {
        /* labels below 2^31 - 1, so that the class count (largest label + 1) is an int32 too */
        rc = NN_FAIL(NN_EDATA, "%s:%lld: column %d: label %.10g, expected an integer in 0..%d", in, lineno, c + 1, v,
                     o->num_classes ? o->num_classes - 1 : INT32_MAX - 1);
      } else {
        y[nb] = (int32_t)v;
        if (v > max_label) max_label = (long long)v;
      }
      p = *q ? q + 1 : q;
    }
    if (!rc) rows++;
    if (!rc && ++nb == block) rc = nn_dataset_split_append(w, nb, X, y, Y), nb = 0;
  }
  if (!rc && ferror(fp)) rc = NN_FAIL(NN_EDATA, "%s: read error after line %lld: %s", in, lineno, strerror(errno));
  if (!rc && !ncols) rc = NN_FAIL(NN_EDATA, "%s: no data rows%s", in, o->header && lineno ? " after the header" : "");
  if (!rc) rc = nn_dataset_split_append(w, nb, X, y, Y);
  int nc = k ? 0 : o->num_classes ? o->num_classes : (int)(max_label + 1);
  char src[1024];
  snprintf(src, sizeof src, "%s: import-csv %s", group, in);
  if (!rc) rc = nn_dataset_set_meta(f, &(nn_dataset_meta){nc, o->class_names, src});
  int rc2 = nn_dataset_split_end(w, rc == NN_OK);
  if (!rc) rc = rc2;
  rc2 = nn_dataset_close(f, rc == NN_OK);
  if (!rc) rc = rc2;
  if (!rc) *res = (nn_import_result){rows, d, k, nc};
  free(X);
  free(role);
  free(line);
  fclose(fp);
  return rc;
}
