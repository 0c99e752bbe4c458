/* cmd_inspect: `nnmpi inspect FILE` — summarises a dataset file (attributes, splits at any depth,
 * shapes, storage, class balance, value ranges) and verifies it by reading every chunk;
 * checkpoints are handed to nn_cmd_inspect_checkpoint, predictions files are summarised and
 * checked too. Layer 6: dataset and predictions modules; prints to stdout. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "nnmpi/checkpoint.h"
#include "nnmpi/dataset.h"
#include "nnmpi/predictions.h"
#include "nnmpi/status.h"

enum { BLOCK_BYTES = 4 << 20, MAX_LISTED_CLASSES = 100, MAX_COUNTED_CLASSES = 1 << 16 };

/* Prints one split and verifies it row block by row block; NN_EDATA (message) on the first problem. */
static int inspect_split(const char *path, const char *group) {
  nn_split_info in;
  char desc[512], obj[256];
  int rc = nn_dataset_probe(path, group, &in);
  printf("%s\n", group);
  if (rc) return rc;
  snprintf(obj, sizeof obj, "%s/X", group);
  bool sums = nn_dataset_describe(path, obj, desc, sizeof desc);
  printf("  X  %s", desc);
  if (in.xtype == NN_DTYPE_U8) printf(", x = v * %g + %g", (double)in.scale, (double)in.offset);
  snprintf(obj, sizeof obj, "%s/%s", group, in.has_labels ? "y" : "Y");
  sums = nn_dataset_describe(path, obj, desc, sizeof desc) && sums;
  printf("\n  %s  %s\n", in.has_labels ? "y" : "Y", desc);

  int64_t row_bytes = (int64_t)in.d * (in.xtype == NN_DTYPE_U8 ? 1 : 4) + 4 * (in.has_labels ? 1 : in.k);
  int64_t block = BLOCK_BYTES / row_bytes, ncount = in.num_classes ? in.num_classes : 0;
  if (block < 1) block = 1;
  if (block > in.n) block = in.n;
  void *X = malloc((size_t)(block * in.d) * (in.xtype == NN_DTYPE_U8 ? 1 : 4));
  float *Y = malloc((size_t)(block * (in.has_labels ? 1 : in.k)) * sizeof *Y);
  int32_t *y = (int32_t *)Y; /* labels or targets, whichever the split has */
  int64_t *count = calloc(in.num_classes ? (size_t)in.num_classes : MAX_COUNTED_CLASSES, sizeof *count);
  if (!X || !Y || !count) {
    free(X), free(Y), free(count);
    return NN_FAIL(NN_ENOMEM, "%s:%s: no memory for a block of %lld rows", path, group, (long long)block);
  }
  double xmin = INFINITY, xmax = -INFINITY, ymin = INFINITY, ymax = -INFINITY;
  for (int64_t r = 0; !rc && r < in.n; r += block) {
    int64_t m = in.n - r < block ? in.n - r : block;
    if ((rc = nn_dataset_read_rows(path, group, &in, r, m, X, y, Y)) ||
        (rc = nn_dataset_check_rows(path, group, &in, r, m, X, y, Y)))
      break;
    for (int64_t i = 0; i < m * in.d; i++) {
      double v = in.xtype == NN_DTYPE_U8 ? (double)((uint8_t *)X)[i] * in.scale + in.offset : ((float *)X)[i];
      xmin = v < xmin ? v : xmin, xmax = v > xmax ? v : xmax;
    }
    for (int64_t i = 0; !in.has_labels && i < m * in.k; i++) ymin = Y[i] < ymin ? Y[i] : ymin, ymax = Y[i] > ymax ? Y[i] : ymax;
    for (int64_t i = 0; in.has_labels && i < m; i++) {
      if (y[i] < (in.num_classes ? in.num_classes : MAX_COUNTED_CLASSES)) count[y[i]]++;
      if (y[i] >= ncount) ncount = (int64_t)y[i] + 1;
    }
  }
  if (!rc) {
    printf("  rows %lld, X values after scaling in [%g, %g]\n", (long long)in.n, xmin, xmax);
    if (!in.has_labels) printf("  Y values in [%g, %g]\n", ymin, ymax);
    if (in.has_labels && ncount <= MAX_LISTED_CLASSES) {
      printf("  class counts (%lld classes%s):", (long long)ncount, in.num_classes ? "" : ", from the labels");
      for (int64_t c = 0; c < ncount; c++) printf("%s%lld: %lld", c % 10 ? "  " : "\n    ", (long long)c, (long long)count[c]);
      printf("\n");
    } else if (in.has_labels) {
      printf("  %lld classes (too many to list)\n", (long long)ncount);
    }
    printf(sums ? "  checksums and values: ok (every chunk read)\n" : "  values: ok (no checksums stored to verify)\n");
  }
  free(count), free(Y), free(X);
  return rc;
}

/* The summary of a predictions file (`nnmpi predict`), verified. */
static int inspect_predictions(const char *path) {
  nn_predictions_info in;
  int rc = nn_predictions_inspect(path, &in);
  printf("format       nnmpi-predictions");
  if (in.format_version >= 0) printf(", version %lld", in.format_version);
  printf("\n");
  if (in.model[0]) printf("model        %s\n", in.model);
  if (in.data[0]) printf("data         %s\n", in.data);
  if (rc) return rc;
  printf("outputs      (%lld, %d) float32, values in [%g, %g]\n", (long long)in.n, in.k, in.out_min, in.out_max);
  if (in.has_predicted) printf("predicted    (%lld) class indices\n", (long long)in.n);
  printf("verdict      ok: predictions of %lld rows verified\n", (long long)in.n);
  return NN_OK;
}

int nn_cmd_inspect(int argc, char **argv) {
  if (nn_cli_wants_help(argc, argv)) {
    printf("usage: nnmpi inspect FILE.h5\n\n"
           "Summarises a dataset file (attributes, splits, shapes, dtypes, storage filters, class\n"
           "counts, value ranges) and verifies it by reading every chunk (Fletcher32 checksums,\n"
           "labels in range, finite values); checkpoint files get a checkpoint summary instead,\n"
           "prediction files (nnmpi predict) a summary of their outputs. A split is a group holding\n"
           "X, at any depth (/train, /folds/0); a group with no X and no split below it is listed\n"
           "as not a split and skipped.\n"
           "Exit code 3 when the dataset is damaged or invalid (4 for a damaged checkpoint).\n");
    return NN_OK;
  }
  if (argc != 2) return NN_FAIL(NN_EINVAL, "inspect: expected one file name (see nnmpi inspect --help)");
  const char *path = argv[1];
  /* checkpoints carry a verified text header: route them before HDF5 parses anything, so a
   * damaged checkpoint is a checkpoint error (exit 4), not a data error */
  if (nn_ckpt_is_checkpoint(path)) return nn_cmd_inspect_checkpoint(path);
  nn_dataset_summary *g = malloc(sizeof *g);
  if (!g) return NN_FAIL(NN_ENOMEM, "inspect: no memory");
  int rc = nn_dataset_summarize(path, g);
  if (rc) {
    free(g);
    return rc;
  }
  if (!strcmp(g->format, "nnmpi-checkpoint")) {
    free(g);
    return nn_cmd_inspect_checkpoint(path);
  }
  struct stat st;
  stat(path, &st);
  printf("file         %s (%.1f MB)\n", path, (double)st.st_size / 1e6);
  if (!strcmp(g->format, "nnmpi-predictions")) {
    free(g);
    return inspect_predictions(path);
  }
  printf("format       %s", g->format[0] ? g->format : "(no format attribute: plain HDF5 file)");
  if (g->format_version >= 0) printf(", version %lld", g->format_version);
  printf("\n");
  if (g->num_classes >= 0) printf("num_classes  %lld\n", g->num_classes);
  if (g->class_names[0]) printf("class_names  %s\n", g->class_names);
  if (g->source[0]) printf("source       %s\n", g->source);
  int bad = 0;
  char first[2048] = "";
  for (int i = 0; i < g->n_other; i++) printf("%s  not a split (no X, no split below it): skipped\n", g->other[i]);
  if (g->more) printf("(more than %d groups: the rest is not listed)\n", NN_DATASET_MAX_GROUPS);
  for (int i = 0; i < g->n_groups; i++) {
    int r = inspect_split(path, g->groups[i]);
    if (r == NN_OK) continue;
    printf("  PROBLEM: %s\n", nn_errmsg());
    if (!bad++) snprintf(first, sizeof first, "%s", nn_errmsg());
    if (rc == NN_OK || rc == NN_EDATA) rc = r;
  }
  if (g->n_groups == 0) rc = NN_FAIL(NN_EDATA, "%s: no splits (groups holding X, such as /train) in the file", path);
  else if (bad) rc = NN_FAIL(rc, "%s: %d of %d splits damaged or invalid; first: %s", path, bad, g->n_groups, first);
  else printf("verdict      ok: %d split%s verified\n", g->n_groups, g->n_groups == 1 ? "" : "s");
  free(g);
  return rc;
}
