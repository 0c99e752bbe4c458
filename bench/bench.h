/* bench.h: the timing helpers the MPI benchmarks share (a monotonic clock, a qsort comparison).
 * Header-only: each benchmark is one file built on its own. */
#ifndef NN_BENCH_H
#define NN_BENCH_H

#include <time.h>

static inline double bench_now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static inline int bench_cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

#endif
