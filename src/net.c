/* net: the layer stack over one flat params buffer and one flat grads buffer; batched
 * forward and backward through CBLAS. Layer 3: uses layers, tensor, rng. */
#include "nnmpi/net.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nnmpi/status.h"
#include "nnmpi/tensor.h"

const char *const nn_init_names[] = {"auto", "he_normal", "he_uniform", "xavier_normal", "xavier_uniform", NULL};

int nn_net_init(nn_net *net, const nn_net_spec *spec, int cap) {
  memset(net, 0, sizeof *net);
  int L = spec->n_sizes - 1;
  if (L < 1 || L > NN_MAX_LAYERS || cap < 1)
    return NN_FAIL(NN_ECONFIG, "model.layers: need 2..%d sizes, got %d", NN_MAX_LAYERS + 1, L + 1);
  net->n_layers = L;
  net->loss = spec->loss;
  net->leaky_slope = spec->leaky_slope;
  net->cap = cap;
  memcpy(net->sizes, spec->sizes, sizeof(int) * (size_t)(L + 1));
  size_t np = 0, nw = 0;
  for (int l = 0; l < L; l++) {
    np += (size_t)(net->sizes[l] + 1) * net->sizes[l + 1];
    nw += (size_t)3 * cap * net->sizes[l + 1];
  }
  net->n_params = np;
  net->own_params = calloc(np, sizeof(float));
  net->own_grads = calloc(np + NN_GRAD_EXTRA, sizeof(float));
  net->work = calloc(nw, sizeof(float));
  if (!net->own_params || !net->own_grads || !net->work) {
    nn_net_free(net);
    return NN_FAIL(NN_ENOMEM, "network of %zu parameters, batch %d: out of memory", np, cap);
  }
  float *w = net->work;
  for (int l = 0; l < L; l++) {
    nn_layer *ly = &net->layers[l];
    ly->fan_in = net->sizes[l];
    ly->fan_out = net->sizes[l + 1];
    ly->act = l == L - 1 ? spec->output : spec->hidden;
    size_t nZ = (size_t)cap * ly->fan_out;
    ly->Z = w, ly->A = w + nZ, ly->dZ = w + 2 * nZ, w += 3 * nZ;
  }
  nn_net_bind(net, NULL, NULL);
  return NN_OK;
}

void nn_net_bind(nn_net *net, float *params, float *grads) {
  net->params = params ? params : net->own_params;
  net->grads = grads ? grads : net->own_grads;
  float *p = net->params, *g = net->grads;
  for (int l = 0; l < net->n_layers; l++) {
    nn_layer *ly = &net->layers[l];
    size_t nW = (size_t)ly->fan_in * ly->fan_out;
    ly->W = p, ly->b = p + nW, p += nW + ly->fan_out;
    ly->dW = g, ly->db = g + nW, g += nW + ly->fan_out;
  }
}

void nn_net_free(nn_net *net) {
  if (!net) return;
  free(net->own_params);
  free(net->own_grads);
  free(net->work);
  net->params = net->grads = net->work = net->own_params = net->own_grads = NULL;
  net->n_params = 0;
}

void nn_net_init_params(nn_net *net, nn_init scheme, nn_rng *rng) {
  memset(net->params, 0, sizeof(float) * net->n_params); /* biases zero */
  for (int l = 0; l < net->n_layers; l++) {
    nn_layer *ly = &net->layers[l];
    nn_init s = scheme;
    if (s == NN_INIT_AUTO)
      s = ly->act == NN_ACT_RELU || ly->act == NN_ACT_LEAKY_RELU ? NN_INIT_HE_NORMAL : NN_INIT_XAVIER_UNIFORM;
    bool he = s == NN_INIT_HE_NORMAL || s == NN_INIT_HE_UNIFORM;
    bool normal = s == NN_INIT_HE_NORMAL || s == NN_INIT_XAVIER_NORMAL;
    /* He: Var = 2/fan_in; Xavier/Glorot: Var = 2/(fan_in + fan_out). Uniform(−a, a) has Var a²/3. */
    double var = he ? 2.0 / ly->fan_in : 2.0 / (ly->fan_in + ly->fan_out);
    float sd = (float)sqrt(var), a = (float)sqrt(3 * var);
    size_t nW = (size_t)ly->fan_in * ly->fan_out;
    for (size_t i = 0; i < nW; i++)
      ly->W[i] = normal ? sd * nn_rng_normal(rng) : a * (2 * nn_rng_uniform(rng) - 1);
  }
}

/* In the loops below layers[l] is 0-based (layer l+1 of the equations in net.h); its input
 * is in_l = X for l = 0 and layers[l-1].A otherwise, and every subscript is 0-based. */

const float *nn_net_forward(nn_net *net, const float *X, int B) {
  const float *in = X; /* in_l: (B, fan_in) */
  for (int l = 0; l < net->n_layers; l++) {
    nn_layer *ly = &net->layers[l];
    /* Z_l = in_l W_l + 1 b_l: rows start as b_l, then one sgemm accumulates */
    for (int i = 0; i < B; i++) memcpy(ly->Z + (size_t)i * ly->fan_out, ly->b, sizeof(float) * ly->fan_out);
    nn_gemm(false, false, B, ly->fan_out, ly->fan_in, 1.0f, in, ly->W, 1.0f, ly->Z);
    nn_act_forward(ly->act, net->leaky_slope, ly->Z, ly->A, B, ly->fan_out); /* A_l = g_l(Z_l) */
    in = ly->A;
  }
  return in;
}

double nn_net_loss_sum(const nn_net *net, nn_targets t, int B) {
  const nn_layer *out = &net->layers[net->n_layers - 1];
  return nn_loss_sum(net->loss, out->Z, out->A, t, B, out->fan_out);
}

void nn_net_backward(nn_net *net, const float *X, nn_targets t, int B) {
  int L = net->n_layers;
  nn_layer *out = &net->layers[L - 1];
  /* δ_{L-1} = ∂(Σ loss)/∂Z_{L-1}, the output delta */
  nn_loss_backward(net->loss, out->act, net->leaky_slope, out->Z, out->A, t, B, out->fan_out, out->dZ);
  for (int l = L - 1; l >= 0; l--) {
    nn_layer *ly = &net->layers[l];
    const float *in = l > 0 ? net->layers[l - 1].A : X; /* in_l: (B, fan_in) */
    /* dW_l = in_lᵀ δ_l: (fan_in, fan_out); db_l = Σ_rows δ_l */
    nn_gemm(true, false, ly->fan_in, ly->fan_out, B, 1.0f, in, ly->dZ, 0.0f, ly->dW);
    nn_colsum(ly->dZ, B, ly->fan_out, ly->db);
    if (l == 0) break;
    /* δ_{l-1} = g'_{l-1}(Z_{l-1}) ⊙ (δ_l W_lᵀ) */
    nn_layer *prev = &net->layers[l - 1];
    nn_gemm(false, true, B, ly->fan_in, ly->fan_out, 1.0f, ly->dZ, ly->W, 0.0f, prev->dZ);
    nn_act_backward(prev->act, net->leaky_slope, prev->Z, prev->A, prev->dZ, prev->dZ, B, prev->fan_out);
  }
}

int64_t nn_net_count_correct(const nn_net *net, const int32_t *y, int B) {
  const nn_layer *out = &net->layers[net->n_layers - 1];
  int64_t correct = 0;
  for (int i = 0; i < B; i++) correct += nn_argmax(out->A + (size_t)i * out->fan_out, out->fan_out) == y[i];
  return correct;
}
