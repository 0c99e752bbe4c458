/* gradcheck: central finite differences of the loss against backprop gradients.
 * Layer 3: uses net. The reference loss is computed by an independent double-precision
 * forward pass (not net.c's), so it also checks the forward pass. */
#ifndef NNMPI_GRADCHECK_H
#define NNMPI_GRADCHECK_H

#include <stdint.h>

#include "nnmpi/net.h"

typedef struct nn_gradcheck_layer {
  double rel_err;   /* ‖g_bp − g_fd‖ / max(‖g_bp‖ + ‖g_fd‖, tiny) over the checked entries */
  double max_abs;   /* largest |g_bp − g_fd| */
  double ref_norm;  /* ‖g_fd‖: guards against a trivially zero gradient */
  int checked;      /* parameters checked in this layer (W and b) */
} nn_gradcheck_layer;

/* Loss of net's params on (X, t) summed over B rows, in double, by a naive reference forward. */
double nn_gradcheck_ref_loss(const nn_net *net, const float *X, nn_targets t, int B);

/* Checks net (params as they are) on (X, t), B rows: backprop gradient vs central differences
 * of nn_gradcheck_ref_loss with step h (relative to max(1, |p|)). At most max_per_layer
 * parameters per layer are checked (a deterministic spread incl. the biases; <= 0: all).
 * out has net->n_layers entries. Returns the worst rel_err. Modifies params temporarily. */
double nn_gradcheck_net(nn_net *net, const float *X, nn_targets t, int B, double h,
                        int max_per_layer, nn_gradcheck_layer *out);

/* Builds the network of spec with random weights and random inputs/targets (B rows, seed) and
 * runs nn_gradcheck_net. NN_ENOMEM/NN_ECONFIG on failure; *worst gets the worst rel_err. */
int nn_gradcheck_spec(const nn_net_spec *spec, int B, uint64_t seed, int max_per_layer,
                      nn_gradcheck_layer *out, double *worst);

#endif
