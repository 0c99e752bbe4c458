/* trainer: the data-parallel training loop (DESIGN.md "Sampling and sharding", "Gradient
 * reduction"). Every rank holds the whole model, computes loss and gradient SUMS over its slice of
 * the global batch, one allreduce adds them (with the per-step scalars riding in the same
 * buffer), and every rank divides by the global row count and takes the same optimiser step.
 * Layer 5: uses loader, checkpoint, dist, net, optim, config; prints only to opts->log. */
#include "nnmpi/trainer.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "metrics.h"
#include "nnmpi/dist.h"
#include "nnmpi/optim.h"
#include "nnmpi/sampler.h"
#include "nnmpi/status.h"
#include "nnmpi/synth.h"
#include "nnmpi/tensor.h"

/* Slots of the reduction tail (net->grads[n_params + i]). */
enum { T_LOSS, T_ROWS, T_CORRECT, T_STOP, T_CKPT_TIME, T_ERR, T_COUNT };

/* ---------------------------------------------------------------------------------------
 * data */

int nn_trainer_load(const nn_config *c, const char *which, nn_loader *ld, void **synth_mem) {
  bool train = !strcmp(which, "train");
  const char *group = train ? c->data.train : c->data.eval;
  int D = c->model.sizes[0], K = c->model.sizes[c->model.n_sizes - 1];
  int rc;
  *synth_mem = NULL;
  memset(ld, 0, sizeof *ld);
  if (!c->data.path[0]) { /* built-in synthetic set: every rank generates the same rows */
    int d = D, k = K;
    float noise = -1;
    bool cls;
    rc = nn_synth_resolve(c->data.synth, &d, &k, &noise, &cls);
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
    rc = nn_synth_fill(c->data.synth, c->model.seed, train ? NN_SYNTH_STREAM_TRAIN : NN_SYNTH_STREAM_TEST, 0, n,
                       d, k, noise, X, y, Y);
    nn_split_info info = {.n = n, .d = d, .xtype = NN_DTYPE_F32, .scale = 1, .offset = 0,
                          .has_labels = cls, .k = cls ? 0 : k, .num_classes = cls ? k : 0};
    char name[96];
    snprintf(name, sizeof name, "synthetic %s (%s)", c->data.synth, which);
    if (!rc) rc = nn_loader_open_memory(ld, name, &info, X, y, Y, c->data.sampling);
    if (rc) {
      free(mem);
      return rc;
    }
    *synth_mem = mem;
  } else {
    /* data.path may be FILE:/group, which then names the training split */
    char file[NN_PATH_MAX], spec_group[128];
    rc = nn_dataset_parse_spec(c->data.path, group, file, sizeof file, spec_group, sizeof spec_group);
    if (rc) return nn_fail_prefix(NN_ECONFIG, "data.path: ");
    if (train) group = spec_group;
    rc = nn_loader_open(ld, file, group, c->data.sampling, c->data.ranks_per_node);
    if (rc) return rc;
  }
  /* the data must fit the model: features = input units; classes or targets = output units */
  const nn_split_info *in = &ld->info;
  const char *src = c->data.path[0] ? c->data.path : "built-in data";
  if (in->d != D)
    rc = NN_FAIL(NN_EDATA, "%s:%s/X: %d features per row, but model.layers starts with %d inputs", src, group,
                 in->d, D);
  else if (!in->has_labels && in->k != K)
    rc = NN_FAIL(NN_EDATA, "%s:%s/Y: %d target columns, but model.layers ends with %d outputs", src, group,
                 in->k, K);
  else if (!in->has_labels && c->model.loss == NN_LOSS_CROSS_ENTROPY)
    rc = NN_FAIL(NN_EDATA, "%s:%s: has float targets Y, but model.loss = cross_entropy needs class labels y",
                 src, group);
  else if (in->has_labels && K > 1 && in->num_classes > K)
    rc = NN_FAIL(NN_EDATA, "%s: num_classes = %d, but model.layers ends with %d outputs", src, in->num_classes, K);
  else if (in->has_labels && K == 1 && in->num_classes > 2)
    rc = NN_FAIL(NN_EDATA, "%s: num_classes = %d, but one output unit can only learn 2 classes", src,
                 in->num_classes);
  /* a file without num_classes only promised labels >= 0: the output layer sets the range */
  int classes = K > 1 ? K : 2;
  for (int64_t i = 0; !rc && in->has_labels && in->num_classes == 0 && i < ld->rows_held; i++)
    if (ld->y[i] >= classes)
      rc = NN_FAIL(NN_EDATA, "%s:%s/y: label %d at row %lld, but the model has %d output(s): expected 0..%d", src,
                   group, (int)ld->y[i], (long long)(ld->first_row + i), K, classes - 1);
  rc = nn_dist_agree(rc); /* shards hold different rows */
  if (rc) {
    nn_loader_close(ld);
    free(*synth_mem);
    *synth_mem = NULL;
  }
  return rc;
}

void nn_eval_range(const nn_loader *ld, int64_t *lo, int64_t *hi) {
  if (ld->mode == NN_SAMPLING_SHARD) *lo = 0, *hi = ld->rows_held;
  else nn_shard_range(ld->rows_held, nn_dist_rank(), nn_dist_size(), lo, hi);
}

int nn_evaluate(nn_net *net, const nn_loader *ld, float *X, int32_t *y, float *Y, nn_eval_result *r) {
  int64_t lo, hi;
  nn_eval_range(ld, &lo, &hi);
  int K = net->sizes[net->n_layers];
  double sums[3] = {0, 0, 0}; /* loss, squared error, absolute error */
  int64_t counts[2] = {hi - lo, 0}; /* rows, correct */
  uint32_t idx[256];
  for (int64_t i = lo; i < hi;) {
    int n = (int)(hi - i < net->cap ? hi - i : net->cap);
    n = n < 256 ? n : 256;
    for (int j = 0; j < n; j++) idx[j] = (uint32_t)(i + j);
    nn_loader_gather(ld, idx, n, X, ld->y ? y : NULL, ld->y ? NULL : Y);
    const float *A = nn_net_forward(net, X, n);
    nn_targets t = ld->y ? (nn_targets){y, NULL} : (nn_targets){NULL, Y};
    sums[0] += nn_net_loss_sum(net, t, n);
    if (ld->y) counts[1] += nn_net_count_correct(net, y, n);
    else
      for (size_t j = 0; j < (size_t)n * K; j++) {
        double e = (double)A[j] - Y[j];
        sums[1] += e * e, sums[2] += fabs(e);
      }
    i += n;
  }
  int rc = nn_dist_sum_f64(sums, 3);
  if (!rc) rc = nn_dist_sum_i64(counts, 2);
  if (rc) return rc;
  int64_t rows = counts[0];
  *r = (nn_eval_result){rows, rows ? sums[0] / rows : 0, rows ? (double)counts[1] / rows : 0,
                        rows ? sums[1] / ((double)rows * K) : 0, rows ? sums[2] / ((double)rows * K) : 0};
  return NN_OK;
}

/* ---------------------------------------------------------------------------------------
 * run directory and checkpoints */

/* run_dir with %j, %a, %A replaced by Slurm's job id, array task id, array job id. */
static void expand_run_dir(const char *pattern, char *out, size_t cap) {
  const char *job = getenv("SLURM_JOB_ID"), *task = getenv("SLURM_ARRAY_TASK_ID"),
             *ajob = getenv("SLURM_ARRAY_JOB_ID");
  size_t n = 0;
  for (const char *p = pattern; *p && n + 1 < cap; p++) {
    const char *rep = NULL;
    if (p[0] == '%' && p[1] == 'j') rep = job ? job : "local";
    if (p[0] == '%' && p[1] == 'a') rep = task ? task : "0";
    if (p[0] == '%' && p[1] == 'A') rep = ajob ? ajob : job ? job : "local";
    if (rep) {
      n += (size_t)snprintf(out + n, cap - n, "%s", rep);
      if (n >= cap) n = cap - 1;
      p++;
    } else out[n++] = *p;
  }
  out[n] = 0;
}

static int mkdir_p(const char *path) {
  char tmp[NN_PATH_MAX];
  snprintf(tmp, sizeof tmp, "%s", path);
  for (char *p = tmp + 1;; p++) {
    if (*p == '/' || !*p) {
      char c = *p;
      *p = 0;
      if (mkdir(tmp, 0777) && errno != EEXIST)
        return NN_FAIL(NN_EIO, "cannot create directory %s: %s", tmp, strerror(errno));
      *p = c;
      if (!c) break;
    }
  }
  struct stat st;
  if (stat(path, &st) || !S_ISDIR(st.st_mode)) return NN_FAIL(NN_EIO, "%s exists and is not a directory", path);
  return NN_OK;
}

/* Writes text to dir/name (the effective config of the run, for people and scripts). */
static int write_text(const char *dir, const char *name, const char *text) {
  char path[NN_PATH_MAX + 64];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  FILE *f = fopen(path, "w");
  if (!f) return NN_FAIL(NN_EIO, "cannot write %s: %s", path, strerror(errno));
  int bad = fputs(text, f) < 0;
  bad |= fclose(f) != 0;
  return bad ? NN_FAIL(NN_EIO, "cannot write %s: %s", path, strerror(errno)) : NN_OK;
}

typedef struct run {
  const nn_config *c;
  const nn_train_opts *o;
  nn_net net;
  nn_optim opt;
  nn_loader train, eval;
  void *train_mem, *eval_mem;
  bool have_eval;
  float *X, *Y;       /* batch scratch, net.cap rows */
  int32_t *y;
  nn_sampler sampler; /* which held rows this rank trains on; perm is ours */
  int64_t *acc;       /* reduce = exact: fixed-point sums, n_params + T_COUNT */
  uint32_t *rows;     /* rows of this rank's slice */
  nn_ckpt_progress prog;
  int64_t steps_per_epoch, total_steps;
  char run_dir[NN_PATH_MAX], ckpt_dir[NN_PATH_MAX + 16], last_ckpt[NN_PATH_MAX + 32];
  int64_t last_ckpt_step;
  double t_start, elapsed0, last_ckpt_time;
  nn_timers tm;
  nn_metrics metrics;
} run;

/* Rank 0 writes the checkpoint and rotates; every rank learns the outcome. */
static int checkpoint(run *r) {
  double t0 = nn_now();
  int rc = NN_OK;
  r->prog.elapsed = r->elapsed0 + (nn_now() - r->t_start);
  r->prog.world_size = nn_dist_size();
  if (nn_dist_rank() == 0) {
    nn_ckpt_data d = {r->o->config_text, &r->net, &r->opt, r->prog};
    rc = nn_ckpt_write(r->ckpt_dir, &d, r->last_ckpt, sizeof r->last_ckpt);
    if (!rc) rc = nn_ckpt_rotate(r->ckpt_dir, r->c->checkpoint.keep, r->c->checkpoint.keep_every_epochs);
  }
  rc = nn_dist_agree(rc);
  double dt = nn_now() - t0;
  r->tm.t[NN_T_CKPT] += dt;
  r->tm.n_ckpt++;
  r->last_ckpt_time = nn_now();
  if (rc == NN_OK) {
    r->last_ckpt_step = r->prog.step;
    nn_dist_bcast(r->last_ckpt, sizeof r->last_ckpt, 0);
    nn_metrics_checkpoint(&r->metrics, r->last_ckpt, &r->prog, dt);
  } else if (r->c->checkpoint.continue_on_error) {
    nn_metrics_warn(&r->metrics, "checkpoint at step %lld failed, training continues (checkpoint.continue_on_error): %s",
                    (long long)r->prog.step, nn_errmsg());
    rc = NN_OK;
  }
  return rc;
}

/* --resume never --force: delete the checkpoints of dir so a fresh run cannot mix with them. */
static int remove_checkpoints(const char *dir) {
  DIR *d = opendir(dir);
  if (!d) return NN_OK;
  struct dirent *e;
  int rc = NN_OK;
  while ((e = readdir(d))) {
    size_t n = strlen(e->d_name);
    if (strncmp(e->d_name, "ckpt-", 5) || n < 8 || strcmp(e->d_name + n - 3, ".h5")) continue;
    char path[NN_PATH_MAX + 256];
    snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
    if (unlink(path)) rc = NN_FAIL(NN_ECKPT, "--force: cannot remove %s: %s", path, strerror(errno));
  }
  closedir(d);
  return rc;
}

/* Picks and loads the checkpoint to resume from per opts->resume. *resumed tells if one was. */
static int resume(run *r, bool *resumed) {
  const char *mode = r->o->resume ? r->o->resume : "auto";
  char path[NN_PATH_MAX] = "", skipped[4096] = "";
  int rc = NN_OK, removed = 0;
  *resumed = false;
  if (nn_dist_rank() == 0) {
    rc = nn_ckpt_clean_tmp(r->ckpt_dir, &removed);
    if (!rc && removed) nn_metrics_warn(&r->metrics, "removed %d stale .tmp file(s) of interrupted checkpoint writes in %s", removed, r->ckpt_dir);
    if (!rc && !strcmp(mode, "auto")) {
      rc = nn_ckpt_find_latest(r->ckpt_dir, path, sizeof path, skipped, sizeof skipped);
      if (skipped[0]) nn_metrics_warn(&r->metrics, "skipped checkpoints that do not verify:\n%s", skipped);
    } else if (!rc && !strcmp(mode, "never")) {
      char any[NN_PATH_MAX] = "";
      rc = nn_ckpt_find_latest(r->ckpt_dir, any, sizeof any, NULL, 0);
      if (rc == NN_ECKPT || any[0]) {
        if (!r->o->force)
          rc = NN_FAIL(NN_ECKPT, "--resume never: %s already holds checkpoints; use --resume auto to continue them, "
                                 "--force to delete them, or another log.run_dir / checkpoint.dir", r->ckpt_dir);
        else
          rc = remove_checkpoints(r->ckpt_dir);
      }
    } else if (!rc) {
      snprintf(path, sizeof path, "%s", mode);
    }
  }
  if ((rc = nn_dist_agree(rc))) return rc;
  if ((rc = nn_dist_bcast(path, sizeof path, 0))) return rc;
  if (!path[0]) return NN_OK;
  /* the checkpoint's state must mean the same under this config */
  char *text = NULL, diff[2048] = "";
  nn_config saved;
  rc = nn_ckpt_read_config(path, &text);
  if (!rc) {
    nn_config_defaults(&saved);
    rc = nn_config_parse(&saved, text, path);
    if (rc) rc = nn_fail_prefix(NN_ECKPT, "config stored in checkpoint: ");
  }
  if (!rc && nn_config_diff_state(&saved, r->c, diff, sizeof diff) > 0)
    rc = NN_FAIL(NN_ECKPT, "%s was saved with a different configuration of the model or training state "
                           "(checkpoint vs now):\n%s", path, diff);
  free(text);
  nn_ckpt_data d = {NULL, &r->net, &r->opt, {0}};
  if (!rc) rc = nn_ckpt_read(path, &d);
  if ((rc = nn_dist_agree(rc))) return rc;
  r->prog = d.prog;
  snprintf(r->last_ckpt, sizeof r->last_ckpt, "%s", path);
  r->last_ckpt_step = r->prog.step;
  *resumed = true;
  return NN_OK;
}

/* Every rank must start from the same weights: compare a checksum of the parameters. */
static int verify_replicas(const nn_net *net) {
  uint64_t h = 1469598103934665603ull;
  const unsigned char *p = (const unsigned char *)net->params;
  for (size_t i = 0; i < net->n_params * sizeof(float); i++) h = (h ^ p[i]) * 1099511628211ull;
  double v[2] = {(double)(h >> 11), -(double)(h >> 11)};
  int rc = nn_dist_max_f64(v, 2);
  if (rc) return rc;
  if (v[0] != -v[1])
    return NN_FAIL(NN_EINTERNAL, "weights differ between ranks (checksums disagree): ranks run different "
                                 "builds or BLAS libraries, or memory was corrupted");
  return NN_OK;
}

/* ---------------------------------------------------------------------------------------
 * one step */

/* What one step's reduction yields besides the gradient sums in net->grads. */
typedef struct sums {
  double loss, rows, correct; /* over the global batch */
  bool stop, ckpt_time;       /* some rank was asked to stop; rank 0's clock wants a checkpoint */
} sums;

/* This rank's stop request, and rank 0's decisions from its clock (time-based checkpoints, the
 * allocation's end): they ride in the step's reduction so every rank acts on the same step. */
static void requests(run *r, int64_t *stop, int64_t *ckpt_time) {
  *stop = r->o->stop_flag && *r->o->stop_flag;
  *ckpt_time = 0;
  if (nn_dist_rank() != 0) return;
  double tnow = nn_now(), wall = (double)time(NULL);
  if (r->c->checkpoint.every_seconds > 0 && tnow - r->last_ckpt_time >= r->c->checkpoint.every_seconds)
    *ckpt_time = 1;
  if (r->o->end_time > 0) { /* stop while a checkpoint still fits, with a safety margin */
    double ck = r->tm.n_ckpt ? r->tm.t[NN_T_CKPT] / r->tm.n_ckpt : 5.0;
    double st = r->tm.steps ? (tnow - r->t_start) / r->tm.steps : 1.0;
    if (wall + 2 * ck + 3 * st + 10 >= r->o->end_time) *stop = 1;
  }
}

/* Forward and backward of n gathered rows: gradient sums into net->grads, loss and correct
 * counts added to *loss and *correct. */
static void forward_backward(run *r, int n, double *loss, int64_t *correct) {
  nn_net *net = &r->net;
  bool labels = r->train.y != NULL;
  double t0 = nn_now();
  nn_loader_gather(&r->train, r->rows, n, r->X, labels ? r->y : NULL, labels ? NULL : r->Y);
  nn_targets t = labels ? (nn_targets){r->y, NULL} : (nn_targets){NULL, r->Y};
  double t1 = nn_now();
  if (n > 0) {
    nn_net_forward(net, r->X, n);
    *loss += nn_net_loss_sum(net, t, n);
    if (labels) *correct += nn_net_count_correct(net, r->y, n);
  }
  double t2 = nn_now();
  if (n > 0) nn_net_backward(net, r->X, t, n);
  else memset(net->grads, 0, sizeof(float) * net->n_params);
  r->tm.t[NN_T_DATA] += t1 - t0, r->tm.t[NN_T_FORWARD] += t2 - t1, r->tm.t[NN_T_BACKWARD] += nn_now() - t2;
}

/* fast: this rank's slice in one forward/backward, one float allreduce of [grads | scalars]. */
static int sums_fast(run *r, int64_t k, sums *out) {
  nn_net *net = &r->net;
  float *tail = net->grads + net->n_params;
  double loss = 0;
  int64_t correct = 0, stop, ckpt;
  int n = (int)nn_sampler_rows(&r->sampler, k, r->rows);
  forward_backward(r, n, &loss, &correct);
  requests(r, &stop, &ckpt);
  memset(tail, 0, sizeof(float) * NN_GRAD_EXTRA);
  tail[T_LOSS] = (float)loss, tail[T_ROWS] = (float)n, tail[T_CORRECT] = (float)correct;
  tail[T_STOP] = (float)stop, tail[T_CKPT_TIME] = (float)ckpt;
  double t0 = nn_now();
  int rc = nn_dist_sum_f32(net->grads, net->n_params + T_COUNT);
  r->tm.t[NN_T_REDUCE] += nn_now() - t0;
  *out = (sums){tail[T_LOSS], tail[T_ROWS], tail[T_CORRECT], tail[T_STOP] > 0, tail[T_CKPT_TIME] > 0};
  return rc;
}

/* exact: the global batch is cut into train.exact_chunks fixed chunks; each is computed whole
 * by one rank, so its gradient has the same bits whichever rank (and however many ranks) run.
 * Chunk sums are added as 2^-32 fixed-point integers, which is associative, so the reduced
 * gradient does not depend on the rank count either. */
enum { FIX_BITS = 32 };

/* round(v) for |v| < 2^51: adding 1.5·2^52 leaves round(v) in the low mantissa bits (rounding
 * to nearest even, deterministic); plain adds and bit moves, so the loop vectorises. */
static inline int64_t to_fixed(double v) {
  double y = v + 0x1.8p52;
  int64_t bits;
  memcpy(&bits, &y, sizeof bits);
  return bits - 0x4338000000000000LL;
}

static int sums_exact(run *r, int64_t k, sums *out) {
  nn_net *net = &r->net;
  size_t np = net->n_params;
  int64_t *acc = r->acc, clo, chi, stop, ckpt, correct = 0;
  const int G = r->c->train.exact_chunks;
  /* chunk sums must stay below 2^51 once scaled (to_fixed), and G of them below 2^62 */
  const double scale = ldexp(1.0, FIX_BITS), limit = fmin(ldexp(1.0, 50 - FIX_BITS), ldexp(1.0, 62 - FIX_BITS) / G);
  memset(acc, 0, sizeof(int64_t) * (np + T_COUNT));
  nn_shard_range(G, nn_dist_rank(), nn_dist_size(), &clo, &chi);
  for (int64_t j = clo; j < chi; j++) {
    double loss = 0;
    int n = (int)nn_sampler_chunk(&r->sampler, k, (int)j, G, r->rows);
    if (n == 0) continue;
    forward_backward(r, n, &loss, &correct);
    double t0 = nn_now();
    /* |g| >= limit, Inf or NaN, from the bit patterns (vectorises): |g|'s bits grow with |g| */
    float flim = (float)limit;
    int32_t lim_bits, over = !(fabs(loss) < limit);
    memcpy(&lim_bits, &flim, sizeof lim_bits);
    for (size_t i = 0; i < np; i++) {
      int32_t b;
      memcpy(&b, &net->grads[i], sizeof b);
      over |= (b & 0x7fffffff) >= lim_bits;
    }
    if (!over) {
      for (size_t i = 0; i < np; i++) acc[i] += to_fixed(net->grads[i] * scale);
      acc[np + T_LOSS] += to_fixed(loss * scale);
    }
    acc[np + T_ROWS] += n;
    acc[np + T_ERR] |= over;
    r->tm.t[NN_T_REDUCE] += nn_now() - t0;
  }
  requests(r, &stop, &ckpt);
  acc[np + T_CORRECT] = correct, acc[np + T_STOP] = stop, acc[np + T_CKPT_TIME] = ckpt;
  double t0 = nn_now();
  int rc = nn_dist_sum_i64(acc, np + T_COUNT); /* a range error anywhere rides in T_ERR */
  if (!rc && acc[np + T_ERR])
    rc = NN_FAIL(NN_ENUMERIC, "train.reduce = exact: a gradient or loss sum is non-finite or beyond the fixed-point "
                              "range +-%g; lower optim.lr, or use train.reduce = fast", limit);
  for (size_t i = 0; i < np; i++) net->grads[i] = (float)((double)acc[i] / scale);
  r->tm.t[NN_T_REDUCE] += nn_now() - t0;
  *out = (sums){(double)acc[np + T_LOSS] / scale, (double)acc[np + T_ROWS], (double)acc[np + T_CORRECT],
                acc[np + T_STOP] > 0, acc[np + T_CKPT_TIME] > 0};
  return rc;
}

/* One global step: gradient sums, the mean over the global batch, clipping, the non-finite
 * check and the optimiser step. Sets *stop and *ckpt_time from the reduced requests. */
static int step(run *r, int64_t k, bool *stop, bool *ckpt_time) {
  nn_net *net = &r->net;
  sums s;
  int rc = r->c->train.reduce == NN_REDUCE_EXACT ? sums_exact(r, k, &s) : sums_fast(r, k, &s);
  if (rc) return nn_fail_prefix(rc, "step %lld: ", (long long)r->prog.step + 1);
  double t0 = nn_now();
  *stop = s.stop, *ckpt_time = s.ckpt_time;
  /* mean over the global batch: one division after the sum */
  float inv = (float)(1.0 / s.rows);
  for (size_t i = 0; i < net->n_params; i++) net->grads[i] *= inv;
  double gnorm = nn_clip_grad_norm(net->grads, net->n_params, r->c->optim.clip_norm);
  double mean_loss = s.loss / s.rows;
  if (!isfinite(mean_loss) || !isfinite(gnorm))
    return NN_FAIL(NN_ENUMERIC, "step %lld (epoch %lld, batch %lld): non-finite %s (%g); lower optim.lr, "
                                "set optim.clip_norm, or check the data",
                   (long long)r->prog.step + 1, (long long)r->prog.epoch + 1, (long long)k + 1,
                   isfinite(mean_loss) ? "gradient norm" : "loss", isfinite(mean_loss) ? gnorm : mean_loss);
  float lr = nn_lr_at(r->c, r->prog.step, r->total_steps);
  nn_optim_step(&r->opt, net->params, net->grads, lr);
  r->tm.t[NN_T_OPTIM] += nn_now() - t0;
  r->tm.steps++;
  r->prog.step++;
  r->prog.batch = k + 1;
  r->prog.samples += (int64_t)s.rows;
  nn_metrics_step(&r->metrics, &r->prog, r->steps_per_epoch, mean_loss, r->train.y ? s.correct / s.rows : -1, lr,
                  (int64_t)s.rows);
  return NN_OK;
}

static int evaluate(run *r) {
  double t0 = nn_now();
  nn_eval_result e;
  int rc = nn_evaluate(&r->net, &r->eval, r->X, r->y, r->Y, &e);
  r->tm.t[NN_T_EVAL] += nn_now() - t0;
  if (rc) return rc;
  r->prog.eval_epoch = (int)r->prog.epoch + 1;
  r->prog.eval_loss = e.loss;
  r->prog.eval_metric = r->eval.y ? e.acc : e.mse;
  r->prog.eval_metric2 = r->eval.y ? 0 : e.mae;
  nn_metrics_eval(&r->metrics, &r->prog, &e, r->eval.y != NULL);
  return NN_OK;
}

static bool finished(const run *r) {
  const nn_config *c = r->c;
  return r->prog.epoch >= c->train.epochs || (c->train.max_steps > 0 && r->prog.step >= c->train.max_steps);
}

/* ---------------------------------------------------------------------------------------
 * the run */

static int setup(run *r) {
  const nn_config *c = r->c;
  int W = nn_dist_size(), rc = NN_OK;
  if (c->train.reduce == NN_REDUCE_EXACT && c->train.exact_chunks < W)
    return NN_FAIL(NN_ECONFIG, "train.reduce = exact with train.exact_chunks = %d chunks per batch cannot use %d ranks: "
                               "raise train.exact_chunks to at least %d", c->train.exact_chunks, W, W);
  if (c->train.batch_size < W)
    return NN_FAIL(NN_ECONFIG, "train.batch_size = %d is smaller than the number of ranks (%d): every rank "
                               "needs at least one row of each global batch", c->train.batch_size, W);
  nn_blas_set_threads(c->train.blas_threads);
  nn_dist_set_watchdog(c->train.watchdog_seconds);
  expand_run_dir(c->log.run_dir, r->run_dir, sizeof r->run_dir);
  if (c->checkpoint.dir[0]) expand_run_dir(c->checkpoint.dir, r->ckpt_dir, sizeof r->ckpt_dir);
  else snprintf(r->ckpt_dir, sizeof r->ckpt_dir, "%s/checkpoints", r->run_dir);
  if (nn_dist_rank() == 0) {
    rc = mkdir_p(r->run_dir);
    if (!rc) rc = mkdir_p(r->ckpt_dir);
    if (!rc) rc = nn_metrics_open(&r->metrics, r->o->log, r->o->tty, c, r->run_dir);
    if (!rc && r->o->config_text) rc = write_text(r->run_dir, "config.ini", r->o->config_text);
  } else {
    nn_metrics_open(&r->metrics, NULL, false, c, NULL);
  }
  if ((rc = nn_dist_agree(rc))) return rc;
  if ((rc = nn_trainer_load(c, "train", &r->train, &r->train_mem))) return rc;
  r->have_eval = c->data.eval[0] && c->train.eval_every > 0;
  if (r->have_eval && (rc = nn_trainer_load(c, "eval", &r->eval, &r->eval_mem))) return rc;
  r->sampler = (nn_sampler){.n = r->train.info.n, .held = r->train.rows_held, .batch = c->train.batch_size,
                            .drop_last = c->train.drop_last, .shard = c->data.sampling == NN_SAMPLING_SHARD,
                            .rank = nn_dist_rank(), .world = W, .seed = c->model.seed, .epoch = -1,
                            .perm = malloc(sizeof(uint32_t) * (size_t)(r->train.rows_held + 1))};
  /* workspace: the largest slice of a global batch on any rank, and eval chunks of 256 rows */
  int cap = (int)nn_sampler_max_rows(&r->sampler);
  cap = cap > 256 ? cap : 256;
  rc = nn_net_init(&r->net, c, cap);
  if (!rc) rc = nn_optim_init(&r->opt, c, r->net.n_params);
  int D = c->model.sizes[0], K = c->model.sizes[c->model.n_sizes - 1];
  r->X = malloc(sizeof(float) * (size_t)cap * (D + K));
  r->y = malloc(sizeof(int32_t) * (size_t)cap);
  r->rows = malloc(sizeof(uint32_t) * (size_t)cap);
  if (!rc && c->train.reduce == NN_REDUCE_EXACT && !(r->acc = malloc(sizeof(int64_t) * (r->net.n_params + T_COUNT))))
    rc = NN_FAIL(NN_ENOMEM, "exact reduction buffer");
  if (!rc && (!r->X || !r->y || !r->sampler.perm || !r->rows))
    rc = NN_FAIL(NN_ENOMEM, "batch buffers for %d rows of %d features", cap, D);
  if (!rc) r->Y = r->X + (size_t)cap * D;
  return nn_dist_agree(rc);
}

static void teardown(run *r) {
  nn_net_free(&r->net);
  nn_optim_free(&r->opt);
  nn_loader_close(&r->train);
  nn_loader_close(&r->eval);
  free(r->train_mem);
  free(r->eval_mem);
  free(r->X);
  free(r->y);
  free(r->sampler.perm);
  free(r->acc);
  free(r->rows);
  nn_metrics_close(&r->metrics);
}

static int train_loop(run *r) {
  const nn_config *c = r->c;
  int rc = NN_OK;
  while (!finished(r)) {
    nn_sampler_epoch(&r->sampler, r->prog.epoch);
    nn_metrics_epoch_begin(&r->metrics);
    while (r->prog.batch < r->steps_per_epoch) {
      bool stop = false, ckpt_time = false;
      if ((rc = step(r, r->prog.batch, &stop, &ckpt_time))) return rc;
      if (r->o->stop_at_step > 0 && r->prog.step >= r->o->stop_at_step) stop = true;
      bool epoch_end = r->prog.batch == r->steps_per_epoch;
      bool limit = c->train.max_steps > 0 && r->prog.step >= c->train.max_steps;
      if (epoch_end) {
        if (r->have_eval && ((r->prog.epoch + 1) % c->train.eval_every == 0 || r->prog.epoch + 1 == c->train.epochs))
          if ((rc = evaluate(r))) return rc;
        r->prog.epoch++, r->prog.batch = 0;
      }
      r->prog.complete = finished(r);
      bool want = stop || ckpt_time || (c->checkpoint.every_steps > 0 && r->prog.step % c->checkpoint.every_steps == 0) ||
                  (epoch_end && c->checkpoint.every_epoch) || (r->prog.complete && c->checkpoint.at_end);
      if (want && (rc = checkpoint(r))) return rc;
      if (stop) {
        if (r->last_ckpt_step != r->prog.step) /* continue_on_error swallowed the failure */
          return NN_FAIL(NN_ECKPT, "stop requested at step %lld, but the checkpoint could not be written",
                         (long long)r->prog.step);
        nn_metrics_stopped(&r->metrics, &r->prog, r->last_ckpt);
        return NN_ESTOPPED;
      }
      if (limit || epoch_end) break;
    }
    if (c->train.max_steps > 0 && r->prog.step >= c->train.max_steps) break;
  }
  return NN_OK;
}

int nn_train(const nn_config *c, const nn_train_opts *o, nn_train_result *res) {
  run *r = calloc(1, sizeof *r);
  if (!r) return NN_FAIL(NN_ENOMEM, "trainer state");
  r->c = c, r->o = o;
  r->last_ckpt_step = -1;
  int rc = setup(r);
  bool resumed = false;
  if (!rc) rc = resume(r, &resumed);
  if (!rc) {
    r->steps_per_epoch = nn_sampler_steps(&r->sampler);
    /* shard batches per epoch depend on the rank count: a checkpoint from another count may
     * already be past this epoch's last batch */
    if (resumed && r->prog.batch >= r->steps_per_epoch) r->prog.epoch++, r->prog.batch = 0;
    /* the schedule spans the run as finished() ends it: epochs, or max_steps if that comes first */
    r->total_steps = r->steps_per_epoch * c->train.epochs;
    if (c->train.max_steps > 0 && c->train.max_steps < r->total_steps) r->total_steps = c->train.max_steps;
    if (r->steps_per_epoch < 1)
      rc = NN_FAIL(NN_ECONFIG, "train.drop_last: %lld training rows make no full batch of %d",
                   (long long)r->train.info.n, c->train.batch_size);
  }
  if (!rc && !resumed) {
    nn_rng init = nn_rng_make(c->model.seed, NN_STREAM_INIT);
    nn_net_init_params(&r->net, c->model.init, &init);
    r->prog = (nn_ckpt_progress){.seed = c->model.seed, .eval_epoch = -1, .world_size = nn_dist_size()};
  }
  if (!rc) rc = nn_dist_agree(verify_replicas(&r->net));
  if (!rc) {
    r->elapsed0 = r->prog.elapsed;
    r->t_start = r->last_ckpt_time = nn_now();
    nn_metrics_start(&r->metrics, c, &r->train, r->have_eval ? &r->eval : NULL, &r->net, resumed ? r->last_ckpt : NULL,
                     &r->prog, r->steps_per_epoch, r->ckpt_dir);
    if (resumed && finished(r)) nn_metrics_warn(&r->metrics, "training is already complete (step %lld, epoch %lld): nothing to do",
                                                (long long)r->prog.step, (long long)r->prog.epoch);
    else rc = train_loop(r);
    /* replicas must still agree bit for bit: one update rule applied to one reduced gradient */
    if (rc == NN_OK || rc == NN_ESTOPPED) {
      int vr = nn_dist_agree(verify_replicas(&r->net));
      rc = vr ? vr : rc;
    }
    r->prog.elapsed = r->elapsed0 + (nn_now() - r->t_start);
    if (rc == NN_OK || rc == NN_ESTOPPED) nn_metrics_summary(&r->metrics, &r->prog, &r->tm, nn_now() - r->t_start);
  }
  if (res) {
    res->prog = r->prog;
    snprintf(res->run_dir, sizeof res->run_dir, "%s", r->run_dir);
    snprintf(res->last_ckpt, sizeof res->last_ckpt, "%s", r->last_ckpt);
  }
  teardown(r);
  free(r);
  return rc;
}
