/* testutil: helpers shared by the cmocka tests. */
#define _XOPEN_SOURCE 700
#include "testutil.h"

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void tu_mkdtemp(char *dst, size_t cap) {
  const char *base = getenv("TMPDIR");
  snprintf(dst, cap, "%s/nnmpi-test-XXXXXX", base && *base ? base : "/tmp");
  assert_non_null(mkdtemp(dst));
}

void tu_write_file(const char *path, const void *data, size_t len) {
  if (len == (size_t)-1) len = strlen(data);
  FILE *f = fopen(path, "wb");
  assert_non_null(f);
  assert_int_equal(fwrite(data, 1, len, f), len);
  assert_int_equal(fclose(f), 0);
}

char *tu_read_file(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  assert_non_null(f);
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *buf = malloc((size_t)n + 1);
  assert_non_null(buf);
  assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
  buf[n] = 0;
  fclose(f);
  if (len) *len = (size_t)n;
  return buf;
}

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
  (void)sb, (void)flag, (void)ftw;
  return remove(path);
}

void tu_rmtree(const char *path) { nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS); }

void tu_assert_contains_at(const char *haystack, const char *needle, const char *file, int line) {
  if (haystack && strstr(haystack, needle)) return;
  fail_msg("%s:%d: expected to find \"%s\" in \"%s\"", file, line, needle, haystack ? haystack : "(null)");
}

static char tmpdir[256];

int tu_setup_tmpdir(void **state) {
  (void)state;
  tu_mkdtemp(tmpdir, sizeof tmpdir);
  return 0;
}

int tu_teardown_tmpdir(void **state) {
  (void)state;
  tu_rmtree(tmpdir);
  return 0;
}

const char *tu_path(const char *name) {
  static char buf[8][512];
  static int i;
  i = (i + 1) % 8;
  snprintf(buf[i], sizeof buf[i], "%s/%s", tmpdir, name);
  return buf[i];
}
