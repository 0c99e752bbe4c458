/* synth: synthetic datasets drawn from the counter-based rng (include/nnmpi/synth.h).
 * Layer 3: libc + rng + status only. Row i uses counters [i * stride, (i + 1) * stride) of its
 * stream, so rows are independent of how they are split into blocks. */
#include "nnmpi/synth.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nnmpi/status.h"

enum { TEACHER_HIDDEN = 32 };
static const float two_pi = 6.28318530717958647692f;

typedef enum { SPIRALS, RINGS, BLOBS, TEACHER, UNKNOWN } kind_t;

static kind_t kind_of(const char *kind) {
  static const char *names[] = {"spirals", "rings", "blobs", "teacher"};
  for (int i = 0; i < 4; i++)
    if (kind && !strcmp(kind, names[i])) return (kind_t)i;
  return UNKNOWN;
}

int nn_synth_resolve(const char *kind, int *d, int *k, float *noise, bool *classification) {
  static const int def_d[] = {2, 2, 2, 8}, def_k[] = {2, 2, 3, 2};
  static const float def_noise[] = {0.05f, 0.08f, 1.0f, 0.01f};
  kind_t t = kind_of(kind);
  if (t == UNKNOWN)
    return NN_FAIL(NN_EINVAL, "synthetic data kind '%s' unknown, expected spirals, rings, blobs or teacher",
                   kind ? kind : "(null)");
  if (*d == 0) *d = def_d[t];
  if (*k == 0) *k = def_k[t];
  if (*noise < 0) *noise = def_noise[t];
  *classification = t != TEACHER;
  if ((t == SPIRALS || t == RINGS) && *d != 2)
    return NN_FAIL(NN_EINVAL, "synthetic %s data is 2-D, got dim %d", kind, *d);
  if (*d < 1 || *d > 1000000) return NN_FAIL(NN_EINVAL, "synthetic %s data: dim %d, expected 1..1000000", kind, *d);
  if (*k < (t == TEACHER ? 1 : 2) || *k > 100000)
    return NN_FAIL(NN_EINVAL, "synthetic %s data: %s %d, expected %d..100000", kind,
                   t == TEACHER ? "targets" : "classes", *k, t == TEACHER ? 1 : 2);
  if (!isfinite(*noise) || *noise > 1e6f)
    return NN_FAIL(NN_EINVAL, "synthetic %s data: noise %g, expected 0..1e6", kind, (double)*noise);
  return NN_OK;
}

/* Per-dataset parameters: blob centres (k, d), or the teacher W1 (d, H), b1 (H), W2 (H, k), b2 (k). */
static float *make_params(kind_t t, uint64_t seed, int d, int k) {
  size_t n = t == BLOBS ? (size_t)k * d : t == TEACHER ? (size_t)d * TEACHER_HIDDEN + TEACHER_HIDDEN + (size_t)TEACHER_HIDDEN * k + k : 0;
  if (n == 0) return NULL;
  float *p = malloc(n * sizeof *p);
  if (!p) return NULL;
  nn_rng r = nn_rng_make(seed, NN_SYNTH_STREAM_PARAMS);
  if (t == BLOBS) {
    for (size_t i = 0; i < n; i++) p[i] = 4.0f * nn_rng_normal(&r);
  } else {
    float *W1 = p, *b1 = W1 + (size_t)d * TEACHER_HIDDEN, *W2 = b1 + TEACHER_HIDDEN, *b2 = W2 + (size_t)TEACHER_HIDDEN * k;
    for (size_t i = 0; i < (size_t)d * TEACHER_HIDDEN; i++) W1[i] = 1.5f / sqrtf((float)d) * nn_rng_normal(&r);
    for (int i = 0; i < TEACHER_HIDDEN; i++) b1[i] = 0.1f * nn_rng_normal(&r);
    for (size_t i = 0; i < (size_t)TEACHER_HIDDEN * k; i++) W2[i] = nn_rng_normal(&r) / sqrtf((float)TEACHER_HIDDEN);
    for (int i = 0; i < k; i++) b2[i] = 0.1f * nn_rng_normal(&r);
  }
  return p;
}

int nn_synth_fill(const char *kind, uint64_t seed, uint64_t stream, int64_t row0, int64_t n, int d,
                  int k, float noise, float *X, int32_t *y, float *Y) {
  int d2 = d, k2 = k;
  float noise2 = noise;
  bool cls;
  int rc = nn_synth_resolve(kind, &d2, &k2, &noise2, &cls);
  if (rc) return rc;
  if (d2 != d || k2 != k || d <= 0 || k <= 0 || noise < 0 || row0 < 0 || n < 0)
    return NN_FAIL(NN_EINVAL, "synthetic %s data: unresolved shape d=%d k=%d noise=%g rows [%lld, +%lld)", kind, d,
                   k, (double)noise, (long long)row0, (long long)n);
  kind_t t = kind_of(kind);
  float *p = make_params(t, seed, d, k);
  if ((t == BLOBS || t == TEACHER) && !p) return NN_FAIL(NN_ENOMEM, "synthetic %s data: no memory for parameters", kind);
  const uint64_t stride = 2 * (uint64_t)(d + k) + 8; /* counters per row: every draw below fits */
  for (int64_t i = 0; i < n; i++) {
    const int64_t row = row0 + i;
    nn_rng r = nn_rng_make(seed, stream);
    r.counter = (uint64_t)row * stride;
    float *x = X + i * (int64_t)d;
    int c = (int)(row % k);
    if (cls) y[i] = c;
    if (t == SPIRALS) { /* arm c: radius t, angle 1.75 turns * t + c/k turn */
      float s = nn_rng_uniform(&r), a = two_pi * (1.75f * s + (float)c / (float)k), rad = 0.05f + 0.95f * s;
      x[0] = rad * cosf(a) + noise * nn_rng_normal(&r);
      x[1] = rad * sinf(a) + noise * nn_rng_normal(&r);
    } else if (t == RINGS) { /* ring c: radius (c + 1) / k */
      float a = two_pi * nn_rng_uniform(&r), rad = (float)(c + 1) / (float)k + noise * nn_rng_normal(&r);
      x[0] = rad * cosf(a);
      x[1] = rad * sinf(a);
    } else if (t == BLOBS) {
      for (int j = 0; j < d; j++) x[j] = p[(size_t)c * d + j] + noise * nn_rng_normal(&r);
    } else { /* teacher: Y = tanh(x W1 + b1) W2 + b2 + noise * N(0, 1) */
      const float *W1 = p, *b1 = W1 + (size_t)d * TEACHER_HIDDEN, *W2 = b1 + TEACHER_HIDDEN, *b2 = W2 + (size_t)TEACHER_HIDDEN * k;
      float h[TEACHER_HIDDEN], *out = Y + i * (int64_t)k;
      for (int j = 0; j < d; j++) x[j] = nn_rng_normal(&r);
      for (int u = 0; u < TEACHER_HIDDEN; u++) {
        float z = b1[u];
        for (int j = 0; j < d; j++) z += x[j] * W1[(size_t)j * TEACHER_HIDDEN + u];
        h[u] = tanhf(z);
      }
      for (int o = 0; o < k; o++) {
        float z = b2[o];
        for (int u = 0; u < TEACHER_HIDDEN; u++) z += h[u] * W2[(size_t)u * k + o];
        out[o] = z + noise * nn_rng_normal(&r);
      }
    }
  }
  free(p);
  return NN_OK;
}
