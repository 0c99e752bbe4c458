/* checkpoint: HDF5 checkpoint files with an atomic commit (tmp, fsync, rename, fsync dir), a
 * plain-text header in the HDF5 user block with a whole-file CRC32 (checked before HDF5 parses
 * anything, so damaged files never reach the HDF5 parser), and a CRC32 per array.
 * Layer 4: HDF5, zlib, net, optim, config names. Never calls MPI_* and never prints. */
#include "nnmpi/checkpoint.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <hdf5.h>
#include <zlib.h>

#include "nnmpi/status.h"
#include "nnmpi/version.h"

/* CRCs are defined over the little-endian bytes; on such hosts those are the memory bytes. */
_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "checkpoint CRCs assume a little-endian host");

#define FORMAT_NAME "nnmpi-checkpoint"
enum { CAUSE_CAP = 1024, MAX_ARRAYS = NN_MAX_LAYERS * 2 * 3, PATH_CAP = NN_PATH_MAX + 64 };

/* One array of the file: its HDF5 path, shape, place in the flat scratch layout. */
typedef struct arr {
  char path[64];
  int nd;
  hsize_t dims[2];
  size_t n, flat; /* element count; offset in [params | state 0 | state 1] layout */
  const float *src;
  uint32_t crc;
  int64_t off;    /* byte offset of the raw data in the file (header table) */
} arr;

/* The parsed user-block header. */
typedef struct hdr {
  int version;
  int64_t ub, length, step, epoch, batch;
  uint32_t crc;
  int n;
  struct { char path[64]; int64_t off, nbytes; uint32_t crc; } a[MAX_ARRAYS];
} hdr;

static int why(char *cause, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int why(char *cause, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(cause, CAUSE_CAP, fmt, ap);
  va_end(ap);
  return NN_ECKPT;
}

static uint32_t crc_of(const void *p, size_t nbytes) {
  return (uint32_t)crc32_z(crc32_z(0L, Z_NULL, 0), p, nbytes);
}

/* ---- HDF5 error handling: automatic printing off, innermost message into the cause. */

/* The innermost message of the first HDF5 failure of the current operation (any later HDF5
 * call clears the library's stack, so failures note it at once). */
static _Thread_local char h5_desc[512];

static herr_t walk_cb(unsigned n, const H5E_error2_t *e, void *data) {
  if (n == 0 && e->desc) snprintf(data, sizeof h5_desc, "%s", e->desc);
  return 0;
}

static void h5_note(void) {
  if (!h5_desc[0]) H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, walk_cb, h5_desc);
}

typedef struct silence { H5E_auto2_t fn; void *data; } silence;
static silence h5_quiet(void) {
  silence s;
  H5Eget_auto2(H5E_DEFAULT, &s.fn, &s.data);
  H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
  h5_desc[0] = 0;
  return s;
}
static void h5_restore(silence s) { H5Eset_auto2(H5E_DEFAULT, s.fn, s.data); }

/* "<what>: <cause>" where cause is the errno text HDF5 reports, else its innermost message. */
static int h5_fail(char *cause, const char *what) {
  char *s, *e, desc[sizeof h5_desc];
  h5_note();
  memcpy(desc, h5_desc, sizeof desc);
  h5_desc[0] = 0;
  H5Eclear2(H5E_DEFAULT);
  if ((s = strstr(desc, "error message = '")) && (e = strchr(s + 17, '\''))) {
    *e = 0;
    memmove(desc, s + 17, strlen(s + 17) + 1);
  }
  return why(cause, "%s: %s", what, desc[0] ? desc : "HDF5 error");
}

static hid_t fapl_make(void) {
  hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
  /* v2 object headers carry checksums; no locks (NFS, Lustre), one writer by protocol. */
  H5Pset_libver_bounds(fapl, H5F_LIBVER_V18, H5F_LIBVER_V18);
  H5Pset_file_locking(fapl, 0, 1);
  H5Pset_fclose_degree(fapl, H5F_CLOSE_STRONG);
  return fapl;
}

/* ---- the array table, shared by writer and reader */

static int arrays_build(arr *a, int L, const int *sizes, int n_state, char names[][16]) {
  int k = 0;
  size_t n_params = 0;
  for (int l = 0; l < L; l++) n_params += (size_t)sizes[l] * sizes[l + 1] + (size_t)sizes[l + 1];
  for (int s = -1; s < n_state; s++) {
    size_t flat = (size_t)(s + 1) * n_params;
    for (int l = 0; l < L; l++) {
      for (int w = 0; w < 2; w++, k++) {
        const char *base = s < 0 ? "/model" : "/optimizer/";
        snprintf(a[k].path, sizeof a[k].path, "%s%s/layer_%03d/%s", base, s < 0 ? "" : names[s], l,
                 w == 0 ? "W" : "b");
        a[k].nd = w == 0 ? 2 : 1;
        a[k].dims[0] = w == 0 ? (hsize_t)sizes[l] : (hsize_t)sizes[l + 1];
        a[k].dims[1] = (hsize_t)sizes[l + 1];
        a[k].n = w == 0 ? (size_t)sizes[l] * sizes[l + 1] : (size_t)sizes[l + 1];
        a[k].flat = flat;
        flat += a[k].n;
      }
    }
  }
  return k;
}

/* ---- attributes */

static int attr_put(hid_t loc, const char *name, hid_t ftype, hid_t mtype, hsize_t n, const void *v) {
  hid_t sp = n ? H5Screate_simple(1, &n, NULL) : H5Screate(H5S_SCALAR);
  hid_t a = sp < 0 ? -1 : H5Acreate2(loc, name, ftype, sp, H5P_DEFAULT, H5P_DEFAULT);
  herr_t r = a < 0 ? -1 : H5Awrite(a, mtype, v);
  if (r < 0) h5_note();
  if (a >= 0 && H5Aclose(a) < 0) r = -1, h5_note();
  if (sp >= 0) H5Sclose(sp);
  return r < 0 ? -1 : 0;
}

static int attr_str(hid_t loc, const char *name, const char *s) {
  hid_t t = H5Tcopy(H5T_C_S1);
  if (t < 0 || H5Tset_size(t, strlen(s) + 1) < 0 || H5Tset_strpad(t, H5T_STR_NULLTERM) < 0) return -1;
  int r = attr_put(loc, name, t, t, 0, s);
  H5Tclose(t);
  return r;
}

#define PUT_I64(loc, name, v) attr_put(loc, name, H5T_STD_I64LE, H5T_NATIVE_INT64, 0, &(int64_t){(v)})
#define PUT_F64(loc, name, v) attr_put(loc, name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 0, &(double){(v)})

/* Reads n values (n = 0: a scalar) of a numeric attribute; checks count and number class. */
static int attr_get(hid_t loc, const char *obj, const char *name, hid_t mtype, hssize_t n, void *v,
                    char *cause) {
  if (H5Aexists(loc, name) <= 0) return why(cause, "missing attribute %s:%s", obj, name);
  hid_t a = H5Aopen(loc, name, H5P_DEFAULT), sp = -1, t = -1;
  int rc = NN_ECKPT;
  if (a < 0) return h5_fail(cause, "opening an attribute");
  sp = H5Aget_space(a);
  t = H5Aget_type(a);
  hssize_t got = H5Sget_simple_extent_npoints(sp);
  if (got != (n ? n : 1)) {
    why(cause, "attribute %s:%s has %lld values, expected %lld", obj, name, (long long)got,
        (long long)(n ? n : 1));
  } else if (H5Tget_class(t) != H5Tget_class(mtype)) {
    why(cause, "attribute %s:%s has the wrong type class", obj, name);
  } else if (H5Aread(a, mtype, v) < 0) {
    h5_fail(cause, "reading an attribute");
  } else {
    rc = NN_OK;
  }
  H5Tclose(t);
  H5Sclose(sp);
  H5Aclose(a);
  return rc;
}

/* Reads a fixed-length string attribute into a malloc'ed string (*out). */
static int attr_get_str(hid_t loc, const char *obj, const char *name, char **out, char *cause) {
  *out = NULL;
  if (H5Aexists(loc, name) <= 0) return why(cause, "missing attribute %s:%s", obj, name);
  hid_t a = H5Aopen(loc, name, H5P_DEFAULT);
  if (a < 0) return h5_fail(cause, "opening an attribute");
  hid_t t = H5Aget_type(a), m = -1;
  int rc = NN_ECKPT;
  size_t size = H5Tget_size(t);
  if (H5Tget_class(t) != H5T_STRING || H5Tis_variable_str(t) != 0) {
    why(cause, "attribute %s:%s is not a fixed-length string", obj, name);
  } else if (!(*out = calloc(size + 2, 1))) {
    rc = why(cause, "out of memory reading %s:%s", obj, name);
  } else {
    m = H5Tcopy(H5T_C_S1);
    H5Tset_size(m, size + 1);
    H5Tset_strpad(m, H5T_STR_NULLTERM);
    if (H5Aread(a, m, *out) < 0) h5_fail(cause, "reading a string attribute");
    else rc = NN_OK;
  }
  if (rc != NN_OK) free(*out), *out = NULL;
  if (m >= 0) H5Tclose(m);
  H5Tclose(t);
  H5Aclose(a);
  return rc;
}

static int attr_get_name(hid_t loc, const char *obj, const char *name, char *dst, size_t cap,
                         char *cause) {
  char *s;
  int rc = attr_get_str(loc, obj, name, &s, cause);
  if (rc) return rc;
  if (strlen(s) >= cap) rc = why(cause, "attribute %s:%s is too long (%zu chars)", obj, name, strlen(s));
  else memcpy(dst, s, strlen(s) + 1);
  free(s);
  return rc;
}

/* ---- small file-system helpers */

static int fsync_retry(int fd) {
  int r;
  while ((r = fsync(fd)) < 0 && errno == EINTR) {}
  return r;
}

static int fsync_dir(const char *dir) {
  int fd;
  while ((fd = open(dir, O_RDONLY | O_DIRECTORY)) < 0 && errno == EINTR) {}
  if (fd < 0) return -1;
  int r = fsync_retry(fd), e = errno;
  close(fd);
  errno = e;
  return r;
}

static int pread_all(int fd, void *buf, size_t n, off_t off) {
  for (char *p = buf; n;) {
    ssize_t r = pread(fd, p, n, off);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return -1;
    p += r, n -= (size_t)r, off += r;
  }
  return 0;
}

static int pwrite_all(int fd, const void *buf, size_t n, off_t off) {
  for (const char *p = buf; n;) {
    ssize_t r = pwrite(fd, p, n, off);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return -1;
    p += r, n -= (size_t)r, off += r;
  }
  return 0;
}

/* CRC32 of bytes [from, to) of fd. */
static int crc_range(int fd, int64_t from, int64_t to, uint32_t *crc) {
  enum { CHUNK = 1 << 20 };
  char *buf = malloc(CHUNK);
  if (!buf) return -1;
  uLong c = crc32_z(0L, Z_NULL, 0);
  for (int64_t off = from; off < to;) {
    size_t n = (size_t)(to - off < CHUNK ? to - off : CHUNK);
    if (pread_all(fd, buf, n, (off_t)off) < 0) return free(buf), -1;
    c = crc32_z(c, (const Bytef *)buf, n);
    off += (int64_t)n;
  }
  free(buf);
  *crc = (uint32_t)c;
  return 0;
}

bool nn_ckpt_is_checkpoint(const char *path) {
  char buf[sizeof FORMAT_NAME + 1] = "";
  FILE *f = fopen(path, "rb");
  size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
  if (f) fclose(f);
  return n == sizeof buf - 1 && memcmp(buf, FORMAT_NAME " ", n) == 0;
}

void nn_ckpt_name(int64_t step, char *buf, size_t cap) {
  snprintf(buf, cap, "ckpt-%08lld.h5", (long long)step);
}

/* ---- the user-block header: plain text, NUL padded, last line "hdrcrc <crc of the bytes
 * before it>". The first line "nnmpi-checkpoint <version> <user block size>" never changes. */

static int header_format(char *ub, size_t ub_size, int64_t length, uint32_t crc,
                         const nn_ckpt_progress *p, const arr *a, int n) {
  memset(ub, 0, ub_size);
  size_t k = (size_t)snprintf(ub, ub_size,
                              FORMAT_NAME " %d %zu\nlength %lld\ncrc32 %08x\nstep %lld\nepoch %lld\n"
                              "batch %lld\n",
                              NN_CKPT_FORMAT_VERSION, ub_size, (long long)length, (unsigned)crc,
                              (long long)p->step, (long long)p->epoch, (long long)p->batch);
  for (int i = 0; i < n && k < ub_size; i++)
    k += (size_t)snprintf(ub + k, ub_size - k, "array %s %lld %zu %08x\n", a[i].path,
                          (long long)a[i].off, a[i].n * sizeof(float), (unsigned)a[i].crc);
  if (k + 20 >= ub_size) return -1;
  snprintf(ub + k, ub_size - k, "hdrcrc %08x\n", (unsigned)crc_of(ub, k));
  return 0;
}

/* Checks the header of path and, when full, the file length and whole-file CRC32; on a CRC
 * mismatch names the damaged array from the header table. Never calls HDF5. */
static int precheck(const char *path, hdr *h, int full, char *cause) {
  struct stat st;
  char *ub = NULL, *line;
  int fd, rc = NN_ECKPT;
  while ((fd = open(path, O_RDONLY)) < 0 && errno == EINTR) {}
  if (fd < 0) return why(cause, "cannot open: %s", strerror(errno));
  if (fstat(fd, &st) < 0) {
    why(cause, "cannot stat: %s", strerror(errno));
    goto out;
  }
  if (S_ISDIR(st.st_mode)) {
    why(cause, "is a directory, expected a checkpoint file");
    goto out;
  }
  if (!S_ISREG(st.st_mode)) {
    why(cause, "is not a regular file");
    goto out;
  }
  if (st.st_size == 0) {
    why(cause, "empty file (0 bytes)");
    goto out;
  }
  char first[512] = {0};
  size_t n0 = st.st_size < 511 ? (size_t)st.st_size : 511;
  if (pread_all(fd, first, n0, 0) < 0) {
    why(cause, "cannot read: %s", strerror(errno));
    goto out;
  }
  long long ubl = 0;
  if (sscanf(first, FORMAT_NAME " %d %lld\n", &h->version, &ubl) != 2) {
    why(cause, "%s", memcmp(first, "\x89HDF", 4) == 0
                         ? "an HDF5 file without an nnmpi checkpoint header (not written by nnmpi)"
                         : "not an nnmpi checkpoint (no \"" FORMAT_NAME "\" header)");
    goto out;
  }
  if (h->version != NN_CKPT_FORMAT_VERSION) {
    why(cause, "checkpoint format version %d, this nnmpi %s reads version %d", h->version,
        NN_VERSION_STRING, NN_CKPT_FORMAT_VERSION);
    goto out;
  }
  if (ubl < 512 || ubl > (1 << 20) || (ubl & (ubl - 1))) {
    why(cause, "damaged header: user block size %lld", ubl);
    goto out;
  }
  h->ub = ubl;
  if (st.st_size < h->ub) {
    why(cause, "truncated: %lld bytes, shorter than its %lld-byte header", (long long)st.st_size, ubl);
    goto out;
  }
  if (!(ub = calloc((size_t)h->ub + 1, 1))) {
    why(cause, "out of memory");
    goto out;
  }
  if (pread_all(fd, ub, (size_t)h->ub, 0) < 0) {
    why(cause, "cannot read header: %s", strerror(errno));
    goto out;
  }
  char *hc = strstr(ub, "\nhdrcrc ");
  char want[24];
  if (hc) snprintf(want, sizeof want, "\nhdrcrc %08x\n", (unsigned)crc_of(ub, (size_t)(hc - ub + 1)));
  if (!hc || strncmp(hc, want, strlen(want)) != 0) {
    why(cause, "damaged header (header checksum mismatch)");
    goto out;
  }
  for (char *z = hc + strlen(want); z < ub + h->ub; z++) /* the padding is covered too */
    if (*z) {
      why(cause, "damaged header (non-zero byte at offset %td of the padding)", z - ub);
      goto out;
    }
  h->n = 0;
  for (line = strchr(ub, '\n') + 1; line < hc + 1; line = strchr(line, '\n') + 1) {
    long long v;
    unsigned c;
    if (sscanf(line, "length %lld", &v) == 1) h->length = v;
    else if (sscanf(line, "crc32 %x", &c) == 1) h->crc = c;
    else if (sscanf(line, "step %lld", &v) == 1) h->step = v;
    else if (sscanf(line, "epoch %lld", &v) == 1) h->epoch = v;
    else if (sscanf(line, "batch %lld", &v) == 1) h->batch = v;
    else if (strncmp(line, "array ", 6) == 0 && h->n < MAX_ARRAYS) {
      long long off, nb;
      if (sscanf(line, "array %63s %lld %lld %x", h->a[h->n].path, &off, &nb, &c) == 4)
        h->a[h->n].off = off, h->a[h->n].nbytes = nb, h->a[h->n].crc = c, h->n++;
    }
  }
  if (!full) {
    rc = NN_OK;
    goto out;
  }
  if (st.st_size != h->length) {
    why(cause, "%s: %lld bytes, the header records %lld", st.st_size < h->length ? "truncated" : "wrong length",
        (long long)st.st_size, (long long)h->length);
    goto out;
  }
  uint32_t crc;
  if (crc_range(fd, h->ub, h->length, &crc) < 0) {
    why(cause, "cannot read: %s", strerror(errno));
    goto out;
  }
  if (crc != h->crc) {
    for (int i = 0; i < h->n; i++) {
      uint32_t ca;
      if (h->a[i].off >= h->ub && h->a[i].off + h->a[i].nbytes <= h->length &&
          crc_range(fd, h->a[i].off, h->a[i].off + h->a[i].nbytes, &ca) == 0 && ca != h->a[i].crc) {
        why(cause, "checksum mismatch in %s (CRC32 %08x, recorded %08x)", h->a[i].path, (unsigned)ca,
            (unsigned)h->a[i].crc);
        goto out;
      }
    }
    why(cause, "checksum mismatch in the HDF5 structure outside the arrays (file CRC32 %08x, recorded %08x)",
        (unsigned)crc, (unsigned)h->crc);
    goto out;
  }
  rc = NN_OK;
out:
  free(ub);
  close(fd);
  return rc;
}

/* ---- writing */

static uint64_t fnv1a64(const char *s) {
  uint64_t h = 1469598103934665603ULL;
  for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ULL;
  return h;
}

/* All HDF5 content of the file; the caller closes fid. */
static int write_h5(hid_t fid, const nn_ckpt_data *d, arr *a, int n, char *cause) {
  const nn_net *net = d->net;
  const nn_optim *o = d->opt;
  const nn_ckpt_progress *p = &d->prog;
  char buf[256], created[32];
  time_t now = time(NULL);
  struct tm tm;
  gmtime_r(&now, &tm);
  strftime(created, sizeof created, "%Y-%m-%dT%H:%M:%SZ", &tm);
  snprintf(buf, sizeof buf, "fnv1a64:%016llx", (unsigned long long)fnv1a64(d->config_text));
  if (attr_str(fid, "format", FORMAT_NAME) || PUT_I64(fid, "format_version", NN_CKPT_FORMAT_VERSION) ||
      attr_str(fid, "nnmpi_version", NN_VERSION_STRING) || attr_str(fid, "created", created) ||
      attr_str(fid, "config", d->config_text) || attr_str(fid, "config_digest", buf))
    return h5_fail(cause, "writing the root attributes");

  const int L = net->n_layers;
  int32_t sizes[NN_MAX_LAYERS + 1];
  for (int l = 0; l <= L; l++) sizes[l] = net->sizes[l];
  hid_t g = H5Gcreate2(fid, "/model", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  int bad = g < 0 || attr_put(g, "sizes", H5T_STD_I32LE, H5T_NATIVE_INT32, (hsize_t)L + 1, sizes) ||
            attr_str(g, "hidden", L > 1 ? nn_act_name(net->layers[0].act) : "none") ||
            attr_str(g, "output", nn_act_name(net->layers[L - 1].act)) ||
            attr_str(g, "loss", nn_loss_name(net->loss)) ||
            attr_put(g, "leaky_slope", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 0, &net->leaky_slope);
  if (g >= 0) H5Gclose(g);
  if (bad) return h5_fail(cause, "writing /model");

  buf[0] = 0;
  for (int s = 0; s < o->n_state; s++)
    snprintf(buf + strlen(buf), sizeof buf - strlen(buf), "%s%s", s ? "," : "", nn_optim_state_name(o->kind, s));
  g = H5Gcreate2(fid, "/optimizer", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  bad = g < 0 || attr_str(g, "name", nn_opt_name(o->kind)) || PUT_I64(g, "t", o->t) ||
        PUT_I64(g, "n_state", o->n_state) || attr_str(g, "state_names", buf);
  if (g >= 0) H5Gclose(g);
  if (bad) return h5_fail(cause, "writing /optimizer");

  g = H5Gcreate2(fid, "/progress", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  bad = g < 0 || PUT_I64(g, "epoch", p->epoch) || PUT_I64(g, "batch", p->batch) || PUT_I64(g, "step", p->step) ||
        PUT_I64(g, "samples", p->samples) || PUT_F64(g, "elapsed", p->elapsed) ||
        PUT_I64(g, "world_size", p->world_size) ||
        attr_put(g, "seed", H5T_STD_U64LE, H5T_NATIVE_UINT64, 0, &p->seed) ||
        PUT_I64(g, "complete", p->complete) || PUT_I64(g, "eval_epoch", p->eval_epoch) ||
        PUT_F64(g, "eval_loss", p->eval_loss) || PUT_F64(g, "eval_metric", p->eval_metric) ||
        PUT_F64(g, "eval_metric2", p->eval_metric2);
  if (g >= 0) H5Gclose(g);
  if (bad) return h5_fail(cause, "writing /progress");

  hid_t lcpl = H5Pcreate(H5P_LINK_CREATE), integ = -1;
  H5Pset_create_intermediate_group(lcpl, 1);
  for (int i = 0; i < n; i++) {
    hid_t sp = H5Screate_simple(a[i].nd, a[i].dims, NULL);
    hid_t ds = sp < 0 ? -1 : H5Dcreate2(fid, a[i].path, H5T_IEEE_F32LE, sp, lcpl, H5P_DEFAULT, H5P_DEFAULT);
    bad = ds < 0 || H5Dwrite(ds, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, a[i].src) < 0;
    if (bad) h5_note();
    else a[i].off = (int64_t)H5Dget_offset(ds);
    if (ds >= 0 && H5Dclose(ds) < 0) bad = 1, h5_note();
    if (sp >= 0) H5Sclose(sp);
    if (bad) {
      H5Pclose(lcpl);
      snprintf(buf, sizeof buf, "writing %.63s", a[i].path);
      return h5_fail(cause, buf);
    }
  }
  H5Pclose(lcpl);
  integ = H5Gcreate2(fid, "/integrity", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  bad = integ < 0 || attr_str(integ, "algorithm", "crc32 (zlib) of the little-endian float32 bytes");
  for (int i = 0; i < n && !bad; i++)
    bad = attr_put(integ, a[i].path, H5T_STD_U32LE, H5T_NATIVE_UINT32, 0, &a[i].crc);
  if (integ >= 0) H5Gclose(integ);
  if (bad) return h5_fail(cause, "writing /integrity");
  return NN_OK;
}

/* Header into the user block, then fsync. */
static int finish_file(const char *tmp, size_t ub_size, const nn_ckpt_progress *p, arr *a, int n,
                       char *cause) {
  int fd, rc = NN_ECKPT;
  struct stat st;
  uint32_t crc;
  char *ub = malloc(ub_size);
  while ((fd = open(tmp, O_RDWR)) < 0 && errno == EINTR) {}
  if (!ub || fd < 0) {
    why(cause, "cannot reopen to finish: %s", ub ? strerror(errno) : "out of memory");
  } else if (fstat(fd, &st) < 0 || crc_range(fd, (int64_t)ub_size, st.st_size, &crc) < 0) {
    why(cause, "cannot read back: %s", strerror(errno));
  } else if (header_format(ub, ub_size, st.st_size, crc, p, a, n) < 0) {
    why(cause, "internal: header does not fit in %zu bytes", ub_size);
  } else if (pwrite_all(fd, ub, ub_size, 0) < 0) {
    why(cause, "writing the header: %s", strerror(errno));
  } else if (fsync_retry(fd) < 0) {
    why(cause, "fsync: %s", strerror(errno));
  } else {
    rc = NN_OK;
  }
  if (fd >= 0 && close(fd) < 0 && rc == NN_OK) rc = why(cause, "close: %s", strerror(errno));
  free(ub);
  return rc;
}

int nn_ckpt_write(const char *dir, const nn_ckpt_data *d, char *path_out, size_t cap) {
  arr a[MAX_ARRAYS];
  char name[64], final[PATH_CAP], tmp[PATH_CAP + 4], cause[CAUSE_CAP], names[2][16];
  const nn_net *net = d ? d->net : NULL;
  const nn_optim *o = d ? d->opt : NULL;
  if (path_out && cap) path_out[0] = 0;
  if (!net || !o || !d->config_text || !net->params || o->n != net->n_params || o->n_state < 0 ||
      o->n_state > 2 || (o->n_state && !o->state) || d->prog.step < 0)
    return NN_FAIL(NN_EINVAL, "nn_ckpt_write: inconsistent arguments (net %zu params, optimiser %zu)",
                   net ? net->n_params : 0, o ? o->n : 0);
  nn_ckpt_name(d->prog.step, name, sizeof name);
  if ((size_t)snprintf(final, sizeof final, "%s/%s", dir, name) >= sizeof final)
    return NN_FAIL(NN_ECKPT, "checkpoint directory name too long: %s", dir);
  snprintf(tmp, sizeof tmp, "%s.tmp", final);

  for (int s = 0; s < o->n_state; s++) snprintf(names[s], sizeof names[s], "%s", nn_optim_state_name(o->kind, s));
  const int n = arrays_build(a, net->n_layers, net->sizes, o->n_state, names);
  for (int i = 0; i < n; i++) {
    const int l = (i / 2) % net->n_layers, s = i / (2 * net->n_layers) - 1, w = i % 2;
    const float *base = w == 0 ? net->layers[l].W : net->layers[l].b;
    a[i].src = s < 0 ? base : o->state + (size_t)s * o->n + (size_t)(base - net->params);
    a[i].crc = crc_of(a[i].src, a[i].n * sizeof(float));
  }
  size_t ub_size = 512;
  while (ub_size < 256 + (size_t)n * 96) ub_size *= 2;

  silence q = h5_quiet();
  int rc = NN_OK;
  if (unlink(tmp) < 0 && errno != ENOENT) rc = why(cause, "cannot remove an old %s: %s", tmp, strerror(errno));
  hid_t fcpl = H5Pcreate(H5P_FILE_CREATE), fapl = fapl_make(), fid = -1;
  H5Pset_userblock(fcpl, ub_size);
  if (rc == NN_OK) {
    fid = H5Fcreate(tmp, H5F_ACC_TRUNC, fcpl, fapl);
    if (fid < 0) rc = h5_fail(cause, "cannot create the file");
  }
  if (rc == NN_OK) rc = write_h5(fid, d, a, n, cause);
  if (rc == NN_OK && H5Fflush(fid, H5F_SCOPE_GLOBAL) < 0) rc = h5_fail(cause, "flushing");
  if (fid >= 0 && H5Fclose(fid) < 0 && rc == NN_OK) rc = h5_fail(cause, "closing");
  H5Eclear2(H5E_DEFAULT);
  H5Pclose(fcpl);
  H5Pclose(fapl);
  h5_restore(q);
  if (rc == NN_OK) rc = finish_file(tmp, ub_size, &d->prog, a, n, cause);
  if (rc == NN_OK) {
    int r;
    while ((r = rename(tmp, final)) < 0 && errno == EINTR) {}
    if (r < 0) rc = why(cause, "rename to %s: %s", name, strerror(errno));
  }
  if (rc != NN_OK) {
    unlink(tmp);
    return NN_FAIL(NN_ECKPT,
                   "cannot write checkpoint %s: %s (partial file %s removed; older checkpoints untouched)",
                   final, cause, tmp);
  }
  if (fsync_dir(dir) < 0)
    return NN_FAIL(NN_ECKPT, "checkpoint %s written but fsync of directory %s failed: %s", final, dir,
                   strerror(errno));
  if (path_out && cap) snprintf(path_out, cap, "%s", final);
  return NN_OK;
}

/* ---- reading */

/* Verifies path completely and fills info; with data != NULL also returns the arrays in the
 * flat layout [params | state 0 | state 1] (malloc'ed). */
static int load(const char *path, nn_ckpt_info *info, float **data, char *cause) {
  hdr h;
  arr a[MAX_ARRAYS];
  char *s = NULL, obj[96];
  float *buf = NULL;
  int rc;
  memset(info, 0, sizeof *info);
  if (data) *data = NULL;
  if ((rc = precheck(path, &h, 1, cause))) return rc;
  info->file_bytes = h.length;

  silence q = h5_quiet();
  hid_t fapl = fapl_make(), fid = H5Fopen(path, H5F_ACC_RDONLY, fapl), g = -1;
  H5Pclose(fapl);
  if (fid < 0) {
    rc = h5_fail(cause, "HDF5 cannot open it");
    goto out;
  }
  int64_t v64;
  if ((rc = attr_get_str(fid, "/", "format", &s, cause))) goto out;
  if (strcmp(s, FORMAT_NAME) != 0) {
    rc = why(cause, "format attribute \"%s\", expected \"" FORMAT_NAME "\"", s);
    goto out;
  }
  if ((rc = attr_get(fid, "/", "format_version", H5T_NATIVE_INT64, 0, &v64, cause))) goto out;
  info->format_version = (int)v64;
  if (v64 != NN_CKPT_FORMAT_VERSION) {
    rc = why(cause, "format_version %lld, this nnmpi reads %d", (long long)v64, NN_CKPT_FORMAT_VERSION);
    goto out;
  }
  if ((rc = attr_get_name(fid, "/", "nnmpi_version", info->nnmpi_version, sizeof info->nnmpi_version, cause)) ||
      (rc = attr_get_name(fid, "/", "created", info->created, sizeof info->created, cause)) ||
      (rc = attr_get_name(fid, "/", "config_digest", info->config_digest, sizeof info->config_digest, cause)) ||
      (rc = attr_get_str(fid, "/", "config", &info->config_text, cause)))
    goto out;
  char digest[32];
  snprintf(digest, sizeof digest, "fnv1a64:%016llx", (unsigned long long)fnv1a64(info->config_text));
  if (strcmp(digest, info->config_digest) != 0) {
    rc = why(cause, "config text does not match config_digest (%s vs %s)", digest, info->config_digest);
    goto out;
  }

  if ((g = H5Gopen2(fid, "/model", H5P_DEFAULT)) < 0) {
    rc = why(cause, "missing group /model");
    goto out;
  }
  hid_t at = H5Aexists(g, "sizes") > 0 ? H5Aopen(g, "sizes", H5P_DEFAULT) : -1, sp = at < 0 ? -1 : H5Aget_space(at);
  hssize_t ns = sp < 0 ? 0 : H5Sget_simple_extent_npoints(sp);
  if (sp >= 0) H5Sclose(sp);
  if (at >= 0) H5Aclose(at);
  if (ns < 2 || ns > NN_MAX_LAYERS + 1) {
    rc = why(cause, "/model:sizes has %lld entries, expected 2..%d", (long long)ns, NN_MAX_LAYERS + 1);
    goto out;
  }
  info->n_layers = (int)ns - 1;
  if ((rc = attr_get(g, "/model", "sizes", H5T_NATIVE_INT, ns, info->sizes, cause)) ||
      (rc = attr_get_name(g, "/model", "hidden", info->hidden, sizeof info->hidden, cause)) ||
      (rc = attr_get_name(g, "/model", "output", info->output, sizeof info->output, cause)) ||
      (rc = attr_get_name(g, "/model", "loss", info->loss, sizeof info->loss, cause)) ||
      (rc = attr_get(g, "/model", "leaky_slope", H5T_NATIVE_FLOAT, 0, &info->leaky_slope, cause)))
    goto out;
  for (int l = 0; l <= info->n_layers; l++)
    if (info->sizes[l] < 1 || info->sizes[l] > (1 << 24)) {
      rc = why(cause, "/model:sizes[%d] = %d, expected 1..%d", l, info->sizes[l], 1 << 24);
      goto out;
    }
  H5Gclose(g);

  char names[64];
  if ((g = H5Gopen2(fid, "/optimizer", H5P_DEFAULT)) < 0) {
    rc = why(cause, "missing group /optimizer");
    goto out;
  }
  if ((rc = attr_get_name(g, "/optimizer", "name", info->optimizer, sizeof info->optimizer, cause)) ||
      (rc = attr_get(g, "/optimizer", "t", H5T_NATIVE_INT64, 0, &info->opt_t, cause)) ||
      (rc = attr_get(g, "/optimizer", "n_state", H5T_NATIVE_INT64, 0, &v64, cause)) ||
      (rc = attr_get_name(g, "/optimizer", "state_names", names, sizeof names, cause)))
    goto out;
  info->n_state = (int)v64;
  int k = 0;
  for (char *tok = strtok(names, ","); tok && k < 2; tok = strtok(NULL, ","), k++)
    snprintf(info->state_names[k], sizeof info->state_names[k], "%s", tok);
  if (v64 < 0 || v64 > 2 || k != v64) {
    rc = why(cause, "/optimizer: n_state %lld with %d state names, expected 0..2 and equal", (long long)v64, k);
    goto out;
  }
  H5Gclose(g);

  if ((g = H5Gopen2(fid, "/progress", H5P_DEFAULT)) < 0) {
    rc = why(cause, "missing group /progress");
    goto out;
  }
  nn_ckpt_progress *p = &info->prog;
  int64_t ws, cp, ee;
  if ((rc = attr_get(g, "/progress", "epoch", H5T_NATIVE_INT64, 0, &p->epoch, cause)) ||
      (rc = attr_get(g, "/progress", "batch", H5T_NATIVE_INT64, 0, &p->batch, cause)) ||
      (rc = attr_get(g, "/progress", "step", H5T_NATIVE_INT64, 0, &p->step, cause)) ||
      (rc = attr_get(g, "/progress", "samples", H5T_NATIVE_INT64, 0, &p->samples, cause)) ||
      (rc = attr_get(g, "/progress", "elapsed", H5T_NATIVE_DOUBLE, 0, &p->elapsed, cause)) ||
      (rc = attr_get(g, "/progress", "world_size", H5T_NATIVE_INT64, 0, &ws, cause)) ||
      (rc = attr_get(g, "/progress", "seed", H5T_NATIVE_UINT64, 0, &p->seed, cause)) ||
      (rc = attr_get(g, "/progress", "complete", H5T_NATIVE_INT64, 0, &cp, cause)) ||
      (rc = attr_get(g, "/progress", "eval_epoch", H5T_NATIVE_INT64, 0, &ee, cause)) ||
      (rc = attr_get(g, "/progress", "eval_loss", H5T_NATIVE_DOUBLE, 0, &p->eval_loss, cause)) ||
      (rc = attr_get(g, "/progress", "eval_metric", H5T_NATIVE_DOUBLE, 0, &p->eval_metric, cause)) ||
      (rc = attr_get(g, "/progress", "eval_metric2", H5T_NATIVE_DOUBLE, 0, &p->eval_metric2, cause)))
    goto out;
  p->world_size = (int)ws, p->complete = (int)cp, p->eval_epoch = (int)ee;
  H5Gclose(g);
  g = -1;

  const int n = arrays_build(a, info->n_layers, info->sizes, info->n_state, info->state_names);
  const size_t total = a[n - 1].flat + a[n - 1].n;
  if (!(buf = malloc(total * sizeof(float)))) {
    rc = why(cause, "out of memory (%zu floats)", total);
    goto out;
  }
  if ((g = H5Gopen2(fid, "/integrity", H5P_DEFAULT)) < 0) {
    rc = why(cause, "missing group /integrity");
    goto out;
  }
  for (int i = 0; i < n; i++) {
    uint32_t want;
    if ((rc = attr_get(g, "/integrity", a[i].path, H5T_NATIVE_UINT32, 0, &want, cause))) goto out;
    hid_t ds = H5Dopen2(fid, a[i].path, H5P_DEFAULT), t = -1, dsp = -1;
    hsize_t dims[2] = {0, 0};
    rc = NN_ECKPT;
    if (ds < 0) {
      why(cause, "missing dataset %s", a[i].path);
    } else if ((t = H5Dget_type(ds)) < 0 || H5Tget_class(t) != H5T_FLOAT || H5Tget_size(t) != 4) {
      why(cause, "dataset %s: expected float32 values", a[i].path);
    } else if ((dsp = H5Dget_space(ds)) < 0 || H5Sget_simple_extent_ndims(dsp) != a[i].nd ||
               H5Sget_simple_extent_dims(dsp, dims, NULL) < 0 || dims[0] != a[i].dims[0] ||
               (a[i].nd == 2 && dims[1] != a[i].dims[1])) {
      why(cause, "dataset %s: shape (%llu%s%llu), expected (%llu%s%llu) from /model:sizes", a[i].path,
          (unsigned long long)dims[0], a[i].nd == 2 ? ", " : ")", (unsigned long long)dims[1],
          (unsigned long long)a[i].dims[0], a[i].nd == 2 ? ", " : ")", (unsigned long long)a[i].dims[1]);
    } else if (H5Dread(ds, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf + a[i].flat) < 0) {
      snprintf(obj, sizeof obj, "reading %.63s", a[i].path);
      h5_fail(cause, obj);
    } else {
      uint32_t got = crc_of(buf + a[i].flat, a[i].n * sizeof(float));
      if (got != want) why(cause, "checksum mismatch in %s (CRC32 %08x, /integrity records %08x)", a[i].path,
                           (unsigned)got, (unsigned)want);
      else rc = NN_OK;
    }
    if (dsp >= 0) H5Sclose(dsp);
    if (t >= 0) H5Tclose(t);
    if (ds >= 0) H5Dclose(ds);
    if (rc) goto out;
    info->n_arrays++;
  }
  rc = NN_OK;
out:
  free(s);
  if (g >= 0) H5Gclose(g);
  if (fid >= 0 && H5Fclose(fid) < 0 && rc == NN_OK) rc = h5_fail(cause, "closing");
  H5Eclear2(H5E_DEFAULT);
  h5_restore(q);
  if (rc == NN_OK && data) *data = buf;
  else free(buf);
  return rc;
}

int nn_ckpt_inspect(const char *path, nn_ckpt_info *info) {
  char cause[CAUSE_CAP];
  int rc = load(path, info, NULL, cause);
  return rc ? NN_FAIL(rc, "%s: %s", path, cause) : NN_OK;
}

void nn_ckpt_info_free(nn_ckpt_info *info) {
  if (!info) return;
  free(info->config_text);
  info->config_text = NULL;
}

int nn_ckpt_verify(const char *path) {
  nn_ckpt_info info;
  int rc = nn_ckpt_inspect(path, &info);
  nn_ckpt_info_free(&info);
  return rc;
}

int nn_ckpt_read_config(const char *path, char **text) {
  nn_ckpt_info info;
  int rc = nn_ckpt_inspect(path, &info);
  *text = rc ? NULL : info.config_text;
  if (rc) nn_ckpt_info_free(&info);
  return rc;
}

static void join_sizes(char *dst, size_t cap, const int *s, int n) {
  dst[0] = 0;
  for (int i = 0; i < n; i++) snprintf(dst + strlen(dst), cap - strlen(dst), "%s%d", i ? "," : "", s[i]);
}

/* Appends "what: checkpoint A vs config B" for each difference. */
static void arch_diff(const nn_ckpt_info *c, const nn_net *net, const nn_optim *o, char *diff, size_t cap) {
  char a[256], b[256];
  const int L = net->n_layers;
  diff[0] = 0;
#define DIFF(what, x, y)                                                                           \
  if (strcmp(x, y) != 0)                                                                           \
  snprintf(diff + strlen(diff), cap - strlen(diff), "%s%s: checkpoint %s vs config %s", diff[0] ? "; " : "", \
           what, x, y)
  join_sizes(a, sizeof a, c->sizes, c->n_layers + 1);
  join_sizes(b, sizeof b, net->sizes, L + 1);
  DIFF("model layers", a, b);
  if (strcmp(a, b) == 0) {
    DIFF("model hidden activation", c->hidden, L > 1 ? nn_act_name(net->layers[0].act) : "none");
    DIFF("model output activation", c->output, nn_act_name(net->layers[L - 1].act));
  }
  DIFF("model loss", c->loss, nn_loss_name(net->loss));
  int leaky = 0;
  for (int l = 0; l < L; l++) leaky |= net->layers[l].act == NN_ACT_LEAKY_RELU;
  snprintf(a, sizeof a, "%.9g", c->leaky_slope);
  snprintf(b, sizeof b, "%.9g", net->leaky_slope);
  if (leaky) DIFF("model leaky_slope", a, b);
  DIFF("optimizer", c->optimizer, nn_opt_name(o->kind));
#undef DIFF
}

int nn_ckpt_read(const char *path, nn_ckpt_data *d) {
  char cause[CAUSE_CAP], diff[1024];
  nn_ckpt_info info;
  float *buf;
  nn_net *net = d->net;
  nn_optim *o = d->opt;
  int rc = load(path, &info, &buf, cause);
  if (rc) {
    nn_ckpt_info_free(&info);
    return NN_FAIL(rc, "%s: %s", path, cause);
  }
  arch_diff(&info, net, o, diff, sizeof diff);
  if (!diff[0] && (info.n_state != o->n_state || o->n != net->n_params))
    snprintf(diff, sizeof diff, "optimizer state arrays: checkpoint %d vs optimiser %d", info.n_state, o->n_state);
  nn_ckpt_info_free(&info);
  if (diff[0]) {
    free(buf);
    return NN_FAIL(NN_ECKPT, "%s does not match the config: %s", path, diff);
  }
  /* buf is [params | state...] in the canonical W1 b1 W2 b2 order; copy through the views. */
  const size_t n = net->n_params;
  size_t flat = 0;
  for (int l = 0; l < net->n_layers; l++) {
    const nn_layer *ly = &net->layers[l];
    const size_t nw = (size_t)ly->fan_in * ly->fan_out, nb = (size_t)ly->fan_out;
    const size_t ow = (size_t)(ly->W - net->params), ob = (size_t)(ly->b - net->params);
    memcpy(ly->W, buf + flat, nw * sizeof(float));
    memcpy(ly->b, buf + flat + nw, nb * sizeof(float));
    for (int s = 0; s < o->n_state; s++) {
      memcpy(o->state + (size_t)s * n + ow, buf + (size_t)(s + 1) * n + flat, nw * sizeof(float));
      memcpy(o->state + (size_t)s * n + ob, buf + (size_t)(s + 1) * n + flat + nw, nb * sizeof(float));
    }
    flat += nw + nb;
  }
  o->t = info.opt_t;
  d->prog = info.prog;
  free(buf);
  return NN_OK;
}

/* ---- directories */

typedef struct ent { int64_t step; char name[64]; } ent;

/* "ckpt-" + 8..18 digits + suffix, exactly. */
static int parse_name(const char *name, const char *suffix, int64_t *step) {
  if (strncmp(name, "ckpt-", 5) != 0) return 0;
  const char *p = name + 5;
  size_t digits = strspn(p, "0123456789");
  if (digits < 8 || digits > 18 || strcmp(p + digits, suffix) != 0) return 0;
  *step = strtoll(p, NULL, 10);
  return 1;
}

static int cmp_desc(const void *x, const void *y) {
  const ent *a = x, *b = y;
  return a->step < b->step ? 1 : a->step > b->step ? -1 : strcmp(b->name, a->name);
}

/* Lists the entries of dir matching suffix, newest step first. *n = -1 when dir is missing. */
static int list_dir(const char *dir, const char *suffix, ent **out, int *n) {
  *out = NULL;
  *n = 0;
  DIR *dp = opendir(dir);
  if (!dp) {
    if (errno == ENOENT) return *n = -1, NN_OK;
    return NN_FAIL(NN_ECKPT, "checkpoint directory %s: %s", dir, strerror(errno));
  }
  int cap = 0;
  struct dirent *e;
  int64_t step;
  while ((e = readdir(dp))) {
    if (!parse_name(e->d_name, suffix, &step) || strlen(e->d_name) >= sizeof(*out)->name) continue;
    if (*n == cap) {
      ent *t = realloc(*out, (size_t)(cap = cap ? 2 * cap : 16) * sizeof *t);
      if (!t) {
        closedir(dp);
        free(*out), *out = NULL;
        return NN_FAIL(NN_ENOMEM, "listing %s: out of memory", dir);
      }
      *out = t;
    }
    (*out)[*n].step = step;
    memcpy((*out)[(*n)++].name, e->d_name, strlen(e->d_name) + 1);
  }
  closedir(dp);
  if (*n > 1) qsort(*out, (size_t)*n, sizeof **out, cmp_desc);
  return NN_OK;
}

int nn_ckpt_find_latest(const char *dir, char *path_out, size_t cap, char *skipped, size_t skipped_cap) {
  ent *e;
  int n, rc;
  char path[PATH_CAP], cause[CAUSE_CAP];
  if (path_out && cap) path_out[0] = 0;
  if (skipped && skipped_cap) skipped[0] = 0;
  if ((rc = list_dir(dir, ".h5", &e, &n))) return rc;
  for (int i = 0; i < n; i++) {
    nn_ckpt_info info;
    snprintf(path, sizeof path, "%s/%s", dir, e[i].name);
    rc = load(path, &info, NULL, cause);
    nn_ckpt_info_free(&info);
    if (rc == NN_OK) {
      if (path_out && cap) snprintf(path_out, cap, "%s", path);
      free(e);
      return NN_OK;
    }
    if (skipped && skipped_cap)
      snprintf(skipped + strlen(skipped), skipped_cap - strlen(skipped), "%s: %s\n", e[i].name, cause);
  }
  free(e);
  if (n <= 0) return NN_OK;
  return NN_FAIL(NN_ECKPT, "%s: none of the %d checkpoint files verifies (move them away or use --resume never):\n%s",
                 dir, n, skipped ? skipped : "");
}

int nn_ckpt_rotate(const char *dir, int keep, int keep_every_epochs) {
  ent *e;
  int n, rc = NN_OK;
  char path[PATH_CAP], cause[CAUSE_CAP];
  hdr h;
  if ((rc = list_dir(dir, ".h5", &e, &n))) return rc;
  for (int i = keep < 1 ? 1 : keep; i < n; i++) {
    snprintf(path, sizeof path, "%s/%s", dir, e[i].name);
    if (keep_every_epochs > 0 && precheck(path, &h, 0, cause) == NN_OK && h.batch == 0 && h.epoch > 0 &&
        h.epoch % keep_every_epochs == 0)
      continue;
    if (unlink(path) < 0 && errno != ENOENT && errno != EISDIR && rc == NN_OK) /* dirs: left alone */
      rc = NN_FAIL(NN_ECKPT, "cannot remove old checkpoint %s: %s", path, strerror(errno));
  }
  free(e);
  return rc;
}

int nn_ckpt_clean_tmp(const char *dir, int *removed) {
  ent *e;
  int n, rc, count = 0;
  char path[PATH_CAP];
  if (removed) *removed = 0;
  if ((rc = list_dir(dir, ".h5.tmp", &e, &n))) return rc;
  for (int i = 0; i < n; i++) {
    snprintf(path, sizeof path, "%s/%s", dir, e[i].name);
    if (unlink(path) == 0) count++;
    else if (errno != ENOENT && rc == NN_OK)
      rc = NN_FAIL(NN_ECKPT, "cannot remove stale %s: %s", path, strerror(errno));
  }
  free(e);
  if (removed) *removed = count;
  return rc;
}
