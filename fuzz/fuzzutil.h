/* fuzzutil: what the libFuzzer harnesses in fuzz/ share — inputs as files with a path in a
 * private tmpfs directory, which also takes the outputs, a check that no HDF5 id outlives an
 * input, and ORACLE(), which aborts (a libFuzzer crash) when nnmpi breaks a documented promise
 * without crashing by itself. Harnesses use only the public API in include/nnmpi/. Inputs and
 * outputs are files on tmpfs (/dev/shm), so nothing touches the disk. */
#ifndef NNMPI_FUZZUTIL_H
#define NNMPI_FUZZUTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The path of input file number slot (0..7) in the tmpfs directory, now holding exactly
 * data[0..size). Created once, rewritten in place for every input. */
const char *nnf_input_file(int slot, const uint8_t *data, size_t size);

/* A private directory on tmpfs (/dev/shm, else $TMPDIR or /tmp), "nnmpi-fuzz-<pid>", emptied
 * and removed at exit (those of crashed processes by the next harness that starts),
 * and nnf_tmppath(slot, name) = "<dir>/<name>" (a static buffer per slot 0..3). */
const char *nnf_tmppath(int slot, const char *name);

/* Copies file src to dst (both paths); aborts on failure (a harness problem, not a finding). */
void nnf_copy_file(const char *src, const char *dst);

/* Brackets one input: nnf_ids_end aborts when a file, group, dataset, attribute, dataspace,
 * datatype or property list id opened during the input is still open (a leak in nnmpi: HDF5
 * keeps ids in global tables, so LeakSanitizer never sees them). */
void nnf_ids_begin(void);
void nnf_ids_end(const char *what);

/* A failed call (rc != NN_OK) must say why: its message must not end in nnmpi's placeholder for
 * an HDF5 failure whose reason was lost ("unknown HDF5 error", or ": HDF5 error"). */
void nnf_check_cause(int rc, const char *call);

/* nnf_check_cause, and an NN_EDATA or NN_ECKPT message must name the file it is about
 * (README.md: "Bad input of any kind is an error naming the file, object or line"). */
void nnf_check_message(int rc, const char *path, const char *call);

/* With NNF_VERBOSE=1 in the environment, prints "call: rc (message)" to stderr: to see what a
 * corpus file does (FUZZER -runs=0 FILE...). */
void nnf_log(const char *call, int rc);

/* True when the comma-separated list in $NNF_IGNORE names this known bug: its oracle then lets
 * it pass, so that a long run can look past it for others. Names: "lost-reason" (a message
 * without the HDF5 reason, nnf_check_cause), "comment" (fuzz_config: a value starting with ';',
 * or on a long line with '#', is written as "key = ;..." and reads back empty). The ctest runs
 * ignore nothing. */
bool nnf_ignored(const char *name);

void nnf_oracle_fail(const char *file, int line, const char *cond, const char *fmt, ...)
    __attribute__((format(printf, 4, 5), noreturn));
#define ORACLE(cond, ...) \
  do { if (!(cond)) nnf_oracle_fail(__FILE__, __LINE__, #cond, __VA_ARGS__); } while (0)

#endif
