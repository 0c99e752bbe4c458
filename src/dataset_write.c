/* dataset_write: the one writer of nnmpi dataset files (include/nnmpi/dataset_write.h): root
 * attributes, and splits as row-chunked extendible datasets (shuffle + deflate + Fletcher32).
 * Layer 4: HDF5 (through h5.h), libc; never calls MPI_* and never prints. */
#include "nnmpi/dataset_write.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fs.h"
#include "h5.h"
#include "nnmpi/status.h"

enum { CHUNK_BYTES = 256 * 1024, DEFLATE_LEVEL = 4 };

struct nn_dataset_file {
  hid_t id;
  bool created; /* made by nn_dataset_create: removed again when a failed import closes it */
  char path[512];
};

struct nn_split_writer {
  nn_dataset_file *file;
  hid_t group, X, y; /* y is labels y (N) int32 or targets Y (N, K) float32 */
  nn_dtype xtype;
  int d, k;       /* k == 0: labels y */
  int64_t n;      /* rows appended so far */
  char name[256]; /* "" when the group is not ours to unlink */
};

/* Fixed-length UTF-8 string attributes (h5py reads them as str); integers as int32. */
static int put_str(hid_t obj, const char *name, const char *v) {
  return nn_h5_attr_write_str(obj, name, v, H5T_CSET_UTF8);
}
static int put_int(hid_t obj, const char *name, int v) {
  return nn_h5_attr_write(obj, name, H5T_STD_I32LE, H5T_NATIVE_INT, 0, &v);
}

/* Optional root attributes of an existing file: 1 read, 0 absent or unreadable. */
static int get_str(hid_t f, const char *name, char *buf, size_t cap) {
  return nn_h5_attr_exists(f, name) && nn_h5_attr_read_name(f, "/", name, buf, cap, NN_EDATA) == NN_OK;
}
static int get_int(hid_t f, const char *name, long long *v) {
  return nn_h5_attr_exists(f, name) && nn_h5_attr_read(f, "/", name, H5T_NATIVE_LLONG, 1, v, NN_EDATA) == NN_OK;
}

static int open_existing(nn_dataset_file *f) {
  char fmt[64] = "";
  if (H5Fis_hdf5(f->path) <= 0) return NN_FAIL(NN_EDATA, "%s: cannot append: not an HDF5 file", f->path);
  if ((f->id = H5Fopen(f->path, H5F_ACC_RDWR, H5P_DEFAULT)) < 0)
    return nn_h5_fail(NN_EDATA, "%s: cannot open for appending", f->path);
  if (get_str(f->id, "format", fmt, sizeof fmt) && strcmp(fmt, NN_DATASET_FORMAT))
    return NN_FAIL(NN_EDATA, "%s: cannot append: root attribute format is \"%s\", expected \"%s\"", f->path, fmt,
                   NN_DATASET_FORMAT);
  return NN_OK;
}

static int create_new(nn_dataset_file *f) {
  /* Format 1.8 objects: superblock v2 and object headers carry checksums (flipped metadata bytes
   * are detected); readable by HDF5 >= 1.8 and h5py. */
  hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
  H5Pset_libver_bounds(fapl, H5F_LIBVER_V18, H5F_LIBVER_V18);
  f->id = H5Fcreate(f->path, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
  if (f->id < 0) nn_h5_note();
  H5Pclose(fapl);
  if (f->id < 0) return nn_h5_fail(NN_EIO, "%s: cannot create", f->path);
  f->created = true;
  if (put_str(f->id, "format", NN_DATASET_FORMAT) < 0 ||
      put_int(f->id, "format_version", NN_DATASET_FORMAT_VERSION) < 0)
    return nn_h5_fail(NN_EIO, "%s: cannot write root attributes", f->path);
  return NN_OK;
}

int nn_dataset_create(const char *path, bool append, nn_dataset_file **file) {
  struct stat st;
  nn_h5_quiet();
  *file = NULL;
  nn_dataset_file *f = calloc(1, sizeof *f);
  if (!f) return NN_FAIL(NN_ENOMEM, "%s: out of memory", path);
  f->id = -1;
  if (strlen(path) >= sizeof f->path) {
    free(f);
    return NN_FAIL(NN_EINVAL, "%s: path too long", path);
  }
  strcpy(f->path, path);
  bool exists = stat(path, &st) == 0;
  int rc = exists && !S_ISREG(st.st_mode)
               ? NN_FAIL(NN_EIO, "%s: is %s, expected a dataset file or a new name", path, nn_fs_kind(st.st_mode))
           : append && exists ? open_existing(f)
                              : create_new(f);
  if (rc) {
    nn_dataset_close(f, false);
    return rc;
  }
  *file = f;
  return NN_OK;
}

int nn_dataset_set_meta(nn_dataset_file *file, const nn_dataset_meta *m) {
  hid_t f = file->id;
  const char *path = file->path;
  long long old = 0;
  char buf[4096];
  bool had = get_int(f, "num_classes", &old);
  int nc = m->num_classes > old ? m->num_classes : (int)old;
  bool names = m->class_names && *m->class_names;
  if (names) { /* validate everything before writing anything */
    int count = 1;
    for (const char *p = m->class_names; *p; p++) count += *p == ',';
    if (count != nc)
      return NN_FAIL(NN_EDATA, "%s: %d class names given (\"%s\"), expected num_classes = %d", path, count,
                     m->class_names, nc);
    if (get_str(f, "class_names", buf, sizeof buf) && strcmp(buf, m->class_names))
      return NN_FAIL(NN_EDATA, "%s: class names \"%s\" differ from the file's class_names \"%s\"", path, m->class_names,
                     buf);
  }
  if ((nc != old || !had) && put_int(f, "num_classes", nc) < 0)
    return nn_h5_fail(NN_EIO, "%s: cannot write num_classes", path);
  if (names && put_str(f, "class_names", m->class_names) < 0)
    return nn_h5_fail(NN_EIO, "%s: cannot write class_names", path);
  if (m->source && *m->source) {
    const char *src = m->source;
    if (get_str(f, "source", buf, sizeof buf) && *buf && strlen(buf) + strlen(src) + 3 <= sizeof buf)
      src = strcat(strcat(buf, "; "), m->source);
    if (put_str(f, "source", src) < 0) return nn_h5_fail(NN_EIO, "%s: cannot write source", path);
  }
  return NN_OK;
}

int nn_dataset_close(nn_dataset_file *file, bool keep) {
  if (!file) return NN_OK;
  int rc = NN_OK;
  if (nn_h5_close_file(file->id, !keep && file->created ? file->path : NULL) < 0)
    rc = nn_h5_fail(NN_EIO, "%s: closing failed", file->path);
  if ((rc || !keep) && file->created) remove(file->path);
  free(file);
  return rc;
}

/* A (0, cols) (rank 2) or (0,) (rank 1) extendible dataset chunked by rows. */
static hid_t make_dset(hid_t g, const char *name, hid_t type, int rank, hsize_t cols) {
  hsize_t dims[2] = {0, cols}, maxd[2] = {H5S_UNLIMITED, cols};
  hsize_t row_bytes = cols * H5Tget_size(type), rows = CHUNK_BYTES / (row_bytes ? row_bytes : 1);
  hsize_t chunk[2] = {rows ? rows : 1, cols};
  hid_t s = H5Screate_simple(rank, dims, maxd), p = H5Pcreate(H5P_DATASET_CREATE), d = -1;
  if (s >= 0 && p >= 0 && H5Pset_chunk(p, rank, chunk) >= 0 && H5Pset_shuffle(p) >= 0 &&
      H5Pset_deflate(p, DEFLATE_LEVEL) >= 0 && H5Pset_fletcher32(p) >= 0)
    d = H5Dcreate2(g, name, type, s, H5P_DEFAULT, p, H5P_DEFAULT);
  if (d < 0) nn_h5_note();
  if (p >= 0) H5Pclose(p);
  if (s >= 0) H5Sclose(s);
  return d;
}

/* The first other split of a file whose shape differs from the one being added. */
typedef struct shape_check {
  int d, k;         /* the new split's features and target columns (0: labels) */
  char other[256];  /* "/train" of the first mismatch ("" none) */
  const char *what; /* "features" or "target columns" */
  long long have, want;
} shape_check;

static herr_t check_shape(hid_t g, const char *name, const H5L_info_t *li, void *data) {
  shape_check *c = data;
  const char *base = strrchr(name, '/');
  base = base ? base + 1 : name;
  bool x = !strcmp(base, "X"), y = !strcmp(base, "Y");
  if ((!x && !y) || li->type != H5L_TYPE_HARD || c->other[0]) return 0;
  hid_t d = H5Dopen2(g, name, H5P_DEFAULT);
  if (d < 0) return H5Eclear2(H5E_DEFAULT), 0;
  hid_t sp = H5Dget_space(d);
  hsize_t dims[2] = {0, 0};
  int rank = sp < 0 ? -1 : H5Sget_simple_extent_dims(sp, dims, NULL);
  if (sp >= 0) H5Sclose(sp);
  H5Dclose(d);
  long long want = x ? c->d : c->k;
  if (rank == 2 && (x || c->k > 0) && (long long)dims[1] != want) {
    snprintf(c->other, sizeof c->other, "/%.*s", (int)(base - name > 0 ? base - name - 1 : 0), name);
    c->what = x ? "features" : "target columns";
    c->have = (long long)dims[1], c->want = want;
  }
  return 0;
}

/* A split name: "/" and then components separated by '/', none empty, "." or "..". */
static bool valid_split_name(const char *name) {
  if (name[0] != '/' || !name[1]) return false;
  for (const char *p = name + 1; *p;) {
    size_t n = strcspn(p, "/");
    if (n == 0 || (n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.')) return false;
    p += n + (p[n] == '/');
    if (p[-1] == '/' && !*p) return false; /* a trailing '/' */
  }
  return true;
}

static int split_begin(nn_split_writer *w, const char *name, float scale, float offset) {
  hid_t file = w->file->id;
  const char *path = w->file->path;
  int d = w->d, k = w->k;
  if (!valid_split_name(name) || strlen(name) >= sizeof w->name)
    return NN_FAIL(NN_EINVAL, "%s: split name '%s', expected a group such as /train or /folds/0", path, name);
  if (d < 1 || k < 0) return NN_FAIL(NN_EINVAL, "%s:%s: bad shape d=%d k=%d", path, name, d, k);
  if (H5Lexists(file, name, H5P_DEFAULT) > 0)
    return NN_FAIL(NN_EDATA,
                   "%s:%s already exists (choose another split name, or leave out --append to start a new file)", path,
                   name);
  long long nc;
  if (get_int(file, "num_classes", &nc) && (nc > 0) != (k == 0))
    return NN_FAIL(NN_EDATA, "%s: num_classes is %lld, so its splits are %s; %s would hold %s", path, nc,
                   nc ? "classification (labels y)" : "regression (targets Y)", name,
                   k ? "regression targets Y" : "class labels y");
  /* every split of a file feeds one model: the same features (and target columns) */
  shape_check sc = {.d = d, .k = k};
  H5Lvisit(file, H5_INDEX_NAME, H5_ITER_INC, check_shape, &sc);
  if (sc.other[0])
    return NN_FAIL(NN_EDATA,
                   "%s:%s would have %lld %s, but the file's split %s has %lld; every split of a file must "
                   "have the same %s",
                   path, name, sc.want, sc.what, sc.other, sc.have, sc.what);
  strcpy(w->name, name); /* from here on the group is ours: a failure unlinks it */
  hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
  H5Pset_create_intermediate_group(lcpl, 1);
  w->group = H5Gcreate2(file, name, lcpl, H5P_DEFAULT, H5P_DEFAULT);
  if (w->group < 0) nn_h5_note();
  H5Pclose(lcpl);
  if (w->group < 0) return nn_h5_fail(NN_EIO, "%s:%s: cannot create group", path, name);
  w->X = make_dset(w->group, "X", w->xtype == NN_DTYPE_U8 ? H5T_STD_U8LE : H5T_IEEE_F32LE, 2, (hsize_t)d);
  w->y = k ? make_dset(w->group, "Y", H5T_IEEE_F32LE, 2, (hsize_t)k) : make_dset(w->group, "y", H5T_STD_I32LE, 1, 1);
  if (w->X < 0 || w->y < 0 ||
      (w->xtype == NN_DTYPE_U8 && (nn_h5_attr_write(w->X, "scale", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 0, &scale) < 0 ||
                                   nn_h5_attr_write(w->X, "offset", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 0, &offset) < 0)))
    return nn_h5_fail(NN_EIO, "%s:%s: cannot create datasets", path, name);
  return NN_OK;
}

int nn_dataset_split_begin(nn_dataset_file *file, const char *name, nn_dtype xtype, int d, float scale, float offset,
                           int k, nn_split_writer **out) {
  *out = NULL;
  nn_split_writer *w = calloc(1, sizeof *w);
  if (!w) return NN_FAIL(NN_ENOMEM, "%s:%s: out of memory", file->path, name);
  *w = (nn_split_writer){.file = file, .group = -1, .X = -1, .y = -1, .xtype = xtype, .d = d, .k = k};
  int rc = split_begin(w, name, scale, offset);
  if (rc) {
    nn_dataset_split_end(w, false);
    return rc;
  }
  *out = w;
  return NN_OK;
}

/* Extends dataset d (rows n0 so far) by nrows rows of buf. 0 or -1 (reason noted). */
static int append_rows(hid_t d, hsize_t n0, hsize_t nrows, hsize_t cols, hid_t mtype, const void *buf) {
  hsize_t size[2] = {n0 + nrows, cols};
  if (H5Dset_extent(d, size) < 0) return nn_h5_note(), -1;
  return nn_h5_rows(d, true, n0, nrows, mtype, (void *)buf);
}

int nn_dataset_split_append(nn_split_writer *w, int64_t nrows, const void *X, const int32_t *y, const float *Y) {
  if (nrows <= 0) return NN_OK;
  hsize_t n0 = (hsize_t)w->n;
  if (append_rows(w->X, n0, (hsize_t)nrows, (hsize_t)w->d, w->xtype == NN_DTYPE_U8 ? H5T_NATIVE_UINT8 : H5T_NATIVE_FLOAT,
                  X) < 0 ||
      (w->k ? append_rows(w->y, n0, (hsize_t)nrows, (hsize_t)w->k, H5T_NATIVE_FLOAT, Y)
            : append_rows(w->y, n0, (hsize_t)nrows, 1, H5T_NATIVE_INT32, y)) < 0)
    return nn_h5_fail(NN_EIO, "%s:%s: writing rows [%lld, %lld) failed", w->file->path, w->name, (long long)n0,
                      (long long)(n0 + (hsize_t)nrows));
  w->n += nrows;
  return NN_OK;
}

int nn_dataset_split_end(nn_split_writer *w, bool commit) {
  if (!w) return NN_OK;
  int rc = NN_OK;
  if (w->X >= 0) H5Dclose(w->X);
  if (w->y >= 0) H5Dclose(w->y);
  if (w->group >= 0) H5Gclose(w->group);
  if (commit && w->n == 0) rc = NN_FAIL(NN_EDATA, "%s:%s: no rows to write", w->file->path, w->name), commit = false;
  if (!commit && w->name[0]) H5Ldelete(w->file->id, w->name, H5P_DEFAULT);
  free(w);
  return rc;
}
