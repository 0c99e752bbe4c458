/* tensor: CBLAS-backed row-major GEMM and small vector helpers.
 * Layer 1: CBLAS only. */
#include "nnmpi/simd.h"
#include "nnmpi/tensor.h"

#include <cblas.h>
#include <stdio.h>
#include <string.h>

void nn_gemm(bool ta, bool tb, int m, int n, int k, float alpha, const float *A, const float *B,
             float beta, float *C) {
  cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, m, n,
              k, alpha, A, ta ? m : k, B, tb ? k : n, beta, C, n);
}

NN_SIMD void nn_colsum(const float *X, int m, int n, float *out) {
  memset(out, 0, sizeof(float) * (size_t)n);
  for (int i = 0; i < m; i++) {
    const float *row = X + (size_t)i * n;
    for (int j = 0; j < n; j++) out[j] += row[j];
  }
}

void nn_blas_set_threads(int n) { openblas_set_num_threads(n < 1 ? 1 : n); }

void nn_blas_version(char *buf, size_t cap) {
  snprintf(buf, cap, "BLAS: OpenBLAS (%s; kernels: %s)", openblas_get_config(), openblas_get_corename());
}
