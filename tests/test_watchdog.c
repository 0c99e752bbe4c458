/* test_watchdog: every rank alive and waiting at once (as in a hang inside MPI) is not "lost".
 * Under mpiexec -n 2: heartbeats on in a shared temporary directory, a 1 s watchdog, then every
 * rank enters a pretend collective and sleeps in it. Each rank's watchdog fires; its message must
 * say that no rank is lost. Before the fix the watchdog threads stopped beating while they
 * waited for a stale heartbeat, so after two periods every rank named all ranks as lost. The
 * handler records the message and parks its thread (a handler does not return); main checks it. */
#include "testutil.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "nnmpi/dist.h"
#include "nnmpi/status.h"

static char message[1024];
static atomic_int fired;

static void on_watchdog(const char *msg) {
  snprintf(message, sizeof message, "%s", msg);
  atomic_store(&fired, 1);
  for (;;) pause();
}

static void test_all_waiting(void **state) {
  (void)state;
  char dir[256] = "";
  if (nn_dist_rank() == 0) {
    snprintf(dir, sizeof dir, "%s/nnmpi-wd-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    assert_non_null(mkdtemp(dir));
  }
  assert_int_equal(nn_dist_bcast(dir, sizeof dir, 0), NN_OK);
  char hb[300];
  snprintf(hb, sizeof hb, "%s/.ranks", dir);
  assert_int_equal(nn_dist_set_heartbeat(hb), 0);
  assert_int_equal(nn_dist_barrier(), NN_OK);
  nn_dist_heartbeat_on(true);
  nn_dist_on_watchdog(on_watchdog);
  nn_dist_set_watchdog(1.0);
  nn_dist_watch_begin("a pretend collective");
  for (int i = 0; i < 300 && !atomic_load(&fired); i++) /* up to 30 s */
    nanosleep(&(struct timespec){0, 100000000}, NULL);
  nn_dist_watch_end();
  nn_dist_set_watchdog(0);
  nn_dist_heartbeat_on(false);
  print_message("rank %d: %s\n", nn_dist_rank(), message);
  assert_true(atomic_load(&fired));
  assert_non_null(strstr(message, "a pretend collective did not complete within 1 s"));
  assert_non_null(strstr(message, "no rank is lost"));
  assert_null(strstr(message, "lost rank"));
  assert_int_equal(nn_dist_barrier(), NN_OK);
  if (nn_dist_rank() == 0) {
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
  }
}

int main(int argc, char **argv) {
  if (nn_dist_init(&argc, &argv) != NN_OK) return 1;
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_all_waiting)};
  int failed = cmocka_run_group_tests(tests, NULL, NULL);
  nn_dist_finalize();
  return failed;
}
