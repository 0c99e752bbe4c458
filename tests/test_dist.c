/* test_dist: the reductions of the dist module under mpiexec -n 1, 2, 3, 4 — the ring
 * reduce-scatter (float and int64) and ring allgather of the sharded optimizer with unequal and
 * empty blocks, blocks larger than one piece (8 MiB), and the allreduce in pieces. Every value
 * is an integer small enough for a float to add exactly, so the expected sums are exact. Also
 * the Open MPI transport defaults nn_dist_init sets (and leaves alone when the launcher set
 * them): the value Open MPI took, read back through the MPI tool interface. */
#include "testutil.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mpi.h>

#include "nnmpi/dist.h"
#include "nnmpi/status.h"

static int W, R;
static char frag_env[64]; /* OMPI_MCA_btl_vader_max_send_size before nn_dist_init; "" unset */

/* rank r's contribution at global index i */
static float fval(int r, size_t i) { return (float)((i % 4093) + 8192 * (size_t)r); }
static int64_t ival(int r, size_t i) { return ((int64_t)(r + 1) << 40) + (int64_t)i * 3 - 7; }
static float fsum(size_t i) {
  float s = 0;
  for (int r = 0; r < W; r++) s += fval(r, i);
  return s;
}

/* Block q of `base` values plus q*step, block 1 empty when there are 3 or more ranks. */
static int *make_counts(int base, int step, size_t *total, int *displs) {
  int *c = calloc((size_t)W, sizeof *c);
  assert_non_null(c);
  *total = 0;
  for (int q = 0; q < W; q++) {
    c[q] = W >= 3 && q == 1 ? 0 : base + q * step;
    if (displs) displs[q] = (int)*total;
    *total += (size_t)c[q];
  }
  return c;
}

static void check_scatter_f32(int base, int step) {
  size_t total, lo = 0;
  int *counts = make_counts(base, step, &total, NULL);
  for (int q = 0; q < R; q++) lo += (size_t)counts[q];
  float *buf = malloc(sizeof(float) * (total ? total : 1)), *out = malloc(sizeof(float) * ((size_t)counts[R] + 1));
  assert_true(buf && out);
  for (size_t i = 0; i < total; i++) buf[i] = fval(R, i);
  assert_int_equal(nn_dist_sum_scatter_f32(buf, out, counts), NN_OK);
  size_t bad = 0;
  for (size_t i = 0; i < (size_t)counts[R]; i++) bad += out[i] != fsum(lo + i);
  assert_int_equal(bad, 0);
  free(buf), free(out), free(counts);
}

static void check_scatter_i64(int base, int step) {
  size_t total, lo = 0;
  int *counts = make_counts(base, step, &total, NULL);
  for (int q = 0; q < R; q++) lo += (size_t)counts[q];
  int64_t *buf = malloc(sizeof(int64_t) * (total ? total : 1)), *out = malloc(sizeof(int64_t) * ((size_t)counts[R] + 1));
  assert_true(buf && out);
  for (size_t i = 0; i < total; i++) buf[i] = ival(R, i);
  assert_int_equal(nn_dist_sum_scatter_i64(buf, out, counts), NN_OK);
  size_t bad = 0;
  for (size_t i = 0; i < (size_t)counts[R]; i++) {
    int64_t want = 0;
    for (int r = 0; r < W; r++) want += ival(r, lo + i);
    bad += out[i] != want;
  }
  assert_int_equal(bad, 0);
  free(buf), free(out), free(counts);
}

static void check_allgather(int base, int step) {
  size_t total;
  int *displs = calloc((size_t)W, sizeof *displs);
  assert_non_null(displs);
  int *counts = make_counts(base, step, &total, displs);
  float *buf = malloc(sizeof(float) * (total ? total : 1));
  assert_non_null(buf);
  for (size_t i = 0; i < total; i++) buf[i] = -1.0f; /* only this rank's block is right yet */
  for (int i = 0; i < counts[R]; i++) buf[displs[R] + i] = fval(R, (size_t)i);
  assert_int_equal(nn_dist_allgather_f32(buf, counts), NN_OK);
  size_t bad = 0;
  for (int q = 0; q < W; q++)
    for (int i = 0; i < counts[q]; i++) bad += buf[displs[q] + i] != fval(q, (size_t)i);
  assert_int_equal(bad, 0);
  free(buf), free(counts), free(displs);
}

/* small, unequal blocks (one empty on 3+ ranks): one piece per message */
static void test_scatter_small(void **state) {
  (void)state;
  check_scatter_f32(5, 3);
  check_scatter_i64(5, 3);
  check_scatter_f32(1, 0);
}

/* blocks of 2.3-3.3 M values: float blocks of 9-13 MB and int64 of 18-26 MB, so every message
 * goes in 2-4 pieces of 8 MiB, and neighbouring blocks have different piece counts */
static void test_scatter_pieces(void **state) {
  (void)state;
  check_scatter_f32(2300001, 333333);
  check_scatter_i64(2300001, 333333);
}

static void test_allgather(void **state) {
  (void)state;
  check_allgather(7, 2);
  check_allgather(2300001, 333333);
}

/* the allreduce in pieces: 3 M floats (12 MB) */
static void test_allreduce_pieces(void **state) {
  (void)state;
  const size_t n = 3000017;
  float *buf = malloc(sizeof(float) * n);
  assert_non_null(buf);
  for (size_t i = 0; i < n; i++) buf[i] = fval(R, i);
  assert_int_equal(nn_dist_sum_f32(buf, n), NN_OK);
  size_t bad = 0;
  for (size_t i = 0; i < n; i++) bad += buf[i] != fsum(i);
  assert_int_equal(bad, 0);
  free(buf);
}

/* Open MPI takes a vader fragment size of 128 KiB from nn_dist_init, or the launcher's value. */
static void test_fragment_default(void **state) {
  (void)state;
  int provided, idx, count;
  MPI_T_cvar_handle h;
  assert_int_equal(MPI_T_init_thread(MPI_THREAD_SINGLE, &provided), MPI_SUCCESS);
  if (MPI_T_cvar_get_index("btl_vader_max_send_size", &idx) != MPI_SUCCESS) {
    MPI_T_finalize();
    skip(); /* not Open MPI's vader */
  }
  unsigned long long v = 0; /* a size_t variable: MPI_UNSIGNED_LONG here, 8 bytes */
  assert_int_equal(MPI_T_cvar_handle_alloc(idx, NULL, &h, &count), MPI_SUCCESS);
  assert_int_equal(count, 1);
  assert_int_equal(MPI_T_cvar_read(h, &v), MPI_SUCCESS);
  MPI_T_cvar_handle_free(&h);
  MPI_T_finalize();
  assert_int_equal(v, frag_env[0] ? strtoull(frag_env, NULL, 10) : 131072ULL);
}

int main(int argc, char **argv) {
  const char *frag = getenv("OMPI_MCA_btl_vader_max_send_size");
  snprintf(frag_env, sizeof frag_env, "%s", frag ? frag : "");
  if (nn_dist_init(&argc, &argv) != NN_OK) return 1;
  W = nn_dist_size(), R = nn_dist_rank();
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_scatter_small),
      cmocka_unit_test(test_scatter_pieces),
      cmocka_unit_test(test_allgather),
      cmocka_unit_test(test_allreduce_pieces),
      cmocka_unit_test(test_fragment_default),
  };
  int failed = cmocka_run_group_tests(tests, NULL, NULL);
  nn_dist_finalize();
  return failed;
}
