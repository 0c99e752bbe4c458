/* cmd_report: `nnmpi report RUN_DIR...` — a table of training runs (state, progress,
 * evaluation, throughput, time split, newest valid checkpoint, segments, and the config keys
 * that differ between them) and one SVG overlaying their learning curves. Layer 6: report;
 * one process, no MPI; prints the table (stdout) and unreadable run directories (stderr). */
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "nnmpi/report.h"
#include "nnmpi/status.h"

static const char usage[] =
    "usage: nnmpi report [--svg FILE | --no-svg] [--csv] RUN_DIR...\n"
    "\n"
    "Compares training runs and follows runs in progress: one row per run directory (log.run_dir:\n"
    "config.ini, metrics.jsonl, checkpoints/), and one SVG overlaying their learning curves. Works on\n"
    "a sweep (runs/sweep-<id>/*), on a chain of requeued segments, and on a run still training (only\n"
    "complete lines of metrics.jsonl are read). Reads only; one process, no MPI.\n"
    "\n"
    "  --svg FILE   write the overlaid learning curves to FILE (default: nnmpi-report.svg)\n"
    "  --no-svg     write no SVG\n"
    "  --csv        print the table as CSV (every column, full values) instead of aligned text\n"
    "  -h, --help   this text\n"
    "\n"
    "columns: run (directory without the prefix all share), the config keys that differ between the\n"
    "runs, state, ranks (per segment when they changed: 1,2), step (done/planned), epoch\n"
    "(done/planned), last and best evaluation (accuracy or MSE; ep = epoch), samples/s (training\n"
    "steps; for a running segment its recent rate), time (training time over all segments), split\n"
    "(largest shares of the step time: data, fwd, bwd, allreduce, optim), checkpoint (newest that\n"
    "verifies), segments (starts: 2 or more for resumed or requeued runs), updated (age of the last\n"
    "event).\n"
    "states: running (a live process holds the run's lock), running? (no lock file, no end event,\n"
    "metrics.jsonl changed in the last 2 minutes, or 3 times the longest pause between its events),\n"
    "finished, stopped (resume me) (exit 75 after a checkpoint, or ended before training was\n"
    "complete: run the same command again), failed: MESSAGE, failed: killed or crashed (no end event\n"
    "and no process).\n"
    "\n"
    "exit codes: 0 every run directory read, 1 some could not be read (each named on stderr; the\n"
    "others are still reported), 2 usage error. See docs/operations.md.\n";

/* ---- formatting */

static void fmt_rate(char *b, size_t cap, double v) {
  if (!isfinite(v)) snprintf(b, cap, "-");
  else if (v < 1e3) snprintf(b, cap, "%.0f", v);
  else if (v < 1e6) snprintf(b, cap, "%.1fk", v / 1e3);
  else snprintf(b, cap, "%.2fM", v / 1e6);
}

static void fmt_duration(char *b, size_t cap, double s) {
  if (!isfinite(s) || s < 0) snprintf(b, cap, "-");
  else if (s < 60) snprintf(b, cap, "%.0fs", s);
  else if (s < 3600) snprintf(b, cap, "%dm%02ds", (int)(s / 60), (int)fmod(s, 60));
  else if (s < 100 * 3600) snprintf(b, cap, "%dh%02dm", (int)(s / 3600), (int)fmod(s / 60, 60));
  else snprintf(b, cap, "%.0fh", s / 3600);
}

static void fmt_age(char *b, size_t cap, double t, double now) {
  double a = now - t;
  if (t <= 0) snprintf(b, cap, "-");
  else if (a < 120) snprintf(b, cap, "%.0fs ago", a < 0 ? 0 : a);
  else if (a < 2 * 3600) snprintf(b, cap, "%.0fm ago", a / 60);
  else if (a < 2 * 86400) snprintf(b, cap, "%.0fh ago", a / 3600);
  else snprintf(b, cap, "%.0fd ago", a / 86400);
}

static void fmt_count(char *b, size_t cap, double v) {
  if (!isfinite(v)) snprintf(b, cap, "?");
  else if (fabs(v - round(v)) < 0.05) snprintf(b, cap, "%.0f", round(v));
  else snprintf(b, cap, "%.1f", v);
}

static void fmt_metric(char *b, size_t cap, int metric, double v, double epoch, bool with_epoch) {
  char e[32] = "";
  if (with_epoch && isfinite(epoch)) snprintf(e, sizeof e, " ep %g", epoch);
  if (!isfinite(v)) snprintf(b, cap, "-");
  else if (metric == 1) snprintf(b, cap, "acc %.2f%%%s", 100 * v, e);
  else snprintf(b, cap, "mse %.4g%s", v, e);
}

static const char *const split_names[NN_RUN_STEP_PHASES] = {"data", "fwd", "bwd", "allreduce", "optim"};

/* The three largest shares of the step time, largest first: "bwd 59% fwd 33% optim 6%". */
static void fmt_split(char *b, size_t cap, const nn_run_report *r) {
  int order[NN_RUN_STEP_PHASES];
  size_t n = 0;
  b[0] = 0;
  for (int i = 0; i < NN_RUN_STEP_PHASES; i++) order[i] = i;
  for (int i = 0; i < NN_RUN_STEP_PHASES; i++)
    for (int j = i + 1; j < NN_RUN_STEP_PHASES; j++)
      if (r->step_share[order[j]] > r->step_share[order[i]]) {
        int t = order[i];
        order[i] = order[j], order[j] = t;
      }
  for (int i = 0; i < 3 && n < cap; i++) {
    double v = r->step_share[order[i]];
    if (!isfinite(v)) break;
    n += (size_t)snprintf(b + n, cap - n, "%s%s %.0f%%", i ? " " : "", split_names[order[i]], 100 * v);
  }
  if (!b[0]) snprintf(b, cap, "-");
}

static void fmt_segments(char *b, size_t cap, const nn_run_report *r) {
  size_t n = (size_t)snprintf(b, cap, "%d", r->segments);
  if (r->killed_segments || r->failed_segments) {
    n += (size_t)snprintf(b + n, cap - n, " (");
    if (r->killed_segments) n += (size_t)snprintf(b + n, cap - n, "%d killed", r->killed_segments);
    if (r->failed_segments)
      n += (size_t)snprintf(b + n, cap - n, "%s%d failed", r->killed_segments ? ", " : "", r->failed_segments);
    snprintf(b + n, cap - n, ")");
  }
}

/* ---- the table: cells of text, columns aligned by their display width (UTF-8 characters) */

enum { MAX_COLS = 64, CELL = NN_PATH_MAX + 64 };

typedef struct table {
  int rows, cols; /* rows includes the header */
  char **cell;    /* rows x cols, malloc'ed strings */
  bool right[MAX_COLS];
} table;

static size_t width(const char *s) {
  size_t w = 0;
  for (; *s; s++) w += ((unsigned char)*s & 0xC0) != 0x80;
  return w;
}

static int put(table *t, int row, int col, const char *text) {
  char **c = &t->cell[row * t->cols + col];
  free(*c);
  *c = malloc(strlen(text) + 1);
  if (!*c) return NN_FAIL(NN_ENOMEM, "report: no memory for the table");
  strcpy(*c, text);
  return NN_OK;
}

static void print_text(const table *t) {
  size_t w[MAX_COLS] = {0};
  for (int r = 0; r < t->rows; r++)
    for (int c = 0; c < t->cols; c++) {
      size_t x = width(t->cell[r * t->cols + c]);
      if (x > w[c]) w[c] = x;
    }
  for (int r = 0; r < t->rows; r++) {
    for (int c = 0; c < t->cols; c++) {
      const char *s = t->cell[r * t->cols + c];
      size_t pad = w[c] - width(s);
      bool last = c == t->cols - 1;
      if (t->right[c] && r > 0) printf("%*s%s", (int)pad, "", s);
      else printf("%s%*s", s, last ? 0 : (int)pad, "");
      if (!last) fputs("  ", stdout);
    }
    putchar('\n');
  }
}

static void csv_field(const char *s, bool last) {
  if (strpbrk(s, ",\"\n\r")) {
    putchar('"');
    for (; *s; s++) {
      if (*s == '"') putchar('"');
      putchar(*s);
    }
    putchar('"');
  } else {
    fputs(s, stdout);
  }
  putchar(last ? '\n' : ',');
}

/* One row of cells for run r: the text table shows short forms, the CSV full values. */
static int fill_row(table *t, int row, const nn_run_report *r, const char **keys, int n_keys, bool csv, double now) {
  char b[CELL], b2[64];
  int col = 0, rc = NN_OK;
#define CELLF(...) (snprintf(b, sizeof b, __VA_ARGS__), rc = rc ? rc : put(t, row, col++, b))
  CELLF("%s", r->name);
  if (csv) CELLF("%s", r->dir);
  for (int k = 0; k < n_keys; k++) CELLF("%s", nn_report_value(r, keys[k]));
  if (csv) {
    CELLF("%s", r->state == NN_RUN_RUNNING         ? "running"
                : r->state == NN_RUN_RUNNING_GUESS ? "running?"
                : r->state == NN_RUN_FINISHED      ? "finished"
                : r->state == NN_RUN_STOPPED       ? "stopped"
                                                   : "failed");
    CELLF("%s", r->message ? r->message : r->state_text);
  } else {
    CELLF("%s", r->state_text);
  }
  CELLF("%s", r->ranks_text[0] ? r->ranks_text : "-");
  if (csv) {
    CELLF("%lld", (long long)r->step);
    CELLF("%lld", (long long)r->total_steps);
    fmt_count(b2, sizeof b2, r->epochs_done);
    CELLF("%s", isfinite(r->epochs_done) ? b2 : "");
    CELLF("%d", r->epochs);
    CELLF("%s", r->metric == 1 ? "accuracy" : r->metric == 2 ? "mse" : "");
#define NUM(v) (isfinite(v) ? CELLF("%.6g", (v)) : CELLF("%s", ""))
    NUM(r->last_metric);
    NUM(r->n_evals ? r->last_metric_epoch : NAN);
    NUM(r->best_metric);
    NUM(r->n_evals ? r->best_metric_epoch : NAN);
    NUM(r->last_eval_loss);
    NUM(r->samples_per_s);
    NUM(r->train_seconds);
    for (int p = 0; p < NN_RUN_STEP_PHASES; p++) NUM(r->step_share[p]);
    CELLF("%s", r->ckpt);
    CELLF("%d", r->segments);
    CELLF("%d", r->killed_segments);
    CELLF("%d", r->failed_segments);
    if (r->last_time > 0) CELLF("%.3f", r->last_time);
    else CELLF("%s", "");
    CELLF("%s", r->notes);
#undef NUM
  } else {
    if (r->total_steps > 0) CELLF("%lld/%lld", (long long)r->step, (long long)r->total_steps);
    else CELLF("%lld", (long long)r->step);
    fmt_count(b2, sizeof b2, r->epochs_done);
    if (r->epochs > 0) CELLF("%s/%d", b2, r->epochs);
    else CELLF("%s", b2);
    fmt_metric(b, sizeof b, r->metric, r->last_metric, r->last_metric_epoch, false);
    rc = rc ? rc : put(t, row, col++, b);
    fmt_metric(b, sizeof b, r->metric, r->best_metric, r->best_metric_epoch, true);
    rc = rc ? rc : put(t, row, col++, b);
    fmt_rate(b, sizeof b, r->samples_per_s);
    rc = rc ? rc : put(t, row, col++, b);
    fmt_duration(b, sizeof b, r->train_seconds);
    rc = rc ? rc : put(t, row, col++, b);
    fmt_split(b, sizeof b, r);
    rc = rc ? rc : put(t, row, col++, b);
    const char *base = strrchr(r->ckpt, '/');
    CELLF("%s%s%s%s",
          r->ckpt[0]        ? (base ? base + 1 : r->ckpt)
          : r->ckpt_note[0] ? ""
                            : "none",
          r->ckpt[0] && r->ckpt_note[0] ? " (" : "", r->ckpt_note, r->ckpt[0] && r->ckpt_note[0] ? ")" : "");
    fmt_segments(b, sizeof b, r);
    rc = rc ? rc : put(t, row, col++, b);
    fmt_age(b, sizeof b, r->last_time, now);
    rc = rc ? rc : put(t, row, col++, b);
  }
#undef CELLF
  return rc;
}

static const char *const text_head[] = {"state",     "ranks", "step",  "epoch",      "last eval", "best eval",
                                        "samples/s", "time",  "split", "checkpoint", "segments",  "updated"};
static const bool text_right[] = {false, true, true, true, false, false, true, true, false, false, false, false};
static const char *const csv_head[] = {"state",           "state_text",
                                       "ranks",           "step",
                                       "total_steps",     "epochs_done",
                                       "epochs",          "metric",
                                       "last_metric",     "last_metric_epoch",
                                       "best_metric",     "best_metric_epoch",
                                       "last_eval_loss",  "samples_per_s",
                                       "train_seconds",   "share_data",
                                       "share_forward",   "share_backward",
                                       "share_allreduce", "share_optimizer",
                                       "checkpoint",      "segments",
                                       "killed_segments", "failed_segments",
                                       "last_event_time", "notes"};

static int print_table(const nn_run_report *runs, int n, bool csv, double now) {
  const char *keys[MAX_COLS / 2];
  int n_keys = nn_report_diff(runs, n, keys, (int)(sizeof keys / sizeof keys[0]));
  int n_fixed = csv ? (int)(sizeof csv_head / sizeof csv_head[0]) : (int)(sizeof text_head / sizeof text_head[0]);
  table t = {.rows = n + 1, .cols = 1 + (csv ? 1 : 0) + n_keys + n_fixed};
  if (t.cols > MAX_COLS) return NN_FAIL(NN_EINTERNAL, "report: too many columns");
  t.cell = calloc((size_t)(t.rows * t.cols), sizeof *t.cell);
  if (!t.cell) return NN_FAIL(NN_ENOMEM, "report: no memory for the table");
  int col = 0, rc = put(&t, 0, col++, "run");
  if (csv && !rc) rc = put(&t, 0, col++, "dir");
  for (int k = 0; k < n_keys && !rc; k++) rc = put(&t, 0, col++, keys[k]);
  for (int i = 0; i < n_fixed && !rc; i++) {
    if (!csv) t.right[col] = text_right[i];
    rc = put(&t, 0, col++, csv ? csv_head[i] : text_head[i]);
  }
  for (int i = 0; i < n && !rc; i++) rc = fill_row(&t, i + 1, &runs[i], keys, n_keys, csv, now);
  if (!rc && csv) {
    for (int r = 0; r < t.rows; r++)
      for (int c = 0; c < t.cols; c++) csv_field(t.cell[r * t.cols + c], c == t.cols - 1);
  } else if (!rc) {
    print_text(&t);
  }
  for (int i = 0; i < t.rows * t.cols; i++) free(t.cell[i]);
  free(t.cell);
  return rc;
}

/* Under the table: each run's notes, then one line counting the states. */
static void print_notes(const nn_run_report *runs, int n) {
  int count[5] = {0};
  for (int i = 0; i < n; i++) {
    count[runs[i].state]++;
    const char *p = runs[i].notes;
    while (*p) {
      size_t len = strcspn(p, "\n");
      printf("note: %s: %.*s\n", runs[i].name, (int)len, p);
      p += len + (p[len] == '\n');
    }
    size_t len = strlen(runs[i].state_text);
    if (runs[i].message && len > 3 && !strcmp(runs[i].state_text + len - 3, "...")) /* shortened in the table */
      printf("note: %s: failed: %s\n", runs[i].name, runs[i].message);
  }
  static const char *const names[5] = {"running", "running?", "finished", "stopped (resume me)", "failed"};
  printf("%d run%s:", n, n == 1 ? "" : "s");
  bool first = true;
  for (int s = 0; s < 5; s++)
    if (count[s]) printf("%s %d %s", first ? "" : ",", count[s], names[s]), first = false;
  putchar('\n');
}

int nn_cmd_report(int argc, char **argv) {
  const char *svg = "nnmpi-report.svg";
  bool csv = false;
  int n_dirs = 0;
  char **dirs = calloc((size_t)(argc > 0 ? argc : 1), sizeof *dirs);
  if (!dirs) return NN_FAIL(NN_ENOMEM, "report: no memory");
  int rc = NN_OK;
  bool options = true;
  for (int i = 1; i < argc && !rc; i++) {
    const char *a = argv[i];
    if (options && (!strcmp(a, "-h") || !strcmp(a, "--help"))) {
      fputs(usage, stdout);
      free(dirs);
      return NN_OK;
    } else if (options && !strcmp(a, "--")) {
      options = false;
    } else if (options && !strcmp(a, "--csv")) {
      csv = true;
    } else if (options && !strcmp(a, "--no-svg")) {
      svg = NULL;
    } else if (options && !strncmp(a, "--svg=", 6)) {
      svg = a + 6;
    } else if (options && !strcmp(a, "--svg")) {
      if (i + 1 >= argc) rc = NN_FAIL(NN_EINVAL, "report: --svg needs a file name (see nnmpi report --help)");
      else svg = argv[++i];
    } else if (options && a[0] == '-' && a[1]) {
      rc = NN_FAIL(NN_EINVAL, "report: unknown option '%s' (see nnmpi report --help)", a);
    } else {
      dirs[n_dirs++] = argv[i];
    }
  }
  if (!rc && !n_dirs) rc = NN_FAIL(NN_EINVAL, "report: expected one or more run directories (see nnmpi report --help)");
  if (!rc && svg && !*svg) rc = NN_FAIL(NN_EINVAL, "report: --svg needs a file name");
  if (rc) {
    free(dirs);
    return rc;
  }

  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  double now = (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
  nn_run_report *runs = calloc((size_t)n_dirs, sizeof *runs);
  if (!runs) {
    free(dirs);
    return NN_FAIL(NN_ENOMEM, "report: no memory for %d runs", n_dirs);
  }
  /* the messages of unreadable run directories go to stderr after the table, where they are seen */
  char *errors = NULL;
  size_t errors_len = 0;
  FILE *err = open_memstream(&errors, &errors_len);
  int n = 0, unreadable = 0;
  for (int i = 0; i < n_dirs; i++) {
    int r = nn_report_read(dirs[i], now, &runs[n]);
    if (r == NN_OK) {
      n++;
      continue;
    }
    fprintf(err ? err : stderr, "nnmpi report: %s\n", nn_errmsg());
    nn_report_free(&runs[n]);
    unreadable++;
  }
  if (err) fclose(err);
  nn_report_names(runs, n);
  if (n) rc = print_table(runs, n, csv, now);
  if (!rc && n && !csv) print_notes(runs, n);
  fflush(stdout);
  if (!rc && n && svg) {
    const char *keys[32];
    int n_keys = nn_report_diff(runs, n, keys, 32);
    rc = nn_report_svg(runs, n, keys, n_keys, svg);
    if (!rc) fprintf(csv ? stderr : stdout, "learning curves: %s\n", svg);
  }
  fflush(stdout);
  if (errors) fputs(errors, stderr);
  free(errors);
  for (int i = 0; i < n; i++) nn_report_free(&runs[i]);
  free(runs);
  free(dirs);
  if (!rc && unreadable)
    rc = NN_FAIL(NN_EIO, "%d of %d run directories could not be read (named above)", unreadable, n_dirs);
  return rc;
}
