/* predictions: writes the output file of `nnmpi predict`. Layer 4: HDF5; no MPI calls. */
#include "nnmpi/predictions.h"

#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nnmpi/status.h"

static herr_t attr_str(hid_t obj, const char *name, const char *value) {
  hid_t t = H5Tcopy(H5T_C_S1), s = H5Screate(H5S_SCALAR);
  H5Tset_size(t, strlen(value) + 1);
  hid_t a = H5Acreate2(obj, name, t, s, H5P_DEFAULT, H5P_DEFAULT);
  herr_t rc = a < 0 ? -1 : H5Awrite(a, t, value);
  if (a >= 0) H5Aclose(a);
  H5Sclose(s);
  H5Tclose(t);
  return rc;
}

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
  H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
  int32_t *pred = NULL;
  hid_t f = H5Fcreate(tmp, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  if (f < 0) return NN_FAIL(NN_EIO, "%s: cannot create file", tmp);
  int version = 1;
  hsize_t dims[2] = {(hsize_t)n, (hsize_t)k}, one = 1;
  hid_t s = H5Screate_simple(1, &one, NULL), a = H5Acreate2(f, "format_version", H5T_NATIVE_INT, s, H5P_DEFAULT, H5P_DEFAULT);
  herr_t err = a < 0 || H5Awrite(a, H5T_NATIVE_INT, &version) < 0;
  if (a >= 0) H5Aclose(a);
  H5Sclose(s);
  err |= attr_str(f, "format", "nnmpi-predictions") < 0 || attr_str(f, "model", model) < 0 || attr_str(f, "data", data) < 0;
  err |= write_array(f, "outputs", H5T_NATIVE_FLOAT, 2, dims, outputs) < 0;
  if (classification && !err) {
    if (!(pred = malloc(sizeof(int32_t) * (size_t)(n ? n : 1)))) err = 1;
    for (int64_t i = 0; pred && i < n; i++) {
      const float *o = outputs + i * k;
      int best = 0;
      if (k == 1) best = o[0] > 0.5f;
      else
        for (int j = 1; j < k; j++) best = o[j] > o[best] ? j : best;
      pred[i] = best;
    }
    err |= !pred || write_array(f, "predicted", H5T_NATIVE_INT32, 1, dims, pred) < 0;
  }
  free(pred);
  err |= H5Fclose(f) < 0;
  if (err || rename(tmp, path)) {
    remove(tmp);
    return NN_FAIL(NN_EIO, "%s: writing predictions failed", path);
  }
  return NN_OK;
}
