/* runlog: metrics.jsonl back into series and segments (see runlog.h). Layer 5; libc only. */
#include "runlog.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "json.h"
#include "nnmpi/status.h"

const char *const nn_rl_phase_names[NN_RL_PHASES] = {"data",      "forward", "backward",  "allreduce",
                                                     "optimizer", "eval",    "checkpoint"};

/* Room for one more element of *arr (n used of *cap); false when memory ran out. */
static bool grow(void **arr, int n, int *cap, size_t size) {
  if (n < *cap) return true;
  int c = *cap ? 2 * *cap : 64;
  void *p = realloc(*arr, (size_t)c * size);
  if (!p) return false;
  *arr = p, *cap = c;
  return true;
}

static char *copy_text(const char *s) {
  size_t n = strlen(s) + 1;
  char *d = malloc(n);
  if (d) memcpy(d, s, n);
  return d;
}

static void set_ckpt(nn_runlog *rl, const char *path) {
  if (!path || !*path) return;
  char *d = copy_text(path);
  if (!d) {
    rl->oom = true;
    return;
  }
  free(rl->last_ckpt);
  rl->last_ckpt = d;
}

/* Whole numbers of a line, which may hold anything: non-finite becomes def, the rest is clamped
 * to [0, 2^50] (counts; converting a larger double would be undefined). */
static int64_t count(const nn_json_obj *o, const char *key, int64_t def) {
  double v = nn_json_num(o, key, NAN);
  if (!isfinite(v)) return def;
  return v < 0 ? 0 : v > 0x1p50 ? (int64_t)1 << 50 : (int64_t)v;
}

static int small(const nn_json_obj *o, const char *key, int def) {
  int64_t v = count(o, key, def);
  return v > 1000000000 ? 1000000000 : (int)v;
}

static void on_start(nn_runlog *rl, const nn_json_obj *o, double t) {
  if (!grow((void **)&rl->seg, rl->n_seg, &rl->cap_seg, sizeof *rl->seg)) {
    rl->oom = true;
    return;
  }
  nn_rl_segment *s = &rl->seg[rl->n_seg++];
  memset(s, 0, sizeof *s);
  s->t_start = s->t_last = t;
  s->step0 = s->step = count(o, "step", 0);
  s->epoch0 = count(o, "epoch", 0);
  s->summary_epoch = -1;
  s->epochs = small(o, "epochs", 0);
  s->steps_per_epoch = count(o, "steps_per_epoch", 0);
  s->ranks = small(o, "ranks", 0);
  s->nodes = small(o, "nodes", 0);
  s->batch_size = small(o, "batch_size", 0);
  const nn_json_field *r = nn_json_get(o, "resumed");
  s->resumed = r && r->type == NN_JSON_BOOL && r->num != 0;
  s->sps_last = NAN;
  /* this segment continues from step0: what earlier segments logged after it was redone */
  while (rl->n_pts && rl->pts[rl->n_pts - 1].step > (double)s->step0) rl->n_pts--;
  while (rl->n_evals && rl->evals[rl->n_evals - 1].step > (double)s->step0) rl->n_evals--;
}

static void on_summary(nn_rl_segment *s, const nn_json_obj *o) {
  s->summary = true;
  if (s->end != NN_RL_STOPPED && s->end != NN_RL_FAILED) s->end = NN_RL_DONE;
  s->summary_epoch = count(o, "epoch", -1);
  s->samples_this_run = count(o, "samples_this_run", 0);
  s->steps_this_run = count(o, "steps_this_run", 0);
  s->wall = nn_json_num(o, "wall", NAN);
  s->elapsed = nn_json_num(o, "elapsed", NAN);
  s->sps = nn_json_num(o, "samples_per_s", NAN);
  s->has_phases = true;
  for (int i = 0; i < NN_RL_PHASES; i++) {
    s->phase[i] = nn_json_num(o, nn_rl_phase_names[i], NAN);
    if (!isfinite(s->phase[i])) s->has_phases = false;
  }
}

/* One complete line. */
static void line(nn_runlog *rl, nn_json_obj *o, const char *text, size_t len) {
  rl->lines++;
  if (!nn_json_parse(text, len, o)) {
    if (len == 0 || (len == 1 && text[0] == '\r')) return; /* blank lines are not damage */
    if (!rl->bad_lines++) rl->first_bad = rl->lines;
    return;
  }
  const char *ev = nn_json_str(o, "event");
  if (!ev) return;
  double t = nn_json_num(o, "time", 0), step = nn_json_num(o, "step", NAN);
  if (!(step >= 0 && step <= 0x1p50)) step = NAN; /* not a step count: the point is not used */
  snprintf(rl->last_event, sizeof rl->last_event, "%s", ev);
  if (t > 0) rl->last_time = t;
  if (!strcmp(ev, "start")) {
    on_start(rl, o, t);
    return;
  }
  if (!rl->n_seg) return; /* before any start event: no segment to put it in */
  nn_rl_segment *s = &rl->seg[rl->n_seg - 1];
  if (t > 0 && t - s->t_last > s->max_gap) s->max_gap = t - s->t_last;
  if (t > 0) s->t_last = t;
  if (isfinite(step)) s->step = (int64_t)step;
  if (!strcmp(ev, "step")) {
    if (!isfinite(step)) return;
    if (!grow((void **)&rl->pts, rl->n_pts, &rl->cap_pts, sizeof *rl->pts)) {
      rl->oom = true;
      return;
    }
    double acc = nn_json_num(o, "acc", NAN);
    nn_rl_point p = {.step = step,
                     .time = t,
                     .loss = nn_json_num(o, "loss", NAN),
                     .acc = acc >= 0 ? acc : NAN,
                     .sps = nn_json_num(o, "samples_per_s", NAN)};
    p.pause = s->pause;
    s->pause = false;
    rl->pts[rl->n_pts++] = p;
    s->sps_last = p.sps;
  } else if (!strcmp(ev, "eval")) {
    if (!isfinite(step)) return;
    double acc = nn_json_num(o, "accuracy", NAN), mse = nn_json_num(o, "mse", NAN);
    const nn_json_field *fa = nn_json_get(o, "accuracy");
    nn_rl_metric kind = fa ? NN_RL_ACCURACY : nn_json_get(o, "mse") ? NN_RL_MSE : NN_RL_METRIC_NONE;
    if (kind != NN_RL_METRIC_NONE) rl->metric = kind;
    if (!grow((void **)&rl->evals, rl->n_evals, &rl->cap_evals, sizeof *rl->evals)) {
      rl->oom = true;
      return;
    }
    s->pause = true;
    rl->evals[rl->n_evals++] = (nn_rl_eval){.step = step,
                                            .epoch = nn_json_num(o, "epoch", NAN),
                                            .time = t,
                                            .loss = nn_json_num(o, "loss", NAN),
                                            .metric = kind == NN_RL_ACCURACY ? acc : mse};
  } else if (!strcmp(ev, "checkpoint")) {
    s->pause = true;
    set_ckpt(rl, nn_json_str(o, "path"));
  } else if (!strcmp(ev, "stopped")) {
    s->end = NN_RL_STOPPED;
    set_ckpt(rl, nn_json_str(o, "checkpoint"));
  } else if (!strcmp(ev, "failed")) {
    s->end = NN_RL_FAILED;
    const char *m = nn_json_str(o, "message");
    free(s->message);
    s->message = copy_text(m ? m : "(no message)");
  } else if (!strcmp(ev, "summary")) {
    on_summary(s, o);
  }
  /* other events: newer versions may add some; they only move last_event and the times */
}

void nn_runlog_parse(nn_runlog *rl, const char *text, size_t len) {
  nn_json_obj o = {0};
  size_t pos = 0;
  while (pos < len) {
    const char *nl = memchr(text + pos, '\n', len - pos);
    if (!nl) {
      rl->partial = true;
      break;
    }
    size_t n = (size_t)(nl - (text + pos));
    line(rl, &o, text + pos, n);
    pos += n + 1;
  }
  nn_json_free(&o);
}

/* path opened for reading if it is a regular file; a FIFO or device never blocks the reader
 * (O_NONBLOCK, then fstat). NULL with errno set otherwise (EINVAL: not a regular file). */
FILE *nn_runlog_open_file(const char *path) {
  int fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
  struct stat st;
  if (fd < 0) return NULL;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    int e = S_ISREG(st.st_mode) ? errno : EINVAL;
    close(fd);
    errno = e;
    return NULL;
  }
  FILE *f = fdopen(fd, "rb");
  if (!f) close(fd);
  return f;
}

int nn_runlog_read(const char *path, nn_runlog *rl) {
  memset(rl, 0, sizeof *rl);
  FILE *f = nn_runlog_open_file(path);
  if (!f && errno == EINVAL) return NN_FAIL(NN_EIO, "%s: not a regular file", path);
  if (!f) return NN_FAIL(NN_EIO, "%s: %s", path, strerror(errno));
  size_t n = 0, cap = 1 << 16;
  char *buf = malloc(cap);
  int rc = buf ? NN_OK : NN_FAIL(NN_ENOMEM, "%s: no memory to read it", path);
  while (rc == NN_OK) {
    if (n == cap) {
      char *b = realloc(buf, cap *= 2);
      if (!b) {
        rc = NN_FAIL(NN_ENOMEM, "%s: no memory for %zu bytes", path, cap);
        break;
      }
      buf = b;
    }
    size_t got = fread(buf + n, 1, cap - n, f);
    n += got;
    if (got == 0) {
      if (ferror(f)) rc = NN_FAIL(NN_EIO, "%s: read error: %s", path, strerror(errno));
      break;
    }
  }
  fclose(f);
  if (rc == NN_OK) nn_runlog_parse(rl, buf, n);
  free(buf);
  return rc;
}

void nn_runlog_free(nn_runlog *rl) {
  for (int i = 0; i < rl->n_seg; i++) free(rl->seg[i].message);
  free(rl->pts), free(rl->evals), free(rl->seg), free(rl->last_ckpt);
  memset(rl, 0, sizeof *rl);
}

int64_t nn_runlog_last_step(const nn_runlog *rl) { return rl->n_seg ? rl->seg[rl->n_seg - 1].step : 0; }
