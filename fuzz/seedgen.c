/* seedgen OUTDIR: writes the h5py-style seed files of fuzz/corpus/dataset-h5py/ with the HDF5
 * API alone (as h5py would: HDF5's default, oldest object format without metadata checksums,
 * contiguous, int64 labels, float64 values, attributes of 1-element arrays). Not a harness;
 * fuzz/make-corpus runs it.
 * seedgen --scale-array FILE: a valid-looking uint8 dataset whose X:scale attribute has 8
 * values (the known defect of docs/testing.md: nn_dataset_probe reads them into one float). */
#include <hdf5.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void check(herr_t e, const char *what) {
  if (e < 0) {
    fprintf(stderr, "seedgen: %s failed\n", what);
    exit(1);
  }
}

static void dset(hid_t g, const char *name, hid_t ftype, hid_t mtype, int rank, hsize_t d0, hsize_t d1,
                 const void *v) {
  hsize_t dims[2] = {d0, d1};
  hid_t s = H5Screate_simple(rank, dims, NULL), d = H5Dcreate2(g, name, ftype, s, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  check(d, name);
  check(H5Dwrite(d, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, v), name);
  H5Dclose(d);
  H5Sclose(s);
}

/* Attribute with n values (n = 0: scalar). */
static void attr(hid_t o, const char *name, hid_t ftype, hid_t mtype, hsize_t n, const void *v) {
  hid_t s = n ? H5Screate_simple(1, &n, NULL) : H5Screate(H5S_SCALAR);
  hid_t a = H5Acreate2(o, name, ftype, s, H5P_DEFAULT, H5P_DEFAULT);
  check(a, name);
  check(H5Awrite(a, mtype, v), name);
  H5Aclose(a);
  H5Sclose(s);
}

static hid_t create(const char *dir, const char *name) {
  char path[4096];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  check(f, path);
  return f;
}

static int scale_array(const char *path) {
  hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  check(f, path);
  int32_t y[2] = {0, 1};
  uint8_t X[2][2] = {{0, 1}, {2, 3}};
  float scale[8] = {1, 1, 1, 1, 1, 1, 1, 1};
  hid_t g = H5Gcreate2(f, "/train", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  dset(g, "X", H5T_STD_U8LE, H5T_NATIVE_UINT8, 2, 2, 2, X);
  dset(g, "y", H5T_STD_I32LE, H5T_NATIVE_INT32, 1, 2, 0, y);
  hid_t d = H5Dopen2(g, "X", H5P_DEFAULT);
  attr(d, "scale", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 8, scale);
  H5Dclose(d);
  H5Gclose(g);
  H5Fclose(f);
  return 0;
}

int main(int argc, char **argv) {
  if (argc == 3 && !strcmp(argv[1], "--scale-array")) return scale_array(argv[2]);
  if (argc != 2) {
    fprintf(stderr, "usage: seedgen OUTDIR | seedgen --scale-array FILE\n");
    return 2;
  }
  /* uint8 X with scale/offset as 1-element float32 arrays, int64 y, num_classes int64 */
  hid_t f = create(argv[1], "seed-h5py-u8.h5");
  int64_t nc = 3, y[4] = {0, 2, 1, 2};
  uint8_t X[4][3] = {{0, 1, 2}, {3, 4, 5}, {250, 251, 252}, {253, 254, 255}};
  float scale = 1.0f / 255, offset = -0.5f;
  attr(f, "num_classes", H5T_STD_I64LE, H5T_NATIVE_INT64, 0, &nc);
  for (int s = 0; s < 2; s++) {
    hid_t g = H5Gcreate2(f, s ? "/test" : "/train", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    dset(g, "X", H5T_STD_U8LE, H5T_NATIVE_UINT8, 2, 4 - 2 * s, 3, X);
    dset(g, "y", H5T_STD_I64LE, H5T_NATIVE_INT64, 1, 4 - 2 * s, 0, y);
    hid_t d = H5Dopen2(g, "X", H5P_DEFAULT);
    attr(d, "scale", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 1, &scale);
    attr(d, "offset", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 1, &offset);
    H5Dclose(d);
    H5Gclose(g);
  }
  H5Fclose(f);

  /* float64 X and Y (regression), no attributes at all */
  f = create(argv[1], "seed-h5py-f64.h5");
  double Xd[3][2] = {{0.5, -1}, {2, 1e-3}, {-7, 3}}, Yd[3][2] = {{1, 2}, {3, 4}, {5, 6}};
  for (int s = 0; s < 2; s++) {
    hid_t g = H5Gcreate2(f, s ? "/test" : "/train", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    dset(g, "X", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 2, 3 - s, 2, Xd);
    dset(g, "Y", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 2, 3 - s, 2, Yd);
    H5Gclose(g);
  }
  H5Fclose(f);
  return 0;
}
