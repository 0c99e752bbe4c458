/* fuzz_import_csv: the CSV importer (nn_import_csv): line splitting, number parsing, column
 * roles, label checks, and the streamed write into a new split of an HDF5 file on tmpfs.
 *
 * Input: the first line holds the importer options as words, the rest (to the end) is the
 * CSV file. Words: "header"; "append" (to a copy of a template dataset: /train and /test,
 * 3 classes, or regression with "regression"); "label=N" (--label-col, default -1);
 * "targets=a,b" (--target-cols, instead of a label column; both give the usage error);
 * "classes=K" (--num-classes); "names=a,b,c" (--class-names); "group=/x" (default /new).
 *
 * Oracles (import_check.h): a success reads back completely with what the importer reported
 * (rows, columns, classes >= 1 for labels); a failure is one of the documented codes with a
 * message that gives the reason and (usage errors aside) names the file, and leaves no new
 * file and no half split behind. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzzutil.h"
#include "import_check.h"
#include "nnmpi/status.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const uint8_t *nl = memchr(data, '\n', size);
  size_t optlen = nl ? (size_t)(nl - data) : size;
  if (optlen > 512) return -1;
  char opts[513], group[64] = "/new", targets[128] = "", names[256] = "";
  memcpy(opts, data, optlen);
  opts[optlen] = 0;
  nn_csv_options o = {.label_col = -1};
  bool append = false, regression = false, have_label = false;
  for (char *w = strtok(opts, " \t\r"); w; w = strtok(NULL, " \t\r")) {
    if (!strcmp(w, "header")) o.header = true;
    else if (!strcmp(w, "append")) append = true;
    else if (!strcmp(w, "regression")) regression = true;
    else if (!strncmp(w, "label=", 6)) o.label_col = atoi(w + 6), have_label = true;
    else if (!strncmp(w, "targets=", 8)) snprintf(targets, sizeof targets, "%s", w + 8);
    else if (!strncmp(w, "classes=", 8)) o.num_classes = atoi(w + 8);
    else if (!strncmp(w, "names=", 6)) snprintf(names, sizeof names, "%s", w + 6);
    else if (!strncmp(w, "group=", 6)) snprintf(group, sizeof group, "%s", w + 6);
  }
  if (targets[0]) {
    o.target_cols = targets;
    if (!have_label) o.label_col = 0;
  }
  if (names[0]) o.class_names = names;

  const char *in = nnf_input_file(0, nl ? nl + 1 : data + size, nl ? size - optlen - 1 : 0);
  const char *out = nnf_tmppath(0, "out.h5");
  if (append) nnf_copy_file(nnf_template(regression), out);
  const bool existed = append && nnf_split_exists(out, group);
  nnf_ids_begin();
  nn_import_result res;
  int rc = nn_import_csv(in, out, group, append, &o, &res);
  nnf_log("nn_import_csv", rc);
  ORACLE(rc == NN_OK || rc == NN_EDATA || rc == NN_EINVAL || rc == NN_EIO || rc == NN_ENOMEM,
         "nn_import_csv returned %d (%s)", rc, nn_strerror(rc));
  nnf_check_cause(rc, "nn_import_csv");
  if (rc && !strstr(nn_errmsg(), in)) nnf_check_message(rc, out, "nn_import_csv");
  nnf_check_import(rc, out, group, append, existed, &res, "nn_import_csv");
  nnf_ids_end("nn_import_csv");
  unlink(out);
  return 0;
}
