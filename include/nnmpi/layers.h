/* layers: activations and losses, each forward next to its backward.
 * Layer 2: libc only (elementwise loops over contiguous rows). Shapes: B rows of n units,
 * row-major. Loss values are SUMS over rows; callers divide by the (global) row count. */
#ifndef NNMPI_LAYERS_H
#define NNMPI_LAYERS_H

#include <stddef.h>
#include <stdint.h>

typedef enum { NN_ACT_SIGMOID, NN_ACT_TANH, NN_ACT_RELU, NN_ACT_LEAKY_RELU, NN_ACT_LINEAR, NN_ACT_SOFTMAX } nn_act;
typedef enum { NN_LOSS_MSE, NN_LOSS_CROSS_ENTROPY, NN_LOSS_BCE } nn_loss;

/* Names as they appear in configs and checkpoints, in enum order, NULL-terminated. */
extern const char *const nn_act_names[];
extern const char *const nn_loss_names[];
/* The name of one value; "(invalid)" outside the enum. */
const char *nn_act_name(nn_act a);
const char *nn_loss_name(nn_loss l);

/* Targets of a batch: class labels y (B) or float targets Y (B, K). Exactly one is non-NULL.
 * With labels, target t[i][k] = (k == y[i]) for K > 1 outputs and y[i] for K == 1. */
typedef struct nn_targets {
  const int32_t *y;
  const float *Y;
} nn_targets;

/* A = g(Z). Z, A: (B, n). Softmax normalises each row (max-shifted: stable for any logits). */
void nn_act_forward(nn_act act, float slope, const float *Z, float *A, int B, int n);

/* dZ = g'(Z) ⊙ dA. Z, A, dA, dZ: (B, n); dZ may alias dA. Not for softmax, whose Jacobian is
 * not diagonal: softmax only appears fused with cross-entropy. */
void nn_act_backward(nn_act act, float slope, const float *Z, const float *A, const float *dA, float *dZ, int B, int n);

/* Sum over the B rows of the per-row loss of outputs (Z pre-activation, A = g(Z)), K units:
 *   mse:            0.5 Σ_k (a_k − t_k)²
 *   cross_entropy:  Σ_k t_k (logsumexp(z) − z_k)          (softmax output, from Z: stable)
 *   bce:            Σ_k max(z,0) − z t_k + log1p(e^{−|z|}) (sigmoid output, from Z: stable) */
double nn_loss_sum(nn_loss loss, const float *Z, const float *A, nn_targets t, int B, int K);

/* Output delta dZ (B, K) = ∂(loss sum)/∂Z^L:
 *   cross_entropy + softmax, bce + sigmoid: A − T (fused);
 *   mse: g'(Z) ⊙ (A − T). */
void nn_loss_backward(nn_loss loss, nn_act out, float slope, const float *Z, const float *A, nn_targets t, int B, int K,
                      float *dZ);

/* The class one output row a (K values) predicts: the index of the largest value (the first
 * on ties), or for one output unit 1 when a[0] > 0.5, else 0. */
int nn_argmax(const float *a, int K);

/* Target t[i][k] as described for nn_targets. */
static inline float nn_target(nn_targets t, int i, int k, int K) {
  if (t.Y) return t.Y[(size_t)i * K + k];
  return K == 1 ? (float)t.y[i] : (float)(t.y[i] == k);
}

#endif
