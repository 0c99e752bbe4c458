/* dataset: reads and validates nnmpi dataset files (include/nnmpi/dataset.h, docs/formats.md).
 * Layer 4: HDF5 (through h5.h) + libc; never calls MPI_* and never prints. */
#include "nnmpi/dataset.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "h5.h"
#include "nnmpi/status.h"

/* ---- reading */

int nn_dataset_parse_spec(const char *spec, const char *def_group, char *path, size_t path_cap,
                          char *group, size_t group_cap) {
  const char *colon = NULL;
  for (const char *p = strstr(spec, ":/"); p; p = strstr(p + 1, ":/")) colon = p; /* last ":/" */
  size_t plen = colon ? (size_t)(colon - spec) : strlen(spec);
  const char *g = colon ? colon + 1 : def_group;
  if (plen == 0) return NN_FAIL(NN_EINVAL, "dataset '%s': no file name, expected FILE or FILE:/group", spec);
  if (plen >= path_cap || strlen(g) >= group_cap)
    return NN_FAIL(NN_EINVAL, "dataset '%s': path or group name too long", spec);
  memcpy(path, spec, plen);
  path[plen] = 0;
  snprintf(group, group_cap, "%s", g);
  return NN_OK;
}

/* A dataset of a split: its id (or -1 when absent), rank, dims and type. */
typedef struct {
  hid_t id, type;
  int rank;
  hsize_t dims[2];
  char tname[32];
} dset;

static void dset_close(dset *s) {
  if (s->type >= 0) H5Tclose(s->type);
  if (s->id >= 0) H5Dclose(s->id);
  s->id = s->type = -1;
}

/* 1 opened, 0 absent, NN_EDATA (message) when the name exists but is not a readable dataset. */
static int dset_open(hid_t g, const char *path, const char *group, const char *name, dset *s) {
  s->id = s->type = -1;
  s->rank = 0;
  if (H5Lexists(g, name, H5P_DEFAULT) <= 0) return 0;
  H5L_info_t li;
  if (H5Lget_info(g, name, &li, H5P_DEFAULT) >= 0 && li.type == H5L_TYPE_EXTERNAL)
    return NN_FAIL(NN_EDATA,
                   "%s:%s/%s: an external link (to another file); nnmpi reads only datasets stored in the "
                   "file itself",
                   path, group, name);
  if ((s->id = H5Dopen2(g, name, H5P_DEFAULT)) < 0)
    return nn_h5_fail(NN_EDATA, "%s:%s/%s: not a readable dataset", path, group, name);
  hid_t sp = H5Dget_space(s->id);
  s->type = H5Dget_type(s->id);
  s->rank = sp < 0 ? -1 : H5Sget_simple_extent_ndims(sp);
  if (s->rank >= 1 && s->rank <= 2) H5Sget_simple_extent_dims(sp, s->dims, NULL);
  if (sp >= 0) H5Sclose(sp);
  if (s->type < 0 || s->rank < 0) {
    nn_h5_note();
    dset_close(s);
    return nn_h5_fail(NN_EDATA, "%s:%s/%s: cannot read its shape or type", path, group, name);
  }
  nn_h5_type_name(s->type, s->tname, sizeof s->tname);
  return 1;
}

/* A short name of a filter HDF5 may lack, for messages: the name stored in the file, or a
 * well-known one by id (registered filters, https://github.com/HDFGroup/hdf5_plugins). */
static const char *filter_name(H5Z_filter_t id, const char *stored) {
  static const struct {
    int id;
    const char *name;
  } known[] = {{H5Z_FILTER_SZIP, "szip"}, {307, "bzip2"}, {32000, "lzf"},  {32001, "blosc"}, {32004, "lz4"},
               {32008, "bitshuffle"},     {32013, "zfp"}, {32015, "zstd"}, {32026, "blosc2"}};
  for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
    if (known[i].id == (int)id) return known[i].name;
  return stored && *stored ? stored : "unknown";
}

/* What can make the values of dataset s wrong or unreadable before a row is read: a filter this
 * HDF5 cannot decode (h5py's LZF, blosc, ...), and rows that were never written (chunks never
 * allocated, or contiguous storage never allocated: HDF5 would return its fill value). */
static int check_storage(const dset *s, const char *path, const char *group, const char *name) {
  hid_t p = H5Dget_create_plist(s->id);
  if (p < 0) return nn_h5_fail(NN_EDATA, "%s:%s/%s: cannot read its storage properties", path, group, name);
  int rc = NN_OK, nf = H5Pget_nfilters(p);
  for (int i = 0; i < nf && !rc; i++) {
    unsigned flags = 0, cd[16], conf = 0;
    size_t ncd = 16;
    char stored[64] = "";
    H5Z_filter_t id = H5Pget_filter2(p, (unsigned)i, &flags, &ncd, cd, sizeof stored, stored, &conf);
    unsigned info = 0;
    if (id >= 0 && H5Zfilter_avail(id) > 0 && H5Zget_filter_info(id, &info) >= 0 &&
        (info & H5Z_FILTER_CONFIG_DECODE_ENABLED))
      continue;
    H5Eclear2(H5E_DEFAULT); /* (the search of HDF5's plugin directory failed: not the point) */
    rc = NN_FAIL(NN_EDATA,
                 "%s:%s/%s: stored with filter %d (%s), which this HDF5 library cannot decode; rewrite the "
                 "file without it (h5py: compression=\"gzip\" or none; h5repack -f NONE)",
                 path, group, name, (int)id, filter_name(id, stored));
  }
  hsize_t dims[2] = {s->dims[0], s->rank == 2 ? s->dims[1] : 1}, ch[2] = {1, 1};
  if (!rc && dims[0] > 0 && H5Pget_layout(p) == H5D_CHUNKED && H5Pget_chunk(p, s->rank, ch) == s->rank && ch[0] &&
      (s->rank == 1 || ch[1])) {
    hsize_t rows = (dims[0] + ch[0] - 1) / ch[0], cols = s->rank == 2 ? (dims[1] + ch[1] - 1) / ch[1] : 1, have = 0;
    hid_t fs = H5Dget_space(s->id);
    herr_t e = fs < 0 ? -1 : H5Dget_num_chunks(s->id, fs, &have);
    if (e < 0) nn_h5_note(); /* before the close clears the stack */
    if (fs >= 0) H5Sclose(fs);
    if (e < 0) {
      rc = nn_h5_fail(NN_EDATA, "%s:%s/%s: cannot count its chunks", path, group, name);
    } else if (have < rows * cols) { /* find the first block of rows that was never written */
      for (hsize_t r = 0; r < rows && !rc; r++)
        for (hsize_t c = 0; c < cols && !rc; c++) {
          hsize_t off[2] = {r * ch[0], c * (s->rank == 2 ? ch[1] : 1)}, size = 0;
          haddr_t addr = HADDR_UNDEF;
          unsigned mask = 0;
          if (H5Dget_chunk_info_by_coord(s->id, off, &mask, &addr, &size) >= 0 && addr != HADDR_UNDEF) continue;
          hsize_t last = off[0] + ch[0] < dims[0] ? off[0] + ch[0] : dims[0];
          rc = NN_FAIL(NN_EDATA,
                       "%s:%s/%s: rows %llu..%llu were never written (%llu of its %llu chunks exist; HDF5 "
                       "would read its fill value as data)",
                       path, group, name, (unsigned long long)off[0], (unsigned long long)last - 1,
                       (unsigned long long)have, (unsigned long long)(rows * cols));
        }
      H5Eclear2(H5E_DEFAULT);
    }
  } else if (!rc && dims[0] > 0 && H5Pget_layout(p) == H5D_CONTIGUOUS) {
    H5D_space_status_t st = H5D_SPACE_STATUS_ERROR;
    if (H5Dget_space_status(s->id, &st) >= 0 && st == H5D_SPACE_STATUS_NOT_ALLOCATED)
      rc = NN_FAIL(NN_EDATA,
                   "%s:%s/%s: its %llu rows were never written (no storage allocated; HDF5 would read its "
                   "fill value as data)",
                   path, group, name, (unsigned long long)dims[0]);
  }
  H5Pclose(p);
  return rc;
}

/* Root attributes: format and format_version when present, num_classes (0 when absent). */
static int check_root(hid_t f, const char *path, int *num_classes) {
  char fmt[64];
  long long v;
  *num_classes = 0;
  if (nn_h5_attr_exists(f, "format")) {
    if (nn_h5_attr_read_name(f, path, "format", fmt, sizeof fmt, NN_EDATA))
      return NN_FAIL(NN_EDATA, "%s: root attribute format is not a string", path);
    if (strcmp(fmt, NN_DATASET_FORMAT))
      return NN_FAIL(NN_EDATA, "%s: root attribute format is \"%s\", expected \"%s\"%s", path, fmt, NN_DATASET_FORMAT,
                     strcmp(fmt, "nnmpi-checkpoint") ? "" : " (this is a checkpoint, not a dataset)");
  }
  if (nn_h5_attr_exists(f, "format_version")) {
    if (nn_h5_attr_read(f, path, "format_version", H5T_NATIVE_LLONG, 1, &v, NN_EDATA))
      return NN_FAIL(NN_EDATA, "%s: root attribute format_version is not an integer", path);
    if (v != NN_DATASET_FORMAT_VERSION)
      return NN_FAIL(NN_EDATA, "%s: format_version %lld is not supported, this nnmpi reads version %d", path, v,
                     NN_DATASET_FORMAT_VERSION);
  }
  if (nn_h5_attr_exists(f, "num_classes")) {
    if (nn_h5_attr_read(f, path, "num_classes", H5T_NATIVE_LLONG, 1, &v, NN_EDATA) || v < 0 || v > INT_MAX)
      return NN_FAIL(NN_EDATA, "%s: root attribute num_classes is not an integer in 0..%d", path, INT_MAX);
    *num_classes = (int)v;
  }
  return NN_OK;
}

static herr_t list_group(hid_t g, const char *name, const H5L_info_t *li, void *data) {
  (void)li;
  char *buf = data;
  hid_t o = H5Oopen(g, name, H5P_DEFAULT);
  if (o >= 0 && H5Iget_type(o) == H5I_GROUP && strlen(buf) + strlen(name) + 4 < 256)
    sprintf(buf + strlen(buf), "%s/%s", *buf ? ", " : "", name);
  if (o >= 0) H5Oclose(o);
  return 0;
}

/* Opens group, checking each component so that a missing one gets a clear message. */
static hid_t open_group(hid_t f, const char *path, const char *group) {
  char buf[512];
  size_t len = strlen(group);
  if (group[0] != '/' || len >= sizeof buf) {
    NN_FAIL(NN_EDATA, "%s: group name '%s' must start with '/'", path, group);
    return -1;
  }
  memcpy(buf, group, len + 1);
  for (size_t i = 1; len > 1 && i <= len; i++) {
    if (buf[i] != '/' && buf[i] != 0) continue;
    buf[i] = 0;
    htri_t ex = H5Lexists(f, buf, H5P_DEFAULT);
    if (ex < 0) {
      nn_h5_fail(NN_EDATA, "%s: cannot look up %s (damaged file?)", path, buf);
      return -1;
    }
    buf[i] = i < len ? '/' : 0;
    if (ex == 0) {
      char have[256] = "";
      H5Literate(f, H5_INDEX_NAME, H5_ITER_INC, NULL, list_group, have);
      NN_FAIL(NN_EDATA, "%s: no group %s (groups in the file: %s)", path, group, *have ? have : "none");
      return -1;
    }
  }
  hid_t g = H5Gopen2(f, group, H5P_DEFAULT);
  if (g < 0) nn_h5_fail(NN_EDATA, "%s:%s: not a readable group", path, group);
  return g;
}

static int probe_open(hid_t f, const char *path, const char *group, nn_split_info *info) {
  dset X = {-1, -1, 0, {0, 0}, ""}, y = X, Y = X;
  int rc = check_root(f, path, &info->num_classes);
  if (rc) return rc;
  hid_t g = open_group(f, path, group);
  if (g < 0) return NN_EDATA;
  if ((rc = dset_open(g, path, group, "X", &X)) <= 0) {
    if (rc == 0) rc = NN_FAIL(NN_EDATA, "%s:%s/X: missing, expected a dataset X (N, D) of float32 or uint8", path, group);
    goto out;
  }
  rc = NN_EDATA;
  if (X.rank != 2) {
    NN_FAIL(NN_EDATA, "%s:%s/X: rank %d, expected 2 (N, D)", path, group, X.rank);
    goto out;
  }
  H5T_class_t cls = H5Tget_class(X.type);
  size_t size = H5Tget_size(X.type);
  if (cls == H5T_FLOAT && (size == 4 || size == 8)) {
    info->xtype = NN_DTYPE_F32; /* float64 is converted to float32 on read */
  } else if (cls == H5T_INTEGER && size == 1 && H5Tget_sign(X.type) == H5T_SGN_NONE) {
    info->xtype = NN_DTYPE_U8;
  } else {
    NN_FAIL(NN_EDATA, "%s:%s/X: dtype %s, expected float32 or uint8", path, group, X.tname);
    goto out;
  }
  if (X.dims[0] == 0) {
    NN_FAIL(NN_EDATA, "%s:%s/X: 0 rows, expected at least 1", path, group);
    goto out;
  }
  if (check_storage(&X, path, group, "X")) goto out;
  if (X.dims[1] == 0 || X.dims[1] > INT_MAX) {
    NN_FAIL(NN_EDATA, "%s:%s/X: %llu columns, expected 1..%d", path, group, (unsigned long long)X.dims[1], INT_MAX);
    goto out;
  }
  info->n = (int64_t)X.dims[0];
  info->d = (int)X.dims[1];
  info->scale = 1.0f, info->offset = 0.0f;
  if (info->xtype == NN_DTYPE_U8) {
    const char *names[2] = {"scale", "offset"};
    float *vals[2] = {&info->scale, &info->offset};
    char where[600];
    snprintf(where, sizeof where, "%s:%s/X", path, group);
    for (int i = 0; i < 2; i++) {
      if (!nn_h5_attr_exists(X.id, names[i])) continue;
      if (nn_h5_attr_read(X.id, where, names[i], H5T_NATIVE_FLOAT, 1, vals[i], NN_EDATA)) goto out;
      if (!isfinite(*vals[i])) {
        NN_FAIL(NN_EDATA, "%s:%s/X: attribute %s is not a finite number", path, group, names[i]);
        goto out;
      }
    }
  }
  if ((rc = dset_open(g, path, group, "y", &y)) < 0) goto out;
  if (rc == 0 && (rc = dset_open(g, path, group, "Y", &Y)) < 0) goto out;
  rc = NN_EDATA;
  dset *t = y.id >= 0 ? &y : &Y;
  const char *tn = y.id >= 0 ? "y" : "Y";
  if (t->id < 0) {
    NN_FAIL(NN_EDATA, "%s:%s: missing y (N) int32 labels or Y (N, K) float32 targets", path, group);
    goto out;
  }
  info->has_labels = t == &y;
  if (t->rank != (info->has_labels ? 1 : 2)) {
    NN_FAIL(NN_EDATA, "%s:%s/%s: rank %d, expected %s", path, group, tn, t->rank, info->has_labels ? "1 (N)" : "2 (N, K)");
    goto out;
  }
  cls = H5Tget_class(t->type);
  size = H5Tget_size(t->type);
  if (info->has_labels ? cls != H5T_INTEGER || (size != 1 && size != 2 && size != 4 && size != 8)
                       : cls != H5T_FLOAT || (size != 4 && size != 8)) {
    NN_FAIL(NN_EDATA, "%s:%s/%s: dtype %s, expected %s", path, group, tn, t->tname,
            info->has_labels ? "an integer type (int32, int64, uint8, ...)" : "float32 or float64");
    goto out;
  }
  if (t->dims[0] != X.dims[0]) {
    NN_FAIL(NN_EDATA, "%s:%s/%s: %llu rows but X has %llu", path, group, tn, (unsigned long long)t->dims[0],
            (unsigned long long)X.dims[0]);
    goto out;
  }
  if (check_storage(t, path, group, tn)) goto out;
  info->k = 0;
  if (!info->has_labels) {
    if (t->dims[1] == 0 || t->dims[1] > INT_MAX) {
      NN_FAIL(NN_EDATA, "%s:%s/Y: %llu columns, expected 1..%d", path, group, (unsigned long long)t->dims[1], INT_MAX);
      goto out;
    }
    info->k = (int)t->dims[1];
  }
  rc = NN_OK;
out:
  dset_close(&X), dset_close(&y), dset_close(&Y);
  H5Gclose(g);
  return rc;
}

int nn_dataset_probe(const char *path, const char *group, nn_split_info *info) {
  hid_t f;
  memset(info, 0, sizeof *info);
  int rc = nn_h5_open_ro(path, "dataset file", NN_EDATA, &f);
  if (rc) return rc;
  rc = probe_open(f, path, group, info);
  H5Fclose(f);
  return rc;
}

/* Reads rows [row0, row0 + nrows) of dataset name into buf as mtype. */
static int read_slab(hid_t d, const char *path, const char *group, const char *name, hid_t mtype, int64_t row0,
                     int64_t nrows, void *buf) {
  if (nn_h5_rows(d, false, (hsize_t)row0, (hsize_t)nrows, mtype, buf) < 0)
    return nn_h5_fail(NN_EDATA, "%s:%s/%s: reading rows [%lld, %lld) failed", path, group, name, (long long)row0,
                      (long long)(row0 + nrows));
  return NN_OK;
}

/* Labels of rows [row0, row0 + nrows) of y (any integer type) into int32, checked before they
 * are narrowed: a label outside 0..2^31-1 is an error naming its real value (HDF5's conversion
 * would clamp 2^31 to 2147483647), read as int64 (uint64 for unsigned types) in blocks. */
static int read_labels(const dset *d, const char *path, const char *group, const nn_split_info *info, int64_t row0,
                       int64_t nrows, int32_t *y) {
  enum { BLOCK = 1 << 15 };
  int64_t *v = malloc(sizeof *v * (size_t)(nrows < BLOCK ? nrows : BLOCK));
  if (!v) return NN_FAIL(NN_ENOMEM, "%s:%s/y: no memory for %d labels", path, group, BLOCK);
  bool is_unsigned = H5Tget_sign(d->type) == H5T_SGN_NONE;
  int rc = NN_OK;
  for (int64_t r = 0; r < nrows && !rc; r += BLOCK) {
    int64_t m = nrows - r < BLOCK ? nrows - r : BLOCK;
    if ((rc = read_slab(d->id, path, group, "y", is_unsigned ? H5T_NATIVE_UINT64 : H5T_NATIVE_INT64, row0 + r, m, v)))
      break;
    for (int64_t i = 0; i < m && !rc; i++) {
      bool bad = is_unsigned ? (uint64_t)v[i] > INT32_MAX : v[i] < 0 || v[i] > INT32_MAX;
      if (!bad) {
        y[r + i] = (int32_t)v[i];
        continue;
      }
      char val[32];
      if (is_unsigned) snprintf(val, sizeof val, "%llu", (unsigned long long)(uint64_t)v[i]);
      else snprintf(val, sizeof val, "%lld", (long long)v[i]);
      if (info->num_classes > 0)
        rc = NN_FAIL(NN_EDATA, "%s:%s/y: label %s at row %lld, expected 0..%d", path, group, val,
                     (long long)(row0 + r + i), info->num_classes - 1);
      else
        rc = NN_FAIL(NN_EDATA, "%s:%s/y: label %s at row %lld, expected a class index >= 0 that fits in int32", path,
                     group, val, (long long)(row0 + r + i));
    }
  }
  free(v);
  return rc;
}

int nn_dataset_read_rows(const char *path, const char *group, const nn_split_info *info, int64_t row0,
                         int64_t nrows, void *X, int32_t *y, float *Y) {
  if (row0 < 0 || nrows < 0 || row0 + nrows > info->n)
    return NN_FAIL(NN_EINVAL, "%s:%s: rows [%lld, %lld) outside 0..%lld", path, group, (long long)row0,
                   (long long)(row0 + nrows), (long long)info->n);
  if (nrows == 0) return NN_OK;
  hid_t f;
  int rc = nn_h5_open_ro(path, "dataset file", NN_EDATA, &f);
  if (rc) return rc;
  dset dx = {-1, -1, 0, {0, 0}, ""}, dy = dx;
  hid_t g = open_group(f, path, group);
  if (g < 0) {
    rc = NN_EDATA;
    goto out;
  }
  const char *tn = info->has_labels ? "y" : "Y";
  int hx = dset_open(g, path, group, "X", &dx), hy = hx > 0 ? dset_open(g, path, group, tn, &dy) : 0;
  if (hx < 0 || hy < 0) {
    rc = NN_EDATA;
    goto out;
  }
  if (!hx || !hy || dx.rank != 2 || dx.dims[0] != (hsize_t)info->n || dx.dims[1] != (hsize_t)info->d ||
      dy.rank != (info->has_labels ? 1 : 2) || dy.dims[0] != (hsize_t)info->n ||
      (!info->has_labels && dy.dims[1] != (hsize_t)info->k)) {
    rc = NN_FAIL(NN_EDATA, "%s:%s: X or %s changed since the file was probed", path, group, tn);
    goto out;
  }
  rc = read_slab(dx.id, path, group, "X", info->xtype == NN_DTYPE_U8 ? H5T_NATIVE_UINT8 : H5T_NATIVE_FLOAT, row0,
                 nrows, X);
  if (!rc && info->has_labels && y) rc = read_labels(&dy, path, group, info, row0, nrows, y);
  if (!rc && !info->has_labels && Y) rc = read_slab(dy.id, path, group, "Y", H5T_NATIVE_FLOAT, row0, nrows, Y);
out:
  dset_close(&dx), dset_close(&dy);
  if (g >= 0) H5Gclose(g);
  H5Fclose(f);
  return rc;
}

int nn_dataset_check_rows(const char *path, const char *group, const nn_split_info *info, int64_t row0,
                          int64_t nrows, const void *X, const int32_t *y, const float *Y) {
  if (info->xtype == NN_DTYPE_F32) {
    const float *x = X;
    for (int64_t i = 0; i < nrows * info->d; i++)
      if (!isfinite(x[i]))
        return NN_FAIL(NN_EDATA, "%s:%s/X: value %g at row %lld, column %lld, expected a finite number", path, group,
                       (double)x[i], (long long)(row0 + i / info->d), (long long)(i % info->d));
  }
  if (info->has_labels && y) {
    for (int64_t i = 0; i < nrows; i++) {
      if (y[i] >= 0 && (info->num_classes == 0 || y[i] < info->num_classes)) continue;
      if (info->num_classes > 0)
        return NN_FAIL(NN_EDATA, "%s:%s/y: label %d at row %lld, expected 0..%d", path, group, (int)y[i],
                       (long long)(row0 + i), info->num_classes - 1);
      return NN_FAIL(NN_EDATA, "%s:%s/y: label %d at row %lld, expected >= 0", path, group, (int)y[i], (long long)(row0 + i));
    }
  }
  if (!info->has_labels && Y) {
    for (int64_t i = 0; i < nrows * info->k; i++)
      if (!isfinite(Y[i]))
        return NN_FAIL(NN_EDATA, "%s:%s/Y: value %g at row %lld, column %lld, expected a finite number", path, group,
                       (double)Y[i], (long long)(row0 + i / info->k), (long long)(i % info->k));
  }
  return NN_OK;
}

void nn_dataset_hdf5_version(char *buf, size_t cap) {
  unsigned maj = 0, min = 0, rel = 0;
  H5get_libversion(&maj, &min, &rel);
  snprintf(buf, cap, "HDF5: %u.%u.%u", maj, min, rel);
}
