/* bench_gather: memory per rank of a global-mode loader (one node-shared copy), and the cost of
 * assembling a batch (nn_loader_gather of 128 random uint8 rows -> float) against one
 * forward+backward of a 784-256-128-10 net on that batch. Uses loader, net and dist; writes
 * the figures to bench/results/gather.txt (or --out). Run: mpiexec -n N bench_gather [options]. */
#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "nnmpi/config.h"
#include "nnmpi/dist.h"
#include "nnmpi/loader.h"
#include "nnmpi/net.h"
#include "nnmpi/rng.h"
#include "nnmpi/status.h"

enum { ROWS = 60000, COLS = 784, CLASSES = 10, BATCH = 128, NMEM = 7 };

static const char usage[] =
    "usage: mpiexec -n N bench_gather [--data FILE:/group] [--out PATH] [--append] [--reps R]\n"
    "                                 [--ranks-per-node K] [--shard]\n"
    "  without --data a 60000 x 784 uint8 split (Fashion-MNIST sized) is generated in $TMPDIR\n";

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* Value of "key:" in kB from a /proc file (-1 when absent). */
static double proc_kb(const char *file, const char *key) {
  FILE *f = fopen(file, "r");
  char line[256];
  double v = -1;
  size_t n = strlen(key);
  while (f && fgets(line, sizeof line, f))
    if (!strncmp(line, key, n) && line[n] == ':') v = atof(line + n + 1);
  if (f) fclose(f);
  return v;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* The file a loader reads: root attributes of docs/formats.md, /train/X uint8 (with scale,
 * offset), /train/y int32, chunked by rows. Random pixels; layout is what matters here. */
static int write_split(const char *path) {
  hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  if (f < 0) return NN_FAIL(NN_EIO, "%s: cannot create", path);
  hid_t sc = H5Screate(H5S_SCALAR), str = H5Tcopy(H5T_C_S1);
  H5Tset_size(str, 13);
  int version = 1, classes = CLASSES;
  float scale = 1.0f / 255, offset = 0;
  hid_t a = H5Acreate2(f, "format", str, sc, H5P_DEFAULT, H5P_DEFAULT);
  H5Awrite(a, str, "nnmpi-dataset"), H5Aclose(a);
  a = H5Acreate2(f, "format_version", H5T_NATIVE_INT, sc, H5P_DEFAULT, H5P_DEFAULT);
  H5Awrite(a, H5T_NATIVE_INT, &version), H5Aclose(a);
  a = H5Acreate2(f, "num_classes", H5T_NATIVE_INT, sc, H5P_DEFAULT, H5P_DEFAULT);
  H5Awrite(a, H5T_NATIVE_INT, &classes), H5Aclose(a);

  uint8_t *X = malloc((size_t)ROWS * COLS);
  int32_t *y = malloc(ROWS * sizeof *y);
  nn_rng rng = nn_rng_make(1, NN_STREAM_SYNTH);
  for (size_t i = 0; X && y && i < (size_t)ROWS * COLS; i++) X[i] = (uint8_t)nn_rng_below(&rng, 256);
  for (int i = 0; X && y && i < ROWS; i++) y[i] = (int32_t)nn_rng_below(&rng, CLASSES);
  hid_t g = H5Gcreate2(f, "train", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  hsize_t dims[2] = {ROWS, COLS}, chunk[2] = {1024, COLS};
  hid_t xs = H5Screate_simple(2, dims, NULL), ys = H5Screate_simple(1, dims, NULL);
  hid_t pl = H5Pcreate(H5P_DATASET_CREATE), pl1 = H5Pcreate(H5P_DATASET_CREATE);
  H5Pset_chunk(pl, 2, chunk), H5Pset_chunk(pl1, 1, chunk);
  hid_t dx = H5Dcreate2(g, "X", H5T_NATIVE_UINT8, xs, H5P_DEFAULT, pl, H5P_DEFAULT);
  hid_t dy = H5Dcreate2(g, "y", H5T_NATIVE_INT32, ys, H5P_DEFAULT, pl1, H5P_DEFAULT);
  a = H5Acreate2(dx, "scale", H5T_NATIVE_FLOAT, sc, H5P_DEFAULT, H5P_DEFAULT);
  H5Awrite(a, H5T_NATIVE_FLOAT, &scale), H5Aclose(a);
  a = H5Acreate2(dx, "offset", H5T_NATIVE_FLOAT, sc, H5P_DEFAULT, H5P_DEFAULT);
  H5Awrite(a, H5T_NATIVE_FLOAT, &offset), H5Aclose(a);
  int ok = X && y && dx >= 0 && dy >= 0 && H5Dwrite(dx, H5T_NATIVE_UINT8, H5S_ALL, H5S_ALL, H5P_DEFAULT, X) >= 0 &&
           H5Dwrite(dy, H5T_NATIVE_INT32, H5S_ALL, H5S_ALL, H5P_DEFAULT, y) >= 0;
  H5Dclose(dx), H5Dclose(dy), H5Pclose(pl), H5Pclose(pl1), H5Sclose(xs), H5Sclose(ys);
  H5Gclose(g), H5Tclose(str), H5Sclose(sc);
  free(X), free(y);
  if (H5Fclose(f) < 0 || !ok) return NN_FAIL(NN_EIO, "%s: cannot write the benchmark split", path);
  return NN_OK;
}

/* Median seconds of reps runs; each run gathers fresh random rows, then (net != NULL) does a
 * forward+backward on them. which = 0 times the gather, 1 the forward+backward. */
static double median_time(const nn_loader *ld, nn_net *net, int which, int reps, float *X, int32_t *y) {
  double *t = malloc((size_t)reps * sizeof *t), med;
  uint32_t rows[BATCH];
  nn_rng rng = nn_rng_make(7, 99);
  for (int r = 0; r < reps; r++) {
    for (int b = 0; b < BATCH; b++) rows[b] = (uint32_t)nn_rng_below(&rng, (uint64_t)ld->rows_held);
    double t0 = now();
    nn_loader_gather(ld, rows, BATCH, X, y, NULL);
    double t1 = now();
    if (which == 1) {
      nn_net_forward(net, X, BATCH);
      nn_net_backward(net, X, (nn_targets){.y = y}, BATCH);
    }
    t[r] = which == 1 ? now() - t1 : t1 - t0;
  }
  qsort(t, (size_t)reps, sizeof *t, cmp_double);
  med = t[reps / 2];
  free(t);
  return med;
}

int main(int argc, char **argv) {
  if (nn_dist_init(&argc, &argv) != NN_OK) return 1;
  int rank = nn_dist_rank(), size = nn_dist_size(), reps = 500, rpn = 0, append = 0, rc = NN_OK;
  nn_sampling mode = NN_SAMPLING_GLOBAL;
  const char *data = NULL, *out = NN_SOURCE_DIR "/bench/results/gather.txt";
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--data") && i + 1 < argc) data = argv[++i];
    else if (!strcmp(argv[i], "--out") && i + 1 < argc) out = argv[++i];
    else if (!strcmp(argv[i], "--reps") && i + 1 < argc) reps = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--ranks-per-node") && i + 1 < argc) rpn = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--append")) append = 1;
    else if (!strcmp(argv[i], "--shard")) mode = NN_SAMPLING_SHARD;
    else {
      if (rank == 0) fputs(usage, stderr);
      nn_dist_finalize();
      return 2;
    }
  }
  if (reps < 1) reps = 1;

  double *mem = calloc((size_t)size * NMEM, sizeof *mem); /* per rank: NMEM figures */
  char path[1024], group[128] = "/train";
  if (data) {
    rc = nn_dataset_parse_spec(data, "/train", path, sizeof path, group, sizeof group);
  } else {
    const char *tmp = getenv("TMPDIR");
    snprintf(path, sizeof path, "%s/nnmpi-bench-gather-%ld.h5", tmp && *tmp ? tmp : "/tmp", (long)getpid());
    nn_dist_bcast(path, sizeof path, 0);
    if (rank == 0) rc = write_split(path);
  }
  rc = nn_dist_agree(rc ? rc : mem ? NN_OK : NN_FAIL(NN_ENOMEM, "out of memory"));

  /* Per-rank memory (kB): before open, after open and one read of every held row. */
  double *m = mem + NMEM * rank, t_open = 0;
  m[0] = proc_kb("/proc/self/status", "VmRSS");
  nn_loader ld = {0};
  if (rc == NN_OK) {
    double t0 = now();
    rc = nn_loader_open(&ld, path, group, mode, rpn);
    t_open = now() - t0;
  }
  if (rc != NN_OK) {
    if (rank == 0) fprintf(stderr, "bench_gather: %s: %s\n", nn_strerror(rc), nn_errmsg());
    if (!data && rank == 0) remove(path);
    nn_dist_finalize();
    return 1;
  }
  const uint8_t *Xraw = ld.X;
  unsigned long sum = 0;
  for (size_t i = 0; i < (size_t)ld.rows_held * (size_t)ld.info.d; i += 64) sum += Xraw[i];
  size_t priv, shared;
  nn_loader_memory(&ld, &priv, &shared);
  m[1] = (double)priv / 1024, m[2] = (double)shared / 1024;
  m[3] = proc_kb("/proc/self/status", "VmRSS");
  m[4] = proc_kb("/proc/self/status", "RssAnon");
  m[5] = proc_kb("/proc/self/status", "RssShmem");
  m[6] = proc_kb("/proc/self/smaps_rollup", "Pss");
  nn_dist_sum_f64(mem, (size_t)size * NMEM);
  nn_dist_max_f64(&t_open, 1);

  /* Timing on every rank at once (as in training); rank 0's medians are reported. */
  nn_config c;
  nn_config_defaults(&c);
  int sizes[] = {ld.info.d, 256, 128, CLASSES};
  c.model.n_sizes = 4;
  memcpy(c.model.sizes, sizes, sizeof sizes);
  c.model.hidden = NN_ACT_RELU, c.model.output = NN_ACT_SOFTMAX, c.model.loss = NN_LOSS_CROSS_ENTROPY;
  nn_net net;
  float *X = malloc((size_t)BATCH * (size_t)ld.info.d * sizeof *X);
  int32_t y[BATCH];
  rc = nn_net_init(&net, &c.model, BATCH);
  if (rc != NN_OK || !X || !ld.info.has_labels) {
    if (rank == 0) fprintf(stderr, "bench_gather: %s (needs a labelled split)\n", rc ? nn_errmsg() : "");
    nn_loader_close(&ld);
    nn_dist_finalize();
    return 1;
  }
  nn_rng init = nn_rng_make(1, NN_STREAM_INIT);
  nn_net_init_params(&net, NN_INIT_AUTO, &init);
  for (int b = 0; b < BATCH; b++) y[b] = 0;
  double t_gather = median_time(&ld, NULL, 0, reps, X, y);
  double t_step = median_time(&ld, &net, 1, reps, X, y);

  if (rank == 0) {
    FILE *f = fopen(out, append ? "a" : "w");
    if (!f) {
      fprintf(stderr, "bench_gather: cannot write %s\n", out);
    } else {
      fprintf(f, "# bench_gather, np=%d, %s sampling, ranks_per_node=%d (%d node block(s)); data: %s\n", size,
              mode == NN_SAMPLING_SHARD ? "shard" : "global", rpn, ld.shm.n_nodes,
              data ? data : "generated 60000 x 784 uint8 + int32 labels");
      fprintf(f, "nn_loader_open: %.3f s (slowest rank); checksum %lu\n", t_open, sum);
      fprintf(f, "memory per rank, kB (RSS after open + one read of every row; Pss splits shared pages):\n");
      fprintf(f, "%5s %10s %10s %10s %10s %10s %10s %10s\n", "rank", "loader_prv", "loader_shm", "RSS_before",
              "RSS_after", "RssAnon", "RssShmem", "Pss");
      for (int r = 0; r < size; r++) {
        const double *q = mem + NMEM * r;
        fprintf(f, "%5d %10.0f %10.0f %10.0f %10.0f %10.0f %10.0f %10.0f\n", r, q[1], q[2], q[0], q[3], q[4],
                q[5], q[6]);
      }
      fprintf(f, "batch assembly, %d random rows of %d uint8 -> float (nn_loader_gather): median %.1f us over %d reps\n",
              BATCH, ld.info.d, 1e6 * t_gather, reps);
      fprintf(f, "forward+backward %d-256-128-%d relu/softmax, B=%d (nn_net_forward+nn_net_backward): median %.1f us\n",
              ld.info.d, CLASSES, BATCH, 1e6 * t_step);
      fprintf(f, "ratio gather / (forward+backward) = %.4f\n\n", t_gather / t_step);
      fclose(f);
      printf("bench_gather: wrote %s\n", out);
    }
  }
  free(X), free(mem);
  nn_net_free(&net);
  nn_loader_close(&ld);
  nn_dist_barrier();
  if (!data && rank == 0) remove(path);
  nn_dist_finalize();
  return 0;
}
