/* test_shard: the shard arithmetic of the loader (nn_shard_range), no MPI. */
#include "testutil.h"

#include "nnmpi/sampler.h"

static void check(int64_t n, int rank, int world, int64_t lo_want, int64_t hi_want) {
  int64_t lo = -1, hi = -1;
  nn_shard_range(n, rank, world, &lo, &hi);
  if (lo != lo_want || hi != hi_want)
    fail_msg("n %lld rank %d of %d: got [%lld, %lld), expected [%lld, %lld)", (long long)n, rank, world,
             (long long)lo, (long long)hi, (long long)lo_want, (long long)hi_want);
}

/* floor(r*n/W) boundaries, n not divisible by the world size. */
static void test_known_ranges(void **state) {
  (void)state;
  check(10, 0, 1, 0, 10);
  check(7, 0, 2, 0, 3);
  check(7, 1, 2, 3, 7);
  check(10, 0, 3, 0, 3);
  check(10, 1, 3, 3, 6);
  check(10, 2, 3, 6, 10);
  check(11, 2, 3, 7, 11);
  check(2, 0, 3, 0, 0); /* fewer rows than ranks: some shards are empty */
  check(2, 2, 3, 1, 2);
  /* large n: r*n would overflow int64 if computed directly */
  int64_t big = INT64_MAX - 5, lo, hi;
  nn_shard_range(big, 6, 7, &lo, &hi);
  assert_true(hi == big);
  assert_true(hi - lo == big / 7 || hi - lo == big / 7 + 1);
}

/* For world 1..8: shards tile 0..n-1 in rank order with no gap or overlap, sizes within one. */
static void test_tiling(void **state) {
  (void)state;
  const int64_t ns[] = {0, 1, 5, 7, 8, 13, 100, 60000, 60001};
  for (size_t i = 0; i < sizeof ns / sizeof ns[0]; i++)
    for (int world = 1; world <= 8; world++) {
      int64_t n = ns[i], next = 0, min = INT64_MAX, max = -1;
      for (int r = 0; r < world; r++) {
        int64_t lo, hi;
        nn_shard_range(n, r, world, &lo, &hi);
        if (lo != next || hi < lo)
          fail_msg("n %lld world %d rank %d: [%lld, %lld) does not continue at %lld", (long long)n,
                   world, r, (long long)lo, (long long)hi, (long long)next);
        next = hi;
        min = hi - lo < min ? hi - lo : min;
        max = hi - lo > max ? hi - lo : max;
      }
      assert_int_equal(next, n);
      assert_true(max - min <= 1);
    }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_known_ranges),
      cmocka_unit_test(test_tiling),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
