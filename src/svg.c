/* svg: escaped text, axes, ticks and labels for hand-written SVG (see svg.h). Layer 5; libc only. */
#include "svg.h"

#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

/* Length of the valid UTF-8 sequence at s (1-4), or 0 when it is not one. */
static int utf8_len(const unsigned char *s) {
  unsigned c = s[0];
  int n = c >= 0xC2 && c <= 0xDF ? 2 : c >= 0xE0 && c <= 0xEF ? 3 : c >= 0xF0 && c <= 0xF4 ? 4 : 0;
  for (int i = 1; i < n; i++)
    if ((s[i] & 0xC0) != 0x80) return 0;
  if (n == 3 && ((c == 0xE0 && s[1] < 0xA0) || (c == 0xED && s[1] >= 0xA0))) return 0; /* overlong, surrogate */
  if (n == 4 && ((c == 0xF0 && s[1] < 0x90) || (c == 0xF4 && s[1] >= 0x90))) return 0;
  if (n == 3 && c == 0xEF && s[1] == 0xBF && s[2] >= 0xBE) return 0; /* U+FFFE, U+FFFF are not XML */
  return n;
}

void nn_svg_escape(FILE *f, const char *s) {
  for (const unsigned char *p = (const unsigned char *)s; *p;) {
    unsigned c = *p;
    if (c < 0x80) {
      switch (c) {
      case '&': fputs("&amp;", f); break;
      case '<': fputs("&lt;", f); break;
      case '>': fputs("&gt;", f); break;
      case '"': fputs("&quot;", f); break;
      case '\'': fputs("&apos;", f); break;
      default: fputc(c < 0x20 || c == 0x7F ? '?' : (int)c, f);
      }
      p++;
      continue;
    }
    int n = utf8_len(p);
    if (n) fwrite(p, 1, (size_t)n, f), p += n;
    else fputc('?', f), p++;
  }
}

void nn_svg_text(FILE *f, double x, double y, const char *attrs, const char *fmt, ...) {
  char buf[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  fprintf(f, "<text x='%.1f' y='%.1f'%s%s>", x, y, *attrs ? " " : "", attrs);
  nn_svg_escape(f, buf);
  fputs("</text>\n", f);
}

double nn_svg_map(const nn_svg_axis *a, double v) {
  double u;
  if (a->log) u = (log10(v > 0 ? v : a->lo * 1e-3) - log10(a->lo)) / (log10(a->hi) - log10(a->lo));
  else u = (v - a->lo) / (a->hi - a->lo);
  if (!(u > -0.05)) u = -0.05; /* also NAN */
  if (u > 1.05) u = 1.05;
  return a->p0 + u * (a->p1 - a->p0);
}

/* 1, 2 or 5 x 10^k nearest above x / 1.5 (the usual "nice number"). */
static double nice(double x) {
  double e = floor(log10(x)), f = x / pow(10, e);
  return (f < 1.5 ? 1 : f < 3 ? 2 : f < 7 ? 5 : 10) * pow(10, e);
}

/* The largest (down) or smallest (!down) value m x 10^k at or beyond x > 0, m from 1, 2, 5
 * (fine: 1, 1.2, 1.5, 2, 2.5, 3, ..., 9). */
static double round_log(double x, bool down, bool fine) {
  static const double coarse[] = {1, 2, 5, 10}, all[] = {1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 7, 8, 9, 10};
  const double *m = fine ? all : coarse;
  int n = fine ? 13 : 4;
  double e = pow(10, floor(log10(x))), best = down ? e : 10 * e;
  for (int i = 0; i < n; i++) {
    double v = m[i] * e;
    if (down && v <= x * (1 + 1e-12)) best = v;
    if (!down && v >= x * (1 - 1e-12)) {
      best = v;
      break;
    }
  }
  return best;
}

void nn_svg_fit(nn_svg_axis *a, double lo, double hi, bool log, bool from_zero, int ticks) {
  a->log = log, a->step = 0;
  if (!isfinite(lo) || !isfinite(hi) || lo > hi) lo = log ? 0.1 : 0, hi = 1;
  if (log) {
    if (!(lo > 0)) lo = hi > 0 ? hi / 10 : 0.1;
    if (!(hi > 0)) hi = lo * 10;
    if (hi < 1.1 * lo) lo /= 1.2, hi *= 1.2; /* flat curves still get a labelled range */
    bool fine = hi < 10 * lo;                /* within a decade: bounds at 1..9 x 10^k, else 1, 2, 5 x 10^k */
    a->lo = round_log(lo, true, fine), a->hi = round_log(hi, false, fine);
    return;
  }
  if (from_zero && lo >= 0) lo = 0;
  if (hi - lo <= 1e-12 * fmax(fabs(lo), fabs(hi))) {
    double d = lo != 0 ? fabs(lo) * 0.1 : 1;
    lo -= d, hi += d;
    if (from_zero && lo < 0 && hi > 0 && lo + d >= 0) lo = 0;
  }
  double step = nice((hi - lo) / (ticks > 1 ? ticks : 5));
  a->lo = floor(lo / step + 1e-9) * step, a->hi = ceil(hi / step - 1e-9) * step;
  if (a->hi <= a->lo) a->hi = a->lo + step;
  a->step = step;
}

int nn_svg_ticks(const nn_svg_axis *a, double min_px, nn_svg_tick *t, double *step) {
  int n = 0;
  double px = fabs(a->p1 - a->p0);
  *step = 0;
  if (!a->log) {
    double s = a->step > 0 ? a->step : nice((a->hi - a->lo) / fmax(2, fmin(12, px / fmax(min_px, 1))));
    while (s * px / (a->hi - a->lo) < 0.75 * min_px) s = nice(s * 1.6); /* one size up when they would crowd */
    *step = s;
    for (double k = ceil(a->lo / s - 1e-9); k * s <= a->hi * (1 + 1e-12) + 1e-12 && n < NN_SVG_MAX_TICKS; k++)
      t[n++] = (nn_svg_tick){.v = k * s == 0 ? 0 : k * s, .label = true, .strong = true};
    return n;
  }
  /* log: candidates m x 10^k; powers of ten get labels first, then 2 and 5, then the rest,
   * each only where it keeps min_px from every label already placed */
  int k0 = (int)floor(log10(a->lo) + 1e-9), k1 = (int)ceil(log10(a->hi) - 1e-9);
  int decades = k1 - k0, dk = decades > 40 ? (decades + 39) / 40 : 1;
  bool minor = decades <= 4;
  for (int k = k0; k <= k1 && n < NN_SVG_MAX_TICKS; k += dk)
    for (int m = 1; m <= 9 && n < NN_SVG_MAX_TICKS; m++) {
      if (m > 1 && !minor) break;
      double v = m * pow(10, k);
      if (v < a->lo * (1 - 1e-9) || v > a->hi * (1 + 1e-9)) continue;
      t[n++] = (nn_svg_tick){.v = v, .label = false, .strong = m == 1};
    }
  for (int pass = 0; pass < 3; pass++)
    for (int i = 0; i < n; i++) {
      double m = t[i].v / pow(10, floor(log10(t[i].v) + 1e-9));
      int mi = (int)lround(m);
      int prio = mi == 1 ? 0 : mi == 2 || mi == 5 ? 1 : 2;
      if (prio != pass || t[i].label) continue;
      double y = nn_svg_map(a, t[i].v);
      bool room = true;
      for (int j = 0; j < n && room; j++)
        if (t[j].label && fabs(nn_svg_map(a, t[j].v) - y) < min_px) room = false;
      t[i].label = room;
    }
  return n;
}

void nn_svg_label(double v, double step, bool log, char *buf, size_t cap) {
  if (v == 0) {
    snprintf(buf, cap, "0");
    return;
  }
  if (log) {
    if (fabs(v) >= 1e6) snprintf(buf, cap, "%gM", v / 1e6);
    else if (fabs(v) >= 1e4) snprintf(buf, cap, "%gk", v / 1e3);
    else snprintf(buf, cap, "%g", v);
    return;
  }
  const char *suffix = "";
  if (step >= 1e5) v /= 1e6, step /= 1e6, suffix = "M";
  else if (step >= 1e3) v /= 1e3, step /= 1e3, suffix = "k";
  int decimals = step > 0 && step < 1 ? (int)-floor(log10(step) + 1e-9) : 0;
  snprintf(buf, cap, "%.*f%s", decimals, v, suffix);
}
