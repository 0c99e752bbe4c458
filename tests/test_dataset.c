/* test_dataset: reading, validating and writing nnmpi dataset files (src/dataset.c,
 * src/dataset_write.c): round trips, h5py-style files, every validation error with its message,
 * truncated and byte-flipped files. */
#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "nnmpi/dataset.h"
#include "nnmpi/dataset_write.h"
#include "nnmpi/predictions.h"
#include "nnmpi/status.h"
#include "testutil.h"

/* HDF5 1.10 itself leaks a few blocks when it meets damaged metadata; our own ids are checked
 * with H5Fget_obj_count instead. Used only when built with LeakSanitizer. */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void) { return "leak:libhdf5"; }

/* each test group works in a fresh temporary directory (tests/testutil.h) */
#define tmp tu_path
#define setup tu_setup_tmpdir
#define teardown tu_teardown_tmpdir

/* Writes obj (e.g. "/train/X") into path as a plain contiguous dataset, like h5py would. */
static void h5_put(const char *path, const char *obj, hid_t type, int rank, hsize_t d0, hsize_t d1, const void *data) {
  H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
  hid_t f = access(path, F_OK) == 0 ? H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT)
                                     : H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  assert_true(f >= 0);
  hsize_t dims[2] = {d0, d1};
  hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
  H5Pset_create_intermediate_group(lcpl, 1);
  hid_t s = H5Screate_simple(rank, dims, NULL), d = H5Dcreate2(f, obj, type, s, lcpl, H5P_DEFAULT, H5P_DEFAULT);
  assert_true(d >= 0);
  if (d0 * (rank == 2 ? d1 : 1) > 0) assert_true(H5Dwrite(d, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) >= 0);
  H5Dclose(d), H5Sclose(s), H5Pclose(lcpl), H5Fclose(f);
}

/* Sets a root attribute: string when s is non-NULL, else the int v. */
static void h5_root_attr(const char *path, const char *name, const char *s, int v) {
  hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT), sp = H5Screate(H5S_SCALAR), t = H5Tcopy(s ? H5T_C_S1 : H5T_NATIVE_INT);
  assert_true(f >= 0);
  if (s) H5Tset_size(t, strlen(s) + 1);
  if (H5Aexists(f, name) > 0) H5Adelete(f, name);
  hid_t a = H5Acreate2(f, name, t, sp, H5P_DEFAULT, H5P_DEFAULT);
  assert_true(H5Awrite(a, t, s ? (const void *)s : (const void *)&v) >= 0);
  H5Aclose(a), H5Tclose(t), H5Sclose(sp), H5Fclose(f);
}

/* A small valid h5py-style split: X (10, 3) float32, y (10) int32. */
static void plain_split(const char *path, const char *group) {
  float X[30];
  int32_t y[10];
  char obj[64];
  for (int i = 0; i < 30; i++) X[i] = (float)i * 0.5f;
  for (int i = 0; i < 10; i++) y[i] = i % 3;
  snprintf(obj, sizeof obj, "%s/X", group);
  h5_put(path, obj, H5T_NATIVE_FLOAT, 2, 10, 3, X);
  snprintf(obj, sizeof obj, "%s/y", group);
  h5_put(path, obj, H5T_NATIVE_INT32, 1, 10, 0, y);
}

static void expect_probe_error(const char *path, const char *group, const char *needle) {
  nn_split_info in;
  assert_int_equal(nn_dataset_probe(path, group, &in), NN_EDATA);
  tu_assert_contains(nn_errmsg(), needle);
}

static void test_parse_spec(void **state) {
  (void)state;
  char p[64], g[32];
  assert_int_equal(nn_dataset_parse_spec("data/a.h5:/test", "/train", p, sizeof p, g, sizeof g), NN_OK);
  assert_string_equal(p, "data/a.h5"), assert_string_equal(g, "/test");
  assert_int_equal(nn_dataset_parse_spec("a.h5", "/train", p, sizeof p, g, sizeof g), NN_OK);
  assert_string_equal(p, "a.h5"), assert_string_equal(g, "/train");
  assert_int_equal(nn_dataset_parse_spec("c:/x/a.h5:/val/sub", "/train", p, sizeof p, g, sizeof g), NN_OK);
  assert_string_equal(p, "c:/x/a.h5"), assert_string_equal(g, "/val/sub");
  assert_int_equal(nn_dataset_parse_spec(":/train", "/train", p, sizeof p, g, sizeof g), NN_EINVAL);
  tu_assert_contains(nn_errmsg(), "no file name");
  assert_int_equal(nn_dataset_parse_spec("a.h5:/averyveryveryveryveryverylonggroupname", "/t", p, sizeof p, g, sizeof g), NN_EINVAL);
}

/* Writes /train: X (n, 5) uint8, y = i % 7 in uneven blocks, with attributes. */
static void write_u8(const char *path, int n) {
  nn_dataset_file *f;
  nn_split_writer *w;
  uint8_t X[97 * 5];
  int32_t y[97];
  assert_int_equal(nn_dataset_create(path, false, &f), NN_OK);
  assert_int_equal(nn_dataset_split_begin(f, "/train", NN_DTYPE_U8, 5, 0.5f, -1.0f, 0, &w), NN_OK);
  for (int r = 0; r < n; r += 97) {
    int m = n - r < 97 ? n - r : 97;
    for (int i = 0; i < m * 5; i++) X[i] = (uint8_t)((r * 5 + i) * 7 % 256);
    for (int i = 0; i < m; i++) y[i] = (r + i) % 7;
    assert_int_equal(nn_dataset_split_append(w, m, X, y, NULL), NN_OK);
  }
  assert_int_equal(nn_dataset_split_end(w, true), NN_OK);
  nn_dataset_meta meta = {7, "a,b,c,d,e,f,g", "unit test"};
  assert_int_equal(nn_dataset_set_meta(f, &meta), NN_OK);
  assert_int_equal(nn_dataset_close(f, true), NN_OK);
}

static void test_round_trip_u8(void **state) {
  (void)state;
  const char *path = tmp("u8.h5");
  write_u8(path, 1000);
  nn_split_info in;
  assert_int_equal(nn_dataset_probe(path, "/train", &in), NN_OK);
  assert_int_equal(in.n, 1000), assert_int_equal(in.d, 5), assert_int_equal(in.xtype, NN_DTYPE_U8);
  assert_true(in.has_labels), assert_int_equal(in.k, 0), assert_int_equal(in.num_classes, 7);
  assert_true(in.scale == 0.5f && in.offset == -1.0f);
  uint8_t X[300 * 5];
  int32_t y[300];
  assert_int_equal(nn_dataset_read_rows(path, "/train", &in, 650, 300, X, y, NULL), NN_OK);
  for (int i = 0; i < 300 * 5; i++) assert_int_equal(X[i], (uint8_t)((650 * 5 + i) * 7 % 256));
  for (int i = 0; i < 300; i++) assert_int_equal(y[i], (650 + i) % 7);
  assert_int_equal(nn_dataset_check_rows(path, "/train", &in, 650, 300, X, y, NULL), NN_OK);
  assert_int_equal(nn_dataset_read_rows(path, "/train", &in, 900, 101, X, y, NULL), NN_EINVAL);
  tu_assert_contains(nn_errmsg(), "rows [900, 1001) outside 0..1000");
  /* root attributes as documented */
  nn_dataset_summary *sum = malloc(sizeof *sum);
  assert_non_null(sum);
  assert_int_equal(nn_dataset_summarize(path, sum), NN_OK);
  assert_string_equal(sum->format, "nnmpi-dataset");
  assert_int_equal(sum->format_version, 1);
  assert_string_equal(sum->class_names, "a,b,c,d,e,f,g");
  assert_string_equal(sum->source, "unit test");
  assert_int_equal(sum->n_groups, 1), assert_string_equal(sum->groups[0], "/train");
  free(sum);
}

static void test_round_trip_regression(void **state) {
  (void)state;
  const char *path = tmp("reg.h5");
  nn_dataset_file *f;
  nn_split_writer *w;
  float X[40 * 3], Y[40 * 2];
  for (int i = 0; i < 120; i++) X[i] = sinf((float)i);
  for (int i = 0; i < 80; i++) Y[i] = cosf((float)i);
  assert_int_equal(nn_dataset_create(path, false, &f), NN_OK);
  assert_int_equal(nn_dataset_split_begin(f, "/val", NN_DTYPE_F32, 3, 1, 0, 2, &w), NN_OK);
  assert_int_equal(nn_dataset_split_append(w, 40, X, NULL, Y), NN_OK);
  assert_int_equal(nn_dataset_split_end(w, true), NN_OK);
  assert_int_equal(nn_dataset_set_meta(f, &(nn_dataset_meta){0, NULL, NULL}), NN_OK);
  assert_int_equal(nn_dataset_close(f, true), NN_OK);
  nn_split_info in;
  assert_int_equal(nn_dataset_probe(path, "/val", &in), NN_OK);
  assert_false(in.has_labels), assert_int_equal(in.k, 2), assert_int_equal(in.xtype, NN_DTYPE_F32);
  float X2[120], Y2[80];
  assert_int_equal(nn_dataset_read_rows(path, "/val", &in, 0, 40, X2, NULL, Y2), NN_OK);
  assert_memory_equal(X, X2, sizeof X), assert_memory_equal(Y, Y2, sizeof Y);
  Y2[5] = INFINITY;
  assert_int_equal(nn_dataset_check_rows(path, "/val", &in, 100, 40, X2, NULL, Y2), NN_EDATA);
  tu_assert_contains(nn_errmsg(), "/val/Y: value inf at row 102, column 1");
}

static void test_writer_errors(void **state) {
  (void)state;
  const char *path = tmp("w.h5");
  write_u8(path, 10);
  nn_dataset_file *f;
  nn_split_writer *w;
  assert_int_equal(nn_dataset_create(path, true, &f), NN_OK);
  assert_int_equal(nn_dataset_split_begin(f, "/train", NN_DTYPE_F32, 2, 1, 0, 0, &w), NN_EDATA);
  tu_assert_contains(nn_errmsg(), "/train already exists");
  assert_null(w);
  assert_int_equal(nn_dataset_split_begin(f, "/reg", NN_DTYPE_F32, 2, 1, 0, 3, &w), NN_EDATA);
  tu_assert_contains(nn_errmsg(), "w.h5: num_classes is 7, so its splits are classification (labels y); /reg would hold regression targets Y");
  assert_int_equal(nn_dataset_split_begin(f, "/other", NN_DTYPE_F32, 2, 1, 0, 0, &w), NN_EDATA);
  tu_assert_contains(nn_errmsg(), "w.h5:/other would have 2 features, but the file's split /train has 5");
  assert_int_equal(nn_dataset_split_begin(f, "/empty", NN_DTYPE_F32, 5, 1, 0, 0, &w), NN_OK);
  assert_int_equal(nn_dataset_split_end(w, true), NN_EDATA);
  tu_assert_contains(nn_errmsg(), "/empty: no rows to write");
  assert_int_equal(nn_dataset_set_meta(f, &(nn_dataset_meta){7, "x,y", NULL}), NN_EDATA);
  tu_assert_contains(nn_errmsg(), "2 class names given (\"x,y\"), expected num_classes = 7");
  assert_int_equal(nn_dataset_close(f, false), NN_OK); /* not created here: stays */
  nn_dataset_summary *sum = malloc(sizeof *sum);
  assert_int_equal(nn_dataset_summarize(path, sum), NN_OK);
  assert_int_equal(sum->n_groups, 1); /* /reg never made, /empty unlinked */
  free(sum);
  assert_int_equal(nn_dataset_create(path, true, &f), NN_OK);
  assert_int_equal(nn_dataset_set_meta(f, &(nn_dataset_meta){7, "a,b,c,d,e,f,h", NULL}), NN_EDATA);
  tu_assert_contains(nn_errmsg(), "differ from the file's class_names \"a,b,c,d,e,f,g\"");
  assert_int_equal(nn_dataset_close(f, true), NN_OK);
  /* the existing split is still intact */
  nn_split_info in;
  assert_int_equal(nn_dataset_probe(path, "/train", &in), NN_OK);
  assert_int_equal(in.n, 10);
  /* appending to a checkpoint is refused */
  const char *ck = tmp("ck.h5");
  plain_split(ck, "/train");
  h5_root_attr(ck, "format", "nnmpi-checkpoint", 0);
  assert_int_equal(nn_dataset_create(ck, true, &f), NN_EDATA);
  tu_assert_contains(nn_errmsg(), "cannot append: root attribute format is \"nnmpi-checkpoint\"");
}

static void test_h5py_style(void **state) {
  (void)state;
  const char *a = tmp("plain.h5"), *b = tmp("f64.h5");
  plain_split(a, "/train");
  nn_split_info in;
  assert_int_equal(nn_dataset_probe(a, "/train", &in), NN_OK);
  assert_int_equal(in.n, 10), assert_int_equal(in.d, 3), assert_int_equal(in.num_classes, 0);
  assert_true(in.scale == 1.0f && in.offset == 0.0f);
  /* float64 X and int64 y are converted on read */
  double X[8] = {1, 2, 3, 4, 5, 6, 7, 8.5};
  int64_t y[4] = {0, 3, 2, 1};
  h5_put(b, "/train/X", H5T_NATIVE_DOUBLE, 2, 4, 2, X);
  h5_put(b, "/train/y", H5T_NATIVE_INT64, 1, 4, 0, y);
  assert_int_equal(nn_dataset_probe(b, "/train", &in), NN_OK);
  assert_int_equal(in.xtype, NN_DTYPE_F32);
  float x2[8];
  int32_t y2[4];
  assert_int_equal(nn_dataset_read_rows(b, "/train", &in, 0, 4, x2, y2, NULL), NN_OK);
  assert_true(x2[7] == 8.5f), assert_int_equal(y2[1], 3);
  /* uint8 X without scale/offset: 1 and 0 */
  uint8_t u[6] = {1, 2, 3, 4, 5, 6};
  h5_put(b, "/u/X", H5T_NATIVE_UINT8, 2, 3, 2, u);
  h5_put(b, "/u/y", H5T_NATIVE_INT32, 1, 3, 0, (int32_t[]){0, 1, 0});
  assert_int_equal(nn_dataset_probe(b, "/u", &in), NN_OK);
  assert_int_equal(in.xtype, NN_DTYPE_U8), assert_true(in.scale == 1.0f);
}

static void test_validation_errors(void **state) {
  (void)state;
  nn_split_info in;
  expect_probe_error(tmp("nope.h5"), "/train", "nope.h5: cannot open dataset file: No such file or directory");
  tu_write_file(tmp("text.h5"), "just text\n", (size_t)-1);
  expect_probe_error(tmp("text.h5"), "/train", "text.h5: not an HDF5 file");
  assert_int_equal(mkfifo(tmp("fifo.h5"), 0644), 0); /* never opened: that would block */
  expect_probe_error(tmp("fifo.h5"), "/train", "fifo.h5: is a FIFO, expected a regular file");

  const char *p = tmp("v.h5");
  plain_split(p, "/train");
  expect_probe_error(p, "/val", "v.h5: no group /val (groups in the file: /train)");
  expect_probe_error(p, "/train/deeper", "no group /train/deeper");
  expect_probe_error(p, "/train/X", "v.h5:/train/X: not a readable group");

  float X[6] = {0};
  int32_t y[3] = {0};
  h5_put(p, "/noX/y", H5T_NATIVE_INT32, 1, 3, 0, y);
  expect_probe_error(p, "/noX", "v.h5:/noX/X: missing, expected a dataset X (N, D) of float32 or uint8");
  h5_put(p, "/noy/X", H5T_NATIVE_FLOAT, 2, 3, 2, X);
  expect_probe_error(p, "/noy", "v.h5:/noy: missing y (N) int32 labels or Y (N, K) float32 targets");
  h5_put(p, "/rank/X", H5T_NATIVE_FLOAT, 1, 6, 0, X);
  expect_probe_error(p, "/rank", "v.h5:/rank/X: rank 1, expected 2 (N, D)");
  h5_put(p, "/dtype/X", H5T_NATIVE_INT32, 2, 3, 2, X);
  expect_probe_error(p, "/dtype", "v.h5:/dtype/X: dtype int32, expected float32 or uint8");
  h5_put(p, "/ydtype/X", H5T_NATIVE_FLOAT, 2, 3, 2, X);
  h5_put(p, "/ydtype/y", H5T_NATIVE_FLOAT, 1, 3, 0, X);
  expect_probe_error(p, "/ydtype", "v.h5:/ydtype/y: dtype float32, expected an integer type");
  h5_put(p, "/yrank/X", H5T_NATIVE_FLOAT, 2, 3, 2, X);
  h5_put(p, "/yrank/Y", H5T_NATIVE_FLOAT, 1, 3, 0, X);
  expect_probe_error(p, "/yrank", "v.h5:/yrank/Y: rank 1, expected 2 (N, K)");
  h5_put(p, "/rows/X", H5T_NATIVE_FLOAT, 2, 3, 2, X);
  h5_put(p, "/rows/y", H5T_NATIVE_INT32, 1, 2, 0, y);
  expect_probe_error(p, "/rows", "v.h5:/rows/y: 2 rows but X has 3");
  h5_put(p, "/zero/X", H5T_NATIVE_FLOAT, 2, 0, 2, X);
  h5_put(p, "/zero/y", H5T_NATIVE_INT32, 1, 0, 0, y);
  expect_probe_error(p, "/zero", "v.h5:/zero/X: 0 rows, expected at least 1");

  /* labels: >= 0 without num_classes, 0..K-1 with it */
  assert_int_equal(nn_dataset_probe(p, "/train", &in), NN_OK);
  int32_t lab[4] = {0, 1, -1, 2};
  float xs[12] = {0};
  assert_int_equal(nn_dataset_check_rows(p, "/train", &in, 40, 4, xs, lab, NULL), NN_EDATA);
  tu_assert_contains(nn_errmsg(), "v.h5:/train/y: label -1 at row 42, expected >= 0");
  h5_root_attr(p, "num_classes", NULL, 2);
  assert_int_equal(nn_dataset_probe(p, "/train", &in), NN_OK);
  assert_int_equal(in.num_classes, 2);
  lab[2] = 1;
  assert_int_equal(nn_dataset_check_rows(p, "/train", &in, 40211, 4, xs, lab, NULL), NN_EDATA);
  tu_assert_contains(nn_errmsg(), "v.h5:/train/y: label 2 at row 40214, expected 0..1");
  lab[3] = 0;
  assert_int_equal(nn_dataset_check_rows(p, "/train", &in, 0, 4, xs, lab, NULL), NN_OK);
  xs[7] = NAN;
  assert_int_equal(nn_dataset_check_rows(p, "/train", &in, 0, 4, xs, lab, NULL), NN_EDATA);
  tu_assert_contains(nn_errmsg(), "v.h5:/train/X: value nan at row 2, column 1, expected a finite number");
  xs[7] = -INFINITY;
  assert_int_equal(nn_dataset_check_rows(p, "/train", &in, 0, 4, xs, lab, NULL), NN_EDATA);
  tu_assert_contains(nn_errmsg(), "value -inf at row 2");

  h5_root_attr(p, "format", "nnmpi-checkpoint", 0);
  expect_probe_error(p, "/train", "v.h5: root attribute format is \"nnmpi-checkpoint\", expected \"nnmpi-dataset\" (this is a checkpoint");
  h5_root_attr(p, "format", "nnmpi-dataset", 0);
  h5_root_attr(p, "format_version", NULL, 2);
  expect_probe_error(p, "/train", "v.h5: format_version 2 is not supported, this nnmpi reads version 1");
  h5_root_attr(p, "format_version", NULL, 1);
  h5_root_attr(p, "num_classes", NULL, -3);
  expect_probe_error(p, "/train", "v.h5: root attribute num_classes is not an integer in 0..");
  h5_root_attr(p, "num_classes", "ten", 0);
  expect_probe_error(p, "/train", "root attribute num_classes is not an integer");
}

/* Copies src to dst keeping the first len bytes, with byte at flip (if >= 0) inverted. */
static void damaged_copy(const char *src, const char *dst, size_t len, long flip) {
  size_t n;
  char *buf = tu_read_file(src, &n);
  if (len > n) len = n;
  if (flip >= 0 && (size_t)flip < len) buf[flip] = (char)~buf[flip];
  tu_write_file(dst, buf, len);
  free(buf);
}

/* Opens, probes and reads all of /train; never crashes; returns the status. */
static int read_all(const char *path) {
  nn_split_info in;
  int rc = nn_dataset_probe(path, "/train", &in);
  if (rc) {
    assert_int_equal(H5Fget_obj_count(H5F_OBJ_ALL, H5F_OBJ_ALL), 0);
    return rc;
  }
  uint8_t *X = malloc((size_t)in.n * in.d);
  int32_t *y = malloc((size_t)in.n * sizeof *y);
  rc = nn_dataset_read_rows(path, "/train", &in, 0, in.n, X, y, NULL);
  if (!rc) rc = nn_dataset_check_rows(path, "/train", &in, 0, in.n, X, y, NULL);
  free(X), free(y);
  assert_int_equal(H5Fget_obj_count(H5F_OBJ_ALL, H5F_OBJ_ALL), 0); /* every id closed, even on errors */
  return rc;
}

static void test_truncated_and_flipped(void **state) {
  (void)state;
  const char *good = tmp("good.h5"), *bad = tmp("bad.h5");
  write_u8(good, 3000);
  size_t size;
  free(tu_read_file(good, &size));
  assert_int_equal(read_all(good), NN_OK);

  damaged_copy(good, bad, size / 2, -1);
  assert_int_equal(read_all(bad), NN_EDATA);
  tu_assert_contains(nn_errmsg(), "bad.h5: cannot open HDF5 file: truncated file");

  /* a flipped byte inside a chunk of X: caught by Fletcher32, named in the message */
  hid_t f = H5Fopen(good, H5F_ACC_RDONLY, H5P_DEFAULT), d = H5Dopen2(f, "/train/X", H5P_DEFAULT);
  hsize_t off[2];
  unsigned mask;
  haddr_t addr;
  hsize_t csize;
  hid_t sp = H5Dget_space(d);
  assert_true(H5Dget_chunk_info(d, sp, 0, off, &mask, &addr, &csize) >= 0);
  H5Sclose(sp), H5Dclose(d), H5Fclose(f);
  damaged_copy(good, bad, size, (long)(addr + csize / 2));
  nn_split_info in;
  assert_int_equal(nn_dataset_probe(bad, "/train", &in), NN_OK); /* metadata intact */
  assert_int_equal(read_all(bad), NN_EDATA);
  tu_assert_contains(nn_errmsg(), "bad.h5:/train/X: reading rows [0, 3000) failed");
  tu_assert_contains(nn_errmsg(), "Fletcher32");

  /* many cuts and flips anywhere: a clear error or (flip in unused bytes) success, no crash */
  int errors = 0;
  for (int i = 1; i < 40; i++) {
    damaged_copy(good, bad, size * (size_t)i / 40, -1);
    assert_int_equal(read_all(bad), NN_EDATA);
    assert_true(strstr(nn_errmsg(), "bad.h5") != NULL);
  }
  for (long pos = 0; pos < (long)size; pos += 7 + pos / 50) {
    damaged_copy(good, bad, size, pos);
    int rc = read_all(bad);
    assert_true(rc == NN_OK || rc == NN_EDATA);
    if (rc) errors++, assert_true(strstr(nn_errmsg(), "bad.h5") != NULL);
  }
  assert_true(errors > 0);
}

/* Writes obj of path as a chunked (chunk rows x cols) dataset of which only the first `written`
 * rows are written (rows never written read back as the fill value). */
static void h5_partial(const char *path, const char *obj, hid_t type, int rank, hsize_t n, hsize_t cols, hsize_t chunk,
                       hsize_t written, const void *data) {
  hid_t f = access(path, F_OK) == 0 ? H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT)
                                    : H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  hsize_t dims[2] = {n, cols}, ch[2] = {chunk, cols}, cnt[2] = {written, cols}, start[2] = {0, 0};
  hid_t lcpl = H5Pcreate(H5P_LINK_CREATE), dcpl = H5Pcreate(H5P_DATASET_CREATE);
  H5Pset_create_intermediate_group(lcpl, 1);
  if (chunk) H5Pset_chunk(dcpl, rank, ch);
  hid_t s = H5Screate_simple(rank, dims, NULL), d = H5Dcreate2(f, obj, type, s, lcpl, dcpl, H5P_DEFAULT);
  assert_true(d >= 0);
  if (written) {
    hid_t m = H5Screate_simple(rank, cnt, NULL);
    H5Sselect_hyperslab(s, H5S_SELECT_SET, start, NULL, cnt, NULL);
    assert_true(H5Dwrite(d, type, m, s, H5P_DEFAULT, data) >= 0);
    H5Sclose(m);
  }
  H5Dclose(d), H5Sclose(s), H5Pclose(dcpl), H5Pclose(lcpl), H5Fclose(f);
}

/* Issue 11: labels beyond int32 keep their value in messages; an array-valued scale; filters
 * this HDF5 cannot decode; rows never written; nested splits; appends with other shapes. */
static void test_issue11_data(void **state) {
  (void)state;
  nn_split_info in;
  float X[40 * 4];
  int32_t y32[40];
  for (int i = 0; i < 40 * 4; i++) X[i] = (float)i;
  for (int i = 0; i < 40; i++) y32[i] = i % 2;
  /* labels 2^31 (int64 and uint32): the real value and row, never the clamped 2147483647 */
  int64_t y64[40];
  uint32_t yu[40];
  for (int i = 0; i < 40; i++) y64[i] = i % 2, yu[i] = (uint32_t)(i % 2);
  y64[37] = 2147483648LL, yu[37] = 2147483648u;
  const char *big = tmp("big.h5");
  h5_put(big, "/i64/X", H5T_NATIVE_FLOAT, 2, 40, 4, X);
  h5_put(big, "/i64/y", H5T_NATIVE_INT64, 1, 40, 0, y64);
  h5_put(big, "/u32/X", H5T_NATIVE_FLOAT, 2, 40, 4, X);
  h5_put(big, "/u32/y", H5T_NATIVE_UINT32, 1, 40, 0, yu);
  for (int g = 0; g < 2; g++) {
    const char *grp = g ? "/u32" : "/i64";
    int32_t got[40];
    assert_int_equal(nn_dataset_probe(big, grp, &in), NN_OK);
    assert_int_equal(nn_dataset_read_rows(big, grp, &in, 0, 40, X, got, NULL), NN_EDATA);
    tu_assert_contains(nn_errmsg(), "/y: label 2147483648 at row 37");
    assert_null(strstr(nn_errmsg(), "2147483647"));
    assert_int_equal(nn_dataset_read_rows(big, grp, &in, 0, 37, X, got, NULL), NN_OK); /* rows before it */
  }
  /* uint8 X whose scale holds 2 values: one value is expected, nothing is read into a float */
  const char *u8 = tmp("u8a.h5");
  uint8_t xb[40 * 4] = {0};
  h5_put(u8, "/train/X", H5T_NATIVE_UINT8, 2, 40, 4, xb);
  h5_put(u8, "/train/y", H5T_NATIVE_INT32, 1, 40, 0, y32);
  hid_t f = H5Fopen(u8, H5F_ACC_RDWR, H5P_DEFAULT), d = H5Dopen2(f, "/train/X", H5P_DEFAULT);
  hsize_t two = 2;
  hid_t sp = H5Screate_simple(1, &two, NULL),
        a = H5Acreate2(d, "scale", H5T_NATIVE_FLOAT, sp, H5P_DEFAULT, H5P_DEFAULT);
  assert_true(H5Awrite(a, H5T_NATIVE_FLOAT, (float[]){0.5f, 2.0f}) >= 0);
  H5Aclose(a), H5Sclose(sp), H5Dclose(d), H5Fclose(f);
  expect_probe_error(u8, "/train", "u8a.h5:/train/X:scale has 2 values, expected a scalar (1 value)");
  /* a filter this HDF5 lacks (32000 = h5py's LZF, optional so that HDF5 writes without it) */
  const char *lzf = tmp("lzf.h5");
  f = H5Fcreate(lzf, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  hsize_t dims[2] = {40, 4}, ch[2] = {10, 4};
  hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE), g = H5Gcreate2(f, "/train", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  H5Pset_chunk(dcpl, 2, ch);
  assert_true(H5Pset_filter(dcpl, 32000, H5Z_FLAG_OPTIONAL, 0, NULL) >= 0);
  sp = H5Screate_simple(2, dims, NULL);
  d = H5Dcreate2(g, "X", H5T_NATIVE_FLOAT, sp, H5P_DEFAULT, dcpl, H5P_DEFAULT);
  assert_true(d >= 0 && H5Dwrite(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, X) >= 0);
  H5Dclose(d), H5Sclose(sp), H5Pclose(dcpl), H5Gclose(g), H5Fclose(f);
  H5Eclear2(H5E_DEFAULT);
  h5_put(lzf, "/train/y", H5T_NATIVE_INT32, 1, 40, 0, y32);
  expect_probe_error(lzf, "/train",
                     "lzf.h5:/train/X: stored with filter 32000 (lzf), which this HDF5 library cannot decode");
  /* rows never written: chunks of X or y missing, contiguous storage never allocated */
  const char *px = tmp("partial.h5");
  h5_partial(px, "/x/X", H5T_NATIVE_FLOAT, 2, 40, 4, 10, 20, X);
  h5_put(px, "/x/y", H5T_NATIVE_INT32, 1, 40, 0, y32);
  expect_probe_error(px, "/x", "partial.h5:/x/X: rows 20..29 were never written (2 of its 4 chunks exist");
  h5_put(px, "/y/X", H5T_NATIVE_FLOAT, 2, 40, 4, X);
  h5_partial(px, "/y/y", H5T_NATIVE_INT32, 1, 40, 0, 16, 17, y32);
  expect_probe_error(px, "/y", "partial.h5:/y/y: rows 32..39 were never written");
  h5_put(px, "/c/X", H5T_NATIVE_FLOAT, 2, 40, 4, X);
  h5_partial(px, "/c/y", H5T_NATIVE_INT32, 1, 40, 0, 0, 0, NULL); /* contiguous, never written */
  expect_probe_error(px, "/c", "partial.h5:/c/y: its 40 rows were never written");
  /* nested splits and groups that are not splits */
  const char *nest = tmp("nest.h5");
  plain_split(nest, "/train");
  plain_split(nest, "/folds/0");
  plain_split(nest, "/folds/1");
  f = H5Fopen(nest, H5F_ACC_RDWR, H5P_DEFAULT);
  H5Gclose(H5Gcreate2(f, "/meta", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
  H5Fclose(f);
  nn_dataset_summary *sum = malloc(sizeof *sum);
  assert_int_equal(nn_dataset_summarize(nest, sum), NN_OK);
  assert_int_equal(sum->n_groups, 3);
  assert_string_equal(sum->groups[0], "/folds/0"), assert_string_equal(sum->groups[1], "/folds/1");
  assert_string_equal(sum->groups[2], "/train");
  assert_int_equal(sum->n_other, 1), assert_string_equal(sum->other[0], "/meta");
  free(sum);
  assert_int_equal(nn_dataset_probe(nest, "/folds/1", &in), NN_OK);
  /* a split appended with another feature count is refused, and not added */
  nn_dataset_file *df;
  nn_split_writer *w;
  assert_int_equal(nn_dataset_create(nest, true, &df), NN_OK);
  assert_int_equal(nn_dataset_split_begin(df, "/test", NN_DTYPE_F32, 4, 1, 0, 0, &w), NN_EDATA);
  tu_assert_contains(nn_errmsg(), "nest.h5:/test would have 4 features, but the file's split /folds/0 has 3");
  assert_int_equal(nn_dataset_split_begin(df, "/test", NN_DTYPE_F32, 3, 1, 0, 0, &w), NN_OK);
  assert_int_equal(nn_dataset_split_end(w, false), NN_OK);
  assert_int_equal(nn_dataset_close(df, true), NN_OK);
  assert_int_equal(H5Fget_obj_count(H5F_OBJ_ALL, H5F_OBJ_ALL), 0);
}

/* nn_predictions_write, nn_predictions_is_file, nn_predictions_inspect. */
static void test_predictions(void **state) {
  (void)state;
  const char *p = tmp("preds.h5");
  float out[6 * 3];
  for (int i = 0; i < 18; i++) out[i] = (float)(i % 3) / 4;
  assert_int_equal(nn_predictions_write(p, 6, 3, out, true, "m.h5", "d.h5:/test"), NN_OK);
  assert_true(nn_predictions_is_file(p));
  nn_predictions_info pi;
  assert_int_equal(nn_predictions_inspect(p, &pi), NN_OK);
  assert_int_equal(pi.n, 6), assert_int_equal(pi.k, 3), assert_true(pi.has_predicted);
  assert_string_equal(pi.model, "m.h5"), assert_string_equal(pi.data, "d.h5:/test");
  assert_true(pi.out_min == 0 && pi.out_max == 0.5);
  plain_split(tmp("notpreds.h5"), "/train");
  assert_false(nn_predictions_is_file(tmp("notpreds.h5")));
  tu_write_file(tmp("notes.txt"), "notes\n", (size_t)-1);
  assert_false(nn_predictions_is_file(tmp("notes.txt")));
  assert_int_equal(nn_predictions_write(tmp("no/such/dir.h5"), 6, 3, out, true, "m", "d"), NN_EIO);
  tu_assert_contains(nn_errmsg(), "No such file or directory");
  assert_int_equal(H5Fget_obj_count(H5F_OBJ_ALL, H5F_OBJ_ALL), 0);
}

static void test_hdf5_version(void **state) {
  (void)state;
  char buf[64];
  nn_dataset_hdf5_version(buf, sizeof buf);
  tu_assert_contains(buf, "HDF5: 1.");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_parse_spec),
      cmocka_unit_test(test_round_trip_u8),
      cmocka_unit_test(test_round_trip_regression),
      cmocka_unit_test(test_writer_errors),
      cmocka_unit_test(test_h5py_style),
      cmocka_unit_test(test_validation_errors),
      cmocka_unit_test(test_truncated_and_flipped),
      cmocka_unit_test(test_issue11_data),
      cmocka_unit_test(test_predictions),
      cmocka_unit_test(test_hdf5_version),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
