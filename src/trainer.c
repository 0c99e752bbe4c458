/* trainer: the data-parallel training loop (DESIGN.md "Sampling and sharding", "Gradient
 * reduction"). Every rank holds the whole model, computes loss and gradient SUMS over its slice of
 * the global batch, one allreduce adds them (with the per-step scalars riding in the same
 * buffer), and every rank divides by the global row count and takes the same optimiser step.
 * Layer 5: uses loader, eval, checkpoint, dist, net, optim, config; prints only to opts->log. */
#include "nnmpi/trainer.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fs.h"
#include "metrics.h"
#include "step.h"
#include "trace.h"
#include "nnmpi/clock.h"
#include "nnmpi/dist.h"
#include "nnmpi/eval.h"
#include "nnmpi/hash.h"
#include "nnmpi/optim.h"
#include "nnmpi/sampler.h"
#include "nnmpi/status.h"
#include "nnmpi/tensor.h"


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

typedef struct run {
  const nn_config *c;
  const nn_train_opts *o;
  nn_net net;
  nn_step st;         /* the step, and the optimiser (of this rank's slice, when sharded) */
  nn_loader train, eval;
  bool have_eval;
  float *X, *Y;       /* batch scratch, net.cap rows */
  int32_t *y;
  nn_sampler sampler; /* which held rows this rank trains on; perm is ours */
  uint32_t *rows;     /* rows of this rank's slice */
  nn_ckpt_progress prog;
  int64_t steps_per_epoch, total_steps;
  char run_dir[NN_PATH_MAX], ckpt_dir[NN_PATH_MAX + 16], last_ckpt[NN_PATH_MAX + 32];
  int64_t last_ckpt_step;
  double t_start, elapsed0, last_ckpt_time;
  nn_timers tm;
  nn_metrics metrics;
  nn_trace trace;     /* log.trace: the timeline of a window of steps */
  int lock_fd[2];                        /* rank 0: the locks of run_dir and (when elsewhere) ckpt_dir; -1 = none */
  char lock_warn[2 * NN_PATH_MAX + 160]; /* rank 0: why a directory could not be locked (printed later) */
} run;

/* Rank 0 locks dir (<dir>/nnmpi.lock) for the whole run, so that a second run on it is refused
 * before it writes or removes anything. what/key name the directory in messages. */
static int lock_dir(run *r, const char *dir, const char *what, const char *key, int *fd) {
  char path[NN_PATH_MAX + 32], holder[320];
  snprintf(path, sizeof path, "%s/nnmpi.lock", dir);
  int st = nn_fs_lock(path, fd, holder, sizeof holder);
  if (st == 1)
    return NN_FAIL(NN_ECKPT,
                   "%s %s is in use by another run (%s; lock file %s): wait for that run to end, or use "
                   "another %s",
                   what, dir, holder, path, key);
  if (st < 0 && (errno == ENOLCK || errno == EOPNOTSUPP || errno == ENOSYS || errno == EINVAL)) {
    snprintf(r->lock_warn, sizeof r->lock_warn, "cannot lock %s (%s): a second run on %s would not be detected", path,
             strerror(errno), dir);
    return NN_OK;
  }
  return st < 0 ? NN_FAIL(NN_EIO, "cannot lock %s: %s", path, strerror(errno)) : NN_OK;
}

/* Rank 0 writes the checkpoint and rotates; every rank learns the outcome. */
static int checkpoint(run *r) {
  double t0 = nn_now();
  int rc = NN_OK;
  r->prog.elapsed = r->elapsed0 + (nn_now() - r->t_start);
  r->prog.world_size = nn_dist_size();
  nn_optim *opt;
  rc = nn_step_gather_optim(&r->st, &opt); /* sharded: the slices of every rank on rank 0 */
  if (!rc && nn_dist_rank() == 0) {
    nn_ckpt_data d = {r->o->config_text, &r->net, opt, r->prog};
    rc = nn_ckpt_write(r->ckpt_dir, &d, r->last_ckpt, sizeof r->last_ckpt);
    if (!rc) rc = nn_ckpt_rotate(r->ckpt_dir, r->prog.step, r->c->checkpoint.keep, r->c->checkpoint.keep_every_epochs);
    if (!rc && access(r->last_ckpt, F_OK) != 0) /* what we report must exist */
      rc = NN_FAIL(NN_ECKPT, "checkpoint %s disappeared right after it was written: %s", r->last_ckpt, strerror(errno));
  }
  nn_step_release_optim(&r->st, opt);
  rc = nn_dist_agree(rc);
  double dt = nn_timers_add(&r->tm, NN_T_CKPT, t0, nn_now()) - t0;
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
      size_t n = strlen(skipped);
      if (n && skipped[n - 1] == '\n') skipped[n - 1] = 0; /* one line per file, no blank line after */
      if (skipped[0])
        nn_metrics_warn(&r->metrics, "skipped checkpoint files (newest first) in %s:\n%s", r->ckpt_dir, skipped);
    } else if (!rc && !strcmp(mode, "never")) {
      char any[NN_PATH_MAX] = "";
      rc = nn_ckpt_find_latest(r->ckpt_dir, any, sizeof any, NULL, 0);
      if (rc == NN_ECKPT || any[0]) {
        if (!r->o->force)
          rc = NN_FAIL(NN_ECKPT, "--resume never: %s already holds checkpoints; use --resume auto to continue them, "
                                 "--force to delete them, or another log.run_dir / checkpoint.dir", r->ckpt_dir);
        else
          rc = nn_ckpt_remove_all(r->ckpt_dir);
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
  nn_optim full; /* the whole state, of which this rank keeps its slice */
  int rc2 = nn_optim_init(&full, &r->c->optim, r->net.n_params);
  nn_ckpt_data d = {NULL, &r->net, &full, {0}};
  if (!rc) rc = rc2;
  if (!rc) rc = nn_ckpt_read(path, &d);
  if (!rc) nn_step_load_optim(&r->st, &full);
  nn_optim_free(&full);
  /* --resume PATH to an older checkpoint starts a branch: the newer checkpoints of the run are
   * moved aside (never deleted by rotation, never replaced by the branch's own of the same step) */
  if (!rc && nn_dist_rank() == 0 && strcmp(mode, "auto") != 0) {
    char to[NN_PATH_MAX + 64];
    int moved = 0;
    int64_t first, last;
    rc = nn_ckpt_supersede(r->ckpt_dir, d.prog.step, path, to, sizeof to, &moved, &first, &last);
    if (!rc && moved)
      nn_metrics_warn(&r->metrics,
                      "moved %d newer checkpoint(s) (steps %lld..%lld) from %s to %s: resuming from an "
                      "older checkpoint (%s, step %lld) starts a branch",
                      moved, (long long)first, (long long)last, r->ckpt_dir, to, path, (long long)d.prog.step);
  }
  if ((rc = nn_dist_agree(rc))) return rc;
  r->prog = d.prog;
  snprintf(r->last_ckpt, sizeof r->last_ckpt, "%s", path);
  r->last_ckpt_step = r->prog.step;
  *resumed = true;
  return NN_OK;
}

/* Every rank must start from the same weights: compare a checksum of the parameters. */
static int verify_replicas(const nn_net *net) {
  uint64_t h = nn_fnv1a64(net->params, net->n_params * sizeof(float), NN_FNV1A64_LEGACY_BASIS);
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

/* One global step on batch k: the step's reduction, update and output. Sets *stop and
 * *ckpt_time from the reduced requests. */
static int step(run *r, int64_t k, bool *stop, bool *ckpt_time) {
  int64_t want_stop, want_ckpt;
  nn_step_out s;
  requests(r, &want_stop, &want_ckpt);
  nn_dist_set_step(r->prog.step + 1);
  r->trace.step = r->prog.step + 1;
  float lr = nn_optim_lr(&r->c->optim, r->prog.step, r->total_steps);
  int rc = nn_step_run(&r->st, k, lr, want_stop, want_ckpt, &s);
  if (rc)
    return nn_fail_prefix(rc, "step %lld (epoch %lld, batch %lld): ", (long long)r->prog.step + 1,
                          (long long)r->prog.epoch + 1, (long long)k + 1);
  *stop = s.stop, *ckpt_time = s.ckpt_time;
  r->tm.steps++;
  r->prog.step++;
  r->prog.batch = k + 1;
  r->prog.samples += (int64_t)s.rows;
  nn_metrics_step(&r->metrics, &r->prog, r->steps_per_epoch, s.loss / s.rows, r->train.y ? s.correct / s.rows : -1,
                  lr, (int64_t)s.rows);
  return NN_OK;
}

static int evaluate(run *r) {
  double t0 = nn_now();
  nn_eval_result e;
  int rc = nn_evaluate(&r->net, &r->eval, r->X, r->y, r->Y, &e);
  nn_timers_add(&r->tm, NN_T_EVAL, t0, nn_now());
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
  int G = nn_config_exact_chunks(c);
  if (c->train.reduce == NN_REDUCE_EXACT && G < W)
    return NN_FAIL(NN_ECONFIG, "train.reduce = exact with %d chunks per batch (train.exact_chunks = %d%s) cannot use %d "
                               "ranks: set train.exact_chunks to at least %d (bits then differ from runs with %d chunks)",
                   G, c->train.exact_chunks, c->train.exact_chunks ? "" : ": auto, batch_size / 32", W, W, G);
  if (c->train.batch_size < W)
    return NN_FAIL(NN_ECONFIG, "train.batch_size = %d is smaller than the number of ranks (%d): every rank "
                               "needs at least one row of each global batch", c->train.batch_size, W);
  nn_blas_set_threads(c->train.blas_threads);
  nn_dist_set_watchdog(c->train.watchdog_seconds);
  expand_run_dir(c->log.run_dir, r->run_dir, sizeof r->run_dir);
  if (c->checkpoint.dir[0]) expand_run_dir(c->checkpoint.dir, r->ckpt_dir, sizeof r->ckpt_dir);
  else snprintf(r->ckpt_dir, sizeof r->ckpt_dir, "%s/checkpoints", r->run_dir);
  if (nn_dist_rank() == 0) {
    /* the lock comes before anything is written or removed (the stale .tmp clean-up of resume);
     * a checkpoint.dir outside the run directory gets its own */
    struct stat a, b;
    rc = nn_fs_mkdir_p(r->run_dir);
    if (!rc) rc = lock_dir(r, r->run_dir, "log.run_dir", "log.run_dir", &r->lock_fd[0]);
    if (!rc && (rc = nn_fs_mkdir_p(r->ckpt_dir))) rc = nn_fail_prefix(NN_ECKPT, "checkpoint directory: ");
    if (!rc && c->checkpoint.dir[0] &&
        !(stat(r->run_dir, &a) == 0 && stat(r->ckpt_dir, &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino))
      rc = lock_dir(r, r->ckpt_dir, "checkpoint.dir", "checkpoint.dir", &r->lock_fd[1]);
    if (!rc) rc = nn_metrics_open(&r->metrics, r->o->log, r->o->warn, r->o->tty, c, r->run_dir);
    if (!rc && r->lock_warn[0]) nn_metrics_warn(&r->metrics, "%s", r->lock_warn);
    if (!rc && r->o->config_text) rc = nn_fs_write_text(r->run_dir, "config.ini", r->o->config_text);
  } else {
    nn_metrics_open(&r->metrics, NULL, NULL, false, c, NULL);
  }
  if ((rc = nn_dist_agree(rc)) || (rc = nn_dist_hosts())) return rc;
  /* heartbeats in the run directory, when every rank sees it (a shared file system) */
  char hb[NN_PATH_MAX + 16];
  snprintf(hb, sizeof hb, "%s/.ranks", r->run_dir);
  if (nn_dist_size() > 1 && c->train.watchdog_seconds > 0) {
    int seen = nn_dist_set_heartbeat(hb) == 0 ? NN_OK : NN_EIO;
    if (nn_dist_barrier() == NN_OK && seen == NN_OK && !nn_dist_heartbeat_visible()) seen = NN_EIO;
    nn_dist_heartbeat_on(nn_dist_agree(seen) == NN_OK);
  }
  if ((rc = nn_loader_open_config(&r->train, c, "train"))) return rc;
  r->have_eval = c->data.eval[0] && c->train.eval_every > 0;
  if (r->have_eval && (rc = nn_loader_open_config(&r->eval, c, "eval"))) return rc;
  r->sampler = (nn_sampler){.n = r->train.info.n, .held = r->train.rows_held, .batch = c->train.batch_size,
                            .drop_last = c->train.drop_last, .shard = c->data.sampling == NN_SAMPLING_SHARD,
                            .rank = nn_dist_rank(), .world = W, .seed = c->model.seed, .epoch = -1,
                            .perm = malloc(sizeof(uint32_t) * (size_t)(r->train.rows_held + 1))};
  /* workspace: the largest slice of a global batch on any rank, and eval chunks */
  int cap = (int)nn_sampler_max_rows(&r->sampler);
  cap = cap > NN_EVAL_CHUNK ? cap : NN_EVAL_CHUNK;
  rc = nn_net_init(&r->net, &c->model, cap);
  int D = c->model.sizes[0], K = c->model.sizes[c->model.n_sizes - 1];
  r->X = malloc(sizeof(float) * (size_t)cap * (D + K));
  r->y = malloc(sizeof(int32_t) * (size_t)cap);
  r->rows = malloc(sizeof(uint32_t) * (size_t)cap);
  if (!rc && (!r->X || !r->y || !r->sampler.perm || !r->rows))
    rc = NN_FAIL(NN_ENOMEM, "batch buffers for %d rows of %d features", cap, D);
  if (!rc) {
    r->Y = r->X + (size_t)cap * D;
    r->st = (nn_step){.c = c, .net = &r->net, .data = &r->train, .sampler = &r->sampler, .tm = &r->tm,
                      .X = r->X, .Y = r->Y, .y = r->y, .rows = r->rows};
    rc = nn_step_init(&r->st);
  }
  return nn_dist_agree(rc);
}

static void teardown(run *r) {
  nn_step_free(&r->st);
  nn_net_free(&r->net);
  nn_loader_close(&r->train);
  nn_loader_close(&r->eval);
  free(r->X);
  free(r->y);
  free(r->sampler.perm);
  free(r->rows);
  nn_metrics_close(&r->metrics);
  nn_trace_free(&r->trace);
  nn_fs_unlock(r->lock_fd[0]);
  nn_fs_unlock(r->lock_fd[1]);
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
  r->lock_fd[0] = r->lock_fd[1] = -1;
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
    int64_t first, last;
    if (nn_config_trace_steps(c, &first, &last)) {
      rc = nn_trace_init(&r->trace, first, last);
      r->tm.trace = &r->trace;
    }
    r->metrics.sharded = r->st.sharded;
    r->metrics.node_memory = r->st.node;
    nn_metrics_start(&r->metrics, c, &r->train, r->have_eval ? &r->eval : NULL, &r->net, resumed ? r->last_ckpt : NULL,
                     &r->prog, r->steps_per_epoch, r->ckpt_dir);
    if (resumed && finished(r)) nn_metrics_warn(&r->metrics, "training is already complete (step %lld, epoch %lld): nothing to do",
                                                (long long)r->prog.step, (long long)r->prog.epoch);
    else if (!rc) rc = train_loop(r);
    /* replicas must still agree bit for bit: one update rule applied to one reduced gradient */
    if (rc == NN_OK || rc == NN_ESTOPPED) {
      int vr = nn_dist_agree(verify_replicas(&r->net));
      rc = vr ? vr : rc;
    }
    if (r->tm.trace && rc != NN_EPEER) {
      char path[NN_PATH_MAX + 32];
      snprintf(path, sizeof path, "%s/trace.json", r->run_dir);
      int tr = nn_trace_write(&r->trace, path);
      if (tr) nn_metrics_warn(&r->metrics, "%s", nn_errmsg());
      else nn_metrics_note(&r->metrics, "trace: %s (steps %lld-%lld; open in Perfetto or chrome://tracing)", path,
                           (long long)r->trace.first, (long long)r->trace.last);
    }
    r->prog.elapsed = r->elapsed0 + (nn_now() - r->t_start);
    if (rc == NN_OK || rc == NN_ESTOPPED) nn_metrics_summary(&r->metrics, &r->prog, &r->tm, nn_now() - r->t_start);
    else if (rc != NN_EPEER) nn_metrics_failed(&r->metrics, &r->prog, nn_errmsg());
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
