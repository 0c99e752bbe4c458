/* checkpoint_header: the plain-text header in the HDF5 user block of a checkpoint, and the
 * CRC32s it records (docs/formats.md, "Integrity"). Checked before HDF5 parses anything, so a
 * damaged file never reaches the HDF5 parser. Private to checkpoint*.c (the header of the
 * checkpoint unit's internals); zlib, libc; never calls HDF5. Failures record NN_ECKPT with
 * the cause, without the path (callers prefix it). */
#ifndef NNMPI_CHECKPOINT_HEADER_H
#define NNMPI_CHECKPOINT_HEADER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nnmpi/checkpoint.h"
#include "nnmpi/net.h"

#define NN_CKPT_FORMAT_NAME "nnmpi-checkpoint"
enum { NN_CKPT_MAX_ARRAYS = NN_MAX_LAYERS * 2 * 3 };

/* One array as the header records it: HDF5 path, byte range in the file, CRC32 of its bytes. */
typedef struct nn_ckpt_hdr_array {
  char path[64];
  int64_t off, nbytes;
  uint32_t crc;
} nn_ckpt_hdr_array;

typedef struct nn_ckpt_header {
  int version;
  int64_t ub;                 /* user block size: the header's bytes, NUL padded */
  int64_t length;             /* file length */
  uint32_t crc;               /* CRC32 of bytes [ub, length) */
  int64_t step, epoch, batch; /* from /progress, for rotation without HDF5 */
  int n;
  nn_ckpt_hdr_array a[NN_CKPT_MAX_ARRAYS];
} nn_ckpt_header;

/* CRC32 (zlib) of n bytes. */
uint32_t nn_ckpt_crc(const void *p, size_t n);

/* Reads the header of path. full: also checks the file length and the whole-file CRC32, and
 * on a mismatch names the damaged array from the header's table. NN_OK or NN_ECKPT. */
int nn_ckpt_header_check(const char *path, nn_ckpt_header *h, bool full);

/* Finishes a written file: computes the CRC32 of [h->ub, end), writes the header into the
 * first h->ub bytes, fsyncs. h->length and h->crc are filled in. NN_OK or NN_ECKPT. */
int nn_ckpt_header_seal(const char *tmp, nn_ckpt_header *h);

/* (checkpoint.c) Verifies path completely and fills info, like nn_ckpt_inspect, but the
 * message of a failure is the bare cause, without the path (checkpoint_dir.c lists causes
 * per file name). */
int nn_ckpt_load_info(const char *path, nn_ckpt_info *info);

#endif
