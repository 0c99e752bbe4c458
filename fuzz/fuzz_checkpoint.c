/* fuzz_checkpoint: checkpoint verification (nn_ckpt_inspect / nn_ckpt_verify: the text header,
 * its CRC, the whole-file CRC, then HDF5 attributes, shapes and per-array CRCs), and for files
 * that verify, nn_ckpt_read_config and nn_ckpt_read into a net built from the file's own
 * architecture.
 *
 * Input: byte 0 = mode, the rest is the file. A mutated file almost always fails the
 * whole-file CRC, so the mode lets the harness reseal what the fuzzer changed, as a forger
 * would: bit 0 rewrites "length" to the file size, bit 1 rewrites "crc32" to the CRC of the
 * bytes after the header, bit 2 rewrites the "hdrcrc" line (CRC of the header text). Mode 0
 * is the file as it is. The header must fit its user block after rewriting, else it is kept.
 *
 * Oracles: failures are NN_ECKPT with a message starting with the path and giving the reason
 * (not "HDF5 error" for a lost HDF5 error stack); a file that verifies
 * has 1..16 layers, 0..2 state arrays and every array counted; verify, inspect and
 * read_config agree; no HDF5 id stays open. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "fuzzutil.h"
#include "nnmpi/checkpoint.h"
#include "nnmpi/config.h"
#include "nnmpi/net.h"
#include "nnmpi/optim.h"
#include "nnmpi/status.h"

static uint32_t crc(const uint8_t *p, size_t n) { return (uint32_t)crc32_z(crc32_z(0L, Z_NULL, 0), p, n); }

/* Rewrites the header of f (size bytes) in place as mode says; leaves it alone when it cannot. */
static void reseal(uint8_t *f, size_t size, unsigned mode) {
  char first[512] = {0};
  int version;
  long long ub;
  memcpy(first, f, size < 511 ? size : 511);
  if (sscanf(first, "nnmpi-checkpoint %d %lld", &version, &ub) != 2 || ub < 64 || ub > (1 << 20) ||
      (size_t)ub > size)
    return;
  char *text = calloc((size_t)ub + 1, 1), *out = calloc((size_t)ub + 64, 1);
  if (!text || !out) goto done;
  memcpy(text, f, (size_t)ub); /* NUL-terminated: the text ends at the first NUL */
  char *hc = strstr(text, "\nhdrcrc ");
  size_t end = hc ? (size_t)(hc - text + 1) : strlen(text), n = 0;
  for (size_t pos = 0; pos < end && n < (size_t)ub;) {
    size_t len = strcspn(text + pos, "\n");
    if (pos + len > end) len = end - pos;
    if ((mode & 1) && !strncmp(text + pos, "length ", 7))
      n += (size_t)snprintf(out + n, (size_t)ub + 64 - n, "length %zu\n", size);
    else if ((mode & 2) && !strncmp(text + pos, "crc32 ", 6))
      n += (size_t)snprintf(out + n, (size_t)ub + 64 - n, "crc32 %08x\n", (unsigned)crc(f + ub, size - (size_t)ub));
    else if (n + len + 1 < (size_t)ub + 64)
      memcpy(out + n, text + pos, len), out[n + len] = '\n', n += len + 1;
    pos += len + 1;
  }
  if (mode & 4) {
    if (n + 20 < (size_t)ub) n += (size_t)snprintf(out + n, (size_t)ub + 64 - n, "hdrcrc %08x\n", (unsigned)crc((uint8_t *)out, n));
    else goto done;
  } else if (hc) { /* keep the old hdrcrc line */
    size_t len = strcspn(hc + 1, "\n") + 1;
    if (n + len >= (size_t)ub) goto done;
    memcpy(out + n, hc + 1, len), n += len;
  }
  if (n >= (size_t)ub) goto done;
  memset(f, 0, (size_t)ub);
  memcpy(f, out, n);
done:
  free(text);
  free(out);
}

/* nn_ckpt_read into a net and optimiser made from the file's own architecture. */
static void read_into_net(const char *path, const nn_ckpt_info *info) {
  char set[512];
  size_t n = 0;
  for (int l = 0; l < info->n_layers; l++) n += (size_t)info->sizes[l] * info->sizes[l + 1] + info->sizes[l + 1];
  if (n > (1u << 20)) return; /* memory budget */
  nn_config c;
  nn_config_defaults(&c);
  int len = snprintf(set, sizeof set, "model.layers=");
  for (int l = 0; l <= info->n_layers; l++) len += snprintf(set + len, sizeof set - (size_t)len, "%s%d", l ? "," : "", info->sizes[l]);
  if (nn_config_set(&c, set)) return;
  if (strcmp(info->hidden, "none")) {
    snprintf(set, sizeof set, "model.hidden_activation=%s", info->hidden);
    if (nn_config_set(&c, set)) return;
  }
  snprintf(set, sizeof set, "model.output_activation=%s", info->output);
  if (nn_config_set(&c, set)) return;
  snprintf(set, sizeof set, "model.loss=%s", info->loss);
  if (nn_config_set(&c, set)) return;
  snprintf(set, sizeof set, "model.leaky_slope=%.9g", (double)info->leaky_slope);
  if (nn_config_set(&c, set)) return;
  snprintf(set, sizeof set, "optim.name=%s", info->optimizer);
  if (nn_config_set(&c, set)) return;
  nn_net net;
  nn_optim opt;
  memset(&net, 0, sizeof net);
  memset(&opt, 0, sizeof opt);
  if (nn_net_init(&net, &c.model, 1) == NN_OK) {
    if (nn_optim_init(&opt, &c.optim, net.n_params) == NN_OK) {
      nn_ckpt_data d = {.net = &net, .opt = &opt};
      int rc = nn_ckpt_read(path, &d);
      ORACLE(rc == NN_OK || rc == NN_ECKPT, "nn_ckpt_read returned %d", rc);
      nnf_check_message(rc, path, "nn_ckpt_read");
      nn_optim_free(&opt);
    }
    nn_net_free(&net);
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return -1;
  uint8_t *f = malloc(size);
  if (!f) return 0;
  memcpy(f, data + 1, size - 1);
  if (data[0] & 7) reseal(f, size - 1, data[0]);
  const char *path = nnf_input_file(0, f, size - 1);
  free(f);

  nnf_ids_begin();
  (void)nn_ckpt_is_checkpoint(path);
  nn_ckpt_info info;
  int rc = nn_ckpt_inspect(path, &info);
  nnf_log("nn_ckpt_inspect", rc);
  ORACLE(rc == NN_OK || rc == NN_ECKPT, "nn_ckpt_inspect returned %d (%s)", rc, nn_strerror(rc));
  ORACLE(rc == NN_OK || strncmp(nn_errmsg(), path, strlen(path)) == 0, "message does not start with the path");
  nnf_check_cause(rc, "nn_ckpt_inspect");
  if (rc == NN_OK) {
    ORACLE(info.n_layers >= 1 && info.n_layers <= NN_MAX_LAYERS && info.n_state >= 0 && info.n_state <= 2 &&
               info.n_arrays == 2 * info.n_layers * (1 + info.n_state),
           "verified: %d layers, %d state arrays, %d arrays checked", info.n_layers, info.n_state, info.n_arrays);
    ORACLE(nn_ckpt_verify(path) == NN_OK, "inspect passes, verify fails");
    char *text = NULL;
    ORACLE(nn_ckpt_read_config(path, &text) == NN_OK && text && !strcmp(text, info.config_text),
           "read_config disagrees with inspect");
    free(text);
    read_into_net(path, &info);
  }
  nn_ckpt_info_free(&info);
  nnf_ids_end("checkpoint verification");
  return 0;
}
