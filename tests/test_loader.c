/* test_loader: the loader under mpiexec -n 1, 2, 4 — node-shared global copies (real nodes and
 * pretend nodes of K ranks), shard slices, in-memory splits, and failures that must reach every
 * rank with one message. Writes its own small dataset files with the HDF5 C API. */
#include "testutil.h"

#include <hdf5.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nnmpi/dist.h"
#include "nnmpi/loader.h"
#include "nnmpi/status.h"

enum { N = 103, D = 5, NF = 37, DF = 3, KF = 2, BAD_ROW = 57 };
static char dir[512], u8_path[600], f32_path[600], bad_path[600], missing_path[600];

/* The source values every check compares against. */
static uint8_t xu8(int64_t i, int j) { return (uint8_t)((i * 7 + j * 3) % 251); }
static int32_t label(int64_t i) { return (int32_t)(i % 10); }
static float xf32(int64_t i, int j) { return (float)i * 0.5f - (float)j; }
static float target(int64_t i, int c) { return (float)i + 0.25f * (float)c; }

static void attr_write(hid_t obj, const char *name, hid_t type, const void *v) {
  hid_t sp = H5Screate(H5S_SCALAR), a = H5Acreate2(obj, name, type, sp, H5P_DEFAULT, H5P_DEFAULT);
  assert_true(a >= 0 && H5Awrite(a, type, v) >= 0);
  H5Aclose(a);
  H5Sclose(sp);
}

static void dset_write(hid_t g, const char *name, hid_t type, int rank, const hsize_t *dims, const void *buf) {
  hid_t sp = H5Screate_simple(rank, dims, NULL), pl = H5Pcreate(H5P_DATASET_CREATE);
  hsize_t chunk[2] = {dims[0] < 16 ? dims[0] : 16, rank > 1 ? dims[1] : 1};
  H5Pset_chunk(pl, rank, chunk);
  hid_t ds = H5Dcreate2(g, name, type, sp, H5P_DEFAULT, pl, H5P_DEFAULT);
  assert_true(ds >= 0 && H5Dwrite(ds, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) >= 0);
  H5Dclose(ds);
  H5Pclose(pl);
  H5Sclose(sp);
}

/* A dataset file with split /train: uint8 X (n, D) + labels 0..9 (u8) or float32 X (n, DF) +
 * targets Y (n, KF). bad_row >= 0 puts label 12 there. */
static void write_file(const char *path, bool u8, int64_t n, int bad_row) {
  hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  assert_true(f >= 0);
  hid_t str = H5Tcopy(H5T_C_S1);
  H5Tset_size(str, strlen("nnmpi-dataset"));
  attr_write(f, "format", str, "nnmpi-dataset");
  H5Tclose(str);
  int version = 1, classes = 10;
  attr_write(f, "format_version", H5T_NATIVE_INT, &version);
  if (u8) attr_write(f, "num_classes", H5T_NATIVE_INT, &classes);
  hid_t g = H5Gcreate2(f, "train", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  int d = u8 ? D : DF;
  hsize_t dims[2] = {(hsize_t)n, (hsize_t)d}, ydims[2] = {(hsize_t)n, KF};
  if (u8) {
    uint8_t *X = malloc((size_t)n * d);
    int32_t *y = malloc((size_t)n * sizeof *y);
    for (int64_t i = 0; i < n; i++) {
      for (int j = 0; j < d; j++) X[i * d + j] = xu8(i, j);
      y[i] = i == bad_row ? 12 : label(i);
    }
    dset_write(g, "X", H5T_NATIVE_UINT8, 2, dims, X);
    hid_t ds = H5Dopen2(g, "X", H5P_DEFAULT);
    float scale = 0.5f, offset = -1.0f;
    attr_write(ds, "scale", H5T_NATIVE_FLOAT, &scale);
    attr_write(ds, "offset", H5T_NATIVE_FLOAT, &offset);
    H5Dclose(ds);
    dset_write(g, "y", H5T_NATIVE_INT32, 1, dims, y);
    free(X);
    free(y);
  } else {
    float *X = malloc((size_t)n * d * sizeof *X), *Y = malloc((size_t)n * KF * sizeof *Y);
    for (int64_t i = 0; i < n; i++) {
      for (int j = 0; j < d; j++) X[i * d + j] = xf32(i, j);
      for (int c = 0; c < KF; c++) Y[i * KF + c] = target(i, c);
    }
    dset_write(g, "X", H5T_NATIVE_FLOAT, 2, dims, X);
    dset_write(g, "Y", H5T_NATIVE_FLOAT, 2, ydims, Y);
    free(X);
    free(Y);
  }
  H5Gclose(g);
  assert_true(H5Fclose(f) >= 0);
}

/* Every rank recorded the same message as rank 0. */
static void assert_same_message(void) {
  char r0[2048];
  snprintf(r0, sizeof r0, "%s", nn_errmsg());
  assert_int_equal(nn_dist_bcast(r0, sizeof r0, 0), NN_OK);
  assert_string_equal(r0, nn_errmsg());
}

static int64_t sum_i64(int64_t v) {
  assert_int_equal(nn_dist_sum_i64(&v, 1), NN_OK);
  return v;
}

/* Held rows [first_row, first_row + rows_held) of the uint8 file equal the source, raw and
 * through nn_loader_gather. */
static void check_u8_rows(const nn_loader *ld) {
  const uint8_t *X = ld->X;
  assert_non_null(ld->y);
  assert_null(ld->Y);
  for (int64_t r = 0; r < ld->rows_held; r++) {
    int64_t i = ld->first_row + r;
    for (int j = 0; j < D; j++) assert_int_equal(X[r * D + j], xu8(i, j));
    assert_int_equal(ld->y[r], label(i));
  }
  if (ld->rows_held == 0) return;
  uint32_t rows[4] = {(uint32_t)(ld->rows_held - 1), 0, (uint32_t)(ld->rows_held / 2), 0};
  float out[4 * D];
  int32_t y[4];
  nn_loader_gather(ld, rows, 4, out, y, NULL);
  for (int b = 0; b < 4; b++) {
    int64_t i = ld->first_row + rows[b];
    for (int j = 0; j < D; j++) assert_float_equal(out[b * D + j], xu8(i, j) * 0.5f - 1.0f, 1e-6);
    assert_int_equal(y[b], label(i));
  }
}

/* Global mode: every rank reaches all rows; one block per node, owned by node rank 0, for real
 * nodes (K = 0: one machine is one node) and pretend nodes of K = 1 and 2 ranks. */
static void test_global(void **state) {
  (void)state;
  int rank = nn_dist_rank(), size = nn_dist_size();
  const int ks[] = {0, 1, 2};
  for (int t = 0; t < 3; t++) {
    int k = ks[t];
    nn_loader ld;
    assert_int_equal(nn_loader_open(&ld, u8_path, "/train", NN_SAMPLING_GLOBAL, k), NN_OK);
    assert_int_equal(ld.info.n, N);
    assert_int_equal(ld.info.d, D);
    assert_int_equal(ld.info.xtype, NN_DTYPE_U8);
    assert_int_equal(ld.first_row, 0);
    assert_int_equal(ld.rows_held, N);
    check_u8_rows(&ld);

    int kk = k ? k : size;
    assert_int_equal(ld.shm.n_nodes, (size + kk - 1) / kk);
    assert_int_equal(ld.shm.node_rank, rank % kk);
    assert_int_equal(ld.shm.node_id, rank / kk);
    size_t priv, shared;
    nn_loader_memory(&ld, &priv, &shared);
    assert_int_equal(priv, 0);
    if (ld.shm.node_rank == 0) assert_true(shared >= (size_t)N * D + N * sizeof(int32_t));
    else assert_int_equal(shared, 0);
    /* exactly one copy per node: the job total is n_nodes blocks */
    int64_t block = (int64_t)ld.shm.bytes;
    assert_int_equal(sum_i64((int64_t)shared), ld.shm.n_nodes * block);
    nn_loader_close(&ld);
    nn_loader_close(&ld); /* idempotent */
    assert_null(ld.X);
  }
}

/* Shard mode: rank r holds exactly rows nn_shard_range(N, r, size) in private memory. */
static void test_shard(void **state) {
  (void)state;
  nn_loader ld;
  assert_int_equal(nn_loader_open(&ld, u8_path, "/train", NN_SAMPLING_SHARD, 0), NN_OK);
  int64_t lo, hi;
  nn_shard_range(N, nn_dist_rank(), nn_dist_size(), &lo, &hi);
  assert_int_equal(ld.first_row, lo);
  assert_int_equal(ld.rows_held, hi - lo);
  assert_int_equal(sum_i64(ld.rows_held), N);
  check_u8_rows(&ld);
  size_t priv, shared;
  nn_loader_memory(&ld, &priv, &shared);
  assert_int_equal(shared, 0);
  size_t need = (size_t)(hi - lo) * (D + sizeof(int32_t)); /* the shard only, not the split */
  assert_true(priv >= need && priv < need + 64);
  nn_loader_close(&ld);
}

/* float32 X with regression targets Y, both modes, pretend nodes of 2 ranks. */
static void test_targets(void **state) {
  (void)state;
  for (int m = 0; m < 2; m++) {
    nn_loader ld;
    assert_int_equal(nn_loader_open(&ld, f32_path, "/train", m ? NN_SAMPLING_SHARD : NN_SAMPLING_GLOBAL, 2), NN_OK);
    assert_int_equal(ld.info.xtype, NN_DTYPE_F32);
    assert_false(ld.info.has_labels);
    assert_int_equal(ld.info.k, KF);
    assert_null(ld.y);
    const float *X = ld.X;
    for (int64_t r = 0; r < ld.rows_held; r++) {
      int64_t i = ld.first_row + r;
      for (int j = 0; j < DF; j++) assert_float_equal(X[r * DF + j], xf32(i, j), 0);
      for (int c = 0; c < KF; c++) assert_float_equal(ld.Y[r * KF + c], target(i, c), 0);
    }
    if (ld.rows_held > 0) {
      uint32_t rows[2] = {(uint32_t)ld.rows_held - 1, 0};
      float out[2 * DF], Y[2 * KF];
      nn_loader_gather(&ld, rows, 2, out, NULL, Y);
      assert_float_equal(out[1], xf32(ld.first_row + rows[0], 1), 0);
      assert_float_equal(Y[KF + 1], target(ld.first_row, 1), 0);
    }
    assert_int_equal(sum_i64(m ? ld.rows_held : (ld.shm.node_rank == 0)), m ? NF : ld.shm.n_nodes);
    nn_loader_close(&ld);
  }
}

/* One rank (1, or 0 when alone) is given a missing file: every rank fails with the same message
 * naming the file, no rank hangs, and the loaders are empty. */
static void test_missing_on_one_rank(void **state) {
  (void)state;
  int bad = nn_dist_size() > 1 ? 1 : 0;
  for (int m = 0; m < 2; m++) {
    nn_loader ld;
    const char *path = nn_dist_rank() == bad ? missing_path : u8_path;
    int rc = nn_loader_open(&ld, path, "/train", m ? NN_SAMPLING_SHARD : NN_SAMPLING_GLOBAL, 0);
    assert_int_equal(rc, NN_EDATA);
    tu_assert_contains(nn_errmsg(), "missing.h5");
    assert_same_message();
    assert_null(ld.X);
    assert_int_equal(ld.rows_held, 0);
    nn_loader_close(&ld);
  }
  /* a valid file of another shape on one rank: caught before any rank fills the node block */
  if (nn_dist_size() > 1) {
    nn_loader ld;
    const char *path = nn_dist_rank() == bad ? f32_path : u8_path;
    assert_int_equal(nn_loader_open(&ld, path, "/train", NN_SAMPLING_GLOBAL, 0), NN_EDATA);
    tu_assert_contains(nn_errmsg(), "rank 0 sees 103 x 5");
    tu_assert_contains(nn_errmsg(), "f32.h5");
    assert_same_message();
  }
  /* a group that does not exist, on every rank */
  nn_loader ld;
  assert_int_equal(nn_loader_open(&ld, u8_path, "/nosuch", NN_SAMPLING_GLOBAL, 0), NN_EDATA);
  tu_assert_contains(nn_errmsg(), "nosuch");
  assert_same_message();
}

/* A label out of range at row 57 is found by whichever rank read it and reported everywhere. */
static void test_bad_label(void **state) {
  (void)state;
  for (int m = 0; m < 2; m++)
    for (int k = 0; k < 2; k++) {
      nn_loader ld;
      int rc = nn_loader_open(&ld, bad_path, "/train", m ? NN_SAMPLING_SHARD : NN_SAMPLING_GLOBAL, k);
      assert_int_equal(rc, NN_EDATA);
      tu_assert_contains(nn_errmsg(), "row 57");
      tu_assert_contains(nn_errmsg(), "12");
      tu_assert_contains(nn_errmsg(), "bad.h5");
      assert_same_message();
      assert_null(ld.X);
    }
}

static void test_bad_arguments(void **state) {
  (void)state;
  nn_loader ld;
  assert_int_equal(nn_loader_open(&ld, u8_path, "/train", NN_SAMPLING_GLOBAL, -1), NN_EINVAL);
  tu_assert_contains(nn_errmsg(), "ranks_per_node -1");
  assert_int_equal(nn_loader_open(&ld, u8_path, "/train", (nn_sampling)7, 0), NN_EINVAL);
  assert_same_message();
}

/* Caller-made arrays (the built-in synthetic sets): borrowed, sliced in shard mode, checked. */
static void test_memory(void **state) {
  (void)state;
  enum { M = 11, MD = 2 };
  float X[M * MD];
  int32_t y[M];
  for (int i = 0; i < M; i++) {
    X[i * MD] = (float)i;
    X[i * MD + 1] = -(float)i;
    y[i] = i % 3;
  }
  nn_split_info info = {.n = M, .d = MD, .xtype = NN_DTYPE_F32, .scale = 1, .offset = 0,
                        .has_labels = true, .num_classes = 3};
  nn_loader ld;
  assert_int_equal(nn_loader_open_memory(&ld, "synthetic blobs", &info, X, y, NULL, NN_SAMPLING_GLOBAL), NN_OK);
  assert_int_equal(ld.rows_held, M);
  assert_ptr_equal(ld.X, X);
  nn_loader_close(&ld);

  assert_int_equal(nn_loader_open_memory(&ld, "synthetic blobs", &info, X, y, NULL, NN_SAMPLING_SHARD), NN_OK);
  int64_t lo, hi;
  nn_shard_range(M, nn_dist_rank(), nn_dist_size(), &lo, &hi);
  assert_int_equal(ld.first_row, lo);
  assert_int_equal(ld.rows_held, hi - lo);
  uint32_t row0 = 0;
  float out[MD];
  int32_t oy;
  nn_loader_gather(&ld, &row0, 1, out, &oy, NULL);
  assert_float_equal(out[1], -(float)lo, 0);
  assert_int_equal(oy, (int32_t)(lo % 3));
  nn_loader_close(&ld);

  y[7] = 5; /* out of range for 3 classes, on every rank */
  assert_int_equal(nn_loader_open_memory(&ld, "synthetic blobs", &info, X, y, NULL, NN_SAMPLING_GLOBAL), NN_EDATA);
  tu_assert_contains(nn_errmsg(), "row 7");
  tu_assert_contains(nn_errmsg(), "synthetic blobs");
  assert_same_message();
  y[7] = 1;
  assert_int_equal(nn_loader_open_memory(&ld, "synthetic blobs", &info, X, NULL, NULL, NN_SAMPLING_GLOBAL), NN_EINVAL);
  tu_assert_contains(nn_errmsg(), "neither y nor Y");
}

int main(int argc, char **argv) {
  if (nn_dist_init(&argc, &argv) != NN_OK) return 1;
  if (nn_dist_rank() == 0) {
    tu_mkdtemp(dir, sizeof dir);
  }
  nn_dist_bcast(dir, sizeof dir, 0);
  snprintf(u8_path, sizeof u8_path, "%s/u8.h5", dir);
  snprintf(f32_path, sizeof f32_path, "%s/f32.h5", dir);
  snprintf(bad_path, sizeof bad_path, "%s/bad.h5", dir);
  snprintf(missing_path, sizeof missing_path, "%s/missing.h5", dir);
  if (nn_dist_rank() == 0) {
    write_file(u8_path, true, N, -1);
    write_file(f32_path, false, NF, -1);
    write_file(bad_path, true, N, BAD_ROW);
  }
  nn_dist_barrier();

  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_global),        cmocka_unit_test(test_shard),
      cmocka_unit_test(test_targets),       cmocka_unit_test(test_missing_on_one_rank),
      cmocka_unit_test(test_bad_label),     cmocka_unit_test(test_bad_arguments),
      cmocka_unit_test(test_memory),
  };
  int failed = cmocka_run_group_tests(tests, NULL, NULL);
  nn_dist_barrier();
  if (nn_dist_rank() == 0) tu_rmtree(dir);
  nn_dist_finalize();
  return failed;
}
