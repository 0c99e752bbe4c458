/* Tests of checkpoint: bit-exact round trip, damaged files (truncated, flipped bytes anywhere,
 * wrong version, empty, directory), architecture mismatch, stale .tmp, fallback to an older
 * checkpoint, rotation, disk full and read-only directories (tmpfs mounts when root). */
#define _GNU_SOURCE
#include "testutil.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <hdf5.h>
#include <zlib.h>

#include "nnmpi/checkpoint.h"
#include "nnmpi/status.h"

/* A net + optimiser with every parameter and state value set (including -0, NaN, denormals). */
typedef struct model {
  nn_net_spec spec;
  nn_optim_spec ospec;
  nn_net net;
  nn_optim opt;
  char *text;
} model;

static void model_make(model *m, const char *sizes, nn_optim_kind kind, nn_act hidden, uint32_t fill) {
  m->spec = (nn_net_spec){.hidden = hidden, .output = NN_ACT_SOFTMAX, .loss = NN_LOSS_CROSS_ENTROPY,
                          .leaky_slope = 0.01f, .seed = 1};
  for (const char *p = sizes; *p; p += *p == ',') {
    char *end;
    m->spec.sizes[m->spec.n_sizes++] = (int)strtol(p, &end, 10);
    p = end;
  }
  m->ospec = (nn_optim_spec){.name = kind, .lr = 0.01f, .momentum = 0.9f, .beta1 = 0.9f, .beta2 = 0.999f, .eps = 1e-8f};
  assert_int_equal(nn_net_init(&m->net, &m->spec, 4), NN_OK);
  assert_int_equal(nn_optim_init(&m->opt, &m->ospec, m->net.n_params), NN_OK);
  nn_rng r = nn_rng_make(fill, 7);
  for (size_t i = 0; i < m->net.n_params; i++) m->net.params[i] = fill ? nn_rng_normal(&r) : 0.0f;
  for (size_t i = 0; i < (size_t)m->opt.n_state * m->opt.n; i++) m->opt.state[i] = fill ? nn_rng_uniform(&r) : 0.0f;
  if (fill && m->net.n_params > 3) {
    m->net.params[0] = -0.0f, m->net.params[1] = NAN, m->net.params[2] = 1e-42f;
  }
  m->opt.t = fill ? 17 : 0;
  /* the checkpoint stores the config text as it is; any text with the model's description does */
  assert_true(asprintf(&m->text, "[model]\nlayers = %s\nhidden_activation = %s\n\n[optim]\nname = %s\n", sizes,
                       nn_act_name(hidden), nn_optim_name(kind)) > 0);
}

static void model_free(model *m) {
  nn_net_free(&m->net);
  nn_optim_free(&m->opt);
  free(m->text);
}

static nn_ckpt_progress prog_at(int64_t step, int64_t epoch, int64_t batch) {
  return (nn_ckpt_progress){.epoch = epoch, .batch = batch, .step = step, .samples = step * 32, .elapsed = 1.25 * step,
                            .world_size = 3, .seed = 0xfedcba9876543210ULL, .complete = 0, .eval_epoch = 1,
                            .eval_loss = 0.5, .eval_metric = 0.875, .eval_metric2 = 0.1};
}

static void write_ok(model *m, const char *dir, nn_ckpt_progress p, char *path, size_t cap) {
  nn_ckpt_data d = {m->text, &m->net, &m->opt, p};
  int rc = nn_ckpt_write(dir, &d, path, cap);
  if (rc != NN_OK) fail_msg("nn_ckpt_write: %s", nn_errmsg());
}

static int exists(const char *dir, const char *name) {
  char p[2048];
  snprintf(p, sizeof p, "%s/%s", dir, name);
  return access(p, F_OK) == 0;
}

static void flip_at(const char *path, long off, unsigned char mask) {
  FILE *f = fopen(path, "r+b");
  assert_non_null(f);
  assert_int_equal(fseek(f, off, SEEK_SET), 0);
  int c = fgetc(f);
  assert_true(c != EOF);
  assert_int_equal(fseek(f, off, SEEK_SET), 0);
  fputc(c ^ mask, f);
  assert_int_equal(fclose(f), 0);
}

/* Byte offset of a dataset's raw data in the file (contiguous layout), from HDF5. */
static long data_offset(const char *path, const char *ds) {
  hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT), d = H5Dopen2(f, ds, H5P_DEFAULT);
  haddr_t off = H5Dget_offset(d); /* absolute: includes the user block (checked by the flip) */
  H5Dclose(d), H5Fclose(f);
  assert_true(off != HADDR_UNDEF);
  return (long)off;
}

/* Recomputes the header's length, file CRC32 and header CRC after a deliberate edit through
 * HDF5, so that the inner checks (root attributes, /integrity) are what the test exercises. */
static void reseal(const char *path) {
  size_t len;
  char *f = tu_read_file(path, &len);
  int ver;
  long ub;
  assert_int_equal(sscanf(f, "nnmpi-checkpoint %d %ld", &ver, &ub), 2);
  char *rest = strstr(f, "\nstep "), *hc = strstr(f, "\nhdrcrc ");
  assert_non_null(rest), assert_non_null(hc);
  char *h = calloc((size_t)ub, 1);
  int k = snprintf(h, (size_t)ub, "nnmpi-checkpoint %d %ld\nlength %zu\ncrc32 %08lx", ver, ub, len,
                   crc32(0, (const Bytef *)f + ub, (uInt)(len - (size_t)ub)));
  memcpy(h + k, rest, (size_t)(hc - rest + 1));
  k += (int)(hc - rest + 1);
  snprintf(h + k, (size_t)ub - (size_t)k, "hdrcrc %08lx\n", crc32(0, (const Bytef *)h, (uInt)k));
  memcpy(f, h, (size_t)ub);
  tu_write_file(path, f, len);
  free(h);
  free(f);
}

static void assert_fails(const char *path, const char *needle) {
  int rc = nn_ckpt_verify(path);
  if (rc != NN_ECKPT) fail_msg("verify %s returned %d, expected NN_ECKPT (%s)", path, rc, needle);
  tu_assert_contains(nn_errmsg(), needle);
  tu_assert_contains(nn_errmsg(), path);
}

static void round_trip(void **st) {
  (void)st;
  char dir[256], path[1024];
  tu_mkdtemp(dir, sizeof dir);
  const nn_optim_kind kinds[] = {NN_OPT_SGD, NN_OPT_NESTEROV, NN_OPT_ADAMW};
  for (int k = 0; k < 3; k++) {
    model a, b;
    model_make(&a, "5,7,3,2", kinds[k], NN_ACT_RELU, 11 + k);
    model_make(&b, "5,7,3,2", kinds[k], NN_ACT_RELU, 0);
    nn_ckpt_progress p = prog_at(42 + k, 2, 5);
    write_ok(&a, dir, p, path, sizeof path);
    char want[1024];
    snprintf(want, sizeof want, "%s/ckpt-%08d.h5", dir, 42 + k);
    assert_string_equal(path, want);
    snprintf(want, sizeof want, "ckpt-%08d.h5.tmp", 42 + k);
    assert_false(exists(dir, want));
    nn_ckpt_data d = {NULL, &b.net, &b.opt, {0}};
    if (nn_ckpt_read(path, &d) != NN_OK) fail_msg("read: %s", nn_errmsg());
    assert_memory_equal(a.net.params, b.net.params, a.net.n_params * sizeof(float));
    if (a.opt.n_state)
      assert_memory_equal(a.opt.state, b.opt.state, (size_t)a.opt.n_state * a.opt.n * sizeof(float));
    assert_int_equal(b.opt.t, 17);
    assert_int_equal(d.prog.epoch, 2), assert_int_equal(d.prog.batch, 5), assert_int_equal(d.prog.step, 42 + k);
    assert_int_equal(d.prog.samples, p.samples), assert_true(d.prog.elapsed == p.elapsed);
    assert_int_equal(d.prog.world_size, 3), assert_true(d.prog.seed == p.seed);
    assert_int_equal(d.prog.complete, 0), assert_int_equal(d.prog.eval_epoch, 1);
    assert_true(d.prog.eval_loss == 0.5 && d.prog.eval_metric == 0.875 && d.prog.eval_metric2 == 0.1);
    char *text;
    assert_int_equal(nn_ckpt_read_config(path, &text), NN_OK);
    assert_string_equal(text, a.text);
    free(text);
    nn_ckpt_info info;
    assert_int_equal(nn_ckpt_inspect(path, &info), NN_OK);
    assert_int_equal(info.n_layers, 3), assert_int_equal(info.sizes[1], 7);
    assert_string_equal(info.hidden, "relu");
    assert_int_equal(info.n_arrays, 6 * (1 + a.opt.n_state));
    assert_int_equal(info.format_version, 1);
    /* the standard FNV-1a 64 (offset basis 14695981039346656037), as docs/formats.md says */
    uint64_t h = 14695981039346656037ull;
    for (const char *c = a.text; *c; c++) h = (h ^ (unsigned char)*c) * 1099511628211ull;
    char want_digest[32];
    snprintf(want_digest, sizeof want_digest, "fnv1a64:%016llx", (unsigned long long)h);
    assert_string_equal(info.config_digest, want_digest);
    nn_ckpt_info_free(&info);
    model_free(&a), model_free(&b);
  }
  tu_rmtree(dir);
}

/* Every damage below must give NN_ECKPT with a message naming the file and the cause, and
 * leave the net that nn_ckpt_read was given untouched. */
static void damaged_files(void **st) {
  (void)st;
  char dir[256], path[1024], copy[1100];
  tu_mkdtemp(dir, sizeof dir);
  model a, b;
  model_make(&a, "4,6,3", NN_OPT_ADAM, NN_ACT_TANH, 5);
  model_make(&b, "4,6,3", NN_OPT_ADAM, NN_ACT_TANH, 9);
  write_ok(&a, dir, prog_at(300, 1, 0), path, sizeof path);
  size_t len;
  char *orig = tu_read_file(path, &len);
  snprintf(copy, sizeof copy, "%s/ckpt-00000301.h5", dir);

  /* truncated: half the file, one byte short */
  tu_write_file(copy, orig, len / 2);
  assert_fails(copy, "truncated");
  tu_write_file(copy, orig, len - 1);
  assert_fails(copy, "truncated");
  tu_write_file(copy, orig, 100);
  assert_fails(copy, "truncated");
  /* empty */
  tu_write_file(copy, orig, 0);
  assert_fails(copy, "empty file");
  /* a weight flipped: named by the header table, before HDF5 parses anything */
  tu_write_file(copy, orig, len);
  long off = data_offset(copy, "/model/layer_001/W");
  flip_at(copy, off + 5, 0x01);
  assert_fails(copy, "checksum mismatch in /model/layer_001/W");
  float before[64];
  memcpy(before, b.net.params, b.net.n_params * sizeof(float));
  nn_ckpt_data d = {NULL, &b.net, &b.opt, {0}};
  assert_int_equal(nn_ckpt_read(copy, &d), NN_ECKPT);
  assert_memory_equal(before, b.net.params, b.net.n_params * sizeof(float));
  /* the same flip with the outer header resealed: caught by the /integrity CRC inside HDF5 */
  reseal(copy);
  assert_fails(copy, "/integrity records");
  tu_assert_contains(nn_errmsg(), "/model/layer_001/W");
  /* wrong format version in the header, and in the root attribute (resealed) */
  tu_write_file(copy, orig, len);
  flip_at(copy, (long)strlen("nnmpi-checkpoint "), '1' ^ '2');
  assert_fails(copy, "format version 2");
  tu_write_file(copy, orig, len);
  hid_t f = H5Fopen(copy, H5F_ACC_RDWR, H5P_DEFAULT), at = H5Aopen(f, "format_version", H5P_DEFAULT);
  int64_t two = 2;
  assert_true(H5Awrite(at, H5T_NATIVE_INT64, &two) >= 0);
  H5Aclose(at), H5Fclose(f);
  reseal(copy);
  assert_fails(copy, "format_version 2, this nnmpi reads 1");
  /* an HDF5 file that nnmpi did not write; a text file */
  f = H5Fcreate(copy, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  H5Fclose(f);
  assert_fails(copy, "not written by nnmpi");
  assert_false(nn_ckpt_is_checkpoint(copy));
  tu_write_file(copy, "[model]\nsizes = 4,6,3\n", (size_t)-1);
  assert_fails(copy, "not an nnmpi checkpoint");
  assert_false(nn_ckpt_is_checkpoint(copy));
  assert_true(nn_ckpt_is_checkpoint(path));
  /* a directory where the file should be */
  unlink(copy);
  assert_int_equal(mkdir(copy, 0755), 0);
  assert_fails(copy, "is a directory");
  rmdir(copy);
  /* one flipped byte anywhere in the file: always a clean error, never a crash */
  int errors = 0, tries = 0;
  for (size_t pos = 0; pos < len; pos += 1 + pos % 13, tries++) {
    tu_write_file(copy, orig, len);
    flip_at(copy, (long)pos, 0x10);
    if (nn_ckpt_verify(copy) == NN_ECKPT) errors++;
    else fail_msg("flipping byte %zu of %zu went undetected", pos, len);
    assert_int_equal(nn_ckpt_read(copy, &d), NN_ECKPT);
  }
  assert_memory_equal(before, b.net.params, b.net.n_params * sizeof(float));
  printf("# flipped %d single bytes across %zu: %d clean errors\n", tries, len, errors);
  assert_int_equal(nn_ckpt_verify(path), NN_OK);
  free(orig);
  model_free(&a), model_free(&b);
  tu_rmtree(dir);
}

static void architecture_mismatch(void **st) {
  (void)st;
  char dir[256], path[1024];
  tu_mkdtemp(dir, sizeof dir);
  model a, b, c, e;
  model_make(&a, "4,8,3", NN_OPT_ADAM, NN_ACT_RELU, 3);
  model_make(&b, "4,6,3", NN_OPT_ADAM, NN_ACT_RELU, 4);
  model_make(&c, "4,8,3", NN_OPT_SGD, NN_ACT_TANH, 5);
  model_make(&e, "4,8,2,3", NN_OPT_ADAM, NN_ACT_RELU, 6);
  write_ok(&a, dir, prog_at(10, 0, 10), path, sizeof path);
  float keep[64];
  memcpy(keep, b.net.params, b.net.n_params * sizeof(float));
  nn_ckpt_data d = {NULL, &b.net, &b.opt, {0}};
  assert_int_equal(nn_ckpt_read(path, &d), NN_ECKPT);
  tu_assert_contains(nn_errmsg(), "model layers: checkpoint 4,8,3 vs config 4,6,3");
  assert_memory_equal(keep, b.net.params, b.net.n_params * sizeof(float));
  d = (nn_ckpt_data){NULL, &c.net, &c.opt, {0}};
  assert_int_equal(nn_ckpt_read(path, &d), NN_ECKPT);
  tu_assert_contains(nn_errmsg(), "model hidden activation: checkpoint relu vs config tanh");
  tu_assert_contains(nn_errmsg(), "optimizer: checkpoint adam vs config sgd");
  d = (nn_ckpt_data){NULL, &e.net, &e.opt, {0}};
  assert_int_equal(nn_ckpt_read(path, &d), NN_ECKPT);
  tu_assert_contains(nn_errmsg(), "model layers: checkpoint 4,8,3 vs config 4,8,2,3");
  model_free(&a), model_free(&b), model_free(&c), model_free(&e);
  tu_rmtree(dir);
}

static void stale_tmp_removed(void **st) {
  (void)st;
  char dir[256], p[1024];
  int removed = -1;
  tu_mkdtemp(dir, sizeof dir);
  snprintf(p, sizeof p, "%s/ckpt-00000005.h5.tmp", dir);
  tu_write_file(p, "half", (size_t)-1);
  snprintf(p, sizeof p, "%s/notes.tmp", dir);
  tu_write_file(p, "user file", (size_t)-1);
  assert_int_equal(nn_ckpt_clean_tmp(dir, &removed), NN_OK);
  assert_int_equal(removed, 1);
  assert_false(exists(dir, "ckpt-00000005.h5.tmp"));
  assert_true(exists(dir, "notes.tmp"));
  snprintf(p, sizeof p, "%s/missing", dir);
  assert_int_equal(nn_ckpt_clean_tmp(p, &removed), NN_OK);
  assert_int_equal(removed, 0);
  tu_rmtree(dir);
}

static void find_latest_falls_back(void **st) {
  (void)st;
  char dir[256], path[1024], got[1024], skipped[2048], p[1024];
  tu_mkdtemp(dir, sizeof dir);
  model a;
  model_make(&a, "3,5,2", NN_OPT_MOMENTUM, NN_ACT_SIGMOID, 8);
  /* missing directory: nothing to resume */
  snprintf(p, sizeof p, "%s/none", dir);
  assert_int_equal(nn_ckpt_find_latest(p, got, sizeof got, skipped, sizeof skipped), NN_OK);
  assert_string_equal(got, "");
  assert_int_equal(nn_ckpt_find_latest(dir, got, sizeof got, skipped, sizeof skipped), NN_OK);
  assert_string_equal(got, "");
  for (int s = 100; s <= 300; s += 100) write_ok(&a, dir, prog_at(s, 0, s), path, sizeof path);
  assert_int_equal(nn_ckpt_find_latest(dir, got, sizeof got, skipped, sizeof skipped), NN_OK);
  tu_assert_contains(got, "ckpt-00000300.h5");
  assert_string_equal(skipped, "");
  /* newest corrupted → previous, with the reason */
  flip_at(path, data_offset(path, "/model/layer_001/W"), 0x80);
  assert_int_equal(nn_ckpt_find_latest(dir, got, sizeof got, skipped, sizeof skipped), NN_OK);
  tu_assert_contains(got, "ckpt-00000200.h5");
  tu_assert_contains(skipped, "ckpt-00000300.h5: checksum mismatch in /model/layer_001/W");
  /* newer empty file and a directory under a checkpoint name are skipped too */
  snprintf(p, sizeof p, "%s/ckpt-00000400.h5", dir);
  tu_write_file(p, "", 0);
  snprintf(p, sizeof p, "%s/ckpt-00000500.h5", dir);
  assert_int_equal(mkdir(p, 0755), 0);
  assert_int_equal(nn_ckpt_find_latest(dir, got, sizeof got, skipped, sizeof skipped), NN_OK);
  tu_assert_contains(got, "ckpt-00000200.h5");
  tu_assert_contains(skipped, "ckpt-00000500.h5: is a directory");
  tu_assert_contains(skipped, "ckpt-00000400.h5: empty file");
  rmdir(p);
  /* a FIFO under a checkpoint name is never opened (that would block) and never counted */
  char fifo[1024];
  snprintf(fifo, sizeof fifo, "%s/ckpt-99999999.h5", dir);
  assert_int_equal(mkfifo(fifo, 0644), 0);
  assert_int_equal(nn_ckpt_find_latest(dir, got, sizeof got, skipped, sizeof skipped), NN_OK);
  tu_assert_contains(got, "ckpt-00000200.h5");
  tu_assert_contains(skipped, "ckpt-99999999.h5: is a FIFO, not a checkpoint file");
  assert_int_equal(nn_ckpt_verify(fifo), NN_ECKPT);
  tu_assert_contains(nn_errmsg(), "is a FIFO");
  assert_false(nn_ckpt_is_checkpoint(fifo));
  unlink(fifo);
  /* newest deleted */
  unlink(path);
  snprintf(p, sizeof p, "%s/ckpt-00000400.h5", dir);
  unlink(p);
  assert_int_equal(nn_ckpt_find_latest(dir, got, sizeof got, skipped, sizeof skipped), NN_OK);
  tu_assert_contains(got, "ckpt-00000200.h5");
  assert_string_equal(skipped, "");
  /* all damaged: an error, never a silent fresh start */
  snprintf(p, sizeof p, "%s/ckpt-00000100.h5", dir);
  truncate(p, 1000);
  snprintf(p, sizeof p, "%s/ckpt-00000200.h5", dir);
  truncate(p, 0);
  assert_int_equal(nn_ckpt_find_latest(dir, got, sizeof got, skipped, sizeof skipped), NN_ECKPT);
  tu_assert_contains(nn_errmsg(), "none of the 2 checkpoint files verifies");
  tu_assert_contains(nn_errmsg(), "ckpt-00000100.h5: truncated");
  assert_string_equal(got, "");
  /* not a directory */
  assert_int_equal(nn_ckpt_find_latest(p, got, sizeof got, skipped, sizeof skipped), NN_ECKPT);
  tu_assert_contains(nn_errmsg(), "Not a directory");
  model_free(&a);
  tu_rmtree(dir);
}

static int count_ckpts(const char *dir) {
  DIR *d = opendir(dir);
  struct dirent *e;
  int n = 0;
  while ((e = readdir(d))) n += strncmp(e->d_name, "ckpt-", 5) == 0;
  closedir(d);
  return n;
}

static void rotate_keeps_newest(void **st) {
  (void)st;
  char dir[256], path[1024], name[64];
  tu_mkdtemp(dir, sizeof dir);
  model a;
  model_make(&a, "2,3,1", NN_OPT_SGD, NN_ACT_RELU, 2);
  /* 3 batches per epoch: step s is epoch s/3, batch s%3 */
  for (int s = 1; s <= 10; s++) write_ok(&a, dir, prog_at(s, s / 3, s % 3), path, sizeof path);
  assert_int_equal(nn_ckpt_rotate(dir, 10, 3, 2), NN_OK);
  /* newest 3 (10, 9, 8) + epoch boundaries at epochs 2 and 4 among the older (6; 12 absent) */
  for (int s = 1; s <= 10; s++) {
    nn_ckpt_name(s, name, sizeof name);
    int want = s >= 8 || s == 6;
    if (exists(dir, name) != want) fail_msg("step %d: exists %d, expected %d", s, exists(dir, name), want);
  }
  assert_int_equal(nn_ckpt_rotate(dir, 10, 0, 0), NN_OK); /* keep < 1 still keeps the newest */
  assert_int_equal(count_ckpts(dir), 1);
  assert_true(exists(dir, "ckpt-00000010.h5"));

  /* the file just written survives, whatever is newer: a copy under a higher step (its header
   * says 10), a FIFO, and another branch's newer checkpoints stay too */
  char copy[1100], fifo[1100];
  snprintf(copy, sizeof copy, "%s/ckpt-00000999.h5", dir);
  size_t len;
  char *bytes = tu_read_file(path, &len);
  tu_write_file(copy, bytes, len);
  free(bytes);
  snprintf(fifo, sizeof fifo, "%s/ckpt-99999999.h5", dir);
  assert_int_equal(mkfifo(fifo, 0644), 0);
  for (int s = 20; s <= 24; s++) write_ok(&a, dir, prog_at(s, 0, s), path, sizeof path);
  write_ok(&a, dir, prog_at(11, 0, 11), path, sizeof path); /* written after resuming at 10 */
  assert_int_equal(nn_ckpt_rotate(dir, 11, 2, 0), NN_OK);
  assert_true(exists(dir, "ckpt-00000011.h5") && exists(dir, "ckpt-00000010.h5"));
  for (int s = 20; s <= 24; s++) nn_ckpt_name(s, name, sizeof name), assert_true(exists(dir, name));
  assert_true(exists(dir, "ckpt-00000999.h5") && exists(dir, "ckpt-99999999.h5"));
  /* find_latest skips the copy: its header records step 10, its name 999 */
  char got[1100], skipped[2048];
  assert_int_equal(nn_ckpt_find_latest(dir, got, sizeof got, skipped, sizeof skipped), NN_OK);
  tu_assert_contains(got, "ckpt-00000024.h5");
  tu_assert_contains(skipped, "ckpt-00000999.h5: its header records step 10, its name step 999");
  /* rotation never removes a file whose header disagrees with its name, even when older */
  assert_int_equal(nn_ckpt_rotate(dir, 1000, 1, 0), NN_OK);
  assert_true(exists(dir, "ckpt-00000999.h5") && !exists(dir, "ckpt-00000024.h5"));

  /* resuming from step 11 with 20..24 present: those move to superseded-<time>/ */
  for (int s = 20; s <= 24; s++) write_ok(&a, dir, prog_at(s, 0, s), path, sizeof path);
  write_ok(&a, dir, prog_at(11, 0, 11), path, sizeof path);
  char to[1200];
  int moved;
  int64_t first, last;
  snprintf(path, sizeof path, "%s/ckpt-00000011.h5", dir);
  assert_int_equal(nn_ckpt_supersede(dir, 11, copy, to, sizeof to, &moved, &first, &last), NN_OK);
  assert_int_equal(moved, 5); /* 20..24; not the excepted copy (999), not the FIFO */
  assert_int_equal(first, 20), assert_int_equal(last, 24);
  tu_assert_contains(to, "/superseded-");
  for (int s = 20; s <= 24; s++) {
    nn_ckpt_name(s, name, sizeof name);
    assert_false(exists(dir, name));
    assert_true(exists(to, name));
  }
  assert_true(exists(dir, "ckpt-00000999.h5") && exists(dir, "ckpt-00000011.h5"));
  assert_int_equal(nn_ckpt_supersede(dir, 11, copy, to, sizeof to, &moved, &first, &last), NN_OK);
  assert_int_equal(moved, 0); /* nothing newer: nothing created */
  assert_string_equal(to, "");
  unlink(fifo);
  model_free(&a);
  tu_rmtree(dir);
}

static int count_fds(void) {
  DIR *d = opendir("/proc/self/fd");
  int n = 0;
  while (readdir(d)) n++;
  closedir(d);
  return n;
}

/* The mount cases: a fresh directory, a 64 KiB tmpfs on it when root; the teardown unmounts and
 * removes it even when an assertion failed. */
static char mnt[256];
static int mounted;

static int mnt_setup(void **st) {
  (void)st;
  tu_mkdtemp(mnt, sizeof mnt);
  mounted = 0;
  return 0;
}

static int mnt_teardown(void **st) {
  (void)st;
  if (mounted && umount(mnt) < 0) fprintf(stderr, "umount %s: %s\n", mnt, strerror(errno));
  mounted = 0;
  chmod(mnt, 0755);
  tu_rmtree(mnt);
  return 0;
}

static int mount_small(char *why_not, size_t cap) {
  if (geteuid() != 0) return snprintf(why_not, cap, "not root, cannot mount a small tmpfs"), -1;
  if (mount("tmpfs", mnt, "tmpfs", 0, "size=64k") < 0)
    return snprintf(why_not, cap, "mount tmpfs: %s", strerror(errno)), -1;
  mounted = 1;
  return 0;
}

static void disk_full(void **st) {
  (void)st;
  char path[1024], why_not[256];
  if (mount_small(why_not, sizeof why_not) < 0) {
    printf("# SKIPPED disk_full: %s\n", why_not);
    skip();
  }
  model small, big;
  model_make(&small, "4,6,3", NN_OPT_ADAM, NN_ACT_RELU, 1);
  model_make(&big, "100,100,10", NN_OPT_ADAM, NN_ACT_RELU, 2); /* 3 x 11110 floats = 133 KB */
  write_ok(&small, mnt, prog_at(1, 0, 1), path, sizeof path);
  int fds = count_fds();
  nn_ckpt_data d = {big.text, &big.net, &big.opt, prog_at(2, 0, 2)};
  assert_int_equal(nn_ckpt_write(mnt, &d, path, sizeof path), NN_ECKPT);
  tu_assert_contains(nn_errmsg(), "No space left on device");
  tu_assert_contains(nn_errmsg(), "ckpt-00000002.h5");
  assert_string_equal(path, "");
  assert_false(exists(mnt, "ckpt-00000002.h5"));
  assert_false(exists(mnt, "ckpt-00000002.h5.tmp"));
  assert_int_equal(count_fds(), fds);
  snprintf(path, sizeof path, "%s/ckpt-00000001.h5", mnt);
  assert_int_equal(nn_ckpt_verify(path), NN_OK);
  /* after the failure, writing still works (no HDF5 handle was left open on the .tmp) */
  d = (nn_ckpt_data){small.text, &small.net, &small.opt, prog_at(3, 0, 3)};
  assert_int_equal(nn_ckpt_write(mnt, &d, path, sizeof path), NN_OK);
  model_free(&small), model_free(&big);
}

static void read_only_dir(void **st) {
  (void)st;
  char path[1024], why_not[256];
  if (geteuid() == 0 && mount_small(why_not, sizeof why_not) < 0) { /* root ignores permissions */
    printf("# SKIPPED read_only_dir: %s\n", why_not);
    skip();
  }
  model a;
  model_make(&a, "4,6,3", NN_OPT_ADAM, NN_ACT_RELU, 1);
  write_ok(&a, mnt, prog_at(1, 0, 1), path, sizeof path);
  if (mounted) assert_int_equal(mount("tmpfs", mnt, "tmpfs", MS_REMOUNT | MS_RDONLY, "size=64k"), 0);
  else assert_int_equal(chmod(mnt, 0555), 0);
  nn_ckpt_data d = {a.text, &a.net, &a.opt, prog_at(2, 0, 2)};
  assert_int_equal(nn_ckpt_write(mnt, &d, path, sizeof path), NN_ECKPT);
  tu_assert_contains(nn_errmsg(), mounted ? "Read-only file system" : "Permission denied");
  tu_assert_contains(nn_errmsg(), "ckpt-00000002.h5");
  assert_false(exists(mnt, "ckpt-00000002.h5"));
  snprintf(path, sizeof path, "%s/ckpt-00000001.h5", mnt);
  assert_int_equal(nn_ckpt_verify(path), NN_OK);
  model_free(&a);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(round_trip),         cmocka_unit_test(damaged_files),
      cmocka_unit_test(architecture_mismatch), cmocka_unit_test(stale_tmp_removed),
      cmocka_unit_test(find_latest_falls_back), cmocka_unit_test(rotate_keeps_newest),
      cmocka_unit_test_setup_teardown(disk_full, mnt_setup, mnt_teardown),
      cmocka_unit_test_setup_teardown(read_only_dir, mnt_setup, mnt_teardown),
  };
  H5Eset_auto2(H5E_DEFAULT, NULL, NULL); /* the test's own HDF5 calls on damaged files */
  return cmocka_run_group_tests(tests, NULL, NULL);
}
