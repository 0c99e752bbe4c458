/* fs: EINTR-safe durable file operations and directory creation (see fs.h). libc only (and
 * Linux's fallocate, for space reservation). */
#define _GNU_SOURCE /* fallocate, FALLOC_FL_KEEP_SIZE */
#include "fs.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "nnmpi/status.h"

enum { PATH_CAP = 4096 };

int nn_fs_fsync(int fd) {
  int r;
  while ((r = fsync(fd)) < 0 && errno == EINTR) {}
  return r;
}

int nn_fs_fsync_dir(const char *dir) {
  int fd;
  while ((fd = open(dir, O_RDONLY | O_DIRECTORY)) < 0 && errno == EINTR) {}
  if (fd < 0) return -1;
  int r = nn_fs_fsync(fd), e = errno;
  close(fd);
  errno = e;
  return r;
}

int nn_fs_pread_all(int fd, void *buf, size_t n, off_t off) {
  for (char *p = buf; n;) {
    ssize_t r = pread(fd, p, n, off);
    if (r < 0 && errno == EINTR) continue;
    if (r == 0) errno = EIO;
    if (r <= 0) return -1;
    p += r, n -= (size_t)r, off += r;
  }
  return 0;
}

int nn_fs_pwrite_all(int fd, const void *buf, size_t n, off_t off) {
  for (const char *p = buf; n;) {
    ssize_t r = pwrite(fd, p, n, off);
    if (r < 0 && errno == EINTR) continue;
    if (r == 0) errno = EIO;
    if (r <= 0) return -1;
    p += r, n -= (size_t)r, off += r;
  }
  return 0;
}

int nn_fs_rename(const char *from, const char *to) {
  int r;
  while ((r = rename(from, to)) < 0 && errno == EINTR) {}
  return r;
}

const char *nn_fs_kind(unsigned mode) {
  switch (mode & S_IFMT) {
  case S_IFDIR: return "a directory";
  case S_IFIFO: return "a FIFO";
  case S_IFSOCK: return "a socket";
  case S_IFCHR: return "a character device";
  case S_IFBLK: return "a block device";
  case S_IFLNK: return "a symbolic link";
  default: return "not a regular file";
  }
}

int nn_fs_open_regular(const char *path, const char **kind) {
  int fd;
  struct stat st;
  if (kind) *kind = NULL;
  /* O_NONBLOCK: the open of a FIFO returns at once (then fstat tells what it is) */
  while ((fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY)) < 0 && errno == EINTR) {}
  if (fd < 0) return -1;
  if (fstat(fd, &st) < 0) {
    int e = errno;
    close(fd);
    errno = e;
    return -1;
  }
  if (!S_ISREG(st.st_mode)) {
    close(fd);
    if (kind) *kind = nn_fs_kind(st.st_mode);
    errno = 0;
    return -1;
  }
  int fl = fcntl(fd, F_GETFL);
  if (fl >= 0) fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
  return fd;
}

int nn_fs_lock(const char *path, int *fd_out, char *holder, size_t cap) {
  int fd;
  *fd_out = -1;
  if (cap) holder[0] = 0;
  while ((fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK, 0644)) < 0 && errno == EINTR) {}
  if (fd < 0) return -1;
  struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 0};
  int r;
  while ((r = fcntl(fd, F_SETLK, &fl)) < 0 && errno == EINTR) {}
  if (r < 0) {
    int e = errno;
    if (e == EACCES || e == EAGAIN) { /* held: the holder wrote who it is */
      ssize_t n = cap ? pread(fd, holder, cap - 1, 0) : -1;
      if (n < 0) n = 0;
      holder[n] = 0;
      holder[strcspn(holder, "\n")] = 0;
      if (!holder[0] && cap) snprintf(holder, cap, "holder unknown");
      close(fd);
      return 1;
    }
    close(fd);
    errno = e;
    return -1;
  }
  char host[256] = "?", text[320];
  if (gethostname(host, sizeof host) < 0) snprintf(host, sizeof host, "?");
  host[sizeof host - 1] = 0;
  int n = snprintf(text, sizeof text, "host %s, pid %ld\n", host, (long)getpid());
  if (ftruncate(fd, 0) == 0) (void)nn_fs_pwrite_all(fd, text, (size_t)n, 0); /* who holds it: information only */
  *fd_out = fd;
  return 0;
}

int nn_fs_lock_held(const char *path, char *holder, size_t cap) {
  int fd;
  if (cap) holder[0] = 0;
  while ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK)) < 0 && errno == EINTR) {}
  if (fd < 0) return -1;
  struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 0};
  int held = fcntl(fd, F_GETLK, &fl) == 0 && fl.l_type != F_UNLCK;
  if (held && cap) {
    ssize_t n = pread(fd, holder, cap - 1, 0);
    holder[n > 0 ? n : 0] = 0;
    holder[strcspn(holder, "\n")] = 0;
  }
  close(fd);
  return held;
}

void nn_fs_unlock(int fd) {
  if (fd >= 0) close(fd);
}

int nn_fs_reserve(const char *path, int64_t bytes) {
  int fd, r;
  while ((fd = open(path, O_WRONLY | O_CLOEXEC)) < 0 && errno == EINTR) {}
  if (fd < 0) return -1;
  while ((r = fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, (off_t)bytes)) < 0 && errno == EINTR) {}
  int e = errno;
  close(fd);
  if (r < 0 && (e == EOPNOTSUPP || e == ENOSYS)) return 0; /* cannot reserve here: writes will tell */
  errno = e;
  return r;
}

int nn_fs_trim(const char *path) {
  struct stat st;
  int r;
  if (stat(path, &st) < 0) return -1;
  while ((r = truncate(path, st.st_size)) < 0 && errno == EINTR) {}
  return r;
}

int nn_fs_mkdir_p(const char *path) {
  char tmp[PATH_CAP];
  if (!path[0]) return NN_FAIL(NN_EIO, "cannot create a directory with an empty name");
  if ((size_t)snprintf(tmp, sizeof tmp, "%s", path) >= sizeof tmp)
    return NN_FAIL(NN_EIO, "cannot create directory %.64s...: name longer than %d bytes", path, PATH_CAP - 1);
  for (char *p = tmp + 1;; p++) {
    if (*p == '/' || !*p) {
      char c = *p;
      *p = 0;
      if (mkdir(tmp, 0777) && errno != EEXIST)
        return NN_FAIL(NN_EIO, "cannot create directory %s: %s", tmp, strerror(errno));
      *p = c;
      if (!c) break;
    }
  }
  struct stat st;
  if (stat(path, &st) || !S_ISDIR(st.st_mode)) return NN_FAIL(NN_EIO, "%s exists and is not a directory", path);
  return NN_OK;
}

int nn_fs_write_text(const char *dir, const char *name, const char *text) {
  char path[PATH_CAP];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  FILE *f = fopen(path, "w");
  if (!f) return NN_FAIL(NN_EIO, "cannot write %s: %s", path, strerror(errno));
  int bad = fputs(text, f) < 0;
  bad |= fclose(f) != 0;
  return bad ? NN_FAIL(NN_EIO, "cannot write %s: %s", path, strerror(errno)) : NN_OK;
}
