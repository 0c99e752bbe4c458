/* checkpoint_header: the user-block header of checkpoint files (see checkpoint_header.h).
 * The header is plain text, NUL padded, its last line "hdrcrc <crc of the bytes before it>";
 * the first line "nnmpi-checkpoint <version> <user block size>" never changes. */
#include "checkpoint_header.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <zlib.h>

#include "fs.h"
#include "nnmpi/checkpoint.h"
#include "nnmpi/status.h"
#include "nnmpi/version.h"

/* CRCs are defined over the little-endian bytes; on such hosts those are the memory bytes. */
_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "checkpoint CRCs assume a little-endian host");

#define FORMAT_NAME NN_CKPT_FORMAT_NAME

uint32_t nn_ckpt_crc(const void *p, size_t n) { return (uint32_t)crc32_z(crc32_z(0L, Z_NULL, 0), p, n); }

/* CRC32 of bytes [from, to) of fd. -1 (errno) on a read failure. */
static int crc_range(int fd, int64_t from, int64_t to, uint32_t *crc) {
  enum { CHUNK = 1 << 16 }; /* (small enough for malloc's pools: no mmap per call) */
  char *buf = malloc(CHUNK);
  if (!buf) return -1;
  uLong c = crc32_z(0L, Z_NULL, 0);
  for (int64_t off = from; off < to;) {
    size_t n = (size_t)(to - off < CHUNK ? to - off : CHUNK);
    if (nn_fs_pread_all(fd, buf, n, (off_t)off) < 0) return free(buf), -1;
    c = crc32_z(c, (const Bytef *)buf, n);
    off += (int64_t)n;
  }
  free(buf);
  *crc = (uint32_t)c;
  return 0;
}

static int format(char *ub, const nn_ckpt_header *h) {
  size_t ub_size = (size_t)h->ub;
  memset(ub, 0, ub_size);
  size_t k = (size_t)snprintf(ub, ub_size,
                              FORMAT_NAME " %d %zu\nlength %lld\ncrc32 %08x\nstep %lld\nepoch %lld\n"
                                          "batch %lld\n",
                              NN_CKPT_FORMAT_VERSION, ub_size, (long long)h->length, (unsigned)h->crc,
                              (long long)h->step, (long long)h->epoch, (long long)h->batch);
  for (int i = 0; i < h->n && k < ub_size; i++)
    k += (size_t)snprintf(ub + k, ub_size - k, "array %s %lld %lld %08x\n", h->a[i].path, (long long)h->a[i].off,
                          (long long)h->a[i].nbytes, (unsigned)h->a[i].crc);
  if (k + 20 >= ub_size) return -1;
  snprintf(ub + k, ub_size - k, "hdrcrc %08x\n", (unsigned)nn_ckpt_crc(ub, k));
  return 0;
}

int nn_ckpt_header_seal(const char *tmp, nn_ckpt_header *h) {
  int fd, rc = NN_ECKPT;
  struct stat st;
  char *ub = malloc((size_t)h->ub);
  while ((fd = open(tmp, O_RDWR)) < 0 && errno == EINTR) {}
  if (!ub || fd < 0) {
    NN_FAIL(NN_ECKPT, "cannot reopen to finish: %s", ub ? strerror(errno) : "out of memory");
  } else if (fstat(fd, &st) < 0 || ftruncate(fd, st.st_size) < 0) { /* gives back space reserved past the end */
    NN_FAIL(NN_ECKPT, "cannot finish: %s", strerror(errno));
  } else if (crc_range(fd, h->ub, st.st_size, &h->crc) < 0) {
    NN_FAIL(NN_ECKPT, "cannot read back: %s", strerror(errno));
  } else if (h->length = st.st_size, format(ub, h) < 0) {
    NN_FAIL(NN_ECKPT, "internal: header does not fit in %lld bytes", (long long)h->ub);
  } else if (nn_fs_pwrite_all(fd, ub, (size_t)h->ub, 0) < 0) {
    NN_FAIL(NN_ECKPT, "writing the header: %s", strerror(errno));
  } else if (nn_fs_fsync(fd) < 0) {
    NN_FAIL(NN_ECKPT, "fsync: %s", strerror(errno));
  } else {
    rc = NN_OK;
  }
  if (fd >= 0 && close(fd) < 0 && rc == NN_OK) rc = NN_FAIL(NN_ECKPT, "close: %s", strerror(errno));
  free(ub);
  return rc;
}

/* The header's lines after the first, into h (unknown lines are ignored). */
static void parse_lines(char *ub, const char *end, nn_ckpt_header *h) {
  h->n = 0;
  for (char *line = strchr(ub, '\n') + 1; line < end; line = strchr(line, '\n') + 1) {
    long long v, off, nb;
    unsigned c;
    if (sscanf(line, "length %lld", &v) == 1) h->length = v;
    else if (sscanf(line, "crc32 %x", &c) == 1) h->crc = c;
    else if (sscanf(line, "step %lld", &v) == 1) h->step = v;
    else if (sscanf(line, "epoch %lld", &v) == 1) h->epoch = v;
    else if (sscanf(line, "batch %lld", &v) == 1) h->batch = v;
    else if (strncmp(line, "array ", 6) == 0 && h->n < NN_CKPT_MAX_ARRAYS &&
             sscanf(line, "array %63s %lld %lld %x", h->a[h->n].path, &off, &nb, &c) == 4)
      h->a[h->n].off = off, h->a[h->n].nbytes = nb, h->a[h->n].crc = c, h->n++;
  }
}

/* The file's length and CRC32 against the header; a mismatch names the damaged array. */
static int check_body(int fd, const struct stat *st, const nn_ckpt_header *h) {
  if (st->st_size != h->length)
    return NN_FAIL(NN_ECKPT, "%s: %lld bytes, the header records %lld",
                   st->st_size < h->length ? "truncated" : "wrong length", (long long)st->st_size,
                   (long long)h->length);
  uint32_t crc;
  if (crc_range(fd, h->ub, h->length, &crc) < 0) return NN_FAIL(NN_ECKPT, "cannot read: %s", strerror(errno));
  if (crc == h->crc) return NN_OK;
  for (int i = 0; i < h->n; i++) {
    uint32_t ca;
    if (h->a[i].off >= h->ub && h->a[i].nbytes >= 0 && h->a[i].nbytes <= h->length - h->a[i].off &&
        crc_range(fd, h->a[i].off, h->a[i].off + h->a[i].nbytes, &ca) == 0 && ca != h->a[i].crc)
      return NN_FAIL(NN_ECKPT, "checksum mismatch in %s (CRC32 %08x, recorded %08x)", h->a[i].path, (unsigned)ca,
                     (unsigned)h->a[i].crc);
  }
  return NN_FAIL(NN_ECKPT,
                 "checksum mismatch in the HDF5 structure outside the arrays (file CRC32 %08x, recorded %08x)",
                 (unsigned)crc, (unsigned)h->crc);
}

/* The first line: format name, version, user block size. */
static int check_first_line(int fd, const struct stat *st, nn_ckpt_header *h) {
  char first[512] = {0};
  size_t n0 = st->st_size < 511 ? (size_t)st->st_size : 511;
  if (nn_fs_pread_all(fd, first, n0, 0) < 0) return NN_FAIL(NN_ECKPT, "cannot read: %s", strerror(errno));
  long long ubl = 0;
  if (sscanf(first, FORMAT_NAME " %d %lld\n", &h->version, &ubl) != 2)
    return NN_FAIL(NN_ECKPT, "%s",
                   memcmp(first, "\x89HDF", 4) == 0
                       ? "an HDF5 file without an nnmpi checkpoint header (not written by nnmpi)"
                       : "not an nnmpi checkpoint (no \"" FORMAT_NAME "\" header)");
  if (h->version != NN_CKPT_FORMAT_VERSION)
    return NN_FAIL(NN_ECKPT, "checkpoint format version %d, this nnmpi %s reads version %d", h->version,
                   NN_VERSION_STRING, NN_CKPT_FORMAT_VERSION);
  if (ubl < 512 || ubl > (1 << 20) || (ubl & (ubl - 1)))
    return NN_FAIL(NN_ECKPT, "damaged header: user block size %lld", ubl);
  h->ub = ubl;
  if (st->st_size < h->ub)
    return NN_FAIL(NN_ECKPT, "truncated: %lld bytes, shorter than its %lld-byte header", (long long)st->st_size, ubl);
  return NN_OK;
}

/* The whole header: its own checksum, zero padding, then the lines. */
static int check_header(int fd, nn_ckpt_header *h) {
  char *ub = calloc((size_t)h->ub + 1, 1);
  int rc = NN_OK;
  if (!ub) return NN_FAIL(NN_ECKPT, "out of memory");
  if (nn_fs_pread_all(fd, ub, (size_t)h->ub, 0) < 0) {
    rc = NN_FAIL(NN_ECKPT, "cannot read header: %s", strerror(errno));
    goto out;
  }
  char *hc = strstr(ub, "\nhdrcrc "), want[24];
  if (hc) snprintf(want, sizeof want, "\nhdrcrc %08x\n", (unsigned)nn_ckpt_crc(ub, (size_t)(hc - ub + 1)));
  if (!hc || strncmp(hc, want, strlen(want)) != 0) {
    rc = NN_FAIL(NN_ECKPT, "damaged header (header checksum mismatch)");
    goto out;
  }
  for (char *z = hc + strlen(want); z < ub + h->ub; z++) /* the padding is covered too */
    if (*z) {
      rc = NN_FAIL(NN_ECKPT, "damaged header (non-zero byte at offset %td of the padding)", z - ub);
      goto out;
    }
  parse_lines(ub, hc + 1, h);
out:
  free(ub);
  return rc;
}

int nn_ckpt_header_check(const char *path, nn_ckpt_header *h, bool full) {
  struct stat st;
  int rc;
  const char *kind;
  int fd = nn_fs_open_regular(path, &kind); /* a FIFO would block a plain open(2) */
  if (fd < 0 && kind) return NN_FAIL(NN_ECKPT, "is %s, expected a checkpoint file", kind);
  if (fd < 0) return NN_FAIL(NN_ECKPT, "cannot open: %s", strerror(errno));
  if (fstat(fd, &st) < 0) rc = NN_FAIL(NN_ECKPT, "cannot stat: %s", strerror(errno));
  else if (st.st_size == 0) rc = NN_FAIL(NN_ECKPT, "empty file (0 bytes)");
  else if (!(rc = check_first_line(fd, &st, h)) && !(rc = check_header(fd, h)) && full) rc = check_body(fd, &st, h);
  close(fd);
  return rc;
}

bool nn_ckpt_is_checkpoint(const char *path) {
  char buf[sizeof FORMAT_NAME + 1] = "";
  int fd = nn_fs_open_regular(path, NULL);
  bool yes =
      fd >= 0 && nn_fs_pread_all(fd, buf, sizeof buf - 1, 0) == 0 && memcmp(buf, FORMAT_NAME " ", sizeof buf - 1) == 0;
  if (fd >= 0) close(fd);
  return yes;
}
