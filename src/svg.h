/* svg: what every chart needs to write SVG text by hand — XML-escaped text, axes that map data
 * to pixels (linear or log), tick values a person reads (1, 2, 5 x 10^k), and their labels.
 * Layer 5 (private to curves); libc only. */
#ifndef NNMPI_SVG_H
#define NNMPI_SVG_H

#include <stdbool.h>
#include <stdio.h>

/* Writes s as XML character data: & < > " ' escaped, control characters and bytes that are
 * not valid UTF-8 written as '?', so any file name or message gives a well-formed file. */
void nn_svg_escape(FILE *f, const char *s);

/* <text x y attrs>printf(fmt, ...) escaped</text>. attrs may be "" (e.g. "font-size='11'"). */
void nn_svg_text(FILE *f, double x, double y, const char *attrs, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

typedef struct nn_svg_axis {
  double lo, hi; /* data range; log axes need 0 < lo < hi */
  bool log;
  double p0, p1; /* pixel positions of lo and hi (p1 < p0 for a y axis) */
  double step;   /* linear: the tick step nn_svg_fit chose; 0 = choose in nn_svg_ticks */
} nn_svg_axis;

/* The pixel position of v (clamped to a little outside the axis). */
double nn_svg_map(const nn_svg_axis *a, double v);

/* Widens [lo, hi] to round values: to multiples of a 1-2-5 step giving about `ticks` ticks
 * (linear), or to 1-2-5 x 10^k (log; lo must be > 0; within one decade 1, 1.2, 1.5, 2, 2.5, 3..9 x 10^k). An empty or one-point range is widened
 * around its value; with from_zero a linear axis starts at 0 when lo >= 0. */
void nn_svg_fit(nn_svg_axis *a, double lo, double hi, bool log, bool from_zero, int ticks);

enum { NN_SVG_MAX_TICKS = 64 };

typedef struct nn_svg_tick {
  double v;
  bool label;  /* labelled (major) or grid only (minor) */
  bool strong; /* a power of ten on a log axis, or any labelled tick on a linear one */
} nn_svg_tick;

/* The ticks of an axis: on a linear one every a->step (the ends of a fitted axis are ticks),
 * or about one per min_px when a->step is 0, and twice as far apart when they would come
 * closer than 0.75 min_px; on a log axis labels at least min_px apart, with grid lines at the
 * unlabelled 2..9 x 10^k between. Returns
 * the count (at most NN_SVG_MAX_TICKS). *step gets the linear step (0 for log axes). */
int nn_svg_ticks(const nn_svg_axis *a, double min_px, nn_svg_tick *t, double *step);

/* A tick label: on a linear axis with the decimals its step needs ("0.25", "1500", "20k",
 * "1.5M"); on a log axis the shortest form ("0.001", "20", "1e-05"). */
void nn_svg_label(double v, double step, bool log, char *buf, size_t cap);

#endif
