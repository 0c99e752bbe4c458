/* optim: SGD, momentum, Nesterov, Adam, AdamW, weight decay, gradient clipping and the
 * learning-rate schedule, over flat float arrays. Layer 3: libc, status.
 * The optimiser state (velocity, or m | v) is one allocation; with o->t it is all a resume needs. */
#include "nnmpi/simd.h"
#include "nnmpi/optim.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nnmpi/status.h"

const char *const nn_optim_names[] = {"sgd", "momentum", "nesterov", "adam", "adamw", NULL};
const char *const nn_sched_names[] = {"constant", "step", "cosine", NULL};

const char *nn_optim_name(nn_optim_kind k) { return (unsigned)k <= NN_OPT_ADAMW ? nn_optim_names[k] : "(invalid)"; }

const char *nn_optim_state_name(nn_optim_kind kind, int i) {
  switch (kind) {
  case NN_OPT_MOMENTUM:
  case NN_OPT_NESTEROV: return i == 0 ? "velocity" : NULL;
  case NN_OPT_ADAM:
  case NN_OPT_ADAMW: return i == 0 ? "m" : i == 1 ? "v" : NULL;
  default: return NULL;
  }
}

int nn_optim_init(nn_optim *o, const nn_optim_spec *s, size_t n) {
  const nn_optim_kind k = s->name;
  *o = (nn_optim){.kind = k, .momentum = s->momentum, .beta1 = s->beta1, .beta2 = s->beta2, .eps = s->eps,
                  .weight_decay = s->weight_decay, .clip_norm = s->clip_norm, .n = n};
  switch (k) {
  case NN_OPT_SGD: o->n_state = 0; break;
  case NN_OPT_MOMENTUM:
  case NN_OPT_NESTEROV: o->n_state = 1; break;
  case NN_OPT_ADAM:
  case NN_OPT_ADAMW: o->n_state = 2; break;
  default: return NN_FAIL(NN_EINVAL, "optim.name: unknown optimiser kind %d, expected 0..4", (int)k);
  }
  if (o->n_state == 0) return NN_OK;
  const size_t count = (size_t)o->n_state * n;
  o->state = calloc(count ? count : 1, sizeof(float));
  if (!o->state)
    return NN_FAIL(NN_ENOMEM, "optimiser state: cannot allocate %zu floats (%d x %zu parameters)",
                   count, o->n_state, n);
  return NN_OK;
}

void nn_optim_free(nn_optim *o) {
  if (!o) return;
  free(o->state);
  o->state = NULL;
  o->n_state = 0;
}

/* Eight partial sums (value i goes to sum i mod 8) instead of one chain of dependent adds: the
 * compiler can keep them in one vector register, and each partial sum still adds its values in
 * index order, so every CPU variant gives the same bits. */
NN_SIMD double nn_optim_sumsq(const float *g, size_t n, float scale) {
  enum { LANES = 8 };
  double acc[LANES] = {0};
  size_t i = 0;
  for (; i + LANES <= n; i += LANES)
    for (int j = 0; j < LANES; j++) {
      const float gi = g[i + j] * scale;
      acc[j] += (double)gi * gi;
    }
  for (int j = 0; i < n; i++, j++) {
    const float gi = g[i] * scale;
    acc[j] += (double)gi * gi;
  }
  return ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
}

float nn_optim_clip_factor(double norm, float max_norm) {
  return max_norm > 0.0f && norm > max_norm ? (float)(max_norm / norm) : 1.0f;
}

/* 1 when the float at p is Inf or NaN (all exponent bits set): an integer test on the bits, so
 * the loops below still vectorise. */
static inline int non_finite(const float *p) {
  uint32_t b;
  memcpy(&b, p, sizeof b);
  return (b & 0x7f800000u) == 0x7f800000u;
}

NN_SIMD bool nn_optim_any_nonfinite(const float *g, size_t n) {
  int bad = 0;
  for (size_t i = 0; i < n; i++) bad |= non_finite(g + i);
  return bad != 0;
}

/* The element loops; restrict lets the compiler vectorise them (sqrtf and the division are
 * correctly rounded either way, so the bits do not change). Each returns non-zero when some g
 * is not finite. The gradient is gi = (g·scale)·clip, computed as two roundings so that a
 * mean taken here has the bits of a mean taken in a separate pass. */
NN_SIMD static int sgd(size_t n, float *restrict p, const float *restrict g, float scale, float clip, float l2, float lr) {
  int bad = 0;
  for (size_t i = 0; i < n; i++) {
    bad |= non_finite(g + i);
    p[i] -= lr * ((g[i] * scale) * clip + l2 * p[i]);
  }
  return bad;
}

NN_SIMD static int momentum(size_t n, float *restrict p, const float *restrict g, float *restrict v, float scale, float clip,
                    float l2, float lr, float mu, int nesterov) {
  int bad = 0;
  for (size_t i = 0; i < n; i++) {
    bad |= non_finite(g + i);
    const float gi = (g[i] * scale) * clip + l2 * p[i];
    v[i] = mu * v[i] + gi;
    p[i] -= lr * (nesterov ? gi + mu * v[i] : v[i]);
  }
  return bad;
}

NN_SIMD static int adam(size_t n, float *restrict p, const float *restrict g, float *restrict m, float *restrict v,
                float scale, float clip, float b1, float b2, float l2, float step, float rbc2, float decay, float eps) {
  int bad = 0;
  for (size_t i = 0; i < n; i++) {
    bad |= non_finite(g + i);
    const float gi = (g[i] * scale) * clip + l2 * p[i];
    m[i] = b1 * m[i] + (1.0f - b1) * gi;
    v[i] = b2 * v[i] + (1.0f - b2) * gi * gi;
    /* sqrt(v_hat) = sqrt(v)/sqrt(bc2); lr*m_hat = step*m */
    p[i] = p[i] * decay - step * m[i] / (sqrtf(v[i]) * rbc2 + eps);
  }
  return bad;
}

/* Per element, with lr the learning rate, wd = weight_decay, mu = momentum, t = step count
 * after increment (1 on the first step), and g the scaled and clipped gradient:
 *   L2 (all but adamw):  g' = g + wd*p
 *   sgd:        p -= lr*g'
 *   momentum:   v = mu*v + g';  p -= lr*v
 *   nesterov:   v = mu*v + g';  p -= lr*(g' + mu*v)                       (PyTorch)
 *   adam:       m = b1*m + (1-b1)*g';  v = b2*v + (1-b2)*g'^2;
 *               p -= lr * (m/(1-b1^t)) / (sqrt(v/(1-b2^t)) + eps)
 *   adamw:      p -= lr*wd*p (decoupled, on the old p), then the adam update with g' = g (PyTorch) */
void nn_optim_begin(nn_optim *o, float lr, nn_optim_pass *pass) {
  const float wd = o->weight_decay;
  o->t++;
  *pass = (nn_optim_pass){.lr = lr, .l2 = o->kind == NN_OPT_ADAMW ? 0.0f : wd, .step = lr, .rbc2 = 1.0f, .decay = 1.0f};
  if (o->kind == NN_OPT_ADAM || o->kind == NN_OPT_ADAMW) {
    const double bc1 = 1.0 - pow(o->beta1, (double)o->t), bc2 = 1.0 - pow(o->beta2, (double)o->t);
    pass->step = (float)(lr / bc1), pass->rbc2 = (float)(1.0 / sqrt(bc2));
    pass->decay = o->kind == NN_OPT_ADAMW ? 1.0f - lr * wd : 1.0f;
  }
}

bool nn_optim_apply(const nn_optim *o, const nn_optim_pass *ps, size_t off, size_t n, float *params, const float *g,
                    float scale, float clip) {
  int bad = 0;
  switch (o->kind) {
  case NN_OPT_SGD: bad = sgd(n, params, g, scale, clip, ps->l2, ps->lr); break;
  case NN_OPT_MOMENTUM:
  case NN_OPT_NESTEROV:
    bad = momentum(n, params, g, o->state + off, scale, clip, ps->l2, ps->lr, o->momentum, o->kind == NN_OPT_NESTEROV);
    break;
  case NN_OPT_ADAM:
  case NN_OPT_ADAMW:
    bad = adam(n, params, g, o->state + off, o->state + o->n + off, scale, clip, o->beta1, o->beta2, ps->l2, ps->step,
               ps->rbc2, ps->decay, o->eps);
    break;
  }
  return !bad;
}

bool nn_optim_step(nn_optim *o, float *params, const float *g, float scale, float clip, float lr) {
  nn_optim_pass pass;
  nn_optim_begin(o, lr, &pass);
  return nn_optim_apply(o, &pass, 0, o->n, params, g, scale, clip);
}

/* lr(step): warmup  lr*(step+1)/W                         for step < W
 *           then, with s = step - W:
 *           constant  lr
 *           step      lr * gamma^floor(s/step_size)
 *           cosine    min_lr + (lr-min_lr)/2 * (1 + cos(pi * min(s,S)/S)),  S = max(1, total-W) */
float nn_optim_lr(const nn_optim_spec *spec, int64_t step, int64_t total_steps) {
  const double lr = spec->lr;
  const int64_t w = spec->warmup_steps > 0 ? spec->warmup_steps : 0;
  if (step < 0) step = 0;
  if (step < w) return (float)(lr * (double)(step + 1) / (double)w);
  const int64_t s = step - w;
  switch (spec->schedule) {
  case NN_SCHED_STEP:
    if (spec->step_size <= 0) return (float)lr;
    return (float)(lr * pow(spec->gamma, (double)(s / spec->step_size)));
  case NN_SCHED_COSINE: {
    const int64_t big_s = total_steps - w > 1 ? total_steps - w : 1;
    const double frac = (double)(s < big_s ? s : big_s) / (double)big_s, lo = spec->min_lr;
    return (float)(lo + 0.5 * (lr - lo) * (1.0 + cos(3.14159265358979323846 * frac)));
  }
  default: return (float)lr;
  }
}
