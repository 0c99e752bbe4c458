/* tensor: matrix products and vector helpers over row-major float arrays, backed by CBLAS.
 * Layer 1: CBLAS only. Shapes are given explicitly; no allocation. */
#ifndef NNMPI_TENSOR_H
#define NNMPI_TENSOR_H

#include <stdbool.h>
#include <stddef.h>

/* C (m, n) = alpha * op(A) op(B) + beta * C, row-major; op(A) is (m, k), op(B) is (k, n).
 * ta/tb transpose A/B as stored: A is (k, m) when ta, B is (n, k) when tb. One sgemm call. */
void nn_gemm(bool ta, bool tb, int m, int n, int k, float alpha, const float *A, const float *B,
             float beta, float *C);

/* out (n) = column sums of X (m, n). */
void nn_colsum(const float *X, int m, int n, float *out);

/* Sets the number of BLAS threads (OpenBLAS); n < 1 means 1. */
void nn_blas_set_threads(int n);

/* The BLAS library's build description ("OpenBLAS 0.3.21 ...") into buf. */
void nn_blas_version(char *buf, size_t cap);

#endif
