/* cmd_inspect: `nnmpi inspect FILE` — summarises a dataset file (attributes, splits, shapes,
 * storage, class balance, value ranges) and verifies it by reading every chunk; checkpoints are
 * handed to nn_cmd_inspect_checkpoint. Layer 6: dataset module + HDF5 metadata; prints to stdout. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "nnmpi/checkpoint.h"
#include "nnmpi/dataset.h"
#include "nnmpi/dataset_write.h"
#include "nnmpi/status.h"

enum { MAX_SPLITS = 64, BLOCK_BYTES = 4 << 20, MAX_LISTED_CLASSES = 100, MAX_COUNTED_CLASSES = 1 << 16 };

typedef struct {
  int n;
  char name[MAX_SPLITS][128];
} group_list;

static herr_t add_group(hid_t g, const char *name, const H5L_info_t *li, void *data) {
  (void)li;
  group_list *l = data;
  hid_t o = H5Oopen(g, name, H5P_DEFAULT);
  if (o >= 0 && H5Iget_type(o) == H5I_GROUP && l->n < MAX_SPLITS) snprintf(l->name[l->n++], 128, "/%s", name);
  if (o >= 0) H5Oclose(o);
  return 0;
}

/* "(60000, 784) uint8, chunks (334, 784), shuffle + deflate(4) + fletcher32"; true when the
 * chunks carry Fletcher32 checksums. */
static bool describe(hid_t f, const char *obj, char *buf, size_t cap) {
  bool sums = false;
  hid_t d = H5Dopen2(f, obj, H5P_DEFAULT);
  if (d < 0) {
    snprintf(buf, cap, "(cannot open: %s)", nn_h5_errstr());
    return false;
  }
  hid_t t = H5Dget_type(d), s = H5Dget_space(d), p = H5Dget_create_plist(d);
  hsize_t dims[2] = {0, 0}, ch[2] = {0, 0};
  int rank = H5Sget_simple_extent_ndims(s);
  char tn[32];
  nn_h5_type_name(t, tn, sizeof tn);
  if (rank >= 1 && rank <= 2) H5Sget_simple_extent_dims(s, dims, NULL);
  size_t n = (size_t)(rank == 2 ? snprintf(buf, cap, "(%llu, %llu) %s", (unsigned long long)dims[0], (unsigned long long)dims[1], tn)
                                 : snprintf(buf, cap, "(%llu) %s", (unsigned long long)dims[0], tn));
  if (H5Pget_layout(p) == H5D_CHUNKED && (rank == 1 || rank == 2) && n < cap) {
    H5Pget_chunk(p, 2, ch);
    n += (size_t)snprintf(buf + n, cap - n, rank == 2 ? ", chunks (%llu, %llu)" : ", chunks (%llu)",
                          (unsigned long long)ch[0], (unsigned long long)ch[1]);
  } else if (n < cap) {
    n += (size_t)snprintf(buf + n, cap - n, ", contiguous");
  }
  int nf = H5Pget_nfilters(p);
  for (int i = 0; i < nf && n < cap; i++) {
    unsigned flags, cd[8], conf;
    size_t ncd = 8;
    char fname[64] = "";
    H5Z_filter_t id = H5Pget_filter2(p, (unsigned)i, &flags, &ncd, cd, sizeof fname, fname, &conf);
    const char *sep = i ? " + " : ", ";
    if (id == H5Z_FILTER_DEFLATE) n += (size_t)snprintf(buf + n, cap - n, "%sdeflate(%u)", sep, ncd ? cd[0] : 0);
    else if (id == H5Z_FILTER_SHUFFLE) n += (size_t)snprintf(buf + n, cap - n, "%sshuffle", sep);
    else if (id == H5Z_FILTER_FLETCHER32) n += (size_t)snprintf(buf + n, cap - n, "%sfletcher32", sep), sums = true;
    else n += (size_t)snprintf(buf + n, cap - n, "%sfilter %d (%s)", sep, (int)id, fname);
  }
  if (nf == 0 && n < cap) snprintf(buf + n, cap - n, ", no filters (no checksums)");
  H5Pclose(p), H5Sclose(s), H5Tclose(t), H5Dclose(d);
  return sums;
}

/* Prints one split and verifies it row block by row block; NN_EDATA (message) on the first problem. */
static int inspect_split(hid_t f, const char *path, const char *group) {
  nn_split_info in;
  char desc[512], obj[256];
  int rc = nn_dataset_probe(path, group, &in);
  printf("%s\n", group);
  if (rc) return rc;
  snprintf(obj, sizeof obj, "%s/X", group);
  bool sums = describe(f, obj, desc, sizeof desc);
  printf("  X  %s", desc);
  if (in.xtype == NN_DTYPE_U8) printf(", x = v * %g + %g", (double)in.scale, (double)in.offset);
  snprintf(obj, sizeof obj, "%s/%s", group, in.has_labels ? "y" : "Y");
  sums = describe(f, obj, desc, sizeof desc) && sums;
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
      if (y[i] >= ncount) ncount = y[i] + 1;
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

int nn_cmd_inspect(int argc, char **argv) {
  if (nn_cli_wants_help(argc, argv)) {
    printf("usage: nnmpi inspect FILE.h5\n\n"
           "Summarises a dataset file (attributes, splits, shapes, dtypes, storage filters, class\n"
           "counts, value ranges) and verifies it by reading every chunk (Fletcher32 checksums,\n"
           "labels in range, finite values); checkpoint files get a checkpoint summary instead.\n"
           "Exit code 3 when the dataset is damaged or invalid.\n");
    return NN_OK;
  }
  if (argc != 2) return NN_FAIL(NN_EINVAL, "inspect: expected one file name (see nnmpi inspect --help)");
  const char *path = argv[1];
  /* checkpoints carry a verified text header: route them before HDF5 parses anything, so a
   * damaged checkpoint is a checkpoint error (exit 4), not a data error */
  if (nn_ckpt_is_checkpoint(path)) return nn_cmd_inspect_checkpoint(path);
  hid_t f;
  int rc = nn_h5_open_ro(path, &f);
  if (rc) return rc;
  char fmt[64] = "", src[4096] = "", names[4096] = "";
  long long ver = 0, nc = 0;
  int has_fmt = nn_h5_attr_str(f, "format", fmt, sizeof fmt) == 1;
  if (has_fmt && !strcmp(fmt, "nnmpi-checkpoint")) {
    H5Fclose(f);
    return nn_cmd_inspect_checkpoint(path);
  }
  struct stat st;
  stat(path, &st);
  printf("file         %s (%.1f MB)\n", path, (double)st.st_size / 1e6);
  printf("format       %s", has_fmt ? fmt : "(no format attribute: plain HDF5 file)");
  if (nn_h5_attr_int(f, "format_version", &ver) == 1) printf(", version %lld", ver);
  printf("\n");
  if (nn_h5_attr_int(f, "num_classes", &nc) == 1) printf("num_classes  %lld\n", nc);
  if (nn_h5_attr_str(f, "class_names", names, sizeof names) == 1) printf("class_names  %s\n", names);
  if (nn_h5_attr_str(f, "source", src, sizeof src) == 1) printf("source       %s\n", src);
  group_list *g = calloc(1, sizeof *g);
  if (!g) {
    H5Fclose(f);
    return NN_FAIL(NN_ENOMEM, "inspect: no memory");
  }
  H5Literate(f, H5_INDEX_NAME, H5_ITER_INC, NULL, add_group, g);
  int bad = 0;
  char first[2048] = "";
  for (int i = 0; i < g->n; i++) {
    int r = inspect_split(f, path, g->name[i]);
    if (r == NN_OK) continue;
    printf("  PROBLEM: %s\n", nn_errmsg());
    if (!bad++) snprintf(first, sizeof first, "%s", nn_errmsg());
    if (rc == NN_OK || rc == NN_EDATA) rc = r;
  }
  if (g->n == 0) rc = NN_FAIL(NN_EDATA, "%s: no groups (splits such as /train) in the file", path);
  else if (bad) rc = NN_FAIL(rc, "%s: %d of %d splits damaged or invalid; first: %s", path, bad, g->n, first);
  else printf("verdict      ok: %d split%s verified\n", g->n, g->n == 1 ? "" : "s");
  free(g);
  H5Fclose(f);
  return rc;
}
