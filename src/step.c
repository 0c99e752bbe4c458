/* step: one global training step (see step.h). Every rank holds the whole model, computes the
 * loss and gradient SUMS over its part of the global batch, the reduction adds them (the
 * per-step scalars riding along), and every rank divides by the global row count and applies
 * the same update — to all parameters, or, sharded, to its slice before an allgather.
 * Layer 5: net, optim, sampler, loader, dist; no MPI_* of its own, never prints. */
#include "step.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nnmpi/simd.h"
#include "nnmpi/clock.h"
#include "nnmpi/dist.h"
#include "nnmpi/status.h"

/* The per-step scalars that ride in the reduction (the tail after the gradient, or, sharded, a
 * small allreduce of their own). */
enum { T_LOSS, T_ROWS, T_CORRECT, T_STOP, T_CKPT_TIME, T_ERR, T_COUNT };
_Static_assert((int)T_COUNT <= (int)NN_GRAD_EXTRA,
               "the per-step scalars must fit the spare slots of the gradient buffer");

/* exact: the global batch is cut into train.exact_chunks fixed chunks; each is computed whole by
 * one rank, so its gradient has the same bits whichever rank (and however many ranks) run.
 * Chunk sums are added as fixed-point integers (gradients 2^-32, the loss 2^-20), which is
 * associative, so the reduced gradient does not depend on the rank count either. */
enum { FIX_BITS = 32, FIX_LOSS_BITS = 20 };

/* Ends phase (NN_T_*) that began at *t: timers and trace; *t becomes now. */
static void phase(nn_step *s, int which, double *t) { *t = nn_timers_add(s->tm, which, *t, nn_now()); }

/* ---- set-up */

bool nn_step_shard_auto(size_t P, int W, int n_state, bool exact) {
  if (W < 2 || P / (size_t)W >= (size_t)INT32_MAX - NN_STEP_BLOCK) return false; /* slices are MPI counts */
  return exact || (double)n_state * (double)P * sizeof(float) >= NN_STEP_SHARD_AUTO_BYTES;
}

bool nn_step_node_wanted(size_t P, nn_shard_mode node_memory, nn_shard_mode shard) {
  return node_memory == NN_SHARD_ON ||
         (node_memory == NN_SHARD_AUTO && (shard == NN_SHARD_ON || (double)P * sizeof(float) >= NN_STEP_NODE_AUTO_BYTES));
}

/* Optimiser state arrays per parameter for a kind (0, 1 or 2). */
static int state_arrays(nn_optim_kind k) {
  int n = 0;
  while (nn_optim_state_name(k, n)) n++;
  return n;
}

#define NODE_MEMORY_OFF "train.node_memory (set it to false to reduce through MPI instead): "

/* Whether every rank of the job is on one node (as data.ranks_per_node sees nodes): a probe of
 * node-shared memory, collective. */
static int one_node(int ranks_per_node, bool *yes) {
  nn_shm probe;
  int rc = nn_dist_shm_alloc(&probe, 64, ranks_per_node);
  if (rc) return nn_fail_prefix(rc, NODE_MEMORY_OFF);
  *yes = probe.n_nodes == 1 && probe.node_size == nn_dist_size();
  nn_dist_shm_free(&probe);
  return NN_OK;
}

static size_t round_up(size_t bytes, size_t to) { return (bytes + to - 1) / to * to; }

/* The node path's block: the parameters, every rank's gradient region (exact: fixed-point
 * region), the scalars and the flags; each rank's regions start on their own pages. */
static int node_alloc(nn_step *s, bool exact) {
  const int W = nn_dist_size();
  const size_t P = s->net->n_params, page = 4096, line = 64;
  s->g_stride = round_up(sizeof(float) * (P + NN_GRAD_EXTRA), page) / sizeof(float);
  s->a_stride = exact ? round_up(sizeof(int64_t) * (P + T_COUNT), page) / sizeof(int64_t) : 0;
  const size_t o_grads = round_up(sizeof(float) * P, page), o_acc = o_grads + sizeof(float) * s->g_stride * W,
               o_tail = o_acc + sizeof(int64_t) * s->a_stride * W,
               o_blocks = o_tail + round_up(sizeof(double) * NN_STEP_TAIL_STRIDE * W, line),
               o_flags = o_blocks + round_up(sizeof(double) * (size_t)s->n_blocks, line),
               bytes = o_flags + sizeof(int) * NN_STEP_TAIL_STRIDE * W;
  int rc = nn_dist_shm_alloc(&s->shm, bytes, s->c->data.ranks_per_node);
  if (rc) return nn_fail_prefix(rc, NODE_MEMORY_OFF);
  char *b = s->shm.base;
  s->shm_params = (float *)b;
  s->shm_grads = (float *)(b + o_grads);
  s->shm_acc = exact ? (int64_t *)(b + o_acc) : NULL;
  s->shm_tail = (double *)(b + o_tail);
  s->shm_blocks = (double *)(b + o_blocks);
  s->shm_finite = (int *)(b + o_flags);
  if (s->shm.n_nodes != 1 || s->shm.node_rank != nn_dist_rank())
    return NN_FAIL(NN_EINTERNAL, "node memory: rank %d is rank %d of %d node(s), expected one node in world order",
                   nn_dist_rank(), s->shm.node_rank, s->shm.n_nodes);
  return NN_OK;
}

int nn_step_init(nn_step *s) {
  const int W = nn_dist_size(), r = nn_dist_rank();
  const size_t P = s->net->n_params;
  const bool exact = s->c->train.reduce == NN_REDUCE_EXACT, clip = s->c->optim.clip_norm > 0;
  s->n_blocks = (int)((P + NN_STEP_BLOCK - 1) / NN_STEP_BLOCK);
  nn_shard_mode mode = s->c->train.shard_optimizer, nm = s->c->train.node_memory;
  bool node = false;
  int rc;
  if (W > 1 && mode != NN_SHARD_OFF && nn_step_node_wanted(P, nm, mode) &&
      (rc = one_node(s->c->data.ranks_per_node, &node)))
    return rc;
  s->sharded = W > 1 && (mode == NN_SHARD_ON ||
                         (mode == NN_SHARD_AUTO && (node || nn_step_shard_auto(P, W, state_arrays(s->c->optim.name),
                                                                              exact))));
  s->node = node && s->sharded;
  s->lo = 0, s->hi = (int64_t)P;
  if (s->sharded) {
    if (!(s->counts = calloc((size_t)W, sizeof(int)))) return NN_FAIL(NN_ENOMEM, "slice table");
    for (int q = 0; q < W; q++) {
      int64_t blo, bhi;
      nn_shard_range(s->n_blocks, q, W, &blo, &bhi);
      int64_t lo = blo * NN_STEP_BLOCK, hi = bhi * NN_STEP_BLOCK < (int64_t)P ? bhi * NN_STEP_BLOCK : (int64_t)P;
      if (hi - lo > INT32_MAX || lo > INT32_MAX)
        return NN_FAIL(NN_ECONFIG,
                       "train.shard_optimizer: %zu parameters on %d ranks make slices beyond an MPI count; "
                       "set train.shard_optimizer = false",
                       P, W);
      s->counts[q] = (int)(hi - lo);
      if (q == r) s->lo = lo, s->hi = hi;
    }
  }
  const size_t part = (size_t)(s->hi - s->lo);
  if ((rc = nn_optim_init(&s->opt, &s->c->optim, part))) return rc;
  if (clip && !(s->blocks = calloc((size_t)s->n_blocks + T_COUNT, sizeof(double))))
    return NN_FAIL(NN_ENOMEM, "gradient norm blocks");
  if (!clip && !(s->blocks = calloc(1 + T_COUNT, sizeof(double)))) return NN_FAIL(NN_ENOMEM, "step scalars");
  if (s->node) {
    if ((rc = nn_dist_agree(node_alloc(s, exact)))) return rc;
    if (exact) s->acc = s->shm_acc + (size_t)r * s->a_stride; /* sums_exact writes this rank's region */
  } else if (exact && !(s->acc = malloc(sizeof(int64_t) * (P + T_COUNT)))) {
    return NN_FAIL(NN_ENOMEM, "exact reduction buffer of %zu values", P);
  }
  if (s->sharded && !(s->g_part = malloc(sizeof(float) * (part ? part : 1))))
    return NN_FAIL(NN_ENOMEM, "gradient slice of %zu values", part);
  if (s->sharded && exact && !(s->acc_part = malloc(sizeof(int64_t) * (part ? part : 1))))
    return NN_FAIL(NN_ENOMEM, "exact gradient slice of %zu values", part);
  return NN_OK;
}

void nn_step_free(nn_step *s) {
  if (!s) return;
  if (s->bound) { /* the net keeps the last parameters in its own memory */
    memcpy(s->net->own_params, s->net->params, sizeof(float) * s->net->n_params);
    nn_net_bind(s->net, NULL, NULL);
    s->bound = false;
  }
  if (!s->node) free(s->acc);
  nn_dist_shm_free(&s->shm);
  nn_optim_free(&s->opt);
  free(s->counts);
  free(s->blocks);
  free(s->acc_part);
  free(s->g_part);
  s->counts = NULL, s->blocks = NULL, s->acc = s->acc_part = NULL, s->g_part = NULL;
}

/* ---- this rank's gradient sums */

/* Forward and backward of n gathered rows: gradient sums into net->grads, loss and correct
 * counts added to *loss and *correct. The data phase began at *t; *t ends at the backward's end. */
static void forward_backward(nn_step *s, int n, double *loss, int64_t *correct, double *t) {
  nn_net *net = s->net;
  bool labels = s->data->y != NULL;
  nn_loader_gather(s->data, s->rows, n, s->X, labels ? s->y : NULL, labels ? NULL : s->Y);
  nn_targets tg = labels ? (nn_targets){s->y, NULL} : (nn_targets){NULL, s->Y};
  phase(s, NN_T_DATA, t);
  if (n > 0) {
    nn_net_forward(net, s->X, n);
    *loss += nn_net_loss_sum(net, tg, n);
    if (labels) *correct += nn_net_count_correct(net, s->y, n);
  }
  phase(s, NN_T_FORWARD, t);
  if (n > 0) nn_net_backward(net, s->X, tg, n);
  else memset(net->grads, 0, sizeof(float) * net->n_params);
  phase(s, NN_T_BACKWARD, t);
}

/* round(v) for |v| < 2^51: adding 1.5·2^52 leaves round(v) in the low mantissa bits (rounding
 * to nearest even, deterministic); plain adds and bit moves, so the loop vectorises. */
static inline int64_t to_fixed(double v) {
  double y = v + 0x1.8p52;
  int64_t bits;
  memcpy(&bits, &y, sizeof bits);
  return bits - 0x4338000000000000LL;
}

/* acc = (first ? 0 : acc) + fixed(g·2^FIX_BITS) over n values, in one pass that also flags
 * |g| >= limit, Inf and NaN (from the bit patterns, so it vectorises: |g|'s bits grow with |g|). */
NN_SIMD static int add_fixed(int64_t *restrict acc, const float *restrict g, size_t n, float limit, bool first) {
  int32_t lim_bits, over = 0;
  memcpy(&lim_bits, &limit, sizeof lim_bits);
  const double scale = ldexp(1.0, FIX_BITS);
  if (first) {
    for (size_t i = 0; i < n; i++) {
      int32_t b;
      memcpy(&b, &g[i], sizeof b);
      over |= (b & 0x7fffffff) >= lim_bits;
      acc[i] = to_fixed((double)g[i] * scale);
    }
  } else {
    for (size_t i = 0; i < n; i++) {
      int32_t b;
      memcpy(&b, &g[i], sizeof b);
      over |= (b & 0x7fffffff) >= lim_bits;
      acc[i] += to_fixed((double)g[i] * scale);
    }
  }
  return over;
}

NN_SIMD static void from_fixed(float *restrict g, const int64_t *restrict acc, size_t n) {
  const double inv = ldexp(1.0, -FIX_BITS);
  for (size_t i = 0; i < n; i++) g[i] = (float)((double)acc[i] * inv);
}

/* fast: this rank's rows in one forward/backward; the tail holds its scalars. */
static void sums_fast(nn_step *s, int64_t k, double *tail, double *t) {
  double loss = 0;
  int64_t correct = 0;
  int n = (int)nn_sampler_rows(s->sampler, k, s->rows);
  forward_backward(s, n, &loss, &correct, t);
  tail[T_LOSS] = loss, tail[T_ROWS] = n, tail[T_CORRECT] = (double)correct;
}

/* exact: this rank's whole chunks, each converted to fixed point; the tail (int64) holds its
 * scalars, the loss in fixed point too, and a range error in T_ERR. */
static void sums_exact(nn_step *s, int64_t k, int64_t *tail, double *t) {
  const size_t P = s->net->n_params;
  const int G = nn_config_exact_chunks(s->c);
  /* a chunk's gradient sums must stay below 2^50 once scaled (to_fixed needs < 2^51), and G
   * of them below 2^62; the loss likewise with its own scale */
  const float limit = (float)fmin(ldexp(1.0, 50 - FIX_BITS), ldexp(1.0, 62 - FIX_BITS) / G);
  const double loss_limit = fmin(ldexp(1.0, 50 - FIX_LOSS_BITS), ldexp(1.0, 62 - FIX_LOSS_BITS) / G);
  int64_t clo, chi, correct = 0;
  bool first = true;
  memset(tail, 0, sizeof(int64_t) * T_COUNT);
  nn_shard_range(G, nn_dist_rank(), nn_dist_size(), &clo, &chi);
  for (int64_t j = clo; j < chi; j++) {
    double loss = 0;
    int n = (int)nn_sampler_chunk(s->sampler, k, (int)j, G, s->rows);
    if (n == 0) continue;
    forward_backward(s, n, &loss, &correct, t);
    tail[T_ERR] |= add_fixed(s->acc, s->net->grads, P, limit, first) | !(fabs(loss) < loss_limit);
    first = false;
    tail[T_LOSS] += to_fixed(loss * ldexp(1.0, FIX_LOSS_BITS));
    tail[T_ROWS] += n;
    phase(s, NN_T_REDUCE, t);
  }
  if (first) memset(s->acc, 0, sizeof(int64_t) * P); /* no rows on this rank this step */
  tail[T_CORRECT] = correct;
}

/* ---- the reduction */

/* The reduced gradient of this rank's slice: in net->grads + lo (unsharded) or s->g_part. */
static const float *reduced(const nn_step *s) { return s->sharded ? s->g_part : s->net->grads; }

/* Sums of squares of the reduced gradient sums over the slice's blocks into blocks[b] (global
 * block numbers, zero elsewhere), or, without clipping, into blocks[0] 0 or NaN: whether some
 * value of the slice is not finite (once summed over the ranks, NaN when any rank saw one). */
static void block_sums(nn_step *s) {
  const float *g = reduced(s);
  const int64_t n = s->hi - s->lo;
  if (s->c->optim.clip_norm <= 0) {
    s->blocks[0] = nn_optim_any_nonfinite(g, (size_t)n) ? NAN : 0.0;
    return;
  }
  memset(s->blocks, 0, sizeof(double) * (size_t)s->n_blocks);
  for (int64_t i = 0; i < n; i += NN_STEP_BLOCK) {
    int64_t m = n - i < NN_STEP_BLOCK ? n - i : NN_STEP_BLOCK;
    s->blocks[(s->lo + i) / NN_STEP_BLOCK] = nn_optim_sumsq(g + i, (size_t)m, 1.0f);
  }
}

/* The L2 norm of the mean gradient: the block sums added in block order, so it has the same bits
 * sharded or not (and, in exact mode, on any rank count). */
static double block_norm(const nn_step *s, double rows) {
  double sum = 0;
  for (int b = 0; b < s->n_blocks; b++) sum += s->blocks[b];
  return sqrt(sum) / rows;
}

/* fast, unsharded: one float allreduce of [grads | scalars]. */
static int reduce_fast(nn_step *s, const double *mine, double *tail) {
  nn_net *net = s->net;
  float *t = net->grads + net->n_params;
  for (int i = 0; i < T_COUNT; i++) t[i] = (float)mine[i];
  int rc = nn_dist_sum_f32(net->grads, net->n_params + T_COUNT);
  for (int i = 0; i < T_COUNT; i++) tail[i] = t[i];
  return rc;
}

/* fast, sharded: reduce-scatter of the gradient; the scalars and the slice's block sums (which
 * also carry non-finite values) in one small allreduce. */
static int reduce_fast_sharded(nn_step *s, const double *mine, double *tail) {
  int rc = nn_dist_sum_scatter_f32(s->net->grads, s->g_part, s->counts);
  if (rc) return rc;
  const size_t nb = s->c->optim.clip_norm > 0 ? (size_t)s->n_blocks : 1;
  block_sums(s);
  memcpy(s->blocks + nb, mine, sizeof(double) * T_COUNT);
  rc = nn_dist_sum_f64(s->blocks, nb + T_COUNT);
  memcpy(tail, s->blocks + nb, sizeof(double) * T_COUNT);
  return rc;
}

/* exact: the reduced scalars t into tail, and the range error any rank flagged. */
static int exact_tail(const nn_step *s, const int64_t *t, double *tail) {
  for (int i = 0; i < T_COUNT; i++) tail[i] = (double)t[i];
  tail[T_LOSS] = ldexp((double)t[T_LOSS], -FIX_LOSS_BITS);
  if (t[T_ERR])
    return NN_FAIL(NN_ENUMERIC,
                   "train.reduce = exact: a gradient sum of a chunk is non-finite or beyond the "
                   "fixed-point range +-%g, or a loss sum beyond +-%g; lower optim.lr, or use "
                   "train.reduce = fast",
                   fmin(ldexp(1.0, 50 - FIX_BITS), ldexp(1.0, 62 - FIX_BITS) / nn_config_exact_chunks(s->c)),
                   fmin(ldexp(1.0, 50 - FIX_LOSS_BITS), ldexp(1.0, 62 - FIX_LOSS_BITS) / nn_config_exact_chunks(s->c)));
  return NN_OK;
}

/* exact: one int64 allreduce of [fixed-point sums | scalars] (unsharded), or a reduce-scatter
 * and a small allreduce of the scalars (sharded); then back to float. */
static int reduce_exact(nn_step *s, double *tail) {
  const size_t P = s->net->n_params;
  int64_t *t = s->acc + P;
  int rc = s->sharded ? nn_dist_sum_scatter_i64(s->acc, s->acc_part, s->counts) : NN_OK;
  if (!rc) rc = s->sharded ? nn_dist_sum_i64(t, T_COUNT) : nn_dist_sum_i64(s->acc, P + T_COUNT);
  if (rc || (rc = exact_tail(s, t, tail))) return rc;
  if (s->sharded) from_fixed(s->g_part, s->acc_part, (size_t)(s->hi - s->lo));
  else from_fixed(s->net->grads, s->acc, P);
  return NN_OK;
}

/* ---- the node path */

enum { NODE_CHUNK = 2048 }; /* values added per pass over the regions (stay in L1) */

/* out[i] = sum over r of regions[r * stride + i], r in order 0..W-1, for n values: one
 * definition for the float gradients (fast) and the int64 fixed-point sums (exact). */
#define ADD_REGIONS(name, T)                                                                 \
  NN_SIMD static void name(T *restrict out, const T *regions, size_t stride, int W, size_t n) { \
    for (size_t c = 0; c < n; c += NODE_CHUNK) {                                             \
      const size_t m = n - c < NODE_CHUNK ? n - c : NODE_CHUNK;                              \
      memcpy(out + c, regions + c, sizeof(T) * m);                                           \
      for (int r = 1; r < W; r++) {                                                          \
        const T *g = regions + (size_t)r * stride + c;                                       \
        for (size_t i = 0; i < m; i++) out[c + i] += g[i];                                   \
      }                                                                                      \
    }                                                                                        \
  }
ADD_REGIONS(add_regions_f32, float)
ADD_REGIONS(add_regions_i64, int64_t)
#undef ADD_REGIONS

/* out = the reduced gradient of slice values [c, c + m) (exact: through acc_part). */
static void node_slice(nn_step *s, size_t c, size_t m, float *out) {
  const int W = s->shm.node_size;
  if (s->shm_acc) {
    add_regions_i64(s->acc_part, s->shm_acc + s->lo + c, s->a_stride, W, m);
    from_fixed(out, s->acc_part, m);
  } else {
    add_regions_f32(out, s->shm_grads + s->lo + c, s->g_stride, W, m);
  }
}

/* First step: the parameters move into the block (node rank 0 copies; all ranks hold the same
 * values, checked by the trainer) and the net points at the block and at this rank's region. */
static int node_bind(nn_step *s) {
  nn_net *net = s->net;
  if (s->shm.node_rank == 0) memcpy(s->shm_params, net->params, sizeof(float) * net->n_params);
  int rc = nn_dist_shm_sync(&s->shm);
  if (rc) return rc;
  nn_net_bind(net, s->shm_params, s->shm_grads + (size_t)s->shm.node_rank * s->g_stride);
  s->bound = true;
  return NN_OK;
}

/* The node path's reduction: this rank's scalars (fast: mine; exact: in its region after the
 * sums) are in the block; after the barrier each rank adds its slice and all scalars over the
 * regions in rank order, so every rank has the same scalars and each slice the same bits
 * whichever rank adds it. */
static int reduce_node(nn_step *s, const double *mine, double *tail) {
  const int W = s->shm.node_size, r = s->shm.node_rank;
  const size_t P = s->net->n_params, n = (size_t)(s->hi - s->lo);
  if (mine) memcpy(s->shm_tail + (size_t)r * NN_STEP_TAIL_STRIDE, mine, sizeof(double) * T_COUNT);
  int rc = nn_dist_shm_sync(&s->shm);
  if (rc) return rc;
  if (s->shm_acc) {
    int64_t t[T_COUNT] = {0};
    for (int q = 0; q < W; q++)
      for (int i = 0; i < T_COUNT; i++) t[i] += s->shm_acc[(size_t)q * s->a_stride + P + (size_t)i];
    if ((rc = exact_tail(s, t, tail))) return rc;
  } else {
    for (int i = 0; i < T_COUNT; i++) tail[i] = 0;
    for (int q = 0; q < W; q++)
      for (int i = 0; i < T_COUNT; i++) tail[i] += s->shm_tail[(size_t)q * NN_STEP_TAIL_STRIDE + (size_t)i];
  }
  if (s->c->optim.clip_norm > 0) node_slice(s, 0, n, s->g_part); /* the norm needs the whole slice first */
  return NN_OK;
}

/* The update of the slice without clipping, fused with the adds: piece by piece, the reduced
 * gradient of NODE_CHUNK values (in L1) goes straight into the optimiser, so the slice's
 * gradient is never written out and read back. The same arithmetic as the unfused update. */
static bool node_update(nn_step *s, float scale, float lr) {
  const size_t n = (size_t)(s->hi - s->lo);
  nn_optim_pass pass;
  nn_optim_begin(&s->opt, lr, &pass);
  bool finite = true;
  for (size_t c = 0; c < n; c += NODE_CHUNK) {
    const size_t m = n - c < NODE_CHUNK ? n - c : NODE_CHUNK;
    node_slice(s, c, m, s->g_part);
    finite &= nn_optim_apply(&s->opt, &pass, c, m, s->net->params + s->lo + c, s->g_part, scale, 1.0f);
  }
  return finite;
}

/* Clipping on the node path: this rank's block sums into the block, a barrier, all of them back
 * (the slices are whole blocks, so every block has one writer). */
static int node_blocks(nn_step *s) {
  const int64_t b0 = s->lo / NN_STEP_BLOCK, b1 = (s->hi + NN_STEP_BLOCK - 1) / NN_STEP_BLOCK;
  memcpy(s->shm_blocks + b0, s->blocks + b0, sizeof(double) * (size_t)(b1 - b0));
  int rc = nn_dist_shm_sync(&s->shm);
  if (!rc) memcpy(s->blocks, s->shm_blocks, sizeof(double) * (size_t)s->n_blocks);
  return rc;
}

/* The end of a node step: the flags of the updates, a barrier (no rank reads the parameters for
 * the next step before every slice is updated), and whether every slice was finite. */
static int node_end(nn_step *s, bool *finite) {
  const int W = s->shm.node_size;
  s->shm_finite[(size_t)s->shm.node_rank * NN_STEP_TAIL_STRIDE] = *finite;
  int rc = nn_dist_shm_sync(&s->shm);
  for (int q = 0; q < W && !rc; q++) *finite = *finite && s->shm_finite[(size_t)q * NN_STEP_TAIL_STRIDE];
  return rc;
}

/* ---- the step */

static int run(nn_step *s, int64_t k, float lr, bool stop, bool ckpt_time, nn_step_out *out, double t);

int nn_step_run(nn_step *s, int64_t k, float lr, bool stop, bool ckpt_time, nn_step_out *out) {
  const double t_step = nn_now();
  int rc = run(s, k, lr, stop, ckpt_time, out, t_step);
  nn_timers_add(s->tm, NN_T_COUNT, t_step, nn_now()); /* the whole step, for the trace */
  return rc;
}

/* The phases chain from t: each begins where the previous ended. */
static int run(nn_step *s, int64_t k, float lr, bool stop, bool ckpt_time, nn_step_out *out, double t) {
  nn_net *net = s->net;
  double tail[T_COUNT] = {0};
  int rc;
  const bool exact = s->c->train.reduce == NN_REDUCE_EXACT;
  if (s->node && !s->bound) { /* once: the parameters move into node memory (the reduction's set-up) */
    rc = node_bind(s);
    phase(s, NN_T_REDUCE, &t);
    if (rc) return rc;
  }
  if (exact) {
    int64_t *mine = s->acc + net->n_params;
    sums_exact(s, k, mine, &t);
    mine[T_STOP] = stop, mine[T_CKPT_TIME] = ckpt_time;
    rc = s->node ? reduce_node(s, NULL, tail) : reduce_exact(s, tail);
  } else {
    double mine[T_COUNT] = {0};
    sums_fast(s, k, mine, &t);
    mine[T_STOP] = stop, mine[T_CKPT_TIME] = ckpt_time;
    rc = s->node      ? reduce_node(s, mine, tail)
         : s->sharded ? reduce_fast_sharded(s, mine, tail)
                      : reduce_fast(s, mine, tail);
  }
  phase(s, NN_T_REDUCE, &t);
  if (rc) return rc;
  *out = (nn_step_out){tail[T_LOSS], tail[T_ROWS], tail[T_CORRECT], tail[T_STOP] > 0, tail[T_CKPT_TIME] > 0};

  /* the mean over the global batch (one division after the sum, folded into the update),
   * clipping by the global norm of the mean, the non-finite check, the update */
  const float scale = (float)(1.0 / out->rows);
  const double mean_loss = out->loss / out->rows;
  if (!isfinite(mean_loss))
    return NN_FAIL(NN_ENUMERIC, "non-finite loss (%g); lower optim.lr, set optim.clip_norm, or check the data",
                   mean_loss);
  float clip = 1.0f;
  bool finite = true;
  if (s->c->optim.clip_norm > 0) { /* sharded fast: the block sums came with the reduction */
    if (!s->sharded || exact || s->node) block_sums(s);
    if (s->node && (rc = node_blocks(s))) return rc;
    if (s->sharded && exact && !s->node && (rc = nn_dist_sum_f64(s->blocks, (size_t)s->n_blocks))) return rc;
    double norm = block_norm(s, out->rows);
    finite = isfinite(norm) || !s->sharded; /* unsharded, the update itself checks every value */
    clip = nn_optim_clip_factor(norm, s->c->optim.clip_norm);
  } else if (s->sharded && !exact && !s->node) {
    finite = isfinite(s->blocks[0]); /* some rank's slice holds a NaN or Inf */
  }
  if (s->node && s->c->optim.clip_norm <= 0) finite = node_update(s, scale, lr);
  else finite = finite && nn_optim_step(&s->opt, net->params + s->lo, reduced(s), scale, clip, lr);
  phase(s, NN_T_OPTIM, &t);
  if (s->node) { /* every rank learns of any slice's non-finite value */
    rc = node_end(s, &finite);
    phase(s, NN_T_REDUCE, &t);
    if (rc) return rc;
  }
  if (!finite)
    return NN_FAIL(NN_ENUMERIC, "non-finite gradient (NaN or Inf); lower optim.lr, set optim.clip_norm, or check the "
                                "data");
  if (s->sharded && !s->node) {
    rc = nn_dist_allgather_f32(net->params, s->counts);
    phase(s, NN_T_REDUCE, &t);
  }
  return rc;
}

/* ---- the optimiser state for checkpoints */

int nn_step_gather_optim(nn_step *s, nn_optim **full) {
  *full = NULL;
  if (!s->sharded) return *full = &s->opt, NN_OK;
  const size_t P = s->net->n_params, part = (size_t)(s->hi - s->lo);
  nn_optim *f = NULL;
  int rc = NN_OK;
  if (nn_dist_rank() == 0) {
    if (!(f = calloc(1, sizeof *f))) rc = NN_FAIL(NN_ENOMEM, "optimiser state for the checkpoint");
    else if ((rc = nn_optim_init(f, &s->c->optim, P))) free(f), f = NULL;
  }
  if ((rc = nn_dist_agree(rc))) return rc;
  for (int i = 0; i < s->opt.n_state && !rc; i++)
    rc = nn_dist_gather_f32(s->opt.state + i * part, (int64_t)part, f ? f->state + i * P : NULL);
  if (rc) {
    nn_step_release_optim(s, f);
    return rc;
  }
  if (f) f->t = s->opt.t;
  *full = f;
  return NN_OK;
}

void nn_step_release_optim(nn_step *s, nn_optim *full) {
  if (!full || full == &s->opt) return;
  nn_optim_free(full);
  free(full);
}

void nn_step_load_optim(nn_step *s, const nn_optim *full) {
  const size_t P = full->n, part = (size_t)(s->hi - s->lo);
  for (int i = 0; i < s->opt.n_state; i++)
    memcpy(s->opt.state + i * part, full->state + i * P + s->lo, sizeof(float) * part);
  s->opt.t = full->t;
}
