/* testutil: small helpers shared by the cmocka tests (temporary directories, files). */
#ifndef NNMPI_TESTUTIL_H
#define NNMPI_TESTUTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

/* Creates a fresh directory under $TMPDIR (or /tmp) and returns its path (static buffer per call
 * site is the caller's: dst of size cap). */
void tu_mkdtemp(char *dst, size_t cap);
/* Writes len bytes to path (len == (size_t)-1: strlen(data)). Fails the test on error. */
void tu_write_file(const char *path, const void *data, size_t len);
/* Group setup/teardown for cmocka: a fresh temporary directory per group, removed after it.
 * tu_path(name) is "<that dir>/name" (a static buffer, 8 in rotation). */
int tu_setup_tmpdir(void **state);
int tu_teardown_tmpdir(void **state);
const char *tu_path(const char *name);
/* Reads a whole file into a malloc'ed NUL-terminated buffer; *len gets its size. */
char *tu_read_file(const char *path, size_t *len);
/* Removes a directory tree (rm -rf). */
void tu_rmtree(const char *path);
/* Asserts that haystack contains needle, printing both when it does not. */
#define tu_assert_contains(haystack, needle) tu_assert_contains_at((haystack), (needle), __FILE__, __LINE__)
void tu_assert_contains_at(const char *haystack, const char *needle, const char *file, int line);

#endif
