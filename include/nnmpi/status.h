/* status: error codes and the detail message of the last failure.
 * Layer 0, libc only. Library code records a message with NN_FAIL and returns the code;
 * only main() prints it and turns it into an exit code. */
#ifndef NNMPI_STATUS_H
#define NNMPI_STATUS_H

enum {
  NN_OK = 0,
  NN_EINVAL = -1,   /* bad argument or usage (exit 2) */
  NN_ECONFIG = -2,  /* bad config file, key or value (exit 2) */
  NN_EDATA = -3,    /* bad or unreadable dataset (exit 3) */
  NN_ECKPT = -4,    /* bad, missing or unwritable checkpoint (exit 4) */
  NN_EIO = -5,      /* other I/O failure (exit 1) */
  NN_ENOMEM = -6,   /* allocation failed (exit 1) */
  NN_ENUMERIC = -7, /* non-finite loss or gradient, failed gradient check (exit 1) */
  NN_ESTOPPED = -8, /* stopped on request after a checkpoint (exit 75) */
  NN_EPEER = -9,    /* another rank stalled or died; the job must be aborted (exit 1) */
  NN_EINTERNAL = -10 /* programmer error or MPI failure (exit 1) */
};

/* A short fixed name of a code ("data error"). Never NULL. */
const char *nn_strerror(int code);

/* The detail message recorded by the last NN_FAIL in this thread ("" if none). */
const char *nn_errmsg(void);

/* Records a printf-style detail message (and the source location in debug builds) and
 * returns code, so that `return NN_FAIL(NN_EDATA, "...", ...);` is one line. */
int nn_fail_at(int code, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
#define NN_FAIL(code, ...) nn_fail_at((code), __FILE__, __LINE__, __VA_ARGS__)

/* Replaces the recorded message (used when a message arrives from another rank). */
void nn_errmsg_set(const char *msg);

/* Prefixes the recorded message with context ("data/x.h5: " + old message). */
int nn_fail_prefix(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Exit status for a code, as in docs/cli.md: 0, 2, 3, 4, 75 or 1. */
int nn_exit_code(int code);

#endif
