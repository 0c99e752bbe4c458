/* status: the last failure's detail message, per thread, and the code → exit mapping.
 * Layer 0, libc only. */
#include "nnmpi/status.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

enum { MSG_CAP = 2048 };
static _Thread_local char last_msg[MSG_CAP];

const char *nn_strerror(int code) {
  switch (code) {
  case NN_OK: return "success";
  case NN_EINVAL: return "usage error";
  case NN_ECONFIG: return "config error";
  case NN_EDATA: return "data error";
  case NN_ECKPT: return "checkpoint error";
  case NN_EIO: return "I/O error";
  case NN_ENOMEM: return "out of memory";
  case NN_ENUMERIC: return "numerical error";
  case NN_ESTOPPED: return "stopped on request";
  case NN_EPEER: return "another rank failed";
  default: return "internal error";
  }
}

const char *nn_errmsg(void) { return last_msg; }

void nn_errmsg_set(const char *msg) { snprintf(last_msg, sizeof last_msg, "%s", msg ? msg : ""); }

int nn_fail_at(int code, const char *file, int line, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(last_msg, sizeof last_msg, fmt, ap);
  va_end(ap);
#ifndef NDEBUG
  if (n >= 0 && (size_t)n < sizeof last_msg) {
    const char *base = strrchr(file, '/');
    snprintf(last_msg + n, sizeof last_msg - (size_t)n, " [%s:%d]", base ? base + 1 : file, line);
  }
#else
  (void)file, (void)line, (void)n;
#endif
  return code;
}

int nn_fail_prefix(int code, const char *fmt, ...) {
  char prefix[MSG_CAP];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(prefix, sizeof prefix, fmt, ap);
  va_end(ap);
  size_t np = strlen(prefix), nold = strlen(last_msg);
  if (np + nold >= MSG_CAP) nold = MSG_CAP - 1 - np; /* keep the prefix, cut the tail */
  memmove(last_msg + np, last_msg, nold);
  memcpy(last_msg, prefix, np);
  last_msg[np + nold] = 0;
  return code;
}

int nn_exit_code(int code) {
  switch (code) {
  case NN_OK: return 0;
  case NN_EINVAL:
  case NN_ECONFIG: return 2;
  case NN_EDATA: return 3;
  case NN_ECKPT: return 4;
  case NN_ESTOPPED: return 75;
  default: return 1;
  }
}
