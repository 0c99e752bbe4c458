/* metrics: progress output, metrics.jsonl, and the run summary (see metrics.h).
 * Layer 5, private to the trainer; uses dist for the min/mean/max time split. */
#include "metrics.h"

#include <stdarg.h>
#include <string.h>
#include <time.h>

#include "nnmpi/clock.h"
#include "nnmpi/dist.h"

int nn_metrics_open(nn_metrics *m, FILE *log, FILE *warn, bool tty, const nn_config *c, const char *run_dir) {
  memset(m, 0, sizeof *m);
  m->warn = warn;
  m->log = log, m->tty = tty && c->log.progress != NN_PROGRESS_LINES;
  if (c->log.progress == NN_PROGRESS_BAR) m->tty = log != NULL;
  if (c->log.progress == NN_PROGRESS_NONE) m->log = NULL;
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
  fprintf(m->jsonl, "{\"time\":%.3f,", (double)time(NULL));
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
  fputs(prefix, m->warn);
  vfprintf(m->warn, fmt, ap);
  fputc('\n', m->warn);
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

void nn_metrics_start(nn_metrics *m, const nn_config *c, const nn_loader *train, const nn_loader *eval,
                      const nn_net *net, const char *resumed_from, const nn_ckpt_progress *p,
                      int64_t steps_per_epoch, const char *ckpt_dir) {
  m->t_last = m->epoch_t0 = nn_now();
  m->samples_last = m->samples_start = p->samples;
  m->labels = train->info.has_labels;
  size_t priv = 0, shared = 0;
  nn_loader_memory(train, &priv, &shared);
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
  json(m, "\"event\":\"start\",\"ranks\":%d,\"params\":%zu,\"train_rows\":%lld,\"step\":%lld,\"resumed\":%s",
       nn_dist_size(), net->n_params, (long long)train->info.n, (long long)p->step, resumed_from ? "true" : "false");
}

void nn_metrics_epoch_begin(nn_metrics *m) {
  m->epoch_t0 = nn_now();
}

void nn_metrics_step(nn_metrics *m, const nn_ckpt_progress *p, int64_t steps_per_epoch, double loss, double acc,
                     float lr, int64_t rows) {
  (void)rows;
  m->loss_sum += loss, m->acc_sum += acc, m->n_sum++;
  bool last = p->batch == steps_per_epoch;
  double t = nn_now();
  bool due = m->tty ? (t - m->t_last > 0.25 || last) : (p->step % m->every == 0 || last);
  if (!due) return;
  double sps = (p->samples - m->samples_last) / (t - m->t_last > 1e-9 ? t - m->t_last : 1e-9);
  double ml = m->loss_sum / m->n_sum, ma = m->acc_sum / m->n_sum;
  if (m->log) {
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
  }
  json(m, "\"event\":\"step\",\"epoch\":%lld,\"step\":%lld,\"loss\":%.6g,\"acc\":%.6g,\"lr\":%.6g,\"samples_per_s\":%.1f",
       (long long)p->epoch + 1, (long long)p->step, ml, ma, lr, sps);
  m->loss_sum = m->acc_sum = 0, m->n_sum = 0;
  m->t_last = t, m->samples_last = p->samples;
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
  json(m, "\"event\":\"checkpoint\",\"path\":\"%s\",\"step\":%lld,\"seconds\":%.4f", path, (long long)p->step, seconds);
}

void nn_metrics_stopped(nn_metrics *m, const nn_ckpt_progress *p, const char *ckpt) {
  bar_break(m);
  nn_metrics_warn(m, "stop requested: checkpoint %s written at step %lld; resume with the same command (exit 75)",
                  ckpt, (long long)p->step);
  json(m, "\"event\":\"stopped\",\"step\":%lld,\"checkpoint\":\"%s\"", (long long)p->step, ckpt);
}

void nn_metrics_summary(nn_metrics *m, const nn_ckpt_progress *p, const nn_timers *tm, double wall) {
  static const char *names[NN_T_COUNT] = {"data", "forward", "backward", "allreduce", "optimizer", "eval", "checkpoint"};
  double mn[NN_T_COUNT], mx[NN_T_COUNT], sum[NN_T_COUNT];
  memcpy(mn, tm->t, sizeof mn), memcpy(mx, tm->t, sizeof mx), memcpy(sum, tm->t, sizeof sum);
  nn_dist_min_f64(mn, NN_T_COUNT);
  nn_dist_max_f64(mx, NN_T_COUNT);
  nn_dist_sum_f64(sum, NN_T_COUNT);
  int W = nn_dist_size();
  double train_t = sum[NN_T_DATA] + sum[NN_T_FORWARD] + sum[NN_T_BACKWARD] + sum[NN_T_REDUCE] + sum[NN_T_OPTIM];
  train_t /= W;
  if (m->log) {
    fprintf(m->log, "done: epoch %lld, step %lld, %lld samples in %.2f s this run (%.2f s in all)", (long long)p->epoch,
            (long long)p->step, (long long)p->samples, wall, p->elapsed);
    if (p->eval_epoch >= 0) fprintf(m->log, "; last eval (epoch %d) loss %.4f %s %.4f", p->eval_epoch, p->eval_loss,
                                    m->labels ? "accuracy" : "mse", p->eval_metric);
    fprintf(m->log, "\ntime split over %d rank(s), seconds (min / mean / max):\n", W);
    for (int i = 0; i < NN_T_COUNT; i++)
      fprintf(m->log, "  %-10s %9.3f %9.3f %9.3f\n", names[i], mn[i], sum[i] / W, mx[i]);
    if (tm->n_ckpt) fprintf(m->log, "  checkpoint mean %.3f s per write (size --signal / every_seconds from this)\n",
                            sum[NN_T_CKPT] / W / tm->n_ckpt);
    if (tm->steps && train_t > 0)
      fprintf(m->log, "  throughput %.0f samples/s in training steps (%.0f samples/s of wall time)\n",
              (p->samples - m->samples_start) / train_t, (p->samples - m->samples_start) / wall);
    fflush(m->log);
  }
  json(m, "\"event\":\"summary\",\"epoch\":%lld,\"step\":%lld,\"samples\":%lld,\"wall\":%.3f,\"elapsed\":%.3f,"
          "\"data\":%.4f,\"forward\":%.4f,\"backward\":%.4f,\"allreduce\":%.4f,\"optimizer\":%.4f,\"eval\":%.4f,"
          "\"checkpoint\":%.4f,\"eval_loss\":%.9g,\"eval_metric\":%.9g",
       (long long)p->epoch, (long long)p->step, (long long)p->samples, wall, p->elapsed, sum[0] / W, sum[1] / W,
       sum[2] / W, sum[3] / W, sum[4] / W, sum[5] / W, sum[6] / W, p->eval_loss, p->eval_metric);
  if (m->jsonl) {
    fflush(m->jsonl);
    if (nn_curves_write(m->run_dir) == NN_OK && m->log) fprintf(m->log, "learning curves: %s/learning-curves.svg\n", m->run_dir);
  }
}
