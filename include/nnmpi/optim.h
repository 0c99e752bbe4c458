/* optim: optimisers, weight decay, gradient clipping and learning-rate schedules over flat
 * float arrays. Layer 3: libc only. State lives in one allocation so it can be checkpointed
 * and restored bit-exactly. */
#ifndef NNMPI_OPTIM_H
#define NNMPI_OPTIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum { NN_OPT_SGD, NN_OPT_MOMENTUM, NN_OPT_NESTEROV, NN_OPT_ADAM, NN_OPT_ADAMW } nn_optim_kind;
typedef enum { NN_SCHED_CONSTANT, NN_SCHED_STEP, NN_SCHED_COSINE } nn_sched_kind;

/* Names as in configs and checkpoints, enum order, NULL-terminated. */
extern const char *const nn_optim_names[];
extern const char *const nn_sched_names[];
/* The name of one kind; "(invalid)" outside the enum. */
const char *nn_optim_name(nn_optim_kind k);

/* The optimiser and its learning-rate schedule: the [optim] section of the config. */
typedef struct nn_optim_spec {
  nn_optim_kind name;
  float lr;
  float momentum;
  float beta1, beta2, eps;
  float weight_decay; /* L2 (sgd/momentum/nesterov/adam) or decoupled (adamw) */
  float clip_norm;    /* clip gradients to this global L2 norm; 0 = off */
  nn_sched_kind schedule;
  int64_t step_size; /* step schedule: multiply lr by gamma every step_size steps */
  float gamma;
  int64_t warmup_steps; /* linear warmup from 0 in front of any schedule */
  float min_lr;         /* cosine floor */
} nn_optim_spec;

typedef struct nn_optim {
  nn_optim_kind kind;
  float momentum, beta1, beta2, eps, weight_decay, clip_norm;
  size_t n;     /* parameters */
  int64_t t;    /* optimiser steps taken (Adam bias correction) */
  int n_state;  /* state arrays: 0 (sgd), 1 (velocity) or 2 (m, v) */
  float *state; /* one allocation of n_state * n floats: [velocity] or [m | v] */
} nn_optim;

/* Names of the state arrays for a kind, as stored in checkpoints ("velocity"; "m", "v"). */
const char *nn_optim_state_name(nn_optim_kind kind, int i);

/* An optimiser of kind s->name for n parameters, state zero. NN_EINVAL / NN_ENOMEM. */
int nn_optim_init(nn_optim *o, const nn_optim_spec *s, size_t n);
void nn_optim_free(nn_optim *o);

/* Σ (g_i·scale)² over n values, accumulated in double: eight partial sums (i mod 8, each in
 * index order) added in a fixed order, the same bits on every CPU. Its square root is the L2
 * norm of the scaled gradient (the norm of a longer vector: add the sums of its blocks). */
double nn_optim_sumsq(const float *g, size_t n, float scale);

/* Whether some of the n values at g is Inf or NaN (a test on the bits, so it vectorises; far
 * cheaper than a sum of squares when only finiteness matters). */
bool nn_optim_any_nonfinite(const float *g, size_t n);

/* The factor that clips a gradient of L2 norm `norm` to max_norm: max_norm / norm when
 * max_norm > 0 and norm > max_norm, else 1. */
float nn_optim_clip_factor(double norm, float max_norm);

/* One update of params (o->n values) at learning rate lr from the gradient (g·scale)·clip, in
 * one pass over params, g and the state: g holds gradient sums, scale = 1/rows makes them a
 * mean and clip is nn_optim_clip_factor's (1 = none). Returns true when every g is finite;
 * otherwise params and state are garbage and training must stop. */
bool nn_optim_step(nn_optim *o, float *params, const float *g, float scale, float clip, float lr);

/* The same update applied in pieces (e.g. as the gradient of each piece is assembled):
 * nn_optim_begin counts the step and fixes its constants in *pass, then nn_optim_apply updates
 * values [off, off + n) — params and g point at value off — with exactly the arithmetic of
 * nn_optim_step, so any split gives its bits. nn_optim_step = begin + apply of all o->n values.
 * apply returns true when every g of the piece is finite. */
typedef struct nn_optim_pass {
  float lr, l2, step, rbc2, decay; /* lr, L2 coefficient, Adam's lr/bc1, 1/sqrt(bc2), AdamW's decay */
} nn_optim_pass;
void nn_optim_begin(nn_optim *o, float lr, nn_optim_pass *pass);
bool nn_optim_apply(const nn_optim *o, const nn_optim_pass *pass, size_t off, size_t n, float *params, const float *g,
                    float scale, float clip);

/* Learning rate at global step `step` (0-based) of total_steps under schedule s. */
float nn_optim_lr(const nn_optim_spec *s, int64_t step, int64_t total_steps);

#endif
