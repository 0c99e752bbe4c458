/* eval: a network evaluated on a loaded split, each rank its part, sums reduced exactly.
 * Layer 5: uses net, loader, dist. Used by the trainer (every eval_every epochs) and by
 * `nnmpi eval` / `nnmpi predict`. */
#ifndef NNMPI_EVAL_H
#define NNMPI_EVAL_H

#include <stdint.h>

#include "nnmpi/loader.h"
#include "nnmpi/net.h"

/* Rows per forward pass when evaluating or predicting; workspaces hold at least this many. */
enum { NN_EVAL_CHUNK = 256 };

/* Evaluation sums over a loaded split. */
typedef struct nn_eval_result {
  int64_t rows;
  double loss; /* mean loss per row */
  double acc;  /* accuracy (labels) */
  double mse;  /* mean squared error per target value (targets) */
  double mae;  /* mean absolute error per target value (targets) */
} nn_eval_result;

/* Rows [lo, hi) of ld (held-row indices) that this rank evaluates or predicts: a contiguous
 * slice of all rows (global sampling) or all rows it holds (shard); in rank order they cover the
 * split once. */
void nn_eval_range(const nn_loader *ld, int64_t *lo, int64_t *hi);

/* Evaluates net on the split in ld, each rank its part (nn_eval_range), no padding or
 * duplicates; sums reduced exactly (row and correct counts as integers). Collective.
 * X, y, Y: scratch of net->cap >= NN_EVAL_CHUNK rows. */
int nn_evaluate(nn_net *net, const nn_loader *ld, float *X, int32_t *y, float *Y, nn_eval_result *r);

#endif
