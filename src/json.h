/* json: reads one JSON object of a JSON-lines file (metrics.jsonl) into its top-level fields,
 * and escapes strings for the writer (metrics.c). Layer 5 (private to the trainer's output and
 * the run readers); libc only. Strict about structure (a line that
 * is not one complete object is rejected, so a half-written or garbled line never yields
 * numbers), lenient about what nnmpi's own %g formatting can write: inf, -inf and nan are
 * accepted as numbers. Nested objects and arrays are skipped (type NN_JSON_OTHER). */
#ifndef NNMPI_JSON_H
#define NNMPI_JSON_H

#include <stdbool.h>
#include <stddef.h>

typedef enum { NN_JSON_NULL, NN_JSON_BOOL, NN_JSON_NUMBER, NN_JSON_STRING, NN_JSON_OTHER } nn_json_type;

enum { NN_JSON_MAX_FIELDS = 128 };

typedef struct nn_json_field {
  const char *key; /* decoded, NUL-terminated, in the object's buffer */
  nn_json_type type;
  double num;      /* NUMBER; BOOL: 0 or 1 */
  const char *str; /* STRING: decoded (escapes resolved, \u0000 becomes '?') */
} nn_json_field;

typedef struct nn_json_obj {
  int n; /* fields kept (the first NN_JSON_MAX_FIELDS) */
  nn_json_field f[NN_JSON_MAX_FIELDS];
  char *buf; /* decoded keys and strings; grown as needed, freed by nn_json_free */
  size_t cap;
} nn_json_obj;

/* Parses text[0..len) as exactly one JSON object, surrounding whitespace allowed. false when
 * it is not one (syntax error, trailing bytes, nesting deeper than 32) or out of memory;
 * obj->n is then 0. obj must be zeroed before its first use. */
bool nn_json_parse(const char *text, size_t len, nn_json_obj *obj);
void nn_json_free(nn_json_obj *obj);

/* The first field named key, or NULL. */
const nn_json_field *nn_json_get(const nn_json_obj *obj, const char *key);
/* The number of field key; def when absent or not a number. */
double nn_json_num(const nn_json_obj *obj, const char *key, double def);
/* The string of field key; NULL when absent or not a string. */
const char *nn_json_str(const nn_json_obj *obj, const char *key);

/* s as the contents of a JSON string (quotes, backslashes and control characters escaped) into
 * out of cap bytes, cut at a whole character when it does not fit. Returns out. */
char *nn_json_escape(char *out, size_t cap, const char *s);

#endif
