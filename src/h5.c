/* h5: error capture, files and attributes for the I/O layer (see h5.h).
 * Layer 4: HDF5 and libc; never calls MPI_*, never prints. */
#include "h5.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fs.h"
#include "nnmpi/status.h"

/* ---- errors */

static _Thread_local char reason[512];

void nn_h5_quiet(void) {
  H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
  reason[0] = 0;
}

/* The first entry of an upward walk is the innermost, most specific one. */
static herr_t innermost(unsigned n, const H5E_error2_t *e, void *data) {
  (void)data;
  if (n == 0) snprintf(reason, sizeof reason, "%s", e->desc ? e->desc : "");
  return 0;
}

void nn_h5_note(void) {
  if (!reason[0] && H5Eget_num(H5E_DEFAULT) > 0) H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, innermost, NULL);
}

const char *nn_h5_reason(void) {
  nn_h5_note();
  /* the sec2 driver reports "..., errno = 28, error message = 'No space left on device'" */
  char *s = strstr(reason, "error message = '"), *e = s ? strchr(s + 17, '\'') : NULL;
  if (e) {
    *e = 0;
    memmove(reason, s + 17, strlen(s + 17) + 1);
  }
  return reason[0] ? reason : "HDF5 error";
}

int nn_h5_fail(int code, const char *fmt, ...) {
  char what[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(what, sizeof what, fmt, ap);
  va_end(ap);
  NN_FAIL(code, "%s: %s", what, nn_h5_reason());
  reason[0] = 0;
  H5Eclear2(H5E_DEFAULT);
  return code;
}

/* ---- files */

hid_t nn_h5_fapl(void) {
  hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
  H5Pset_libver_bounds(fapl, H5F_LIBVER_V18, H5F_LIBVER_V18);
  H5Pset_file_locking(fapl, 0, 1);
  H5Pset_fclose_degree(fapl, H5F_CLOSE_STRONG);
  return fapl;
}

int nn_h5_close_file(hid_t f, const char *discard) {
  if (f < 0) return 0;
  if (discard) { /* the reason of the failure is already noted; the file goes anyway */
    int r;
    while ((r = truncate(discard, 0)) < 0 && errno == EINTR) {}
  }
  if (H5Fclose(f) >= 0) return 0;
  nn_h5_note();
  return -1;
}

int nn_h5_open_ro(const char *path, const char *what, int code, hid_t *file) {
  const char *kind;
  nn_h5_quiet();
  *file = -1;
  /* the operating system's reason first (HDF5 calls a file it may not read "not an HDF5 file"),
   * and never an open that blocks (a FIFO) */
  int fd = nn_fs_open_regular(path, &kind);
  if (fd < 0 && kind) return NN_FAIL(code, "%s: is %s, expected a regular file (%s)", path, kind, what);
  if (fd < 0) return NN_FAIL(code, "%s: cannot open %s: %s", path, what, strerror(errno));
  close(fd);
  if (H5Fis_hdf5(path) <= 0) return NN_FAIL(code, "%s: not an HDF5 file", path);
  *file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
  if (*file < 0) return nn_h5_fail(code, "%s: cannot open HDF5 file", path);
  return NN_OK;
}

/* ---- row blocks */

int nn_h5_rows(hid_t d, bool write, hsize_t row0, hsize_t nrows, hid_t mtype, void *buf) {
  hsize_t dims[2] = {0, 1}, start[2] = {row0, 0};
  hid_t fs = H5Dget_space(d);
  int rank = fs < 0 ? -1 : H5Sget_simple_extent_dims(fs, dims, NULL);
  hsize_t count[2] = {nrows, dims[1]};
  hid_t ms = rank == 1 || rank == 2 ? H5Screate_simple(rank, count, NULL) : -1;
  herr_t e = ms < 0 ? -1 : H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, count, NULL);
  if (e >= 0) e = write ? H5Dwrite(d, mtype, ms, fs, H5P_DEFAULT, buf) : H5Dread(d, mtype, ms, fs, H5P_DEFAULT, buf);
  if (e < 0) nn_h5_note(); /* before the closes clear the stack */
  if (ms >= 0) H5Sclose(ms);
  if (fs >= 0) H5Sclose(fs);
  return e < 0 ? -1 : 0;
}

/* ---- attributes */

bool nn_h5_attr_exists(hid_t obj, const char *name) { return H5Aexists(obj, name) > 0; }

static const char *class_name(H5T_class_t c) {
  return c == H5T_INTEGER ? "an integer" : c == H5T_FLOAT ? "a number" : c == H5T_STRING ? "a string" : "a value";
}

int nn_h5_attr_read(hid_t obj, const char *where, const char *name, hid_t mtype, size_t n, void *v, int code) {
  if (!nn_h5_attr_exists(obj, name)) return NN_FAIL(code, "missing attribute %s:%s", where, name);
  hid_t a = H5Aopen(obj, name, H5P_DEFAULT);
  if (a < 0) return nn_h5_fail(code, "opening attribute %s:%s", where, name);
  hid_t sp = H5Aget_space(a), t = H5Aget_type(a);
  hssize_t got = sp < 0 ? -1 : H5Sget_simple_extent_npoints(sp);
  H5T_class_t want = H5Tget_class(mtype);
  int rc = NN_OK;
  if (got != (hssize_t)n) {
    if (n == 1)
      rc = NN_FAIL(code, "attribute %s:%s has %lld values, expected a scalar (1 value)", where, name, (long long)got);
    else rc = NN_FAIL(code, "attribute %s:%s has %lld values, expected %zu", where, name, (long long)got, n);
  } else if (t < 0 || !(H5Tget_class(t) == want || (want == H5T_FLOAT && H5Tget_class(t) == H5T_INTEGER))) {
    char tn[32] = "unknown";
    if (t >= 0) nn_h5_type_name(t, tn, sizeof tn);
    rc = NN_FAIL(code, "attribute %s:%s is %s, expected %s", where, name, tn, class_name(want));
  } else if (H5Aread(a, mtype, v) < 0) {
    rc = nn_h5_fail(code, "reading attribute %s:%s", where, name);
  }
  if (t >= 0) H5Tclose(t);
  if (sp >= 0) H5Sclose(sp);
  H5Aclose(a);
  return rc;
}

int nn_h5_attr_read_str(hid_t obj, const char *where, const char *name, char **out, int code) {
  *out = NULL;
  if (!nn_h5_attr_exists(obj, name)) return NN_FAIL(code, "missing attribute %s:%s", where, name);
  hid_t a = H5Aopen(obj, name, H5P_DEFAULT);
  if (a < 0) return nn_h5_fail(code, "opening attribute %s:%s", where, name);
  hid_t t = H5Aget_type(a), sp = H5Aget_space(a), m = -1;
  int rc = NN_OK;
  if (t < 0 || H5Tget_class(t) != H5T_STRING || sp < 0 || H5Sget_simple_extent_npoints(sp) != 1) {
    rc = NN_FAIL(code, "attribute %s:%s is not one string", where, name);
  } else if (H5Tis_variable_str(t) > 0) {
    char *v = NULL;
    m = H5Tcopy(H5T_C_S1);
    H5Tset_size(m, H5T_VARIABLE);
    H5Tset_cset(m, H5Tget_cset(t));
    if (H5Aread(a, m, &v) < 0) rc = nn_h5_fail(code, "reading attribute %s:%s", where, name);
    else if (!(*out = strdup(v ? v : "")))
      rc = NN_FAIL(NN_ENOMEM, "reading attribute %s:%s: out of memory", where, name);
    if (v) H5free_memory(v);
  } else {
    size_t size = H5Tget_size(t);
    m = H5Tcopy(H5T_C_S1);
    H5Tset_size(m, size + 1);
    H5Tset_strpad(m, H5T_STR_NULLTERM);
    H5Tset_cset(m, H5Tget_cset(t));
    if (!(*out = calloc(size + 2, 1))) rc = NN_FAIL(NN_ENOMEM, "reading attribute %s:%s: out of memory", where, name);
    else if (H5Aread(a, m, *out) < 0) rc = nn_h5_fail(code, "reading attribute %s:%s", where, name);
  }
  if (rc != NN_OK) free(*out), *out = NULL;
  if (m >= 0) H5Tclose(m);
  if (sp >= 0) H5Sclose(sp);
  if (t >= 0) H5Tclose(t);
  H5Aclose(a);
  return rc;
}

int nn_h5_attr_read_name(hid_t obj, const char *where, const char *name, char *buf, size_t cap, int code) {
  char *s;
  int rc = nn_h5_attr_read_str(obj, where, name, &s, code);
  if (rc) return rc;
  size_t n = strlen(s);
  if (n >= cap) rc = NN_FAIL(code, "attribute %s:%s is too long (%zu chars)", where, name, n);
  else memcpy(buf, s, n + 1);
  free(s);
  return rc;
}

int nn_h5_attr_write(hid_t obj, const char *name, hid_t ftype, hid_t mtype, hsize_t n, const void *v) {
  if (nn_h5_attr_exists(obj, name) && H5Adelete(obj, name) < 0) return nn_h5_note(), -1;
  hid_t sp = n ? H5Screate_simple(1, &n, NULL) : H5Screate(H5S_SCALAR);
  hid_t a = sp < 0 ? -1 : H5Acreate2(obj, name, ftype, sp, H5P_DEFAULT, H5P_DEFAULT);
  herr_t r = a < 0 ? -1 : H5Awrite(a, mtype, v);
  if (r < 0) nn_h5_note();
  if (a >= 0 && H5Aclose(a) < 0) r = -1, nn_h5_note();
  if (sp >= 0) H5Sclose(sp);
  return r < 0 ? -1 : 0;
}

int nn_h5_attr_write_str(hid_t obj, const char *name, const char *s, H5T_cset_t cset) {
  hid_t t = H5Tcopy(H5T_C_S1);
  if (t < 0 || H5Tset_size(t, strlen(s) + 1) < 0 || H5Tset_strpad(t, H5T_STR_NULLTERM) < 0 ||
      H5Tset_cset(t, cset) < 0) {
    nn_h5_note();
    if (t >= 0) H5Tclose(t);
    return -1;
  }
  int r = nn_h5_attr_write(obj, name, t, t, 0, s);
  H5Tclose(t);
  return r;
}

void nn_h5_type_name(hid_t type, char *buf, size_t cap) {
  size_t bits = 8 * H5Tget_size(type);
  switch (H5Tget_class(type)) {
  case H5T_INTEGER: snprintf(buf, cap, "%sint%zu", H5Tget_sign(type) == H5T_SGN_NONE ? "u" : "", bits); break;
  case H5T_FLOAT: snprintf(buf, cap, "float%zu", bits); break;
  case H5T_STRING: snprintf(buf, cap, "string"); break;
  case H5T_COMPOUND: snprintf(buf, cap, "compound"); break;
  case H5T_ENUM: snprintf(buf, cap, "enum"); break;
  case H5T_ARRAY: snprintf(buf, cap, "array"); break;
  default: snprintf(buf, cap, "non-numeric"); break;
  }
}
