/* checkpoint_dir: the checkpoints of a directory — file names, the newest one that verifies,
 * rotation, removal, stale temporaries (include/nnmpi/checkpoint.h). Layer 4: libc and the
 * checkpoint unit; never calls MPI_* and never prints. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "checkpoint_header.h"
#include "fs.h"
#include "nnmpi/checkpoint.h"
#include "nnmpi/status.h"

enum { PATH_CAP = 1024 + 64 };

void nn_ckpt_name(int64_t step, char *buf, size_t cap) { snprintf(buf, cap, "ckpt-%08lld.h5", (long long)step); }

typedef struct ent {
  int64_t step;
  char name[64];
  const char *kind; /* NULL: a regular file; else its type ("a FIFO"): never opened, never removed */
} ent;

/* "ckpt-" + 8..18 digits + suffix, exactly. */
static int parse_name(const char *name, const char *suffix, int64_t *step) {
  if (strncmp(name, "ckpt-", 5) != 0) return 0;
  const char *p = name + 5;
  size_t digits = strspn(p, "0123456789");
  if (digits < 8 || digits > 18 || strcmp(p + digits, suffix) != 0) return 0;
  *step = strtoll(p, NULL, 10);
  return 1;
}

static int cmp_desc(const void *x, const void *y) {
  const ent *a = x, *b = y;
  return a->step < b->step ? 1 : a->step > b->step ? -1 : strcmp(b->name, a->name);
}

/* Lists the entries of dir matching suffix, newest step first. *n = -1 when dir is missing. */
static int list_dir(const char *dir, const char *suffix, ent **out, int *n) {
  *out = NULL;
  *n = 0;
  DIR *dp = opendir(dir);
  if (!dp) {
    if (errno == ENOENT) return *n = -1, NN_OK;
    return NN_FAIL(NN_ECKPT, "checkpoint directory %s: %s", dir, strerror(errno));
  }
  int cap = 0;
  struct dirent *e;
  int64_t step;
  while ((e = readdir(dp))) {
    if (!parse_name(e->d_name, suffix, &step) || strlen(e->d_name) >= sizeof(*out)->name) continue;
    if (*n == cap) {
      ent *t = realloc(*out, (size_t)(cap = cap ? 2 * cap : 16) * sizeof *t);
      if (!t) {
        closedir(dp);
        free(*out), *out = NULL;
        return NN_FAIL(NN_ENOMEM, "listing %s: out of memory", dir);
      }
      *out = t;
    }
    char path[PATH_CAP];
    struct stat st;
    snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
    if (stat(path, &st) < 0) continue; /* gone meanwhile */
    (*out)[*n].step = step;
    (*out)[*n].kind = S_ISREG(st.st_mode) ? NULL : nn_fs_kind(st.st_mode);
    memcpy((*out)[(*n)++].name, e->d_name, strlen(e->d_name) + 1);
  }
  closedir(dp);
  if (*n > 1) qsort(*out, (size_t)*n, sizeof **out, cmp_desc);
  return NN_OK;
}

int nn_ckpt_find_latest(const char *dir, char *path_out, size_t cap, char *skipped, size_t skipped_cap) {
  ent *e;
  int n, rc;
  char path[PATH_CAP];
  if (path_out && cap) path_out[0] = 0;
  if (skipped && skipped_cap) skipped[0] = 0;
  if ((rc = list_dir(dir, ".h5", &e, &n))) return rc;
  int files = 0; /* regular files: a FIFO or directory under a checkpoint name is no checkpoint */
  for (int i = 0; i < n; i++) {
    nn_ckpt_info info;
    if (e[i].kind) {
      if (skipped && skipped_cap)
        snprintf(skipped + strlen(skipped), skipped_cap - strlen(skipped),
                 "%s: is %s, not a checkpoint file (ignored)\n", e[i].name, e[i].kind);
      continue;
    }
    files++;
    snprintf(path, sizeof path, "%s/%s", dir, e[i].name);
    rc = nn_ckpt_load_info(path, &info);
    nn_ckpt_info_free(&info);
    if (rc == NN_OK && info.prog.step != e[i].step) /* copied or renamed: not the step it claims */
      rc = NN_FAIL(NN_ECKPT,
                   "its header records step %lld, its name step %lld (copied or renamed?); skipped, not removed",
                   (long long)info.prog.step, (long long)e[i].step);
    if (rc == NN_OK) {
      if (path_out && cap) snprintf(path_out, cap, "%s", path);
      free(e);
      return NN_OK;
    }
    if (skipped && skipped_cap)
      snprintf(skipped + strlen(skipped), skipped_cap - strlen(skipped), "%s: %s\n", e[i].name, nn_errmsg());
  }
  free(e);
  if (files == 0) return NN_OK;
  return NN_FAIL(NN_ECKPT, "%s: none of the %d checkpoint files verifies (move them away or use --resume never):\n%s",
                 dir, files, skipped ? skipped : "");
}

int nn_ckpt_rotate(const char *dir, int64_t written, int keep, int keep_every_epochs) {
  ent *e;
  int n, rc = NN_OK, kept = 0;
  char path[PATH_CAP];
  nn_ckpt_header h;
  if ((rc = list_dir(dir, ".h5", &e, &n))) return rc;
  for (int i = 0; i < n; i++) { /* newest first */
    /* the file just written and anything newer (another branch, a copy) is never touched, nor
     * a FIFO or directory under a checkpoint name */
    if (e[i].step >= written || e[i].kind) continue;
    snprintf(path, sizeof path, "%s/%s", dir, e[i].name);
    bool header = nn_ckpt_header_check(path, &h, false) == NN_OK;
    if (header && h.step != e[i].step) continue; /* not the step its name says: not ours to judge */
    if (header && kept < keep - 1) {             /* the newest keep, counting the one just written */
      kept++;
      continue;
    }
    if (header && keep_every_epochs > 0 && h.batch == 0 && h.epoch > 0 && h.epoch % keep_every_epochs == 0) continue;
    if (unlink(path) < 0 && errno != ENOENT && rc == NN_OK)
      rc = NN_FAIL(NN_ECKPT, "cannot remove old checkpoint %s: %s", path, strerror(errno));
  }
  free(e);
  return rc;
}

int nn_ckpt_supersede(const char *dir, int64_t step, const char *except, char *moved_to, size_t cap, int *moved,
                      int64_t *first, int64_t *last) {
  ent *e;
  int n, rc;
  char sub[PATH_CAP] = "", from[PATH_CAP], to[2 * PATH_CAP];
  struct stat keep_st, st;
  bool have_except = except && stat(except, &keep_st) == 0;
  *moved = 0, *first = *last = -1;
  if (moved_to && cap) moved_to[0] = 0;
  if ((rc = list_dir(dir, ".h5", &e, &n))) return rc;
  for (int i = n - 1; i >= 0 && rc == NN_OK; i--) { /* oldest first */
    if (e[i].step <= step || e[i].kind) continue;
    snprintf(from, sizeof from, "%s/%s", dir, e[i].name);
    if (have_except && stat(from, &st) == 0 && st.st_dev == keep_st.st_dev && st.st_ino == keep_st.st_ino) continue;
    if (!sub[0]) { /* the directory, once: superseded-<UTC time>[-k] */
      char stamp[32];
      time_t now = time(NULL);
      struct tm tm;
      gmtime_r(&now, &tm);
      strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &tm);
      for (int k = 1;; k++) {
        if (k == 1) snprintf(sub, sizeof sub, "%s/superseded-%s", dir, stamp);
        else snprintf(sub, sizeof sub, "%s/superseded-%s-%d", dir, stamp, k);
        if (mkdir(sub, 0777) == 0) break;
        if (errno != EEXIST || k == 100) {
          rc = NN_FAIL(NN_ECKPT, "cannot create %s to move newer checkpoints into: %s", sub, strerror(errno));
          break;
        }
      }
      if (rc) break;
    }
    snprintf(to, sizeof to, "%s/%s", sub, e[i].name);
    if (nn_fs_rename(from, to) < 0) {
      rc = NN_FAIL(NN_ECKPT, "cannot move %s to %s: %s", from, sub, strerror(errno));
      break;
    }
    if (*first < 0) *first = e[i].step;
    *last = e[i].step;
    ++*moved;
  }
  free(e);
  if (*moved > 0) {
    if (moved_to && cap) snprintf(moved_to, cap, "%s", sub);
    if (nn_fs_fsync_dir(dir) < 0 && rc == NN_OK)
      rc = NN_FAIL(NN_ECKPT, "moved %d checkpoint(s) to %s, but fsync of %s failed: %s", *moved, sub, dir,
                   strerror(errno));
  }
  return rc;
}

/* Removes the entries of dir matching suffix; *removed counts them. what names them in messages. */
static int remove_matching(const char *dir, const char *suffix, const char *what, int *removed) {
  ent *e;
  int n, rc, count = 0;
  char path[PATH_CAP];
  if ((rc = list_dir(dir, suffix, &e, &n))) return rc;
  for (int i = 0; i < n; i++) {
    snprintf(path, sizeof path, "%s/%s", dir, e[i].name);
    if (unlink(path) == 0) count++;
    else if (errno != ENOENT && rc == NN_OK) rc = NN_FAIL(NN_ECKPT, "%s %s: %s", what, path, strerror(errno));
  }
  free(e);
  if (removed) *removed = count;
  return rc;
}

int nn_ckpt_remove_all(const char *dir) { return remove_matching(dir, ".h5", "--force: cannot remove", NULL); }

int nn_ckpt_clean_tmp(const char *dir, int *removed) {
  if (removed) *removed = 0;
  return remove_matching(dir, ".h5.tmp", "cannot remove stale", removed);
}
