/* test_config: the config module — defaults, INI parsing and its error messages, --set,
 * validation, write/parse round trips, the checkpoint-state diff, the example configs, and
 * that docs/config.md is the generated reference (NN_UPDATE_DOCS=1 rewrites it). */
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "nnmpi/config.h"
#include "nnmpi/status.h"
#include "nnmpi/version.h"
#include "testutil.h"

/* Parses text on top of the defaults as "t.ini"; returns the status. */
static int parse(nn_config *c, const char *text) {
  nn_config_defaults(c);
  return nn_config_parse(c, text, "t.ini");
}

/* Expects parse(text) to fail with NN_ECONFIG and a message containing each of the needles. */
static void expect_parse_error(const char *text, const char *n1, const char *n2, const char *n3) {
  nn_config c;
  int rc = parse(&c, text);
  if (rc != NN_ECONFIG) fail_msg("expected NN_ECONFIG for \"%s\", got %d (%s)", text, rc, nn_errmsg());
  tu_assert_contains(nn_errmsg(), n1);
  if (n2) tu_assert_contains(nn_errmsg(), n2);
  if (n3) tu_assert_contains(nn_errmsg(), n3);
}

/* Expects defaults + the --set list to fail validation (or --set) with a message containing needle. */
static void expect_invalid(const char *const *sets, const char *needle) {
  nn_config c;
  nn_config_defaults(&c);
  int rc = NN_OK;
  for (int i = 0; sets[i] && rc == NN_OK; i++) rc = nn_config_set(&c, sets[i]);
  if (rc == NN_OK) rc = nn_config_validate(&c);
  if (rc != NN_ECONFIG) fail_msg("expected NN_ECONFIG for %s ..., got %d", sets[0], rc);
  tu_assert_contains(nn_errmsg(), needle);
}

static void expect_valid(const char *const *sets) {
  nn_config c;
  nn_config_defaults(&c);
  for (int i = 0; sets[i]; i++) assert_int_equal(nn_config_set(&c, sets[i]), NN_OK);
  if (nn_config_validate(&c)) fail_msg("%s ...: %s", sets[0], nn_errmsg());
}

static void test_defaults(void **state) {
  (void)state;
  nn_config c;
  nn_config_defaults(&c);
  assert_int_equal(nn_config_validate(&c), NN_OK);
  assert_int_equal(c.model.n_sizes, 4);
  assert_int_equal(c.model.sizes[0], 2), assert_int_equal(c.model.sizes[1], 64), assert_int_equal(c.model.sizes[3], 2);
  assert_int_equal(c.model.hidden, NN_ACT_RELU);
  assert_int_equal(c.model.output, NN_ACT_SOFTMAX);
  assert_int_equal(c.model.loss, NN_LOSS_CROSS_ENTROPY);
  assert_true(c.model.leaky_slope == 0.01f);
  assert_int_equal(c.model.init, NN_INIT_AUTO);
  assert_int_equal(c.model.seed, 1);
  assert_string_equal(c.data.path, "");
  assert_string_equal(c.data.train, "/train");
  assert_string_equal(c.data.eval, "/test");
  assert_string_equal(c.data.synth, "spirals");
  assert_int_equal(c.data.sampling, NN_SAMPLING_GLOBAL);
  assert_int_equal(c.data.synth_samples, 4000);
  assert_int_equal(c.data.ranks_per_node, 0);
  assert_int_equal(c.train.epochs, 30);
  assert_int_equal(c.train.batch_size, 64);
  assert_false(c.train.drop_last);
  assert_int_equal(c.train.max_steps, 0);
  assert_int_equal(c.train.eval_every, 1);
  assert_int_equal(c.train.blas_threads, 1);
  assert_int_equal(c.train.watchdog_seconds, 300);
  assert_int_equal(c.optim.name, NN_OPT_ADAM);
  assert_true(c.optim.lr == 0.01f && c.optim.momentum == 0.9f && c.optim.beta1 == 0.9f);
  assert_true(c.optim.beta2 == 0.999f && c.optim.eps == 1e-8f && c.optim.weight_decay == 0);
  assert_true(c.optim.clip_norm == 0 && c.optim.gamma == 0.5f && c.optim.min_lr == 0);
  assert_int_equal(c.optim.schedule, NN_SCHED_CONSTANT);
  assert_int_equal(c.optim.step_size, 1000);
  assert_int_equal(c.optim.warmup_steps, 0);
  assert_string_equal(c.checkpoint.dir, "");
  assert_int_equal(c.checkpoint.every_steps, 0);
  assert_true(c.checkpoint.every_seconds == 0);
  assert_true(c.checkpoint.every_epoch && c.checkpoint.at_end && !c.checkpoint.continue_on_error);
  assert_int_equal(c.checkpoint.keep, 3);
  assert_int_equal(c.checkpoint.keep_every_epochs, 0);
  assert_string_equal(c.log.run_dir, "runs/default");
  assert_int_equal(c.log.every_steps, 50);
  assert_int_equal(c.log.progress, NN_PROGRESS_AUTO);
  assert_string_equal(nn_act_name(NN_ACT_LEAKY_RELU), "leaky_relu");
  assert_string_equal(nn_loss_name(NN_LOSS_BCE), "bce");
  assert_string_equal(nn_optim_name(NN_OPT_ADAMW), "adamw");
}

static void test_parse_syntax(void **state) {
  (void)state;
  nn_config c, d;
  nn_config_defaults(&d);
  assert_int_equal(parse(&c, ""), NN_OK); /* empty text: the defaults */
  assert_memory_equal(&c, &d, sizeof c);
  assert_int_equal(parse(&c, "; only\n# comments\n\n   \n"), NN_OK);
  assert_memory_equal(&c, &d, sizeof c);
  const char *text =
      "\xEF\xBB\xBF; a comment\r\n"
      "# another comment\n"
      "[model]\n"
      "  layers = 784, 256 ,128,10   ; inline comment\n"
      "\thidden_activation=Tanh\n"
      "output_activation :softmax   # hash comment too\n"
      "\n"
      "[optim]\r\n"
      "   lr    =    0.05\r\n"
      "name = SGD\n"
      "[data]\n"
      "path = data/my file.h5\n"
      "eval =\n"
      "[train]\n"
      "drop_last = yes\n"
      "[checkpoint]\n"
      "at_end = off\n"
      "every_epoch = 0\n"
      "continue_on_error = ON\n"
      "[model]\n"
      "seed = 18446744073709551615\n";
  if (parse(&c, text)) fail_msg("%s", nn_errmsg());
  assert_int_equal(c.model.n_sizes, 4);
  assert_int_equal(c.model.sizes[0], 784), assert_int_equal(c.model.sizes[2], 128), assert_int_equal(c.model.sizes[3], 10);
  assert_int_equal(c.model.hidden, NN_ACT_TANH);
  assert_int_equal(c.model.output, NN_ACT_SOFTMAX);
  assert_true(c.optim.lr == 0.05f);
  assert_int_equal(c.optim.name, NN_OPT_SGD);
  assert_string_equal(c.data.path, "data/my file.h5");
  assert_string_equal(c.data.eval, "");
  assert_true(c.train.drop_last && !c.checkpoint.at_end && !c.checkpoint.every_epoch && c.checkpoint.continue_on_error);
  assert_true(c.model.seed == UINT64_MAX);
  assert_int_equal(c.train.epochs, 30); /* untouched keys keep their defaults */
  /* parsing on top of a config keeps what the text does not mention */
  assert_int_equal(nn_config_parse(&c, "[train]\nepochs = 7\n", "second"), NN_OK);
  assert_int_equal(c.train.epochs, 7);
  assert_int_equal(c.model.sizes[0], 784);
}

static void test_parse_errors(void **state) {
  (void)state;
  expect_parse_error("[model]\nlayers = 2,3\n[foo]\n", "t.ini:3:", "unknown section \"[foo]\"", "model, data");
  expect_parse_error("[model]\n[Model]\nseed=1\n", "t.ini:2:", "unknown section", NULL);
  expect_parse_error("[optim]\nlrr = 0.1\n", "t.ini:2:", "unknown key \"lrr\" in [optim]", "did you mean optim.lr?");
  expect_parse_error("[optim]\nbatch_size = 1\n", "t.ini:2:", "batch_size", "did you mean train.batch_size?");
  expect_parse_error("[model]\nzzzzzzzz = 1\n", "t.ini:2:", "unknown key \"zzzzzzzz\"", NULL);
  expect_parse_error("\nlr = 0.1\n", "t.ini:2:", "\"lr\" outside any section", NULL);
  expect_parse_error("[optim]\nlr = 0.1x\n", "t.ini:2:", "optim.lr: expected a number, got \"0.1x\"", NULL);
  expect_parse_error("[optim]\nlr = \n", "t.ini:2:", "optim.lr: expected a number, got \"\"", NULL);
  expect_parse_error("[optim]\nlr = 0x10\n", "t.ini:2:", "optim.lr: expected a decimal number, got \"0x10\"", NULL);
  expect_parse_error("[optim]\nlr = nan\n", "t.ini:2:", "optim.lr: expected a finite number", NULL);
  expect_parse_error("[optim]\nlr = -inf\n", "t.ini:2:", "optim.lr: expected a finite number", NULL);
  expect_parse_error("[optim]\nlr = 1e39\n", "t.ini:2:", "optim.lr", "out of range");
  expect_parse_error("[checkpoint]\nevery_seconds = 1e400\n", "t.ini:2:", "checkpoint.every_seconds", "out of range for a double");
  expect_parse_error("[train]\nbatch_size = 99999999999\n", "t.ini:2:", "train.batch_size", "out of range");
  expect_parse_error("[train]\nmax_steps = 99999999999999999999\n", "t.ini:2:", "train.max_steps", "out of range");
  expect_parse_error("[train]\nbatch_size = 12.5\n", "t.ini:2:", "train.batch_size: expected an integer", "12.5");
  expect_parse_error("[model]\nseed = -1\n", "t.ini:2:", "model.seed: expected an integer", NULL);
  expect_parse_error("[optim]\nlr = 0\n", "t.ini:2:", "optim.lr: expected a number > 0, got \"0\"", NULL);
  expect_parse_error("[optim]\nbeta1 = 1\n", "t.ini:2:", "optim.beta1: expected a number 0 <= x < 1", NULL);
  expect_parse_error("[optim]\neps = 0\n", "t.ini:2:", "optim.eps: expected a number > 0", NULL);
  expect_parse_error("[train]\nbatch_size = 0\n", "t.ini:2:", "train.batch_size: expected an integer >= 1", NULL);
  expect_parse_error("[checkpoint]\nkeep = 0\n", "t.ini:2:", "checkpoint.keep: expected an integer >= 1", NULL);
  expect_parse_error("[train]\nblas_threads = 5000\n", "t.ini:2:", "1 <= x <= 1024", NULL);
  expect_parse_error("[model]\nhidden_activation = relu6\n", "t.ini:2:",
                     "model.hidden_activation: expected one of sigmoid, tanh, relu, leaky_relu, linear, softmax", "relu6");
  expect_parse_error("[optim]\nschedule = linear\n", "t.ini:2:", "constant, step, cosine", NULL);
  expect_parse_error("[data]\nsynth = moons\n", "t.ini:2:", "data.synth: expected one of spirals, rings, blobs, teacher", NULL);
  expect_parse_error("[train]\ndrop_last = maybe\n", "t.ini:2:", "train.drop_last: expected true or false", NULL);
  expect_parse_error("[optim]\nlr = 0.1\n\n[model]\nseed = 2\n[optim]\nlr = 0.2\n", "t.ini:7:",
                     "optim.lr given twice (first on line 2)", NULL);
  /* layer lists */
  expect_parse_error("[model]\nlayers = 784,,10\n", "t.ini:2:", "model.layers: entry 2", "not an integer");
  expect_parse_error("[model]\nlayers = 784,10,abc\n", "t.ini:2:", "model.layers: entry 3", "not an integer");
  expect_parse_error("[model]\nlayers = 784\n", "t.ini:2:", "model.layers", "expected at least 2");
  expect_parse_error("[model]\nlayers = 784,0,10\n", "t.ini:2:", "model.layers: entry 2", "is 0, expected");
  expect_parse_error("[model]\nlayers = 784,-3,10\n", "t.ini:2:", "is -3", NULL);
  expect_parse_error("[model]\nlayers = 784,10,\n", "t.ini:2:", "entry 3", NULL);
  expect_parse_error("[model]\nlayers = 1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18\n", "t.ini:2:", "model.layers",
                     "more than 17 sizes");
  expect_parse_error("[model]\nlayers = 10,99999999999\n", "t.ini:2:", "entry 2", NULL);
  /* inih syntax errors, and only the first error is reported */
  expect_parse_error("[model\nseed = 1\n", "t.ini:1:", "expected [section], key = value or a comment", "\"[model\"");
  expect_parse_error("[model]\nseed = 1\njust words\n", "t.ini:3:", "\"just words\"", NULL);
  expect_parse_error("[optim]\nlr = x\nbeta1 = y\n", "t.ini:2:", "optim.lr", NULL);
  assert_null(strstr(nn_errmsg(), "beta1"));
  expect_parse_error("[optim]\nno value here\nlr = x\n", "t.ini:2:", "no value here", NULL);
  assert_null(strstr(nn_errmsg(), "optim.lr"));
  /* an indented key is a key, not a continuation of the previous value */
  nn_config c;
  assert_int_equal(parse(&c, "[optim]\nlr = 0.5\n    lr = 0.25\n"), NN_ECONFIG);
  tu_assert_contains(nn_errmsg(), "t.ini:3: optim.lr given twice");
  /* a failed parse leaves the config as it was */
  nn_config before;
  nn_config_defaults(&before);
  c = before;
  assert_int_equal(nn_config_parse(&c, "[optim]\nlr = 0.5\nbeta1 = 7\n", "x.ini"), NN_ECONFIG);
  tu_assert_contains(nn_errmsg(), "x.ini:3: optim.beta1");
  assert_memory_equal(&c, &before, sizeof c);
}

static void test_long_lines(void **state) {
  (void)state;
  nn_config c;
  char path[1000], text[2200];
  for (size_t i = 0; i < sizeof path - 1; i++) path[i] = "abc/ d_e"[i % 8];
  path[sizeof path - 1] = 0;
  snprintf(text, sizeof text, "[data]\npath = %s   ; comment\n[log]\nrun_dir = %s\n[train]\nepochs = 3\n", path, path + 501);
  if (parse(&c, text)) fail_msg("%s", nn_errmsg());
  assert_string_equal(c.data.path, path);
  assert_string_equal(c.log.run_dir, path + 501);
  assert_int_equal(c.train.epochs, 3);
  /* a long bad value still names its line */
  memset(path, '7', sizeof path - 1);
  snprintf(text, sizeof text, "[train]\n\nepochs = %s\n", path);
  expect_parse_error(text, "t.ini:3:", "train.epochs", "out of range");
  /* too long for the field */
  char big[1200 + 32];
  char *p = big + sprintf(big, "[data]\npath = ");
  memset(p, 'x', 1100), p[1100] = 0;
  expect_parse_error(big, "t.ini:2:", "data.path: expected at most 1023 characters, got 1100", NULL);
  /* a long comment line is fine; a long line that is not key = value is not */
  memset(big, ';', 500), big[500] = 0;
  assert_int_equal(parse(&c, big), NN_OK);
  memset(big, 'q', 500);
  expect_parse_error(big, "t.ini:1:", "too long or not", NULL);
}

static void test_garbage(void **state) {
  (void)state;
  enum { N = 1 << 20 };
  char *g = malloc(N + 1);
  assert_non_null(g);
  uint64_t s = 88172645463325252ull;
  for (int round = 0; round < 4; round++) {
    for (int i = 0; i < N; i++) {
      s ^= s << 13, s ^= s >> 7, s ^= s << 17;
      g[i] = (char)(s >> 56);
      if (round >= 2 && g[i] == 0) g[i] = '\n'; /* text without NULs: reaches the parser */
      if (round == 3 && (s & 15) == 0) g[i] = "=[]\n;#: \t"[(s >> 8) % 9];
    }
    g[N] = 0;
    nn_config c;
    assert_int_equal(parse(&c, g), NN_ECONFIG);
    tu_assert_contains(nn_errmsg(), "t.ini:");
  }
  /* the file reader refuses NUL bytes before parsing */
  char dir[256], file[300];
  tu_mkdtemp(dir, sizeof dir);
  snprintf(file, sizeof file, "%s/garbage.ini", dir);
  for (int i = 0; i < N; i++) s ^= s << 13, s ^= s >> 7, s ^= s << 17, g[i] = (char)(s >> 56);
  g[100] = 0;
  tu_write_file(file, g, N);
  nn_config c;
  assert_int_equal(nn_config_load(&c, file, 0, NULL), NN_ECONFIG);
  tu_assert_contains(nn_errmsg(), file);
  tu_assert_contains(nn_errmsg(), "NUL byte");
  tu_rmtree(dir);
  free(g);
}

static void test_set(void **state) {
  (void)state;
  nn_config c;
  nn_config_defaults(&c);
  assert_int_equal(nn_config_set(&c, "optim.lr=0.05"), NN_OK);
  assert_true(c.optim.lr == 0.05f);
  assert_int_equal(nn_config_set(&c, " optim.lr =  0.25 "), NN_OK);
  assert_true(c.optim.lr == 0.25f);
  assert_int_equal(nn_config_set(&c, "model.layers=8,16,1"), NN_OK);
  assert_int_equal(c.model.n_sizes, 3);
  assert_int_equal(c.model.sizes[2], 1);
  assert_int_equal(nn_config_set(&c, "data.path=a=b.h5"), NN_OK); /* the first '=' splits */
  assert_string_equal(c.data.path, "a=b.h5");
  assert_int_equal(nn_config_set(&c, "data.eval="), NN_OK);
  assert_string_equal(c.data.eval, "");
  assert_int_equal(nn_config_set(&c, "train.drop_last=true"), NN_OK);
  assert_true(c.train.drop_last);
  assert_int_equal(nn_config_set(&c, "data.synth=Teacher"), NN_OK);
  assert_string_equal(c.data.synth, "teacher");

  nn_config before = c;
  assert_int_equal(nn_config_set(&c, "optim.lr=abc"), NN_ECONFIG);
  tu_assert_contains(nn_errmsg(), "--set optim.lr=abc: optim.lr: expected a number, got \"abc\"");
  assert_int_equal(nn_config_set(&c, "optim.lr="), NN_ECONFIG);
  tu_assert_contains(nn_errmsg(), "--set optim.lr=: optim.lr: expected a number, got \"\"");
  assert_int_equal(nn_config_set(&c, "optim.lr"), NN_ECONFIG);
  tu_assert_contains(nn_errmsg(), "--set optim.lr: expected section.key=value");
  assert_int_equal(nn_config_set(&c, "lr=0.1"), NN_ECONFIG);
  tu_assert_contains(nn_errmsg(), "--set lr=0.1: expected section.key=value");
  assert_int_equal(nn_config_set(&c, "train.lr=0.1"), NN_ECONFIG);
  tu_assert_contains(nn_errmsg(), "--set train.lr=0.1: unknown key train.lr; did you mean optim.lr?");
  assert_int_equal(nn_config_set(&c, "model.output_activation=softplus"), NN_ECONFIG);
  tu_assert_contains(nn_errmsg(), "--set model.output_activation=softplus: model.output_activation: expected one of");
  assert_int_equal(nn_config_set(&c, "model.layers=3"), NN_ECONFIG);
  tu_assert_contains(nn_errmsg(), "--set model.layers=3: model.layers:");
  assert_int_equal(nn_config_set(&c, "data.path=a ; b"), NN_ECONFIG);
  tu_assert_contains(nn_errmsg(), "data.path: text must not start with ';' or '#' nor contain");
  /* a value starting with ';' or '#' would be read back as a comment from the INI it is written to */
  assert_int_equal(nn_config_set(&c, "data.train=;"), NN_ECONFIG);
  assert_int_equal(nn_config_set(&c, "data.path=#x.h5"), NN_ECONFIG);
  assert_memory_equal(&c, &before, sizeof c); /* failed --set changes nothing */
}

/* parse(write(c)) == c, byte for byte (both start from the defaults, so padding agrees). */
static void assert_round_trip(const nn_config *c) {
  char *text = nn_config_to_string(c);
  assert_non_null(text);
  nn_config back;
  nn_config_defaults(&back);
  if (nn_config_parse(&back, text, "written")) fail_msg("%s\n%s", nn_errmsg(), text);
  assert_memory_equal(&back, c, sizeof back);
  char *again = nn_config_to_string(&back);
  assert_string_equal(again, text);
  free(again);
  free(text);
}

static void test_round_trip(void **state) {
  (void)state;
  nn_config c;
  nn_config_defaults(&c);
  assert_round_trip(&c);
  static const char *const sets[] = {
      "model.layers=784,256,128,10", "model.hidden_activation=leaky_relu", "model.output_activation=sigmoid",
      "model.loss=bce", "model.leaky_slope=0.123456789", "model.init=xavier_uniform",
      "model.seed=18446744073709551615", "data.path=/scratch/x y/data.h5", "data.train=/tr", "data.eval=",
      "data.sampling=shard", "data.synth=rings", "data.synth_samples=123", "data.ranks_per_node=2",
      "train.epochs=7", "train.batch_size=1000", "train.drop_last=true", "train.max_steps=9223372036854775807",
      "train.eval_every=0", "train.blas_threads=4", "train.watchdog_seconds=0", "optim.name=adamw",
      "optim.lr=0.1", "optim.momentum=0.99", "optim.beta1=0.8", "optim.beta2=0.9999", "optim.eps=1e-7",
      "optim.weight_decay=3.14159274", "optim.clip_norm=1e-30", "optim.schedule=cosine", "optim.step_size=17",
      "optim.gamma=0.3", "optim.warmup_steps=200", "optim.min_lr=1e-5", "checkpoint.dir=ck",
      "checkpoint.every_steps=5", "checkpoint.every_seconds=0.1", "checkpoint.every_epoch=false",
      "checkpoint.at_end=no", "checkpoint.keep=9", "checkpoint.keep_every_epochs=4",
      "checkpoint.continue_on_error=1", "log.run_dir=runs/%j-%a", "log.every_steps=1", "log.progress=lines", NULL};
  for (int i = 0; sets[i]; i++) assert_int_equal(nn_config_set(&c, sets[i]), NN_OK);
  assert_int_equal(nn_config_validate(&c), NN_OK);
  assert_round_trip(&c);
  /* the written text of non-default values differs from the defaults' text in every key */
  nn_config d;
  nn_config_defaults(&d);
  char *a = nn_config_to_string(&c), *b = nn_config_to_string(&d);
  int differ = 0;
  for (const char *x = a, *y = b; *x && *y;) { /* same keys in the same order: compare line by line */
    size_t nx = strcspn(x, "\n"), ny = strcspn(y, "\n");
    differ += nx != ny || memcmp(x, y, nx);
    x += nx + (x[nx] != 0), y += ny + (y[ny] != 0);
  }
  free(a), free(b);
  assert_int_equal(differ, 45);
  /* floats and doubles: random bit patterns in range read back bit-exactly */
  uint64_t s = 0x9E3779B97F4A7C15ull;
  for (int i = 0; i < 2000; i++) {
    s ^= s << 13, s ^= s >> 7, s ^= s << 17;
    uint32_t bits = (uint32_t)(s >> 33) & 0x7F7FFFFF; /* positive, finite */
    float f;
    double dv;
    memcpy(&f, &bits, sizeof f);
    uint64_t dbits = (s >> 2) & 0x7FEFFFFFFFFFFFFFull;
    memcpy(&dv, &dbits, sizeof dv);
    if (!(f > 0) || !isfinite(dv)) continue;
    c.optim.lr = f, c.optim.min_lr = 0, c.optim.weight_decay = f, c.checkpoint.every_seconds = dv;
    if (f < 1) c.optim.beta2 = f, c.model.leaky_slope = f;
    assert_round_trip(&c);
  }
}

static void test_validate(void **state) {
  (void)state;
  expect_invalid((const char *[]){"model.hidden_activation=softmax", NULL},
                 "model.hidden_activation = softmax: softmax is only allowed as model.output_activation");
  expect_invalid((const char *[]){"model.loss=mse", NULL},
                 "model.output_activation = softmax requires model.loss = cross_entropy, got model.loss = mse");
  expect_invalid((const char *[]){"model.loss=bce", NULL}, "requires model.loss = cross_entropy, got model.loss = bce");
  expect_invalid((const char *[]){"model.output_activation=sigmoid", NULL},
                 "model.loss = cross_entropy requires model.output_activation = softmax, got model.output_activation = sigmoid");
  expect_invalid((const char *[]){"model.output_activation=linear", "model.loss=bce", NULL},
                 "model.loss = bce requires model.output_activation = sigmoid, got model.output_activation = linear");
  expect_invalid((const char *[]){"model.layers=2,8,1", NULL},
                 "model.output_activation = softmax needs at least 2 output units, model.layers ends in 1");
  expect_invalid((const char *[]){"optim.min_lr=0.5", NULL}, "optim.min_lr = 0.5 exceeds optim.lr = 0.01");
  expect_invalid((const char *[]){"data.train=train", NULL}, "data.train = \"train\": expected a group path");
  expect_invalid((const char *[]){"data.eval=test", NULL}, "data.eval = \"test\"");
  expect_invalid((const char *[]){"log.run_dir=", NULL}, "log.run_dir is empty");
  /* numbers are decimal: strtod would read hexadecimal floats (lr = 0x10 as 16) */
  expect_invalid((const char *[]){"optim.lr=0x10", NULL}, "expected a decimal number, got \"0x10\"");
  expect_invalid((const char *[]){"checkpoint.every_seconds=-0X1p4", NULL}, "hexadecimal is not accepted");
  expect_valid((const char *[]){"model.output_activation=sigmoid", "model.loss=bce", "model.layers=4,3", NULL});
  expect_valid((const char *[]){"model.output_activation=sigmoid", "model.loss=bce", "model.layers=4,1", NULL});
  expect_valid((const char *[]){"model.output_activation=linear", "model.loss=mse", "model.layers=8,1", NULL});
  expect_valid((const char *[]){"model.output_activation=tanh", "model.loss=mse", NULL});
  expect_valid((const char *[]){"model.output_activation=sigmoid", "model.loss=mse", NULL});
  expect_valid((const char *[]){"model.hidden_activation=linear", "data.eval=", NULL});
}

/* Fields set in code are range-checked like parsed ones. */
#define POKE(name, stmt, needle)                                 \
  static void name(void **state) {                               \
    (void)state;                                                 \
    nn_config c;                                                 \
    nn_config_defaults(&c);                                      \
    stmt;                                                        \
    assert_int_equal(nn_config_validate(&c), NN_ECONFIG);        \
    tu_assert_contains(nn_errmsg(), needle);                     \
  }
POKE(test_poke_lr, c.optim.lr = -1, "optim.lr = -1: expected a number > 0")
POKE(test_poke_lr_nan, c.optim.lr = NAN, "optim.lr = nan: expected a finite number")
POKE(test_poke_beta2, c.optim.beta2 = 1, "optim.beta2 = 1: expected a number 0 <= x < 1")
POKE(test_poke_eps, c.optim.eps = 0, "optim.eps = 0: expected a number > 0")
POKE(test_poke_batch, c.train.batch_size = 0, "train.batch_size = 0: expected an integer >= 1")
POKE(test_poke_keep, c.checkpoint.keep = -2, "checkpoint.keep = -2")
POKE(test_poke_sizes, c.model.n_sizes = 1, "model.layers: 1 sizes, expected 2 to 17")
POKE(test_poke_size0, c.model.sizes[1] = 0, "model.layers = 2,0,64,2: entry 2")
POKE(test_poke_enum, c.model.hidden = (nn_act)42, "model.hidden_activation = (invalid)")
POKE(test_poke_synth, strcpy(c.data.synth, "moons"), "data.synth = moons: expected one of")
POKE(test_poke_string, memset(c.data.train, 'a', sizeof c.data.train), "data.train: text is not NUL-terminated")

static void test_diff_state(void **state) {
  (void)state;
  nn_config a, b;
  char diff[256];
  nn_config_defaults(&a);
  b = a;
  assert_int_equal(nn_config_diff_state(&a, &b, diff, sizeof diff), 0);
  assert_string_equal(diff, "");
  assert_int_equal(nn_config_set(&b, "model.layers=2,32,2"), NN_OK);
  assert_int_equal(nn_config_set(&b, "optim.name=sgd"), NN_OK);
  assert_int_equal(nn_config_set(&b, "optim.lr=0.5"), NN_OK);       /* not state */
  assert_int_equal(nn_config_set(&b, "train.epochs=99"), NN_OK);     /* not state */
  assert_int_equal(nn_config_set(&b, "train.batch_size=32"), NN_OK);
  assert_int_equal(nn_config_set(&b, "data.sampling=shard"), NN_OK);
  assert_int_equal(nn_config_diff_state(&a, &b, diff, sizeof diff), 4);
  assert_string_equal(diff, "model.layers: 2,64,64,2 vs 2,32,2\ndata.sampling: global vs shard\n"
                            "train.batch_size: 64 vs 32\noptim.name: adam vs sgd\n");
  b = a;
  b.model.hidden = NN_ACT_TANH, b.model.output = NN_ACT_SIGMOID, b.model.loss = NN_LOSS_BCE;
  assert_int_equal(nn_config_diff_state(&a, &b, diff, 20), 3); /* truncated, still counted */
  assert_int_equal(strlen(diff), 19);
  assert_int_equal(nn_config_diff_state(&a, &b, NULL, 0), 3);
}

/* nn_config_each: every key once, in table order, formatted as nn_config_write writes it. */
typedef struct {
  int n;
  char text[8192];
} each_acc;

static void each_collect(const char *section, const char *key, const char *value, void *arg) {
  each_acc *a = arg;
  size_t len = strlen(a->text);
  snprintf(a->text + len, sizeof a->text - len, "%s.%s=%s\n", section, key, value);
  a->n++;
}

static void test_each(void **state) {
  (void)state;
  nn_config c;
  nn_config_defaults(&c);
  assert_int_equal(nn_config_set(&c, "optim.lr=0.25"), NN_OK);
  assert_int_equal(nn_config_set(&c, "model.layers=3,8,1"), NN_OK);
  each_acc *a = calloc(1, sizeof *a);
  assert_non_null(a);
  nn_config_each(&c, each_collect, a);
  tu_assert_contains(a->text, "model.layers=3,8,1\n");
  tu_assert_contains(a->text, "optim.lr=0.25\n");
  tu_assert_contains(a->text, "checkpoint.dir=\n");
  tu_assert_contains(a->text, "log.run_dir=runs/default\n");
  /* one call per key line of the INI output */
  char *ini = nn_config_to_string(&c);
  assert_non_null(ini);
  int lines = 0;
  for (char *p = ini; (p = strstr(p, " =")); p++) lines++;
  assert_int_equal(a->n, lines);
  free(ini);
  free(a);
}

static char *source_file(const char *rel) {
  const char *src = getenv("NN_SOURCE_DIR");
  static char path[2048];
  snprintf(path, sizeof path, "%s/%s", src && *src ? src : NN_SOURCE_DIR, rel);
  return path;
}

static void test_doc_up_to_date(void **state) {
  (void)state;
  char *doc = NULL;
  size_t n = 0;
  FILE *f = open_memstream(&doc, &n);
  assert_non_null(f);
  assert_int_equal(nn_config_write_doc(f), NN_OK);
  assert_int_equal(fclose(f), 0);
  tu_assert_contains(doc, "| `layers` | `2,64,64,2` |");
  tu_assert_contains(doc, "| `lr` | `0.01` | number > 0 |");
  tu_assert_contains(doc, "SLURM_ARRAY_TASK_ID");
  const char *path = source_file("docs/config.md");
  if (getenv("NN_UPDATE_DOCS")) tu_write_file(path, doc, n);
  if (access(path, R_OK)) fail_msg("%s is missing; run NN_UPDATE_DOCS=1 test_config or nnmpi config --doc", path);
  char *file = tu_read_file(path, NULL);
  if (strcmp(file, doc))
    fail_msg("%s differs from nn_config_write_doc output; regenerate it with "
             "`nnmpi config --doc > docs/config.md` (or NN_UPDATE_DOCS=1 test_config)", path);
  free(file);
  free(doc);
}

static void test_example_configs(void **state) {
  (void)state;
  nn_config c;
  const char *names[] = {"configs/spirals.ini", "configs/regression.ini", "configs/fashion-mnist.ini"};
  for (int i = 0; i < 3; i++) {
    char path[2048];
    snprintf(path, sizeof path, "%s", source_file(names[i]));
    if (nn_config_load(&c, path, 0, NULL)) fail_msg("%s", nn_errmsg());
    if (i == 0) {
      assert_string_equal(c.data.path, "");
      assert_string_equal(c.data.synth, "spirals");
      assert_int_equal(c.model.n_sizes, 4);
      assert_int_equal(c.train.epochs, 30);
    } else if (i == 1) {
      assert_string_equal(c.data.synth, "teacher");
      assert_int_equal(c.model.sizes[0], 8);
      assert_int_equal(c.model.sizes[c.model.n_sizes - 1], 1);
      assert_int_equal(c.model.loss, NN_LOSS_MSE);
      assert_int_equal(c.model.output, NN_ACT_LINEAR);
    } else {
      assert_string_equal(c.data.path, "data/fashion-mnist.h5");
      assert_int_equal(c.model.sizes[0], 784);
      assert_int_equal(c.train.batch_size, 128);
      assert_int_equal(c.optim.schedule, NN_SCHED_COSINE);
    }
  }
}

static void test_load_config(void **state) {
  (void)state;
  char dir[256], file[300];
  nn_config c, d;
  tu_mkdtemp(dir, sizeof dir);
  snprintf(file, sizeof file, "%s/missing.ini", dir);
  assert_int_equal(nn_config_load(&c, file, 0, NULL), NN_ECONFIG);
  tu_assert_contains(nn_errmsg(), "cannot open config file");
  tu_assert_contains(nn_errmsg(), file);
  assert_int_equal(nn_config_load(&c, dir, 0, NULL), NN_ECONFIG); /* a directory */
  tu_assert_contains(nn_errmsg(), dir);
  snprintf(file, sizeof file, "%s/fifo.ini", dir); /* a FIFO: refused at once, never read (that blocks) */
  assert_int_equal(mkfifo(file, 0644), 0);
  assert_int_equal(nn_config_load(&c, file, 0, NULL), NN_ECONFIG);
  tu_assert_contains(nn_errmsg(), "not a regular file");

  snprintf(file, sizeof file, "%s/empty.ini", dir);
  tu_write_file(file, "", 0);
  assert_int_equal(nn_config_load(&c, file, 0, NULL), NN_OK);
  nn_config_defaults(&d);
  assert_memory_equal(&c, &d, sizeof c);
  assert_int_equal(nn_config_load(&c, NULL, 0, NULL), NN_OK);
  assert_memory_equal(&c, &d, sizeof c);

  snprintf(file, sizeof file, "%s/a.ini", dir);
  tu_write_file(file, "[optim]\nlr = 0.2\n[train]\nepochs = 5\n", (size_t)-1);
  char *sets[] = {"optim.lr=0.3", "train.epochs=6", "optim.lr=0.4"};
  assert_int_equal(nn_config_load(&c, file, 3, sets), NN_OK);
  assert_true(c.optim.lr == 0.4f); /* file, then --set in order */
  assert_int_equal(c.train.epochs, 6);
  char *bad[] = {"optim.lr=zero"};
  assert_int_equal(nn_config_load(&c, file, 1, bad), NN_ECONFIG);
  tu_assert_contains(nn_errmsg(), "--set optim.lr=zero: optim.lr: expected a number");
  char *conflict[] = {"model.loss=mse"};
  assert_int_equal(nn_config_load(&c, file, 1, conflict), NN_ECONFIG);
  tu_assert_contains(nn_errmsg(), "a.ini with --set: model.output_activation = softmax requires");

  tu_write_file(file, "[optim]\nlr = 0.2\n\n[train]\nepochs = five\n", (size_t)-1);
  assert_int_equal(nn_config_load(&c, file, 0, NULL), NN_ECONFIG);
  char where[400];
  snprintf(where, sizeof where, "%s:5: train.epochs: expected an integer, got \"five\"", file);
  tu_assert_contains(nn_errmsg(), where);
  tu_rmtree(dir);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_defaults),        cmocka_unit_test(test_parse_syntax),
      cmocka_unit_test(test_parse_errors),    cmocka_unit_test(test_long_lines),
      cmocka_unit_test(test_garbage),         cmocka_unit_test(test_set),
      cmocka_unit_test(test_round_trip),      cmocka_unit_test(test_validate),
      cmocka_unit_test(test_poke_lr),         cmocka_unit_test(test_poke_lr_nan),
      cmocka_unit_test(test_poke_beta2),      cmocka_unit_test(test_poke_eps),
      cmocka_unit_test(test_poke_batch),      cmocka_unit_test(test_poke_keep),
      cmocka_unit_test(test_poke_sizes),      cmocka_unit_test(test_poke_size0),
      cmocka_unit_test(test_poke_enum),       cmocka_unit_test(test_poke_synth),
      cmocka_unit_test(test_poke_string),     cmocka_unit_test(test_diff_state),
      cmocka_unit_test(test_each),
      cmocka_unit_test(test_load_config),
      cmocka_unit_test(test_example_configs), cmocka_unit_test(test_doc_up_to_date),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
