/* fuzzutil: shared helpers of the libFuzzer harnesses (fuzzutil.h). */
#include "fuzzutil.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <hdf5.h>

#include "nnmpi/status.h"

static void die(const char *what) {
  fprintf(stderr, "fuzz harness: %s: %s\n", what, strerror(errno));
  abort();
}

void nnf_oracle_fail(const char *file, int line, const char *cond, const char *fmt, ...) {
  va_list ap;
  fprintf(stderr, "\n==ORACLE== %s:%d: %s\n==ORACLE== ", file, line, cond);
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fprintf(stderr, "\n==ORACLE== last nnmpi message: %s\n", nn_errmsg());
  abort();
}

void nnf_log(const char *call, int rc) {
  static int verbose = -1;
  if (verbose < 0) verbose = getenv("NNF_VERBOSE") && atoi(getenv("NNF_VERBOSE")) > 0;
  if (verbose) fprintf(stderr, "%s: %s%s%s\n", call, rc ? nn_strerror(rc) : "ok", rc ? ": " : "", rc ? nn_errmsg() : "");
}

bool nnf_ignored(const char *name) {
  const char *list = getenv("NNF_IGNORE");
  size_t n = strlen(name);
  for (const char *p = list; p && *p; p += strcspn(p, ","), p += *p == ',')
    if (strncmp(p, name, n) == 0 && (p[n] == ',' || p[n] == 0)) return true;
  return false;
}

/* ---- the tmpfs directory */

static char tmpdir[256];

static void remove_dir(const char *dir) {
  DIR *d = opendir(dir);
  struct dirent *e;
  char p[512];
  while (d && (e = readdir(d)))
    if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
      snprintf(p, sizeof p, "%s/%s", dir, e->d_name), unlink(p);
  if (d) closedir(d);
  rmdir(dir);
}

static void remove_tmpdir(void) { remove_dir(tmpdir); }

/* A crash ends the process without atexit handlers, so each start removes the directories of
 * harness processes that no longer exist ("nnmpi-fuzz-<pid>"). */
static void remove_stale(const char *base) {
  DIR *d = opendir(base);
  struct dirent *e;
  char p[512], *end;
  while (d && (e = readdir(d))) {
    if (strncmp(e->d_name, "nnmpi-fuzz-", 11)) continue;
    long pid = strtol(e->d_name + 11, &end, 10);
    if (end == e->d_name + 11 || *end || pid <= 0) continue;
    if (kill((pid_t)pid, 0) == 0 || errno != ESRCH) continue; /* alive (or not ours to tell) */
    snprintf(p, sizeof p, "%s/%s", base, e->d_name);
    remove_dir(p);
  }
  if (d) closedir(d);
}

static const char *tmp_dir(void) {
  if (!tmpdir[0]) {
    const char *base = getenv("TMPDIR");
    struct stat st;
    if (stat("/dev/shm", &st) == 0 && S_ISDIR(st.st_mode) && access("/dev/shm", W_OK) == 0) base = "/dev/shm";
    if (!base || !*base) base = "/tmp";
    remove_stale(base);
    snprintf(tmpdir, sizeof tmpdir, "%s/nnmpi-fuzz-%ld", base, (long)getpid());
    remove_dir(tmpdir); /* a leftover of an earlier process with this pid */
    if (mkdir(tmpdir, 0700) < 0) die("creating the tmpfs directory");
    atexit(remove_tmpdir);
  }
  return tmpdir;
}

const char *nnf_tmppath(int slot, const char *name) {
  static char paths[4][512];
  if (slot < 0 || slot >= 4) abort();
  snprintf(paths[slot], sizeof paths[slot], "%s/%s", tmp_dir(), name);
  return paths[slot];
}

/* ---- input files
 *
 * A memfd ("/proc/self/fd/N") would do for zlib and stdio, but HDF5 1.10 resolves the real path
 * of every file it opens and fails on a memfd ("can't retrieve real path for file"), so inputs
 * are regular files in the tmpfs directory: still memory, and removed at exit. */

const char *nnf_input_file(int slot, const uint8_t *data, size_t size) {
  static int fds[8] = {-1, -1, -1, -1, -1, -1, -1, -1};
  static char paths[8][512];
  if (slot < 0 || slot >= 8) abort();
  if (fds[slot] < 0) {
    snprintf(paths[slot], sizeof paths[slot], "%s/in%d", tmp_dir(), slot);
    if ((fds[slot] = open(paths[slot], O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) < 0) die("creating an input file");
  }
  if (ftruncate(fds[slot], 0) < 0) die("ftruncate");
  for (size_t off = 0; off < size;) {
    ssize_t w = pwrite(fds[slot], data + off, size - off, (off_t)off);
    if (w <= 0) die("pwrite");
    off += (size_t)w;
  }
  return paths[slot];
}

void nnf_copy_file(const char *src, const char *dst) {
  char buf[1 << 16];
  int in = open(src, O_RDONLY), out = open(dst, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  ssize_t n;
  if (in < 0 || out < 0) die("copying a template file");
  while ((n = read(in, buf, sizeof buf)) > 0)
    if (write(out, buf, (size_t)n) != n) die("copying a template file");
  if (n < 0) die("copying a template file");
  close(in);
  close(out);
}

/* ---- HDF5 ids that outlive an input
 *
 * HDF5 1.10 has no public way to list the ids of a type (H5Iiterate is 1.12), and H5Inmembers
 * refuses the library's own types. But ids of one type are numbered consecutively: the id is
 * (type << 56) | serial. So a marker id of each type is made before the input and another
 * after it, and every serial in between must be invalid again (closed). Files, groups,
 * datasets, attributes and named datatypes are counted by H5Fget_obj_count as well. */

enum { N_KINDS = 3 };
static hid_t marker0[N_KINDS];
static ssize_t objs0;

static hid_t make_marker(int kind) {
  switch (kind) {
  case 0: return H5Screate(H5S_SCALAR);
  case 1: return H5Tcopy(H5T_NATIVE_INT);
  default: return H5Pcreate(H5P_DATASET_XFER);
  }
}

static void close_marker(int kind, hid_t id) {
  if (kind == 0) H5Sclose(id);
  else if (kind == 1) H5Tclose(id);
  else H5Pclose(id);
}

void nnf_ids_begin(void) {
  static int once;
  if (!once++) {
    H5open();
    /* HDF5 frees its large per-file blocks (the metadata cache: half a MiB, zeroed) at every
     * close; under ASan each comes back as fresh pages, and the page faults took half the time
     * of an input. Unlimited free lists keep them. (No effect on nnmpi's own memory.) */
    H5set_free_list_limits(-1, -1, -1, -1, -1, -1);
  }
  H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
  for (int k = 0; k < N_KINDS; k++) {
    marker0[k] = make_marker(k);
    if (marker0[k] < 0) abort();
    close_marker(k, marker0[k]);
  }
  objs0 = H5Fget_obj_count((hid_t)H5F_OBJ_ALL, H5F_OBJ_ALL);
}

void nnf_ids_end(const char *what) {
  static const char *const kind_names[N_KINDS] = {"dataspace", "datatype", "property list"};
  ssize_t objs = H5Fget_obj_count((hid_t)H5F_OBJ_ALL, H5F_OBJ_ALL);
  ORACLE(objs == objs0, "%s: %zd HDF5 file objects (files, groups, datasets, attributes) still open afterwards",
         what, objs - objs0);
  for (int k = 0; k < N_KINDS; k++) {
    hid_t m1 = make_marker(k);
    close_marker(k, m1);
    if (m1 <= marker0[k] || m1 - marker0[k] > (1 << 22)) continue; /* numbering not as assumed */
    for (hid_t id = marker0[k] + 1; id < m1; id++)
      ORACLE(H5Iis_valid(id) <= 0, "%s: HDF5 %s id %lld was not closed", what, kind_names[k], (long long)id);
  }
}

void nnf_check_cause(int rc, const char *call) {
  if (rc == NN_OK || nnf_ignored("lost-reason")) return;
  /* nnmpi puts the HDF5 reason last; "unknown HDF5 error" (nn_h5_errstr) and "HDF5 error"
   * (checkpoint.c) are what it says when the stack was empty. Only the end of the message is
   * looked at: elsewhere it may quote input text, which can say anything. */
  const char *m = nn_errmsg();
  size_t n = strlen(m);
  ORACLE(!(n >= 18 && !strcmp(m + n - 18, "unknown HDF5 error")) && !(n >= 12 && !strcmp(m + n - 12, ": HDF5 error")),
         "%s failed (%s) without the reason: HDF5's error stack was lost before it was read", call, nn_strerror(rc));
}

void nnf_check_message(int rc, const char *path, const char *call) {
  nnf_log(call, rc);
  nnf_check_cause(rc, call);
  if (rc != NN_EDATA && rc != NN_ECKPT) return;
  ORACLE(strstr(nn_errmsg(), path) != NULL, "%s failed (%s) with a message that does not name %s", call,
         nn_strerror(rc), path);
}
