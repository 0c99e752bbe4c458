/* curves: learning curves of one or more runs as SVG (see curves.h): three panels over the
 * global step — loss (log scale; training thin, evaluation with markers), evaluation and
 * training accuracy (or evaluation MSE, log scale), and throughput — with tick labels and a
 * light grid on both axes, epoch boundaries as thin grey lines numbered above the first panel,
 * resume points as dashed lines in the run's colour, one colour per run and a legend.
 * Layer 5 (private); libc only. */
#include "curves.h"

#include <errno.h>
#include <stddef.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"
#include "nnmpi/status.h"
#include "svg.h"

enum { W = 960, ML = 78, MR = 30, PW = W - ML - MR, H_LOSS = 260, H_METRIC = 180, H_SPEED = 130 };

static const char *const palette[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                                      "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};
enum { N_COLOURS = sizeof palette / sizeof palette[0] };

static const char *colour(int i) { return palette[i % N_COLOURS]; }

typedef struct chart {
  FILE *f;
  const nn_curves_run *runs;
  int n;
  nn_svg_axis x;       /* the global step, shared by the panels */
  nn_rl_metric metric; /* what the second panel shows */
  int clips;           /* clip paths defined so far */
} chart;

typedef struct panel {
  double top, h;
  double title_dy; /* the title this much higher (room for rows of epoch numbers) */
  nn_svg_axis y;
  int clip; /* id of the clip path of its plot area */
} panel;

/* ---- panels */

static void frame(chart *c, panel *p, const char *title, bool percent) {
  FILE *f = c->f;
  nn_svg_tick t[NN_SVG_MAX_TICKS];
  char label[32];
  double step, bottom = p->top + p->h, right = ML + PW;
  p->clip = c->clips++;
  fprintf(f, "<clipPath id='clip%d'><rect x='%d' y='%.1f' width='%d' height='%.1f'/></clipPath>\n", p->clip, ML, p->top,
          PW, p->h);
  nn_svg_text(f, ML, p->top - 26 - p->title_dy, "font-size='13' font-weight='bold' fill='#222'", "%s", title);
  int n = nn_svg_ticks(&p->y, p->y.log ? 18 : 30, t, &step);
  for (int i = 0; i < n; i++) {
    double y = nn_svg_map(&p->y, t[i].v);
    fprintf(f, "<line x1='%d' x2='%.1f' y1='%.1f' y2='%.1f' stroke='%s' stroke-width='1'/>\n", ML, right, y, y,
            t[i].strong ? "#d9d9d9" : "#eeeeee");
    if (!t[i].label) continue;
    if (percent) {
      nn_svg_label(100 * t[i].v, 100 * step, false, label, sizeof label);
      strcat(label, "%");
    } else {
      nn_svg_label(t[i].v, step, p->y.log, label, sizeof label);
    }
    nn_svg_text(f, ML - 6, y + 4, "font-size='11' fill='#444' text-anchor='end'", "%s", label);
  }
  n = nn_svg_ticks(&c->x, 70, t, &step);
  for (int i = 0; i < n; i++) {
    double x = nn_svg_map(&c->x, t[i].v);
    fprintf(f, "<line x1='%.1f' x2='%.1f' y1='%.1f' y2='%.1f' stroke='#e3e3e3' stroke-width='1'/>\n", x, x, p->top,
            bottom);
    nn_svg_label(t[i].v, step, false, label, sizeof label);
    nn_svg_text(f, x, bottom + 15, "font-size='11' fill='#444' text-anchor='middle'", "%s", label);
  }
}

static void border(chart *c, const panel *p) {
  fprintf(c->f, "<rect x='%d' y='%.1f' width='%d' height='%.1f' fill='none' stroke='#888' stroke-width='1'/>\n", ML,
          p->top, PW, p->h);
}

static void empty_note(chart *c, const panel *p, const char *text) {
  nn_svg_text(c->f, ML + PW / 2.0, p->top + p->h / 2 + 4, "font-size='13' fill='#999' text-anchor='middle'", "%s",
              text);
}

/* ---- series */

/* A polyline through the valid points (finite, and > 0 on a log axis); an invalid point breaks
 * the line. Long series are thinned to about two points per pixel column. */
static void polyline(chart *c, const panel *p, const double *xs, const double *ys, size_t stride, int n,
                     const char *style) {
  FILE *f = c->f;
  int every = n > 2 * PW ? n / (2 * PW) + 1 : 1, open = 0;
  for (int i = 0; i < n; i++) {
    double x = *(const double *)((const char *)xs + i * stride), y = *(const double *)((const char *)ys + i * stride);
    bool ok = isfinite(x) && isfinite(y) && (!p->y.log || y > 0);
    if (ok && open && every > 1 && i % every && i != n - 1) continue;
    if (!ok) {
      if (open) fputs("'/>\n", f);
      open = 0;
      continue;
    }
    if (!open) fprintf(f, "<polyline fill='none' %s points='", style);
    fprintf(f, "%.1f,%.1f ", nn_svg_map(&c->x, x), nn_svg_map(&p->y, y));
    open++;
  }
  if (open) fputs("'/>\n", f);
}

/* Opens a marker of run's shape at (x, y) (circle, square, diamond: colours repeat after 10
 * runs, shapes tell those runs apart); returns the element's name for the closing tag. */
static const char *marker(FILE *f, double x, double y, double r, int run, const char *attrs) {
  switch (run / N_COLOURS % 3) {
  case 1:
    fprintf(f, "<rect %s x='%.1f' y='%.1f' width='%.1f' height='%.1f' fill='%s'", attrs, x - r, y - r, 2 * r, 2 * r,
            colour(run));
    return "rect";
  case 2:
    r *= 1.3;
    fprintf(f, "<polygon %s points='%.1f,%.1f %.1f,%.1f %.1f,%.1f %.1f,%.1f' fill='%s'", attrs, x, y - r, x + r, y, x,
            y + r, x - r, y, colour(run));
    return "polygon";
  default:
    fprintf(f, "<circle %s cx='%.1f' cy='%.1f' r='%.1f' fill='%s'", attrs, x, y, r, colour(run));
    return "circle";
  }
}

/* Evaluation markers with a tooltip each (what a browser shows when hovering). */
static void markers(chart *c, const panel *p, int run, bool metric) {
  const nn_runlog *rl = c->runs[run].log;
  double r = rl->n_evals > 60 ? 2 : 3;
  for (int i = 0; i < rl->n_evals; i++) {
    const nn_rl_eval *e = &rl->evals[i];
    double v = metric ? e->metric : e->loss;
    if (!isfinite(v) || (p->y.log && v <= 0)) continue;
    const char *tag = marker(c->f, nn_svg_map(&c->x, e->step), nn_svg_map(&p->y, v), r, run,
                             "class='eval-marker' stroke='white' stroke-width='0.8'");
    fputs("><title>", c->f);
    nn_svg_escape(c->f, c->runs[run].label);
    if (rl->metric == NN_RL_ACCURACY)
      fprintf(c->f, ": epoch %g, step %g: evaluation loss %.4g, accuracy %.2f%%</title></%s>\n", e->epoch, e->step,
              e->loss, 100 * e->metric, tag);
    else
      fprintf(c->f, ": epoch %g, step %g: evaluation loss %.4g, MSE %.4g</title></%s>\n", e->epoch, e->step, e->loss,
              e->metric, tag);
  }
}

/* cls (class attribute) and data-run (the run's index) let tests and scripts find the curves. */
static void train_line(chart *c, const panel *p, int run, size_t offset, const char *cls) {
  const nn_runlog *rl = c->runs[run].log;
  char style[160];
  snprintf(style, sizeof style, "class='%s' data-run='%d' stroke='%s' stroke-width='1.1' stroke-opacity='0.8'", cls,
           run, colour(run));
  if (rl->n_pts)
    polyline(c, p, &rl->pts[0].step, (const double *)((const char *)&rl->pts[0] + offset), sizeof rl->pts[0], rl->n_pts,
             style);
}

static void eval_line(chart *c, const panel *p, int run, bool metric, const char *cls) {
  const nn_runlog *rl = c->runs[run].log;
  char style[160];
  snprintf(style, sizeof style, "class='%s' data-run='%d' stroke='%s' stroke-width='2'", cls, run, colour(run));
  if (rl->n_evals)
    polyline(c, p, &rl->evals[0].step, metric ? &rl->evals[0].metric : &rl->evals[0].loss, sizeof rl->evals[0],
             rl->n_evals, style);
  markers(c, p, run, metric);
}

/* Samples/s of the intervals without an evaluation or checkpoint in them (all intervals when
 * every one has some): the training throughput, not the pauses. */
static bool any_clean(const nn_runlog *rl) {
  for (int j = 0; j < rl->n_pts; j++)
    if (!rl->pts[j].pause) return true;
  return false;
}

static void speed_line(chart *c, const panel *p, int run) {
  const nn_runlog *rl = c->runs[run].log;
  double *xy = malloc(sizeof(double) * 2 * (size_t)(rl->n_pts + 1));
  if (!xy) return;
  int k = 0;
  bool clean = any_clean(rl);
  for (int i = 0; i < rl->n_pts; i++)
    if (!clean || !rl->pts[i].pause) xy[2 * k] = rl->pts[i].step, xy[2 * k + 1] = rl->pts[i].sps, k++;
  char style[160];
  snprintf(style, sizeof style, "class='speed' data-run='%d' stroke='%s' stroke-width='1.1' stroke-opacity='0.8'", run,
           colour(run));
  polyline(c, p, xy, xy + 1, 2 * sizeof(double), k, style);
  free(xy);
}

/* ---- epoch boundaries and resume points */

static int64_t steps_per_epoch(const nn_runlog *rl) {
  for (int s = rl->n_seg - 1; s >= 0; s--)
    if (rl->seg[s].steps_per_epoch > 0) return rl->seg[s].steps_per_epoch;
  return 0;
}

/* The smallest of 1, 2, 5, 10, 20, 50, ... with k * px >= min_px. */
static int thin_to(double px, double min_px) {
  static const int m[] = {1, 2, 5};
  for (int d = 1; d < 1000000; d *= 10)
    for (int i = 0; i < 3; i++)
      if (m[i] * d * px >= min_px) return m[i] * d;
  return 1000000;
}

/* Lines at the boundaries of epochs of spe steps; numbers in label row `row` above the panel. */
static void epoch_lines(chart *c, const panel *p, int64_t spe, double end, const char *stroke, double opacity, int row,
                        bool labels) {
  double px = (double)spe * PW / (c->x.hi - c->x.lo);
  int every = thin_to(px, 5), label_every = thin_to(px, 24);
  double last = floor(fmin(end, c->x.hi) / (double)spe), y = p->top - 5 - 11 * row;
  if (last / every > PW) return; /* epochs too short to show even one in a million */
  char attrs[96], start[96];
  snprintf(attrs, sizeof attrs, "font-size='10' fill='%s' text-anchor='middle'", row || opacity < 1 ? stroke : "#555");
  snprintf(start, sizeof start, "font-size='10' fill='%s'", row || opacity < 1 ? stroke : "#555");
  for (double e = every; e <= last; e += every) {
    double x = nn_svg_map(&c->x, e * (double)spe);
    fprintf(c->f,
            "<line x1='%.1f' x2='%.1f' y1='%.1f' y2='%.1f' stroke='%s' stroke-width='0.8' stroke-opacity='%.2f'/>\n", x,
            x, p->top, p->top + p->h, stroke, opacity);
    if (labels && (long long)e % label_every == 0 && x > ML + 44) nn_svg_text(c->f, x, y, attrs, "%g", e);
  }
  if (labels) nn_svg_text(c->f, ML + 2, y, start, "epoch");
}

enum { MAX_EPOCH_ROWS = 4 };

/* Rows of epoch numbers above the first panel: 1 when every run has epochs of the same length
 * (or none), else one per run that has epochs, at most MAX_EPOCH_ROWS. *common gets the
 * shared length (0 when they differ). */
static int epoch_rows(const chart *c, int64_t *common) {
  int count = 0;
  bool same = true;
  *common = 0;
  for (int r = 0; r < c->n; r++) {
    int64_t spe = steps_per_epoch(c->runs[r].log);
    if (spe <= 0) continue;
    if (!count++) *common = spe;
    else if (spe != *common) same = false;
  }
  if (!same) *common = 0;
  return same ? 1 : count < MAX_EPOCH_ROWS ? count : MAX_EPOCH_ROWS;
}

/* Thin grey lines at the epoch boundaries, numbered above the panel when labels is set; when
 * the runs' epochs differ in length (batch size, data), each run's in its colour up to its last
 * step (numbers for the first MAX_EPOCH_ROWS such runs). */
static void epochs(chart *c, const panel *p, bool labels) {
  int64_t common;
  epoch_rows(c, &common);
  if (common > 0) {
    epoch_lines(c, p, common, c->x.hi, "#b0b0b0", 1, 0, labels);
    return;
  }
  for (int r = 0, row = 0; r < c->n; r++) {
    const nn_runlog *rl = c->runs[r].log;
    int64_t spe = steps_per_epoch(rl);
    if (spe <= 0) continue;
    double end = (double)nn_runlog_last_step(rl);
    if (rl->n_pts) end = fmax(end, rl->pts[rl->n_pts - 1].step);
    epoch_lines(c, p, spe, end, colour(r), 0.5, row, labels && row < MAX_EPOCH_ROWS);
    row++;
  }
}

/* Dashed lines where segments started (a resumed or requeued run); with labels, the segment
 * number and its rank count at the top of the panel, where there is room. */
static void resumes(chart *c, const panel *p, bool labels) {
  double last_label = -1e9;
  for (int r = 0; r < c->n; r++) {
    const nn_runlog *rl = c->runs[r].log;
    for (int s = 1; s < rl->n_seg; s++) {
      double x = nn_svg_map(&c->x, (double)rl->seg[s].step0);
      if (labels && x - last_label > 90 && x < ML + PW - 80) {
        char attrs[64];
        snprintf(attrs, sizeof attrs, "font-size='10' fill='%s'", colour(r));
        nn_svg_text(c->f, x + 3, p->top + 11, attrs, "segment %d: %d rank%s", s + 1, rl->seg[s].ranks,
                    rl->seg[s].ranks == 1 ? "" : "s");
        last_label = x;
      }
      fprintf(c->f,
              "<line x1='%.1f' x2='%.1f' y1='%.1f' y2='%.1f' stroke='%s' stroke-width='1.2' "
              "stroke-dasharray='5,3'><title>",
              x, x, p->top, p->top + p->h, colour(r));
      nn_svg_escape(c->f, c->runs[r].label);
      fprintf(c->f, ": segment %d started at step %lld</title></line>\n", s + 1, (long long)rl->seg[s].step0);
    }
  }
}

/* ---- data ranges */

typedef struct range {
  double lo, hi;
} range;

static void extend(range *r, double v, bool positive) {
  if (!isfinite(v) || (positive && v <= 0)) return;
  r->lo = fmin(r->lo, v), r->hi = fmax(r->hi, v);
}

/* ---- the chart */

/* The width of a legend entry (estimated: 6.8 px per character at 12 px). */
static double label_width(const char *label, const nn_runlog *rl) {
  size_t chars = 0;
  for (const char *p = label; *p; p++) chars += ((unsigned char)*p & 0xC0) != 0x80;
  if (!rl->n_pts && !rl->n_evals) chars += 16;
  return 34 + 6.8 * (double)chars;
}

/* The legend: a swatch and the label of each run, flowed into rows; returns the height used. */
static double legend(chart *c, double top) {
  double x = ML, y = top;
  for (int r = 0; r < c->n; r++) {
    double w = label_width(c->runs[r].label, c->runs[r].log);
    if (x > ML && x + w > W - MR) x = ML, y += 18;
    fprintf(c->f, "<line x1='%.1f' x2='%.1f' y1='%.1f' y2='%.1f' stroke='%s' stroke-width='2'/>", x, x + 20, y - 4,
            y - 4, colour(r));
    marker(c->f, x + 10, y - 4, 3, r, "");
    fputs("/>\n", c->f);
    const nn_runlog *rl = c->runs[r].log;
    bool none = !rl->n_pts && !rl->n_evals;
    nn_svg_text(c->f, x + 26, y, "font-size='12' fill='#222'", "%s%s", c->runs[r].label,
                none ? " (no points yet)" : "");
    x += w + 14;
  }
  /* the key to the line styles, each with a sample */
  y += 20;
  x = ML;
  const char *ink = "#666";
  static const char *const what[] = {"training (mean since the previous point)", "evaluation", "epoch boundary",
                                     "resumed here (new segment)"};
  for (int k = 0; k < 4; k++) {
    if (k == 0)
      fprintf(c->f, "<line x1='%.1f' x2='%.1f' y1='%.1f' y2='%.1f' stroke='%s' stroke-width='1.1'/>", x, x + 20, y - 4,
              y - 4, ink);
    if (k == 1)
      fprintf(c->f,
              "<line x1='%.1f' x2='%.1f' y1='%.1f' y2='%.1f' stroke='%s' stroke-width='2'/><circle cx='%.1f' "
              "cy='%.1f' r='3' fill='%s'/>",
              x, x + 20, y - 4, y - 4, ink, x + 10, y - 4, ink);
    if (k == 2)
      fprintf(c->f, "<line x1='%.1f' x2='%.1f' y1='%.1f' y2='%.1f' stroke='#b0b0b0'/>", x + 10, x + 10, y - 11, y + 2);
    if (k == 3)
      fprintf(c->f,
              "<line x1='%.1f' x2='%.1f' y1='%.1f' y2='%.1f' stroke='%s' stroke-width='1.2' "
              "stroke-dasharray='5,3'/>",
              x + 10, x + 10, y - 11, y + 2, ink);
    nn_svg_text(c->f, x + 26, y, "font-size='11' fill='#666'", "%s", what[k]);
    x += 26 + 6.2 * (double)strlen(what[k]) + 22;
  }
  return y - top + 8;
}

void nn_curves_svg(FILE *f, const char *title, const nn_curves_run *runs, int n) {
  chart c = {.f = f, .runs = runs, .n = n};
  double xmax = 0;
  range loss = {INFINITY, -INFINITY}, metric = loss, speed = loss;
  int n_pts = 0, n_evals = 0, n_metric = 0;
  for (int r = 0; r < n; r++) {
    const nn_runlog *rl = runs[r].log;
    if (c.metric == NN_RL_METRIC_NONE) c.metric = rl->metric;
    xmax = fmax(xmax, (double)nn_runlog_last_step(rl));
    n_pts += rl->n_pts, n_evals += rl->n_evals;
    bool clean = any_clean(rl);
    for (int i = 0; i < rl->n_pts; i++) {
      const nn_rl_point *q = &rl->pts[i];
      xmax = fmax(xmax, q->step);
      extend(&loss, q->loss, true);
      if (!clean || !q->pause) extend(&speed, q->sps, false);
      if (c.metric == NN_RL_ACCURACY && rl->metric != NN_RL_MSE)
        extend(&metric, q->acc, false), n_metric += isfinite(q->acc);
    }
    for (int i = 0; i < rl->n_evals; i++) {
      xmax = fmax(xmax, rl->evals[i].step);
      extend(&loss, rl->evals[i].loss, true);
      if (rl->metric == c.metric) extend(&metric, rl->evals[i].metric, c.metric == NN_RL_MSE), n_metric++;
    }
  }
  c.x = (nn_svg_axis){.lo = 0, .hi = xmax > 0 ? xmax : 1, .p0 = ML, .p1 = ML + PW};

  /* layout: heading, legend, three panels */
  double legend_h = 0;
  {
    double x = ML;
    int rows = 1;
    for (int r = 0; r < n; r++) {
      double w = label_width(runs[r].label, runs[r].log);
      if (x > ML && x + w > W - MR) x = ML, rows++;
      x += w + 14;
    }
    legend_h = 18.0 * rows + 28;
  }
  int64_t common;
  double rows_dy = 11.0 * (epoch_rows(&c, &common) - 1);
  panel pl = {.top = 44 + legend_h + 44 + rows_dy, .title_dy = rows_dy}, pm = {.top = pl.top + H_LOSS + 72},
        ps = {.top = pm.top + H_METRIC + 72};
  pl.h = H_LOSS, pm.h = H_METRIC, ps.h = H_SPEED;
  double height = ps.top + H_SPEED + 44;

  fprintf(f,
          "<?xml version='1.0' encoding='UTF-8'?>\n"
          "<svg xmlns='http://www.w3.org/2000/svg' width='%d' height='%.0f' viewBox='0 0 %d %.0f' "
          "font-family='DejaVu Sans, Helvetica, Arial, sans-serif'>\n"
          "<rect width='100%%' height='100%%' fill='white'/>\n",
          W, height, W, height);
  nn_svg_text(f, ML, 26, "font-size='16' font-weight='bold' fill='#111'", "%s", title);
  legend(&c, 50);

  /* loss */
  nn_svg_fit(&pl.y, loss.lo, loss.hi, true, false, 0);
  pl.y.p0 = pl.top + pl.h, pl.y.p1 = pl.top;
  frame(&c, &pl, "loss (log scale)", false);
  epochs(&c, &pl, true);
  resumes(&c, &pl, false);
  fprintf(f, "<g clip-path='url(#clip%d)'>\n", pl.clip);
  for (int r = 0; r < n; r++) train_line(&c, &pl, r, offsetof(nn_rl_point, loss), "train-loss");
  for (int r = 0; r < n; r++) eval_line(&c, &pl, r, false, "eval-loss");
  fputs("</g>\n", f);
  if (!n_pts && !n_evals) empty_note(&c, &pl, "no step or eval events yet");
  border(&c, &pl);

  /* accuracy or MSE */
  bool acc = c.metric != NN_RL_MSE;
  nn_svg_fit(&pm.y, metric.lo, metric.hi, !acc, false, (int)(H_METRIC / 30));
  if (acc && pm.y.hi > 1 && metric.hi <= 1) pm.y.hi = 1;
  pm.y.p0 = pm.top + pm.h, pm.y.p1 = pm.top;
  frame(&c, &pm, acc ? "accuracy: evaluation (dots) and training" : "evaluation MSE (log scale)", acc);
  epochs(&c, &pm, false);
  resumes(&c, &pm, false);
  fprintf(f, "<g clip-path='url(#clip%d)'>\n", pm.clip);
  for (int r = 0; r < n; r++) {
    if (runs[r].log->metric != NN_RL_METRIC_NONE && runs[r].log->metric != c.metric) continue;
    if (acc) train_line(&c, &pm, r, offsetof(nn_rl_point, acc), "train-acc");
    eval_line(&c, &pm, r, true, acc ? "eval-acc" : "eval-mse");
  }
  fputs("</g>\n", f);
  if (!n_metric) empty_note(&c, &pm, acc ? "no accuracy yet" : "no evaluation yet");
  border(&c, &pm);

  /* throughput */
  nn_svg_fit(&ps.y, speed.lo, speed.hi, false, true, (int)(H_SPEED / 30));
  ps.y.p0 = ps.top + ps.h, ps.y.p1 = ps.top;
  frame(&c, &ps, "training throughput (samples/s; intervals with an evaluation or checkpoint left out)", false);
  epochs(&c, &ps, false);
  resumes(&c, &ps, true);
  fprintf(f, "<g clip-path='url(#clip%d)'>\n", ps.clip);
  for (int r = 0; r < n; r++) speed_line(&c, &ps, r);
  fputs("</g>\n", f);
  if (!n_pts) empty_note(&c, &ps, "no step events yet");
  border(&c, &ps);
  nn_svg_text(f, ML + PW / 2.0, ps.top + ps.h + 34, "font-size='12' fill='#222' text-anchor='middle'",
              "global step (optimizer updates)");
  fputs("</svg>\n", f);
}

int nn_curves_write_svg(const char *path, const char *title, const nn_curves_run *runs, int n) {
  size_t len = strlen(path);
  char *tmp = malloc(len + 5);
  if (!tmp) return NN_FAIL(NN_ENOMEM, "%s: no memory", path);
  memcpy(tmp, path, len);
  memcpy(tmp + len, ".tmp", 5);
  FILE *f = fopen(tmp, "w");
  if (!f) {
    int rc = NN_FAIL(NN_EIO, "%s: cannot write: %s", tmp, strerror(errno));
    free(tmp);
    return rc;
  }
  nn_curves_svg(f, title, runs, n);
  int err = ferror(f);
  if (fclose(f) || err) {
    int rc = NN_FAIL(NN_EIO, "%s: write failed: %s", tmp, strerror(errno));
    remove(tmp);
    free(tmp);
    return rc;
  }
  int rc = NN_OK;
  if (rename(tmp, path)) {
    rc = NN_FAIL(NN_EIO, "cannot rename %s to %s: %s", tmp, path, strerror(errno));
    remove(tmp);
  }
  free(tmp);
  return rc;
}

int nn_curves_write(const char *run_dir) {
  char path[NN_PATH_MAX + 32];
  nn_runlog rl;
  snprintf(path, sizeof path, "%s/metrics.jsonl", run_dir);
  int rc = nn_runlog_read(path, &rl);
  if (rc) return rc;
  const char *name = strrchr(run_dir, '/');
  name = name && name[1] ? name + 1 : run_dir;
  nn_curves_run run = {.label = name, .log = &rl};
  char title[NN_PATH_MAX + 32];
  snprintf(title, sizeof title, "learning curves: %s", run_dir);
  snprintf(path, sizeof path, "%s/learning-curves.svg", run_dir);
  rc = nn_curves_write_svg(path, title, &run, 1);
  nn_runlog_free(&rl);
  return rc;
}
