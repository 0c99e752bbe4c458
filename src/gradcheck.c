/* gradcheck: finite differences against backprop, with an independent double-precision
 * reference forward pass. Layer 3: uses net, layers (targets), rng. */
#include "nnmpi/gradcheck.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nnmpi/status.h"

static double act_ref(nn_act act, double slope, double z) {
  switch (act) {
  case NN_ACT_SIGMOID: return 1 / (1 + exp(-z));
  case NN_ACT_TANH: return tanh(z);
  case NN_ACT_RELU: return z > 0 ? z : 0;
  case NN_ACT_LEAKY_RELU: return z > 0 ? z : slope * z;
  default: return z; /* linear; softmax is applied per row below */
  }
}

double nn_gradcheck_ref_loss(const nn_net *net, const float *X, nn_targets t, int B) {
  int maxw = 0;
  for (int l = 0; l <= net->n_layers; l++) maxw = net->sizes[l] > maxw ? net->sizes[l] : maxw;
  double *a = malloc(sizeof(double) * 2 * (size_t)maxw), *z = a + maxw, loss = 0;
  double *zz = malloc(sizeof(double) * (size_t)maxw);
  if (!a || !zz) { free(a); free(zz); return NAN; }
  for (int i = 0; i < B; i++) {
    for (int j = 0; j < net->sizes[0]; j++) a[j] = X[(size_t)i * net->sizes[0] + j];
    for (int l = 0; l < net->n_layers; l++) {
      const nn_layer *ly = &net->layers[l];
      for (int k = 0; k < ly->fan_out; k++) { /* z_k = b_k + Σ_j a_j W_jk */
        double s = ly->b[k];
        for (int j = 0; j < ly->fan_in; j++) s += a[j] * ly->W[(size_t)j * ly->fan_out + k];
        z[k] = s;
      }
      memcpy(zz, z, sizeof(double) * ly->fan_out);
      for (int k = 0; k < ly->fan_out; k++) a[k] = act_ref(ly->act, net->leaky_slope, z[k]);
    }
    int K = net->sizes[net->n_layers];
    for (int k = 0; k < K; k++) {
      double tk = nn_target(t, i, k, K);
      if (net->loss == NN_LOSS_MSE) loss += 0.5 * (a[k] - tk) * (a[k] - tk);
      else if (net->loss == NN_LOSS_BCE) loss -= tk * log(a[k]) + (1 - tk) * log(1 - a[k]);
    }
    if (net->loss == NN_LOSS_CROSS_ENTROPY) { /* −Σ t_k log softmax(z)_k, plain formula */
      double se = 0;
      for (int k = 0; k < K; k++) se += exp(zz[k]);
      for (int k = 0; k < K; k++) loss -= nn_target(t, i, k, K) * log(exp(zz[k]) / se);
    }
  }
  free(a);
  free(zz);
  return loss;
}

double nn_gradcheck_net(nn_net *net, const float *X, nn_targets t, int B, double h,
                        int max_per_layer, nn_gradcheck_layer *out) {
  nn_net_forward(net, X, B);
  nn_net_backward(net, X, t, B);
  double worst = 0;
  for (int l = 0; l < net->n_layers; l++) {
    nn_layer *ly = &net->layers[l];
    size_t n = (size_t)(ly->fan_in + 1) * ly->fan_out; /* W then b, contiguous */
    size_t stride = max_per_layer > 0 && n > (size_t)max_per_layer ? n / (size_t)max_per_layer : 1;
    double diff2 = 0, bp2 = 0, fd2 = 0, max_abs = 0;
    int checked = 0;
    for (size_t i = 0; i < n; i += stride) {
      /* always include the last bias entries when striding */
      size_t j = (stride > 1 && i + stride >= n) ? n - 1 : i;
      float *p = ly->W + j, saved = *p;
      double step = h * fmax(1.0, fabs(saved));
      *p = (float)(saved + step);
      double up = (double)*p - saved, lp = nn_gradcheck_ref_loss(net, X, t, B);
      *p = (float)(saved - step);
      double dn = saved - (double)*p, lm = nn_gradcheck_ref_loss(net, X, t, B);
      *p = saved;
      double fd = (lp - lm) / (up + dn), bp = ly->dW[j];
      diff2 += (bp - fd) * (bp - fd), bp2 += bp * bp, fd2 += fd * fd;
      max_abs = fmax(max_abs, fabs(bp - fd));
      checked++;
    }
    double denom = sqrt(bp2) + sqrt(fd2);
    out[l] = (nn_gradcheck_layer){denom > 1e-30 ? sqrt(diff2) / denom : 0, max_abs, sqrt(fd2), checked};
    worst = fmax(worst, out[l].rel_err);
  }
  return worst;
}

int nn_gradcheck_spec(const nn_net_spec *spec, int B, uint64_t seed, int max_per_layer,
                      nn_gradcheck_layer *out, double *worst) {
  nn_net net;
  int rc = nn_net_init(&net, spec, B);
  if (rc) return rc;
  nn_rng rng = nn_rng_make(seed, NN_STREAM_GRADCHECK);
  nn_net_init_params(&net, spec->init, &rng);
  int D = net.sizes[0], K = net.sizes[net.n_layers];
  float *X = malloc(sizeof(float) * (size_t)B * (D + K));
  int32_t *y = malloc(sizeof(int32_t) * (size_t)B);
  if (!X || !y) {
    rc = NN_FAIL(NN_ENOMEM, "gradcheck: out of memory");
    goto out_free;
  }
  float *Y = X + (size_t)B * D;
  for (size_t i = 0; i < (size_t)B * D; i++) X[i] = nn_rng_normal(&rng);
  for (int i = 0; i < B; i++) y[i] = (int32_t)nn_rng_below(&rng, K > 1 ? (uint64_t)K : 2);
  for (size_t i = 0; i < (size_t)B * K; i++)
    Y[i] = spec->loss == NN_LOSS_MSE ? nn_rng_normal(&rng) : nn_rng_uniform(&rng);
  nn_targets t = spec->loss == NN_LOSS_CROSS_ENTROPY ? (nn_targets){y, NULL} : (nn_targets){NULL, Y};
  /* the reference is double precision, so a small step is exact enough and rarely crosses a relu kink */
  *worst = nn_gradcheck_net(&net, X, t, B, 1e-5, max_per_layer, out);
out_free:
  free(X);
  free(y);
  nn_net_free(&net);
  return rc;
}
