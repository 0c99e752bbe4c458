/* fuzz_config: the INI parser and --set overrides (nn_config_parse, nn_config_set), then
 * nn_config_validate and a write -> parse round trip.
 *
 * Input: INI text up to the first NUL byte; every further NUL-separated piece (at most 16) is
 * one --set assignment ("optim.lr=0.1"), applied to the parsed config (or to the defaults when
 * the text does not parse), as `nnmpi train -c FILE --set ...` does.
 *
 * Oracles: failures are NN_ECONFIG (or NN_ENOMEM) with a message naming "fuzz.ini:<line>" or
 * the --set argument; whatever config results is written as INI by nn_config_to_string, parses
 * back, writes the identical text again, and validates the same way. */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "fuzzutil.h"
#include "nnmpi/config.h"
#include "nnmpi/status.h"

/* a and b are equal, or (with NNF_IGNORE=comment) differ only in lines "key = ;..." or
 * "key = #..." of a that came back as "key =" in b (*known is then set). */
static bool same_text(const char *a, const char *b, bool *known) {
  if (!strcmp(a, b)) return true;
  if (!nnf_ignored("comment")) return false;
  while (*a && *b) {
    size_t la = strcspn(a, "\n"), lb = strcspn(b, "\n");
    if (la != lb || strncmp(a, b, la)) {
      const char *eq = memchr(a, '=', la);
      if (!eq || eq[1] != ' ' || (eq[2] != ';' && eq[2] != '#') || lb != (size_t)(eq - a + 1) || strncmp(a, b, lb))
        return false;
      *known = true;
    }
    a += la + (a[la] == '\n'), b += lb + (b[lb] == '\n');
  }
  return !*a && !*b;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *buf = malloc(size + 1);
  if (!buf) return 0;
  memcpy(buf, data, size);
  buf[size] = 0;

  nn_config c;
  nn_config_defaults(&c);
  int rc = nn_config_parse(&c, buf, "fuzz.ini");
  nnf_log("nn_config_parse", rc);
  ORACLE(rc == NN_OK || rc == NN_ECONFIG, "nn_config_parse returned %d", rc);
  ORACLE(rc == NN_OK || strncmp(nn_errmsg(), "fuzz.ini:", 9) == 0, "parse error without \"fuzz.ini:<line>\"");
  if (rc) nn_config_defaults(&c);

  const char *p = buf + strlen(buf);
  for (int i = 0; i < 16 && p < buf + size; i++) {
    const char *set = p + 1;
    rc = nn_config_set(&c, set);
    nnf_log("nn_config_set", rc);
    ORACLE(rc == NN_OK || rc == NN_ECONFIG, "nn_config_set returned %d", rc);
    ORACLE(rc == NN_OK || strncmp(nn_errmsg(), "--set ", 6) == 0 || strstr(nn_errmsg(), "--set"),
           "--set error that does not name the argument");
    p = set + strlen(set);
  }
  int valid = nn_config_validate(&c);
  nnf_log("nn_config_validate", valid);
  ORACLE(valid == NN_OK || valid == NN_ECONFIG, "nn_config_validate returned %d", valid);

  char *s1 = nn_config_to_string(&c);
  ORACLE(s1 != NULL, "nn_config_to_string failed");
  nn_config c2;
  nn_config_defaults(&c2);
  rc = nn_config_parse(&c2, s1, "written");
  ORACLE(rc == NN_OK, "the written config does not parse back:\n%s", s1);
  char *s2 = nn_config_to_string(&c2);
  ORACLE(s2, "nn_config_to_string failed");
  bool known = false;
  ORACLE(same_text(s1, s2, &known), "write -> parse -> write changes the text:\n%s\n--- vs ---\n%s", s1, s2);
  char diff[1024];
  ORACLE(nn_config_diff_state(&c, &c2, diff, sizeof diff) == 0, "round trip changes state keys: %s", diff);
  ORACLE(known || (nn_config_validate(&c2) == NN_OK) == (valid == NN_OK), "round trip changes validity");
  free(s2);
  free(s1);
  free(buf);
  return 0;
}
