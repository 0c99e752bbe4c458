/* dist_watchdog: the watchdog over collectives, and heartbeats that tell which rank was lost.
 * A thread that never calls MPI: every collective records when it started (two atomic stores);
 * the thread wakes a few times per watchdog period and, when a collective has run too long,
 * hands main's handler a message. With a heartbeat directory (the run directory's .ranks/),
 * each rank's thread also rewrites a small file every few seconds — host, pid, step, what it
 * waits for — so the rank whose watchdog fires can name the ranks that fell silent (a stopped
 * process, a dead node) and only the lowest live rank speaks. Layer 4: libc, pthreads. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "nnmpi/dist.h"

static _Atomic int64_t wd_limit_ns;        /* 0: off */
static _Atomic int64_t wd_since_ns;        /* start of the running collective; 0: none */
static _Atomic(const char *) wd_what = ""; /* its name */
static _Atomic int64_t wd_step = -1;       /* the training step, for the message; -1: none */
static void (*_Atomic wd_handler)(const char *msg);
static atomic_flag wd_started = ATOMIC_FLAG_INIT;
static char hb_dir[1024]; /* heartbeat directory; "" = none */
static _Atomic int hb_on;

static int64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Seconds between heartbeats: a fifth of the watchdog period, 1..10 s. */
static double hb_period(void) {
  double p = (double)atomic_load(&wd_limit_ns) * 1e-9 / 5;
  return p < 1 ? 1 : p > 10 ? 10 : p;
}

static void heartbeat(void) {
  char path[1100], line[256];
  snprintf(path, sizeof path, "%s/rank-%06d", hb_dir, nn_dist_rank());
  int64_t since = atomic_load(&wd_since_ns);
  int n = snprintf(line, sizeof line, "%s %d %lld %s\n", nn_dist_host(nn_dist_rank()), (int)getpid(),
                   (long long)atomic_load(&wd_step), since ? atomic_load(&wd_what) : "(computing)");
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return;
  if (write(fd, line, (size_t)n) < 0) { /* nothing to do: the next beat tries again */
  }
  close(fd);
}

/* The ranks whose heartbeat is older than three periods (or missing) into lost (a message
 * fragment); returns the lowest rank that is alive, or -1 when nothing is known. This rank is
 * alive whatever its file says: its watchdog thread is running this. */
static int find_lost(char *lost, size_t cap, int *n_lost) {
  const int W = nn_dist_size();
  double stale = 2 * hb_period() + 1;
  struct timespec now;
  clock_gettime(CLOCK_REALTIME, &now);
  int first_live = -1;
  size_t len = 0;
  *n_lost = 0;
  lost[0] = 0;
  for (int r = 0; r < W; r++) {
    char path[1100];
    struct stat st;
    snprintf(path, sizeof path, "%s/rank-%06d", hb_dir, r);
    double age = stat(path, &st) == 0
                     ? (double)(now.tv_sec - st.st_mtim.tv_sec) + 1e-9 * (double)(now.tv_nsec - st.st_mtim.tv_nsec)
                     : -1;
    if (r == nn_dist_rank() || (age >= 0 && age <= stale)) {
      if (first_live < 0) first_live = r;
      continue;
    }
    if (++*n_lost <= 8 && len < cap) {
      char why[48];
      if (age < 0) snprintf(why, sizeof why, "no heartbeat");
      else snprintf(why, sizeof why, "silent for %.0f s", age);
      len += (size_t)snprintf(lost + len, cap - len, "%srank %d on %s (%s)", *n_lost > 1 ? ", " : "", r,
                              nn_dist_host(r), why);
    }
  }
  if (*n_lost > 8 && len < cap) snprintf(lost + len, cap - len, " and %d more", *n_lost - 8);
  return first_live;
}

static void expired(int64_t limit) {
  char msg[1024], where[64] = "", lost[640] = "";
  int64_t step = atomic_load(&wd_step);
  if (step >= 0) snprintf(where, sizeof where, "step %lld: ", (long long)step);
  int n_lost = 0, reporter = -1;
  /* a rank that just stopped has a fresh heartbeat for up to two periods: wait until it is stale,
   * beating meanwhile (when every rank waits here at once, as in a hang inside MPI, silence
   * would make them all look lost) */
  bool beats = atomic_load(&hb_on);
  for (double waited = 0, beat = 0; beats; waited += 0.25) {
    reporter = find_lost(lost, sizeof lost, &n_lost);
    if (n_lost > 0 || waited > 2 * hb_period() + 1.5) break;
    if (waited >= beat) heartbeat(), beat = waited + hb_period();
    nanosleep(&(struct timespec){0, 250000000}, NULL);
  }
  if (n_lost > 0)
    snprintf(msg, sizeof msg, "%s%s did not complete within %g s: lost %s; ending the job (train.watchdog_seconds)",
             where, atomic_load(&wd_what), (double)limit * 1e-9, lost);
  else if (beats)
    snprintf(msg, sizeof msg,
             "%s%s did not complete within %g s: no rank is lost (every heartbeat is fresh), so a rank is "
             "stuck outside this collective or the MPI library hangs; ending the job (train.watchdog_seconds)",
             where, atomic_load(&wd_what), (double)limit * 1e-9);
  else
    snprintf(msg, sizeof msg,
             "%s%s did not complete within %g s: another rank is stalled or dead (train.watchdog_seconds)", where,
             atomic_load(&wd_what), (double)limit * 1e-9);
  if (n_lost > 0 && reporter >= 0 && reporter != nn_dist_rank()) {
    sleep(5); /* the lowest live rank speaks for all; the launcher ends this rank meanwhile */
    _exit(1);
  }
  void (*h)(const char *) = atomic_load(&wd_handler);
  if (h) h(msg); /* does not return */
  _exit(1);
}

static void *watchdog_main(void *arg) {
  (void)arg;
  int64_t next_beat = 0;
  for (;;) {
    int64_t limit = atomic_load(&wd_limit_ns), nap = limit > 0 ? limit / 8 : 100000000;
    if (nap > 250000000) nap = 250000000;
    if (nap < 10000000) nap = 10000000;
    nanosleep(&(struct timespec){nap / 1000000000, nap % 1000000000}, NULL);
    int64_t now = now_ns(), since = atomic_load(&wd_since_ns);
    if (atomic_load(&hb_on) && now >= next_beat) {
      heartbeat();
      next_beat = now + (int64_t)(hb_period() * 1e9);
    }
    if (limit > 0 && since > 0 && now - since >= limit) expired(limit);
  }
  return NULL;
}

void nn_dist_on_watchdog(void (*handler)(const char *msg)) { atomic_store(&wd_handler, handler); }

void nn_dist_set_watchdog(double seconds) {
  atomic_store(&wd_limit_ns, seconds > 0 ? (int64_t)(seconds * 1e9) : 0);
  if (seconds <= 0 || atomic_flag_test_and_set(&wd_started)) return;
  pthread_t t;
  pthread_attr_t a;
  pthread_attr_init(&a);
  pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
  if (pthread_create(&t, &a, watchdog_main, NULL) != 0) atomic_flag_clear(&wd_started);
  pthread_attr_destroy(&a);
}

void nn_dist_set_step(int64_t step) { atomic_store(&wd_step, step); }

void nn_dist_watch_begin(const char *what) {
  atomic_store(&wd_what, what);
  atomic_store(&wd_since_ns, now_ns());
}
void nn_dist_watch_end(void) { atomic_store(&wd_since_ns, 0); }

int nn_dist_set_heartbeat(const char *dir) {
  atomic_store(&hb_on, 0);
  if (!dir || !*dir) return 0;
  if (mkdir(dir, 0755) != 0 && errno != EEXIST) return -1;
  snprintf(hb_dir, sizeof hb_dir, "%s", dir);
  if (nn_dist_rank() == 0) { /* files of ranks beyond this job's count are an older run's */
    DIR *d = opendir(dir);
    struct dirent *e;
    while (d && (e = readdir(d))) {
      int r;
      char path[1400];
      if (sscanf(e->d_name, "rank-%d", &r) == 1 && r >= nn_dist_size()) {
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        unlink(path);
      }
    }
    if (d) closedir(d);
  }
  heartbeat(); /* at once, so no rank looks lost before its thread's first beat */
  return 0;
}

bool nn_dist_heartbeat_visible(void) {
  const int W = nn_dist_size(), r = nn_dist_rank();
  char path[1100];
  struct stat st;
  for (int q = 0; q < 2; q++) {
    snprintf(path, sizeof path, "%s/rank-%06d", hb_dir, q == 0 ? 0 : (r + 1) % W);
    if (stat(path, &st) != 0) return false;
  }
  return true;
}

void nn_dist_heartbeat_on(bool on) { atomic_store(&hb_on, on && hb_dir[0]); }
