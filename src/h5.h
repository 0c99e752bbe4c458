/* h5: the private HDF5 unit of the I/O layer — one way to capture why an HDF5 call failed,
 * attribute reading with type and count checks, attribute writing, opening files.
 * Included only by the .c files of nnio (dataset, dataset_write, import_*, checkpoint,
 * predictions, dataset_inspect); no public header includes hdf5.h (the pattern of sqlite's
 * btreeInt.h). Never calls MPI_*, never prints. */
#ifndef NNMPI_H5_H
#define NNMPI_H5_H

#include <hdf5.h>
#include <stdbool.h>
#include <stddef.h>

/* ---- errors. HDF5 clears its error stack at the start of every API call, so the reason of
 * a failure must be noted before the next call (a close, say). nn_h5_note remembers the most
 * specific message of the current stack unless a reason is already remembered; nn_h5_fail
 * turns the remembered reason into the message of the failure and forgets it. */

/* Turns HDF5's own error printing off for the process (library code never prints) and
 * forgets any remembered reason. Idempotent; call before a group of HDF5 calls. */
void nn_h5_quiet(void);
/* Remembers the reason of the failure on the HDF5 error stack (no-op when one is remembered
 * already or the stack is empty). */
void nn_h5_note(void);
/* The remembered reason (noting first): the operating system's text when HDF5 reports an
 * errno ("No such file or directory"), else HDF5's most specific description; "HDF5 error"
 * when nothing is known. Valid until the next nn_h5_* call in this thread. */
const char *nn_h5_reason(void);
/* Records NN_FAIL(code, "<fmt ...>: <reason>") and forgets the reason. Returns code. */
int nn_h5_fail(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- files */

/* File-access properties of nnmpi's files: format 1.8 objects (checksummed object headers),
 * no file locking (NFS, Lustre; one writer by protocol), strong close. Caller closes. */
hid_t nn_h5_fapl(void);
/* Closes file f (f < 0: nothing). HDF5 1.10 frees a file whose final flush fails in H5Fclose
 * (a full disk) but keeps its id, which no call can release: HDF5's clean-up at exit or in
 * MPI_Finalize then crashes in H5F__close_cb. So a file whose writing failed and that is thrown
 * away (discard = its path; NULL otherwise) is first truncated to 0 bytes: its space comes back
 * and the close's flush of the little metadata left has room. 0, or -1 with the reason noted. */
int nn_h5_close_file(hid_t f, const char *discard);
/* Opens path read-only as `what` ("dataset file"). Failures are `code` with "PATH: ..." naming
 * the cause: no such file, not a regular file, permission denied, not an HDF5 file, or the
 * HDF5 reason. The caller closes *file with H5Fclose. */
int nn_h5_open_ro(const char *path, const char *what, int code, hid_t *file);

/* ---- row blocks of a dataset of rank 1 (N) or 2 (N, cols) */

/* Reads (write = false) or writes rows [row0, row0 + nrows) of dataset d as mtype, from or into
 * buf. 0 or -1 (reason noted). */
int nn_h5_rows(hid_t d, bool write, hsize_t row0, hsize_t nrows, hid_t mtype, void *buf);

/* ---- attributes. `where` names the object in messages ("d.h5:/train/X", "/model"). */

bool nn_h5_attr_exists(hid_t obj, const char *name);
/* Reads the attribute as n values of mtype, after checking that it exists, holds exactly n
 * values (a scalar holds 1) and is of mtype's class (integer; float, which also takes integers).
 * Messages:
 * "missing attribute WHERE:NAME", "attribute WHERE:NAME has K values, expected N" ("expected a scalar (1 value)"),
 * "attribute WHERE:NAME is TYPE, expected CLASS". Returns NN_OK or code. */
int nn_h5_attr_read(hid_t obj, const char *where, const char *name, hid_t mtype, size_t n, void *v, int code);
/* Reads a string attribute (fixed or variable length, one value) into a malloc'ed string. */
int nn_h5_attr_read_str(hid_t obj, const char *where, const char *name, char **out, int code);
/* The same into buf; a string that does not fit in cap bytes is an error. */
int nn_h5_attr_read_name(hid_t obj, const char *where, const char *name, char *buf, size_t cap, int code);
/* Writes (replacing) an attribute of n values (n = 0: a scalar). 0 or -1 (reason noted). */
int nn_h5_attr_write(hid_t obj, const char *name, hid_t ftype, hid_t mtype, hsize_t n, const void *v);
/* Writes (replacing) a fixed-length NUL-terminated string attribute in character set cset. */
int nn_h5_attr_write_str(hid_t obj, const char *name, const char *s, H5T_cset_t cset);

/* A short name of a datatype: "uint8", "int32", "float32", "string", "compound", ... */
void nn_h5_type_name(hid_t type, char *buf, size_t cap);

#endif
