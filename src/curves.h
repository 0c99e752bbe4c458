/* curves: the learning-curve chart of one or more runs as an SVG file — training and evaluation
 * loss on a log axis, evaluation (and training) accuracy or evaluation MSE, and throughput,
 * over the global step with epoch boundaries and resume points marked; one colour per run.
 * `learning-curves.svg` of a run (nn_curves_write in metrics.h) and the overlay of
 * `nnmpi report` are drawn by the same code. Layer 5 (private); libc only. */
#ifndef NNMPI_CURVES_H
#define NNMPI_CURVES_H

#include <stdio.h>

#include "runlog.h"

typedef struct nn_curves_run {
  const char *label; /* legend text: the run's name, and what sets it apart from the others */
  const nn_runlog *log;
} nn_curves_run;

/* Writes the chart of runs[0..n) as one SVG document to f (title: the heading). */
void nn_curves_svg(FILE *f, const char *title, const nn_curves_run *runs, int n);

/* The same into path: written to path.tmp, then renamed over path, so a viewer never sees a
 * half-written file. NN_EIO names the path. */
int nn_curves_write_svg(const char *path, const char *title, const nn_curves_run *runs, int n);

#endif
