/* metrics: progress output, metrics.jsonl, and the run summary (see metrics.h).
 * Layer 5, private to the trainer; uses dist for the min/mean/max time split. */
#include "metrics.h"

#include <stdarg.h>
#include <string.h>
#include <time.h>

#include "nnmpi/clock.h"
#include "nnmpi/dist.h"
#include "json.h"
#include "trace.h"

double nn_timers_add(nn_timers *tm, int phase, double t0, double t1) {
  if (phase < NN_T_COUNT) tm->t[phase] += t1 - t0;
  if (tm->trace) nn_trace_add(tm->trace, phase, t0, t1);
  return t1;
}

int nn_metrics_open(nn_metrics *m, FILE *log, FILE *warn, bool tty, const nn_config *c, const char *run_dir) {
  memset(m, 0, sizeof *m);
  m->warn = warn;
  m->log = log, m->tty = tty && c->log.progress != NN_PROGRESS_LINES;
  if (c->log.progress == NN_PROGRESS_BAR) m->tty = log != NULL;
  m->no_progress = c->log.progress == NN_PROGRESS_NONE;
  if (m->no_progress) m->tty = false;
  m->every = c->log.every_steps > 0 ? c->log.every_steps : 50;
  m->epochs = c->train.epochs;
  if (!run_dir) return NN_OK;
  snprintf(m->run_dir, sizeof m->run_dir, "%s", run_dir);
  char path[NN_PATH_MAX + 32];
  snprintf(path, sizeof path, "%s/metrics.jsonl", run_dir);
  if (!(m->jsonl = fopen(path, "a"))) return NN_FAIL(NN_EIO, "cannot open %s for appending", path);
  return NN_OK;
}

void nn_metrics_close(nn_metrics *m) {
  if (m->jsonl) fclose(m->jsonl);
  m->jsonl = NULL;
}

static void json(nn_metrics *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void json(nn_metrics *m, const char *fmt, ...) {
  if (!m->jsonl) return;
  va_list ap;
  va_start(ap, fmt);
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  fprintf(m->jsonl, "{\"time\":%.3f,", (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec);
  vfprintf(m->jsonl, fmt, ap);
  fputs("}\n", m->jsonl);
  fflush(m->jsonl);
  va_end(ap);
}

/* Ends a progress bar line before other output. */
static void bar_break(nn_metrics *m) {
  if (m->log && m->tty) fputc('\n', m->log);
}

static void vnote(nn_metrics *m, const char *prefix, const char *fmt, va_list ap) {
  if (!m->warn) return;
  if (m->log) fflush(m->log); /* keep the order of the two streams on one terminal or file */
  /* one write per line: the warning stream is unbuffered, and under mpirun a line written in
   * pieces could take another stream's line into its middle */
  char line[2048];
  int len = snprintf(line, sizeof line, "%s", prefix);
  int body = vsnprintf(line + len, sizeof line - (size_t)len, fmt, ap);
  len += body > 0 ? body : 0;
  if (len > (int)sizeof line - 2) len = (int)sizeof line - 2;
  line[len] = '\n', line[len + 1] = 0;
  fputs(line, m->warn);
  fflush(m->warn);
}

void nn_metrics_warn(nn_metrics *m, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vnote(m, "nnmpi: ", fmt, ap);
  va_end(ap);
}

void nn_metrics_note(nn_metrics *m, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vnote(m, "", fmt, ap);
  va_end(ap);
}

static const char *mib(size_t bytes, char *buf, size_t cap) {
  snprintf(buf, cap, "%.1f MiB", bytes / 1048576.0);
  return buf;
}

/* The nodes of the job (distinct host names, in order of their first rank) into nodes[] (each
 * the first rank on it) and, per node, its ranks as ranges "0-1,4" into list; returns the count. */
static int group_nodes(char *list, size_t cap, int *per_node_max) {
  const int W = nn_dist_size();
  int n = 0;
  size_t len = 0;
  *per_node_max = 0;
  list[0] = 0;
  for (int r = 0; r < W; r++) {
    bool seen = false;
    for (int q = 0; q < r && !seen; q++) seen = !strcmp(nn_dist_host(q), nn_dist_host(r));
    if (seen) continue;
    n++;
    int count = 0;
    len += (size_t)snprintf(list + len, len < cap ? cap - len : 0, "%s%s: ", n > 1 ? ", " : "", nn_dist_host(r));
    for (int q = r; q < W; q++) {
      if (strcmp(nn_dist_host(q), nn_dist_host(r))) continue;
      int end = q;
      while (end + 1 < W && !strcmp(nn_dist_host(end + 1), nn_dist_host(r))) end++;
      len += (size_t)snprintf(list + len, len < cap ? cap - len : 0, count ? ",%d" : "%d", q);
      if (end > q) len += (size_t)snprintf(list + len, len < cap ? cap - len : 0, "-%d", end);
      count += end - q + 1;
      q = end;
    }
    if (count > *per_node_max) *per_node_max = count;
  }
  return n;
}

void nn_metrics_start(nn_metrics *m, const nn_config *c, const nn_loader *train, const nn_loader *eval,
                      const nn_net *net, const char *resumed_from, const nn_ckpt_progress *p,
                      int64_t steps_per_epoch, const char *ckpt_dir) {
  m->t_last = m->jt_last = m->epoch_t0 = nn_now();
  m->samples_last = m->jsamples_last = m->samples_start = p->samples;
  m->steps_start = p->step;
  m->labels = train->info.has_labels;
  size_t priv = 0, shared = 0;
  nn_loader_memory(train, &priv, &shared);
  /* where the job runs and how many copies of the training data it holds */
  const int W = nn_dist_size();
  char nodes[1024], copies[160];
  int per_node, n_nodes = group_nodes(nodes, sizeof nodes, &per_node);
  bool in_shm = c->data.path[0] && c->data.sampling == NN_SAMPLING_GLOBAL;
  int n_copies = in_shm ? train->shm.n_nodes : c->data.sampling == NN_SAMPLING_SHARD ? 0 : W;
  if (in_shm)
    snprintf(copies, sizeof copies, "%d cop%s, one per %snode in node-shared memory", n_copies, n_copies == 1 ? "y" : "ies",
             c->data.ranks_per_node > 0 ? "pretend (data.ranks_per_node) " : "");
  else if (c->data.sampling == NN_SAMPLING_SHARD)
    snprintf(copies, sizeof copies, "no copies: each rank holds its 1/%d shard", W);
  else if (W > 1)
    snprintf(copies, sizeof copies, "%d copies, one generated by each rank", W);
  else
    snprintf(copies, sizeof copies, "1 copy in memory");
  nn_metrics_note(m, "layout: %d rank%s on %d node%s, up to %d per node (%s); training data: %s; optimizer state %s", W,
                  W == 1 ? "" : "s", n_nodes, n_nodes == 1 ? "" : "s", per_node, nodes, copies,
                  m->node_memory ? "sharded over the ranks, reduced and updated in node-shared memory"
                  : m->sharded   ? "sharded over the ranks, reduced by MPI"
                                 : "replicated on every rank");
  if (m->log) {
    char b1[32], b2[32];
    fprintf(m->log, "data: %s: %lld rows x %d features (%s), %s, %s sampling", train->where, (long long)train->info.n,
            train->info.d, train->info.xtype == NN_DTYPE_U8 ? "uint8" : "float32",
            train->info.has_labels ? "class labels" : "float targets",
            c->data.sampling == NN_SAMPLING_GLOBAL ? "global" : "shard");
    if (c->data.sampling == NN_SAMPLING_GLOBAL && c->data.path[0])
      fprintf(m->log, " (%d node copy(s), %s node-shared, %s private on rank 0)", train->shm.n_nodes,
              mib(shared, b1, sizeof b1), mib(priv, b2, sizeof b2));
    fputc('\n', m->log);
    if (eval) fprintf(m->log, "eval: %s: %lld rows\n", eval->where, (long long)eval->info.n);
    fprintf(m->log, "model: %d layers, %zu parameters; %d rank(s), global batch %d, %lld steps per epoch\n",
            net->n_layers, net->n_params, nn_dist_size(), c->train.batch_size, (long long)steps_per_epoch);
    fprintf(m->log, "checkpoints: %s\n", ckpt_dir);
    fflush(m->log);
  }
  if (resumed_from)
    nn_metrics_note(m, "resumed from %s: epoch %lld, batch %lld, step %lld (saved on %d rank(s))", resumed_from,
                    (long long)p->epoch + 1, (long long)p->batch, (long long)p->step, p->world_size);
  json(m, "\"event\":\"start\",\"ranks\":%d,\"nodes\":%d,\"data_copies\":%d,\"params\":%zu,\"train_rows\":%lld,\"step\":%lld,"
          "\"epoch\":%lld,\"epochs\":%d,\"steps_per_epoch\":%lld,\"batch_size\":%d,\"reduce\":\"%s\","
          "\"shard_optimizer\":%s,\"node_memory\":%s,\"resumed\":%s",
       W, n_nodes, n_copies, net->n_params, (long long)train->info.n,
       (long long)p->step, (long long)p->epoch, c->train.epochs, (long long)steps_per_epoch, c->train.batch_size,
       c->train.reduce == NN_REDUCE_EXACT ? "exact" : "fast", m->sharded ? "true" : "false",
       m->node_memory ? "true" : "false", resumed_from ? "true" : "false");
}

void nn_metrics_epoch_begin(nn_metrics *m) {
  m->epoch_t0 = nn_now();
}

void nn_metrics_step(nn_metrics *m, const nn_ckpt_progress *p, int64_t steps_per_epoch, double loss, double acc,
                     float lr, int64_t rows) {
  (void)rows;
  m->loss_sum += loss, m->acc_sum += acc, m->n_sum++;
  m->jloss_sum += loss, m->jacc_sum += acc, m->jn_sum++;
  const bool last = p->batch == steps_per_epoch, every = p->step % m->every == 0 || last;
  const double t = nn_now();
  /* the log: a bar a few times a second on a terminal, else a line every log.every_steps */
  if (m->log && !m->no_progress && (m->tty ? t - m->t_last > 0.25 || last : every)) {
    double sps = (p->samples - m->samples_last) / (t - m->t_last > 1e-9 ? t - m->t_last : 1e-9);
    double ml = m->loss_sum / m->n_sum, ma = m->acc_sum / m->n_sum;
    if (m->tty) {
      int width = 30, fill = (int)(width * p->batch / steps_per_epoch);
      double eta = (t - m->epoch_t0) / p->batch * (steps_per_epoch - p->batch);
      fprintf(m->log, "\repoch %lld/%d [%.*s%*s] %3d%% loss %.4f", (long long)p->epoch + 1, m->epochs, fill,
              "##############################", width - fill, "", (int)(100 * p->batch / steps_per_epoch), ml);
      if (ma >= 0) fprintf(m->log, " acc %.3f", ma);
      fprintf(m->log, " %.0f samples/s ETA %.0fs ", sps, eta);
      if (last) fputc('\n', m->log);
    } else {
      fprintf(m->log, "epoch %lld/%d step %lld (batch %lld/%lld) loss %.4f", (long long)p->epoch + 1, m->epochs,
              (long long)p->step, (long long)p->batch, (long long)steps_per_epoch, ml);
      if (ma >= 0) fprintf(m->log, " acc %.3f", ma);
      fprintf(m->log, " lr %.3g %.0f samples/s\n", lr, sps);
    }
    fflush(m->log);
    m->loss_sum = m->acc_sum = 0, m->n_sum = 0;
    m->t_last = t, m->samples_last = p->samples;
  }
  /* metrics.jsonl: a step event every log.every_steps, whatever the log shows */
  if (every) {
    double sps = (p->samples - m->jsamples_last) / (t - m->jt_last > 1e-9 ? t - m->jt_last : 1e-9);
    json(m, "\"event\":\"step\",\"epoch\":%lld,\"step\":%lld,\"loss\":%.6g,\"acc\":%.6g,\"lr\":%.6g,\"samples_per_s\":%.1f",
         (long long)p->epoch + 1, (long long)p->step, m->jloss_sum / m->jn_sum, m->jacc_sum / m->jn_sum, lr, sps);
    m->jloss_sum = m->jacc_sum = 0, m->jn_sum = 0;
    m->jt_last = t, m->jsamples_last = p->samples;
  }
}

void nn_metrics_eval(nn_metrics *m, const nn_ckpt_progress *p, const nn_eval_result *e, bool labels) {
  if (m->log) {
    if (labels)
      fprintf(m->log, "eval epoch %d: loss %.4f accuracy %.2f%% (%lld rows)\n", p->eval_epoch, e->loss, 100 * e->acc,
              (long long)e->rows);
    else
      fprintf(m->log, "eval epoch %d: loss %.6f mse %.6f mae %.6f (%lld rows)\n", p->eval_epoch, e->loss, e->mse,
              e->mae, (long long)e->rows);
    fflush(m->log);
  }
  if (labels)
    json(m, "\"event\":\"eval\",\"epoch\":%d,\"step\":%lld,\"loss\":%.9g,\"accuracy\":%.9g,\"rows\":%lld", p->eval_epoch,
         (long long)p->step, e->loss, e->acc, (long long)e->rows);
  else
    json(m, "\"event\":\"eval\",\"epoch\":%d,\"step\":%lld,\"loss\":%.9g,\"mse\":%.9g,\"mae\":%.9g,\"rows\":%lld",
         p->eval_epoch, (long long)p->step, e->loss, e->mse, e->mae, (long long)e->rows);
}

void nn_metrics_checkpoint(nn_metrics *m, const char *path, const nn_ckpt_progress *p, double seconds) {
  if (m->log && !m->tty) {
    fprintf(m->log, "checkpoint %s (step %lld, %.3f s)\n", path, (long long)p->step, seconds);
    fflush(m->log);
  }
  char esc[2 * NN_PATH_MAX];
  json(m, "\"event\":\"checkpoint\",\"path\":\"%s\",\"step\":%lld,\"seconds\":%.4f", nn_json_escape(esc, sizeof esc, path),
       (long long)p->step, seconds);
}

void nn_metrics_stopped(nn_metrics *m, const nn_ckpt_progress *p, const char *ckpt) {
  bar_break(m);
  nn_metrics_warn(m, "stop requested: checkpoint %s written at step %lld; resume with the same command (exit 75)",
                  ckpt, (long long)p->step);
  char esc[2 * NN_PATH_MAX];
  json(m, "\"event\":\"stopped\",\"step\":%lld,\"checkpoint\":\"%s\"", (long long)p->step,
       nn_json_escape(esc, sizeof esc, ckpt));
}

void nn_metrics_failed(nn_metrics *m, const nn_ckpt_progress *p, const char *message) {
  char esc[1024];
  json(m, "\"event\":\"failed\",\"step\":%lld,\"message\":\"%s\"", (long long)p->step,
       nn_json_escape(esc, sizeof esc, message));
}

void nn_metrics_summary(nn_metrics *m, const nn_ckpt_progress *p, const nn_timers *tm, double wall) {
  static const char *names[NN_T_COUNT] = {"data", "forward", "backward", "allreduce", "optimizer", "eval", "checkpoint"};
  double mn[NN_T_COUNT], mx[NN_T_COUNT], sum[NN_T_COUNT];
  memcpy(mn, tm->t, sizeof mn), memcpy(mx, tm->t, sizeof mx), memcpy(sum, tm->t, sizeof sum);
  nn_dist_min_f64(mn, NN_T_COUNT);
  nn_dist_max_f64(mx, NN_T_COUNT);
  nn_dist_sum_f64(sum, NN_T_COUNT);
  const int W = nn_dist_size();
  double train_t = 0;
  int dominant = NN_T_DATA;
  for (int i = NN_T_DATA; i <= NN_T_OPTIM; i++) {
    train_t += sum[i] / W;
    if (sum[i] > sum[dominant]) dominant = i;
  }
  const int64_t samples = p->samples - m->samples_start, steps = p->step - m->steps_start;
  if (m->log) {
    fprintf(m->log, "done: epoch %lld, step %lld, %lld samples in %.2f s this run (%.2f s in all)", (long long)p->epoch,
            (long long)p->step, (long long)p->samples, wall, p->elapsed);
    if (p->eval_epoch >= 0)
      fprintf(m->log, "; last eval (epoch %d) loss %.4f %s %.4f", p->eval_epoch, p->eval_loss,
              m->labels ? "accuracy" : "mse", p->eval_metric);
    fprintf(m->log, "\ntime split over %d rank(s), seconds (min / mean / max):\n", W);
    for (int i = 0; i < NN_T_COUNT; i++) fprintf(m->log, "  %-10s %9.3f %9.3f %9.3f\n", names[i], mn[i], sum[i] / W, mx[i]);
    if (tm->n_ckpt)
      fprintf(m->log, "  checkpoint mean %.3f s per write (size --signal / every_seconds from this)\n",
              sum[NN_T_CKPT] / W / tm->n_ckpt);
    if (tm->steps && train_t > 0) {
      fprintf(m->log, "  throughput %.0f samples/s in training steps (%.0f samples/s of wall time)\n", samples / train_t,
              samples / wall);
      fprintf(m->log, "  dominant phase of a step: %s (%.0f %%; docs/performance.md says what helps)\n", names[dominant],
              100 * sum[dominant] / W / train_t);
    }
    fflush(m->log);
  }
  char phases[1024];
  size_t n = 0;
  for (int i = 0; i < NN_T_COUNT; i++)
    n += (size_t)snprintf(phases + n, sizeof phases - n, "\"%s\":%.4f,\"%s_min\":%.4f,\"%s_max\":%.4f,", names[i],
                          sum[i] / W, names[i], mn[i], names[i], mx[i]);
  json(m, "\"event\":\"summary\",\"epoch\":%lld,\"step\":%lld,\"samples\":%lld,\"steps_this_run\":%lld,"
          "\"samples_this_run\":%lld,\"wall\":%.3f,\"elapsed\":%.3f,\"ranks\":%d,%s\"dominant\":\"%s\","
          "\"samples_per_s\":%.1f,\"eval_loss\":%.9g,\"eval_metric\":%.9g",
       (long long)p->epoch, (long long)p->step, (long long)p->samples, (long long)steps, (long long)samples, wall,
       p->elapsed, W, phases, names[dominant], train_t > 0 ? samples / train_t : 0.0, p->eval_loss, p->eval_metric);
  if (m->jsonl) {
    fflush(m->jsonl);
    if (nn_curves_write(m->run_dir) == NN_OK && m->log)
      fprintf(m->log, "learning curves: %s/learning-curves.svg\n", m->run_dir);
  }
}
