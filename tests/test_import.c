/* test_import: the IDX and CSV importers (src/import_idx.c, src/import_csv.c) against small files
 * written here — round trips through nn_dataset_probe/read_rows and every error message. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "nnmpi/dataset.h"
#include "nnmpi/import.h"
#include "nnmpi/synth.h"
#include "nnmpi/status.h"
#include "testutil.h"

/* each test group works in a fresh temporary directory (tests/testutil.h) */
#define tmp tu_path
#define setup tu_setup_tmpdir
#define teardown tu_teardown_tmpdir

static void put_be32(unsigned char *p, uint32_t v) { p[0] = v >> 24, p[1] = v >> 16, p[2] = v >> 8, p[3] = v; }

/* Pixel j of image i, and its label. */
static uint8_t pix(int i, int j) { return (uint8_t)(i * 31 + j * 7); }
static uint8_t lab(int i) { return (uint8_t)(i * 3 % 10); }

/* Writes an IDX images file (n, rows, cols) and a labels file (nl), gzip-compressed or plain,
 * cut to `keep` bytes of the images file when keep > 0. */
static void write_idx(const char *images, const char *labels, int n, int rows, int cols, int nl, bool gz, size_t keep) {
  size_t isz = 16 + (size_t)n * rows * cols, lsz = 8 + (size_t)nl;
  unsigned char *im = malloc(isz), *lb = malloc(lsz);
  put_be32(im, 0x803), put_be32(im + 4, (uint32_t)n), put_be32(im + 8, (uint32_t)rows), put_be32(im + 12, (uint32_t)cols);
  for (int i = 0; i < n; i++)
    for (int j = 0; j < rows * cols; j++) im[16 + (size_t)i * rows * cols + j] = pix(i, j);
  put_be32(lb, 0x801), put_be32(lb + 4, (uint32_t)nl);
  for (int i = 0; i < nl; i++) lb[8 + i] = lab(i);
  if (keep) isz = keep;
  if (gz) {
    gzFile f = gzopen(images, "wb");
    assert_int_equal(gzwrite(f, im, (unsigned)isz), (int)isz);
    gzclose(f);
    f = gzopen(labels, "wb");
    assert_int_equal(gzwrite(f, lb, (unsigned)lsz), (int)lsz);
    gzclose(f);
  } else {
    tu_write_file(images, im, isz);
    tu_write_file(labels, lb, lsz);
  }
  free(im), free(lb);
}

/* Probes out:group and checks every row against pix/lab. */
static void check_idx_split(const char *out, const char *group, int n, int d) {
  nn_split_info in;
  assert_int_equal(nn_dataset_probe(out, group, &in), NN_OK);
  assert_int_equal(in.n, n), assert_int_equal(in.d, d), assert_int_equal(in.xtype, NN_DTYPE_U8);
  assert_int_equal(in.num_classes, 10), assert_true(in.scale == 1.0f / 255.0f && in.offset == 0.0f);
  uint8_t *X = malloc((size_t)n * d);
  int32_t *y = malloc((size_t)n * sizeof *y);
  assert_int_equal(nn_dataset_read_rows(out, group, &in, 0, n, X, y, NULL), NN_OK);
  for (int i = 0; i < n; i++) {
    assert_int_equal(y[i], lab(i));
    for (int j = 0; j < d; j++) assert_int_equal(X[(size_t)i * d + j], pix(i, j));
  }
  free(X), free(y);
}

static void test_idx_round_trip(void **state) {
  (void)state;
  nn_import_result r;
  char out[512];
  snprintf(out, sizeof out, "%s", tmp("mnist.h5"));
  /* plain train split, then a gzip test split appended to the same file */
  write_idx(tmp("tr-img"), tmp("tr-lab"), 300, 4, 3, 300, false, 0);
  assert_int_equal(nn_import_idx(tmp("tr-img"), tmp("tr-lab"), out, "/train", false, 10, NULL, &r), NN_OK);
  assert_int_equal(r.rows, 300), assert_int_equal(r.d, 12), assert_int_equal(r.num_classes, 10);
  write_idx(tmp("te-img.gz"), tmp("te-lab.gz"), 50, 4, 3, 50, true, 0);
  const char *names = "T-shirt/top,Trouser,Pullover,Dress,Coat,Sandal,Shirt,Sneaker,Bag,Ankle boot";
  assert_int_equal(nn_import_idx(tmp("te-img.gz"), tmp("te-lab.gz"), out, "/test", true, 10, names, &r), NN_OK);
  check_idx_split(out, "/train", 300, 12);
  check_idx_split(out, "/test", 50, 12);
  nn_dataset_summary *sum = malloc(sizeof *sum);
  assert_non_null(sum);
  assert_int_equal(nn_dataset_summarize(out, sum), NN_OK);
  assert_string_equal(sum->class_names, names);
  tu_assert_contains(sum->source, "/train: import-idx"), tu_assert_contains(sum->source, "; /test: import-idx");
  free(sum);
  /* the same split again is refused and leaves the file intact */
  assert_int_equal(nn_import_idx(tmp("te-img.gz"), tmp("te-lab.gz"), out, "/test", true, 10, NULL, &r), NN_EDATA);
  tu_assert_contains(nn_errmsg(), "mnist.h5:/test already exists");
  check_idx_split(out, "/test", 50, 12);
  /* conflicting class names: refused, and the new split is not left behind */
  assert_int_equal(nn_import_idx(tmp("te-img.gz"), tmp("te-lab.gz"), out, "/val", true, 10, "0,1,2,3,4,5,6,7,8,9", &r), NN_EDATA);
  tu_assert_contains(nn_errmsg(), "class names \"0,1,2,3,4,5,6,7,8,9\" differ from the file's class_names \"T-shirt/top,");
  nn_split_info in;
  assert_int_equal(nn_dataset_probe(out, "/val", &in), NN_EDATA);
  tu_assert_contains(nn_errmsg(), "no group /val (groups in the file: /test, /train)");
  /* large images: several blocks of rows with a partial last block (block = 1 MiB / 4096 B) */
  write_idx(tmp("big-img.gz"), tmp("big-lab.gz"), 600, 64, 64, 600, true, 0);
  assert_int_equal(nn_import_idx(tmp("big-img.gz"), tmp("big-lab.gz"), tmp("big.h5"), "/train", false, 10, NULL, &r), NN_OK);
  check_idx_split(tmp("big.h5"), "/train", 600, 4096);
}

static void expect_idx_error(const char *img, const char *lbl, const char *needle) {
  nn_import_result r;
  const char *out = tmp("err.h5");
  assert_int_equal(nn_import_idx(img, lbl, out, "/train", false, 10, NULL, &r), NN_EDATA);
  tu_assert_contains(nn_errmsg(), needle);
  assert_int_not_equal(access(out, F_OK), 0); /* a failed import leaves no file behind */
}

static void test_idx_errors(void **state) {
  (void)state;
  nn_import_result r;
  expect_idx_error(tmp("missing"), tmp("missing2"), "missing: cannot open IDX file");
  write_idx(tmp("img"), tmp("lab"), 20, 2, 2, 19, false, 0);
  expect_idx_error(tmp("img"), tmp("lab"), "img has 20 images but");
  tu_assert_contains(nn_errmsg(), "lab has 19 labels");
  expect_idx_error(tmp("lab"), tmp("lab"), "lab: IDX file with 1 dimensions, expected 2 or more (images)");
  expect_idx_error(tmp("img"), tmp("img"), "img: IDX file with 3 dimensions, expected 1 (labels)");
  tu_write_file(tmp("junk"), "\x1f\x8b junk that is not gzip", (size_t)-1);
  expect_idx_error(tmp("junk"), tmp("lab"), "junk: ");
  tu_write_file(tmp("text"), "hello world, this is text", (size_t)-1);
  expect_idx_error(tmp("text"), tmp("lab"), "text: IDX magic 68 65 6c 6c, expected 00 00 08 0N");
  tu_write_file(tmp("short"), "\0\0", 2);
  expect_idx_error(tmp("short"), tmp("lab"), "short: truncated or corrupt while reading the IDX header");
  /* truncated images, plain and gzip */
  write_idx(tmp("cut"), tmp("cut-lab"), 20, 2, 2, 20, false, 16 + 4 * 13 + 1);
  expect_idx_error(tmp("cut"), tmp("cut-lab"), "cut: truncated or corrupt while reading items [0, 20) of 20");
  write_idx(tmp("cut.gz"), tmp("cut-lab.gz"), 20, 2, 2, 20, true, 0);
  size_t n;
  char *buf = tu_read_file(tmp("cut.gz"), &n);
  tu_write_file(tmp("cut.gz"), buf, n - 12); /* lose the gzip trailer and some data */
  free(buf);
  expect_idx_error(tmp("cut.gz"), tmp("cut-lab.gz"), "cut.gz: truncated or corrupt while reading items [0, 20) of 20");
  /* a label out of range names the file and item */
  write_idx(tmp("l-img"), tmp("l-lab"), 30, 2, 2, 30, false, 0);
  assert_int_equal(nn_import_idx(tmp("l-img"), tmp("l-lab"), tmp("l.h5"), "/train", false, 5, NULL, &r), NN_EDATA);
  tu_assert_contains(nn_errmsg(), "l-lab: label 6 at item 2, expected 0..4");
  /* extra bytes after the announced items */
  buf = tu_read_file(tmp("l-lab"), &n);
  buf = realloc(buf, n + 3);
  tu_write_file(tmp("l-lab"), buf, n + 3);
  free(buf);
  expect_idx_error(tmp("l-img"), tmp("l-lab"), "l-lab: data after the 30 items its header announces");
  /* class names must match the class count */
  assert_int_equal(nn_import_idx(tmp("img"), tmp("img-lab"), tmp("x.h5"), "/train", false, 10, "a,b", &r), NN_EDATA);
  write_idx(tmp("ok"), tmp("ok-lab"), 10, 2, 2, 10, false, 0);
  assert_int_equal(nn_import_idx(tmp("ok"), tmp("ok-lab"), tmp("x.h5"), "/train", false, 10, "a,b", &r), NN_EDATA);
  tu_assert_contains(nn_errmsg(), "2 class names given (\"a,b\"), expected num_classes = 10");
}

static void test_csv_round_trip(void **state) {
  (void)state;
  nn_import_result r;
  nn_split_info in;
  char csv[512], out[512];
  snprintf(csv, sizeof csv, "%s", tmp("c.csv")), snprintf(out, sizeof out, "%s", tmp("c.h5"));
  tu_write_file(csv, "a,b,label,c\n1.5, 2 ,0,3e2\r\n\n-4,5.25,2,6\n  \n7,8,1,-9e-3\n", (size_t)-1);
  nn_csv_options o = {.header = true, .label_col = 3};
  assert_int_equal(nn_import_csv(csv, out, "/train", false, &o, &r), NN_OK);
  assert_int_equal(r.rows, 3), assert_int_equal(r.d, 3), assert_int_equal(r.num_classes, 3);
  assert_int_equal(nn_dataset_probe(out, "/train", &in), NN_OK);
  assert_int_equal(in.num_classes, 3), assert_int_equal(in.xtype, NN_DTYPE_F32);
  float X[9], want[9] = {1.5f, 2, 300, -4, 5.25f, 6, 7, 8, -9e-3f};
  int32_t y[3];
  assert_int_equal(nn_dataset_read_rows(out, "/train", &in, 0, 3, X, y, NULL), NN_OK);
  assert_memory_equal(X, want, sizeof X);
  assert_int_equal(y[0], 0), assert_int_equal(y[1], 2), assert_int_equal(y[2], 1);
  /* label in the last column (-1) appended as /test with a fixed class count */
  tu_write_file(tmp("t.csv"), "1,2,3,1\n5,6,7,4\n", (size_t)-1);
  o = (nn_csv_options){.label_col = -1, .num_classes = 5};
  assert_int_equal(nn_import_csv(tmp("t.csv"), out, "/test", true, &o, &r), NN_OK);
  assert_int_equal(nn_dataset_probe(out, "/test", &in), NN_OK);
  assert_int_equal(in.d, 3), assert_int_equal(in.num_classes, 5); /* max(3, 5) */
  /* a split with another feature count is refused, and the file keeps only its splits */
  tu_write_file(tmp("t4.csv"), "1,2,3,4,1\n5,6,7,8,4\n", (size_t)-1);
  assert_int_equal(nn_import_csv(tmp("t4.csv"), out, "/val", true, &o, &r), NN_EDATA);
  tu_assert_contains(nn_errmsg(), "c.h5:/val would have 4 features, but the file's split /test has 3");
  assert_int_equal(nn_dataset_probe(out, "/val", &in), NN_EDATA);
  /* regression targets; many rows (several blocks of 1 MiB / (4 * 203) rows) */
  FILE *fp = fopen(tmp("r.csv"), "w");
  for (int i = 0; i < 3000; i++) {
    for (int j = 0; j < 203; j++) fprintf(fp, "%s%d", j ? "," : "", i + j);
    fputc('\n', fp);
  }
  fclose(fp);
  o = (nn_csv_options){.target_cols = "1,-1"};
  assert_int_equal(nn_import_csv(tmp("r.csv"), tmp("r.h5"), "/train", false, &o, &r), NN_OK);
  assert_int_equal(r.rows, 3000), assert_int_equal(r.d, 201), assert_int_equal(r.k, 2);
  assert_int_equal(nn_dataset_probe(tmp("r.h5"), "/train", &in), NN_OK);
  assert_false(in.has_labels), assert_int_equal(in.k, 2), assert_int_equal(in.num_classes, 0);
  float x2[2 * 201], y2[4];
  assert_int_equal(nn_dataset_read_rows(tmp("r.h5"), "/train", &in, 2998, 2, x2, NULL, y2), NN_OK);
  assert_true(x2[0] == 2999.0f && x2[200] == 2998.0f + 201 && x2[201] == 3000.0f);
  assert_true(y2[0] == 2998.0f && y2[1] == 2998.0f + 202 && y2[3] == 2999.0f + 202);
}

static void expect_csv_error(const char *text, nn_csv_options o, int code, const char *needle) {
  nn_import_result r;
  const char *csv = tmp("e.csv"), *out = tmp("e.h5");
  tu_write_file(csv, text, (size_t)-1);
  assert_int_equal(nn_import_csv(csv, out, "/train", false, &o, &r), code);
  tu_assert_contains(nn_errmsg(), needle);
  assert_int_not_equal(access(out, F_OK), 0);
}

static void test_csv_errors(void **state) {
  (void)state;
  nn_csv_options L = {.label_col = 1};
  expect_csv_error("0,1,2\n1,3\n", L, NN_EDATA, "e.csv:2: 2 columns, expected 3 (as on line 1)");
  expect_csv_error("x,y,z\n0,1,2\n\n1,3,4,5\n", (nn_csv_options){.header = true, .label_col = 1}, NN_EDATA,
                   "e.csv:4: 4 columns, expected 3 (as on line 2)");
  expect_csv_error("0,1,2\n1,abc,4\n", L, NN_EDATA, "e.csv:2: column 2: expected a number, found \"abc\"");
  expect_csv_error("0,1,2\n1,,4\n", L, NN_EDATA, "e.csv:2: column 2: expected a number, found \"\"");
  expect_csv_error("0,1,2 3\n", L, NN_EDATA, "e.csv:1: column 3: expected a number, found \"2 3\"");
  expect_csv_error("0,1,nan\n", L, NN_EDATA, "e.csv:1: column 3: nan is not a finite float32 number");
  expect_csv_error("0,1,1e39\n", L, NN_EDATA, "e.csv:1: column 3: 1e39 is not a finite float32 number");
  expect_csv_error("", L, NN_EDATA, "e.csv: no data rows");
  expect_csv_error("a,b\n", (nn_csv_options){.header = true, .label_col = 1}, NN_EDATA, "e.csv: no data rows after the header");
  expect_csv_error("\n  \n", L, NN_EDATA, "e.csv: no data rows");
  expect_csv_error("0.5,1,2\n", L, NN_EDATA, "e.csv:1: column 1: label 0.5, expected an integer in 0..2147483646");
  expect_csv_error("-1,1,2\n", L, NN_EDATA, "e.csv:1: column 1: label -1, expected an integer in 0..2147483646");
  expect_csv_error("2147483647,1,2\n", L, NN_EDATA, "label 2147483647, expected an integer in 0..2147483646");
  expect_csv_error("1,1\n3,2\n", (nn_csv_options){.label_col = 1, .num_classes = 3}, NN_EDATA,
                   "e.csv:2: column 1: label 3, expected an integer in 0..2");
  expect_csv_error("1,1\n", (nn_csv_options){.label_col = 3}, NN_EINVAL, "e.csv:1: --label-col 3 outside 1..2");
  expect_csv_error("1,1\n", (nn_csv_options){.target_cols = "1,x"}, NN_EINVAL, "--target-cols '1,x': expected column numbers in 1..2");
  expect_csv_error("1,1,1\n", (nn_csv_options){.target_cols = "1,-3"}, NN_EINVAL, "column 1 named twice");
  expect_csv_error("1,1\n", (nn_csv_options){.target_cols = "1,2"}, NN_EDATA, "e.csv:1: no feature columns left");
  expect_csv_error("1,1\n", (nn_csv_options){0}, NN_EINVAL, "give exactly one of --label-col N or --target-cols");
  expect_csv_error("1,1\n", (nn_csv_options){.label_col = 1, .target_cols = "2"}, NN_EINVAL, "give exactly one of");
  nn_import_result r;
  nn_csv_options o = {.label_col = 1};
  assert_int_equal(nn_import_csv(tmp("none.csv"), tmp("n.h5"), "/train", false, &o, &r), NN_EDATA);
  tu_assert_contains(nn_errmsg(), "none.csv: cannot open: No such file or directory");
  /* FIFOs are refused, never opened for reading (that would block without a writer) */
  assert_int_equal(mkfifo(tmp("fifo.csv"), 0644), 0);
  assert_int_equal(nn_import_csv(tmp("fifo.csv"), tmp("n.h5"), "/train", false, &o, &r), NN_EDATA);
  tu_assert_contains(nn_errmsg(), "fifo.csv: is a FIFO, expected a CSV file");
  expect_idx_error(tmp("fifo.csv"), tmp("fifo.csv"), "fifo.csv: is a FIFO, expected an IDX file");
}

/* nn_synth_write: the synthetic sets as a dataset file, rows equal to nn_synth_fill. */
static void test_synth_write(void **state) {
  (void)state;
  char dir[256], path[300];
  tu_mkdtemp(dir, sizeof dir);
  snprintf(path, sizeof path, "%s/s.h5", dir);
  assert_int_equal(nn_synth_write(path, "spirals", 4, 1000, 200, 2, 2, 0.05f), NN_OK);
  nn_split_info in;
  assert_int_equal(nn_dataset_probe(path, "/train", &in), NN_OK);
  assert_int_equal(in.n, 1000), assert_int_equal(in.d, 2), assert_int_equal(in.num_classes, 2);
  float X[200 * 2], X2[200 * 2];
  int32_t y[200], y2[200];
  assert_int_equal(nn_dataset_read_rows(path, "/train", &in, 800, 200, X, y, NULL), NN_OK);
  assert_int_equal(nn_synth_fill("spirals", 4, NN_SYNTH_STREAM_TRAIN, 800, 200, 2, 2, 0.05f, X2, y2, NULL), NN_OK);
  assert_memory_equal(X, X2, sizeof X), assert_memory_equal(y, y2, sizeof y);
  assert_int_equal(nn_dataset_probe(path, "/test", &in), NN_OK);
  assert_int_equal(in.n, 200);
  assert_int_equal(nn_synth_write(path, "teacher", 4, 100, 0, 5, 3, 0.0f), NN_OK);
  assert_int_equal(nn_dataset_probe(path, "/train", &in), NN_OK);
  assert_false(in.has_labels), assert_int_equal(in.k, 3), assert_int_equal(in.num_classes, 0);
  assert_int_equal(nn_dataset_probe(path, "/test", &in), NN_EDATA);
  assert_int_equal(nn_synth_write(path, "rings", 4, 0, 0, 0, 0, -1), NN_EINVAL);
  tu_rmtree(dir);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_idx_round_trip),
      cmocka_unit_test(test_idx_errors),
      cmocka_unit_test(test_csv_round_trip),
      cmocka_unit_test(test_csv_errors),
      cmocka_unit_test(test_synth_write),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
