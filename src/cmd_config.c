/* cmd_config: `nnmpi config` (print the effective config or the key reference) and
 * nn_cli_load_config, the one way train, config and gradcheck build their config.
 * Layer 6: config + status; runs without MPI. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "nnmpi/config.h"
#include "nnmpi/status.h"

enum { MAX_CONFIG_BYTES = 16 << 20 };

/* Reads a whole text file into a malloc'ed NUL-terminated string (*text). A NUL byte or a
 * file over 16 MiB means it is not a config file; stops reading at the first sign of that. */
static int read_text(const char *path, char **text) {
  FILE *f = fopen(path, "rb");
  if (!f) return NN_FAIL(NN_ECONFIG, "cannot open config file %s: %s", path, strerror(errno));
  size_t n = 0, cap = 4096;
  char *buf = malloc(cap);
  int rc = buf ? NN_OK : NN_FAIL(NN_ENOMEM, "%s: out of memory", path);
  while (rc == NN_OK) {
    if (n + 1 == cap) {
      char *bigger = cap >= MAX_CONFIG_BYTES ? NULL : realloc(buf, cap *= 2);
      if (!bigger) {
        rc = NN_FAIL(NN_ECONFIG, "%s: larger than %d MiB; expected a text INI file", path, MAX_CONFIG_BYTES >> 20);
        break;
      }
      buf = bigger;
    }
    size_t got = fread(buf + n, 1, cap - 1 - n, f);
    const char *nul = memchr(buf + n, 0, got);
    if (nul) rc = NN_FAIL(NN_ECONFIG, "%s: NUL byte at offset %zu; expected a text INI file", path, (size_t)(nul - buf));
    n += got;
    if (got == 0 && rc == NN_OK) {
      if (ferror(f)) rc = NN_FAIL(NN_ECONFIG, "cannot read config file %s: %s", path, strerror(errno));
      break;
    }
  }
  fclose(f);
  if (rc) {
    free(buf);
    return rc;
  }
  buf[n] = 0;
  *text = buf;
  return NN_OK;
}

int nn_cli_load_config(struct nn_config *c, const char *path, int n_sets, char **sets) {
  nn_config_defaults(c);
  if (path) {
    char *text = NULL;
    int rc = read_text(path, &text);
    if (rc == NN_OK) rc = nn_config_parse(c, text, path);
    free(text);
    if (rc) return rc;
  }
  for (int i = 0; i < n_sets; i++) {
    int rc = nn_config_set(c, sets[i]);
    if (rc) return rc;
  }
  int rc = nn_config_validate(c);
  if (rc && path) nn_fail_prefix(rc, "%s%s: ", path, n_sets ? " with --set" : "");
  return rc;
}

static const char usage[] =
    "usage: nnmpi config [-c FILE] [--set section.key=value ...] [--doc]\n"
    "\n"
    "Prints the effective configuration as INI: the defaults, then FILE, then each --set in order,\n"
    "validated. The output can be used as a config file again.\n"
    "\n"
    "  -c, --config FILE   INI config file (default: built-in defaults, the spirals classifier)\n"
    "  --set S.K=V         override one key, e.g. --set optim.lr=0.05 (repeatable)\n"
    "  --doc               print the Markdown reference of every key instead (docs/config.md)\n"
    "  -h, --help          this text\n";

int nn_cmd_config(int argc, char **argv) {
  const char *path = NULL;
  bool doc = false;
  char **sets = malloc((size_t)(argc > 0 ? argc : 1) * sizeof *sets);
  int n_sets = 0, rc = NN_OK;
  if (!sets) return NN_FAIL(NN_ENOMEM, "out of memory");
  for (int i = 1; i < argc && rc == NN_OK; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
      fputs(usage, stdout);
      free(sets);
      return NN_OK;
    } else if (!strcmp(a, "--doc")) {
      doc = true;
    } else if (!strncmp(a, "--set=", 6)) {
      sets[n_sets++] = argv[i] + 6;
    } else if (!strncmp(a, "--config=", 9)) {
      path = a + 9;
    } else if (!strcmp(a, "-c") || !strcmp(a, "--config") || !strcmp(a, "--set")) {
      if (i + 1 >= argc) rc = NN_FAIL(NN_EINVAL, "%s needs an argument (see nnmpi config --help)", a);
      else if (!strcmp(a, "--set")) sets[n_sets++] = argv[++i];
      else path = argv[++i];
    } else {
      rc = NN_FAIL(NN_EINVAL, "unknown option '%s' (see nnmpi config --help)", a);
    }
  }
  if (rc == NN_OK && doc) {
    rc = nn_config_write_doc(stdout);
  } else if (rc == NN_OK) {
    nn_config c;
    rc = nn_cli_load_config(&c, path, n_sets, sets);
    if (rc == NN_OK) rc = nn_config_write(&c, stdout);
  }
  if (rc == NN_OK && fflush(stdout)) rc = NN_FAIL(NN_EIO, "writing to stdout failed");
  free(sets);
  return rc;
}
