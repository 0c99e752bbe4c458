/* cmd_data: `nnmpi data import-idx | import-csv | synth` — option parsing and the result line;
 * the work is in the importers (include/nnmpi/import.h).
 * Layer 6: no MPI calls; prints help and results to stdout. */
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "nnmpi/import.h"
#include "nnmpi/status.h"
#include "nnmpi/synth.h"

static const char usage[] =
    "usage: nnmpi data <import-idx | import-csv | synth> [options]\n"
    "\n"
    "Write nnmpi dataset files (HDF5, one group per split; format in docs/formats.md).\n"
    "Imports stream in blocks of about 1 MiB, so memory does not grow with the input.\n"
    "\n"
    "nnmpi data import-idx --images F --labels F --out FILE.h5 [--split /train] [--append]\n"
    "                      [--num-classes 10] [--class-names a,b,...]\n"
    "    MNIST / Fashion-MNIST IDX files, gzip-compressed or plain. X is stored as uint8 with\n"
    "    scale 1/255 (x = v/255), labels as int32 y. --append adds the split to an existing file\n"
    "    (import /train, then /test with --append); without it FILE.h5 is replaced.\n"
    "\n"
    "nnmpi data import-csv --in F.csv --out FILE.h5 [--split /train] [--append] [--header]\n"
    "                      (--label-col N [--num-classes K] [--class-names a,b,...] | --target-cols a,b,...)\n"
    "    Numeric comma-separated values, one row per line, blank lines skipped. Columns are\n"
    "    numbered from 1; negative numbers count from the end (-1 is the last column). The label\n"
    "    column holds integer classes 0..K-1 (K defaults to the largest label + 1); target columns\n"
    "    are float regression targets Y. All other columns are the features X (float32).\n"
    "\n"
    "nnmpi data synth --kind spirals|rings|blobs|teacher --n N --out FILE.h5 [--n-test M]\n"
    "                 [--seed S] [--classes K] [--dim D] [--noise x]\n"
    "    Synthetic data: /train (N rows) and /test (M rows, default N/5; 0 = none).\n"
    "      spirals  2-D interleaved spirals, K arms (default 2), noise 0.05; needs a hidden layer\n"
    "      rings    2-D concentric rings, K rings (default 2), noise 0.08\n"
    "      blobs    K Gaussian blobs (default 3) in D dims (default 2), blob std 1.0\n"
    "      teacher  regression: K targets (default 2) = a fixed random 2-layer tanh network of\n"
    "               D-dim Gaussian inputs (default 8), plus noise 0.01\n"
    "\n"
    "Every option may be given once; numbers are decimal.\n"
    "Exit codes: 0 done, 2 usage error, 3 data error (bad input file), 1 other failures.\n";

static int parse_int(const char *cmd, const char *opt, const char *s, long long lo, long long hi, long long *v) {
  char *end;
  long long x = strtoll(s, &end, 10);
  if (end == s || *end || x < lo || x > hi)
    return NN_FAIL(NN_EINVAL, "data %s: %s '%s', expected an integer in %lld..%lld", cmd, opt, s, lo, hi);
  *v = x;
  return NN_OK;
}

int nn_cmd_data(int argc, char **argv) {
  enum { O_IMAGES = 256, O_LABELS, O_OUT, O_SPLIT, O_APPEND, O_NCLASS, O_NAMES, O_IN, O_HEADER, O_LABEL, O_TARGETS,
         O_KIND, O_N, O_NTEST, O_SEED, O_CLASSES, O_DIM, O_NOISE };
  /* opts is in the order of the enum: seen[] below is indexed by it */
  static const struct option opts[] = {
      {"images", 1, 0, O_IMAGES},  {"labels", 1, 0, O_LABELS},     {"out", 1, 0, O_OUT},
      {"split", 1, 0, O_SPLIT},    {"append", 0, 0, O_APPEND},     {"num-classes", 1, 0, O_NCLASS},
      {"class-names", 1, 0, O_NAMES}, {"in", 1, 0, O_IN},          {"header", 0, 0, O_HEADER},
      {"label-col", 1, 0, O_LABEL}, {"target-cols", 1, 0, O_TARGETS}, {"kind", 1, 0, O_KIND},
      {"n", 1, 0, O_N},            {"n-test", 1, 0, O_NTEST},      {"seed", 1, 0, O_SEED},
      {"classes", 1, 0, O_CLASSES}, {"dim", 1, 0, O_DIM},          {"noise", 1, 0, O_NOISE},
      {"help", 0, 0, 'h'},         {0, 0, 0, 0}};
  if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || nn_cli_wants_help(argc, argv)) {
    fputs(usage, stdout);
    return argc < 2 ? NN_FAIL(NN_EINVAL, "data: expected a subcommand: import-idx, import-csv or synth") : NN_OK;
  }
  const char *cmd = argv[1];
  int is_idx = !strcmp(cmd, "import-idx"), is_csv = !strcmp(cmd, "import-csv"), is_synth = !strcmp(cmd, "synth");
  if (!is_idx && !is_csv && !is_synth)
    return NN_FAIL(NN_EINVAL, "data: unknown subcommand '%s', expected import-idx, import-csv or synth (see nnmpi data --help)", cmd);
  const char *images = NULL, *labels = NULL, *out = NULL, *split = "/train", *names = NULL, *in = NULL;
  const char *targets = NULL, *kind = NULL;
  long long ncls = 0, label_col = 0, n = 0, n_test = -1, seed = 1, classes = 0, dim = 0;
  float noise = -1.0f;
  bool append = false, header = false;
  int c, rc = NN_OK;
  bool seen[O_NOISE - O_IMAGES + 1] = {false};
  optind = 1, opterr = 0;
  while (!rc && (c = getopt_long(argc - 1, argv + 1, ":h", opts, NULL)) != -1) {
    if (c >= O_IMAGES && c <= O_NOISE) { /* every option of `data` may be given once */
      char opt[32];
      snprintf(opt, sizeof opt, "--%s", opts[c - O_IMAGES].name);
      if ((rc = nn_cli_once("data", opt, &seen[c - O_IMAGES]))) break;
    }
    switch (c) {
    case O_IMAGES: images = optarg; break;
    case O_LABELS: labels = optarg; break;
    case O_OUT: out = optarg; break;
    case O_SPLIT: split = optarg; break;
    case O_APPEND: append = true; break;
    case O_NAMES: names = optarg; break;
    case O_IN: in = optarg; break;
    case O_HEADER: header = true; break;
    case O_TARGETS: targets = optarg; break;
    case O_KIND: kind = optarg; break;
    case O_NCLASS: rc = parse_int(cmd, "--num-classes", optarg, 1, INT_MAX, &ncls); break;
    case O_LABEL: rc = parse_int(cmd, "--label-col", optarg, INT_MIN, INT_MAX, &label_col); break;
    case O_N: rc = parse_int(cmd, "--n", optarg, 1, INT64_MAX / 2, &n); break;
    case O_NTEST: rc = parse_int(cmd, "--n-test", optarg, 0, INT64_MAX / 2, &n_test); break;
    case O_SEED: rc = parse_int(cmd, "--seed", optarg, 0, LLONG_MAX, &seed); break;
    case O_CLASSES: rc = parse_int(cmd, "--classes", optarg, 1, 100000, &classes); break;
    case O_DIM: rc = parse_int(cmd, "--dim", optarg, 1, 1000000, &dim); break;
    case O_NOISE: {
      char *end;
      noise = strtof(optarg, &end);
      if (end == optarg || *end || !(noise >= 0) || strpbrk(optarg, "xX"))
        rc = NN_FAIL(NN_EINVAL, "data %s: --noise '%s', expected a number >= 0", cmd, optarg);
      break;
    }
    case ':': rc = NN_FAIL(NN_EINVAL, "data %s: option %s needs a value", cmd, argv[optind]); break;
    default: rc = NN_FAIL(NN_EINVAL, "data %s: unknown option '%s' (see nnmpi data --help)", cmd, argv[optind]); break;
    }
  }
  if (rc) return rc;
  if (optind < argc - 1) return NN_FAIL(NN_EINVAL, "data %s: unexpected argument '%s'", cmd, argv[optind + 1]);
  if (!out) return NN_FAIL(NN_EINVAL, "data %s: --out FILE.h5 is required", cmd);
  nn_import_result res;
  if (is_idx) {
    if (!images || !labels) return NN_FAIL(NN_EINVAL, "data import-idx: --images and --labels are required");
    if ((rc = nn_import_idx(images, labels, out, split, append, ncls ? (int)ncls : 10, names, &res))) return rc;
    printf("wrote %s:%s: %lld rows, X (%lld, %d) uint8 (x = v/255), y int32, %d classes\n", out, split,
           (long long)res.rows, (long long)res.rows, res.d, res.num_classes);
  } else if (is_csv) {
    if (!in) return NN_FAIL(NN_EINVAL, "data import-csv: --in F.csv is required");
    if (label_col == 0 && targets == NULL)
      return NN_FAIL(NN_EINVAL, "data import-csv: give --label-col N (classes) or --target-cols a,b,... (regression)");
    nn_csv_options o = {header, (int)label_col, targets, (int)ncls, names};
    if ((rc = nn_import_csv(in, out, split, append, &o, &res))) return rc;
    if (res.k)
      printf("wrote %s:%s: %lld rows, X (%lld, %d) float32, Y (%lld, %d) float32\n", out, split, (long long)res.rows,
             (long long)res.rows, res.d, (long long)res.rows, res.k);
    else
      printf("wrote %s:%s: %lld rows, X (%lld, %d) float32, y int32, %d classes\n", out, split, (long long)res.rows,
             (long long)res.rows, res.d, res.num_classes);
  } else {
    if (!kind || n < 1) return NN_FAIL(NN_EINVAL, "data synth: --kind and --n are required");
    if (n_test < 0) n_test = n / 5 ? n / 5 : 1;
    int d = (int)dim, k = (int)classes;
    bool cls;
    if ((rc = nn_synth_resolve(kind, &d, &k, &noise, &cls))) return rc;
    if ((rc = nn_synth_write(out, kind, (uint64_t)seed, n, n_test, d, k, noise))) return rc;
    printf("wrote %s: %s, /train %lld rows, /test %lld rows, X (., %d) float32, %s %d, noise %g, seed %lld\n", out, kind,
           n, n_test, d, cls ? "y int32, classes" : "Y float32, targets", k, (double)noise, seed);
  }
  return NN_OK;
}
