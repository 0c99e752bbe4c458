/* cmd_gradcheck: `nnmpi gradcheck` — finite differences vs backprop on the configured network.
 * Layer 6; runs on one process without MPI. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "nnmpi/config.h"
#include "nnmpi/gradcheck.h"
#include "nnmpi/status.h"

static const char gradcheck_help[] =
    "usage: nnmpi gradcheck [-c CONFIG] [--set section.key=value ...] [--batch B] [--samples N]\n"
    "                       [--tolerance T]\n"
    "\n"
    "Builds the network of CONFIG (default: the built-in spirals model) with random weights and\n"
    "random inputs and targets, and compares backprop's gradient with central finite differences\n"
    "of an independent double-precision forward pass. Prints, per layer, the relative error\n"
    "|g_bp - g_fd| / (|g_bp| + |g_fd|) over the checked parameters; exits 1 when any layer exceeds\n"
    "the tolerance or has a trivially zero gradient.\n"
    "\n"
    "  --batch B       rows of random data (default 8)\n"
    "  --samples N     parameters checked per layer, spread over W and b (default 200; 0 = all)\n"
    "  --tolerance T   largest accepted relative error (default 1e-3)\n"
    "Every option but --set may be given once. Numbers are decimal.\n";

int nn_cmd_gradcheck(int argc, char **argv) {
  if (nn_cli_wants_help(argc, argv)) {
    fputs(gradcheck_help, stdout);
    return NN_OK;
  }
  const char *cfg_path = NULL;
  char **sets = calloc((size_t)argc, sizeof *sets);
  int n_sets = 0, batch = 8, samples = 200, rc = NN_OK;
  double tol = 1e-3;
  bool seen[4] = {false, false, false, false}; /* -c, --batch, --samples, --tolerance */
  if (!sets) return NN_FAIL(NN_ENOMEM, "gradcheck: out of memory");
  for (int i = 1; i < argc && !rc; i++) {
    const char *a = argv[i];
    char *end = NULL;
    bool has_val = i + 1 < argc;
    int once = !strcmp(a, "-c") || !strcmp(a, "--config") ? 0
               : !strcmp(a, "--batch")                    ? 1
               : !strcmp(a, "--samples")                  ? 2
               : !strcmp(a, "--tolerance")                ? 3
                                                          : -1;
    if (once >= 0 && has_val && (rc = nn_cli_once("gradcheck", a, &seen[once]))) break;
    if (once == 0 && has_val) cfg_path = argv[++i];
    else if (!strcmp(a, "--set") && has_val) sets[n_sets++] = argv[++i];
    else if (once == 1 && has_val && (batch = (int)strtol(argv[++i], &end, 10)) > 0 && !*end) {
    } else if (once == 2 && has_val && (samples = (int)strtol(argv[++i], &end, 10)) >= 0 && !*end) {
    } else if (once == 3 && has_val && !strpbrk(argv[i + 1], "xX") && (tol = strtod(argv[++i], &end)) > 0 && !*end) {
    } else rc = NN_FAIL(NN_EINVAL, "gradcheck: bad or unknown option '%s' (see nnmpi gradcheck --help)", a);
  }
  nn_config cfg;
  if (!rc) rc = nn_config_load(&cfg, cfg_path, n_sets, sets);
  free(sets);
  if (rc) return rc;
  nn_gradcheck_layer res[NN_MAX_LAYERS];
  double worst = 0;
  if ((rc = nn_gradcheck_spec(&cfg.model, batch, cfg.model.seed, samples, res, &worst))) return rc;
  int bad = 0;
  printf("gradcheck: %d layers, batch %d, tolerance %g\n", cfg.model.n_sizes - 1, batch, tol);
  printf("  layer  shape        checked  rel_err     max_abs     |g_fd|\n");
  for (int l = 0; l < cfg.model.n_sizes - 1; l++) {
    bool trivial = res[l].ref_norm < 1e-6, fail = res[l].rel_err > tol || trivial;
    bad += fail;
    printf("  %5d  %4dx%-6d  %7d  %.3e   %.3e   %.3e%s\n", l, cfg.model.sizes[l], cfg.model.sizes[l + 1],
           res[l].checked, res[l].rel_err, res[l].max_abs, res[l].ref_norm,
           trivial ? "  FAIL (trivially zero gradient)" : fail ? "  FAIL" : "");
  }
  if (bad) return NN_FAIL(NN_ENUMERIC, "gradient check failed in %d layer(s): worst relative error %.3e > %g", bad,
                          worst, tol);
  printf("gradcheck passed: worst relative error %.3e\n", worst);
  return NN_OK;
}
