/* bench_overlap: does overlapping the gradient reduction with the backward pass pay off here?
 * The backward of the wide model (784-2048-2048-10) on B/N rows per rank, timed three ways:
 *   blocking  all backward GEMMs, then one MPI_Allreduce of every gradient (what nnmpi does);
 *   overlap   MPI_Iallreduce of a layer's gradient as soon as it is done, MPI_Test after each
 *             following GEMM, MPI_Waitall at the end (DESIGN.md's per-layer buckets);
 *   overlap-k the same with each remaining GEMM cut into k column blocks and MPI_Test between
 *             them (more chances for the MPI library to progress).
 * Medians over repetitions, alternating the variants; results to bench/results/overlap.txt.
 *   mpirun -np 2 bench_overlap [--batch 512] [--reps 30] [--out PATH]
 * A benchmark may call MPI directly (the rule that only dist*.c calls MPI is for src/). */
#include <cblas.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench.h"

enum { D = 784, H = 2048, V_BLOCK = 0, V_OVERLAP = 1, V_SPLIT = 2, N_VARIANTS = 3, SPLIT = 8 };

/* C (m, n) = op(A) op(B), row-major, as nn_gemm. */
static void gemm(int ta, int tb, int m, int n, int k, const float *A, const float *B, float *C, int ldc) {
  cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, m, n, k, 1.0f, A,
              ta ? m : k, B, tb ? k : n, 0.0f, C, ldc);
}

/* The backward GEMMs of layers 1 and 0 (the output layer's are tiny): dW1 = A0^T d1 (H, H),
 * d0 = d1 W1^T (R, H), dW0 = X^T d0 (D, H). Column blocks of the last two when split > 1, with
 * test() called between them. */
static void backward(int R, const float *X, const float *A0, const float *d1, const float *W1, float *d0,
                     float *dW1, float *dW0, int split, void (*after_dW1)(void), void (*test)(void)) {
  gemm(1, 0, H, H, R, A0, d1, dW1, H);
  after_dW1();
  int cols = H / split;
  for (int j = 0; j < split; j++) { /* d0[:, j-block] = d1 W1[j-block, :]^T */
    gemm(0, 1, R, cols, H, d1, W1 + (size_t)j * cols * H, d0 + j * cols, H);
    test();
  }
  for (int j = 0; j < split; j++) { /* dW0[:, j-block] = X^T d0[:, j-block] */
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, D, cols, R, 1.0f, X, D, d0 + j * cols, H, 0.0f,
                dW0 + j * cols, H);
    test();
  }
}

static float *g_dW1, *g_dW0;
static MPI_Request req[2];
static int n_req;

static void nothing(void) {}
static void start_dW1(void) {
  MPI_Iallreduce(MPI_IN_PLACE, g_dW1, H * H, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD, &req[0]);
  n_req = 1;
}
static void poll(void) {
  int done;
  MPI_Testall(n_req, req, &done, MPI_STATUSES_IGNORE);
}

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  int rank, W, batch = 512, reps = 30;
  const char *out = NN_SOURCE_DIR "/bench/results/overlap.txt";
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &W);
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!strcmp(argv[i], "--batch")) batch = atoi(argv[i + 1]);
    else if (!strcmp(argv[i], "--reps")) reps = atoi(argv[i + 1]);
    else if (!strcmp(argv[i], "--out")) out = argv[i + 1];
  }
  openblas_set_num_threads(1);
  const int R = batch / W;
  float *X = malloc(sizeof(float) * (size_t)R * D), *A0 = malloc(sizeof(float) * (size_t)R * H);
  float *d1 = malloc(sizeof(float) * (size_t)R * H), *W1 = malloc(sizeof(float) * (size_t)H * H);
  float *d0 = malloc(sizeof(float) * (size_t)R * H);
  g_dW1 = malloc(sizeof(float) * (size_t)(H * H + D * H)), g_dW0 = g_dW1 + (size_t)H * H;
  for (size_t i = 0; i < (size_t)R * D; i++) X[i] = (float)(i % 7) * 0.1f;
  for (size_t i = 0; i < (size_t)R * H; i++) A0[i] = (float)(i % 5) * 0.1f, d1[i] = (float)(i % 3) * 0.01f;
  for (size_t i = 0; i < (size_t)H * H; i++) W1[i] = (float)(i % 11) * 0.01f;
  double *t = malloc(sizeof(double) * (size_t)reps * N_VARIANTS);
  for (int rep = -2; rep < reps; rep++) { /* 2 warm-up rounds */
    for (int v = 0; v < N_VARIANTS; v++) {
      MPI_Barrier(MPI_COMM_WORLD);
      double t0 = bench_now();
      if (v == V_BLOCK) {
        backward(R, X, A0, d1, W1, d0, g_dW1, g_dW0, 1, nothing, nothing);
        MPI_Allreduce(MPI_IN_PLACE, g_dW1, H * H + D * H, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
      } else {
        n_req = 0;
        backward(R, X, A0, d1, W1, d0, g_dW1, g_dW0, v == V_SPLIT ? SPLIT : 1, start_dW1, poll);
        MPI_Iallreduce(MPI_IN_PLACE, g_dW0, D * H, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD, &req[1]);
        MPI_Waitall(2, req, MPI_STATUSES_IGNORE);
      }
      double dt = bench_now() - t0;
      MPI_Allreduce(MPI_IN_PLACE, &dt, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD); /* the slowest rank */
      if (rep >= 0) t[(size_t)v * reps + rep] = dt;
    }
  }
  if (rank == 0) {
    double med[N_VARIANTS];
    for (int v = 0; v < N_VARIANTS; v++) {
      qsort(t + (size_t)v * reps, (size_t)reps, sizeof(double), bench_cmp_double);
      med[v] = t[(size_t)v * reps + reps / 2];
    }
    FILE *f = fopen(out, "w");
    if (!f) f = stdout;
    char ver[MPI_MAX_LIBRARY_VERSION_STRING];
    int len;
    MPI_Get_library_version(ver, &len);
    *strchrnul(ver, '\n') = 0;
    time_t wall = time(NULL);
    fprintf(f, "# bench_overlap: backward of 784-2048-2048-10 (layers 1 and 0) on %d rows per rank + reduction of its "
               "5.8 M gradients; np=%d, batch %d, %d reps alternating, median of the slowest rank\n",
            R, W, batch, reps);
    fprintf(f, "# %s; %s", ver, ctime(&wall));
    fprintf(f, "blocking (backward, then MPI_Allreduce)          %8.2f ms\n", med[0] * 1e3);
    fprintf(f, "overlap (MPI_Iallreduce per layer, MPI_Test)    %8.2f ms  (%+.1f %%)\n", med[1] * 1e3,
            100 * (med[0] / med[1] - 1));
    fprintf(f, "overlap, GEMMs in %d blocks with MPI_Test        %8.2f ms  (%+.1f %%)\n", SPLIT, med[2] * 1e3,
            100 * (med[0] / med[2] - 1));
    fprintf(f, "# (+x %%: that much faster than blocking; nnmpi builds the overlap only for >= +5 %% on the wide model)\n");
    if (f != stdout) fclose(f), printf("bench_overlap: wrote %s\n", out);
  }
  MPI_Finalize();
  return 0;
}
