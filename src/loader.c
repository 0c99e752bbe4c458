/* loader: the training split held once per node (global sampling) or as this rank's shard
 * (shard sampling), the built-in synthetic sets, and batch assembly from held rows.
 * Layer 5: dataset for reads and row checks, synth, config, dist for agreement and
 * node-shared memory; no MPI_* or HDF5 calls of its own. */
#include "nnmpi/simd.h"
#include "nnmpi/loader.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nnmpi/sampler.h"
#include "nnmpi/status.h"
#include "nnmpi/synth.h"


/* Block layout for `rows` rows: X first, labels or targets from *lab_off (64-byte aligned). */
static int layout(const nn_split_info *in, int64_t rows, size_t *lab_off, size_t *total) {
  size_t xrow = (size_t)in->d * (in->xtype == NN_DTYPE_U8 ? 1 : sizeof(float));
  size_t lrow = in->has_labels ? sizeof(int32_t) : (size_t)in->k * sizeof(float);
  if (rows < 0 || (uint64_t)rows > (SIZE_MAX / 2) / (xrow + lrow))
    return NN_FAIL(NN_ENOMEM, "%lld rows of %zu bytes do not fit in memory", (long long)rows, xrow + lrow);
  *lab_off = ((size_t)rows * xrow + 63) / 64 * 64;
  *total = *lab_off + (size_t)rows * lrow;
  return NN_OK;
}

/* Sets X/y/Y to the block at base, laid out for rows_held rows. */
static void point(nn_loader *ld, unsigned char *base, size_t lab_off) {
  ld->X = base;
  ld->y = ld->info.has_labels ? (const int32_t *)(base + lab_off) : NULL;
  ld->Y = ld->info.has_labels ? NULL : (const float *)(base + lab_off);
}

/* Rows [lo, hi) (global) into the held block, then checks them. */
static int read_part(const nn_loader *ld, const char *path, const char *group, int64_t lo, int64_t hi) {
  const nn_split_info *in = &ld->info;
  int64_t at = lo - ld->first_row;
  size_t xrow = (size_t)in->d * (in->xtype == NN_DTYPE_U8 ? 1 : sizeof(float));
  void *X = (unsigned char *)ld->X + (size_t)at * xrow;
  int32_t *y = ld->y ? (int32_t *)ld->y + at : NULL;
  float *Y = ld->Y ? (float *)ld->Y + (size_t)at * (size_t)in->k : NULL;
  int rc = nn_dataset_read_rows(path, group, in, lo, hi - lo, X, y, Y);
  return rc ? rc : nn_dataset_check_rows(path, group, in, lo, hi - lo, X, y, Y);
}

/* NN_EDATA unless this rank probed the same shape as rank 0 (a different file would make the
 * ranks of a node fill one block with different layouts). Collective. */
static int same_shape(const nn_split_info *mine, const char *path, const char *group) {
  nn_split_info r0 = *mine;
  int rc = nn_dist_bcast(&r0, sizeof r0, 0);
  if (rc) return rc;
  if (r0.n == mine->n && r0.d == mine->d && r0.xtype == mine->xtype && r0.has_labels == mine->has_labels &&
      r0.k == mine->k && r0.num_classes == mine->num_classes)
    return NN_OK;
  return NN_FAIL(NN_EDATA, "%s:%s: this rank sees %lld rows x %d columns (%s, %s %d), rank 0 sees "
                 "%lld x %d (%s, %s %d); every rank must read the same split", path, group,
                 (long long)mine->n, mine->d, mine->xtype == NN_DTYPE_U8 ? "uint8" : "float32",
                 mine->has_labels ? "classes" : "targets", mine->has_labels ? mine->num_classes : mine->k,
                 (long long)r0.n, r0.d, r0.xtype == NN_DTYPE_U8 ? "uint8" : "float32",
                 r0.has_labels ? "classes" : "targets", r0.has_labels ? r0.num_classes : r0.k);
}

int nn_loader_open(nn_loader *ld, const char *path, const char *group, nn_sampling mode,
                   int ranks_per_node) {
  memset(ld, 0, sizeof *ld);
  ld->mode = mode;
  snprintf(ld->where, sizeof ld->where, "%s:%s", path, group);
  int rc = mode != NN_SAMPLING_GLOBAL && mode != NN_SAMPLING_SHARD
               ? NN_FAIL(NN_EINVAL, "loader: unknown sampling mode %d", (int)mode)
           : ranks_per_node < 0
               ? NN_FAIL(NN_EINVAL, "loader: ranks_per_node %d, expected >= 0", ranks_per_node)
               : nn_dataset_probe(path, group, &ld->info);
  if ((rc = nn_dist_agree(rc)) || (rc = nn_dist_agree(same_shape(&ld->info, path, group))))
    goto out_fail;

  int64_t n = ld->info.n, lo = 0, hi = n; /* rows this rank reads */
  ld->rows_held = n;
  if (mode == NN_SAMPLING_SHARD) {
    nn_shard_range(n, nn_dist_rank(), nn_dist_size(), &lo, &hi);
    ld->first_row = lo;
    ld->rows_held = hi - lo;
  }
  size_t lab_off = 0, total = 0;
  if ((rc = nn_dist_agree(layout(&ld->info, ld->rows_held, &lab_off, &total)))) goto out_fail;

  if (mode == NN_SAMPLING_GLOBAL) {
    if ((rc = nn_dist_agree(nn_dist_shm_alloc(&ld->shm, total, ranks_per_node)))) {
      nn_fail_prefix(rc, "%s:%s: one copy per node (data.sampling = global; shard keeps 1/N per rank in "
                     "private memory instead): ", path, group);
      goto out_fail;
    }
    ld->bytes_shared = ld->shm.node_rank == 0 ? total : 0;
    point(ld, ld->shm.base, lab_off);
    nn_shard_range(n, ld->shm.node_rank, ld->shm.node_size, &lo, &hi);
  } else {
    ld->mem = malloc(total ? total : 1);
    if (!ld->mem) rc = NN_FAIL(NN_ENOMEM, "%s:%s: cannot allocate %zu bytes for rows %lld..%lld",
                               path, group, total, (long long)lo, (long long)hi - 1);
    else ld->bytes_private = total;
    point(ld, ld->mem, lab_off);
  }
  if (rc == NN_OK && hi > lo) rc = read_part(ld, path, group, lo, hi);
  if (mode == NN_SAMPLING_GLOBAL) { /* every node rank must reach the sync, failed or not */
    int st = nn_dist_shm_sync(&ld->shm);
    if (rc == NN_OK) rc = st;
  }
  if ((rc = nn_dist_agree(rc))) goto out_fail;
  return NN_OK;

out_fail:
  nn_loader_close(ld);
  return rc;
}

int nn_loader_open_memory(nn_loader *ld, const char *name, const nn_split_info *info,
                          const void *X, const int32_t *y, const float *Y, nn_sampling mode) {
  memset(ld, 0, sizeof *ld);
  ld->mode = mode;
  snprintf(ld->where, sizeof ld->where, "%s", name);
  int rc = NN_OK;
  if (mode != NN_SAMPLING_GLOBAL && mode != NN_SAMPLING_SHARD)
    rc = NN_FAIL(NN_EINVAL, "%s: unknown sampling mode %d", name, (int)mode);
  else if (!X || info->n <= 0 || info->d <= 0 || (info->has_labels ? !y || Y : !Y || y || info->k <= 0))
    rc = NN_FAIL(NN_EINVAL, "%s: %lld rows x %d columns with %s; expected rows > 0, columns > 0, "
                 "X and exactly the %s array", name, (long long)info->n, info->d,
                 y && Y ? "both y and Y" : y ? "y" : Y ? "Y" : "neither y nor Y",
                 info->has_labels ? "y" : "Y (k > 0)");
  if (rc == NN_OK) {
    ld->info = *info;
    int64_t lo = 0, hi = info->n;
    if (mode == NN_SAMPLING_SHARD) nn_shard_range(info->n, nn_dist_rank(), nn_dist_size(), &lo, &hi);
    size_t xrow = (size_t)info->d * (info->xtype == NN_DTYPE_U8 ? 1 : sizeof(float));
    ld->first_row = lo;
    ld->rows_held = hi - lo;
    ld->X = (const unsigned char *)X + (size_t)lo * xrow;
    ld->y = y ? y + lo : NULL;
    ld->Y = Y ? Y + (size_t)lo * (size_t)info->k : NULL;
    if (hi > lo) rc = nn_dataset_check_rows(name, "", info, lo, hi - lo, ld->X, ld->y, ld->Y);
  }
  if ((rc = nn_dist_agree(rc))) nn_loader_close(ld);
  return rc;
}

/* The built-in synthetic set of c for `which` (train: data.synth_samples rows; eval: a quarter
 * as many from the test stream): every rank generates the same rows. The loader owns them. */
static int open_synth(nn_loader *ld, const nn_config *c, bool train, const char *which) {
  int D = c->model.sizes[0], K = c->model.sizes[c->model.n_sizes - 1], d = D, k = K;
  float noise = -1;
  bool cls;
  int rc = nn_synth_resolve(c->data.synth, &d, &k, &noise, &cls);
  if (rc && K == 1) { /* one sigmoid output learns two classes: ask for 2 */
    d = D, k = 2, noise = -1;
    rc = nn_synth_resolve(c->data.synth, &d, &k, &noise, &cls);
  }
  if (rc) return nn_fail_prefix(NN_ECONFIG, "data.synth: ");
  int64_t n = train ? c->data.synth_samples : (c->data.synth_samples + 3) / 4;
  size_t bytes = sizeof(float) * (size_t)n * d + (cls ? sizeof(int32_t) * n : sizeof(float) * (size_t)n * k);
  char *mem = malloc(bytes);
  if (!mem) return NN_FAIL(NN_ENOMEM, "synthetic %s set of %lld rows", which, (long long)n);
  float *X = (float *)mem;
  int32_t *y = cls ? (int32_t *)(X + (size_t)n * d) : NULL;
  float *Y = cls ? NULL : X + (size_t)n * d;
  rc = nn_synth_fill(c->data.synth, c->model.seed, train ? NN_SYNTH_STREAM_TRAIN : NN_SYNTH_STREAM_TEST, 0, n, d, k,
                     noise, X, y, Y);
  nn_split_info info = {.n = n, .d = d, .xtype = NN_DTYPE_F32, .scale = 1, .offset = 0,
                        .has_labels = cls, .k = cls ? 0 : k, .num_classes = cls ? k : 0};
  char name[96];
  snprintf(name, sizeof name, "synthetic %s (%s)", c->data.synth, which);
  if (!rc) rc = nn_loader_open_memory(ld, name, &info, X, y, Y, c->data.sampling);
  if (rc) free(mem);
  else ld->mem = mem;
  return rc;
}

/* The data must fit the model: features = input units; classes or targets = output units.
 * where names the split in messages ("FILE:/train" or "built-in data:/train"). */
static int check_fits_model(const nn_loader *ld, const nn_config *c, const char *where) {
  const nn_split_info *in = &ld->info;
  int D = c->model.sizes[0], K = c->model.sizes[c->model.n_sizes - 1];
  if (in->d != D)
    return NN_FAIL(NN_EDATA, "%s/X: %d features per row, but model.layers starts with %d inputs", where, in->d, D);
  if (!in->has_labels && in->k != K)
    return NN_FAIL(NN_EDATA, "%s/Y: %d target columns, but model.layers ends with %d outputs", where, in->k, K);
  if (!in->has_labels && c->model.loss == NN_LOSS_CROSS_ENTROPY)
    return NN_FAIL(NN_EDATA, "%s: has float targets Y, but model.loss = cross_entropy needs class labels y", where);
  if (in->has_labels && K > 1 && in->num_classes > K)
    return NN_FAIL(NN_EDATA, "%s: num_classes = %d, but model.layers ends with %d outputs", where, in->num_classes, K);
  if (in->has_labels && K == 1 && in->num_classes > 2)
    return NN_FAIL(NN_EDATA, "%s: num_classes = %d, but one output unit can only learn 2 classes", where,
                   in->num_classes);
  /* a file without num_classes only promised labels >= 0: the output layer sets the range */
  int classes = K > 1 ? K : 2;
  for (int64_t i = 0; in->has_labels && in->num_classes == 0 && i < ld->rows_held; i++)
    if (ld->y[i] >= classes)
      return NN_FAIL(NN_EDATA, "%s/y: label %d at row %lld, but the model has %d output(s): expected 0..%d", where,
                     (int)ld->y[i], (long long)(ld->first_row + i), K, classes - 1);
  return NN_OK;
}

int nn_loader_open_config(nn_loader *ld, const nn_config *c, const char *which) {
  bool train = !strcmp(which, "train");
  char file[NN_PATH_MAX], group[128], where[NN_PATH_MAX + 140];
  int rc;
  memset(ld, 0, sizeof *ld);
  snprintf(group, sizeof group, "%s", train ? c->data.train : c->data.eval);
  if (!c->data.path[0]) {
    snprintf(where, sizeof where, "built-in data:%s", group);
    rc = open_synth(ld, c, train, which);
  } else {
    /* data.path may be FILE:/group, which then names the training split */
    char spec_group[128];
    rc = nn_dataset_parse_spec(c->data.path, c->data.train, file, sizeof file, spec_group, sizeof spec_group);
    if (rc) return nn_fail_prefix(NN_ECONFIG, "data.path: ");
    if (train) snprintf(group, sizeof group, "%s", spec_group);
    snprintf(where, sizeof where, "%s:%s", file, group);
    rc = nn_loader_open(ld, file, group, c->data.sampling, c->data.ranks_per_node);
  }
  if (rc) return rc;
  rc = nn_dist_agree(check_fits_model(ld, c, where)); /* shards hold different rows */
  if (rc) nn_loader_close(ld);
  return rc;
}

/* Asks for the bytes of one row ahead of their use. */
static inline void prefetch_row(const char *row, size_t bytes) {
  for (size_t b = 0; b < bytes; b += 64) __builtin_prefetch(row + b);
}

NN_SIMD void nn_loader_gather(const nn_loader *ld, const uint32_t *rows, int n, float *out_X,
                      int32_t *out_y, float *out_Y) {
  const nn_split_info *info = &ld->info;
  const size_t d = (size_t)info->d, k = (size_t)info->k;
  const size_t row_bytes = d * (info->xtype == NN_DTYPE_U8 ? 1 : sizeof(float));
  /* rows are random, so each is a fresh run of cache misses: ask for the rows AHEAD rows on
   * while converting this one, so their loads overlap */
  enum { AHEAD = 4 };
  const char *X = ld->X;
  for (int i = 0; i < n && i < AHEAD; i++) prefetch_row(X + rows[i] * row_bytes, row_bytes);
  for (int i = 0; i < n; i++) {
    const size_t r = rows[i];
    if (i + AHEAD < n) prefetch_row(X + rows[i + AHEAD] * row_bytes, row_bytes);
    float *o = out_X + (size_t)i * d;
    if (info->xtype == NN_DTYPE_U8) {
      const uint8_t *v = (const uint8_t *)ld->X + r * d;
      for (size_t j = 0; j < d; j++) o[j] = (float)v[j] * info->scale + info->offset;
    } else {
      memcpy(o, (const float *)ld->X + r * d, d * sizeof *o);
    }
    if (ld->y && out_y) out_y[i] = ld->y[r];
    if (ld->Y && out_Y) memcpy(out_Y + (size_t)i * k, ld->Y + r * k, k * sizeof *out_Y);
  }
}

void nn_loader_memory(const nn_loader *ld, size_t *private_bytes, size_t *shared_bytes) {
  if (private_bytes) *private_bytes = ld->bytes_private;
  if (shared_bytes) *shared_bytes = ld->bytes_shared;
}

void nn_loader_close(nn_loader *ld) {
  if (!ld) return;
  nn_dist_shm_free(&ld->shm);
  free(ld->mem);
  memset(ld, 0, sizeof *ld);
}
