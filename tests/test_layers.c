/* Tests of layers: activation values and derivatives, fused losses, numerical stability. */
#include "testutil.h"

#include <math.h>

#include "nnmpi/layers.h"

static const nn_act elementwise[] = {NN_ACT_SIGMOID, NN_ACT_TANH, NN_ACT_RELU, NN_ACT_LEAKY_RELU, NN_ACT_LINEAR};

/* g'(z) from nn_act_backward against central differences of nn_act_forward (in double
 * around float evaluations; z values chosen away from the relu kink). */
static void activation_derivatives(void **st) {
  (void)st;
  const float zs[] = {-3.0f, -0.7f, -0.05f, 0.05f, 0.4f, 2.5f};
  for (size_t a = 0; a < sizeof elementwise / sizeof *elementwise; a++) {
    for (size_t i = 0; i < sizeof zs / sizeof *zs; i++) {
      float z = zs[i], A, one = 1, dz, h = 1e-2f, zp = z + h, zm = z - h, ap, am;
      nn_act_forward(elementwise[a], 0.1f, &z, &A, 1, 1);
      nn_act_backward(elementwise[a], 0.1f, &z, &A, &one, &dz, 1, 1);
      nn_act_forward(elementwise[a], 0.1f, &zp, &ap, 1, 1);
      nn_act_forward(elementwise[a], 0.1f, &zm, &am, 1, 1);
      double fd = ((double)ap - am) / ((double)zp - zm);
      if (fabs(fd - dz) > 2e-3 * fmax(1, fabs(fd)))
        fail_msg("act %d at z=%g: backward %g, finite difference %g", (int)elementwise[a], z, dz, fd);
    }
  }
}

static void activation_values(void **st) {
  (void)st;
  float z[] = {-2, 0, 3}, A[3];
  nn_act_forward(NN_ACT_LEAKY_RELU, 0.1f, z, A, 1, 3);
  assert_float_equal(A[0], -0.2f, 1e-7);
  assert_float_equal(A[2], 3.0f, 0);
  nn_act_forward(NN_ACT_SIGMOID, 0, z, A, 1, 3);
  assert_float_equal(A[1], 0.5f, 0);
  assert_float_equal(A[2], 0.95257413f, 1e-7);
  nn_act_forward(NN_ACT_TANH, 0, z, A, 1, 3);
  assert_float_equal(A[0], -0.96402758f, 1e-7);
}

static void softmax_stable_for_huge_logits(void **st) {
  (void)st;
  float z[] = {1e4f, -1e4f, 0, 1e4f, 1e4f, 1e4f}, A[6];
  nn_act_forward(NN_ACT_SOFTMAX, 0, z, A, 2, 3);
  assert_float_equal(A[0], 1.0f, 0);
  assert_float_equal(A[1], 0.0f, 0);
  for (int k = 3; k < 6; k++) assert_float_equal(A[k], 1.0f / 3, 1e-7);
  /* cross-entropy from logits: finite and exact even where a probability is exactly 0 */
  int32_t y[] = {1, 2};
  double L = nn_loss_sum(NN_LOSS_CROSS_ENTROPY, z, A, (nn_targets){y, NULL}, 2, 3);
  assert_true(isfinite(L));
  assert_float_equal(L, 2e4 + log(3.0), 1e-6);
  float dZ[6];
  nn_loss_backward(NN_LOSS_CROSS_ENTROPY, NN_ACT_SOFTMAX, 0, z, A, (nn_targets){y, NULL}, 2, 3, dZ);
  assert_float_equal(dZ[0], 1.0f, 0);
  assert_float_equal(dZ[1], -1.0f, 0);
  assert_float_equal(dZ[5], 1.0f / 3 - 1, 1e-7);
}

static void bce_stable_at_saturation(void **st) {
  (void)st;
  float z[] = {1e4f, -1e4f, 0}, A[3];
  nn_act_forward(NN_ACT_SIGMOID, 0, z, A, 3, 1);
  assert_float_equal(A[0], 1.0f, 0); /* probabilities of exactly 1 and 0 */
  assert_float_equal(A[1], 0.0f, 0);
  int32_t right[] = {1, 0, 1}, wrong[] = {0, 1, 1};
  double Lr = nn_loss_sum(NN_LOSS_BCE, z, A, (nn_targets){right, NULL}, 3, 1);
  double Lw = nn_loss_sum(NN_LOSS_BCE, z, A, (nn_targets){wrong, NULL}, 3, 1);
  assert_float_equal(Lr, log(2.0), 1e-9);
  assert_float_equal(Lw, 2e4 + log(2.0), 1e-6);
  float dZ[3];
  nn_loss_backward(NN_LOSS_BCE, NN_ACT_SIGMOID, 0, z, A, (nn_targets){wrong, NULL}, 3, 1, dZ);
  assert_float_equal(dZ[0], 1.0f, 0);
  assert_float_equal(dZ[1], -1.0f, 0);
  assert_float_equal(dZ[2], -0.5f, 0);
}

static void mse_value_and_delta(void **st) {
  (void)st;
  float z[] = {0.1f}, A[1], Y[] = {1.0f}, dZ[1];
  nn_act_forward(NN_ACT_SIGMOID, 0, z, A, 1, 1);
  double L = nn_loss_sum(NN_LOSS_MSE, z, A, (nn_targets){NULL, Y}, 1, 1);
  assert_float_equal(L, 0.11282238616408401, 1e-7);
  nn_loss_backward(NN_LOSS_MSE, NN_ACT_SIGMOID, 0, z, A, (nn_targets){NULL, Y}, 1, 1, dZ);
  assert_float_equal(dZ[0], -0.11845880923571206, 1e-7); /* (a − t) σ'(z) */
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(activation_derivatives), cmocka_unit_test(activation_values),
      cmocka_unit_test(softmax_stable_for_huge_logits), cmocka_unit_test(bce_stable_at_saturation),
      cmocka_unit_test(mse_value_and_delta),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
