/* fs: small file-system helpers with the EINTR and short-transfer loops done once — durable
 * writes (fsync of files and directories), whole preads/pwrites, directory creation.
 * Private to the library layers (src/ only); libc; never prints. Functions returning int give
 * 0 / -1 with errno set, except those documented to record an NN_* message. */
#ifndef NNMPI_FS_H
#define NNMPI_FS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* fsync(fd), retried on EINTR. */
int nn_fs_fsync(int fd);
/* fsync of directory dir, so a rename or unlink in it is durable. */
int nn_fs_fsync_dir(const char *dir);
/* Exactly n bytes at offset off, or -1 (errno; a file ending early is EIO). */
int nn_fs_pread_all(int fd, void *buf, size_t n, off_t off);
int nn_fs_pwrite_all(int fd, const void *buf, size_t n, off_t off);
/* rename(from, to), retried on EINTR. */
int nn_fs_rename(const char *from, const char *to);

/* Opens a file the user named for reading, never blocking: a FIFO, socket or device is not
 * opened for reading at all (an open(2) of a FIFO without a writer would wait forever). Returns a
 * descriptor (blocking mode, close-on-exec) of a regular file; or -1 with errno from open/fstat
 * (ENOENT, EACCES, ...); or -1 with errno = 0 and *kind = its type ("a FIFO", "a directory", ...)
 * when it is not a regular file. kind may be NULL. */
int nn_fs_open_regular(const char *path, const char **kind);
/* The type of a non-regular file for messages: "a directory", "a FIFO", "a socket",
 * "a character device", "a block device", "a symbolic link", or "not a regular file". */
const char *nn_fs_kind(unsigned mode);

/* An exclusive lock on the file path (created when missing) for as long as this process holds
 * fd: a POSIX record lock (fcntl), which the kernel releases when the process ends however it
 * ends, also on NFS. On success returns 0, sets *fd and writes "host H, pid P" of this process
 * into the file. Returns 1 when another process holds the lock (its "host H, pid P" into holder,
 * cap bytes), or -1 with errno (ENOLCK, EOPNOTSUPP, ...: the file system cannot lock). */
int nn_fs_lock(const char *path, int *fd, char *holder, size_t cap);
/* Whether another process holds the lock of nn_fs_lock on path (a test, F_GETLK: it takes
 * nothing): 1 held (holder gets "host H, pid P" when cap > 0), 0 free, -1 no such file. */
int nn_fs_lock_held(const char *path, char *holder, size_t cap);
/* Releases a lock of nn_fs_lock (closes fd; -1 is ignored). */
void nn_fs_unlock(int fd);

/* Reserves disk space for the first `bytes` bytes of the existing file path without changing its
 * size (Linux fallocate KEEP_SIZE), so that writes up to there cannot fail for want of space:
 * a full disk is then reported before a file is half written. 0 (also when the file system
 * cannot reserve: nothing is done), or -1 with errno (ENOSPC, EDQUOT, ...). */
int nn_fs_reserve(const char *path, int64_t bytes);
/* Gives back what nn_fs_reserve reserved past the end of path (truncates it to its own size).
 * 0 or -1 (errno). */
int nn_fs_trim(const char *path);

/* Creates directory path and its missing parents (mkdir -p). NN_OK, or NN_EIO with a message
 * naming the directory that could not be made, or path when it exists but is not a directory. */
int nn_fs_mkdir_p(const char *path);
/* Writes text to dir/name, replacing it. NN_OK or NN_EIO naming the file. */
int nn_fs_write_text(const char *dir, const char *name, const char *text);

#endif
