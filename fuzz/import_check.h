/* import_check: what the importer harnesses check after nn_import_idx / nn_import_csv. */
#ifndef NNMPI_FUZZ_IMPORT_CHECK_H
#define NNMPI_FUZZ_IMPORT_CHECK_H

#include <stdbool.h>

#include "nnmpi/import.h"

/* Template dataset files in the tmpfs directory, made once with nn_synth_write: a
 * classification file (/train, /test; 3 classes) and a regression file. */
const char *nnf_template(bool regression);

/* Before an import with append: whether group of out probes already (call before the import). */
bool nnf_split_exists(const char *out, const char *group);

/* After an import of group into out (append: into a copy of a template) that returned rc:
 * success → the split probes with the rows, columns and classes the importer reported and
 * every row reads back and passes nn_dataset_check_rows; failure → a new file is gone, an
 * appended-to file still holds its /train, and group probes only if it did before. */
void nnf_check_import(int rc, const char *out, const char *group, bool append, bool existed,
                      const nn_import_result *res, const char *importer);

#endif
