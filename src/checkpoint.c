/* checkpoint: writing and reading checkpoint files (include/nnmpi/checkpoint.h). A checkpoint
 * is an HDF5 file with a plain-text header in its user block (checkpoint_header.c) and a
 * CRC32 per array; it is committed atomically (tmp, fsync, rename, fsync dir).
 * Layer 4: HDF5 (through h5.h), zlib, net, optim. Never calls MPI_* and never prints.
 *
 * Read top-down: the arrays and the /progress attributes (one table each, shared by writer and
 * reader), then writing (one function per group), then reading (one function per group). */
#include "nnmpi/checkpoint.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "checkpoint_header.h"
#include "fs.h"
#include "h5.h"
#include "nnmpi/hash.h"
#include "nnmpi/status.h"
#include "nnmpi/version.h"

#define FORMAT_NAME NN_CKPT_FORMAT_NAME
enum { MAX_ARRAYS = NN_CKPT_MAX_ARRAYS, PATH_CAP = 1024 + 64 };

/* ---- the arrays: /model/layer_LLL/{W,b}, then /optimizer/<state>/layer_LLL/{W,b} per state
 * array, laid out in one flat buffer [params | state 0 | state 1] in that order. */

typedef struct arr {
  char path[64];
  int nd;
  hsize_t dims[2];
  size_t n, flat;   /* element count; offset in the flat layout */
  const float *src; /* writer: the data */
  uint32_t crc;
  int64_t off; /* byte offset of the raw data in the file (header table) */
} arr;

static int arrays_build(arr *a, int L, const int *sizes, int n_state, char names[][16]) {
  int k = 0;
  size_t n_params = 0;
  for (int l = 0; l < L; l++) n_params += (size_t)sizes[l] * sizes[l + 1] + (size_t)sizes[l + 1];
  for (int s = -1; s < n_state; s++) {
    size_t flat = (size_t)(s + 1) * n_params;
    for (int l = 0; l < L; l++) {
      for (int w = 0; w < 2; w++, k++) {
        const char *base = s < 0 ? "/model" : "/optimizer/";
        snprintf(a[k].path, sizeof a[k].path, "%s%s/layer_%03d/%s", base, s < 0 ? "" : names[s], l, w == 0 ? "W" : "b");
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

/* ---- /progress: every field of nn_ckpt_progress, stored as int64, uint64 or float64. */

typedef enum { P_I64, P_INT, P_U64, P_F64 } pkind; /* field type: int64_t, int (stored as int64), uint64_t, double */
static const struct {
  const char *name;
  pkind kind;
  size_t off;
} progress_attrs[] = {
#define P(field, kind)                                                                                                 \
  { #field, kind, offsetof(nn_ckpt_progress, field) }
    P(epoch, P_I64),      P(batch, P_I64),      P(step, P_I64),        P(samples, P_I64),
    P(elapsed, P_F64),    P(world_size, P_INT), P(seed, P_U64),        P(complete, P_INT),
    P(eval_epoch, P_INT), P(eval_loss, P_F64),  P(eval_metric, P_F64), P(eval_metric2, P_F64),
#undef P
};
enum { N_PROGRESS = sizeof progress_attrs / sizeof progress_attrs[0] };

static int progress_write(hid_t g, const nn_ckpt_progress *p) {
  for (int i = 0; i < N_PROGRESS; i++) {
    const char *f = (const char *)p + progress_attrs[i].off;
    int r;
    switch (progress_attrs[i].kind) {
    case P_U64: r = nn_h5_attr_write(g, progress_attrs[i].name, H5T_STD_U64LE, H5T_NATIVE_UINT64, 0, f); break;
    case P_F64: r = nn_h5_attr_write(g, progress_attrs[i].name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 0, f); break;
    default: {
      int64_t v = progress_attrs[i].kind == P_INT ? *(const int *)f : *(const int64_t *)f;
      r = nn_h5_attr_write(g, progress_attrs[i].name, H5T_STD_I64LE, H5T_NATIVE_INT64, 0, &v);
    }
    }
    if (r < 0) return -1;
  }
  return 0;
}

static int progress_read(hid_t g, nn_ckpt_progress *p) {
  for (int i = 0; i < N_PROGRESS; i++) {
    char *f = (char *)p + progress_attrs[i].off;
    const char *name = progress_attrs[i].name;
    int64_t v;
    int rc;
    switch (progress_attrs[i].kind) {
    case P_U64: rc = nn_h5_attr_read(g, "/progress", name, H5T_NATIVE_UINT64, 1, f, NN_ECKPT); break;
    case P_F64: rc = nn_h5_attr_read(g, "/progress", name, H5T_NATIVE_DOUBLE, 1, f, NN_ECKPT); break;
    case P_I64: rc = nn_h5_attr_read(g, "/progress", name, H5T_NATIVE_INT64, 1, f, NN_ECKPT); break;
    default: rc = nn_h5_attr_read(g, "/progress", name, H5T_NATIVE_INT64, 1, &v, NN_ECKPT); *(int *)f = (int)v;
    }
    if (rc) return rc;
  }
  return NN_OK;
}

/* "fnv1a64:<16 hex digits>" of text with offset basis `basis` into buf (32 bytes). */
static void config_digest(const char *text, uint64_t basis, char *buf, size_t cap) {
  snprintf(buf, cap, "fnv1a64:%016llx", (unsigned long long)nn_fnv1a64(text, strlen(text), basis));
}

/* ---- writing */

static int put_str(hid_t obj, const char *name, const char *s) {
  return nn_h5_attr_write_str(obj, name, s, H5T_CSET_ASCII);
}
static int put_i64(hid_t obj, const char *name, int64_t v) {
  return nn_h5_attr_write(obj, name, H5T_STD_I64LE, H5T_NATIVE_INT64, 0, &v);
}

static int write_root(hid_t fid, const char *config_text) {
  char digest[32], created[32];
  time_t now = time(NULL);
  struct tm tm;
  gmtime_r(&now, &tm);
  strftime(created, sizeof created, "%Y-%m-%dT%H:%M:%SZ", &tm);
  config_digest(config_text, NN_FNV1A64_BASIS, digest, sizeof digest);
  if (put_str(fid, "format", FORMAT_NAME) || put_i64(fid, "format_version", NN_CKPT_FORMAT_VERSION) ||
      put_str(fid, "nnmpi_version", NN_VERSION_STRING) || put_str(fid, "created", created) ||
      put_str(fid, "config", config_text) || put_str(fid, "config_digest", digest))
    return nn_h5_fail(NN_ECKPT, "writing the root attributes");
  return NN_OK;
}

static int write_model(hid_t fid, const nn_net *net) {
  const int L = net->n_layers;
  int32_t sizes[NN_MAX_LAYERS + 1];
  for (int l = 0; l <= L; l++) sizes[l] = net->sizes[l];
  hid_t g = H5Gcreate2(fid, "/model", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  int bad = g < 0 || nn_h5_attr_write(g, "sizes", H5T_STD_I32LE, H5T_NATIVE_INT32, (hsize_t)L + 1, sizes) ||
            put_str(g, "hidden", L > 1 ? nn_act_name(net->layers[0].act) : "none") ||
            put_str(g, "output", nn_act_name(net->layers[L - 1].act)) || put_str(g, "loss", nn_loss_name(net->loss)) ||
            nn_h5_attr_write(g, "leaky_slope", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 0, &net->leaky_slope);
  if (g < 0) nn_h5_note();
  if (g >= 0) H5Gclose(g);
  return bad ? nn_h5_fail(NN_ECKPT, "writing /model") : NN_OK;
}

static int write_optimizer(hid_t fid, const nn_optim *o) {
  char names[64] = "";
  for (int s = 0; s < o->n_state; s++)
    snprintf(names + strlen(names), sizeof names - strlen(names), "%s%s", s ? "," : "",
             nn_optim_state_name(o->kind, s));
  hid_t g = H5Gcreate2(fid, "/optimizer", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  int bad = g < 0 || put_str(g, "name", nn_optim_name(o->kind)) || put_i64(g, "t", o->t) ||
            put_i64(g, "n_state", o->n_state) || put_str(g, "state_names", names);
  if (g < 0) nn_h5_note();
  if (g >= 0) H5Gclose(g);
  return bad ? nn_h5_fail(NN_ECKPT, "writing /optimizer") : NN_OK;
}

static int write_progress(hid_t fid, const nn_ckpt_progress *p) {
  hid_t g = H5Gcreate2(fid, "/progress", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  int bad = g < 0 || progress_write(g, p);
  if (g < 0) nn_h5_note();
  if (g >= 0) H5Gclose(g);
  return bad ? nn_h5_fail(NN_ECKPT, "writing /progress") : NN_OK;
}

/* Every array (contiguous, so its byte range can go into the header), then /integrity. */
static int write_arrays(hid_t fid, arr *a, int n) {
  hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
  H5Pset_create_intermediate_group(lcpl, 1);
  for (int i = 0; i < n; i++) {
    hid_t sp = H5Screate_simple(a[i].nd, a[i].dims, NULL);
    hid_t ds = sp < 0 ? -1 : H5Dcreate2(fid, a[i].path, H5T_IEEE_F32LE, sp, lcpl, H5P_DEFAULT, H5P_DEFAULT);
    int bad = ds < 0 || H5Dwrite(ds, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, a[i].src) < 0;
    if (bad) nn_h5_note();
    else a[i].off = (int64_t)H5Dget_offset(ds);
    if (ds >= 0 && H5Dclose(ds) < 0) bad = 1, nn_h5_note();
    if (sp >= 0) H5Sclose(sp);
    if (bad) {
      H5Pclose(lcpl);
      return nn_h5_fail(NN_ECKPT, "writing %.63s", a[i].path);
    }
  }
  H5Pclose(lcpl);
  hid_t integ = H5Gcreate2(fid, "/integrity", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  int bad = integ < 0 || put_str(integ, "algorithm", "crc32 (zlib) of the little-endian float32 bytes");
  for (int i = 0; i < n && !bad; i++)
    bad = nn_h5_attr_write(integ, a[i].path, H5T_STD_U32LE, H5T_NATIVE_UINT32, 0, &a[i].crc);
  if (integ < 0) nn_h5_note();
  if (integ >= 0) H5Gclose(integ);
  return bad ? nn_h5_fail(NN_ECKPT, "writing /integrity") : NN_OK;
}

/* The HDF5 file tmp with every group, closed; a user block of ub bytes is left for the header. */
static int write_h5(const char *tmp, const nn_ckpt_data *d, arr *a, int n, size_t ub) {
  int rc = NN_OK;
  hid_t fcpl = H5Pcreate(H5P_FILE_CREATE), fapl = nn_h5_fapl();
  H5Pset_userblock(fcpl, ub);
  hid_t fid = H5Fcreate(tmp, H5F_ACC_TRUNC, fcpl, fapl);
  if (fid < 0) rc = nn_h5_fail(NN_ECKPT, "cannot create the file");
  /* the space of the whole file first (the arrays, and about twice the metadata seen in
   * practice): a full disk is an error here, before HDF5 has anything to flush */
  int64_t bytes = (int64_t)ub + 8192 + 1024 * (int64_t)n + 2 * (int64_t)strlen(d->config_text);
  for (int i = 0; i < n; i++) bytes += (int64_t)(a[i].n * sizeof(float));
  if (!rc && nn_fs_reserve(tmp, bytes) < 0)
    rc = NN_FAIL(NN_ECKPT, "reserving %lld bytes: %s", (long long)bytes, strerror(errno));
  if (!rc && !(rc = write_root(fid, d->config_text)) && !(rc = write_model(fid, d->net)) &&
      !(rc = write_optimizer(fid, d->opt)) && !(rc = write_progress(fid, &d->prog)))
    rc = write_arrays(fid, a, n);
  if (rc == NN_OK && H5Fflush(fid, H5F_SCOPE_GLOBAL) < 0) rc = nn_h5_fail(NN_ECKPT, "flushing");
  if (nn_h5_close_file(fid, rc ? tmp : NULL) < 0 && rc == NN_OK) rc = nn_h5_fail(NN_ECKPT, "closing");
  H5Eclear2(H5E_DEFAULT);
  H5Pclose(fcpl);
  H5Pclose(fapl);
  return rc;
}

int nn_ckpt_write(const char *dir, const nn_ckpt_data *d, char *path_out, size_t cap) {
  arr a[MAX_ARRAYS];
  char name[64], final[PATH_CAP], tmp[PATH_CAP + 4], names[2][16];
  const nn_net *net = d ? d->net : NULL;
  const nn_optim *o = d ? d->opt : NULL;
  if (path_out && cap) path_out[0] = 0;
  if (!net || !o || !d->config_text || !net->params || o->n != net->n_params || o->n_state < 0 || o->n_state > 2 ||
      (o->n_state && !o->state) || d->prog.step < 0)
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
    a[i].crc = nn_ckpt_crc(a[i].src, a[i].n * sizeof(float));
  }
  nn_ckpt_header h = {.ub = 512, .step = d->prog.step, .epoch = d->prog.epoch, .batch = d->prog.batch, .n = n};
  while (h.ub < 256 + (int64_t)n * 96) h.ub *= 2;

  nn_h5_quiet();
  int rc = NN_OK;
  if (unlink(tmp) < 0 && errno != ENOENT) rc = NN_FAIL(NN_ECKPT, "cannot remove an old %s: %s", tmp, strerror(errno));
  if (rc == NN_OK) rc = write_h5(tmp, d, a, n, (size_t)h.ub);
  for (int i = 0; i < n; i++) {
    memcpy(h.a[i].path, a[i].path, sizeof h.a[i].path);
    h.a[i].off = a[i].off, h.a[i].nbytes = (int64_t)(a[i].n * sizeof(float)), h.a[i].crc = a[i].crc;
  }
  if (rc == NN_OK) rc = nn_ckpt_header_seal(tmp, &h);
  if (rc == NN_OK && nn_fs_rename(tmp, final) < 0) rc = NN_FAIL(NN_ECKPT, "rename to %s: %s", name, strerror(errno));
  if (rc != NN_OK) {
    char cause[1024];
    snprintf(cause, sizeof cause, "%s", nn_errmsg());
    unlink(tmp);
    return NN_FAIL(NN_ECKPT, "cannot write checkpoint %s: %s (partial file %s removed; older checkpoints untouched)",
                   final, cause, tmp);
  }
  if (nn_fs_fsync_dir(dir) < 0)
    return NN_FAIL(NN_ECKPT, "checkpoint %s written but fsync of directory %s failed: %s", final, dir, strerror(errno));
  if (path_out && cap) snprintf(path_out, cap, "%s", final);
  return NN_OK;
}

/* ---- reading. load() verifies a file completely and fills an nn_ckpt_info; each group has
 * its function. Failures record NN_ECKPT with the cause; the public functions prefix the path. */

static int load_root(hid_t fid, nn_ckpt_info *info) {
  char *fmt = NULL;
  int64_t v;
  int rc = nn_h5_attr_read_str(fid, "/", "format", &fmt, NN_ECKPT);
  if (!rc && strcmp(fmt, FORMAT_NAME) != 0)
    rc = NN_FAIL(NN_ECKPT, "format attribute \"%s\", expected \"" FORMAT_NAME "\"", fmt);
  free(fmt);
  if (rc || (rc = nn_h5_attr_read(fid, "/", "format_version", H5T_NATIVE_INT64, 1, &v, NN_ECKPT))) return rc;
  info->format_version = (int)v;
  if (v != NN_CKPT_FORMAT_VERSION)
    return NN_FAIL(NN_ECKPT, "format_version %lld, this nnmpi reads %d", (long long)v, NN_CKPT_FORMAT_VERSION);
  if ((rc = nn_h5_attr_read_name(fid, "/", "nnmpi_version", info->nnmpi_version, sizeof info->nnmpi_version,
                                 NN_ECKPT)) ||
      (rc = nn_h5_attr_read_name(fid, "/", "created", info->created, sizeof info->created, NN_ECKPT)) ||
      (rc = nn_h5_attr_read_name(fid, "/", "config_digest", info->config_digest, sizeof info->config_digest,
                                 NN_ECKPT)) ||
      (rc = nn_h5_attr_read_str(fid, "/", "config", &info->config_text, NN_ECKPT)))
    return rc;
  /* the standard FNV-1a basis; checkpoints written before issue 11 used the legacy one */
  char digest[32], legacy[32];
  config_digest(info->config_text, NN_FNV1A64_BASIS, digest, sizeof digest);
  config_digest(info->config_text, NN_FNV1A64_LEGACY_BASIS, legacy, sizeof legacy);
  if (strcmp(digest, info->config_digest) != 0 && strcmp(legacy, info->config_digest) != 0)
    return NN_FAIL(NN_ECKPT, "config text does not match config_digest (%s vs %s)", digest, info->config_digest);
  return NN_OK;
}

/* Opens group name of fid into *g (the caller closes it). */
static int open_group(hid_t fid, const char *name, hid_t *g) {
  *g = H5Gopen2(fid, name, H5P_DEFAULT);
  return *g < 0 ? NN_FAIL(NN_ECKPT, "missing group %s", name) : NN_OK;
}

static int load_model(hid_t g, nn_ckpt_info *info) {
  hid_t at = H5Aexists(g, "sizes") > 0 ? H5Aopen(g, "sizes", H5P_DEFAULT) : -1, sp = at < 0 ? -1 : H5Aget_space(at);
  hssize_t ns = sp < 0 ? 0 : H5Sget_simple_extent_npoints(sp);
  if (sp >= 0) H5Sclose(sp);
  if (at >= 0) H5Aclose(at);
  if (ns < 2 || ns > NN_MAX_LAYERS + 1)
    return NN_FAIL(NN_ECKPT, "/model:sizes has %lld entries, expected 2..%d", (long long)ns, NN_MAX_LAYERS + 1);
  info->n_layers = (int)ns - 1;
  int rc;
  if ((rc = nn_h5_attr_read(g, "/model", "sizes", H5T_NATIVE_INT, (size_t)ns, info->sizes, NN_ECKPT)) ||
      (rc = nn_h5_attr_read_name(g, "/model", "hidden", info->hidden, sizeof info->hidden, NN_ECKPT)) ||
      (rc = nn_h5_attr_read_name(g, "/model", "output", info->output, sizeof info->output, NN_ECKPT)) ||
      (rc = nn_h5_attr_read_name(g, "/model", "loss", info->loss, sizeof info->loss, NN_ECKPT)) ||
      (rc = nn_h5_attr_read(g, "/model", "leaky_slope", H5T_NATIVE_FLOAT, 1, &info->leaky_slope, NN_ECKPT)))
    return rc;
  for (int l = 0; l <= info->n_layers; l++)
    if (info->sizes[l] < 1 || info->sizes[l] > (1 << 24))
      return NN_FAIL(NN_ECKPT, "/model:sizes[%d] = %d, expected 1..%d", l, info->sizes[l], 1 << 24);
  return NN_OK;
}

static int load_optimizer(hid_t g, nn_ckpt_info *info) {
  char names[64];
  int64_t v;
  int rc;
  if ((rc = nn_h5_attr_read_name(g, "/optimizer", "name", info->optimizer, sizeof info->optimizer, NN_ECKPT)) ||
      (rc = nn_h5_attr_read(g, "/optimizer", "t", H5T_NATIVE_INT64, 1, &info->opt_t, NN_ECKPT)) ||
      (rc = nn_h5_attr_read(g, "/optimizer", "n_state", H5T_NATIVE_INT64, 1, &v, NN_ECKPT)) ||
      (rc = nn_h5_attr_read_name(g, "/optimizer", "state_names", names, sizeof names, NN_ECKPT)))
    return rc;
  info->n_state = (int)v;
  int k = 0;
  char *save = NULL;
  for (char *tok = strtok_r(names, ",", &save); tok && k < 2; tok = strtok_r(NULL, ",", &save), k++)
    snprintf(info->state_names[k], sizeof info->state_names[k], "%s", tok);
  if (v < 0 || v > 2 || k != v)
    return NN_FAIL(NN_ECKPT, "/optimizer: n_state %lld with %d state names, expected 0..2 and equal", (long long)v, k);
  return NN_OK;
}

/* Every array: shape from /model:sizes, float32, CRC32 against /integrity; into buf (flat). */
static int load_arrays(hid_t fid, hid_t integ, const arr *a, int n, float *buf, nn_ckpt_info *info) {
  for (int i = 0; i < n; i++) {
    uint32_t want;
    int rc = nn_h5_attr_read(integ, "/integrity", a[i].path, H5T_NATIVE_UINT32, 1, &want, NN_ECKPT);
    if (rc) return rc;
    hid_t ds = H5Dopen2(fid, a[i].path, H5P_DEFAULT), t = -1, dsp = -1;
    hsize_t dims[2] = {0, 0};
    if (ds < 0) {
      rc = NN_FAIL(NN_ECKPT, "missing dataset %s", a[i].path);
    } else if ((t = H5Dget_type(ds)) < 0 || H5Tget_class(t) != H5T_FLOAT || H5Tget_size(t) != 4) {
      rc = NN_FAIL(NN_ECKPT, "dataset %s: expected float32 values", a[i].path);
    } else if ((dsp = H5Dget_space(ds)) < 0 || H5Sget_simple_extent_ndims(dsp) != a[i].nd ||
               H5Sget_simple_extent_dims(dsp, dims, NULL) < 0 || dims[0] != a[i].dims[0] ||
               (a[i].nd == 2 && dims[1] != a[i].dims[1])) {
      rc = NN_FAIL(NN_ECKPT, "dataset %s: shape (%llu%s%llu), expected (%llu%s%llu) from /model:sizes", a[i].path,
                   (unsigned long long)dims[0], a[i].nd == 2 ? ", " : ")", (unsigned long long)dims[1],
                   (unsigned long long)a[i].dims[0], a[i].nd == 2 ? ", " : ")", (unsigned long long)a[i].dims[1]);
    } else if (H5Dread(ds, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf + a[i].flat) < 0) {
      rc = nn_h5_fail(NN_ECKPT, "reading %.63s", a[i].path);
    } else {
      uint32_t got = nn_ckpt_crc(buf + a[i].flat, a[i].n * sizeof(float));
      if (got != want)
        rc = NN_FAIL(NN_ECKPT, "checksum mismatch in %s (CRC32 %08x, /integrity records %08x)", a[i].path,
                     (unsigned)got, (unsigned)want);
    }
    if (dsp >= 0) H5Sclose(dsp);
    if (t >= 0) H5Tclose(t);
    if (ds >= 0) H5Dclose(ds);
    if (rc) return rc;
    info->n_arrays++;
  }
  return NN_OK;
}

/* Verifies path completely and fills info; with data != NULL also returns the arrays in the
 * flat layout [params | state 0 | state 1] (malloc'ed). */
static int load(const char *path, nn_ckpt_info *info, float **data) {
  nn_ckpt_header h;
  arr a[MAX_ARRAYS];
  float *buf = NULL;
  hid_t g = -1;
  int rc;
  memset(info, 0, sizeof *info);
  if (data) *data = NULL;
  if ((rc = nn_ckpt_header_check(path, &h, true))) return rc;
  info->file_bytes = h.length;

  nn_h5_quiet();
  hid_t fapl = nn_h5_fapl(), fid = H5Fopen(path, H5F_ACC_RDONLY, fapl);
  if (fid < 0) nn_h5_note();
  H5Pclose(fapl);
  if (fid < 0) return nn_h5_fail(NN_ECKPT, "HDF5 cannot open it");
  if ((rc = load_root(fid, info))) goto out;
  if ((rc = open_group(fid, "/model", &g)) || (rc = load_model(g, info))) goto out;
  H5Gclose(g), g = -1;
  if ((rc = open_group(fid, "/optimizer", &g)) || (rc = load_optimizer(g, info))) goto out;
  H5Gclose(g), g = -1;
  if ((rc = open_group(fid, "/progress", &g)) || (rc = progress_read(g, &info->prog))) goto out;
  H5Gclose(g), g = -1;

  const int n = arrays_build(a, info->n_layers, info->sizes, info->n_state, info->state_names);
  const size_t total = a[n - 1].flat + a[n - 1].n;
  if (!(buf = malloc(total * sizeof(float)))) {
    rc = NN_FAIL(NN_ECKPT, "out of memory (%zu floats)", total);
    goto out;
  }
  if ((rc = open_group(fid, "/integrity", &g)) || (rc = load_arrays(fid, g, a, n, buf, info))) goto out;
out:
  if (g >= 0) H5Gclose(g);
  if (H5Fclose(fid) < 0 && rc == NN_OK) rc = nn_h5_fail(NN_ECKPT, "closing");
  H5Eclear2(H5E_DEFAULT);
  if (rc == NN_OK && data) *data = buf;
  else free(buf);
  return rc;
}

int nn_ckpt_load_info(const char *path, nn_ckpt_info *info) { return load(path, info, NULL); }

int nn_ckpt_inspect(const char *path, nn_ckpt_info *info) {
  int rc = load(path, info, NULL);
  return rc ? nn_fail_prefix(rc, "%s: ", path) : NN_OK;
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

/* Appends "what: checkpoint A vs config B" to diff for each difference. */
static void diff_one(char *diff, size_t cap, const char *what, const char *x, const char *y) {
  if (strcmp(x, y) != 0)
    snprintf(diff + strlen(diff), cap - strlen(diff), "%s%s: checkpoint %s vs config %s", diff[0] ? "; " : "", what, x,
             y);
}

static void arch_diff(const nn_ckpt_info *c, const nn_net *net, const nn_optim *o, char *diff, size_t cap) {
  char a[256], b[256];
  const int L = net->n_layers;
  diff[0] = 0;
  join_sizes(a, sizeof a, c->sizes, c->n_layers + 1);
  join_sizes(b, sizeof b, net->sizes, L + 1);
  diff_one(diff, cap, "model layers", a, b);
  if (strcmp(a, b) == 0) {
    diff_one(diff, cap, "model hidden activation", c->hidden, L > 1 ? nn_act_name(net->layers[0].act) : "none");
    diff_one(diff, cap, "model output activation", c->output, nn_act_name(net->layers[L - 1].act));
  }
  diff_one(diff, cap, "model loss", c->loss, nn_loss_name(net->loss));
  int leaky = 0;
  for (int l = 0; l < L; l++) leaky |= net->layers[l].act == NN_ACT_LEAKY_RELU;
  snprintf(a, sizeof a, "%.9g", c->leaky_slope);
  snprintf(b, sizeof b, "%.9g", net->leaky_slope);
  if (leaky) diff_one(diff, cap, "model leaky_slope", a, b);
  diff_one(diff, cap, "optimizer", c->optimizer, nn_optim_name(o->kind));
}

int nn_ckpt_read(const char *path, nn_ckpt_data *d) {
  char diff[1024];
  nn_ckpt_info info;
  float *buf;
  nn_net *net = d->net;
  nn_optim *o = d->opt;
  int rc = load(path, &info, &buf);
  if (rc) {
    nn_ckpt_info_free(&info);
    return nn_fail_prefix(rc, "%s: ", path);
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
