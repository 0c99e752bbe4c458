/* bench_allreduce: time of the collectives a data-parallel step can use to sum a gradient
 * buffer, over buffer sizes 4 B ... 64 MiB, on the ranks of MPI_COMM_WORLD:
 *   allreduce     MPI_Allreduce(MPI_IN_PLACE, float, MPI_SUM)      train.watchdog_seconds = 0
 *   iallreduce    MPI_Iallreduce(MPI_IN_PLACE) polled by MPI_Test  nnmpi's path with the watchdog on
 *   rsblock+ag    MPI_Reduce_scatter_block (grads -> 1/N shard) + MPI_Allgather (shard -> params),
 *                 the pair a sharded optimizer uses; count padded to a multiple of N
 *   rs+ag         the same with MPI_Reduce_scatter (equal recvcounts) instead of the _block call
 *   rsblock, rs, allgather   the halves alone
 *   allreduce_i64 MPI_Allreduce(MPI_IN_PLACE, int64, MPI_SUM) of the same bytes (train.reduce = exact)
 *   allreduce_8m  MPI_Allreduce in pieces of at most 8 MiB, as nnmpi's src/dist.c     (only with --ops)
 *   shm           the sum through an MPI-3 node-shared window: every rank copies its buffer into its
 *                 slot, sums its 1/N of the values over all slots, the others copy those sums
 *                 (barriers between); all ranks on one node                         (only with --ops)
 *   ring          reduce-scatter + allgather as rings of MPI_Sendrecv, what nnmpi's src/dist.c
 *                 runs for train.shard_optimizer; ring_rs and ring_ag the halves     (only with --ops)
 * Each (size, op): warm-up, then reps timed one at a time after an MPI_Barrier; a rep's time is
 * the slowest rank's; the table gives the median and the minimum over reps and the "bus
 * bandwidth" 2(N-1)/N * bytes / median (what a ring moves per rank). Calls MPI directly (a
 * benchmark, not part of nnmpi). Run: bench/allreduce.sh, or mpiexec -n N bench_allreduce [options]. */
#include <mpi.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

static const char usage[] =
    "usage: mpiexec -n N bench_allreduce [--out PATH] [--append] [--min-bytes B] [--max-bytes B]\n"
    "                                    [--factor F] [--budget SECONDS] [--min-reps R] [--max-reps R]\n"
    "                                    [--ops allreduce,iallreduce,rs+ag,...] [--label TEXT]\n"
    "  ops: allreduce iallreduce rsblock+ag rs+ag rsblock rs allgather allreduce_i64 (the default set)\n"
    "       allreduce_8m shm ring ring_rs ring_ag (only when named)\n"
    "  sizes: B, B*F, B*F^2, ... up to max-bytes (default 4 B ... 64 MiB, F = 4); each (size, op)\n"
    "  gets about --budget seconds (default 0.3) of timed reps, within [min-reps, max-reps] (10, 2000)\n";

enum { OP_AR, OP_IAR, OP_RSBAG, OP_RSAG, OP_RSB, OP_RS, OP_AG, OP_AR64, OP_AR8M, OP_SHM, OP_RING, OP_RINGRS, OP_RINGAG, OP_COUNT };
enum { PIECE = 8 << 20 }; /* src/dist.c: NN_DIST_PIECE_BYTES */
static const char *op_names[OP_COUNT] = {"allreduce", "iallreduce", "rsblock+ag",    "rs+ag", "rsblock",
                                         "rs",        "allgather",  "allreduce_i64", "allreduce_8m", "shm", "ring", "ring_rs", "ring_ag"};

static int rank, size;
static float *fbuf, *shard, *params;
static int64_t *ibuf;
static int *counts; /* recvcounts of MPI_Reduce_scatter: all equal */
static MPI_Win win; /* shm: one slot of the buffer's size per rank */
static float **slot;
static float *tmp; /* ring: one received block */

/* Ring over point-to-point messages (MPI_Sendrecv), blocks of `per` floats, block q owned by rank q:
 * reduce-scatter in N-1 steps (each rank ends with the sum of its own block), then allgather
 * in N-1 steps; as nnmpi's src/dist.c does for the sharded optimizer. */
static void ring(float *buf, int per, int scatter, int gather) {
  const int next = (rank + 1) % size, prev = (rank + size - 1) % size;
  for (int s = 0; scatter && s < size - 1; s++) {
    int sb = ((rank - s - 1) % size + 2 * size) % size, rb = ((rank - s - 2) % size + 2 * size) % size;
    MPI_Sendrecv(buf + (size_t)sb * per, per, MPI_FLOAT, next, 7, tmp, per, MPI_FLOAT, prev, 7, MPI_COMM_WORLD,
                 MPI_STATUS_IGNORE);
    float *d = buf + (size_t)rb * per;
    for (int i = 0; i < per; i++) d[i] += tmp[i];
  }
  for (int s = 0; gather && s < size - 1; s++) {
    int sb = ((rank - s) % size + size) % size, rb = ((rank - s - 1) % size + size) % size;
    MPI_Sendrecv(buf + (size_t)sb * per, per, MPI_FLOAT, next, 8, buf + (size_t)rb * per, per, MPI_FLOAT, prev, 8,
                 MPI_COMM_WORLD, MPI_STATUS_IGNORE);
  }
}

/* One collective on `bytes` bytes of buffer (floats: bytes/4, int64: bytes/8, at least 1). */
static void run_op(int op, size_t bytes) {
  int nf = (int)(bytes / 4 ? bytes / 4 : 1);
  for (int i = 0; i < size; i++) counts[i] = (nf + size - 1) / size;
  switch (op) {
  case OP_AR:
    MPI_Allreduce(MPI_IN_PLACE, fbuf, nf, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
    break;
  case OP_IAR: {
    MPI_Request req;
    int done = 0;
    MPI_Iallreduce(MPI_IN_PLACE, fbuf, nf, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD, &req);
    while (!done) MPI_Test(&req, &done, MPI_STATUS_IGNORE);
    break;
  }
  case OP_RSBAG:
  case OP_RSB: {
    int per = (nf + size - 1) / size;
    MPI_Reduce_scatter_block(fbuf, shard, per, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
    if (op == OP_RSBAG) MPI_Allgather(shard, per, MPI_FLOAT, params, per, MPI_FLOAT, MPI_COMM_WORLD);
    break;
  }
  case OP_RSAG:
  case OP_RS: {
    int per = (nf + size - 1) / size;
    MPI_Reduce_scatter(fbuf, shard, counts, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
    if (op == OP_RSAG) MPI_Allgather(shard, per, MPI_FLOAT, params, per, MPI_FLOAT, MPI_COMM_WORLD);
    break;
  }
  case OP_AG: {
    int per = (nf + size - 1) / size;
    MPI_Allgather(shard, per, MPI_FLOAT, params, per, MPI_FLOAT, MPI_COMM_WORLD);
    break;
  }
  case OP_AR64: {
    int ni = (int)(bytes / 8 ? bytes / 8 : 1);
    MPI_Allreduce(MPI_IN_PLACE, ibuf, ni, MPI_INT64_T, MPI_SUM, MPI_COMM_WORLD);
    break;
  }
  case OP_AR8M:
    for (int off = 0; off < nf; off += PIECE / 4)
      MPI_Allreduce(MPI_IN_PLACE, fbuf + off, nf - off < PIECE / 4 ? nf - off : PIECE / 4, MPI_FLOAT, MPI_SUM,
                    MPI_COMM_WORLD);
    break;
  case OP_RING:
  case OP_RINGRS:
  case OP_RINGAG: ring(fbuf, (nf + size - 1) / size, op != OP_RINGAG, op != OP_RINGRS); break;
  case OP_SHM: {
    size_t lo = (size_t)nf * rank / size, hi = (size_t)nf * (rank + 1) / size;
    memcpy(slot[rank], fbuf, sizeof(float) * (size_t)nf);
    MPI_Win_sync(win), MPI_Barrier(MPI_COMM_WORLD), MPI_Win_sync(win);
    for (size_t i = lo; i < hi; i++) {
      float s = slot[0][i];
      for (int q = 1; q < size; q++) s += slot[q][i];
      fbuf[i] = s;
    }
    memcpy(slot[0] + lo, fbuf + lo, sizeof(float) * (hi - lo)); /* each rank writes only its range */
    MPI_Win_sync(win), MPI_Barrier(MPI_COMM_WORLD), MPI_Win_sync(win);
    for (int q = 0; q < size; q++) {
      size_t a = (size_t)nf * q / size, b = (size_t)nf * (q + 1) / size;
      if (q != rank) memcpy(fbuf + a, slot[0] + a, sizeof(float) * (b - a));
    }
    MPI_Barrier(MPI_COMM_WORLD); /* nobody copies in while others still copy out */
    break;
  }
  }
}

/* Checks once that the op sums: every rank contributes rank+1. Returns 0 when right. */
static int verify(int op, size_t bytes) {
  int nf = (int)(bytes / 4 ? bytes / 4 : 1), ni = (int)(bytes / 8 ? bytes / 8 : 1);
  int per = (nf + size - 1) / size;
  size_t padded = (size_t)per * size;
  for (size_t i = 0; i < padded; i++) fbuf[i] = (float)(rank + 1);
  for (int i = 0; i < ni; i++) ibuf[i] = rank + 1;
  for (int i = 0; i < per; i++) shard[i] = (float)(rank + 1);
  run_op(op, bytes);
  double want = size * (size + 1) / 2.0;
  int bad = 0;
  if (op == OP_AR64) bad = ibuf[0] != (int64_t)want || ibuf[ni - 1] != (int64_t)want;
  else if (op == OP_RSAG || op == OP_RSBAG) bad = params[0] != (float)want || params[nf - 1] != (float)want;
  else if (op == OP_RINGAG) {
    for (int q = 0; q < size; q++) bad |= fbuf[(size_t)q * per] != (float)(q + 1);
  } else if (op == OP_RINGRS) bad = fbuf[(size_t)rank * per] != (float)want || fbuf[(size_t)rank * per + per - 1] != (float)want;
  else if (op == OP_RS || op == OP_RSB) bad = shard[0] != (float)want || shard[per - 1] != (float)want;
  else if (op == OP_AG) bad = params[0] != 1.0f || params[padded - 1] != (float)size;
  else bad = fbuf[0] != (float)want || fbuf[nf - 1] != (float)want;
  memset(fbuf, 0, padded * sizeof *fbuf);
  memset(ibuf, 0, (size_t)ni * sizeof *ibuf);
  MPI_Allreduce(MPI_IN_PLACE, &bad, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
  return bad;
}

/* Times reps of op; fills *med and *mn (seconds, slowest rank per rep); returns reps. */
static int time_op(int op, size_t bytes, double budget, int min_reps, int max_reps, double *med, double *mn) {
  /* warm-up (also sizes the rep count: rank 0's estimate, broadcast) */
  enum { WARM = 3 }; /* a fixed count: every rank must make the same calls */
  double per = 1e30; /* the fastest warm-up rep: one slow rep must not cut the count */
  for (int w = 0; w < WARM; w++) {
    MPI_Barrier(MPI_COMM_WORLD);
    double t0 = bench_now();
    run_op(op, bytes);
    double dt = bench_now() - t0;
    per = dt < per ? dt : per;
  }
  int reps = (int)(budget / (per > 1e-9 ? per : 1e-9));
  reps = reps < min_reps ? min_reps : reps > max_reps ? max_reps : reps;
  MPI_Bcast(&reps, 1, MPI_INT, 0, MPI_COMM_WORLD);
  double *t = malloc(sizeof(double) * (size_t)reps);
  for (int r = 0; r < reps; r++) {
    MPI_Barrier(MPI_COMM_WORLD);
    double a = bench_now();
    run_op(op, bytes);
    t[r] = bench_now() - a;
  }
  MPI_Allreduce(MPI_IN_PLACE, t, reps, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
  qsort(t, (size_t)reps, sizeof *t, bench_cmp_double);
  *med = reps % 2 ? t[reps / 2] : (t[reps / 2 - 1] + t[reps / 2]) / 2;
  *mn = t[0];
  free(t);
  return reps;
}

static size_t parse_bytes(const char *s) {
  char *end;
  double v = strtod(s, &end);
  if (*end == 'K' || *end == 'k') v *= 1024;
  else if (*end == 'M' || *end == 'm') v *= 1024 * 1024;
  else if (*end == 'G' || *end == 'g') v *= 1024.0 * 1024 * 1024;
  return (size_t)v;
}

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  const char *out = NULL, *label = "";
  int append = 0, min_reps = 10, max_reps = 2000;
  size_t min_bytes = 4, max_bytes = (size_t)64 << 20;
  double factor = 4, budget = 0.3;
  int want[OP_COUNT] = {1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0}; /* the last five only with --ops */
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!strcmp(a, "--append")) { append = 1; continue; }
    if (!v || a[0] != '-') goto bad;
    if (!strcmp(a, "--out")) out = v;
    else if (!strcmp(a, "--label")) label = v;
    else if (!strcmp(a, "--min-bytes")) min_bytes = parse_bytes(v);
    else if (!strcmp(a, "--max-bytes")) max_bytes = parse_bytes(v);
    else if (!strcmp(a, "--factor")) factor = atof(v);
    else if (!strcmp(a, "--budget")) budget = atof(v);
    else if (!strcmp(a, "--min-reps")) min_reps = atoi(v);
    else if (!strcmp(a, "--max-reps")) max_reps = atoi(v);
    else if (!strcmp(a, "--ops")) {
      memset(want, 0, sizeof want);
      char *s = strdup(v);
      for (char *tok = strtok(s, ","); tok; tok = strtok(NULL, ",")) {
        int k = 0;
        while (k < OP_COUNT && strcmp(tok, op_names[k])) k++;
        if (k == OP_COUNT) { free(s); goto bad; }
        want[k] = 1;
      }
      free(s);
    } else goto bad;
    i++;
  }
  if (min_bytes < 4 || max_bytes < min_bytes || factor <= 1 || min_reps < 1 || max_reps < min_reps || budget <= 0)
    goto bad;

  size_t cap = max_bytes / 4 + (size_t)size; /* floats, with room for the rs+ag padding */
  fbuf = calloc(cap, sizeof *fbuf), params = calloc(cap, sizeof *params);
  shard = calloc(cap / size + 1, sizeof *shard), ibuf = calloc(max_bytes / 8 + 1, sizeof *ibuf);
  counts = calloc((size_t)size, sizeof *counts);
  slot = calloc((size_t)size, sizeof *slot);
  tmp = calloc(cap / size + 1, sizeof *tmp);
  if (want[OP_SHM]) {
    float *mine;
    MPI_Win_allocate_shared((MPI_Aint)(cap * sizeof(float)), sizeof(float), MPI_INFO_NULL, MPI_COMM_WORLD, &mine, &win);
    for (int q = 0; q < size; q++) {
      MPI_Aint sz;
      int du;
      MPI_Win_shared_query(win, q, &sz, &du, &slot[q]);
    }
  }
  if (!fbuf || !params || !shard || !ibuf || !counts || !slot) {
    fprintf(stderr, "bench_allreduce: out of memory for %zu bytes\n", max_bytes);
    MPI_Abort(MPI_COMM_WORLD, 1);
  }

  FILE *f = stdout;
  if (rank == 0 && out && !(f = fopen(out, append ? "a" : "w"))) {
    fprintf(stderr, "bench_allreduce: cannot open %s\n", out);
    MPI_Abort(MPI_COMM_WORLD, 1);
  }
  long cores = sysconf(_SC_NPROCESSORS_ONLN);
  char ver[MPI_MAX_LIBRARY_VERSION_STRING];
  int len;
  MPI_Get_library_version(ver, &len);
  char *nl = strchr(ver, '\n');
  if (nl) *nl = 0;
  nl = strchr(ver, ',');
  if (nl) *nl = 0;
  if (rank == 0) {
    time_t tt = time(NULL);
    char date[32];
    strftime(date, sizeof date, "%Y-%m-%dT%H:%MZ", gmtime(&tt));
    fprintf(f, "# bench_allreduce: np=%d on %ld cores%s%s%s; %s; %s\n", size, cores,
            size > cores ? ", OVERSUBSCRIBED" : "", *label ? "; " : "", label, ver, date);
    fprintf(f, "# t = median (min) over reps of the slowest rank; busbw = 2(N-1)/N * bytes / t_median\n");
    fprintf(f, "#%3s %11s %-14s %6s %12s %12s %11s\n", "np", "bytes", "op", "reps", "median_us", "min_us",
            "busbw_GB/s");
    fflush(f);
  }
  int failed = 0;
  for (double b = (double)min_bytes; b <= (double)max_bytes * 1.0000001; b *= factor) {
    size_t bytes = (size_t)(b + 0.5);
    for (int op = 0; op < OP_COUNT; op++) {
      if (!want[op]) continue;
      if (verify(op, bytes)) {
        failed = 1;
        if (rank == 0) fprintf(stderr, "bench_allreduce: %s of %zu bytes gave a wrong sum\n", op_names[op], bytes);
      }
      double med, mn;
      int reps = time_op(op, bytes, budget, min_reps, max_reps, &med, &mn);
      if (rank == 0) {
        double bus = size > 1 ? 2.0 * (size - 1) / size * (double)bytes / med / 1e9 : 0;
        fprintf(f, " %3d %11zu %-14s %6d %12.2f %12.2f %11.3f\n", size, bytes, op_names[op], reps, med * 1e6,
                mn * 1e6, bus);
        fflush(f);
      }
    }
  }
  if (rank == 0 && f != stdout) fclose(f);
  if (want[OP_SHM]) MPI_Win_free(&win);
  free(fbuf), free(params), free(shard), free(ibuf), free(counts), free(slot), free(tmp);
  MPI_Finalize();
  return failed;
bad:
  if (rank == 0) fputs(usage, stderr);
  MPI_Finalize();
  return 2;
}
