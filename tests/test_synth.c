/* test_synth: synthetic data (src/synth.c): determinism, block independence, balance, shapes,
 * sanity of each kind (nn_synth_write into a dataset file: test_import). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nnmpi/status.h"
#include "nnmpi/synth.h"
#include "testutil.h"

enum { N = 600 };

static void test_resolve(void **state) {
  (void)state;
  int d = 0, k = 0;
  float noise = -1;
  bool cls;
  assert_int_equal(nn_synth_resolve("blobs", &d, &k, &noise, &cls), NN_OK);
  assert_int_equal(d, 2), assert_int_equal(k, 3), assert_true(noise == 1.0f && cls);
  d = 0, k = 0, noise = -1;
  assert_int_equal(nn_synth_resolve("teacher", &d, &k, &noise, &cls), NN_OK);
  assert_int_equal(d, 8), assert_int_equal(k, 2), assert_false(cls);
  d = 3, k = 0;
  assert_int_equal(nn_synth_resolve("spirals", &d, &k, &noise, &cls), NN_EINVAL);
  tu_assert_contains(nn_errmsg(), "synthetic spirals data is 2-D, got dim 3");
  d = 0, k = 1;
  assert_int_equal(nn_synth_resolve("rings", &d, &k, &noise, &cls), NN_EINVAL);
  tu_assert_contains(nn_errmsg(), "classes 1, expected 2..100000");
  assert_int_equal(nn_synth_resolve("moons", &d, &k, &noise, &cls), NN_EINVAL);
  tu_assert_contains(nn_errmsg(), "synthetic data kind 'moons' unknown");
  float X[2];
  int32_t y[1];
  assert_int_equal(nn_synth_fill("spirals", 1, 2, 0, 1, 2, 0, 0.1f, X, y, NULL), NN_EINVAL);
}

static void test_determinism_and_blocks(void **state) {
  (void)state;
  const char *kinds[] = {"spirals", "rings", "blobs", "teacher"};
  for (int t = 0; t < 4; t++) {
    int d = 0, k = 0;
    float noise = -1;
    bool cls;
    assert_int_equal(nn_synth_resolve(kinds[t], &d, &k, &noise, &cls), NN_OK);
    float *X = calloc(4 * N * (size_t)d, sizeof *X), *Y = calloc(4 * N * (size_t)k, sizeof *Y);
    int32_t *y = calloc(4 * N, sizeof *y);
    float *X2 = X + N * d, *X3 = X2 + N * d, *X4 = X3 + N * d, *Y2 = Y + N * k;
    int32_t *y2 = y + N;
    assert_int_equal(nn_synth_fill(kinds[t], 7, NN_SYNTH_STREAM_TRAIN, 0, N, d, k, noise, X, y, Y), NN_OK);
    /* same seed and stream in two blocks: identical rows */
    assert_int_equal(nn_synth_fill(kinds[t], 7, NN_SYNTH_STREAM_TRAIN, 0, 250, d, k, noise, X2, y2, Y2), NN_OK);
    assert_int_equal(nn_synth_fill(kinds[t], 7, NN_SYNTH_STREAM_TRAIN, 250, N - 250, d, k, noise, X2 + 250 * d, y2 + 250,
                                   Y2 + 250 * k), NN_OK);
    assert_memory_equal(X, X2, N * d * sizeof *X);
    if (cls) assert_memory_equal(y, y2, N * sizeof *y);
    else assert_memory_equal(Y, Y2, N * k * sizeof *Y);
    /* another seed, and the test stream, give other rows */
    assert_int_equal(nn_synth_fill(kinds[t], 8, NN_SYNTH_STREAM_TRAIN, 0, N, d, k, noise, X3, y2, Y2), NN_OK);
    assert_true(memcmp(X, X3, N * d * sizeof *X) != 0);
    assert_int_equal(nn_synth_fill(kinds[t], 7, NN_SYNTH_STREAM_TEST, 0, N, d, k, noise, X4, y2, Y2), NN_OK);
    assert_true(memcmp(X, X4, N * d * sizeof *X) != 0);
    for (int i = 0; i < N * d; i++) assert_true(isfinite(X[i]));
    if (cls) {
      int count[16] = {0};
      for (int i = 0; i < N; i++) assert_in_range(y[i], 0, k - 1), count[y[i]]++;
      for (int c = 0; c < k; c++) assert_int_equal(count[c], N / k); /* exactly balanced */
    }
    free(X), free(Y), free(y);
  }
}

/* Each kind looks like what it claims. */
static void test_sanity(void **state) {
  (void)state;
  float X[N * 2], Y[N * 2];
  int32_t y[N];
  /* rings: class c lies near radius (c + 1) / 2 */
  assert_int_equal(nn_synth_fill("rings", 3, NN_SYNTH_STREAM_TRAIN, 0, N, 2, 2, 0.0f, X, y, NULL), NN_OK);
  for (int i = 0; i < N; i++) assert_true(fabsf(hypotf(X[2 * i], X[2 * i + 1]) - (y[i] + 1) / 2.0f) < 1e-4f);
  /* spirals: radius within [0.05, 1] without noise; both arms cover all angles */
  assert_int_equal(nn_synth_fill("spirals", 3, NN_SYNTH_STREAM_TRAIN, 0, N, 2, 2, 0.0f, X, y, NULL), NN_OK);
  int quadrant[2][4] = {{0}};
  for (int i = 0; i < N; i++) {
    float r = hypotf(X[2 * i], X[2 * i + 1]);
    assert_true(r >= 0.049f && r <= 1.0001f);
    quadrant[y[i]][(X[2 * i] > 0) * 2 + (X[2 * i + 1] > 0)]++;
  }
  for (int c = 0; c < 2; c++)
    for (int q = 0; q < 4; q++) assert_true(quadrant[c][q] > N / 20);
  /* blobs: a nearest-class-mean rule on fresh test rows is mostly right (train/test share centres) */
  float mean[3][2] = {{0}}, Xt[N * 2];
  int32_t yt[N];
  assert_int_equal(nn_synth_fill("blobs", 5, NN_SYNTH_STREAM_TRAIN, 0, N, 2, 3, 0.5f, X, y, NULL), NN_OK);
  assert_int_equal(nn_synth_fill("blobs", 5, NN_SYNTH_STREAM_TEST, 0, N, 2, 3, 0.5f, Xt, yt, NULL), NN_OK);
  for (int i = 0; i < N; i++) mean[y[i]][0] += X[2 * i] / (N / 3), mean[y[i]][1] += X[2 * i + 1] / (N / 3);
  int right = 0;
  for (int i = 0; i < N; i++) {
    int best = 0;
    float bd = INFINITY;
    for (int c = 0; c < 3; c++) {
      float dd = hypotf(Xt[2 * i] - mean[c][0], Xt[2 * i + 1] - mean[c][1]);
      if (dd < bd) bd = dd, best = c;
    }
    right += best == yt[i];
  }
  assert_true(right > N * 8 / 10);
  /* teacher: targets vary, are bounded, and without noise are a function of X alone */
  static float Xb[N * 8], Yb[N * 2];
  assert_int_equal(nn_synth_fill("teacher", 9, NN_SYNTH_STREAM_TRAIN, 0, N, 8, 2, 0.0f, Xb, NULL, Y), NN_OK);
  double s = 0, s2 = 0;
  for (int i = 0; i < N * 2; i++) s += Y[i], s2 += (double)Y[i] * Y[i];
  assert_true(s2 / (N * 2) - (s / (N * 2)) * (s / (N * 2)) > 0.05);
  assert_int_equal(nn_synth_fill("teacher", 9, NN_SYNTH_STREAM_TRAIN, 0, N, 8, 2, 0.3f, Xb, NULL, Yb), NN_OK);
  double diff = 0;
  for (int i = 0; i < N * 2; i++) diff += fabs(Yb[i] - Y[i]);
  assert_true(diff / (N * 2) > 0.1 && diff / (N * 2) < 0.4); /* mean |N(0, 0.3^2)| = 0.24 */
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_resolve),
      cmocka_unit_test(test_determinism_and_blocks),
      cmocka_unit_test(test_sanity),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
