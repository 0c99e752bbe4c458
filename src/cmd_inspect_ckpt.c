/* cmd_inspect_ckpt: the checkpoint half of `nnmpi inspect` — prints what a checkpoint holds
 * and verifies every checksum. Layer 6: checkpoint module only; prints to stdout. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "nnmpi/checkpoint.h"
#include "nnmpi/status.h"

int nn_cmd_inspect_checkpoint(const char *path) {
  nn_ckpt_info in;
  int rc = nn_ckpt_inspect(path, &in);
  const nn_ckpt_progress *p = &in.prog;
  printf("checkpoint   %s\n", path);
  if (rc != NN_OK && !in.config_text) { /* damaged before the metadata could be read */
    printf("verification FAILED (below)\n");
    nn_ckpt_info_free(&in);
    return rc;
  }
  printf("format       nnmpi-checkpoint version %d, written by nnmpi %s at %s, %lld bytes\n", in.format_version,
         in.nnmpi_version, in.created, (long long)in.file_bytes);
  if (in.n_layers > 0) {
    printf("progress     step %lld, epoch %lld batch %lld (next), %lld samples, %.1f s elapsed, %s\n",
           (long long)p->step, (long long)p->epoch, (long long)p->batch, (long long)p->samples, p->elapsed,
           p->complete ? "training complete" : "in progress");
    printf("saved on     %d rank(s), seed %llu\n", p->world_size, (unsigned long long)p->seed);
    if (p->eval_epoch < 0)
      printf("last eval    none\n");
    else if (!strcmp(in.loss, "mse"))
      printf("last eval    epoch %d: loss %.6g, mse %.6g, mae %.6g\n", p->eval_epoch, p->eval_loss, p->eval_metric,
             p->eval_metric2);
    else
      printf("last eval    epoch %d: loss %.6g, accuracy %.4f\n", p->eval_epoch, p->eval_loss, p->eval_metric);
    printf("model        ");
    for (int l = 0; l <= in.n_layers; l++) printf("%s%d", l ? "-" : "", in.sizes[l]);
    printf(", hidden %s, output %s, loss %s", in.hidden, in.output, in.loss);
    if (!strcmp(in.hidden, "leaky_relu") || !strcmp(in.output, "leaky_relu"))
      printf(", leaky_slope %g", in.leaky_slope);
    printf("\n");
    for (int l = 0; l < in.n_layers; l++)
      printf("  layer_%03d  W (%d, %d) float32, b (%d) float32\n", l, in.sizes[l], in.sizes[l + 1], in.sizes[l + 1]);
    printf("optimizer    %s, t = %lld", in.optimizer, (long long)in.opt_t);
    for (int s = 0; s < in.n_state; s++) printf("%s%s", s ? ", " : ", state ", in.state_names[s]);
    printf("\n");
  }
  printf("config       %s\n", in.config_digest);
  const char *t = in.config_text;
  while (t && *t) {
    const char *e = strchr(t, '\n');
    int n = e ? (int)(e - t) : (int)strlen(t);
    printf("  | %.*s\n", n, t);
    t += n + (e != NULL);
  }
  if (rc == NN_OK)
    printf("checksums    ok: header, file CRC32, %d arrays CRC32 (/integrity)\n", in.n_arrays);
  else
    printf("verification FAILED (below)\n");
  nn_ckpt_info_free(&in);
  return rc;
}
