/* Tests of sampler: for world sizes 1..4 and several batch sizes, simulating every rank, each
 * training row is used exactly once per epoch; global batches do not depend on the world size;
 * rank slices differ by at most one row. */
#include "testutil.h"

#include <stdlib.h>
#include <string.h>

#include "nnmpi/sampler.h"

/* Rows used in one epoch by all ranks of world, as global row indices; counts[row]++ each use.
 * batches[k * n + ...]: global rows of batch k in rank order (global mode). */
static void epoch_usage(int64_t n, int64_t B, int world, bool shard, bool drop_last, int64_t epoch, int *counts,
                        uint32_t *batch_rows, int64_t *steps_out) {
  memset(counts, 0, sizeof(int) * (size_t)n);
  int64_t steps = -1, pos = 0;
  uint32_t *perm = malloc(sizeof(uint32_t) * (size_t)n), *rows = malloc(sizeof(uint32_t) * (size_t)B);
  for (int64_t k = 0;; k++) {
    bool any = false;
    int64_t sizes[8];
    for (int r = 0; r < world; r++) {
      int64_t lo = 0, hi = n;
      if (shard) nn_shard_range(n, r, world, &lo, &hi);
      nn_sampler s = {.n = n, .held = hi - lo, .batch = B, .drop_last = drop_last, .shard = shard,
                      .rank = r, .world = world, .seed = 77, .perm = perm, .epoch = -1};
      if (steps < 0) steps = nn_sampler_steps(&s);
      else assert_int_equal(steps, nn_sampler_steps(&s)); /* every rank agrees */
      if (k >= steps) break;
      any = true;
      nn_sampler_epoch(&s, epoch);
      int64_t m = nn_sampler_rows(&s, k, rows);
      assert_true(m <= nn_sampler_max_rows(&s));
      sizes[r] = m;
      for (int64_t i = 0; i < m; i++) {
        assert_true(rows[i] < (uint32_t)(hi - lo));
        counts[lo + rows[i]]++;
        if (batch_rows) batch_rows[pos++] = (uint32_t)(lo + rows[i]);
      }
    }
    if (!any) break;
    if (!shard) /* slices of one global batch differ by at most one row */
      for (int r = 1; r < world; r++) assert_true(llabs(sizes[r] - sizes[0]) <= 1);
  }
  *steps_out = steps;
  free(perm);
  free(rows);
}

static void every_row_once_per_epoch(void **st) {
  (void)st;
  const int64_t ns[] = {1000, 997, 64, 10};
  const int64_t Bs[] = {1, 4, 7, 32, 64, 100};
  int *counts = malloc(sizeof(int) * 1000);
  for (size_t a = 0; a < sizeof ns / sizeof *ns; a++)
    for (size_t b = 0; b < sizeof Bs / sizeof *Bs; b++)
      for (int world = 1; world <= 4; world++) {
        int64_t n = ns[a], B = Bs[b];
        if (B < world) continue; /* the trainer rejects B < world */
        for (int shard = 0; shard <= 1; shard++) {
          int64_t steps;
          epoch_usage(n, B, world, shard, false, 3, counts, NULL, &steps);
          for (int64_t i = 0; i < n; i++)
            if (counts[i] != 1)
              fail_msg("n=%lld B=%lld world=%d %s: row %lld used %d times", (long long)n, (long long)B, world,
                       shard ? "shard" : "global", (long long)i, counts[i]);
          /* drop_last: rows are used at most once, and only full global batches run */
          epoch_usage(n, B, world, shard, true, 3, counts, NULL, &steps);
          int64_t used = 0;
          for (int64_t i = 0; i < n; i++) assert_true(counts[i] <= 1), used += counts[i];
          if (!shard) assert_int_equal(used, (n / B) * B);
        }
      }
  free(counts);
}

static void global_batches_do_not_depend_on_world(void **st) {
  (void)st;
  enum { N = 997, B = 50 };
  int counts[N];
  uint32_t ref[N], got[N];
  int64_t steps;
  epoch_usage(N, B, 1, false, false, 5, counts, ref, &steps);
  for (int world = 2; world <= 4; world++) {
    epoch_usage(N, B, world, false, false, 5, counts, got, &steps);
    assert_memory_equal(ref, got, sizeof ref); /* same rows, same order, batch by batch */
  }
  /* a different epoch gives a different order */
  epoch_usage(N, B, 1, false, false, 6, counts, got, &steps);
  assert_true(memcmp(ref, got, sizeof ref) != 0);
}

/* reduce = exact: the chunks of a batch, computed by whichever rank owns them, tile the batch
 * in order for any world size, and each chunk's rows do not depend on the world size. */
static void exact_chunks_tile_batches(void **st) {
  (void)st;
  enum { N = 530, B = 64, G = 16 };
  uint32_t perm[N], rows[B], seen[B];
  nn_sampler s = {.n = N, .held = N, .batch = B, .world = 1, .seed = 9, .perm = perm, .epoch = -1};
  nn_sampler_epoch(&s, 2);
  for (int64_t k = 0; k < nn_sampler_steps(&s); k++) {
    uint32_t ref[B];
    int64_t b = nn_sampler_rows(&s, k, ref); /* world 1: the whole batch */
    for (int world = 1; world <= 4; world++) {
      int64_t m = 0;
      for (int r = 0; r < world; r++) {
        int64_t lo, hi;
        nn_shard_range(G, r, world, &lo, &hi);
        for (int64_t j = lo; j < hi; j++) {
          int64_t c = nn_sampler_chunk(&s, k, (int)j, G, rows);
          memcpy(seen + m, rows, sizeof(uint32_t) * (size_t)c);
          m += c;
        }
      }
      assert_int_equal(m, b);
      assert_memory_equal(seen, ref, sizeof(uint32_t) * (size_t)b);
    }
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(every_row_once_per_epoch),
      cmocka_unit_test(global_batches_do_not_depend_on_world),
      cmocka_unit_test(exact_chunks_tile_batches),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
