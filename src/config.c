/* config: the run configuration. One static table of keys (below) drives the defaults, INI
 * parsing (inih), --set overrides, range checks, INI output and the Markdown reference
 * (docs/config.md), so they cannot drift. Layer 3: libc + inih; writes only to FILE*s given. */
#include "nnmpi/config.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ini.h>

#include "nnmpi/status.h"

typedef enum { T_INT, T_I64, T_U64, T_FLOAT, T_DOUBLE, T_BOOL, T_ENUM, T_STR, T_LAYERS } ktype;
enum { LO_OPEN = 1, HI_OPEN = 2, STATE = 4 }; /* flags: exclusive bounds; checkpoint-state key */

typedef struct {
  const char *section, *name;
  ktype type;
  size_t off, size;          /* field in nn_config */
  const char *def;           /* default, as INI text */
  const char *const *names;  /* T_ENUM: spellings in enum order; T_STR: allowed values or NULL */
  double lo, hi;             /* numbers (and each layer size) must lie in this range */
  unsigned flags;
  const char *doc;
} cfg_key;

_Static_assert(sizeof(nn_act) == sizeof(int) && sizeof(nn_progress) == sizeof(int), "enums are ints");

static const char *const sampling_names[] = {"global", "shard", NULL};
static const char *const reduce_names[] = {"fast", "exact", NULL};
static const char *const shard_names[] = {"auto", "true", "false", NULL};
static const char *const progress_names[] = {"auto", "bar", "lines", "none", NULL};
static const char *const synth_names[] = {"spirals", "rings", "blobs", "teacher", NULL};

static const char *const sections[][2] = {
    {"model", "The network: layer sizes, activations, loss, initialisation"},
    {"data", "The dataset file and how ranks sample it"},
    {"train", "The training loop"},
    {"optim", "Optimiser, weight decay, clipping and learning-rate schedule"},
    {"checkpoint", "When checkpoints are written and how many are kept"},
    {"log", "Run directory, metrics and progress output"},
};
enum { N_SECTIONS = sizeof sections / sizeof sections[0], MAX_SIZE = 1000000 };

#define F(sec, fld) offsetof(nn_config, sec.fld), sizeof(((nn_config *)0)->sec.fld)
#define INF HUGE_VAL

static const cfg_key keys[] = {
    {"model", "layers", T_LAYERS, F(model, sizes), "2,64,64,2", NULL, 1, MAX_SIZE, STATE,
     "units per layer, input first, output last (\"784,256,128,10\")"},
    {"model", "hidden_activation", T_ENUM, F(model, hidden), "relu", nn_act_names, 0, 0, STATE,
     "activation of the hidden layers (softmax is only an output activation)"},
    {"model", "output_activation", T_ENUM, F(model, output), "softmax", nn_act_names, 0, 0, STATE,
     "activation of the output layer"},
    {"model", "loss", T_ENUM, F(model, loss), "cross_entropy", nn_loss_names, 0, 0, STATE,
     "cross_entropy goes with softmax, bce with sigmoid, mse with any other output"},
    {"model", "leaky_slope", T_FLOAT, F(model, leaky_slope), "0.01", NULL, 0, 1, STATE,
     "slope of leaky_relu for negative inputs"},
    {"model", "init", T_ENUM, F(model, init), "auto", nn_init_names, 0, 0, 0,
     "weight initialisation; auto = He for relu-family hidden layers, Xavier otherwise"},
    {"model", "seed", T_U64, F(model, seed), "1", NULL, 0, INF, STATE,
     "seed of the weight initialisation and of all sampling"},

    {"data", "path", T_STR, F(data, path), "", NULL, 0, 0, 0,
     "HDF5 dataset file; empty = the built-in synthetic set chosen by synth; FILE:/group also sets the "
     "training split (as --data FILE:/group does for eval and predict)"},
    {"data", "train", T_STR, F(data, train), "/train", NULL, 0, 0, 0, "group of the training split"},
    {"data", "eval", T_STR, F(data, eval), "/test", NULL, 0, 0, 0,
     "group evaluated every eval_every epochs; empty = no evaluation"},
    {"data", "sampling", T_ENUM, F(data, sampling), "global", sampling_names, 0, 0, STATE,
     "global: batches independent of the rank count (one copy per node); shard: each rank reads 1/N"},
    {"data", "synth", T_STR, F(data, synth), "spirals", synth_names, 0, 0, 0,
     "built-in synthetic set used when path is empty"},
    {"data", "synth_samples", T_INT, F(data, synth_samples), "4000", NULL, 1, INF, 0,
     "training rows of the built-in synthetic set"},
    {"data", "ranks_per_node", T_INT, F(data, ranks_per_node), "0", NULL, 0, INF, 0,
     "testing aid: treat every K ranks as one node; 0 = real nodes"},

    {"train", "epochs", T_INT, F(train, epochs), "30", NULL, 1, INF, 0, "passes over the training set"},
    {"train", "batch_size", T_INT, F(train, batch_size), "64", NULL, 1, INF, STATE,
     "global batch size, split across ranks"},
    {"train", "drop_last", T_BOOL, F(train, drop_last), "false", NULL, 0, 0, 0,
     "drop the last partial batch of each epoch"},
    {"train", "max_steps", T_I64, F(train, max_steps), "0", NULL, 0, INF, 0,
     "stop after this many global steps; 0 = no limit"},
    {"train", "eval_every", T_INT, F(train, eval_every), "1", NULL, 0, INF, 0,
     "evaluate every N epochs; 0 = never"},
    {"train", "blas_threads", T_INT, F(train, blas_threads), "1", NULL, 1, 1024, 0, "BLAS threads per rank"},
    {"train", "watchdog_seconds", T_INT, F(train, watchdog_seconds), "300", NULL, 0, INF, 0,
     "a collective stalled this long is an error naming the step; 0 = off"},
    {"train", "reduce", T_ENUM, F(train, reduce), "fast", reduce_names, 0, 0, 0,
     "gradient reduction: fast = float sums (the same batches on any rank count, but added in another "
     "order, so runs on different rank counts drift apart by rounding); exact = fixed-point sums over "
     "fixed chunks of each batch, bit-identical weights on any rank count (needs sampling = global and "
     "at most exact_chunks ranks)"},
    {"train", "exact_chunks", T_INT, F(train, exact_chunks), "0", NULL, 0, 4096, 0,
     "reduce = exact: rows of every global batch are split into this many fixed chunks, computed whole by "
     "one rank each, so at most this many ranks; fewer, larger chunks run faster. 0 = auto: "
     "batch_size / 32 (chunks of 32 rows), at least 1"},
    {"train", "shard_optimizer", T_ENUM, F(train, shard_optimizer), "auto", shard_names, 0, 0, 0,
     "true: each rank keeps the optimiser state of 1/N of the parameters and updates only those (on one "
     "node through node-shared memory, see node_memory; otherwise a reduce-scatter of the gradient and "
     "an allgather of the parameters instead of one allreduce; the same bits in exact mode); false: "
     "every rank updates all parameters after one allreduce; auto: true on 2 or more ranks when "
     "node_memory takes the node path, or with reduce = exact (6-7 % faster than one int64 "
     "allreduce), or with reduce = fast when the replicated optimiser state is 256 MiB or more (e.g. "
     "Adam from 32 M parameters); otherwise false (docs/performance.md)"},
    {"train", "node_memory", T_ENUM, F(train, node_memory), "auto", shard_names, 0, 0, 0,
     "the node path, when 2 or more ranks all share one node (data.ranks_per_node pretends smaller "
     "nodes) and shard_optimizer is not false: the parameters live once in node-shared memory, each "
     "rank adds its slice of the gradient straight from the other ranks' memory and updates that slice "
     "in place, with two barriers per step and no MPI reduction (the same bits as the MPI paths in "
     "exact mode). true: whenever possible; auto: with shard_optimizer = true, or from 2 MiB of "
     "parameters (512 k; measured 6-19 % faster per step from 2.7 MB on 2 ranks, equal at the default "
     "model's 0.94 MB, where the replicated MPI path keeps the parameters in each core's cache); "
     "false: always MPI collectives (docs/performance.md)"},

    {"optim", "name", T_ENUM, F(optim, name), "adam", nn_optim_names, 0, 0, STATE, "optimiser"},
    {"optim", "lr", T_FLOAT, F(optim, lr), "0.01", NULL, 0, INF, LO_OPEN, "learning rate (peak of the schedule)"},
    {"optim", "momentum", T_FLOAT, F(optim, momentum), "0.9", NULL, 0, 1, HI_OPEN, "momentum and nesterov: velocity decay"},
    {"optim", "beta1", T_FLOAT, F(optim, beta1), "0.9", NULL, 0, 1, HI_OPEN, "adam/adamw: first-moment decay"},
    {"optim", "beta2", T_FLOAT, F(optim, beta2), "0.999", NULL, 0, 1, HI_OPEN, "adam/adamw: second-moment decay"},
    {"optim", "eps", T_FLOAT, F(optim, eps), "1e-8", NULL, 0, INF, LO_OPEN, "adam/adamw: denominator guard"},
    {"optim", "weight_decay", T_FLOAT, F(optim, weight_decay), "0", NULL, 0, INF, 0,
     "L2 penalty (sgd, momentum, nesterov, adam) or decoupled decay (adamw)"},
    {"optim", "clip_norm", T_FLOAT, F(optim, clip_norm), "0", NULL, 0, INF, 0,
     "clip gradients to this global L2 norm; 0 = off"},
    {"optim", "schedule", T_ENUM, F(optim, schedule), "constant", nn_sched_names, 0, 0, 0,
     "learning-rate schedule after warmup"},
    {"optim", "step_size", T_I64, F(optim, step_size), "1000", NULL, 1, INF, 0,
     "step schedule: multiply lr by gamma every step_size steps"},
    {"optim", "gamma", T_FLOAT, F(optim, gamma), "0.5", NULL, 0, 1, LO_OPEN, "step schedule: decay factor"},
    {"optim", "warmup_steps", T_I64, F(optim, warmup_steps), "0", NULL, 0, INF, 0,
     "linear warmup from 0 to lr over this many steps, before any schedule"},
    {"optim", "min_lr", T_FLOAT, F(optim, min_lr), "0", NULL, 0, INF, 0, "cosine schedule: final learning rate"},

    {"checkpoint", "dir", T_STR, F(checkpoint, dir), "", NULL, 0, 0, 0,
     "checkpoint directory; empty = log.run_dir/checkpoints"},
    {"checkpoint", "every_steps", T_I64, F(checkpoint, every_steps), "0", NULL, 0, INF, 0,
     "write a checkpoint every N global steps; 0 = off"},
    {"checkpoint", "every_seconds", T_DOUBLE, F(checkpoint, every_seconds), "0", NULL, 0, INF, 0,
     "write a checkpoint when this many seconds passed since the last one; 0 = off"},
    {"checkpoint", "every_epoch", T_BOOL, F(checkpoint, every_epoch), "true", NULL, 0, 0, 0,
     "write a checkpoint at the end of every epoch"},
    {"checkpoint", "at_end", T_BOOL, F(checkpoint, at_end), "true", NULL, 0, 0, 0,
     "write a checkpoint when training finishes"},
    {"checkpoint", "keep", T_INT, F(checkpoint, keep), "3", NULL, 1, INF, 0, "newest checkpoints kept"},
    {"checkpoint", "keep_every_epochs", T_INT, F(checkpoint, keep_every_epochs), "0", NULL, 0, INF, 0,
     "also keep the checkpoint of every K-th epoch forever; 0 = off"},
    {"checkpoint", "continue_on_error", T_BOOL, F(checkpoint, continue_on_error), "false", NULL, 0, 0, 0,
     "a failed checkpoint write warns and training goes on"},

    {"log", "run_dir", T_STR, F(log, run_dir), "runs/default", NULL, 0, 0, 0,
     "metrics, plots and checkpoints go here; %j, %a, %A become SLURM_JOB_ID, SLURM_ARRAY_TASK_ID, "
     "SLURM_ARRAY_JOB_ID (as in sbatch file patterns; outside Slurm: local, 0, local)"},
    {"log", "every_steps", T_INT, F(log, every_steps), "50", NULL, 1, INF, 0,
     "one progress line every N steps (when not drawing a bar)"},
    {"log", "progress", T_ENUM, F(log, progress), "auto", progress_names, 0, 0, 0,
     "auto = a bar when rank 0 writes to a terminal (under mpirun: when mpirun's own output is one), "
     "lines otherwise; none = no bar or step lines (evaluations, checkpoints, the summary and, on "
     "the error stream, warnings are still printed)"},
    {"log", "trace", T_STR, F(log, trace), "false", NULL, 0, 0, 0,
     "write run_dir/trace.json, a Chrome trace-event timeline (Perfetto, chrome://tracing) of every rank's "
     "phases: true = steps 1-100, FIRST-LAST = that range of steps, false = off"},
};
enum { N_KEYS = sizeof keys / sizeof keys[0], ERR_CAP = 1024, VALUE_ERR_CAP = 512 };

/* Cross-field rules enforced by nn_config_validate, listed in the reference. */
static const char *const rules[] = {
    "`softmax` is only allowed as `model.output_activation`.",
    "`output_activation = softmax` requires `loss = cross_entropy`, and `cross_entropy` requires `softmax`.",
    "`softmax` needs at least 2 output units; for one output use `sigmoid` with `bce`.",
    "`loss = bce` requires `output_activation = sigmoid` (any number of outputs).",
    "`loss = mse` goes with any output activation except `softmax`.",
    "`optim.min_lr` must not exceed `optim.lr`.",
    "`data.train` must be a group path such as `/train`; `data.eval` is empty or a group path.",
    "`train.reduce = exact` requires `data.sampling = global`.",
    "`log.run_dir` must not be empty.",
};

/* ---- small helpers */

static void *field(nn_config *c, const cfg_key *k) { return (char *)c + k->off; }
static const void *cfield(const nn_config *c, const cfg_key *k) { return (const char *)c + k->off; }

/* v for a message: at most 60 bytes, non-printable bytes as '?', optionally in quotes. */
static const char *clean(const char *v, bool quotes, char *buf, size_t cap) {
  size_t n = 0;
  if (quotes) buf[n++] = '"';
  for (; *v && n + 6 < cap && n < 62; v++) buf[n++] = isprint((unsigned char)*v) ? *v : '?';
  if (*v) buf[n++] = '.', buf[n++] = '.', buf[n++] = '.';
  if (quotes) buf[n++] = '"';
  buf[n] = 0;
  return buf;
}
static const char *quote(const char *v, char *buf, size_t cap) { return clean(v, true, buf, cap); }

static bool in_range(const cfg_key *k, double x) {
  return (k->flags & LO_OPEN ? x > k->lo : x >= k->lo) && (k->flags & HI_OPEN ? x < k->hi : x <= k->hi);
}

/* "> 0", ">= 1", "0 <= x < 1". */
static const char *range_text(const cfg_key *k, char *buf, size_t cap) {
  const char *lo = k->flags & LO_OPEN ? "<" : "<=", *hi = k->flags & HI_OPEN ? "<" : "<=";
  if (isinf(k->hi)) snprintf(buf, cap, "%s %.10g", k->flags & LO_OPEN ? ">" : ">=", k->lo);
  else snprintf(buf, cap, "%.10g %s x %s %.10g", k->lo, lo, hi, k->hi);
  return buf;
}

static const char *kind_text(const cfg_key *k) {
  return k->type == T_FLOAT || k->type == T_DOUBLE ? "a number" : "an integer";
}

static int lookup(const char *const *names, const char *v) {
  for (int i = 0; names[i]; i++)
    if (!strcasecmp(names[i], v)) return i;
  return -1;
}

static void join(const char *const *names, char *buf, size_t cap) {
  size_t n = 0;
  buf[0] = 0;
  for (int i = 0; names[i] && n < cap; i++) n += (size_t)snprintf(buf + n, cap - n, "%s%s", i ? ", " : "", names[i]);
}

static const cfg_key *find_key(const char *section, const char *name) {
  for (int i = 0; i < N_KEYS; i++)
    if (!strcmp(keys[i].section, section) && !strcmp(keys[i].name, name)) return &keys[i];
  return NULL;
}

static bool known_section(const char *s, size_t n) {
  for (int i = 0; i < N_SECTIONS; i++)
    if (strlen(sections[i][0]) == n && !strncmp(sections[i][0], s, n)) return true;
  return false;
}

static size_t edit_distance(const char *a, const char *b) {
  size_t la = strlen(a), lb = strlen(b), row[64];
  if (la > 60 || lb > 60) return 99;
  for (size_t j = 0; j <= lb; j++) row[j] = j;
  for (size_t i = 1; i <= la; i++) {
    size_t diag = row[0];
    row[0] = i;
    for (size_t j = 1; j <= lb; j++) {
      size_t up = row[j], best = diag + (a[i - 1] != b[j - 1]);
      if (up + 1 < best) best = up + 1;
      if (row[j - 1] + 1 < best) best = row[j - 1] + 1;
      diag = up;
      row[j] = best;
    }
  }
  return row[lb];
}

/* "; did you mean optim.lr?" for the closest known key, or "". */
static void suggest(const char *section, const char *name, char *buf, size_t cap) {
  const cfg_key *best = NULL;
  size_t best_d = 99;
  for (int i = 0; i < N_KEYS; i++) {
    size_t d = 2 * edit_distance(name, keys[i].name) + (strcmp(section, keys[i].section) != 0);
    if (d < best_d) best_d = d, best = &keys[i];
  }
  size_t len = strlen(name), limit = 2 * (len < 6 ? 1 : len / 3) + 1;
  if (best && best_d <= limit) snprintf(buf, cap, "; did you mean %s.%s?", best->section, best->name);
  else buf[0] = 0;
}

/* ---- values: text -> field and field -> text */

static bool parse_bool(const char *v, bool *out) {
  static const char *const t[] = {"true", "yes", "on", "1", NULL}, *const f[] = {"false", "no", "off", "0", NULL};
  if (lookup(t, v) >= 0) return *out = true, true;
  if (lookup(f, v) >= 0) return *out = false, true;
  return false;
}

/* model.layers: 2..17 comma-separated sizes, each in the key's range. */
static int set_layers(nn_config *c, const cfg_key *k, const char *v, char *err, size_t cap) {
  int sizes[NN_MAX_LAYERS + 1], n = 0;
  char q[80], r[64];
  const char *p = v;
  for (;;) {
    char *end;
    errno = 0;
    long x = strtol(p, &end, 10);
    while (*end == ' ' || *end == '\t') end++;
    if (end == p || (*end && *end != ',')) {
      snprintf(err, cap, "entry %d of %s is not an integer; expected 2 to %d comma-separated sizes", n + 1,
               quote(v, q, sizeof q), NN_MAX_LAYERS + 1);
      return -1;
    }
    if (errno == ERANGE || !in_range(k, (double)x)) {
      snprintf(err, cap, "entry %d of %s is %ld, expected %s", n + 1, quote(v, q, sizeof q), x,
               range_text(k, r, sizeof r));
      return -1;
    }
    if (n == NN_MAX_LAYERS + 1) {
      snprintf(err, cap, "%s has more than %d sizes (at most %d layers)", quote(v, q, sizeof q),
               NN_MAX_LAYERS + 1, NN_MAX_LAYERS);
      return -1;
    }
    sizes[n++] = (int)x;
    if (!*end) break;
    p = end + 1;
  }
  if (n < 2) {
    snprintf(err, cap, "%s has %d size, expected at least 2 (input and output)", quote(v, q, sizeof q), n);
    return -1;
  }
  c->model.n_sizes = n;
  memcpy(c->model.sizes, sizes, (size_t)n * sizeof *sizes);
  return 0;
}

/* "0x..." (after blanks and a sign): what strtod would read as a hexadecimal float. */
static bool is_hex(const char *v) {
  while (isspace((unsigned char)*v)) v++;
  if (*v == '+' || *v == '-') v++;
  return v[0] == '0' && (v[1] == 'x' || v[1] == 'X');
}

/* Sets key k from text v; on failure writes "expected ..., got ..." into err and returns -1. */
static int set_value(nn_config *c, const cfg_key *k, const char *v, char *err, size_t cap) {
  char q[80], r[64], list[160];
  char *end = NULL;
  double x = 0;
  errno = 0;
  switch (k->type) {
  case T_LAYERS: return set_layers(c, k, v, err, cap);
  case T_BOOL:
    if (parse_bool(v, field(c, k))) return 0;
    snprintf(err, cap, "expected true or false (yes/no, on/off, 1/0), got %s", quote(v, q, sizeof q));
    return -1;
  case T_ENUM: {
    int i = lookup(k->names, v);
    if (i >= 0) return *(int *)field(c, k) = i, 0;
    join(k->names, list, sizeof list);
    snprintf(err, cap, "expected one of %s; got %s", list, quote(v, q, sizeof q));
    return -1;
  }
  case T_STR:
    if (k->names && lookup(k->names, v) < 0) {
      join(k->names, list, sizeof list);
      snprintf(err, cap, "expected one of %s; got %s", list, quote(v, q, sizeof q));
      return -1;
    }
    if (strlen(v) >= k->size) {
      snprintf(err, cap, "expected at most %zu characters, got %zu", k->size - 1, strlen(v));
      return -1;
    }
    for (const char *s = v; *s; s++)
      if (iscntrl((unsigned char)*s) || ((*s == ';' || *s == '#') && (s == v || isspace((unsigned char)s[-1])))) {
        snprintf(err, cap, "text must not start with ';' or '#' nor contain control characters or ' ;'/' #' "
                           "(comments), got %s",
                 quote(v, q, sizeof q));
        return -1;
      }
    strcpy(field(c, k), k->names ? k->names[lookup(k->names, v)] : v); /* canonical spelling */
    return 0;
  case T_FLOAT:
  case T_DOUBLE:
    if (is_hex(v)) { /* strtod reads C's hexadecimal floats: numbers here are decimal */
      snprintf(err, cap, "expected a decimal number, got %s (hexadecimal is not accepted)", quote(v, q, sizeof q));
      return -1;
    }
    x = k->type == T_FLOAT ? strtof(v, &end) : strtod(v, &end);
    break;
  case T_INT:
  case T_I64: x = (double)strtoll(v, &end, 10); break;
  case T_U64: x = (double)strtoull(v, &end, 10); break;
  }
  if (!*v || end == v || *end || (k->type == T_U64 && strchr(v, '-'))) {
    snprintf(err, cap, "expected %s, got %s", kind_text(k), quote(v, q, sizeof q));
    return -1;
  }
  bool overflow = errno == ERANGE && (k->type != T_FLOAT && k->type != T_DOUBLE ? true : !isfinite(x));
  if (overflow || (k->type == T_INT && (x < INT_MIN || x > INT_MAX))) { /* underflow: nearest value */
    snprintf(err, cap, "%s is out of range for %s", quote(v, q, sizeof q),
             k->type == T_FLOAT ? "a 32-bit float" : k->type == T_DOUBLE ? "a double" : "this integer");
    return -1;
  }
  if (!isfinite(x)) {
    snprintf(err, cap, "expected a finite number, got %s", quote(v, q, sizeof q));
    return -1;
  }
  if (!in_range(k, x)) {
    snprintf(err, cap, "expected %s %s, got %s", kind_text(k), range_text(k, r, sizeof r), quote(v, q, sizeof q));
    return -1;
  }
  void *f = field(c, k);
  switch (k->type) {
  case T_FLOAT: *(float *)f = (float)x; break;
  case T_DOUBLE: *(double *)f = x; break;
  case T_INT: *(int *)f = (int)strtol(v, NULL, 10); break;
  case T_I64: *(int64_t *)f = strtoll(v, NULL, 10); break;
  default: *(uint64_t *)f = strtoull(v, NULL, 10); break;
  }
  return 0;
}

/* The value of k in c as INI text; floats in the shortest form that reads back exactly. */
static void format_value(const nn_config *c, const cfg_key *k, char *buf, size_t cap) {
  const void *f = cfield(c, k);
  size_t n = 0;
  buf[0] = 0;
  switch (k->type) {
  case T_INT: snprintf(buf, cap, "%d", *(const int *)f); break;
  case T_I64: snprintf(buf, cap, "%" PRId64, *(const int64_t *)f); break;
  case T_U64: snprintf(buf, cap, "%" PRIu64, *(const uint64_t *)f); break;
  case T_FLOAT:
    for (int p = 1; p <= 9; p++)
      if (snprintf(buf, cap, "%.*g", p, (double)*(const float *)f), strtof(buf, NULL) == *(const float *)f) break;
    break;
  case T_DOUBLE:
    for (int p = 1; p <= 17; p++)
      if (snprintf(buf, cap, "%.*g", p, *(const double *)f), strtod(buf, NULL) == *(const double *)f) break;
    break;
  case T_BOOL: snprintf(buf, cap, "%s", *(const bool *)f ? "true" : "false"); break;
  case T_ENUM: {
    int i = *(const int *)f, count = 0;
    while (k->names[count]) count++;
    snprintf(buf, cap, "%s", i >= 0 && i < count ? k->names[i] : "(invalid)");
    break;
  }
  case T_STR: snprintf(buf, cap, "%.*s", (int)k->size, (const char *)f); break;
  case T_LAYERS:
    for (int i = 0; i < c->model.n_sizes && i <= NN_MAX_LAYERS && n < cap; i++)
      n += (size_t)snprintf(buf + n, cap - n, "%s%d", i ? "," : "", c->model.sizes[i]);
    break;
  }
}

/* ---- public API */

void nn_config_defaults(nn_config *c) {
  char err[ERR_CAP];
  memset(c, 0, sizeof *c);
  for (int i = 0; i < N_KEYS; i++) (void)set_value(c, &keys[i], keys[i].def, err, sizeof err); /* tested */
}

/* inih reads lines through read_line so that we know the line number in the handler, can
 * reject unknown (even empty) sections, and can pass lines longer than inih's 200-byte buffer:
 * their value is handed over out of band (inih sees "key=\x01"). Leading blanks are dropped
 * so an indented key is never taken for a continuation of the previous value. */
typedef struct {
  nn_config c;
  const char *origin, *pos, *long_value;
  size_t long_len;
  int line, err_line;
  int first_line[N_KEYS];
  char err[ERR_CAP];
} parse_state;

static void strip_value(char *v) {
  for (char *s = v; *s; s++) /* inline comments: ';' (inih) and '#' after whitespace */
    if ((*s == ';' || *s == '#') && s > v && isspace((unsigned char)s[-1])) { *s = 0; break; }
  size_t n = strlen(v);
  while (n && isspace((unsigned char)v[n - 1])) v[--n] = 0;
}

static char *read_line(char *buf, int num, void *stream) {
  parse_state *p = stream;
  if (p->err_line || !*p->pos) return NULL;
  p->line++;
  const char *s = p->pos;
  while (*s == ' ' || *s == '\t') s++;
  size_t n = strcspn(s, "\n");
  p->pos = s + n + (s[n] == '\n');
  while (n && s[n - 1] == '\r') n--;
  if (*s == '[') {
    const char *close = memchr(s, ']', n);
    if (close && !known_section(s + 1, (size_t)(close - s - 1))) {
      char name[80], q[96];
      snprintf(name, sizeof name, "%.*s", (int)(close - s + 1 < 70 ? close - s + 1 : 70), s);
      snprintf(p->err, sizeof p->err, "unknown section %s; expected one of model, data, train, optim, checkpoint, log",
               quote(name, q, sizeof q));
      p->err_line = p->line;
      return NULL;
    }
  }
  p->long_value = NULL;
  if (n + 3 > (size_t)num) { /* too long for inih's buffer: split off the value ourselves */
    const char *sep = strpbrk(s, "=:");
    if (*s == '[' || *s == ';' || *s == '#' || !sep || sep >= s + n || (size_t)(sep - s) + 4 > (size_t)num) {
      if (*s == ';' || *s == '#') return strcpy(buf, "\n"); /* a long comment */
      snprintf(p->err, sizeof p->err, "line of %zu characters is too long or not \"key = value\"", n);
      p->err_line = p->line;
      return NULL;
    }
    p->long_value = sep + 1, p->long_len = (size_t)(s + n - sep - 1);
    n = (size_t)(sep - s) + 2;
    memcpy(buf, s, n - 1);
    buf[n - 1] = '\x01';
  } else {
    memcpy(buf, s, n);
  }
  buf[n] = '\n', buf[n + 1] = 0;
  return buf;
}

static int on_value(void *user, const char *section, const char *name, const char *value) {
  parse_state *p = user;
  char hint[96], q[80], vbuf[512], *v = vbuf;
  const cfg_key *k = find_key(section, name);
  if (!*section) {
    snprintf(p->err, sizeof p->err, "%s outside any section; expected [model], [data], ... first",
             quote(name, q, sizeof q));
  } else if (!k) {
    suggest(section, name, hint, sizeof hint);
    snprintf(p->err, sizeof p->err, "unknown key %s in [%s]%s", quote(name, q, sizeof q), section, hint);
  } else if (p->first_line[k - keys]) {
    snprintf(p->err, sizeof p->err, "%s.%s given twice (first on line %d)", section, name, p->first_line[k - keys]);
  } else {
    p->first_line[k - keys] = p->line;
    bool oob = p->long_value && !strcmp(value, "\x01");
    size_t len = oob ? p->long_len : strlen(value);
    if (len >= sizeof vbuf && !(v = malloc(len + 1))) {
      snprintf(p->err, sizeof p->err, "out of memory");
    } else {
      memcpy(v, oob ? p->long_value : value, len);
      v[len] = 0;
      char *start = v; /* leading blanks first: strip_value cuts at a ';' or '#' after a blank */
      while (isspace((unsigned char)*start)) start++;
      strip_value(start);
      char err[VALUE_ERR_CAP];
      if (set_value(&p->c, k, start, err, sizeof err))
        snprintf(p->err, sizeof p->err, "%s.%s: %s", section, name, err);
      if (v != vbuf) free(v);
    }
  }
  if (!p->err[0]) return 1;
  p->err_line = p->line;
  return 0;
}

int nn_config_parse(nn_config *c, const char *text, const char *origin) {
  parse_state *p = calloc(1, sizeof *p);
  if (!p) return NN_FAIL(NN_ENOMEM, "%s: out of memory parsing the config", origin);
  p->c = *c, p->origin = origin, p->pos = text;
  int r = ini_parse_stream(read_line, p, on_value, p), rc = NN_OK;
  if (r > 0 && (!p->err_line || r < p->err_line)) {
    const char *s = text; /* inih's own syntax error: quote line r */
    for (int i = 1; i < r && (s = strchr(s, '\n')); i++) s++;
    char line[64], q[80];
    snprintf(line, sizeof line, "%.*s", (int)strcspn(s ? s : "", "\r\n"), s ? s : "");
    rc = NN_FAIL(NN_ECONFIG, "%s:%d: expected [section], key = value or a comment, got %s", origin, r,
                 quote(line, q, sizeof q));
  } else if (p->err_line) {
    rc = NN_FAIL(NN_ECONFIG, "%s:%d: %s", origin, p->err_line, p->err);
  } else if (r < 0) {
    rc = NN_FAIL(NN_ENOMEM, "%s: out of memory parsing the config", origin);
  } else {
    *c = p->c;
  }
  free(p);
  return rc;
}

/* dst = s[0..n) without surrounding blanks, truncated to cap. */
static char *copy_trimmed(char *dst, size_t cap, const char *s, size_t n) {
  while (n && isspace((unsigned char)*s)) s++, n--;
  while (n && isspace((unsigned char)s[n - 1])) n--;
  snprintf(dst, cap, "%.*s", (int)(n < cap ? n : cap - 1), s);
  return dst;
}

int nn_config_set(nn_config *c, const char *assignment) {
  char section[32], name[64], err[VALUE_ERR_CAP], hint[96], q[80];
  const char *eq = strchr(assignment, '=');
  const char *dot = eq ? memchr(assignment, '.', (size_t)(eq - assignment)) : NULL;
  if (!dot)
    return NN_FAIL(NN_ECONFIG, "--set %s: expected section.key=value", clean(assignment, false, q, sizeof q));
  copy_trimmed(section, sizeof section, assignment, (size_t)(dot - assignment));
  copy_trimmed(name, sizeof name, dot + 1, (size_t)(eq - dot - 1));
  const cfg_key *k = find_key(section, name);
  if (!k) {
    suggest(section, name, hint, sizeof hint);
    return NN_FAIL(NN_ECONFIG, "--set %s: unknown key %s.%s%s", clean(assignment, false, q, sizeof q), section,
                   name, hint);
  }
  size_t len = strlen(eq + 1);
  char *v = malloc(len + 1);
  if (!v) return NN_FAIL(NN_ENOMEM, "--set %s: out of memory", k->name);
  copy_trimmed(v, len + 1, eq + 1, len);
  nn_config tmp = *c;
  int rc = NN_OK;
  if (set_value(&tmp, k, v, err, sizeof err))
    rc = NN_FAIL(NN_ECONFIG, "--set %s: %s.%s: %s", clean(assignment, false, q, sizeof q), k->section, k->name, err);
  else
    *c = tmp;
  free(v);
  return rc;
}

static int check_ranges(const nn_config *c) {
  char err[VALUE_ERR_CAP], buf[NN_PATH_MAX + 64];
  nn_config tmp = *c;
  for (int i = 0; i < N_KEYS; i++) {
    const cfg_key *k = &keys[i];
    if (k->type == T_STR && !memchr(cfield(c, k), 0, k->size))
      return NN_FAIL(NN_ECONFIG, "%s.%s: text is not NUL-terminated", k->section, k->name);
    if (k->type == T_LAYERS && (c->model.n_sizes < 2 || c->model.n_sizes > NN_MAX_LAYERS + 1))
      return NN_FAIL(NN_ECONFIG, "model.layers: %d sizes, expected 2 to %d", c->model.n_sizes, NN_MAX_LAYERS + 1);
    format_value(c, k, buf, sizeof buf); /* the text of the value must be accepted again */
    if (set_value(&tmp, k, buf, err, sizeof err))
      return NN_FAIL(NN_ECONFIG, "%s.%s = %s: %s", k->section, k->name, buf, err);
  }
  return NN_OK;
}

int nn_config_validate(const nn_config *c) {
  int rc = check_ranges(c);
  if (rc) return rc;
  const char *out = nn_act_name(c->model.output), *loss = nn_loss_name(c->model.loss);
  int k_out = c->model.sizes[c->model.n_sizes - 1];
  if (c->model.hidden == NN_ACT_SOFTMAX)
    return NN_FAIL(NN_ECONFIG, "model.hidden_activation = softmax: softmax is only allowed as model.output_activation");
  if (c->model.output == NN_ACT_SOFTMAX && c->model.loss != NN_LOSS_CROSS_ENTROPY)
    return NN_FAIL(NN_ECONFIG, "model.output_activation = softmax requires model.loss = cross_entropy, got model.loss = %s", loss);
  if (c->model.loss == NN_LOSS_CROSS_ENTROPY && c->model.output != NN_ACT_SOFTMAX)
    return NN_FAIL(NN_ECONFIG, "model.loss = cross_entropy requires model.output_activation = softmax, got model.output_activation = %s%s",
                   out, c->model.output == NN_ACT_SIGMOID ? " (use model.loss = bce with sigmoid)" : "");
  if (c->model.output == NN_ACT_SOFTMAX && k_out < 2)
    return NN_FAIL(NN_ECONFIG, "model.output_activation = softmax needs at least 2 output units, model.layers ends in %d "
                   "(for one output use sigmoid with loss bce)", k_out);
  if (c->model.loss == NN_LOSS_BCE && c->model.output != NN_ACT_SIGMOID)
    return NN_FAIL(NN_ECONFIG, "model.loss = bce requires model.output_activation = sigmoid, got model.output_activation = %s", out);
  if (c->optim.min_lr > c->optim.lr)
    return NN_FAIL(NN_ECONFIG, "optim.min_lr = %g exceeds optim.lr = %g", (double)c->optim.min_lr, (double)c->optim.lr);
  if (c->data.train[0] != '/')
    return NN_FAIL(NN_ECONFIG, "data.train = \"%s\": expected a group path starting with '/', such as /train", c->data.train);
  if (c->data.eval[0] && c->data.eval[0] != '/')
    return NN_FAIL(NN_ECONFIG, "data.eval = \"%s\": expected empty or a group path starting with '/', such as /test", c->data.eval);
  int64_t first, last;
  if (!nn_config_trace_steps(c, &first, &last) && strcmp(c->log.trace, "false"))
    return NN_FAIL(NN_ECONFIG, "log.trace = \"%s\": expected false, true (steps 1-%d) or a range of steps FIRST-LAST "
                               "such as 200-300", c->log.trace, NN_TRACE_DEFAULT_STEPS);
  if (!c->log.run_dir[0])
    return NN_FAIL(NN_ECONFIG, "log.run_dir is empty: expected a directory for metrics and checkpoints, such as "
                               "runs/default");
  if (c->train.reduce == NN_REDUCE_EXACT && c->data.sampling != NN_SAMPLING_GLOBAL)
    return NN_FAIL(NN_ECONFIG, "train.reduce = exact requires data.sampling = global (shard batches depend on the "
                               "rank count)");
  return NN_OK;
}

bool nn_config_trace_steps(const nn_config *c, int64_t *first, int64_t *last) {
  long long a, b;
  char tail;
  *first = 1, *last = 0;
  if (!strcmp(c->log.trace, "true")) return *last = NN_TRACE_DEFAULT_STEPS, true;
  if (sscanf(c->log.trace, "%lld-%lld%c", &a, &b, &tail) == 2 && a >= 1 && b >= a && b - a < 1000000 &&
      strspn(c->log.trace, "0123456789-") == strlen(c->log.trace))
    return *first = a, *last = b, true;
  return false;
}

int nn_config_exact_chunks(const nn_config *c) {
  if (c->train.exact_chunks > 0) return c->train.exact_chunks;
  int g = c->train.batch_size / NN_EXACT_CHUNK_ROWS;
  return g < 1 ? 1 : g > 4096 ? 4096 : g;
}

/* ---- loading: defaults, file, --set, validation */

enum { MAX_CONFIG_BYTES = 16 << 20 };

/* Reads a whole text file into a malloc'ed NUL-terminated string (*text). A NUL byte or a
 * file over 16 MiB means it is not a config file; stops reading at the first sign of that. */
static int read_text(const char *path, char **text) {
  /* O_NONBLOCK and fstat before reading: a FIFO (or a device) must not block the open */
  struct stat st;
  int fd;
  while ((fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY)) < 0 && errno == EINTR) {}
  if (fd < 0) return NN_FAIL(NN_ECONFIG, "cannot open config file %s: %s", path, strerror(errno));
  int e = fstat(fd, &st) < 0 ? errno : 0;
  if (e || !S_ISREG(st.st_mode)) {
    close(fd);
    return NN_FAIL(NN_ECONFIG, "config file %s: %s", path,
                   e                     ? strerror(e)
                   : S_ISDIR(st.st_mode) ? "is a directory, expected a text INI file"
                                         : "not a regular file (a FIFO, socket or device), expected a text INI file");
  }
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
  FILE *f = fdopen(fd, "rb");
  if (!f) {
    e = errno;
    close(fd);
    return NN_FAIL(NN_ECONFIG, "cannot open config file %s: %s", path, strerror(e));
  }
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

int nn_config_load(nn_config *c, const char *path, int n_sets, char **sets) {
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

int nn_config_write(const nn_config *c, FILE *out) {
  char buf[NN_PATH_MAX + 64];
  const char *section = "";
  fputs("; nnmpi configuration (`nnmpi config --doc` describes every key)\n", out);
  for (int i = 0; i < N_KEYS; i++) {
    if (strcmp(section, keys[i].section)) fprintf(out, "\n[%s]\n", section = keys[i].section);
    format_value(c, &keys[i], buf, sizeof buf);
    fprintf(out, "%s =%s%s\n", keys[i].name, *buf ? " " : "", buf);
  }
  return ferror(out) ? NN_FAIL(NN_EIO, "writing the config failed") : NN_OK;
}

void nn_config_each(const nn_config *c, void (*fn)(const char *section, const char *key, const char *value, void *arg),
                    void *arg) {
  char buf[NN_PATH_MAX + 64];
  for (int i = 0; i < N_KEYS; i++) {
    format_value(c, &keys[i], buf, sizeof buf);
    fn(keys[i].section, keys[i].name, buf, arg);
  }
}

char *nn_config_to_string(const nn_config *c) {
  char *s = NULL;
  size_t n = 0;
  FILE *f = open_memstream(&s, &n);
  if (!f) return NULL;
  int rc = nn_config_write(c, f);
  if (fclose(f) || rc) {
    free(s);
    return NULL;
  }
  return s;
}

int nn_config_write_doc(FILE *out) {
  char allowed[256], r[64];
  fputs("# Configuration reference\n\n"
        "<!-- Generated by `nnmpi config --doc` from the key table in src/config.c. Do not edit:\n"
        "     the unit test unit.config fails when this file differs from the generated text. -->\n\n"
        "`nnmpi train`, `nnmpi config` and `nnmpi gradcheck` build the configuration in this order:\n"
        "the defaults below, then the INI file given with `-c FILE`, then every\n"
        "`--set section.key=value` in command-line order. The result is checked (ranges and the\n"
        "rules at the end) before anything runs. With no file at all, `nnmpi train` trains the\n"
        "built-in spirals classifier. `nnmpi config -c FILE` prints the effective configuration;\n"
        "the same text is stored in every checkpoint.\n\n"
        "- Sections are `[model]`, `[data]`, `[train]`, `[optim]`, `[checkpoint]` and `[log]`;\n"
        "  every key belongs to one of them.\n"
        "- Comments start with `;` or `#`, at the start of a line or after whitespace.\n"
        "- Booleans: `true`/`false`, `yes`/`no`, `on`/`off`, `1`/`0`. Values such as `relu` or `True`\n"
        "  are case-insensitive; section and key names are not.\n"
        "- Numbers are decimal (`0.01`, `1e-3`, `64`); hexadecimal such as `0x10` is an error.\n"
        "- An unknown section or key, a value that does not parse or is out of range, and a key\n"
        "  given twice are errors naming `file:line`; a `--set` error names the argument.\n"
        "- Examples to copy: `configs/spirals.ini`, `configs/regression.ini`,\n"
        "  `configs/fashion-mnist.ini`.\n",
        out);
  const char *section = "";
  for (int i = 0; i < N_KEYS; i++) {
    const cfg_key *k = &keys[i];
    if (strcmp(section, k->section)) {
      section = k->section;
      for (int s = 0; s < N_SECTIONS; s++)
        if (!strcmp(sections[s][0], section)) fprintf(out, "\n## [%s]\n\n%s.\n\n", section, sections[s][1]);
      fputs("| key | default | allowed | meaning |\n|---|---|---|---|\n", out);
    }
    switch (k->type) {
    case T_BOOL: snprintf(allowed, sizeof allowed, "true, false"); break;
    case T_ENUM: join(k->names, allowed, sizeof allowed); break;
    case T_STR:
      if (k->names) join(k->names, allowed, sizeof allowed);
      else snprintf(allowed, sizeof allowed, "text, at most %zu characters", k->size - 1);
      break;
    case T_LAYERS:
      snprintf(allowed, sizeof allowed, "2 to %d comma-separated sizes, each %s", NN_MAX_LAYERS + 1,
               range_text(k, r, sizeof r));
      break;
    default:
      snprintf(allowed, sizeof allowed, "%s %s", k->type == T_FLOAT || k->type == T_DOUBLE ? "number" : "integer",
               k->type == T_U64 ? "0 to 2^64-1" : range_text(k, r, sizeof r));
    }
    fprintf(out, "| `%s` | `%s` | %s | %s |\n", k->name, *k->def ? k->def : "\"\"", allowed, k->doc);
  }
  fputs("\n## Rules between keys\n\n", out);
  for (size_t i = 0; i < sizeof rules / sizeof rules[0]; i++) fprintf(out, "- %s\n", rules[i]);
  return ferror(out) ? NN_FAIL(NN_EIO, "writing the config reference failed") : NN_OK;
}

int nn_config_diff_state(const nn_config *a, const nn_config *b, char *diff, size_t cap) {
  char va[NN_PATH_MAX + 64], vb[NN_PATH_MAX + 64];
  size_t n = 0;
  int count = 0;
  if (diff && cap) diff[0] = 0;
  for (int i = 0; i < N_KEYS; i++) {
    if (!(keys[i].flags & STATE)) continue;
    format_value(a, &keys[i], va, sizeof va);
    format_value(b, &keys[i], vb, sizeof vb);
    if (!strcmp(va, vb)) continue;
    count++;
    if (diff && n < cap) n += (size_t)snprintf(diff + n, cap - n, "%s.%s: %s vs %s\n", keys[i].section, keys[i].name, va, vb);
  }
  return count;
}
