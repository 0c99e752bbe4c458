/* fuzz_import_idx: the IDX importer (nn_import_idx), from the header parser through the
 * streamed copy into a new split of an HDF5 file on tmpfs.
 *
 * Input: byte 0 = options, bytes 1-2 = L (little-endian), then L bytes of the labels file,
 * then the images file (to the end). Either file may be plain or gzip (zlib reads both).
 * Options: bits 0-2 pick --num-classes from {10, 1, 2, 3, 255, 256, 10, 10}; bit 3 appends
 * to a copy of a template dataset (/train, /test, 3 classes) instead of creating the file;
 * bit 4 gives --class-names (num_classes names; one more with bit 5); bit 6 writes /train
 * (with bit 3: a split that already exists), else /new or /folds/0 (bit 7).
 *
 * Oracles (import_check.h): a success reads back completely with what the importer reported;
 * a failure is one of the documented codes with a message that gives the reason and names a
 * file, and leaves no new file and no half split behind. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "fuzzutil.h"
#include "import_check.h"
#include "nnmpi/status.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static const int classes[8] = {10, 1, 2, 3, 255, 256, 10, 10};
  if (size < 3) return -1; /* not in the corpus */
  const unsigned opt = data[0];
  size_t lab_len = (size_t)data[1] | (size_t)data[2] << 8;
  if (lab_len > size - 3) lab_len = size - 3;
  const char *labels = nnf_input_file(0, data + 3, lab_len);
  const char *images = nnf_input_file(1, data + 3 + lab_len, size - 3 - lab_len);
  const char *out = nnf_tmppath(0, "out.h5");
  const int nc = classes[opt & 7];
  const bool append = opt & 8;
  const char *group = opt & 64 ? "/train" : opt & 128 ? "/folds/0" : "/new";
  char names[2048] = "";
  if (opt & 16)
    for (int i = 0; i < nc + !!(opt & 32); i++) snprintf(names + strlen(names), sizeof names - strlen(names), "%sc%d", i ? "," : "", i);

  if (append) nnf_copy_file(nnf_template(false), out);
  const bool existed = append && nnf_split_exists(out, group);
  nnf_ids_begin();
  nn_import_result res;
  int rc = nn_import_idx(images, labels, out, group, append, nc, opt & 16 ? names : NULL, &res);
  nnf_log("nn_import_idx", rc);
  ORACLE(rc == NN_OK || rc == NN_EDATA || rc == NN_EIO || rc == NN_ENOMEM, "nn_import_idx returned %d (%s)", rc,
         nn_strerror(rc));
  nnf_check_cause(rc, "nn_import_idx");
  if (rc && !strstr(nn_errmsg(), images) && !strstr(nn_errmsg(), labels)) nnf_check_message(rc, out, "nn_import_idx");
  nnf_check_import(rc, out, group, append, existed, &res, "nn_import_idx");
  nnf_ids_end("nn_import_idx");
  unlink(out);
  return 0;
}
