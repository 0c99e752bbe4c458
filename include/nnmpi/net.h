/* net: a fully-connected network — the layer stack, one flat parameter buffer, one flat
 * gradient buffer, and batched forward/backward through the seed's equations.
 * Layer 3: uses layers, tensor, rng; no MPI, no HDF5, never prints.
 *
 * Layer l (1..L) maps A^{l-1} (B, u_{l-1}) to A^l (B, u_l):
 *   Z^l = A^{l-1} W^l + 1 b^l,  A^l = g^l(Z^l),  W^l: (u_{l-1}, u_l) row-major, b^l: (u_l).
 * Parameters are laid out layer by layer as [W^1 | b^1 | W^2 | b^2 | ...] in params, and the
 * gradients identically in grads, so one allreduce moves all of them. In code, layers[l] is
 * 0-based: layers[0] is layer 1 of these equations, layers[L-1] the output layer. */
#ifndef NNMPI_NET_H
#define NNMPI_NET_H

#include <stddef.h>
#include <stdint.h>

#include "nnmpi/layers.h"
#include "nnmpi/rng.h"
#include "nnmpi/status.h"

enum { NN_MAX_LAYERS = 16, NN_GRAD_EXTRA = 8 };

typedef enum { NN_INIT_AUTO, NN_INIT_HE_NORMAL, NN_INIT_HE_UNIFORM, NN_INIT_XAVIER_NORMAL, NN_INIT_XAVIER_UNIFORM } nn_init;
extern const char *const nn_init_names[]; /* as in configs, enum order, NULL-terminated */

/* What a network is: the [model] section of the config. */
typedef struct nn_net_spec {
  int n_sizes;                  /* number of entries in sizes (layers + 1), >= 2 */
  int sizes[NN_MAX_LAYERS + 1]; /* units per layer, input first: 784,256,128,10 */
  nn_act hidden;                /* activation of hidden layers */
  nn_act output;                /* activation of the output layer */
  nn_loss loss;
  float leaky_slope;            /* slope of leaky_relu for z < 0 */
  nn_init init;                 /* auto = He for relu-family hidden layers, Xavier otherwise */
  uint64_t seed;                /* weights init and all sampling */
} nn_net_spec;

typedef struct nn_layer {
  int fan_in, fan_out;
  nn_act act;
  float *W, *b;   /* views into params: W (fan_in, fan_out), b (fan_out) */
  float *dW, *db; /* views into grads, same shapes */
  float *Z, *A;   /* workspace: (cap, fan_out) pre-activations and activations */
  float *dZ;      /* workspace: (cap, fan_out) delta of this layer */
} nn_layer;

typedef struct nn_net {
  int n_layers;          /* L */
  int sizes[NN_MAX_LAYERS + 1];
  nn_layer layers[NN_MAX_LAYERS];
  nn_loss loss;
  float leaky_slope;
  size_t n_params;       /* floats in params (== in grads) */
  float *params;         /* one allocation (or, after nn_net_bind, memory the net does not own) */
  float *grads;          /* one allocation of n_params + NN_GRAD_EXTRA floats: the tail is free
                            for per-step scalars that ride in the same allreduce */
  float *own_params, *own_grads; /* the net's own allocations, freed by nn_net_free */
  int cap;               /* batch capacity of the workspace */
  float *work;           /* one allocation: every layer's Z, A, dZ */
} nn_net;

/* Builds the network of spec with a workspace for batches of up to cap rows.
 * Params are not initialised (see nn_net_init_params). NN_ENOMEM / NN_ECONFIG. */
int nn_net_init(nn_net *net, const nn_net_spec *spec, int cap);
void nn_net_free(nn_net *net);

/* Points params and grads (and every layer's views) at other buffers of n_params and
 * n_params + NN_GRAD_EXTRA floats, which the caller keeps alive; NULL for both points them back
 * at the net's own. Copies nothing: the caller moves the values it needs. */
void nn_net_bind(nn_net *net, float *params, float *grads);

/* Weights from init scheme (He/Xavier, uniform/normal; auto by activation), biases zero,
 * drawn from rng. The same rng state gives the same params on every rank. */
void nn_net_init_params(nn_net *net, nn_init scheme, nn_rng *rng);

/* Forward pass of B <= cap rows. X: (B, u_0). Returns the output activations (B, u_L),
 * a view into the workspace valid until the next call. */
const float *nn_net_forward(nn_net *net, const float *X, int B);

/* Loss summed over the B rows of the last forward (double), without dividing by B. */
double nn_net_loss_sum(const nn_net *net, nn_targets t, int B);

/* Backward pass for the last forward on X with targets t. Writes into grads the gradient of
 * the loss SUMMED over the B rows (overwrites, no accumulation). Divide by the global count
 * after the allreduce to get the mean. */
void nn_net_backward(nn_net *net, const float *X, nn_targets t, int B);

/* Number of rows whose argmax output equals the label (classification), for the last forward. */
int64_t nn_net_count_correct(const nn_net *net, const int32_t *y, int B);

#endif
