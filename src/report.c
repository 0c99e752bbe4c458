/* report: the state and figures of training runs for `nnmpi report` (see report.h).
 * Layer 5: config (config.ini), checkpoint (newest valid checkpoint), runlog (metrics.jsonl),
 * curves (the overlay). Reads only. */
#define _DEFAULT_SOURCE /* flock */
#include "nnmpi/report.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "curves.h"
#include "fs.h"
#include "nnmpi/checkpoint.h"
#include "nnmpi/status.h"
#include "runlog.h"

/* A run without a lock file counts as running while metrics.jsonl changed this recently (or
 * within 3 times the longest pause between its events, for runs that log less often). */
enum { RECENT_SECONDS = 120, MAX_CONFIG_BYTES = 1 << 20, SHORT_MESSAGE = 52 };

static void note(nn_run_report *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void note(nn_run_report *r, const char *fmt, ...) {
  size_t n = strlen(r->notes);
  if (n + 2 >= sizeof r->notes) return;
  if (n) r->notes[n++] = '\n', r->notes[n] = 0;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(r->notes + n, sizeof r->notes - n, fmt, ap);
  va_end(ap);
}

/* 1 when a live process holds run_dir's lock (the trainer's rank 0 holds it for the whole run),
 * 0 when not, -1 when there is no lock file. A test that takes nothing (nn_fs_lock_held). */
static int run_is_locked(const char *run_dir) {
  char path[NN_PATH_MAX + 16];
  snprintf(path, sizeof path, "%s/nnmpi.lock", run_dir);
  return nn_fs_lock_held(path, NULL, 0);
}

/* ---- config.ini */

typedef struct kv_acc {
  nn_run_report *r;
  bool oom;
} kv_acc;

static void add_kv(const char *section, const char *key, const char *value, void *arg) {
  kv_acc *a = arg;
  nn_run_report *r = a->r;
  nn_run_kv *kv = realloc(r->kv, sizeof *kv * (size_t)(r->n_kv + 1));
  char *v = kv ? malloc(strlen(value) + 1) : NULL;
  if (kv) r->kv = kv;
  if (!v) {
    a->oom = true;
    return;
  }
  strcpy(v, value);
  snprintf(kv[r->n_kv].key, sizeof kv[r->n_kv].key, "%s.%s", section, key);
  kv[r->n_kv++].value = v;
}

static void read_config(nn_run_report *r, nn_config *c) {
  char path[NN_PATH_MAX + 16];
  snprintf(path, sizeof path, "%s/config.ini", r->dir);
  nn_config_defaults(c);
  FILE *f = nn_runlog_open_file(path);
  if (!f) {
    note(r, "config.ini: %s (config keys unknown)", errno == EINVAL ? "not a regular file" : strerror(errno));
    return;
  }
  char *text = malloc(MAX_CONFIG_BYTES + 1);
  size_t n = text ? fread(text, 1, MAX_CONFIG_BYTES, f) : 0;
  bool big = text && n == MAX_CONFIG_BYTES && fgetc(f) != EOF;
  fclose(f);
  if (!text || big || memchr(text, 0, n)) {
    free(text);
    note(r, "config.ini: %s (config keys unknown)", text ? "not a text INI file of at most 1 MiB" : "no memory");
    return;
  }
  text[n] = 0;
  int rc = nn_config_parse(c, text, path);
  free(text);
  if (rc) {
    nn_config_defaults(c);
    note(r, "%s (config keys unknown)", nn_errmsg());
    return;
  }
  kv_acc a = {.r = r};
  nn_config_each(c, add_kv, &a);
  r->config_ok = !a.oom;
}

/* ---- checkpoints */

static bool is_dir(const char *p) {
  struct stat st;
  return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

/* Where the run's checkpoints are: <dir>/checkpoints by default; with checkpoint.dir set, the
 * directory of the last checkpoint the run reported (its placeholders were expanded then), or
 * checkpoint.dir itself. A relative one is relative to where the job ran: tried as given, then
 * next to the run directory (dir without as many trailing components as log.run_dir has). */
static void find_ckpt_dir(nn_run_report *r, const nn_config *c) {
  if (!c->checkpoint.dir[0]) {
    snprintf(r->ckpt_dir, sizeof r->ckpt_dir, "%s/checkpoints", r->dir);
    return;
  }
  char d[NN_PATH_MAX + 16];
  const char *last = r->log->last_ckpt;
  if (last && strrchr(last, '/')) snprintf(d, sizeof d, "%.*s", (int)(strrchr(last, '/') - last), last);
  else if (!strchr(c->checkpoint.dir, '%')) snprintf(d, sizeof d, "%s", c->checkpoint.dir);
  else {
    note(r, "checkpoint.dir %s: no checkpoint reported yet to tell what it expands to", c->checkpoint.dir);
    return;
  }
  if (d[0] == '/' || is_dir(d)) {
    snprintf(r->ckpt_dir, sizeof r->ckpt_dir, "%s", d);
    return;
  }
  int parts = 1;
  for (const char *p = c->log.run_dir; *p; p++) parts += *p == '/' && p[1] && p[1] != '/';
  char base[NN_PATH_MAX];
  snprintf(base, sizeof base, "%s", r->dir);
  for (int i = 0; i < parts; i++) {
    char *slash = strrchr(base, '/');
    while (slash && slash > base && slash[1] == 0) *slash = 0, slash = strrchr(base, '/');
    if (!slash) {
      snprintf(base, sizeof base, ".");
      break;
    }
    *slash = 0;
    if (!base[0]) snprintf(base, sizeof base, "/");
  }
  snprintf(r->ckpt_dir, sizeof r->ckpt_dir, "%s/%s", base, d);
}

static void find_ckpt(nn_run_report *r) {
  if (!r->ckpt_dir[0]) return;
  char skipped[2048];
  if (nn_ckpt_find_latest(r->ckpt_dir, r->ckpt, sizeof r->ckpt, skipped, sizeof skipped) != NN_OK) {
    r->ckpt[0] = 0;
    snprintf(r->ckpt_note, sizeof r->ckpt_note, "none verifies");
    char first[160];
    snprintf(first, sizeof first, "%.*s", (int)strcspn(skipped, "\n"), skipped);
    note(r, "checkpoints in %s: none verifies (%s)", r->ckpt_dir, first[0] ? first : nn_errmsg());
    return;
  }
  int bad = 0;
  for (const char *p = skipped; *p; p++) bad += *p == '\n';
  if (bad) {
    snprintf(r->ckpt_note, sizeof r->ckpt_note, "%d newer do%s not verify", bad, bad == 1 ? "es" : "");
    note(r, "checkpoints: %d newer than %s do%s not verify: %.*s", bad, strrchr(r->ckpt, '/') + 1, bad == 1 ? "es" : "",
         (int)strcspn(skipped, "\n"), skipped);
  }
}

/* ---- state and figures */

static void set_state(nn_run_report *r, nn_run_state s, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void set_state(nn_run_report *r, nn_run_state s, const char *fmt, ...) {
  r->state = s;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(r->state_text, sizeof r->state_text, fmt, ap);
  va_end(ap);
}

/* The first line of msg cut to at most n bytes, with "..." when cut: at the last "; " if there
 * is one in the second half, else at the last space, else at a UTF-8 character boundary. */
static void shorten(char *out, size_t cap, const char *msg, size_t n) {
  size_t len = strcspn(msg, "\n");
  if (len <= n) {
    snprintf(out, cap, "%.*s", (int)len, msg);
    return;
  }
  size_t cut = 0, space = 0;
  for (size_t i = n / 2; i < n; i++) {
    if (msg[i] == ';') cut = i;
    if (msg[i] == ' ') space = i;
  }
  if (!cut) cut = space;
  if (!cut)
    for (cut = n; cut > 0 && ((unsigned char)msg[cut] & 0xC0) == 0x80;) cut--;
  snprintf(out, cap, "%.*s...", (int)cut, msg);
}

static void state(nn_run_report *r, const nn_config *c, double mtime, double now) {
  const nn_runlog *rl = r->log;
  int lock = run_is_locked(r->dir);
  double window = RECENT_SECONDS;
  if (rl->n_seg && 3 * rl->seg[rl->n_seg - 1].max_gap > window) window = 3 * rl->seg[rl->n_seg - 1].max_gap;
  bool recent = now - mtime < window;
  if (lock == 1) {
    set_state(r, NN_RUN_RUNNING, "running");
    return;
  }
  if (!rl->n_seg) {
    if (lock < 0 && recent) {
      set_state(r, NN_RUN_RUNNING_GUESS, "running? (starting)");
      return;
    }
    set_state(r, NN_RUN_FAILED, "failed before training started (see the job's output)");
    return;
  }
  const nn_rl_segment *s = &rl->seg[rl->n_seg - 1];
  char msg[SHORT_MESSAGE + 8];
  switch (s->end) {
  case NN_RL_FAILED:
    r->message = malloc(strlen(s->message ? s->message : "") + 1);
    if (r->message) strcpy(r->message, s->message ? s->message : "");
    shorten(msg, sizeof msg, s->message ? s->message : "", SHORT_MESSAGE);
    set_state(r, NN_RUN_FAILED, "failed: %s", msg);
    return;
  case NN_RL_STOPPED: set_state(r, NN_RUN_STOPPED, "stopped (resume me)"); return;
  case NN_RL_DONE: {
    int64_t max_steps = r->config_ok ? c->train.max_steps : 0;
    bool complete = (r->epochs > 0 && s->summary_epoch >= r->epochs) || (max_steps > 0 && s->step >= max_steps);
    if (complete) {
      set_state(r, NN_RUN_FINISHED, "finished");
      return;
    }
    set_state(r, NN_RUN_STOPPED, "stopped (resume me)");
    return;
  }
  case NN_RL_OPEN: break;
  }
  if (lock < 0 && recent) {
    set_state(r, NN_RUN_RUNNING_GUESS, "running? (no lock file)");
    return;
  }
  set_state(r, NN_RUN_FAILED, "failed: killed or crashed (no end event)");
}

/* Throughput: for a running segment the mean of its last 5 step events without an evaluation
 * or checkpoint in their interval, else samples over training-step time summed over the
 * segments' summaries. */
static void throughput(nn_run_report *r) {
  const nn_runlog *rl = r->log;
  r->samples_per_s = NAN;
  if (!rl->n_seg) return;
  const nn_rl_segment *s = &rl->seg[rl->n_seg - 1];
  if (s->end == NN_RL_OPEN && (r->state == NN_RUN_RUNNING || r->state == NN_RUN_RUNNING_GUESS)) {
    double sum = 0;
    int k = 0;
    for (int i = rl->n_pts - 1; i >= 0 && k < 5 && rl->pts[i].step > (double)s->step0; i--)
      if (isfinite(rl->pts[i].sps) && !rl->pts[i].pause) sum += rl->pts[i].sps, k++;
    if (k) r->samples_per_s = sum / k, r->samples_per_s_live = true;
    return;
  }
  double samples = 0, seconds = 0;
  for (int i = 0; i < rl->n_seg; i++) {
    const nn_rl_segment *q = &rl->seg[i];
    if (q->summary && q->sps > 0 && q->samples_this_run > 0)
      samples += (double)q->samples_this_run, seconds += (double)q->samples_this_run / q->sps;
  }
  if (seconds > 0) r->samples_per_s = samples / seconds;
}

static void figures(nn_run_report *r, const nn_config *c) {
  const nn_runlog *rl = r->log;
  r->train_seconds = r->epochs_done = NAN;
  r->last_metric = r->best_metric = r->last_eval_loss = NAN;
  for (int i = 0; i < NN_RUN_STEP_PHASES; i++) r->step_share[i] = NAN;
  for (int i = 0; i < 7; i++) r->phase_seconds[i] = NAN;
  r->segments = rl->n_seg;
  r->last_time = rl->last_time;
  r->epochs = r->config_ok ? c->train.epochs : 0;
  if (!rl->n_seg) return;
  const nn_rl_segment *s = &rl->seg[rl->n_seg - 1];
  if (!r->epochs) r->epochs = s->epochs;
  r->ranks = s->ranks;
  size_t len = 0;
  for (int i = 0, prev = -1; i < rl->n_seg && len < sizeof r->ranks_text; i++) {
    if (rl->seg[i].ranks == prev) continue;
    len += (size_t)snprintf(r->ranks_text + len, sizeof r->ranks_text - len, "%s%d", prev < 0 ? "" : ",",
                            rl->seg[i].ranks);
    prev = rl->seg[i].ranks;
  }
  r->step = s->step;
  if (s->steps_per_epoch > 0) {
    r->epochs_done = (double)s->step / (double)s->steps_per_epoch;
    if (r->epochs > 0 && s->steps_per_epoch <= INT64_MAX / r->epochs) r->total_steps = s->steps_per_epoch * r->epochs;
  }
  if (r->config_ok && c->train.max_steps > 0 && (!r->total_steps || c->train.max_steps < r->total_steps))
    r->total_steps = c->train.max_steps;
  for (int i = 0; i + 1 < rl->n_seg; i++) {
    r->killed_segments += rl->seg[i].end == NN_RL_OPEN;
    r->failed_segments += rl->seg[i].end == NN_RL_FAILED;
  }

  /* evaluation: last and best */
  r->metric = rl->metric == NN_RL_ACCURACY ? 1 : rl->metric == NN_RL_MSE ? 2 : 0;
  for (int i = 0; i < rl->n_evals; i++) {
    const nn_rl_eval *e = &rl->evals[i];
    if (!isfinite(e->metric)) continue;
    r->n_evals++;
    r->last_metric = e->metric, r->last_metric_epoch = e->epoch, r->last_eval_loss = e->loss;
    bool better = r->metric == 1 ? e->metric > r->best_metric : e->metric < r->best_metric;
    if (isnan(r->best_metric) || better) r->best_metric = e->metric, r->best_metric_epoch = e->epoch;
  }

  /* time: training seconds per the last summary (it sums all segments), plus the open segment */
  double before = 0;
  int last_summary = -1;
  for (int i = 0; i < rl->n_seg; i++)
    if (rl->seg[i].summary && isfinite(rl->seg[i].elapsed)) last_summary = i;
  if (last_summary >= 0) before = rl->seg[last_summary].elapsed;
  if (last_summary == rl->n_seg - 1) r->train_seconds = before;
  else r->train_seconds = before + (s->t_last - s->t_start);

  /* time split of the last summary */
  for (int i = rl->n_seg - 1; i >= 0; i--) {
    const nn_rl_segment *q = &rl->seg[i];
    if (!q->has_phases) continue;
    double step_t = 0;
    for (int p = 0; p < NN_RUN_STEP_PHASES; p++) step_t += q->phase[p];
    for (int p = 0; p < NN_RUN_STEP_PHASES && step_t > 0; p++) r->step_share[p] = q->phase[p] / step_t;
    for (int p = 0; p < 7; p++) r->phase_seconds[p] = q->phase[p];
    break;
  }
}

int nn_report_read(const char *dir, double now, nn_run_report *r) {
  memset(r, 0, sizeof *r);
  snprintf(r->dir, sizeof r->dir, "%s", dir);
  snprintf(r->name, sizeof r->name, "%s", dir);
  if (!(r->log = calloc(1, sizeof *r->log))) return NN_FAIL(NN_ENOMEM, "%s: no memory", dir);
  struct stat st;
  if (stat(dir, &st) != 0) return NN_FAIL(NN_EIO, "%s: %s", dir, strerror(errno));
  if (!S_ISDIR(st.st_mode)) return NN_FAIL(NN_EIO, "%s: not a directory (expected a run directory)", dir);
  char path[NN_PATH_MAX + 16];
  snprintf(path, sizeof path, "%s/metrics.jsonl", dir);
  if (stat(path, &st) != 0)
    return NN_FAIL(NN_EIO, "%s: no metrics.jsonl (%s): not a run directory, or its run has not started", dir,
                   strerror(errno));
  int rc = nn_runlog_read(path, r->log);
  if (rc) return rc;
  const nn_runlog *rl = r->log;
  if (rl->bad_lines)
    note(r, "metrics.jsonl: %lld line(s) skipped that are not JSON objects (first: line %lld)",
         (long long)rl->bad_lines, (long long)rl->first_bad);
  if (rl->oom) note(r, "metrics.jsonl: out of memory, curves incomplete");
  nn_config *c = malloc(sizeof *c);
  if (!c) return NN_FAIL(NN_ENOMEM, "%s: no memory", dir);
  read_config(r, c);
  figures(r, c);
  state(r, c, (double)st.st_mtime, now);
  throughput(r);
  find_ckpt_dir(r, c);
  find_ckpt(r);
  free(c);
  return NN_OK;
}

void nn_report_free(nn_run_report *r) {
  for (int i = 0; i < r->n_kv; i++) free(r->kv[i].value);
  free(r->kv);
  free(r->message);
  if (r->log) nn_runlog_free(r->log);
  free(r->log);
  r->kv = NULL, r->n_kv = 0, r->message = NULL, r->log = NULL;
}

/* ---- comparing runs */

void nn_report_names(nn_run_report *runs, int n) {
  /* the directories without trailing slashes, then the longest common prefix ending in '/' */
  for (int i = 0; i < n; i++) {
    size_t len = strlen(runs[i].dir);
    while (len > 1 && runs[i].dir[len - 1] == '/') len--;
    snprintf(runs[i].name, sizeof runs[i].name, "%.*s", (int)len, runs[i].dir);
  }
  if (n == 0) return;
  size_t common = 0;
  if (n == 1) {
    const char *slash = strrchr(runs[0].name, '/');
    common = slash && slash[1] ? (size_t)(slash - runs[0].name) + 1 : 0;
  } else {
    size_t k = 0;
    for (;; k++) {
      char ch = runs[0].name[k];
      bool same = ch != 0;
      for (int i = 1; i < n && same; i++) same = runs[i].name[k] == ch;
      if (!same) break;
      if (ch == '/') common = k + 1;
    }
  }
  for (int i = 0; i < n; i++) {
    if (!runs[i].name[common]) continue; /* the same dir twice: keep it whole */
    memmove(runs[i].name, runs[i].name + common, strlen(runs[i].name + common) + 1);
  }
}

const char *nn_report_value(const nn_run_report *r, const char *key) {
  for (int i = 0; i < r->n_kv; i++)
    if (!strcmp(r->kv[i].key, key)) return r->kv[i].value;
  return "?";
}

int nn_report_diff(const nn_run_report *runs, int n, const char **keys, int cap) {
  const nn_run_report *first = NULL;
  int count = 0;
  for (int i = 0; i < n && !first; i++)
    if (runs[i].config_ok) first = &runs[i];
  if (!first) return 0;
  for (int k = 0; k < first->n_kv && count < cap; k++) {
    const char *key = first->kv[k].key;
    if (!strcmp(key, "log.run_dir")) continue;
    bool differ = false;
    for (int i = 0; i < n && !differ; i++)
      differ = runs[i].config_ok && strcmp(nn_report_value(&runs[i], key), first->kv[k].value) != 0;
    if (differ) keys[count++] = key;
  }
  return count;
}

int nn_report_svg(const nn_run_report *runs, int n, const char *const *keys, int n_keys, const char *path) {
  nn_curves_run *cr = calloc((size_t)(n > 0 ? n : 1), sizeof *cr);
  char **labels = calloc((size_t)(n > 0 ? n : 1), sizeof *labels);
  int rc = cr && labels ? NN_OK : NN_FAIL(NN_ENOMEM, "%s: no memory", path);
  for (int i = 0; i < n && rc == NN_OK; i++) {
    size_t cap = strlen(runs[i].name) + 1;
    for (int k = 0; k < n_keys; k++) cap += strlen(keys[k]) + strlen(nn_report_value(&runs[i], keys[k])) + 3;
    if (!(labels[i] = malloc(cap))) {
      rc = NN_FAIL(NN_ENOMEM, "%s: no memory", path);
      break;
    }
    size_t len = (size_t)snprintf(labels[i], cap, "%s", runs[i].name);
    for (int k = 0; k < n_keys; k++)
      len += (size_t)snprintf(labels[i] + len, cap - len, "%s%s=%s", k ? " " : ": ", keys[k],
                              nn_report_value(&runs[i], keys[k]));
    cr[i] = (nn_curves_run){.label = labels[i], .log = runs[i].log};
  }
  if (rc == NN_OK) {
    char title[96];
    snprintf(title, sizeof title, "learning curves of %d run%s", n, n == 1 ? "" : "s");
    rc = nn_curves_write_svg(path, title, cr, n);
  }
  for (int i = 0; labels && i < n; i++) free(labels[i]);
  free(labels), free(cr);
  return rc;
}
