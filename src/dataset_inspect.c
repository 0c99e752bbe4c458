/* dataset_inspect: the root summary of a dataset file and the storage description of its
 * datasets, for `nnmpi inspect` (include/nnmpi/dataset.h). Layer 4: HDF5 (through h5.h);
 * never calls MPI_*, never prints. */
#include <stdio.h>
#include <string.h>

#include "h5.h"
#include "nnmpi/dataset.h"
#include "nnmpi/status.h"

/* The walk below a group: its path and what was found. */
typedef struct walk {
  nn_dataset_summary *s;
  char path[NN_DATASET_GROUP_MAX];
  int depth, splits; /* splits found below (for "not a split") */
} walk;

static void add(char (*list)[NN_DATASET_GROUP_MAX], int *n, bool *more, const char *name) {
  if (*n < NN_DATASET_MAX_GROUPS) snprintf(list[(*n)++], NN_DATASET_GROUP_MAX, "%s", name);
  else *more = true;
}

static herr_t visit(hid_t g, const char *name, const H5L_info_t *li, void *data);

/* Walks group g (at w->path): a group holding a link named X is a split (not walked further);
 * one with neither X nor a split below it is "other". Returns the splits found. */
static int walk_group(hid_t g, walk *w) {
  if (H5Lexists(g, "X", H5P_DEFAULT) > 0) {
    add(w->s->groups, &w->s->n_groups, &w->s->more, w->path[0] ? w->path : "/");
    return 1;
  }
  walk sub = *w;
  sub.splits = 0;
  if (w->depth < 16) H5Literate(g, H5_INDEX_NAME, H5_ITER_INC, NULL, visit, &sub);
  if (sub.splits == 0 && w->path[0]) add(w->s->other, &w->s->n_other, &w->s->more, w->path);
  return sub.splits;
}

static herr_t visit(hid_t g, const char *name, const H5L_info_t *li, void *data) {
  walk *w = data;
  if (li->type == H5L_TYPE_EXTERNAL || li->type == H5L_TYPE_ERROR) return 0; /* never into other files */
  H5O_info_t oi;
  if (H5Oget_info_by_name(g, name, &oi, H5P_DEFAULT) < 0 || oi.type != H5O_TYPE_GROUP) return 0;
  hid_t c = H5Gopen2(g, name, H5P_DEFAULT);
  if (c < 0) return 0;
  walk sub = *w;
  if ((size_t)snprintf(sub.path, sizeof sub.path, "%s/%s", w->path, name) >= sizeof sub.path) {
    H5Gclose(c);
    return 0; /* a path too long to name in a message is not walked */
  }
  sub.depth = w->depth + 1;
  w->splits += walk_group(c, &sub);
  H5Gclose(c);
  return 0;
}

/* An optional string attribute of the root into buf ("" when absent or unreadable). */
static void root_str(hid_t f, const char *name, char *buf, size_t cap) {
  if (!nn_h5_attr_exists(f, name) || nn_h5_attr_read_name(f, "/", name, buf, cap, NN_EDATA)) buf[0] = 0;
}
static long long root_int(hid_t f, const char *name) {
  long long v;
  return nn_h5_attr_exists(f, name) && !nn_h5_attr_read(f, "/", name, H5T_NATIVE_LLONG, 1, &v, NN_EDATA) ? v : -1;
}

int nn_dataset_summarize(const char *path, nn_dataset_summary *s) {
  hid_t f;
  memset(s, 0, sizeof *s);
  int rc = nn_h5_open_ro(path, "dataset file", NN_EDATA, &f);
  if (rc) return rc;
  root_str(f, "format", s->format, sizeof s->format);
  root_str(f, "class_names", s->class_names, sizeof s->class_names);
  root_str(f, "source", s->source, sizeof s->source);
  s->format_version = root_int(f, "format_version");
  s->num_classes = root_int(f, "num_classes");
  walk w = {.s = s, .path = "", .depth = 0, .splits = 0};
  walk_group(f, &w);
  H5Eclear2(H5E_DEFAULT);
  H5Fclose(f);
  return NN_OK;
}

/* Appends the filters of creation property list p to buf; true when Fletcher32 is one. */
static bool describe_filters(hid_t p, char *buf, size_t cap, size_t n) {
  bool sums = false;
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
  return sums;
}

bool nn_dataset_describe(const char *path, const char *obj, char *buf, size_t cap) {
  hid_t f;
  if (nn_h5_open_ro(path, "dataset file", NN_EDATA, &f)) {
    snprintf(buf, cap, "(cannot open: %s)", nn_errmsg());
    return false;
  }
  hid_t d = H5Dopen2(f, obj, H5P_DEFAULT);
  if (d < 0) {
    snprintf(buf, cap, "(cannot open: %s)", nn_h5_reason());
    H5Fclose(f);
    return false;
  }
  hid_t t = H5Dget_type(d), s = H5Dget_space(d), p = H5Dget_create_plist(d);
  hsize_t dims[2] = {0, 0}, ch[2] = {0, 0};
  int rank = H5Sget_simple_extent_ndims(s);
  char tn[32];
  nn_h5_type_name(t, tn, sizeof tn);
  if (rank >= 1 && rank <= 2) H5Sget_simple_extent_dims(s, dims, NULL);
  size_t n = (size_t)(rank == 2 ? snprintf(buf, cap, "(%llu, %llu) %s", (unsigned long long)dims[0],
                                           (unsigned long long)dims[1], tn)
                                : snprintf(buf, cap, "(%llu) %s", (unsigned long long)dims[0], tn));
  if (H5Pget_layout(p) == H5D_CHUNKED && (rank == 1 || rank == 2) && n < cap) {
    H5Pget_chunk(p, 2, ch);
    n += (size_t)snprintf(buf + n, cap - n, rank == 2 ? ", chunks (%llu, %llu)" : ", chunks (%llu)",
                          (unsigned long long)ch[0], (unsigned long long)ch[1]);
  } else if (n < cap) {
    n += (size_t)snprintf(buf + n, cap - n, ", contiguous");
  }
  bool sums = describe_filters(p, buf, cap, n);
  H5Pclose(p), H5Sclose(s), H5Tclose(t), H5Dclose(d), H5Fclose(f);
  return sums;
}
