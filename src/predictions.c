/* predictions: writes the output file of `nnmpi predict` (include/nnmpi/predictions.h).
 * Layer 4: HDF5 (through h5.h); no MPI calls, never prints. */
#include "nnmpi/predictions.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
  if (f < 0) return NN_FAIL(NN_EIO, "%s: cannot create file", tmp);
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
  err |= H5Fclose(f) < 0;
  if (err || rename(tmp, path)) {
    remove(tmp);
    return NN_FAIL(NN_EIO, "%s: writing predictions failed", path);
  }
  return NN_OK;
}
