/* dist_shm: node-shared memory of the dist module — one block per node in an MPI-3 shared
 * window, filled by the node's ranks and then read by all of them (docs/data-loading.md).
 * Layer 4: MPI and libc only; with dist.c the only unit that calls MPI_*. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <mpi.h>

#include "nnmpi/dist.h"
#include "nnmpi/status.h"

typedef struct shm_impl {
  int mpi;       /* 0: MPI not running, the block is a plain malloc (own) */
  MPI_Comm node; /* the ranks sharing the block */
  MPI_Win win;   /* the shared window, passive-target epoch open (lock_all) until free */
  void *own;
} shm_impl;

/* Collective over MPI_COMM_WORLD. The node communicator is the shared-memory domain, further
 * cut into groups of ranks_per_node consecutive world ranks when K > 0. Node rank 0 (the lowest
 * world rank of the node) allocates the whole block, the others 0 bytes and map rank 0's
 * segment. Every rank returns the same status; the message is on the rank that failed. */
static int shm_alloc_mpi(nn_shm *s, shm_impl *im, size_t bytes, int ranks_per_node);

int nn_dist_shm_alloc(nn_shm *s, size_t bytes, int ranks_per_node) {
  memset(s, 0, sizeof *s);
  shm_impl *im = calloc(1, sizeof *im);
  if (nn_dist_mpi_ready()) {
    nn_dist_watch_begin("setting up node-shared memory");
    int rc = shm_alloc_mpi(s, im, bytes, ranks_per_node);
    nn_dist_watch_end();
    return rc;
  }
  void *own = im ? malloc(bytes ? bytes : 1) : NULL; /* without MPI: plain memory, one node */
  if (!own) {
    free(im);
    return NN_FAIL(NN_ENOMEM, "cannot allocate %zu bytes of node memory", bytes);
  }
  *im = (shm_impl){.own = own};
  *s = (nn_shm){.base = own, .bytes = bytes, .node_size = 1, .n_nodes = 1, .impl = im};
  return NN_OK;
}

/* The string value of Open MPI's MCA variable NAME (from mpirun --mca, OMPI_MCA_* or
 * mca-params.conf) into out, read through the MPI tool interface; false when this MPI has no
 * such variable or it is empty. */
static bool mca_string(const char *name, char *out, int cap) {
  int provided, idx, count;
  bool ok = false;
  MPI_T_cvar_handle h;
  if (MPI_T_init_thread(MPI_THREAD_SINGLE, &provided) != MPI_SUCCESS) return false;
  if (MPI_T_cvar_get_index(name, &idx) == MPI_SUCCESS && MPI_T_cvar_handle_alloc(idx, NULL, &h, &count) == MPI_SUCCESS) {
    char *buf = calloc((size_t)(count > 0 ? count : 1) + 1, 1);
    ok = buf && MPI_T_cvar_read(h, buf) == MPI_SUCCESS && buf[0] && (int)strlen(buf) < cap;
    if (ok) snprintf(out, (size_t)cap, "%s", buf);
    free(buf);
    MPI_T_cvar_handle_free(&h);
  }
  MPI_T_finalize();
  return ok;
}

/* The directory of the backing files of shared windows: osc_sm_backing_directory, unless the
 * shmem framework is told to use a component other than mmap (posix and sysv name no file). */
static bool backing_dir(char *dir, int cap) {
  char shmem[64];
  if (mca_string("shmem", shmem, (int)sizeof shmem) && strcmp(shmem, "mmap") != 0) return false;
  return mca_string("osc_sm_backing_directory", dir, cap);
}

/* The node leader's check before the window: Open MPI 4.1 hangs the other ranks of the node in
 * MPI_Win_allocate_shared when the leader cannot create the backing file (no such directory, or
 * a /dev/shm too small, as Docker's default 64 MB), so that failure is found here first. The
 * margin covers the window's own state (a few pages). A node of one rank needs no file (Open
 * MPI allocates its window privately), so it is not checked. */
static int backing_ok(size_t bytes, int node_id, int node_size) {
  char dir[4096], host[256] = "?";
  if (!backing_dir(dir, (int)sizeof dir)) return NN_OK;
  gethostname(host, sizeof host - 1);
  const double mib = 1048576.0;
  const char *fix = "point osc_sm_backing_directory at a larger local directory (mpirun --mca "
                    "osc_sm_backing_directory /tmp) or make room there";
  struct statvfs fs;
  if (access(dir, W_OK | X_OK) != 0 || statvfs(dir, &fs) != 0)
    return NN_FAIL(NN_ENOMEM, "node-shared memory on node %d (%s): cannot create its backing file in %s "
                   "(Open MPI's osc_sm_backing_directory): %s; %s", node_id, host, dir, strerror(errno), fix);
  const double have = (double)fs.f_bavail * (double)fs.f_frsize;
  const double need = (double)bytes + 65536.0 + 4096.0 * node_size;
  if (have < need)
    return NN_FAIL(NN_ENOMEM, "node-shared memory on node %d (%s): %.1f MiB are needed in %s (Open MPI's "
                   "osc_sm_backing_directory), which has %.1f MiB free; %s", node_id, host, need / mib, dir,
                   have / mib, fix);
  return NN_OK;
}

static int shm_alloc_mpi(nn_shm *s, shm_impl *im, size_t bytes, int ranks_per_node) {
  int rank, worst = NN_OK;
  int st = !im ? NN_FAIL(NN_ENOMEM, "node memory: out of memory for the window handle")
           : ranks_per_node < 0 ? NN_FAIL(NN_EINVAL, "node memory: ranks_per_node %d, expected >= 0", ranks_per_node)
           : NN_OK;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Allreduce(&st, &worst, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
  if (worst != NN_OK) {
    free(im);
    return st != NN_OK ? st : NN_FAIL(worst, "another rank could not set up node memory");
  }

  MPI_Comm shared = MPI_COMM_NULL, node = MPI_COMM_NULL;
  int err = MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, rank, MPI_INFO_NULL, &shared);
  if (err == MPI_SUCCESS && ranks_per_node > 0) {
    err = MPI_Comm_split(shared, rank / ranks_per_node, rank, &node);
    MPI_Comm_free(&shared);
  } else {
    node = shared;
  }
  if (err != MPI_SUCCESS) {
    free(im);
    return NN_FAIL(NN_EINTERNAL, "node memory: cannot split the node communicator (MPI error %d)", err);
  }
  MPI_Comm_set_errhandler(node, MPI_ERRORS_RETURN);
  MPI_Comm_rank(node, &s->node_rank);
  MPI_Comm_size(node, &s->node_size);

  /* Nodes are numbered by the world rank of their rank 0. */
  int leader = s->node_rank == 0, before = 0;
  MPI_Allreduce(&leader, &s->n_nodes, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
  MPI_Exscan(&leader, &before, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
  s->node_id = rank == 0 ? 0 : before;
  MPI_Bcast(&s->node_id, 1, MPI_INT, 0, node);

  /* every node's backing file must be possible before any rank enters the window's creation */
  st = leader && s->node_size > 1 ? backing_ok(bytes, s->node_id, s->node_size) : NN_OK;
  MPI_Allreduce(&st, &worst, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
  void *mine = NULL;
  MPI_Win win = MPI_WIN_NULL;
  if (worst == NN_OK) {
    err = MPI_Win_allocate_shared(leader ? (MPI_Aint)bytes : 0, 1, MPI_INFO_NULL, node, &mine, &win);
    if (err != MPI_SUCCESS) {
      st = NN_FAIL(NN_ENOMEM, "cannot allocate %zu bytes of node-shared memory on node %d "
                   "(MPI error %d; is /dev/shm large enough?)", bytes, s->node_id, err);
    } else {
      MPI_Aint size = 0;
      int disp = 0;
      MPI_Win_set_errhandler(win, MPI_ERRORS_RETURN);
      if (MPI_Win_shared_query(win, 0, &size, &disp, &s->base) != MPI_SUCCESS || (size_t)size < bytes ||
          MPI_Win_lock_all(MPI_MODE_NOCHECK, win) != MPI_SUCCESS)
        st = NN_FAIL(NN_EINTERNAL, "node memory: cannot map the shared window of node %d", s->node_id);
    }
    MPI_Allreduce(&st, &worst, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
  }
  if (worst != NN_OK) {
    if (win != MPI_WIN_NULL) MPI_Win_free(&win);
    MPI_Comm_free(&node);
    free(im);
    memset(s, 0, sizeof *s);
    return st != NN_OK ? st : NN_FAIL(worst, "another rank could not allocate node-shared memory");
  }
  *im = (shm_impl){.mpi = 1, .node = node, .win = win};
  s->bytes = bytes;
  s->impl = im;
  return NN_OK;
}

/* MPI-3 separate-memory-model rule for load/store access to a shared window inside a
 * lock_all epoch: Win_sync makes this rank's stores visible, the barrier orders the ranks,
 * the second Win_sync makes the others' stores visible to this rank's loads. */
int nn_dist_shm_sync(nn_shm *s) {
  shm_impl *im = s->impl;
  if (!im || !im->mpi) return NN_OK;
  nn_dist_watch_begin("the barrier of node-shared memory");
  int ok = MPI_Win_sync(im->win) == MPI_SUCCESS && MPI_Barrier(im->node) == MPI_SUCCESS &&
           MPI_Win_sync(im->win) == MPI_SUCCESS;
  nn_dist_watch_end();
  return ok ? NN_OK : NN_FAIL(NN_EPEER, "node memory: barrier of node %d failed", s->node_id);
}

/* Collective over the node when MPI is running. NULL-safe and idempotent. */
void nn_dist_shm_free(nn_shm *s) {
  if (!s || !s->impl) return;
  shm_impl *im = s->impl;
  if (im->mpi && nn_dist_mpi_ready()) {
    nn_dist_watch_begin("freeing node-shared memory");
    MPI_Win_unlock_all(im->win);
    MPI_Win_free(&im->win);
    MPI_Comm_free(&im->node);
    nn_dist_watch_end();
  }
  free(im->own);
  free(im);
  memset(s, 0, sizeof *s);
}
