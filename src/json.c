/* json: one JSON object per line into its top-level fields (see json.h). Layer 5; libc only. */
#include "json.h"

#include <stdio.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { MAX_DEPTH = 32 };

typedef struct parser {
  const char *p, *end;
  char *out; /* next free byte of obj->buf */
  nn_json_obj *obj;
} parser;

static void ws(parser *s) {
  while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\r' || *s->p == '\n')) s->p++;
}

static bool lit(parser *s, const char *word) {
  size_t n = strlen(word);
  if ((size_t)(s->end - s->p) < n || memcmp(s->p, word, n)) return false;
  s->p += n;
  return true;
}

static int hex4(const char *p) {
  int v = 0;
  for (int i = 0; i < 4; i++) {
    char c = p[i];
    v = v * 16 + (c >= '0' && c <= '9'   ? c - '0'
                  : c >= 'a' && c <= 'f' ? c - 'a' + 10
                  : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                         : -1000);
  }
  return v < 0 ? -1 : v;
}

static void utf8(parser *s, unsigned cp) {
  char *o = s->out;
  if (cp == 0) *o++ = '?'; /* keeps the decoded text a C string */
  else if (cp < 0x80) *o++ = (char)cp;
  else if (cp < 0x800) *o++ = (char)(0xC0 | cp >> 6), *o++ = (char)(0x80 | (cp & 0x3F));
  else if (cp < 0x10000)
    *o++ = (char)(0xE0 | cp >> 12), *o++ = (char)(0x80 | (cp >> 6 & 0x3F)), *o++ = (char)(0x80 | (cp & 0x3F));
  else
    *o++ = (char)(0xF0 | cp >> 18), *o++ = (char)(0x80 | (cp >> 12 & 0x3F)), *o++ = (char)(0x80 | (cp >> 6 & 0x3F)),
    *o++ = (char)(0x80 | (cp & 0x3F));
  s->out = o;
}

/* A string at s->p (the opening quote), decoded into the buffer; *dst points to it. A decoded
 * string never takes more bytes than its quoted source, so the buffer cannot overflow. */
static bool string(parser *s, const char **dst) {
  if (s->p >= s->end || *s->p != '"') return false;
  s->p++;
  *dst = s->out;
  while (s->p < s->end && *s->p != '"') {
    unsigned char c = (unsigned char)*s->p++;
    if (c < 0x20) return false;
    if (c != '\\') {
      *s->out++ = (char)c;
      continue;
    }
    if (s->p >= s->end) return false;
    char e = *s->p++;
    switch (e) {
    case '"': *s->out++ = '"'; break;
    case '\\': *s->out++ = '\\'; break;
    case '/': *s->out++ = '/'; break;
    case 'b': *s->out++ = '\b'; break;
    case 'f': *s->out++ = '\f'; break;
    case 'n': *s->out++ = '\n'; break;
    case 'r': *s->out++ = '\r'; break;
    case 't': *s->out++ = '\t'; break;
    case 'u': {
      int cp = s->end - s->p >= 4 ? hex4(s->p) : -1;
      if (cp < 0) return false;
      s->p += 4;
      if (cp >= 0xD800 && cp < 0xDC00 && s->end - s->p >= 6 && s->p[0] == '\\' && s->p[1] == 'u') {
        int lo = hex4(s->p + 2);
        if (lo >= 0xDC00 && lo < 0xE000) {
          s->p += 6;
          cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
        }
      }
      if (cp >= 0xD800 && cp < 0xE000) cp = '?'; /* a lone surrogate */
      utf8(s, (unsigned)cp);
      break;
    }
    default: return false;
    }
  }
  if (s->p >= s->end) return false;
  s->p++;
  *s->out++ = 0;
  return true;
}

static bool digits(parser *s) {
  const char *p0 = s->p;
  while (s->p < s->end && *s->p >= '0' && *s->p <= '9') s->p++;
  return s->p > p0;
}

/* A JSON number, or inf / -inf / nan / -nan as printf's %g writes them. */
static bool number(parser *s, double *v) {
  const char *p0 = s->p;
  bool neg = s->p < s->end && *s->p == '-';
  if (neg) s->p++;
  if (lit(s, "inf") || lit(s, "Infinity")) {
    *v = neg ? -INFINITY : INFINITY;
    return true;
  }
  if (lit(s, "nan") || lit(s, "NaN")) {
    *v = NAN;
    return true;
  }
  if (s->p < s->end && *s->p == '0') s->p++;
  else if (!digits(s)) return false;
  if (s->p < s->end && *s->p == '.' && (s->p++, !digits(s))) return false;
  if (s->p < s->end && (*s->p == 'e' || *s->p == 'E')) {
    s->p++;
    if (s->p < s->end && (*s->p == '+' || *s->p == '-')) s->p++;
    if (!digits(s)) return false;
  }
  char tok[64];
  size_t n = (size_t)(s->p - p0);
  if (n >= sizeof tok) n = sizeof tok - 1; /* over 63 digits: the value is still read closely enough */
  memcpy(tok, p0, n);
  tok[n] = 0;
  *v = strtod(tok, NULL);
  return true;
}

static bool value(parser *s, int depth, nn_json_field *f);

/* An object or array at s->p, skipped (its strings are decoded and dropped). */
static bool container(parser *s, int depth) {
  if (depth > MAX_DEPTH) return false;
  char close = *s->p == '{' ? '}' : ']';
  s->p++;
  ws(s);
  if (s->p < s->end && *s->p == close) return s->p++, true;
  for (;;) {
    if (close == '}') {
      const char *key;
      char *mark = s->out;
      if (!string(s, &key)) return false;
      s->out = mark;
      ws(s);
      if (s->p >= s->end || *s->p++ != ':') return false;
    }
    if (!value(s, depth + 1, NULL)) return false;
    ws(s);
    if (s->p >= s->end) return false;
    if (*s->p == close) return s->p++, true;
    if (*s->p++ != ',') return false;
    ws(s);
  }
}

static bool value(parser *s, int depth, nn_json_field *f) {
  nn_json_field v = {.type = NN_JSON_OTHER};
  char *mark = s->out;
  ws(s);
  if (s->p >= s->end) return false;
  char c = *s->p;
  if (c == '"') {
    v.type = NN_JSON_STRING;
    if (!string(s, &v.str)) return false;
  } else if (c == '{' || c == '[') {
    if (!container(s, depth)) return false;
    s->out = mark;
  } else if (lit(s, "true")) {
    v.type = NN_JSON_BOOL, v.num = 1;
  } else if (lit(s, "false")) {
    v.type = NN_JSON_BOOL, v.num = 0;
  } else if (lit(s, "null")) {
    v.type = NN_JSON_NULL;
  } else {
    v.type = NN_JSON_NUMBER;
    if (!number(s, &v.num)) return false;
  }
  if (f) *f = (nn_json_field){.key = f->key, .type = v.type, .num = v.num, .str = v.str};
  else s->out = mark; /* nested values keep nothing */
  return true;
}

bool nn_json_parse(const char *text, size_t len, nn_json_obj *obj) {
  obj->n = 0;
  if (obj->cap < len + 1) {
    char *b = realloc(obj->buf, len + 1);
    if (!b) return false;
    obj->buf = b, obj->cap = len + 1;
  }
  parser s = {.p = text, .end = text + len, .out = obj->buf, .obj = obj};
  ws(&s);
  if (s.p >= s.end || *s.p++ != '{') return false;
  ws(&s);
  bool ok = true;
  if (s.p < s.end && *s.p == '}') s.p++;
  else
    for (;;) {
      nn_json_field tmp = {0}, *f = obj->n < NN_JSON_MAX_FIELDS ? &obj->f[obj->n] : &tmp;
      char *mark = s.out;
      if (!(ok = string(&s, &f->key))) break;
      ws(&s);
      if (!(ok = s.p < s.end && *s.p++ == ':')) break;
      if (!(ok = value(&s, 1, f))) break;
      if (f == &tmp) s.out = mark;
      else obj->n++;
      ws(&s);
      if (!(ok = s.p < s.end)) break;
      if (*s.p == '}') {
        s.p++;
        break;
      }
      if (!(ok = *s.p++ == ',')) break;
      ws(&s);
    }
  ws(&s);
  if (!ok || s.p != s.end) obj->n = 0;
  return ok && s.p == s.end;
}

void nn_json_free(nn_json_obj *obj) {
  free(obj->buf);
  obj->buf = NULL, obj->cap = 0, obj->n = 0;
}

const nn_json_field *nn_json_get(const nn_json_obj *obj, const char *key) {
  for (int i = 0; i < obj->n; i++)
    if (!strcmp(obj->f[i].key, key)) return &obj->f[i];
  return NULL;
}

double nn_json_num(const nn_json_obj *obj, const char *key, double def) {
  const nn_json_field *f = nn_json_get(obj, key);
  return f && f->type == NN_JSON_NUMBER ? f->num : def;
}

const char *nn_json_str(const nn_json_obj *obj, const char *key) {
  const nn_json_field *f = nn_json_get(obj, key);
  return f && f->type == NN_JSON_STRING ? f->str : NULL;
}

char *nn_json_escape(char *out, size_t cap, const char *s) {
  size_t n = 0;
  for (; *s && n + 7 < cap; s++) {
    unsigned char c = (unsigned char)*s;
    if (c == '"' || c == '\\') out[n++] = '\\', out[n++] = (char)c;
    else if (c < 0x20) n += (size_t)snprintf(out + n, cap - n, "\\u%04x", c);
    else out[n++] = (char)c;
  }
  if (cap) out[n < cap ? n : cap - 1] = 0;
  return out;
}
