/* eval: distributed evaluation of a network on a loaded split (include/nnmpi/eval.h).
 * Layer 5: net, loader, dist; no MPI_* of its own, never prints. */
#include "nnmpi/eval.h"

#include <math.h>

#include "nnmpi/dist.h"
#include "nnmpi/status.h"

void nn_eval_range(const nn_loader *ld, int64_t *lo, int64_t *hi) {
  if (ld->mode == NN_SAMPLING_SHARD) *lo = 0, *hi = ld->rows_held;
  else nn_shard_range(ld->rows_held, nn_dist_rank(), nn_dist_size(), lo, hi);
}

int nn_evaluate(nn_net *net, const nn_loader *ld, float *X, int32_t *y, float *Y, nn_eval_result *r) {
  int64_t lo, hi;
  nn_eval_range(ld, &lo, &hi);
  int K = net->sizes[net->n_layers];
  double sums[3] = {0, 0, 0};       /* loss, squared error, absolute error */
  int64_t counts[2] = {hi - lo, 0}; /* rows, correct */
  uint32_t idx[NN_EVAL_CHUNK];
  for (int64_t i = lo; i < hi;) {
    int n = (int)(hi - i < NN_EVAL_CHUNK ? hi - i : NN_EVAL_CHUNK);
    n = n < net->cap ? n : net->cap;
    for (int j = 0; j < n; j++) idx[j] = (uint32_t)(i + j);
    nn_loader_gather(ld, idx, n, X, ld->y ? y : NULL, ld->y ? NULL : Y);
    const float *A = nn_net_forward(net, X, n);
    nn_targets t = ld->y ? (nn_targets){y, NULL} : (nn_targets){NULL, Y};
    sums[0] += nn_net_loss_sum(net, t, n);
    if (ld->y) counts[1] += nn_net_count_correct(net, y, n);
    else
      for (size_t j = 0; j < (size_t)n * K; j++) {
        double e = (double)A[j] - Y[j];
        sums[1] += e * e, sums[2] += fabs(e);
      }
    i += n;
  }
  int rc = nn_dist_sum_f64(sums, 3);
  if (!rc) rc = nn_dist_sum_i64(counts, 2);
  if (rc) return rc;
  int64_t rows = counts[0];
  *r = (nn_eval_result){rows, rows ? sums[0] / rows : 0, rows ? (double)counts[1] / rows : 0,
                        rows ? sums[1] / ((double)rows * K) : 0, rows ? sums[2] / ((double)rows * K) : 0};
  return NN_OK;
}
