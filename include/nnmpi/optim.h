/* optim: optimisers, weight decay, gradient clipping and learning-rate schedules over flat
 * float arrays. Layer 3: libc only. State lives in one allocation so it can be checkpointed
 * and restored bit-exactly. */
#ifndef NNMPI_OPTIM_H
#define NNMPI_OPTIM_H

#include <stddef.h>
#include <stdint.h>

#include "nnmpi/config.h"

typedef struct nn_optim {
  nn_opt_kind kind;
  float momentum, beta1, beta2, eps, weight_decay, clip_norm;
  size_t n;          /* parameters */
  int64_t t;         /* optimiser steps taken (Adam bias correction) */
  int n_state;       /* state arrays: 0 (sgd), 1 (velocity) or 2 (m, v) */
  float *state;      /* one allocation of n_state * n floats: [velocity] or [m | v] */
} nn_optim;

/* Names of the state arrays for a kind, as stored in checkpoints ("velocity"; "m", "v"). */
const char *nn_optim_state_name(nn_opt_kind kind, int i);

int nn_optim_init(nn_optim *o, const nn_config *c, size_t n);
void nn_optim_free(nn_optim *o);

/* Global L2 norm of g (computed in double). */
double nn_grad_norm(const float *g, size_t n);

/* Scales g so its global norm is at most max_norm (no-op when max_norm <= 0 or norm smaller).
 * Returns the norm before clipping. */
double nn_clip_grad_norm(float *g, size_t n, float max_norm);

/* One update of params with gradient g (already averaged) at learning rate lr. */
void nn_optim_step(nn_optim *o, float *params, const float *g, float lr);

/* Learning rate at global step `step` (0-based) of total_steps, from c->optim. */
float nn_lr_at(const nn_config *c, int64_t step, int64_t total_steps);

#endif
