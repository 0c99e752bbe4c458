/* Tests of rng: reproducibility from the same state, independence of streams, permutations. */
#include "testutil.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nnmpi/rng.h"

static void same_state_same_numbers(void **st) {
  (void)st;
  nn_rng a = nn_rng_make(42, 7), b = nn_rng_make(42, 7);
  for (int i = 0; i < 1000; i++) assert_true(nn_rng_u64(&a) == nn_rng_u64(&b));
  /* resuming from a saved state continues the same sequence */
  nn_rng saved = a;
  uint64_t next = nn_rng_u64(&a);
  assert_true(nn_rng_u64(&saved) == next);
  /* the state is three integers: counter counts draws */
  assert_int_equal(b.counter, 1000);
}

static void streams_and_seeds_differ(void **st) {
  (void)st;
  nn_rng a = nn_rng_make(42, 7), b = nn_rng_make(42, 8), c = nn_rng_make(43, 7);
  int same_ab = 0, same_ac = 0;
  for (int i = 0; i < 100; i++) {
    uint64_t x = nn_rng_u64(&a);
    same_ab += x == nn_rng_u64(&b);
    same_ac += x == nn_rng_u64(&c);
  }
  assert_int_equal(same_ab, 0);
  assert_int_equal(same_ac, 0);
}

static void distributions(void **st) {
  (void)st;
  nn_rng r = nn_rng_make(1, 1);
  double su = 0, sn = 0, sn2 = 0;
  int n = 200000;
  for (int i = 0; i < n; i++) {
    float u = nn_rng_uniform(&r);
    assert_true(u >= 0.0f && u < 1.0f);
    su += u;
    double z = nn_rng_normal(&r);
    sn += z, sn2 += z * z;
  }
  assert_true(fabs(su / n - 0.5) < 0.01);
  assert_true(fabs(sn / n) < 0.01);
  assert_true(fabs(sn2 / n - 1.0) < 0.02);
  int hist[3] = {0};
  for (int i = 0; i < 30000; i++) hist[nn_rng_below(&r, 3)]++;
  for (int k = 0; k < 3; k++) assert_true(abs(hist[k] - 10000) < 500);
}

static void permutation_is_permutation(void **st) {
  (void)st;
  enum { N = 1001 };
  uint32_t p[N], q[N];
  char seen[N] = {0};
  nn_rng_permutation(5, 100, p, N);
  for (int i = 0; i < N; i++) {
    assert_true(p[i] < N);
    assert_false(seen[p[i]]);
    seen[p[i]] = 1;
  }
  nn_rng_permutation(5, 100, q, N);
  assert_memory_equal(p, q, sizeof p);
  nn_rng_permutation(5, 101, q, N);
  assert_true(memcmp(p, q, sizeof p) != 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(same_state_same_numbers),
      cmocka_unit_test(streams_and_seeds_differ),
      cmocka_unit_test(distributions),
      cmocka_unit_test(permutation_is_permutation),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
