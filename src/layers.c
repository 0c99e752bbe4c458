/* layers: activations (forward/backward pairs) and losses (value/delta pairs).
 * Layer 2: libc only. */
#include "nnmpi/simd.h"
#include "nnmpi/layers.h"

#include <math.h>

const char *const nn_act_names[] = {"sigmoid", "tanh", "relu", "leaky_relu", "linear", "softmax", NULL};
const char *const nn_loss_names[] = {"mse", "cross_entropy", "bce", NULL};

const char *nn_act_name(nn_act a) { return (unsigned)a <= NN_ACT_SOFTMAX ? nn_act_names[a] : "(invalid)"; }
const char *nn_loss_name(nn_loss l) { return (unsigned)l <= NN_LOSS_BCE ? nn_loss_names[l] : "(invalid)"; }

static float sigmoidf(float z) {
  if (z >= 0) return 1.0f / (1.0f + expf(-z));
  float e = expf(z);
  return e / (1.0f + e);
}

NN_SIMD void nn_act_forward(nn_act act, float slope, const float *Z, float *A, int B, int n) {
  size_t count = (size_t)B * n;
  switch (act) {
  case NN_ACT_SIGMOID:
    for (size_t i = 0; i < count; i++) A[i] = sigmoidf(Z[i]);
    break;
  case NN_ACT_TANH:
    for (size_t i = 0; i < count; i++) A[i] = tanhf(Z[i]);
    break;
  case NN_ACT_RELU:
    for (size_t i = 0; i < count; i++) A[i] = Z[i] > 0 ? Z[i] : 0;
    break;
  case NN_ACT_LEAKY_RELU:
    for (size_t i = 0; i < count; i++) A[i] = Z[i] > 0 ? Z[i] : slope * Z[i];
    break;
  case NN_ACT_LINEAR:
    for (size_t i = 0; i < count; i++) A[i] = Z[i];
    break;
  case NN_ACT_SOFTMAX: /* a_k = exp(z_k − max z) / Σ_j exp(z_j − max z) */
    for (int r = 0; r < B; r++) {
      const float *z = Z + (size_t)r * n;
      float *a = A + (size_t)r * n, mx = z[0], sum = 0;
      for (int k = 1; k < n; k++) mx = z[k] > mx ? z[k] : mx;
      for (int k = 0; k < n; k++) sum += (a[k] = expf(z[k] - mx));
      for (int k = 0; k < n; k++) a[k] /= sum;
    }
    break;
  }
}

NN_SIMD void nn_act_backward(nn_act act, float slope, const float *Z, const float *A, const float *dA, float *dZ, int B,
                     int n) {
  size_t count = (size_t)B * n;
  switch (act) {
  case NN_ACT_SIGMOID: /* σ' = a (1 − a) */
    for (size_t i = 0; i < count; i++) dZ[i] = dA[i] * A[i] * (1 - A[i]);
    break;
  case NN_ACT_TANH: /* tanh' = 1 − a² */
    for (size_t i = 0; i < count; i++) dZ[i] = dA[i] * (1 - A[i] * A[i]);
    break;
  case NN_ACT_RELU:
    for (size_t i = 0; i < count; i++) dZ[i] = Z[i] > 0 ? dA[i] : 0;
    break;
  case NN_ACT_LEAKY_RELU:
    for (size_t i = 0; i < count; i++) dZ[i] = Z[i] > 0 ? dA[i] : slope * dA[i];
    break;
  case NN_ACT_LINEAR:
  case NN_ACT_SOFTMAX: /* never reached for softmax: config validation pairs it with CE */
    for (size_t i = 0; i < count; i++) dZ[i] = dA[i];
    break;
  }
}

double nn_loss_sum(nn_loss loss, const float *Z, const float *A, nn_targets t, int B, int K) {
  double sum = 0;
  for (int i = 0; i < B; i++) {
    const float *z = Z + (size_t)i * K, *a = A + (size_t)i * K;
    if (loss == NN_LOSS_CROSS_ENTROPY) {
      double mx = z[0], se = 0;
      for (int k = 1; k < K; k++) mx = z[k] > mx ? z[k] : mx;
      for (int k = 0; k < K; k++) se += exp((double)z[k] - mx);
      double lse = mx + log(se);
      if (t.y) sum += lse - z[t.y[i]];
      else
        for (int k = 0; k < K; k++) sum += t.Y[(size_t)i * K + k] * (lse - z[k]);
    } else {
      for (int k = 0; k < K; k++) {
        double tk = nn_target(t, i, k, K), zk = z[k];
        if (loss == NN_LOSS_MSE) sum += 0.5 * (a[k] - tk) * (a[k] - tk);
        else sum += (zk > 0 ? zk : 0) - zk * tk + log1p(exp(-fabs(zk)));
      }
    }
  }
  return sum;
}

NN_SIMD void nn_loss_backward(nn_loss loss, nn_act out, float slope, const float *Z, const float *A,
                      nn_targets t, int B, int K, float *dZ) {
  for (int i = 0; i < B; i++)
    for (int k = 0; k < K; k++) {
      size_t j = (size_t)i * K + k;
      dZ[j] = A[j] - nn_target(t, i, k, K);
    }
  if (loss == NN_LOSS_MSE) nn_act_backward(out, slope, Z, A, dZ, dZ, B, K);
}

int nn_argmax(const float *a, int K) {
  if (K == 1) return a[0] > 0.5f;
  int best = 0;
  for (int k = 1; k < K; k++) best = a[k] > a[best] ? k : best;
  return best;
}
