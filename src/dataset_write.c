/* dataset_write: the one writer of nnmpi dataset files (include/nnmpi/dataset_write.h): root
 * attributes, splits as row-chunked extendible datasets (shuffle + deflate + Fletcher32), and the
 * synthetic-data writer. Layer 4: HDF5, synth, libc; never calls MPI_* and never prints. */
#include "nnmpi/dataset_write.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "nnmpi/status.h"
#include "nnmpi/synth.h"

enum { CHUNK_BYTES = 256 * 1024, BLOCK_BYTES = 1 << 20, DEFLATE_LEVEL = 4 };

static int set_attr(hid_t obj, const char *name, hid_t type, const void *val) {
  if (H5Aexists(obj, name) > 0 && H5Adelete(obj, name) < 0) return -1;
  hid_t s = H5Screate(H5S_SCALAR), a = s < 0 ? -1 : H5Acreate2(obj, name, type, s, H5P_DEFAULT, H5P_DEFAULT);
  herr_t e = a < 0 ? -1 : H5Awrite(a, type, val);
  if (a >= 0) H5Aclose(a);
  if (s >= 0) H5Sclose(s);
  return e < 0 ? -1 : 0;
}

/* Fixed-length UTF-8 string attribute (h5py reads it as str). */
static int set_str_attr(hid_t obj, const char *name, const char *val) {
  hid_t t = H5Tcopy(H5T_C_S1);
  H5Tset_size(t, strlen(val) + 1);
  H5Tset_cset(t, H5T_CSET_UTF8);
  int e = set_attr(obj, name, t, val);
  H5Tclose(t);
  return e;
}

static int set_int_attr(hid_t obj, const char *name, int v) { return set_attr(obj, name, H5T_STD_I32LE, &v); }

int nn_dataset_create(const char *path, bool append, hid_t *file, bool *created) {
  struct stat st;
  nn_h5_quiet();
  *created = !append || stat(path, &st) != 0;
  if (!*created) {
    char fmt[64] = "";
    if (H5Fis_hdf5(path) <= 0) return NN_FAIL(NN_EDATA, "%s: cannot append: not an HDF5 file", path);
    if ((*file = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT)) < 0)
      return NN_FAIL(NN_EDATA, "%s: cannot open for appending: %s", path, nn_h5_errstr());
    if (nn_h5_attr_str(*file, "format", fmt, sizeof fmt) == 1 && strcmp(fmt, NN_DATASET_FORMAT)) {
      H5Fclose(*file);
      return NN_FAIL(NN_EDATA, "%s: cannot append: root attribute format is \"%s\", expected \"%s\"", path, fmt,
                     NN_DATASET_FORMAT);
    }
    return NN_OK;
  }
  /* Format 1.8 objects: superblock v2 and object headers carry checksums (flipped metadata bytes
   * are detected); readable by HDF5 >= 1.8 and h5py. */
  hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
  H5Pset_libver_bounds(fapl, H5F_LIBVER_V18, H5F_LIBVER_V18);
  *file = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
  H5Pclose(fapl);
  if (*file < 0) return NN_FAIL(NN_EIO, "%s: cannot create: %s", path, nn_h5_errstr());
  if (set_str_attr(*file, "format", NN_DATASET_FORMAT) < 0 ||
      set_int_attr(*file, "format_version", NN_DATASET_FORMAT_VERSION) < 0) {
    H5Fclose(*file);
    return NN_FAIL(NN_EIO, "%s: cannot write root attributes: %s", path, nn_h5_errstr());
  }
  return NN_OK;
}

int nn_dataset_set_meta(hid_t f, const char *path, const nn_dataset_meta *m) {
  long long old = 0;
  char buf[4096];
  bool had = nn_h5_attr_int(f, "num_classes", &old) == 1;
  int nc = m->num_classes > old ? m->num_classes : (int)old;
  bool names = m->class_names && *m->class_names;
  if (names) { /* validate everything before writing anything */
    int count = 1;
    for (const char *p = m->class_names; *p; p++) count += *p == ',';
    if (count != nc)
      return NN_FAIL(NN_EDATA, "%s: %d class names given (\"%s\"), expected num_classes = %d", path, count,
                     m->class_names, nc);
    if (nn_h5_attr_str(f, "class_names", buf, sizeof buf) == 1 && strcmp(buf, m->class_names))
      return NN_FAIL(NN_EDATA, "%s: class names \"%s\" differ from the file's class_names \"%s\"", path,
                     m->class_names, buf);
  }
  if ((nc != old || !had) && set_int_attr(f, "num_classes", nc) < 0)
    return NN_FAIL(NN_EIO, "%s: cannot write num_classes: %s", path, nn_h5_errstr());
  if (names && set_str_attr(f, "class_names", m->class_names) < 0)
    return NN_FAIL(NN_EIO, "%s: cannot write class_names: %s", path, nn_h5_errstr());
  if (m->source && *m->source) {
    const char *src = m->source;
    if (nn_h5_attr_str(f, "source", buf, sizeof buf) == 1 && *buf && strlen(buf) + strlen(src) + 3 <= sizeof buf)
      src = strcat(strcat(buf, "; "), m->source);
    if (set_str_attr(f, "source", src) < 0) return NN_FAIL(NN_EIO, "%s: cannot write source: %s", path, nn_h5_errstr());
  }
  return NN_OK;
}

int nn_dataset_close(hid_t file, const char *path, const nn_dataset_meta *meta) {
  int rc = meta ? nn_dataset_set_meta(file, path, meta) : NN_OK;
  if (H5Fclose(file) < 0 && rc == NN_OK) rc = NN_FAIL(NN_EIO, "%s: closing failed: %s", path, nn_h5_errstr());
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
  if (d < 0) nn_h5_errstr();
  if (p >= 0) H5Pclose(p);
  if (s >= 0) H5Sclose(s);
  return d;
}

int nn_dataset_split_begin(nn_split_writer *w, hid_t file, const char *path, const char *name, nn_dtype xtype,
                           int d, float scale, float offset, int k) {
  memset(w, 0, sizeof *w);
  w->group = w->X = w->y = -1;
  w->file = file, w->xtype = xtype, w->d = d, w->k = k;
  snprintf(w->path, sizeof w->path, "%s", path);
  snprintf(w->name, sizeof w->name, "%s", name);
  if (name[0] != '/' || strlen(name) < 2 || strlen(name) >= sizeof w->name)
    return NN_FAIL(NN_EINVAL, "%s: split name '%s', expected a group such as /train", path, name);
  if (d < 1 || k < 0) return NN_FAIL(NN_EINVAL, "%s:%s: bad shape d=%d k=%d", path, name, d, k);
  if (H5Lexists(file, name, H5P_DEFAULT) > 0) {
    w->name[0] = 0; /* not ours: never unlink it */
    return NN_FAIL(NN_EDATA, "%s:%s already exists (choose another split name, or leave out --append to start a new file)",
                   path, name);
  }
  long long nc;
  if (nn_h5_attr_int(file, "num_classes", &nc) == 1 && (nc > 0) != (k == 0))
    return NN_FAIL(NN_EDATA, "%s: num_classes is %lld, so its splits are %s; %s would hold %s", path, nc,
                   nc ? "classification (labels y)" : "regression (targets Y)", name,
                   k ? "regression targets Y" : "class labels y");
  hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
  H5Pset_create_intermediate_group(lcpl, 1);
  w->group = H5Gcreate2(file, name, lcpl, H5P_DEFAULT, H5P_DEFAULT);
  H5Pclose(lcpl);
  if (w->group < 0) return NN_FAIL(NN_EIO, "%s:%s: cannot create group: %s", path, name, nn_h5_errstr());
  w->X = make_dset(w->group, "X", xtype == NN_DTYPE_U8 ? H5T_STD_U8LE : H5T_IEEE_F32LE, 2, (hsize_t)d);
  w->y = k ? make_dset(w->group, "Y", H5T_IEEE_F32LE, 2, (hsize_t)k) : make_dset(w->group, "y", H5T_STD_I32LE, 1, 1);
  if (w->X < 0 || w->y < 0 ||
      (xtype == NN_DTYPE_U8 && (set_attr(w->X, "scale", H5T_IEEE_F32LE, &scale) < 0 ||
                                set_attr(w->X, "offset", H5T_IEEE_F32LE, &offset) < 0)))
    return NN_FAIL(NN_EIO, "%s:%s: cannot create datasets: %s", path, name, nn_h5_errstr());
  return NN_OK;
}

static int append_rows(hid_t d, int rank, hsize_t n0, hsize_t nrows, hsize_t cols, hid_t mtype, const void *buf) {
  hsize_t size[2] = {n0 + nrows, cols}, start[2] = {n0, 0}, count[2] = {nrows, cols};
  if (H5Dset_extent(d, size) < 0) return -1;
  hid_t fs = H5Dget_space(d), ms = H5Screate_simple(rank, count, NULL);
  herr_t e = fs < 0 || ms < 0 ? -1 : H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, count, NULL);
  if (e >= 0) e = H5Dwrite(d, mtype, ms, fs, H5P_DEFAULT, buf);
  if (e < 0) nn_h5_errstr(); /* save the reason before the closes clear the stack */
  if (ms >= 0) H5Sclose(ms);
  if (fs >= 0) H5Sclose(fs);
  return e < 0 ? -1 : 0;
}

int nn_dataset_split_append(nn_split_writer *w, int64_t nrows, const void *X, const int32_t *y, const float *Y) {
  if (nrows <= 0) return NN_OK;
  hsize_t n0 = (hsize_t)w->n;
  if (append_rows(w->X, 2, n0, (hsize_t)nrows, (hsize_t)w->d, w->xtype == NN_DTYPE_U8 ? H5T_NATIVE_UINT8 : H5T_NATIVE_FLOAT, X) < 0 ||
      (w->k ? append_rows(w->y, 2, n0, (hsize_t)nrows, (hsize_t)w->k, H5T_NATIVE_FLOAT, Y)
            : append_rows(w->y, 1, n0, (hsize_t)nrows, 1, H5T_NATIVE_INT32, y)) < 0)
    return NN_FAIL(NN_EIO, "%s:%s: writing rows [%lld, %lld) failed: %s", w->path, w->name, (long long)n0,
                   (long long)(n0 + (hsize_t)nrows), nn_h5_errstr());
  w->n += nrows;
  return NN_OK;
}

int nn_dataset_split_end(nn_split_writer *w, bool commit) {
  int rc = NN_OK;
  if (w->X >= 0) H5Dclose(w->X);
  if (w->y >= 0) H5Dclose(w->y);
  if (w->group >= 0) H5Gclose(w->group);
  if (commit && w->n == 0) rc = NN_FAIL(NN_EDATA, "%s:%s: no rows to write", w->path, w->name), commit = false;
  if (!commit && w->group >= 0 && w->name[0]) H5Ldelete(w->file, w->name, H5P_DEFAULT);
  w->X = w->y = w->group = -1;
  return rc;
}

int nn_synth_write(const char *out, const char *kind, uint64_t seed, int64_t n, int64_t n_test, int d, int k,
                   float noise) {
  bool cls, created;
  int rc = nn_synth_resolve(kind, &d, &k, &noise, &cls);
  if (rc) return rc;
  if (n < 1 || n_test < 0) return NN_FAIL(NN_EINVAL, "synthetic data: %lld training rows, %lld test rows; need n >= 1", (long long)n, (long long)n_test);
  int64_t block = BLOCK_BYTES / (4 * (int64_t)(d + k));
  if (block < 1) block = 1;
  float *X = malloc((size_t)block * (size_t)(d + k) * sizeof *X), *Y = X + (size_t)block * d;
  if (!X) return NN_FAIL(NN_ENOMEM, "synthetic data: no memory for a block of %lld rows", (long long)block);
  hid_t f;
  if ((rc = nn_dataset_create(out, false, &f, &created))) goto out_free;
  const char *names[2] = {"/train", "/test"};
  const uint64_t streams[2] = {NN_SYNTH_STREAM_TRAIN, NN_SYNTH_STREAM_TEST};
  const int64_t rows[2] = {n, n_test};
  for (int s = 0; s < 2 && !rc && rows[s] > 0; s++) {
    nn_split_writer w;
    rc = nn_dataset_split_begin(&w, f, out, names[s], NN_DTYPE_F32, d, 1.0f, 0.0f, cls ? 0 : k);
    for (int64_t r = 0; !rc && r < rows[s]; r += block) {
      int64_t m = rows[s] - r < block ? rows[s] - r : block;
      rc = nn_synth_fill(kind, seed, streams[s], r, m, d, k, noise, X, (int32_t *)Y, Y);
      if (!rc) rc = nn_dataset_split_append(&w, m, X, (int32_t *)Y, Y);
    }
    int rc2 = nn_dataset_split_end(&w, rc == NN_OK);
    if (!rc) rc = rc2;
  }
  char src[256];
  snprintf(src, sizeof src, "nnmpi data synth --kind %s --n %lld --n-test %lld --seed %llu --dim %d --classes %d --noise %g",
           kind, (long long)n, (long long)n_test, (unsigned long long)seed, d, k, (double)noise);
  nn_dataset_meta meta = {cls ? k : 0, NULL, src};
  int rc2 = nn_dataset_close(f, out, rc ? NULL : &meta);
  if (!rc) rc = rc2;
  if (rc) remove(out);
out_free:
  free(X);
  return rc;
}
