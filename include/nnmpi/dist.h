/* dist: everything that talks to MPI — start-up, rank/size, reductions of flat buffers,
 * agreement on failures, broadcasts, node-shared memory, the collective watchdog.
 * Layer 4: the only module that calls MPI_* (dist.c, dist_shm.c). Functions work before
 * nn_dist_init (as one rank) so tools like `nnmpi inspect` need no MPI start-up. */
#ifndef NNMPI_DIST_H
#define NNMPI_DIST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The watchdog period from start-up until nn_dist_set_watchdog changes it (the default of
 * train.watchdog_seconds). */
enum { NN_DIST_WATCHDOG_DEFAULT = 300 };

/* Initialises MPI (thread level FUNNELED) unless already done, and with more than one rank
 * starts the watchdog at NN_DIST_WATCHDOG_DEFAULT seconds. NN_EINTERNAL on failure. */
int nn_dist_init(int *argc, char ***argv);
/* True while MPI is initialised and not yet finalised (by anyone). */
bool nn_dist_mpi_ready(void);
/* Finalises MPI if this process initialised it. Safe to call more than once. */
void nn_dist_finalize(void);
int nn_dist_rank(void); /* 0 before init */
int nn_dist_size(void); /* 1 before init */

/* Versions of the MPI library ("MPI: Open MPI v4.1.4 ..." lines) into buf. */
void nn_dist_versions(char *buf, size_t cap);

/* Agreement after any step that can fail on some ranks only: every rank passes its status;
 * when any failed, all get the status and the detail message of the lowest failing rank
 * (prefixed "rank R: " when R > 0), recorded on every rank.
 * A collective: all ranks must call it. */
int nn_dist_agree(int status);

/* In-place sums across ranks (MPI_Allreduce with MPI_SUM). A failed MPI call (a peer or its
 * node gone) is NN_EPEER, as for every collective here. */
int nn_dist_sum_f32(float *buf, size_t n);
int nn_dist_sum_f64(double *buf, size_t n);
int nn_dist_sum_i64(int64_t *buf, size_t n);
/* In-place min / max of doubles (timing summaries). */
int nn_dist_min_f64(double *buf, size_t n);
int nn_dist_max_f64(double *buf, size_t n);
/* Broadcast n bytes from rank root. */
int nn_dist_bcast(void *buf, size_t n, int root);
/* Broadcast a malloc'ed string from rank 0: on other ranks *s is replaced by a new malloc'ed
 * copy (their old pointer is freed). NULL is broadcast as NULL. */
int nn_dist_bcast_string(char **s);
int nn_dist_barrier(void);
/* Gathers n floats of every rank, in rank order, into recv on rank 0 (which must hold the sum
 * of all n; ignored elsewhere). */
int nn_dist_gather_f32(const float *send, int64_t n, float *recv);
int nn_dist_gather_f64(const double *send, int64_t n, double *recv);

/* Host names: nn_dist_hosts (collective, once) exchanges every rank's host name; nn_dist_host(r)
 * then names rank r's host on every rank ("?" before or for a bad rank). */
enum { NN_DIST_HOST_MAX = 64 };
int nn_dist_hosts(void);
const char *nn_dist_host(int rank);

/* Sharded reduction: buf (the same layout on every rank, parts of counts[r] values in rank
 * order) is summed across ranks and this rank receives the sum of its own part in out
 * (counts[rank] values; out must not overlap buf). buf is scratch: the other parts may hold
 * partial sums afterwards (on 3 or more ranks). Every rank's part has the same bits whichever
 * rank computes it. */
int nn_dist_sum_scatter_f32(float *buf, float *out, const int *counts);
int nn_dist_sum_scatter_i64(int64_t *buf, int64_t *out, const int *counts);
/* In place: part r of buf (counts[r] values, the parts contiguous in rank order as for
 * nn_dist_sum_scatter_*) comes from rank r, to every rank. */
int nn_dist_allgather_f32(float *buf, const int *counts);

/* The watchdog: a collective (any nn_dist_* call that waits on other ranks) still running after
 * `seconds` makes a separate thread call the handler with a message — "step 12: an allreduce
 * did not complete within 5 s: another rank is stalled or dead (train.watchdog_seconds)". The
 * handler (main's; set once) must not return: it prints and ends the process, and the launcher
 * then ends the job. Without a handler the process exits with status 1. The thread never calls
 * MPI. seconds <= 0 turns the watchdog off; the period can change at any time. */
void nn_dist_set_watchdog(double seconds);
void nn_dist_on_watchdog(void (*handler)(const char *message));
/* Heartbeats, so the watchdog can name the ranks that fell silent: nn_dist_set_heartbeat(dir)
 * makes dir (on a file system every rank sees, such as the run directory) and writes this
 * rank's file rank-NNNNNN (host, pid, step, what it waits for) at once; rank 0 removes files
 * of ranks beyond this job. nn_dist_heartbeat_visible tells whether this rank sees rank 0's
 * and its neighbour's file; after the ranks agree that all see them, nn_dist_heartbeat_on(true)
 * starts the beats (every watchdog period / 5, within 1..10 s). Then a watchdog message lists
 * the lost ranks and hosts, and only the lowest live rank reports (the others exit quietly). */
int nn_dist_set_heartbeat(const char *dir);
bool nn_dist_heartbeat_visible(void);
void nn_dist_heartbeat_on(bool on);

/* The training step the watchdog's message names (-1: none). */
void nn_dist_set_step(int64_t step);
/* (dist_shm.c) Brackets a collective for the watchdog. */
void nn_dist_watch_begin(const char *what);
void nn_dist_watch_end(void);
/* Ends every rank of the job (MPI_Abort). Only main() calls this. */
void nn_dist_abort(int exit_code);

/* Node-shared memory: one allocation of `bytes` per node, visible to every rank of the node.
 * ranks_per_node > 0 pretends every K consecutive ranks form a node (tests of the multi-node
 * path on one machine); 0 uses the real shared-memory domains. */
typedef struct nn_shm {
  void *base;        /* start of the node's block (same contents on every rank of the node) */
  size_t bytes;
  int node_rank;     /* this rank's index within its node */
  int node_size;     /* ranks on this node */
  int node_id;       /* index of this node, 0..n_nodes-1 */
  int n_nodes;
  void *impl;        /* window and communicators; owned */
} nn_shm;
int nn_dist_shm_alloc(nn_shm *s, size_t bytes, int ranks_per_node);
/* Barrier within the node (after filling, before reading). */
int nn_dist_shm_sync(nn_shm *s);
void nn_dist_shm_free(nn_shm *s);

#endif
