/* dist: start-up, reductions, agreement and broadcasts over MPI_COMM_WORLD. Layer 4: with
 * dist_shm.c the only code that calls MPI_*. Every collective runs between nn_dist_watch_begin
 * and nn_dist_watch_end, so the watchdog (dist_watchdog.c) covers all of them; collectives
 * themselves stay plain blocking MPI calls (a polled non-blocking collective costs more on
 * shared memory). */
#include "nnmpi/dist.h"

#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "nnmpi/status.h"

static int started_here, rank_, size_ = 1;

bool nn_dist_mpi_ready(void) {
  int init = 0, fin = 0;
  MPI_Initialized(&init);
  MPI_Finalized(&fin);
  return init && !fin;
}

/* Open MPI's shared-memory transport copies large messages with one cross-process copy (CMA)
 * by default; through its shared buffers instead, the 0.94 MB allreduce of the default model
 * took 97 against 198 us (bench/results/allreduce-pieces-shm.txt). Those buffers then carry
 * fragments of 128 KiB instead of 32 KiB: 1 MiB allreduce 111 -> 84 us, 4 MiB 494 -> 396 us
 * at np=2 (bench/results/allreduce-fragments.txt), out of the same 4 MiB segment per rank. Set before
 * MPI_Init, and only when the user (or mpirun's --mca) has not chosen:
 * OMPI_MCA_btl_vader_single_copy_mechanism=cma and OMPI_MCA_btl_vader_max_send_size=32768
 * restore Open MPI's defaults. */
static void shm_defaults(void) {
#ifdef OPEN_MPI
  setenv("OMPI_MCA_btl_vader_single_copy_mechanism", "none", 0);
  setenv("OMPI_MCA_btl_vader_max_send_size", "131072", 0);
#endif
}

int nn_dist_init(int *argc, char ***argv) {
  if (!nn_dist_mpi_ready()) {
    int provided;
    shm_defaults();
    if (MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS)
      return NN_FAIL(NN_EINTERNAL, "MPI_Init_thread failed");
    started_here = 1;
  }
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
  MPI_Comm_size(MPI_COMM_WORLD, &size_);
  if (size_ > 1) nn_dist_set_watchdog(NN_DIST_WATCHDOG_DEFAULT);
  return NN_OK;
}

static void *scratch; /* the ring's received piece, kept for the next step */
static size_t scratch_cap;
static size_t *ring_offs; /* the ring's block offsets, likewise */

void nn_dist_finalize(void) {
  free(scratch), free(ring_offs), scratch = NULL, ring_offs = NULL, scratch_cap = 0;
  if (started_here && nn_dist_mpi_ready()) MPI_Finalize();
  started_here = 0;
}

int nn_dist_rank(void) { return rank_; }
int nn_dist_size(void) { return size_; }

void nn_dist_versions(char *buf, size_t cap) {
  char lib[MPI_MAX_LIBRARY_VERSION_STRING];
  int len = 0, major = 0, minor = 0;
  MPI_Get_library_version(lib, &len);
  MPI_Get_version(&major, &minor);
  char *nl = strchr(lib, '\n');
  if (nl) *nl = 0;
  snprintf(buf, cap, "MPI: %s (MPI standard %d.%d)\n", lib, major, minor);
}

void nn_dist_abort(int exit_code) {
  if (nn_dist_mpi_ready()) MPI_Abort(MPI_COMM_WORLD, exit_code);
  exit(exit_code);
}

#define begin nn_dist_watch_begin
#define end   nn_dist_watch_end

/* An MPI call failed: with MPI_ERRORS_RETURN that means a peer or its node is gone. */
static int failed(int err, const char *what) {
  char text[MPI_MAX_ERROR_STRING] = "";
  int len = 0;
  MPI_Error_string(err, text, &len);
  end();
  return NN_FAIL(NN_EPEER, "%s failed (%s): another rank or its node failed", what, text);
}

/* ---- collectives */

/* In-place allreduce, in pieces of at most NN_DIST_PIECE_BYTES. Open MPI 4.1.4 over shared
 * memory falls off a cliff above 16-32 MB in one call, whichever allreduce algorithm is forced
 * (bench/results/allreduce-algorithms.txt); 46 MB took 144 ms in one call and 7.5 ms in 8 MiB
 * pieces (allreduce-pieces-shm.txt, 2 ranks). Sums are elementwise, so the pieces change no bit. */
enum { NN_DIST_PIECE_BYTES = 8 << 20 };
static int reduce(void *buf, size_t n, MPI_Datatype type, size_t elem, MPI_Op op, const char *what) {
  if (size_ == 1 || n == 0) return NN_OK;
  begin(what);
  const size_t piece = NN_DIST_PIECE_BYTES / elem;
  for (size_t off = 0; off < n; off += piece) {
    int cnt = (int)(n - off < piece ? n - off : piece), err;
    if ((err = MPI_Allreduce(MPI_IN_PLACE, (char *)buf + off * elem, cnt, type, op, MPI_COMM_WORLD)) != MPI_SUCCESS)
      return failed(err, what);
  }
  end();
  return NN_OK;
}

int nn_dist_sum_f32(float *buf, size_t n) { return reduce(buf, n, MPI_FLOAT, sizeof *buf, MPI_SUM, "an allreduce"); }
int nn_dist_sum_f64(double *buf, size_t n) { return reduce(buf, n, MPI_DOUBLE, sizeof *buf, MPI_SUM, "an allreduce"); }
int nn_dist_sum_i64(int64_t *buf, size_t n) {
  return reduce(buf, n, MPI_INT64_T, sizeof *buf, MPI_SUM, "an allreduce");
}
int nn_dist_min_f64(double *buf, size_t n) { return reduce(buf, n, MPI_DOUBLE, sizeof *buf, MPI_MIN, "an allreduce"); }
int nn_dist_max_f64(double *buf, size_t n) { return reduce(buf, n, MPI_DOUBLE, sizeof *buf, MPI_MAX, "an allreduce"); }

/* ---- sharded reduction: a ring over point-to-point messages
 *
 * Open MPI 4.1.4's own MPI_Reduce_scatter is barely cheaper than a whole allreduce over shared
 * memory (1 MiB, 2 ranks: 106 against 122 us), which made the sharded optimizer a loss; a ring
 * of MPI_Sendrecv takes 69 us for the reduce-scatter and 53 us for the allgather (MPI_Allgather:
 * 64 us), together as long as MPI_Allreduce (bench/results/allreduce-ring.txt; 3 ranks too).
 * Block q (counts[q] values, in rank order) ends on rank q. Reduce-scatter step s (of N-1):
 * send block (r-s-1) mod N to rank r+1, receive block (r-s-2) mod N from rank r-1 and add it
 * to this rank's partial sum of that block; the last step's sum is rank r's own block. Every
 * message goes in pieces of at most NN_DIST_PIECE_BYTES (the same count of pieces on every
 * rank), so the scratch buffer stays small and no call is large enough for the shared-memory
 * cliff. A block's sum is added up in
 * one fixed order along the ring and then sent to every rank (allgather), so all ranks end with
 * the same bits; the integer sums of exact mode are exact in any order. */
enum { TAG_RING = 0x6e6e }; /* nnmpi's only point-to-point messages */

/* dst = a + b elementwise; dst may be a (the partial sums of the earlier steps), never b. */
typedef void add_fn(void *dst, const void *a, const void *restrict b, size_t n);
static void add_f32(void *dst, const void *a, const void *restrict b, size_t n) {
  float *d = dst;
  const float *x = a, *restrict y = b;
  for (size_t i = 0; i < n; i++) d[i] = x[i] + y[i];
}
static void add_i64(void *dst, const void *a, const void *restrict b, size_t n) {
  int64_t *d = dst;
  const int64_t *x = a, *restrict y = b;
  for (size_t i = 0; i < n; i++) d[i] = x[i] + y[i];
}

static int mod(int a, int n) { return ((a % n) + n) % n; }

/* Values of block q in piece j of a ring whose pieces hold at most `piece` values. */
static size_t piece_len(const int *counts, int q, size_t j, size_t piece) {
  size_t lo = j * piece, c = (size_t)counts[q];
  return lo >= c ? 0 : c - lo < piece ? c - lo : piece;
}

/* The ring's layout for blocks of counts[q] values of elem bytes: ring_offs[q] (prefix sums of
 * counts), *piece (values per piece) and *pieces (the piece count every rank uses); the scratch
 * buffer holds one piece when scratch_too is set. Both buffers are kept for the next step. */
static int ring_layout(const int *counts, size_t elem, bool scratch_too, size_t *piece, size_t *pieces) {
  if (!ring_offs && !(ring_offs = malloc(sizeof(size_t) * (size_t)size_)))
    return NN_FAIL(NN_ENOMEM, "ring offsets of %d ranks", size_);
  size_t max = 0, at = 0;
  for (int q = 0; q < size_; q++) {
    ring_offs[q] = at, at += (size_t)counts[q];
    if ((size_t)counts[q] > max) max = (size_t)counts[q];
  }
  *piece = NN_DIST_PIECE_BYTES / elem;
  if (max < *piece) *piece = max ? max : 1;
  *pieces = (max + *piece - 1) / *piece;
  if (!scratch_too || *piece * elem <= scratch_cap) return NN_OK;
  void *p = realloc(scratch, *piece * elem);
  if (!p) return NN_FAIL(NN_ENOMEM, "reduce-scatter buffer of %zu bytes", *piece * elem);
  scratch = p, scratch_cap = *piece * elem;
  return NN_OK;
}

static int sum_scatter(void *buf, void *out, const int *counts, MPI_Datatype type, size_t elem, add_fn *add) {
  if (size_ == 1) return memcpy(out, buf, (size_t)counts[0] * elem), NN_OK;
  size_t piece, pieces;
  int rc = ring_layout(counts, elem, true, &piece, &pieces);
  if (rc) return rc;
  const size_t *offs = ring_offs;
  const int next = mod(rank_ + 1, size_), prev = mod(rank_ - 1, size_);
  char *b = buf;
  begin("a reduce-scatter");
  for (int s = 0; s < size_ - 1; s++) {
    const int sb = mod(rank_ - s - 1, size_), rb = mod(rank_ - s - 2, size_);
    /* the last step adds into out (rb is this rank's block then), earlier ones into buf */
    char *dst = s == size_ - 2 ? out : b + offs[rb] * elem;
    for (size_t j = 0; j < pieces; j++) {
      size_t ns = piece_len(counts, sb, j, piece), nr = piece_len(counts, rb, j, piece);
      int err = MPI_Sendrecv(b + (offs[sb] + j * piece) * elem, (int)ns, type, next, TAG_RING, scratch, (int)nr,
                             type, prev, TAG_RING, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
      if (err != MPI_SUCCESS) return failed(err, "a reduce-scatter");
      add(dst + j * piece * elem, b + (offs[rb] + j * piece) * elem, scratch, nr);
    }
  }
  end();
  return NN_OK;
}

int nn_dist_sum_scatter_f32(float *buf, float *out, const int *counts) {
  return sum_scatter(buf, out, counts, MPI_FLOAT, sizeof *buf, add_f32);
}
int nn_dist_sum_scatter_i64(int64_t *buf, int64_t *out, const int *counts) {
  return sum_scatter(buf, out, counts, MPI_INT64_T, sizeof *buf, add_i64);
}

/* Ring allgather, in place: step s sends block (r-s) mod N to rank r+1 and receives block
 * (r-s-1) mod N from rank r-1 into its place, in pieces as above. */
int nn_dist_allgather_f32(float *buf, const int *counts) {
  if (size_ == 1) return NN_OK;
  size_t piece, pieces;
  int rc = ring_layout(counts, sizeof *buf, false, &piece, &pieces);
  if (rc) return rc;
  const size_t *offs = ring_offs;
  const int next = mod(rank_ + 1, size_), prev = mod(rank_ - 1, size_);
  begin("an allgather");
  for (int s = 0; s < size_ - 1; s++) {
    const int sb = mod(rank_ - s, size_), rb = mod(rank_ - s - 1, size_);
    for (size_t j = 0; j < pieces; j++) {
      size_t ns = piece_len(counts, sb, j, piece), nr = piece_len(counts, rb, j, piece);
      int err = MPI_Sendrecv(buf + offs[sb] + j * piece, (int)ns, MPI_FLOAT, next, TAG_RING, buf + offs[rb] + j * piece,
                             (int)nr, MPI_FLOAT, prev, TAG_RING, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
      if (err != MPI_SUCCESS) return failed(err, "an allgather");
    }
  }
  end();
  return NN_OK;
}

int nn_dist_bcast(void *buf, size_t n, int root) {
  if (size_ == 1) return NN_OK;
  begin("a broadcast");
  for (size_t off = 0; off < n; off += 1u << 30) {
    int cnt = (int)(n - off < (1u << 30) ? n - off : 1u << 30), err;
    if ((err = MPI_Bcast((char *)buf + off, cnt, MPI_BYTE, root, MPI_COMM_WORLD)) != MPI_SUCCESS)
      return failed(err, "a broadcast");
  }
  end();
  return NN_OK;
}

int nn_dist_bcast_string(char **s) {
  if (size_ == 1) return NN_OK;
  int64_t len = rank_ == 0 ? (*s ? (int64_t)strlen(*s) : -1) : 0;
  int rc = nn_dist_bcast(&len, sizeof len, 0);
  if (rc) return rc;
  if (rank_ != 0) {
    free(*s);
    *s = NULL;
    if (len < 0) return NN_OK;
    if (!(*s = malloc((size_t)len + 1))) return NN_FAIL(NN_ENOMEM, "broadcast of %lld bytes", (long long)len);
    (*s)[len] = 0;
  }
  return len < 0 ? NN_OK : nn_dist_bcast(*s, (size_t)len, 0);
}

int nn_dist_barrier(void) {
  if (size_ == 1) return NN_OK;
  begin("a barrier");
  int err = MPI_Barrier(MPI_COMM_WORLD);
  if (err != MPI_SUCCESS) return failed(err, "a barrier");
  end();
  return NN_OK;
}

/* Variable-count gather of n values of type to rank 0, in rank order. */
static int gather(const void *send, int64_t n, void *recv, MPI_Datatype type, size_t elem) {
  if (size_ == 1) {
    memcpy(recv, send, elem * (size_t)n);
    return NN_OK;
  }
  int cnt = (int)n, *counts = NULL, *displs = NULL, rc = NN_OK, err;
  if (rank_ == 0 && !(counts = calloc(2 * (size_t)size_, sizeof(int)))) rc = NN_FAIL(NN_ENOMEM, "gather counts");
  if ((rc = nn_dist_agree(rc))) return rc;
  begin("a gather");
  if ((err = MPI_Gather(&cnt, 1, MPI_INT, counts, 1, MPI_INT, 0, MPI_COMM_WORLD)) != MPI_SUCCESS) {
    free(counts);
    return failed(err, "a gather");
  }
  if (rank_ == 0) {
    displs = counts + size_;
    for (int i = 1; i < size_; i++) displs[i] = displs[i - 1] + counts[i - 1];
  }
  err = MPI_Gatherv(send, cnt, type, recv, counts, displs, type, 0, MPI_COMM_WORLD);
  free(counts);
  if (err != MPI_SUCCESS) return failed(err, "a gather");
  end();
  return NN_OK;
}

int nn_dist_gather_f32(const float *send, int64_t n, float *recv) { return gather(send, n, recv, MPI_FLOAT, 4); }
int nn_dist_gather_f64(const double *send, int64_t n, double *recv) { return gather(send, n, recv, MPI_DOUBLE, 8); }

/* ---- where the ranks run */

static char (*hosts)[NN_DIST_HOST_MAX]; /* every rank's host name, by rank (nn_dist_hosts) */

int nn_dist_hosts(void) {
  if (hosts) return NN_OK;
  char mine[NN_DIST_HOST_MAX] = "";
  if (gethostname(mine, sizeof mine - 1) != 0) snprintf(mine, sizeof mine, "?");
  int rc = (hosts = calloc((size_t)size_, sizeof *hosts)) ? NN_OK : NN_FAIL(NN_ENOMEM, "host table");
  if ((rc = nn_dist_agree(rc))) return free(hosts), hosts = NULL, rc;
  if (size_ == 1) return memcpy(hosts[0], mine, sizeof mine), NN_OK;
  begin("exchanging host names");
  int err = MPI_Allgather(mine, NN_DIST_HOST_MAX, MPI_CHAR, hosts, NN_DIST_HOST_MAX, MPI_CHAR, MPI_COMM_WORLD);
  if (err != MPI_SUCCESS) {
    free(hosts), hosts = NULL;
    return failed(err, "exchanging host names");
  }
  end();
  return NN_OK;
}

const char *nn_dist_host(int rank) {
  return hosts && rank >= 0 && rank < size_ ? hosts[rank] : "?";
}

int nn_dist_agree(int status) {
  if (size_ == 1) return status;
  int first = status ? rank_ : size_, err; /* the lowest failing rank speaks for all */
  begin("agreeing on a status");
  if ((err = MPI_Allreduce(MPI_IN_PLACE, &first, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD)) != MPI_SUCCESS)
    return failed(err, "agreeing on a status");
  end();
  if (first == size_) return NN_OK;
  struct {
    int code;
    char msg[2044];
  } m = {status, ""};
  snprintf(m.msg, sizeof m.msg, "%s", nn_errmsg());
  begin("agreeing on a status");
  if ((err = MPI_Bcast(&m, sizeof m, MPI_BYTE, first, MPI_COMM_WORLD)) != MPI_SUCCESS)
    return failed(err, "agreeing on a status");
  end();
  m.msg[sizeof m.msg - 1] = 0;
  nn_errmsg_set(m.msg);
  return first ? nn_fail_prefix(m.code, "rank %d: ", first) : m.code;
}
