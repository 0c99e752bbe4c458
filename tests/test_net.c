/* Tests of net: a hand-computed example, central-difference gradient checks over activations,
 * losses and shapes, batch-split invariance, initialisation. */
#include "testutil.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nnmpi/gradcheck.h"
#include "nnmpi/net.h"

static nn_net_spec make_spec(const int *sizes, int n, nn_act hidden, nn_act output, nn_loss loss) {
  nn_net_spec c;
  memset(&c, 0, sizeof c);
  c.n_sizes = n;
  memcpy(c.sizes, sizes, sizeof(int) * (size_t)n);
  c.hidden = hidden, c.output = output, c.loss = loss;
  c.leaky_slope = 0.1f;
  c.init = NN_INIT_AUTO;
  return c;
}

/* One sigmoid unit, two inputs, MSE: values worked out by hand (and in double). */
static void one_unit_by_hand(void **st) {
  (void)st;
  int sizes[] = {2, 1};
  nn_net_spec c = make_spec(sizes, 2, NN_ACT_SIGMOID, NN_ACT_SIGMOID, NN_LOSS_MSE);
  nn_net net;
  assert_int_equal(nn_net_init(&net, &c, 1), NN_OK);
  assert_int_equal(net.n_params, 3);
  net.layers[0].W[0] = 0.5f, net.layers[0].W[1] = -0.25f, net.layers[0].b[0] = 0.1f;
  float X[] = {1, 2}, Y[] = {1};
  nn_targets t = {NULL, Y};
  const float *A = nn_net_forward(&net, X, 1);
  assert_float_equal(A[0], 0.52497918747894, 1e-7); /* σ(0.5 − 0.5 + 0.1) */
  assert_float_equal(nn_net_loss_sum(&net, t, 1), 0.11282238616408401, 1e-7);
  nn_net_backward(&net, X, t, 1);
  double delta = -0.11845880923571206; /* (a − 1) a (1 − a) */
  assert_float_equal(net.layers[0].dW[0], delta * 1, 1e-7);
  assert_float_equal(net.layers[0].dW[1], delta * 2, 1e-7);
  assert_float_equal(net.layers[0].db[0], delta, 1e-7);
  nn_net_free(&net);
  nn_net_free(&net); /* idempotent */
}

static void check(const int *sizes, int n, nn_act hidden, nn_act output, nn_loss loss, int B) {
  nn_net_spec c = make_spec(sizes, n, hidden, output, loss);
  nn_gradcheck_layer res[NN_MAX_LAYERS];
  double worst;
  assert_int_equal(nn_gradcheck_spec(&c, B, 11, 0, res, &worst), NN_OK);
  for (int l = 0; l < n - 1; l++) {
    if (res[l].ref_norm < 1e-4) /* a trivially zero gradient checks nothing */
      fail_msg("layer %d: finite-difference gradient norm %g is trivially small", l, res[l].ref_norm);
    if (res[l].rel_err > 1e-3)
      fail_msg("hidden %s output %s loss %s B=%d layer %d: rel err %g (max abs %g)", nn_act_name(hidden),
               nn_act_name(output), nn_loss_name(loss), B, l, res[l].rel_err, res[l].max_abs);
  }
}

static void gradcheck_every_activation(void **st) {
  (void)st;
  int s[] = {3, 5, 4, 3};
  nn_act acts[] = {NN_ACT_SIGMOID, NN_ACT_TANH, NN_ACT_RELU, NN_ACT_LEAKY_RELU, NN_ACT_LINEAR};
  for (size_t a = 0; a < sizeof acts / sizeof *acts; a++) check(s, 4, acts[a], NN_ACT_SOFTMAX, NN_LOSS_CROSS_ENTROPY, 6);
}

static void gradcheck_every_loss(void **st) {
  (void)st;
  int s[] = {4, 6, 3}, s1[] = {4, 6, 1};
  check(s, 3, NN_ACT_TANH, NN_ACT_SOFTMAX, NN_LOSS_CROSS_ENTROPY, 5);
  check(s, 3, NN_ACT_TANH, NN_ACT_LINEAR, NN_LOSS_MSE, 5);
  check(s, 3, NN_ACT_TANH, NN_ACT_SIGMOID, NN_LOSS_MSE, 5);
  check(s, 3, NN_ACT_SIGMOID, NN_ACT_TANH, NN_LOSS_MSE, 5);
  check(s, 3, NN_ACT_TANH, NN_ACT_RELU, NN_LOSS_MSE, 5);
  check(s, 3, NN_ACT_TANH, NN_ACT_SIGMOID, NN_LOSS_BCE, 5);  /* multi-label, float targets */
  check(s1, 3, NN_ACT_TANH, NN_ACT_SIGMOID, NN_LOSS_BCE, 5); /* binary, one output */
}

static void gradcheck_shapes(void **st) {
  (void)st;
  int batch1[] = {3, 4, 2}, width1[] = {3, 1, 3}, deep[] = {4, 6, 5, 4, 3, 3}, single[] = {5, 3};
  check(batch1, 3, NN_ACT_TANH, NN_ACT_SOFTMAX, NN_LOSS_CROSS_ENTROPY, 1);
  check(width1, 3, NN_ACT_TANH, NN_ACT_SOFTMAX, NN_LOSS_CROSS_ENTROPY, 4);
  check(deep, 6, NN_ACT_LEAKY_RELU, NN_ACT_SOFTMAX, NN_LOSS_CROSS_ENTROPY, 7);
  check(single, 2, NN_ACT_LINEAR, NN_ACT_LINEAR, NN_LOSS_MSE, 3);
  int wide[] = {20, 30, 10};
  check(wide, 3, NN_ACT_RELU, NN_ACT_SOFTMAX, NN_LOSS_CROSS_ENTROPY, 16);
}

/* Gradient sums are additive over rows: grad(B rows) == grad(first k) + grad(rest). This is
 * what makes the allreduce of per-rank sums equal to the single-process gradient. */
static void gradient_sums_split_over_rows(void **st) {
  (void)st;
  int s[] = {5, 7, 3};
  nn_net_spec c = make_spec(s, 3, NN_ACT_RELU, NN_ACT_SOFTMAX, NN_LOSS_CROSS_ENTROPY);
  nn_net net;
  assert_int_equal(nn_net_init(&net, &c, 9), NN_OK);
  nn_rng r = nn_rng_make(9, 1);
  nn_net_init_params(&net, NN_INIT_AUTO, &r);
  float X[45];
  int32_t y[9];
  for (int i = 0; i < 45; i++) X[i] = nn_rng_normal(&r);
  for (int i = 0; i < 9; i++) y[i] = (int32_t)nn_rng_below(&r, 3);
  nn_net_forward(&net, X, 9);
  double Lall = nn_net_loss_sum(&net, (nn_targets){y, NULL}, 9);
  nn_net_backward(&net, X, (nn_targets){y, NULL}, 9);
  float *all = malloc(sizeof(float) * net.n_params), *part = malloc(sizeof(float) * net.n_params);
  memcpy(all, net.grads, sizeof(float) * net.n_params);
  nn_net_forward(&net, X, 4);
  double L1 = nn_net_loss_sum(&net, (nn_targets){y, NULL}, 4);
  nn_net_backward(&net, X, (nn_targets){y, NULL}, 4);
  memcpy(part, net.grads, sizeof(float) * net.n_params);
  nn_net_forward(&net, X + 20, 5);
  double L2 = nn_net_loss_sum(&net, (nn_targets){y + 4, NULL}, 5);
  nn_net_backward(&net, X + 20, (nn_targets){y + 4, NULL}, 5);
  assert_float_equal(Lall, L1 + L2, 1e-5);
  for (size_t i = 0; i < net.n_params; i++) assert_float_equal(all[i], part[i] + net.grads[i], 1e-5);
  free(all);
  free(part);
  nn_net_free(&net);
}

static void init_schemes(void **st) {
  (void)st;
  int s[] = {400, 300, 10};
  nn_net_spec c = make_spec(s, 3, NN_ACT_RELU, NN_ACT_SOFTMAX, NN_LOSS_CROSS_ENTROPY);
  nn_net a, b;
  assert_int_equal(nn_net_init(&a, &c, 1), NN_OK);
  assert_int_equal(nn_net_init(&b, &c, 1), NN_OK);
  nn_rng r1 = nn_rng_make(5, NN_STREAM_INIT), r2 = nn_rng_make(5, NN_STREAM_INIT);
  nn_net_init_params(&a, NN_INIT_AUTO, &r1);
  nn_net_init_params(&b, NN_INIT_AUTO, &r2);
  assert_memory_equal(a.params, b.params, sizeof(float) * a.n_params); /* same state, same weights */
  double var = 0;
  size_t nW = 400 * 300;
  for (size_t i = 0; i < nW; i++) var += (double)a.layers[0].W[i] * a.layers[0].W[i];
  assert_float_equal(var / nW, 2.0 / 400, 0.05 * 2.0 / 400); /* He: Var = 2 / fan_in */
  for (int k = 0; k < 300; k++) assert_float_equal(a.layers[0].b[k], 0, 0);
  float lim = sqrtf(6.0f / 310), mx = 0;
  for (size_t i = 0; i < 3000; i++) mx = fmaxf(mx, fabsf(a.layers[1].W[i]));
  assert_true(mx <= lim && mx > 0.9f * lim); /* Xavier uniform on the softmax layer */
  nn_net_free(&a);
  nn_net_free(&b);
}

static void count_correct(void **st) {
  (void)st;
  int s[] = {2, 3};
  nn_net_spec c = make_spec(s, 2, NN_ACT_LINEAR, NN_ACT_SOFTMAX, NN_LOSS_CROSS_ENTROPY);
  nn_net net;
  assert_int_equal(nn_net_init(&net, &c, 2), NN_OK);
  memset(net.params, 0, sizeof(float) * net.n_params);
  net.layers[0].W[0 * 3 + 2] = 1; /* x0 votes class 2 */
  net.layers[0].W[1 * 3 + 0] = 1; /* x1 votes class 0 */
  float X[] = {1, 0, 0, 1};
  int32_t y[] = {2, 1};
  nn_net_forward(&net, X, 2);
  assert_int_equal(nn_net_count_correct(&net, y, 2), 1);
  nn_net_free(&net);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(one_unit_by_hand),       cmocka_unit_test(gradcheck_every_activation),
      cmocka_unit_test(gradcheck_every_loss),   cmocka_unit_test(gradcheck_shapes),
      cmocka_unit_test(gradient_sums_split_over_rows),
      cmocka_unit_test(init_schemes),           cmocka_unit_test(count_correct),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
