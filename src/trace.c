/* trace: the timeline of training phases per rank (see trace.h), as Chrome trace-event JSON.
 * Layer 5: dist (a barrier, a gather, host names), libc; writes only the file it is given. */
#include "trace.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"
#include "nnmpi/clock.h"
#include "nnmpi/dist.h"
#include "nnmpi/status.h"

static const char *const phase_names[NN_T_COUNT + 1] = {"data",      "forward", "backward",   "reduction",
                                                        "optimizer", "eval",    "checkpoint", "step"};

int nn_trace_init(nn_trace *t, int64_t first, int64_t last) {
  memset(t, 0, sizeof *t);
  t->first = first, t->last = last, t->step = -1;
  t->cap = (int)((last - first + 1) * (NN_T_COUNT + 3) + 64);
  int rc =
      (t->ev = malloc(sizeof(double) * 4 * (size_t)t->cap)) ? NN_OK : NN_FAIL(NN_ENOMEM, "trace of %d events", t->cap);
  if ((rc = nn_dist_agree(rc))) return rc;
  if ((rc = nn_dist_hosts()) || (rc = nn_dist_barrier())) return rc;
  t->origin = nn_now();
  return NN_OK;
}

void nn_trace_free(nn_trace *t) {
  if (!t) return;
  free(t->ev);
  t->ev = NULL, t->n = t->cap = 0;
}

void nn_trace_add(nn_trace *t, int phase, double t0, double t1) {
  if (t->step < t->first || t->step > t->last || t->n == t->cap) return;
  double *e = t->ev + 4 * (size_t)t->n++;
  e[0] = (double)t->step, e[1] = phase, e[2] = t0 - t->origin, e[3] = t1 - t->origin;
}

/* One rank's events as trace-event objects ("X": complete events, microseconds). */
static void write_rank(FILE *f, const double *ev, int n, int rank, bool *first) {
  for (int i = 0; i < n; i++) {
    const double *e = ev + 4 * (size_t)i;
    int phase = (int)e[1];
    if (phase < 0 || phase > NN_T_COUNT) continue;
    fprintf(f,
            "%s\n{\"name\":\"%s\",\"cat\":\"%s\",\"ph\":\"X\",\"pid\":0,\"tid\":%d,\"ts\":%.1f,\"dur\":%.1f,"
            "\"args\":{\"step\":%lld}}",
            *first ? "" : ",", phase_names[phase], phase == NN_T_COUNT ? "step" : "phase", rank, e[2] * 1e6,
            (e[3] - e[2]) * 1e6, (long long)e[0]);
    *first = false;
  }
}

int nn_trace_write(nn_trace *t, const char *path) {
  const int W = nn_dist_size(), r = nn_dist_rank();
  /* per rank: its event count, then the events, gathered in rank order */
  double count = t->n, *counts = r == 0 ? malloc(sizeof(double) * (size_t)W) : NULL, *all = NULL;
  int rc = r == 0 && !counts ? NN_FAIL(NN_ENOMEM, "trace counts") : NN_OK;
  if ((rc = nn_dist_agree(rc)) || (rc = nn_dist_gather_f64(&count, 1, counts))) goto out;
  int64_t total = 0;
  for (int q = 0; r == 0 && q < W; q++) total += (int64_t)counts[q];
  if (r == 0 && !(all = malloc(sizeof(double) * 4 * (size_t)(total + 1)))) rc = NN_FAIL(NN_ENOMEM, "trace events");
  if ((rc = nn_dist_agree(rc)) || (rc = nn_dist_gather_f64(t->ev, 4 * (int64_t)t->n, all))) goto out;
  if (r == 0) {
    FILE *f = fopen(path, "w");
    if (!f) {
      rc = NN_FAIL(NN_EIO, "cannot write %s: %s", path, strerror(errno));
    } else {
      bool first = true;
      fputs("{\"displayTimeUnit\":\"ms\",\"traceEvents\":[", f);
      for (int q = 0; q < W; q++) {
        fprintf(f,
                "%s\n{\"name\":\"thread_name\",\"ph\":\"M\",\"pid\":0,\"tid\":%d,\"args\":{\"name\":\"rank %d (%s)\"}}",
                first ? "" : ",", q, q, nn_dist_host(q));
        first = false;
      }
      int64_t off = 0;
      for (int q = 0; q < W; q++) {
        write_rank(f, all + 4 * off, (int)counts[q], q, &first);
        off += (int64_t)counts[q];
      }
      fprintf(f, "\n],\"otherData\":{\"steps\":\"%lld-%lld\",\"ranks\":%d}}\n", (long long)t->first, (long long)t->last,
              W);
      if (ferror(f) | (fclose(f) != 0)) rc = NN_FAIL(NN_EIO, "writing %s failed: %s", path, strerror(errno));
    }
  }
  rc = nn_dist_agree(rc);
out:
  free(counts);
  free(all);
  return rc;
}
