/* predictions: writes the output file of `nnmpi predict` (include/nnmpi/predictions.h).
 * Layer 4: HDF5 (through h5.h); no MPI calls, never prints. */
#include "nnmpi/predictions.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fs.h"
#include "h5.h"
#include "nnmpi/layers.h"
#include "nnmpi/status.h"

static herr_t write_array(hid_t file, const char *name, hid_t type, int rank, const hsize_t *dims, const void *data) {
  hid_t s = H5Screate_simple(rank, dims, NULL);
  hid_t d = H5Dcreate2(file, name, type, s, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  herr_t rc = d < 0 ? -1 : H5Dwrite(d, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data);
  if (d >= 0) H5Dclose(d);
  H5Sclose(s);
  return rc;
}

int nn_predictions_write(const char *path, int64_t n, int k, const float *outputs, bool classification,
                         const char *model, const char *data) {
  char tmp[4096];
  snprintf(tmp, sizeof tmp, "%s.tmp", path);
  nn_h5_quiet();
  int32_t *pred = NULL;
  hid_t f = H5Fcreate(tmp, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  if (f < 0) return nn_h5_fail(NN_EIO, "%s: cannot create %s", path, tmp);
  /* the space first: a full disk is an error before HDF5 has anything to flush */
  int64_t bytes = 4 * n * (k + 1) + 65536 + 2 * (int64_t)(strlen(model) + strlen(data));
  if (nn_fs_reserve(tmp, bytes) < 0) {
    int e = errno;
    nn_h5_close_file(f, tmp);
    remove(tmp);
    return NN_FAIL(NN_EIO, "%s: reserving %lld bytes for %s: %s", path, (long long)bytes, tmp, strerror(e));
  }
  int version = 1;
  hsize_t dims[2] = {(hsize_t)n, (hsize_t)k};
  herr_t err = nn_h5_attr_write(f, "format_version", H5T_NATIVE_INT, H5T_NATIVE_INT, 1, &version) < 0;
  err |= nn_h5_attr_write_str(f, "format", "nnmpi-predictions", H5T_CSET_ASCII) < 0 ||
         nn_h5_attr_write_str(f, "model", model, H5T_CSET_ASCII) < 0 ||
         nn_h5_attr_write_str(f, "data", data, H5T_CSET_ASCII) < 0;
  err |= write_array(f, "outputs", H5T_NATIVE_FLOAT, 2, dims, outputs) < 0;
  if (classification && !err) {
    if (!(pred = malloc(sizeof(int32_t) * (size_t)(n ? n : 1)))) err = 1;
    for (int64_t i = 0; pred && i < n; i++) pred[i] = nn_argmax(outputs + i * k, k);
    err |= !pred || write_array(f, "predicted", H5T_NATIVE_INT32, 1, dims, pred) < 0;
  }
  free(pred);
  if (err) nn_h5_note();
  err |= nn_h5_close_file(f, err ? tmp : NULL) < 0;
  err |= !err && nn_fs_trim(tmp) < 0;
  if (err) {
    remove(tmp);
    return nn_h5_fail(NN_EIO, "%s: writing predictions failed", path);
  }
  if (rename(tmp, path)) {
    int e = errno;
    remove(tmp);
    return NN_FAIL(NN_EIO, "%s: renaming %s to it failed: %s", path, tmp, strerror(e));
  }
  return NN_OK;
}

bool nn_predictions_is_file(const char *path) {
  hid_t f;
  char fmt[64] = "";
  if (nn_h5_open_ro(path, "predictions file", NN_EDATA, &f)) return false;
  bool yes = nn_h5_attr_exists(f, "format") && !nn_h5_attr_read_name(f, "/", "format", fmt, sizeof fmt, NN_EDATA) &&
             !strcmp(fmt, "nnmpi-predictions");
  H5Fclose(f);
  H5Eclear2(H5E_DEFAULT);
  return yes;
}

/* Checks dataset name of f: rank, rows n (and cols k), type class; its id into *d. */
static int open_array(hid_t f, const char *path, const char *name, int rank, H5T_class_t cls, hid_t *d, hsize_t *dims) {
  *d = H5Dopen2(f, name, H5P_DEFAULT);
  if (*d < 0) return nn_h5_fail(NN_EDATA, "%s:/%s: missing or not a dataset", path, name);
  hid_t sp = H5Dget_space(*d), t = H5Dget_type(*d);
  int r = sp < 0 ? -1 : H5Sget_simple_extent_ndims(sp);
  if (r == rank) H5Sget_simple_extent_dims(sp, dims, NULL);
  char tn[32] = "unknown";
  if (t >= 0) nn_h5_type_name(t, tn, sizeof tn);
  bool ok = r == rank && t >= 0 && H5Tget_class(t) == cls && (cls != H5T_FLOAT || H5Tget_size(t) == 4);
  if (t >= 0) H5Tclose(t);
  if (sp >= 0) H5Sclose(sp);
  if (ok) return NN_OK;
  return NN_FAIL(NN_EDATA, "%s:/%s: rank %d %s, expected rank %d %s", path, name, r, tn, rank,
                 cls == H5T_FLOAT ? "float32" : "integers");
}

int nn_predictions_inspect(const char *path, nn_predictions_info *in) {
  enum { BLOCK = 1 << 14 };
  hid_t f, out = -1, pr = -1;
  hsize_t od[2] = {0, 0}, pd[1] = {0};
  float *buf = NULL;
  int32_t *p = NULL;
  memset(in, 0, sizeof *in);
  in->out_min = INFINITY, in->out_max = -INFINITY;
  int rc = nn_h5_open_ro(path, "predictions file", NN_EDATA, &f);
  if (rc) return rc;
  in->format_version = -1;
  if (nn_h5_attr_exists(f, "format_version") &&
      (rc = nn_h5_attr_read(f, path, "format_version", H5T_NATIVE_LLONG, 1, &in->format_version, NN_EDATA)))
    goto out;
  if ((nn_h5_attr_exists(f, "model") &&
       (rc = nn_h5_attr_read_name(f, path, "model", in->model, sizeof in->model, NN_EDATA))) ||
      (nn_h5_attr_exists(f, "data") &&
       (rc = nn_h5_attr_read_name(f, path, "data", in->data, sizeof in->data, NN_EDATA))) ||
      (rc = open_array(f, path, "outputs", 2, H5T_FLOAT, &out, od)))
    goto out;
  in->n = (int64_t)od[0], in->k = (int)od[1];
  if (od[1] < 1 || od[1] > (1u << 24)) {
    rc = NN_FAIL(NN_EDATA, "%s:/outputs: %llu columns, expected 1..%d", path, (unsigned long long)od[1], 1 << 24);
    goto out;
  }
  in->has_predicted = H5Lexists(f, "predicted", H5P_DEFAULT) > 0;
  if (in->has_predicted && (rc = open_array(f, path, "predicted", 1, H5T_INTEGER, &pr, pd))) goto out;
  if (in->has_predicted && pd[0] != od[0]) {
    rc = NN_FAIL(NN_EDATA, "%s:/predicted: %llu rows but /outputs has %llu", path, (unsigned long long)pd[0],
                 (unsigned long long)od[0]);
    goto out;
  }
  int classes = in->k > 1 ? in->k : 2;
  if (!(buf = malloc(sizeof(float) * BLOCK * (size_t)in->k)) || !(p = malloc(sizeof(int32_t) * BLOCK))) {
    rc = NN_FAIL(NN_ENOMEM, "%s: no memory for a block of %d rows", path, BLOCK);
    goto out;
  }
  for (int64_t r = 0; r < in->n && !rc; r += BLOCK) {
    hsize_t m = (hsize_t)(in->n - r < BLOCK ? in->n - r : BLOCK);
    if (nn_h5_rows(out, false, (hsize_t)r, m, H5T_NATIVE_FLOAT, buf) < 0) {
      rc = nn_h5_fail(NN_EDATA, "%s:/outputs: reading rows [%lld, %lld) failed", path, (long long)r,
                      (long long)(r + (int64_t)m));
      break;
    }
    for (size_t i = 0; i < m * (size_t)in->k && !rc; i++) {
      if (!isfinite(buf[i]))
        rc = NN_FAIL(NN_EDATA, "%s:/outputs: value %g at row %lld, expected a finite number", path, (double)buf[i],
                     (long long)(r + (int64_t)(i / (size_t)in->k)));
      in->out_min = buf[i] < in->out_min ? buf[i] : in->out_min,
      in->out_max = buf[i] > in->out_max ? buf[i] : in->out_max;
    }
    if (rc || pr < 0) continue;
    if (nn_h5_rows(pr, false, (hsize_t)r, m, H5T_NATIVE_INT32, p) < 0) {
      rc = nn_h5_fail(NN_EDATA, "%s:/predicted: reading rows [%lld, %lld) failed", path, (long long)r,
                      (long long)(r + (int64_t)m));
      break;
    }
    for (size_t i = 0; i < m && !rc; i++)
      if (p[i] < 0 || p[i] >= classes)
        rc = NN_FAIL(NN_EDATA, "%s:/predicted: class %d at row %lld, expected 0..%d", path, (int)p[i],
                     (long long)(r + (int64_t)i), classes - 1);
  }
out:
  free(buf), free(p);
  if (pr >= 0) H5Dclose(pr);
  if (out >= 0) H5Dclose(out);
  H5Fclose(f);
  H5Eclear2(H5E_DEFAULT);
  return rc;
}
