/* dist: start-up, reductions, agreement and broadcasts over MPI_COMM_WORLD.
 * Layer 4: the only compilation unit (with dist_shm.c) that calls MPI_*. */
#include "nnmpi/dist.h"

#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nnmpi/clock.h"
#include "nnmpi/status.h"

static int started_here, rank_, size_ = 1;
static double watchdog_s;

bool nn_dist_mpi_ready(void) {
  int init = 0, fin = 0;
  MPI_Initialized(&init);
  MPI_Finalized(&fin);
  return init && !fin;
}

int nn_dist_init(int *argc, char ***argv) {
  if (!nn_dist_mpi_ready()) {
    int provided;
    if (MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS)
      return NN_FAIL(NN_EINTERNAL, "MPI_Init_thread failed");
    started_here = 1;
  }
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
  MPI_Comm_size(MPI_COMM_WORLD, &size_);
  return NN_OK;
}

void nn_dist_finalize(void) {
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

void nn_dist_set_watchdog(double seconds) { watchdog_s = seconds; }

void nn_dist_abort(int exit_code) {
  if (nn_dist_mpi_ready()) MPI_Abort(MPI_COMM_WORLD, exit_code);
  exit(exit_code);
}

/* In-place allreduce, in chunks that fit an int count; with the watchdog, a non-blocking
 * allreduce polled until done or out of time. */
static int reduce(void *buf, size_t n, MPI_Datatype type, size_t elem, MPI_Op op) {
  if (size_ == 1 || n == 0) return NN_OK;
  for (size_t off = 0; off < n; off += 1u << 30) {
    int cnt = (int)(n - off < (1u << 30) ? n - off : 1u << 30);
    char *p = (char *)buf + off * elem;
    if (watchdog_s <= 0) {
      if (MPI_Allreduce(MPI_IN_PLACE, p, cnt, type, op, MPI_COMM_WORLD) != MPI_SUCCESS)
        return NN_FAIL(NN_EINTERNAL, "MPI_Allreduce failed");
      continue;
    }
    MPI_Request req;
    if (MPI_Iallreduce(MPI_IN_PLACE, p, cnt, type, op, MPI_COMM_WORLD, &req) != MPI_SUCCESS)
      return NN_FAIL(NN_EINTERNAL, "MPI_Iallreduce failed");
    double t0 = nn_now();
    for (unsigned spin = 0;; spin++) {
      int done = 0;
      if (MPI_Test(&req, &done, MPI_STATUS_IGNORE) != MPI_SUCCESS)
        return NN_FAIL(NN_EINTERNAL, "MPI_Test failed");
      if (done) break;
      if ((spin & 1023) == 1023 && nn_now() - t0 > watchdog_s)
        return NN_FAIL(NN_EPEER,
                       "a collective did not complete within %g s: another rank is stalled or dead "
                       "(train.watchdog_seconds)", watchdog_s);
    }
  }
  return NN_OK;
}

int nn_dist_sum_f32(float *buf, size_t n) { return reduce(buf, n, MPI_FLOAT, sizeof *buf, MPI_SUM); }
int nn_dist_sum_f64(double *buf, size_t n) { return reduce(buf, n, MPI_DOUBLE, sizeof *buf, MPI_SUM); }
int nn_dist_sum_i64(int64_t *buf, size_t n) { return reduce(buf, n, MPI_INT64_T, sizeof *buf, MPI_SUM); }
int nn_dist_min_f64(double *buf, size_t n) { return reduce(buf, n, MPI_DOUBLE, sizeof *buf, MPI_MIN); }
int nn_dist_max_f64(double *buf, size_t n) { return reduce(buf, n, MPI_DOUBLE, sizeof *buf, MPI_MAX); }

int nn_dist_bcast(void *buf, size_t n, int root) {
  if (size_ == 1) return NN_OK;
  for (size_t off = 0; off < n; off += 1u << 30) {
    int cnt = (int)(n - off < (1u << 30) ? n - off : 1u << 30);
    if (MPI_Bcast((char *)buf + off, cnt, MPI_BYTE, root, MPI_COMM_WORLD) != MPI_SUCCESS)
      return NN_FAIL(NN_EINTERNAL, "MPI_Bcast failed");
  }
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
  if (size_ > 1 && MPI_Barrier(MPI_COMM_WORLD) != MPI_SUCCESS) return NN_FAIL(NN_EINTERNAL, "MPI_Barrier failed");
  return NN_OK;
}

int nn_dist_gather_f32(const float *send, int64_t n, float *recv) {
  if (size_ == 1) {
    memcpy(recv, send, sizeof(float) * (size_t)n);
    return NN_OK;
  }
  int cnt = (int)n, *counts = NULL, *displs = NULL, rc = NN_OK;
  if (rank_ == 0 && !(counts = calloc(2 * (size_t)size_, sizeof(int)))) rc = NN_FAIL(NN_ENOMEM, "gather counts");
  if ((rc = nn_dist_agree(rc))) return rc;
  if (MPI_Gather(&cnt, 1, MPI_INT, counts, 1, MPI_INT, 0, MPI_COMM_WORLD) != MPI_SUCCESS)
    rc = NN_FAIL(NN_EINTERNAL, "MPI_Gather failed");
  if (rank_ == 0 && counts) {
    displs = counts + size_;
    for (int i = 1; i < size_; i++) displs[i] = displs[i - 1] + counts[i - 1];
  }
  if (MPI_Gatherv(send, cnt, MPI_FLOAT, recv, counts, displs, MPI_FLOAT, 0, MPI_COMM_WORLD) != MPI_SUCCESS)
    rc = NN_FAIL(NN_EINTERNAL, "MPI_Gatherv failed");
  free(counts);
  return rc;
}

int nn_dist_agree(int status) {
  if (size_ == 1) return status;
  int first = status ? rank_ : size_; /* the lowest failing rank speaks for all */
  if (MPI_Allreduce(MPI_IN_PLACE, &first, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD) != MPI_SUCCESS)
    return NN_FAIL(NN_EINTERNAL, "MPI_Allreduce failed while agreeing on a status");
  if (first == size_) return NN_OK;
  struct { int code; char msg[2044]; } m = {status, ""};
  snprintf(m.msg, sizeof m.msg, "%s", nn_errmsg());
  if (MPI_Bcast(&m, sizeof m, MPI_BYTE, first, MPI_COMM_WORLD) != MPI_SUCCESS)
    return NN_FAIL(NN_EINTERNAL, "MPI_Bcast failed while agreeing on a status");
  m.msg[sizeof m.msg - 1] = 0;
  nn_errmsg_set(m.msg);
  return first ? nn_fail_prefix(m.code, "rank %d: ", first) : m.code;
}
