/* curves: draws <run_dir>/learning-curves.svg from <run_dir>/metrics.jsonl — training loss per
 * logged step, evaluation loss and accuracy (or MSE) per epoch, across every resumed segment.
 * Layer 5 (private to metrics); libc only. */
#include "metrics.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct series {
  double *x, *y;
  int n, cap;
} series;

static void add(series *s, double x, double y) {
  if (!isfinite(y)) return;
  if (s->n == s->cap) {
    int cap = s->cap ? 2 * s->cap : 256;
    double *nx = realloc(s->x, sizeof(double) * cap), *ny = nx ? realloc(s->y, sizeof(double) * cap) : NULL;
    if (nx) s->x = nx;
    if (!nx || !ny) return;
    s->y = ny, s->cap = cap;
  }
  s->x[s->n] = x, s->y[s->n] = y, s->n++;
}

static bool field(const char *line, const char *key, double *v) {
  char pat[48];
  snprintf(pat, sizeof pat, "\"%s\":", key);
  const char *p = strstr(line, pat);
  return p && sscanf(p + strlen(pat), "%lf", v) == 1;
}

/* One panel: series drawn in [x0, x0 + w] x [y0, y0 + h], with axis labels. */
static void panel(FILE *f, const char *title, series *a, const char *ca, series *b, const char *cb, double xmax,
                  int x0, int y0, int w, int h) {
  double lo = INFINITY, hi = -INFINITY;
  for (series *s = a; s; s = s == a ? b : NULL)
    for (int i = 0; i < s->n; i++) lo = fmin(lo, s->y[i]), hi = fmax(hi, s->y[i]);
  if (!(hi > lo)) lo = isfinite(lo) ? lo - 0.5 : 0, hi = lo + 1;
  fprintf(f, "<rect x='%d' y='%d' width='%d' height='%d' fill='none' stroke='#999'/>\n", x0, y0, w, h);
  fprintf(f, "<text x='%d' y='%d' font-size='14'>%s</text>\n", x0, y0 - 8, title);
  fprintf(f, "<text x='%d' y='%d' font-size='11' text-anchor='end'>%.4g</text>\n", x0 - 4, y0 + 10, hi);
  fprintf(f, "<text x='%d' y='%d' font-size='11' text-anchor='end'>%.4g</text>\n", x0 - 4, y0 + h, lo);
  fprintf(f, "<text x='%d' y='%d' font-size='11' text-anchor='end'>step %.0f</text>\n", x0 + w, y0 + h + 14, xmax);
  for (series *s = a; s; s = s == a ? b : NULL) {
    if (!s->n) continue;
    fprintf(f, "<polyline fill='none' stroke='%s' stroke-width='1.5' points='", s == a ? ca : cb);
    for (int i = 0; i < s->n; i++)
      fprintf(f, "%.1f,%.1f ", x0 + w * s->x[i] / xmax, y0 + h - h * (s->y[i] - lo) / (hi - lo));
    fputs("'/>\n", f);
  }
}

int nn_curves_write(const char *run_dir) {
  char path[NN_PATH_MAX + 32], line[1024];
  snprintf(path, sizeof path, "%s/metrics.jsonl", run_dir);
  FILE *in = fopen(path, "r");
  if (!in) return NN_FAIL(NN_EIO, "%s: cannot read", path);
  series train = {0}, eval = {0}, metric = {0};
  bool accuracy = false;
  double xmax = 1, step, v;
  while (fgets(line, sizeof line, in)) {
    if (!field(line, "step", &step)) continue;
    xmax = fmax(xmax, step);
    if (strstr(line, "\"event\":\"step\"") && field(line, "loss", &v)) add(&train, step, v);
    if (strstr(line, "\"event\":\"eval\"")) {
      if (field(line, "loss", &v)) add(&eval, step, v);
      if (field(line, "accuracy", &v)) accuracy = true, add(&metric, step, v);
      else if (field(line, "mse", &v)) add(&metric, step, v);
    }
  }
  fclose(in);
  snprintf(path, sizeof path, "%s/learning-curves.svg", run_dir);
  FILE *f = fopen(path, "w");
  int rc = NN_OK;
  if (!f) rc = NN_FAIL(NN_EIO, "%s: cannot write", path);
  else {
    fputs("<svg xmlns='http://www.w3.org/2000/svg' width='900' height='340' font-family='sans-serif'>\n"
          "<rect width='900' height='340' fill='white'/>\n", f);
    panel(f, "loss: training (blue), evaluation (orange)", &train, "#1f77b4", &eval, "#ff7f0e", xmax, 70, 40, 360, 250);
    panel(f, accuracy ? "evaluation accuracy" : "evaluation MSE", &metric, "#2ca02c", NULL, NULL, xmax, 520, 40, 360, 250);
    fputs("</svg>\n", f);
    if (fclose(f)) rc = NN_FAIL(NN_EIO, "%s: write failed", path);
  }
  free(train.x), free(train.y), free(eval.x), free(eval.y), free(metric.x), free(metric.y);
  return rc;
}
