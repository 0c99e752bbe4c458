/* cmd_config: `nnmpi config` — prints the effective config or the key reference.
 * Layer 6: config + status; runs without MPI. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "nnmpi/config.h"
#include "nnmpi/status.h"

static const char usage[] =
    "usage: nnmpi config [-c FILE] [--set section.key=value ...] [--doc]\n"
    "\n"
    "Prints the effective configuration as INI: the defaults, then FILE, then each --set in order,\n"
    "validated. The output can be used as a config file again.\n"
    "\n"
    "  -c, --config FILE   INI config file (default: built-in defaults, the spirals classifier)\n"
    "  --set S.K=V         override one key, e.g. --set optim.lr=0.05 (repeatable)\n"
    "  --doc               print the Markdown reference of every key instead (docs/config.md)\n"
    "  -h, --help          this text\n"
    "Every option but --set may be given once.\n";

int nn_cmd_config(int argc, char **argv) {
  const char *path = NULL;
  bool doc = false, seen_c = false, seen_doc = false;
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
      if (!(rc = nn_cli_once("config", a, &seen_doc))) doc = true;
    } else if (!strncmp(a, "--set=", 6)) {
      sets[n_sets++] = argv[i] + 6;
    } else if (!strncmp(a, "--config=", 9)) {
      if (!(rc = nn_cli_once("config", "--config", &seen_c))) path = a + 9;
    } else if (!strcmp(a, "-c") || !strcmp(a, "--config") || !strcmp(a, "--set")) {
      if (i + 1 >= argc) rc = NN_FAIL(NN_EINVAL, "%s needs an argument (see nnmpi config --help)", a);
      else if (!strcmp(a, "--set")) sets[n_sets++] = argv[++i];
      else if (!(rc = nn_cli_once("config", a, &seen_c))) path = argv[++i];
    } else {
      rc = NN_FAIL(NN_EINVAL, "unknown option '%s' (see nnmpi config --help)", a);
    }
  }
  if (rc == NN_OK && doc) {
    rc = nn_config_write_doc(stdout);
  } else if (rc == NN_OK) {
    nn_config c;
    rc = nn_config_load(&c, path, n_sets, sets);
    if (rc == NN_OK) rc = nn_config_write(&c, stdout);
  }
  if (rc == NN_OK && fflush(stdout)) rc = NN_FAIL(NN_EIO, "writing to stdout failed");
  free(sets);
  return rc;
}
