/* test_optim: optimisers against an independent double-precision reference, weight decay (L2
 * and decoupled), Adam bias correction, clipping, learning-rate schedules, bit-exact resume. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "nnmpi/optim.h"
#include "nnmpi/status.h"
#include "testutil.h"

enum { N = 4 };
static const double PI = 3.14159265358979323846;
static const double P0[N] = {0.5, -1.0, 2.0, -0.25};
/* gradient of f(p) = sum a_i p_i^2 / 2 + c_i p_i, so it changes with p from step to step */
static const double A[N] = {1.0, 2.0, 0.5, 3.0}, C[N] = {0.1, -0.2, 0.3, -0.05};

#define assert_near(got, want, tol) assert_near_at((double)(got), (double)(want), (tol), __FILE__, __LINE__)
static void assert_near_at(double got, double want, double tol, const char *file, int line) {
  if (!(fabs(got - want) <= tol * (1.0 + fabs(want))))
    fail_msg("%s:%d: got %.9g, expected %.9g (tol %g)", file, line, got, want, tol);
}

static nn_optim_spec cfg(nn_optim_kind kind, float lr, float wd) {
  nn_optim_spec c;
  memset(&c, 0, sizeof c);
  c.name = kind;
  c.lr = lr;
  c.momentum = 0.9f;
  c.beta1 = 0.9f;
  c.beta2 = 0.999f;
  c.eps = 1e-8f;
  c.weight_decay = wd;
  return c;
}

/* Textbook updates in double, written out per optimiser (not shared with src/optim.c). */
static void ref_steps(nn_optim_kind kind, double lr, double wd, int steps, double p[N]) {
  /* the float hyperparameters the optimiser sees, widened */
  const double mu = 0.9f, b1 = 0.9f, b2 = 0.999f, eps = 1e-8f;
  double buf[N] = {0}, m[N] = {0}, v[N] = {0};
  memcpy(p, P0, sizeof P0);
  for (int t = 1; t <= steps; t++) {
    for (int i = 0; i < N; i++) {
      double g = A[i] * p[i] + C[i];
      if (kind == NN_OPT_SGD) {
        p[i] = p[i] - lr * (g + wd * p[i]);
      } else if (kind == NN_OPT_MOMENTUM) {
        g += wd * p[i];
        buf[i] = mu * buf[i] + g;
        p[i] = p[i] - lr * buf[i];
      } else if (kind == NN_OPT_NESTEROV) {
        g += wd * p[i];
        buf[i] = mu * buf[i] + g;
        p[i] = p[i] - lr * (g + mu * buf[i]);
      } else {
        if (kind == NN_OPT_ADAM) g += wd * p[i];
        m[i] = b1 * m[i] + (1 - b1) * g;
        v[i] = b2 * v[i] + (1 - b2) * g * g;
        double m_hat = m[i] / (1 - pow(b1, t)), v_hat = v[i] / (1 - pow(b2, t));
        double decoupled = kind == NN_OPT_ADAMW ? wd * p[i] : 0.0;
        p[i] = p[i] - lr * (m_hat / (sqrt(v_hat) + eps) + decoupled);
      }
    }
  }
}

/* Runs `steps` steps of the real optimiser on the same problem; params out in p. */
static void run_steps(const nn_optim_spec *c, int steps, float p[N]) {
  nn_optim o;
  assert_int_equal(nn_optim_init(&o, c, N), NN_OK);
  for (int i = 0; i < N; i++) p[i] = (float)P0[i];
  for (int s = 0; s < steps; s++) {
    float g[N];
    for (int i = 0; i < N; i++) g[i] = (float)(A[i] * p[i] + C[i]);
    assert_true(nn_optim_step(&o, p, g, 1.0f, 1.0f, c->lr));
  }
  assert_int_equal(o.t, steps);
  nn_optim_free(&o);
}

static void check_kind(nn_optim_kind kind, float wd) {
  /* the first 3 steps closely, then step 12 (bias correction still changing with t) */
  static const int at[] = {1, 2, 3, 12};
  for (int k = 0; k < 4; k++) {
    nn_optim_spec c = cfg(kind, 0.1f, wd);
    float got[N];
    double want[N];
    run_steps(&c, at[k], got);
    ref_steps(kind, 0.1f, wd, at[k], want);
    for (int i = 0; i < N; i++) assert_near(got[i], want[i], at[k] <= 3 ? 2e-6 : 2e-5);
  }
}

static void test_first_steps(void **st) {
  (void)st;
  for (nn_optim_kind k = NN_OPT_SGD; k <= NN_OPT_ADAMW; k++) check_kind(k, 0.0f);
}

static void test_weight_decay(void **st) {
  (void)st;
  for (nn_optim_kind k = NN_OPT_SGD; k <= NN_OPT_ADAMW; k++) check_kind(k, 0.1f);
  /* L2 inside Adam is normalised away at t=1 (|update| = lr), decoupled decay is not. */
  float pa[N], pw[N];
  nn_optim_spec ca = cfg(NN_OPT_ADAM, 0.1f, 0.5f), cw = cfg(NN_OPT_ADAMW, 0.1f, 0.5f);
  run_steps(&ca, 1, pa);
  run_steps(&cw, 1, pw);
  for (int i = 0; i < N; i++) {
    double g = A[i] * P0[i] + C[i], sign_l2 = g + 0.5 * P0[i] > 0 ? 1 : -1, sign = g > 0 ? 1 : -1;
    assert_near(pa[i], P0[i] - 0.1 * sign_l2, 1e-6);
    assert_near(pw[i], P0[i] * (1 - 0.1 * 0.5) - 0.1 * sign, 1e-6);
  }
}

/* Hand-computed numbers, independent of both implementations above. */
static void test_literal_values(void **st) {
  (void)st;
  nn_optim_spec c = cfg(NN_OPT_MOMENTUM, 0.1f, 0.0f);
  nn_optim o;
  assert_int_equal(nn_optim_init(&o, &c, 1), NN_OK);
  float p = 1.0f, g1 = 0.5f, g2 = -1.0f;
  assert_true(nn_optim_step(&o, &p, &g1, 1.0f, 1.0f, 0.1f)); /* v = 0.5, p = 1 - 0.05 = 0.95 */
  assert_near(p, 0.95, 1e-7);
  assert_true(nn_optim_step(&o, &p, &g2, 1.0f, 1.0f, 0.1f)); /* v = 0.45 - 1 = -0.55, p = 0.95 + 0.055 = 1.005 */
  assert_near(o.state[0], -0.55, 1e-7);
  assert_near(p, 1.005, 1e-7);
  nn_optim_free(&o);
  c.name = NN_OPT_NESTEROV;
  assert_int_equal(nn_optim_init(&o, &c, 1), NN_OK);
  p = 1.0f;
  assert_true(nn_optim_step(&o, &p, &g1, 1.0f, 1.0f, 0.1f)); /* v = 0.5, p = 1 - 0.1*(0.5 + 0.45) = 0.905 */
  assert_near(p, 0.905, 1e-7);
  nn_optim_free(&o);
}

static void test_adam_bias_correction(void **st) {
  (void)st;
  nn_optim_spec c = cfg(NN_OPT_ADAM, 0.01f, 0.0f);
  nn_optim o;
  float p[3] = {1.0f, 1.0f, 1.0f}, g[3] = {1e-3f, 5.0f, -100.0f};
  assert_int_equal(nn_optim_init(&o, &c, 3), NN_OK);
  assert_true(nn_optim_step(&o, p, g, 1.0f, 1.0f, 0.01f));
  /* t=1: m_hat = g, v_hat = g^2, so the update is lr*sign(g) whatever |g| is */
  assert_near(p[0], 0.99, 1e-6);
  assert_near(p[1], 0.99, 1e-6);
  assert_near(p[2], 1.01, 1e-6);
  assert_int_equal(o.t, 1);
  assert_near(o.state[1], 0.5, 1e-6);              /* m = (1-b1) g */
  assert_near(o.state[3 + 2], 0.001 * 1e4, 1e-4);  /* v = (1-b2) g^2 */
  nn_optim_free(&o);
}

static void test_clip(void **st) {
  (void)st;
  float g[2] = {3.0f, 4.0f};
  assert_near(sqrt(nn_optim_sumsq(g, 2, 1.0f)), 5.0, 1e-12);
  assert_near(sqrt(nn_optim_sumsq(g, 2, 0.5f)), 2.5, 1e-12);
  assert_near(nn_optim_clip_factor(5.0, 1.0f), 0.2, 1e-7);
  assert_true(nn_optim_clip_factor(5.0, 10.0f) == 1.0f);
  assert_true(nn_optim_clip_factor(5.0, 0.0f) == 1.0f); /* 0 = off */
  /* squares of 1e20 overflow float: the sum must be accumulated in double */
  float big[2] = {1e20f, 1e20f};
  assert_near(sqrt(nn_optim_sumsq(big, 2, 1.0f)), sqrt(2.0) * 1e20f, 1e-9);
  assert_near(nn_optim_sumsq(NULL, 0, 1.0f), 0.0, 0);
}

/* The sharded step's finiteness test: any Inf or NaN anywhere (also past a vector's width and
 * in the tail), nothing else (huge, tiny, negative zero, denormal) */
static void test_any_nonfinite(void **st) {
  (void)st;
  enum { NV = 67 };
  float g[NV];
  for (int i = 0; i < NV; i++) g[i] = (float)(i - 30) * 1e36f;
  g[3] = -0.0f, g[4] = 1e-45f, g[5] = 3.4e38f;
  assert_false(nn_optim_any_nonfinite(g, NV));
  assert_false(nn_optim_any_nonfinite(NULL, 0));
  const float bad[3] = {INFINITY, -INFINITY, NAN};
  for (int b = 0; b < 3; b++)
    for (int at = 0; at < NV; at += 11) {
      float keep = g[at];
      g[at] = bad[b];
      assert_true(nn_optim_any_nonfinite(g, NV));
      assert_false(nn_optim_any_nonfinite(g, (size_t)at)); /* the values before it are fine */
      g[at] = keep;
    }
  g[NV - 1] = NAN;
  assert_true(nn_optim_any_nonfinite(g, NV));
}

/* The step takes sums: scale and clip applied in the pass equal a mean and a clip taken before
 * it, bit for bit; a non-finite gradient entry is reported. */
static void test_scale_clip_finite(void **st) {
  (void)st;
  enum { M = 41 };
  for (nn_optim_kind k = NN_OPT_SGD; k <= NN_OPT_ADAMW; k++) {
    nn_optim_spec c = cfg(k, 0.05f, 0.01f);
    float pa[M], pb[M], g[M], gm[M];
    nn_optim a, b;
    for (int i = 0; i < M; i++) pa[i] = pb[i] = sinf((float)i);
    assert_int_equal(nn_optim_init(&a, &c, M), NN_OK);
    assert_int_equal(nn_optim_init(&b, &c, M), NN_OK);
    for (int s = 0; s < 3; s++) {
      for (int i = 0; i < M; i++) g[i] = 37.0f * cosf((float)(i * 3 + s)), gm[i] = g[i] * (1.0f / 37);
      float clip = nn_optim_clip_factor(sqrt(nn_optim_sumsq(gm, M, 1.0f)), 0.5f);
      for (int i = 0; i < M; i++) gm[i] *= clip;
      assert_true(clip < 1.0f);
      assert_true(nn_optim_step(&a, pa, g, 1.0f / 37, clip, 0.1f));
      assert_true(nn_optim_step(&b, pb, gm, 1.0f, 1.0f, 0.1f));
    }
    assert_memory_equal(pa, pb, sizeof pa);
    g[M / 2] = NAN;
    assert_false(nn_optim_step(&a, pa, g, 1.0f, 1.0f, 0.1f));
    g[M / 2] = -INFINITY;
    assert_false(nn_optim_step(&b, pb, g, 1.0f, 1.0f, 0.1f));
    nn_optim_free(&a);
    nn_optim_free(&b);
  }
}

static void test_schedule(void **st) {
  (void)st;
  nn_optim_spec c = cfg(NN_OPT_SGD, 0.1f, 0.0f);
  c.warmup_steps = 10;
  assert_near(nn_optim_lr(&c, 0, 100), 0.01, 1e-6); /* warmup start: lr/W */
  assert_near(nn_optim_lr(&c, 4, 100), 0.05, 1e-6);
  assert_near(nn_optim_lr(&c, 9, 100), 0.1, 1e-6);  /* warmup end */
  assert_near(nn_optim_lr(&c, 50, 100), 0.1, 1e-6); /* constant after */

  c.schedule = NN_SCHED_STEP;
  c.step_size = 5;
  c.gamma = 0.5f;
  c.warmup_steps = 2;
  assert_near(nn_optim_lr(&c, 1, 100), 0.1, 1e-6);
  assert_near(nn_optim_lr(&c, 2, 100), 0.1, 1e-6);   /* s = 0 */
  assert_near(nn_optim_lr(&c, 6, 100), 0.1, 1e-6);   /* s = 4 */
  assert_near(nn_optim_lr(&c, 7, 100), 0.05, 1e-6);  /* s = 5: first boundary */
  assert_near(nn_optim_lr(&c, 12, 100), 0.025, 1e-6);
  assert_near(nn_optim_lr(&c, 11, 100), 0.05, 1e-6);

  c.schedule = NN_SCHED_COSINE;
  c.min_lr = 0.001f;
  c.warmup_steps = 0;
  assert_near(nn_optim_lr(&c, 0, 100), 0.1, 1e-6);
  assert_near(nn_optim_lr(&c, 25, 100), 0.001 + 0.0495 * (1 + cos(PI / 4)), 1e-6);
  assert_near(nn_optim_lr(&c, 50, 100), 0.0505, 1e-6);
  assert_near(nn_optim_lr(&c, 100, 100), 0.001, 1e-6);
  assert_near(nn_optim_lr(&c, 150, 100), 0.001, 1e-6); /* clamped past the end */
  c.warmup_steps = 10;
  assert_near(nn_optim_lr(&c, 10, 110), 0.1, 1e-6);
  assert_near(nn_optim_lr(&c, 60, 110), 0.0505, 1e-6);
  assert_near(nn_optim_lr(&c, 110, 110), 0.001, 1e-6);
  assert_near(nn_optim_lr(&c, 5, 5), 0.06, 1e-6); /* S = max(1, total - W) never divides by 0 */
}

/* The update in pieces (begin once, apply per piece, pieces of 1, 7 and the rest) has the bits
 * of one nn_optim_step, for every kind, over several steps; a NaN in one piece is reported by
 * that piece only. */
static void test_pieces(void **st) {
  (void)st;
  enum { M = 53 };
  const size_t cut[] = {0, 1, 8, M};
  for (nn_optim_kind k = NN_OPT_SGD; k <= NN_OPT_ADAMW; k++) {
    nn_optim_spec c = cfg(k, 0.05f, 0.01f);
    float pa[M], pb[M], g[M];
    nn_optim a, b;
    for (int i = 0; i < M; i++) pa[i] = pb[i] = sinf((float)i);
    assert_int_equal(nn_optim_init(&a, &c, M), NN_OK);
    assert_int_equal(nn_optim_init(&b, &c, M), NN_OK);
    for (int s = 0; s < 4; s++) {
      for (int i = 0; i < M; i++) g[i] = 3.0f * cosf((float)(i * 5 + s)) + pa[i];
      float lr = nn_optim_lr(&c, s, 4);
      assert_true(nn_optim_step(&a, pa, g, 0.5f, 0.75f, lr));
      nn_optim_pass pass;
      nn_optim_begin(&b, lr, &pass);
      for (int j = 0; j < 3; j++)
        assert_true(nn_optim_apply(&b, &pass, cut[j], cut[j + 1] - cut[j], pb + cut[j], g + cut[j], 0.5f, 0.75f));
    }
    assert_memory_equal(pa, pb, sizeof pa);
    if (a.n_state) assert_memory_equal(a.state, b.state, sizeof(float) * (size_t)a.n_state * M);
    assert_int_equal(a.t, b.t);
    g[3] = NAN;
    nn_optim_pass pass;
    nn_optim_begin(&b, 0.1f, &pass);
    assert_true(nn_optim_apply(&b, &pass, 0, 1, pb, g, 1.0f, 1.0f));
    assert_false(nn_optim_apply(&b, &pass, 1, M - 1, pb + 1, g + 1, 1.0f, 1.0f));
    nn_optim_free(&a);
    nn_optim_free(&b);
  }
}

static void test_resume_exact(void **st) {
  (void)st;
  enum { M = 37 };
  for (nn_optim_kind k = NN_OPT_SGD; k <= NN_OPT_ADAMW; k++) {
    nn_optim_spec c = cfg(k, 0.05f, 0.01f);
    float pa[M], pb[M], g[M];
    nn_optim a, b, r;
    for (int i = 0; i < M; i++) pa[i] = pb[i] = sinf((float)i);
    assert_int_equal(nn_optim_init(&a, &c, M), NN_OK);
    assert_int_equal(nn_optim_init(&b, &c, M), NN_OK);
    for (int s = 0; s < 10; s++) {
      for (int i = 0; i < M; i++) g[i] = cosf((float)(i * 7 + s)) + pa[i];
      assert_true(nn_optim_step(&a, pa, g, 1.0f, 1.0f, nn_optim_lr(&c, s, 10)));
    }
    for (int s = 0; s < 5; s++) {
      for (int i = 0; i < M; i++) g[i] = cosf((float)(i * 7 + s)) + pb[i];
      assert_true(nn_optim_step(&b, pb, g, 1.0f, 1.0f, nn_optim_lr(&c, s, 10)));
    }
    /* "checkpoint": only state and t carry over into a fresh optimiser */
    assert_int_equal(nn_optim_init(&r, &c, M), NN_OK);
    assert_int_equal(r.n_state, b.n_state);
    if (b.n_state) memcpy(r.state, b.state, sizeof(float) * (size_t)b.n_state * M);
    r.t = b.t;
    nn_optim_free(&b);
    for (int s = 5; s < 10; s++) {
      for (int i = 0; i < M; i++) g[i] = cosf((float)(i * 7 + s)) + pb[i];
      assert_true(nn_optim_step(&r, pb, g, 1.0f, 1.0f, nn_optim_lr(&c, s, 10)));
    }
    assert_memory_equal(pa, pb, sizeof pa);
    if (a.n_state) assert_memory_equal(a.state, r.state, sizeof(float) * (size_t)a.n_state * M);
    assert_int_equal(a.t, 10);
    assert_int_equal(r.t, 10);
    nn_optim_free(&a);
    nn_optim_free(&r);
  }
}

static void test_init_and_names(void **st) {
  (void)st;
  static const int n_state[] = {0, 1, 1, 2, 2};
  for (nn_optim_kind k = NN_OPT_SGD; k <= NN_OPT_ADAMW; k++) {
    nn_optim_spec c = cfg(k, 0.1f, 0.0f);
    nn_optim o;
    assert_int_equal(nn_optim_init(&o, &c, 5), NN_OK);
    assert_int_equal(o.n_state, n_state[k]);
    assert_int_equal(o.t, 0);
    for (int i = 0; i < o.n_state * 5; i++) assert_true(o.state[i] == 0.0f);
    assert_true(o.n_state ? o.state != NULL : o.state == NULL);
    for (int i = 0; i < o.n_state; i++) assert_non_null(nn_optim_state_name(k, i));
    assert_null(nn_optim_state_name(k, o.n_state));
    nn_optim_free(&o);
    nn_optim_free(&o); /* idempotent */
    assert_null(o.state);
  }
  nn_optim_free(NULL);
  assert_string_equal(nn_optim_state_name(NN_OPT_MOMENTUM, 0), "velocity");
  assert_string_equal(nn_optim_state_name(NN_OPT_NESTEROV, 0), "velocity");
  assert_string_equal(nn_optim_state_name(NN_OPT_ADAM, 0), "m");
  assert_string_equal(nn_optim_state_name(NN_OPT_ADAMW, 1), "v");
  assert_null(nn_optim_state_name(NN_OPT_SGD, 0));

  nn_optim_spec c = cfg((nn_optim_kind)9, 0.1f, 0.0f);
  nn_optim o;
  assert_int_equal(nn_optim_init(&o, &c, 5), NN_EINVAL);
  tu_assert_contains(nn_errmsg(), "unknown optimiser kind 9");
  assert_null(o.state);
  nn_optim_free(&o);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_first_steps),   cmocka_unit_test(test_weight_decay),
      cmocka_unit_test(test_literal_values), cmocka_unit_test(test_adam_bias_correction),
      cmocka_unit_test(test_clip), cmocka_unit_test(test_any_nonfinite), cmocka_unit_test(test_scale_clip_finite),          cmocka_unit_test(test_schedule),
      cmocka_unit_test(test_resume_exact), cmocka_unit_test(test_pieces),  cmocka_unit_test(test_init_and_names),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
