/* cmd_eval: `nnmpi eval` and `nnmpi predict` — a checkpoint's model on a dataset split,
 * distributed over the ranks of the job. Layer 6. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "nnmpi/checkpoint.h"
#include "nnmpi/dataset.h"
#include "nnmpi/dist.h"
#include "nnmpi/eval.h"
#include "nnmpi/predictions.h"
#include "nnmpi/status.h"

static const char eval_help[] =
    "usage: [mpirun -np N] nnmpi eval --model CKPT [--data FILE:/split]\n"
    "\n"
    "Evaluates the model stored in checkpoint CKPT on a dataset split (default: the data.path and\n"
    "data.eval of the config stored in the checkpoint). Prints rows, mean loss and accuracy\n"
    "(classification) or MSE and MAE (regression). Each rank evaluates a contiguous part.\n"
    "Every option may be given once.\n";

static const char predict_help[] =
    "usage: [mpirun -np N] nnmpi predict --model CKPT [--data FILE:/split] --out PREDS.h5 [--force]\n"
    "\n"
    "Writes the model's outputs for every row of the split, in row order, to PREDS.h5:\n"
    "/outputs (N, K) float32 (probabilities for softmax/sigmoid outputs) and, for classifiers,\n"
    "/predicted (N) int32 class indices. See docs/formats.md.\n"
    "--out may not be the model or the data file (exit 2). An existing predictions file is\n"
    "replaced; any other existing file only with --force. Every option may be given once.\n";

typedef struct session {
  nn_config cfg;
  nn_net net;
  nn_optim opt;
  nn_loader ld;
  float *X, *Y;
  int32_t *y;
} session;

/* Rebuilds the model of the checkpoint and loads the split on every rank. */
static int open_session(session *s, const char *model, const char *data) {
  memset(s, 0, sizeof *s);
  char *text = NULL;
  int rc = nn_dist_rank() == 0 ? nn_ckpt_read_config(model, &text) : NN_OK;
  if ((rc = nn_dist_agree(rc))) return rc;
  if ((rc = nn_dist_bcast_string(&text))) return rc;
  nn_config_defaults(&s->cfg);
  rc = nn_config_parse(&s->cfg, text, model);
  free(text);
  if (rc) return nn_fail_prefix(NN_ECKPT, "config stored in the checkpoint: ");
  if (data && (rc = nn_dataset_parse_spec(data, "/test", s->cfg.data.path, sizeof s->cfg.data.path, s->cfg.data.eval,
                                          sizeof s->cfg.data.eval)))
    return rc;
  if (!s->cfg.data.eval[0]) snprintf(s->cfg.data.eval, sizeof s->cfg.data.eval, "/test");
  if ((rc = nn_loader_open_config(&s->ld, &s->cfg, "eval"))) return rc;
  rc = nn_net_init(&s->net, &s->cfg.model, NN_EVAL_CHUNK);
  if (!rc) rc = nn_optim_init(&s->opt, &s->cfg.optim, s->net.n_params);
  int D = s->net.sizes[0], K = s->net.sizes[s->net.n_layers];
  s->X = malloc(sizeof(float) * NN_EVAL_CHUNK * (size_t)(D + K));
  s->y = malloc(sizeof(int32_t) * NN_EVAL_CHUNK);
  if (!rc && (!s->X || !s->y)) rc = NN_FAIL(NN_ENOMEM, "batch buffers");
  if (!rc) s->Y = s->X + NN_EVAL_CHUNK * (size_t)D;
  nn_ckpt_data d = {NULL, &s->net, &s->opt, {0}};
  if (!rc) rc = nn_ckpt_read(model, &d);
  return nn_dist_agree(rc);
}

static void close_session(session *s) {
  nn_loader_close(&s->ld);
  nn_net_free(&s->net);
  nn_optim_free(&s->opt);
  free(s->X);
  free(s->y);
}

/* Options of eval (out == NULL) and predict (out and force). */
static int parse(int argc, char **argv, const char **model, const char **data, const char **out, bool *force) {
  bool seen[4] = {false, false, false, false};
  int rc = NN_OK;
  for (int i = 1; i < argc && !rc; i++) {
    const char *a = argv[i];
    if (force && !strcmp(a, "--force")) {
      if (!(rc = nn_cli_once(argv[0], a, &seen[3]))) *force = true;
      continue;
    }
    const char **slot = !strcmp(a, "--model")        ? model
                        : !strcmp(a, "--data")       ? data
                        : out && !strcmp(a, "--out") ? out
                                                     : NULL;
    if (!slot || i + 1 >= argc)
      return NN_FAIL(NN_EINVAL, "%s: unknown or incomplete option '%s' (see nnmpi %s --help)", argv[0], a, argv[0]);
    if (!(rc = nn_cli_once(argv[0], a, &seen[slot == model ? 0 : slot == data ? 1 : 2]))) *slot = argv[++i];
  }
  if (rc) return rc;
  if (!*model) return NN_FAIL(NN_EINVAL, "%s: --model CKPT is required", argv[0]);
  if (out && !*out) return NN_FAIL(NN_EINVAL, "%s: --out FILE is required", argv[0]);
  char file[NN_PATH_MAX], group[256];
  if ((rc = nn_cli_regular_input(argv[0], "--model", *model, NN_ECKPT))) return rc;
  if (*data && !nn_dataset_parse_spec(*data, "/test", file, sizeof file, group, sizeof group))
    rc = nn_cli_regular_input(argv[0], "--data", file, NN_EDATA);
  return rc;
}

/* predict's --out must not be one of its inputs, and replaces only a predictions file unless
 * --force: anything else already on disk is kept. */
static int check_out(const char *out, const char *model, const char *data, bool force) {
  struct stat so, si;
  if (stat(out, &so) != 0) return NN_OK; /* a new file (or a dangling link: rename replaces the link) */
  const char *opt[2] = {"--model", "--data"}, *in[2] = {model, data};
  for (int i = 0; i < 2; i++)
    if (in[i] && in[i][0] && stat(in[i], &si) == 0 && si.st_dev == so.st_dev && si.st_ino == so.st_ino)
      return NN_FAIL(NN_EINVAL,
                     "predict: --out %s is the same file as %s %s, which the predictions would replace; "
                     "choose another output file",
                     out, opt[i], in[i]);
  if (!force && !nn_predictions_is_file(out))
    return NN_FAIL(NN_EINVAL,
                   "predict: --out %s exists and is not an nnmpi predictions file; use --force to replace "
                   "it, or choose another output file",
                   out);
  return NN_OK;
}

int nn_cmd_eval(int argc, char **argv) {
  if (nn_cli_wants_help(argc, argv)) return fputs(eval_help, stdout), NN_OK;
  const char *model = NULL, *data = NULL;
  int rc = parse(argc, argv, &model, &data, NULL, NULL);
  if (!rc) rc = nn_dist_init(&argc, &argv);
  if (rc) return rc;
  session s;
  nn_eval_result e;
  rc = open_session(&s, model, data);
  if (!rc) rc = nn_evaluate(&s.net, &s.ld, s.X, s.y, s.Y, &e);
  if (!rc && nn_dist_rank() == 0) {
    printf("model %s\ndata %s:%s (%lld rows)\n", model, s.cfg.data.path[0] ? s.cfg.data.path : "built-in synthetic",
           s.cfg.data.eval, (long long)e.rows);
    if (s.ld.y) printf("loss %.6f\naccuracy %.4f\n", e.loss, e.acc);
    else printf("loss %.6f\nmse %.6g\nmae %.6g\n", e.loss, e.mse, e.mae);
  }
  close_session(&s);
  return rc;
}

int nn_cmd_predict(int argc, char **argv) {
  if (nn_cli_wants_help(argc, argv)) return fputs(predict_help, stdout), NN_OK;
  const char *model = NULL, *data = NULL, *out = NULL;
  bool force = false;
  int rc = parse(argc, argv, &model, &data, &out, &force);
  if (!rc) rc = nn_dist_init(&argc, &argv);
  if (rc) return rc;
  session s;
  float *mine = NULL, *all = NULL;
  rc = open_session(&s, model, data);
  if (!rc) rc = nn_dist_agree(nn_dist_rank() == 0 ? check_out(out, model, s.cfg.data.path, force) : NN_OK);
  int64_t lo = 0, hi = 0, N = s.ld.info.n;
  int K = s.net.sizes[s.net.n_layers];
  if (!rc && N * K > INT_MAX)
    rc = NN_FAIL(NN_EINVAL, "predict: %lld rows x %d outputs exceed the %d values one gather can move; "
                            "predict a smaller split", (long long)N, K, INT_MAX);
  if (!rc) {
    nn_eval_range(&s.ld, &lo, &hi);
    mine = malloc(sizeof(float) * (size_t)((hi - lo) * K + 1));
    if (nn_dist_rank() == 0) all = malloc(sizeof(float) * (size_t)(N * K + 1));
    if (!mine || (nn_dist_rank() == 0 && !all)) rc = NN_FAIL(NN_ENOMEM, "predictions of %lld rows", (long long)N);
  }
  if ((rc = nn_dist_agree(rc))) goto out;
  uint32_t idx[NN_EVAL_CHUNK];
  for (int64_t i = lo; i < hi;) {
    int n = (int)(hi - i < NN_EVAL_CHUNK ? hi - i : NN_EVAL_CHUNK);
    for (int j = 0; j < n; j++) idx[j] = (uint32_t)(i + j);
    nn_loader_gather(&s.ld, idx, n, s.X, s.ld.y ? s.y : NULL, s.ld.y ? NULL : s.Y);
    memcpy(mine + (i - lo) * K, nn_net_forward(&s.net, s.X, n), sizeof(float) * (size_t)n * K);
    i += n;
  }
  rc = nn_dist_gather_f32(mine, (hi - lo) * K, all);
  if (!rc && nn_dist_rank() == 0) {
    char spec[2 * NN_PATH_MAX];
    snprintf(spec, sizeof spec, "%s:%s", s.cfg.data.path, s.cfg.data.eval);
    rc = nn_predictions_write(out, N, K, all, s.ld.y != NULL, model, spec);
    if (!rc) printf("wrote %s: %lld rows x %d outputs\n", out, (long long)N, K);
  }
  rc = nn_dist_agree(rc);
out:
  free(mine);
  free(all);
  close_session(&s);
  return rc;
}
