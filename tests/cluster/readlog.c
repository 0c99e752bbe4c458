/* readlog.c: an LD_PRELOAD helper of the multi-node tests. Every process that loads it and has
 * NN_READLOG_FILE (an absolute path) and NN_READLOG_DIR in its environment appends one line
 * "OFFSET BYTES" to NN_READLOG_DIR/<hostname>.<pid> for each read(), pread() or pread64() that
 * returns data from that file (the log is made at the first such read), so a test can tell how
 * much of a dataset file each rank read and where.
 * Build: cc -shared -fPIC -o readlog.so readlog.c -ldl */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

static const char *file, *dir;
static int logfd = -1;

__attribute__((constructor)) static void readlog_init(void) {
  dir = getenv("NN_READLOG_DIR");
  file = getenv("NN_READLOG_FILE");
  if (!dir) file = NULL;
}

static int log_open(void) {  /* on the first read of the file: processes that never read it leave no log */
  if (logfd < 0) {
    char host[256] = "unknown", path[4096];
    gethostname(host, sizeof host - 1);
    snprintf(path, sizeof path, "%s/%s.%d", dir, host, (int)getpid());
    logfd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  }
  return logfd;
}

static int is_file(int fd) {
  char link[64], target[4096];
  snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
  ssize_t n = readlink(link, target, sizeof target - 1);
  if (n <= 0) return 0;
  target[n] = 0;
  return strcmp(target, file) == 0;
}

static void note(int fd, long long off, ssize_t got) {
  if (!file || got <= 0 || !is_file(fd) || log_open() < 0) return;
  if (off < 0) off = (long long)lseek(fd, 0, SEEK_CUR) - got;   /* read(): after the fact */
  dprintf(logfd, "%lld %zd\n", off, got);
}

ssize_t read(int fd, void *buf, size_t n) {
  static ssize_t (*real)(int, void *, size_t);
  if (!real) real = (ssize_t (*)(int, void *, size_t))dlsym(RTLD_NEXT, "read");
  ssize_t r = real(fd, buf, n);
  note(fd, -1, r);
  return r;
}

ssize_t pread(int fd, void *buf, size_t n, off_t off) {
  static ssize_t (*real)(int, void *, size_t, off_t);
  if (!real) real = (ssize_t (*)(int, void *, size_t, off_t))dlsym(RTLD_NEXT, "pread");
  ssize_t r = real(fd, buf, n, off);
  note(fd, (long long)off, r);
  return r;
}

ssize_t pread64(int fd, void *buf, size_t n, off_t off) {
  static ssize_t (*real)(int, void *, size_t, off_t);
  if (!real) real = (ssize_t (*)(int, void *, size_t, off_t))dlsym(RTLD_NEXT, "pread64");
  ssize_t r = real(fd, buf, n, off);
  note(fd, (long long)off, r);
  return r;
}
