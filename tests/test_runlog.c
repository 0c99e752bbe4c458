/* test_runlog: reading metrics.jsonl back (json.c, runlog.c) and drawing it (svg.c, curves.c) —
 * the JSON reader's acceptance and rejection, escapes, nested values, nan/inf; segments,
 * truncation on resume, end events, partial and garbage lines; tick values and labels, XML
 * escaping, and a chart's curves. These units are private to layer 5 (nntrain), so this test
 * includes their headers from src/. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "curves.h"
#include "json.h"
#include "nnmpi/status.h"
#include "runlog.h"
#include "svg.h"
#include "testutil.h"

static bool parse(nn_json_obj *o, const char *text) { return nn_json_parse(text, strlen(text), o); }

static void test_json_values(void **state) {
  (void)state;
  nn_json_obj o = {0};
  assert_true(parse(&o, " {\"a\":1.5e3,\"s\":\"x\\\"y\\\\z\\n\\u00e9\\ud83d\\ude00\\u0000\",\"t\":true,\"f\":false,"
                        "\"n\":null,\"neg\":-0.25,\"nest\":{\"k\":[1,{\"q\":\"w\"},[]]},\"after\":7} \r"));
  assert_int_equal(o.n, 8);
  assert_true(nn_json_num(&o, "a", 0) == 1500);
  assert_string_equal(nn_json_str(&o, "s"), "x\"y\\z\n\xc3\xa9\xf0\x9f\x98\x80?");
  assert_int_equal(nn_json_get(&o, "t")->type, NN_JSON_BOOL);
  assert_true(nn_json_get(&o, "t")->num == 1 && nn_json_get(&o, "f")->num == 0);
  assert_int_equal(nn_json_get(&o, "n")->type, NN_JSON_NULL);
  assert_true(nn_json_num(&o, "neg", 0) == -0.25);
  assert_int_equal(nn_json_get(&o, "nest")->type, NN_JSON_OTHER);
  assert_true(nn_json_num(&o, "after", 0) == 7); /* the nested value was skipped whole */
  assert_null(nn_json_str(&o, "a"));             /* a number is not a string */
  assert_true(nn_json_num(&o, "missing", -1) == -1);
  /* what %g writes for non-finite values */
  assert_true(parse(&o, "{\"a\":inf,\"b\":-inf,\"c\":nan,\"d\":-nan}"));
  assert_true(isinf(nn_json_num(&o, "a", 0)) && nn_json_num(&o, "b", 0) < 0 && isnan(nn_json_num(&o, "c", 0)));
  assert_true(isnan(nn_json_num(&o, "d", 0)));
  assert_true(parse(&o, "{}"));
  assert_int_equal(o.n, 0);
  nn_json_free(&o);
}

static void test_json_rejects(void **state) {
  (void)state;
  static const char *const bad[] = {
      "",
      "{",
      "{\"a\":1",
      "{\"a\":1}x",
      "{\"a\":1,}",
      "{\"a\" 1}",
      "{a:1}",
      "{\"a\":01}",
      "{\"a\":1.}",
      "{\"a\":1e}",
      "{\"a\":-}",
      "{\"a\":\"unterminated}",
      "{\"a\":\"raw\ttab\"}",
      "{\"a\":\"\\x\"}",
      "{\"a\":\"\\u12\"}",
      "{\"a\":tru}",
      "{\"a\":[1,2}",
      "[1,2]",
      "{\"time\":1,\"event\":\"step\",\"loss\":0.5", /* a half-written line */
      "{\"a\":1}{\"b\":2}",
  };
  nn_json_obj o = {0};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    if (parse(&o, bad[i])) fail_msg("accepted: %s", bad[i]);
    assert_int_equal(o.n, 0);
  }
  /* nesting: 32 levels are fine, 40 are not */
  char deep[128];
  for (int depth = 32; depth <= 40; depth += 8) {
    size_t n = 0;
    n += (size_t)snprintf(deep + n, sizeof deep - n, "{\"a\":");
    for (int i = 1; i < depth; i++) deep[n++] = '[';
    for (int i = 1; i < depth; i++) deep[n++] = ']';
    snprintf(deep + n, sizeof deep - n, "}");
    assert_int_equal(parse(&o, deep), depth == 32);
  }
  /* more fields than are kept: the object still parses, the first ones are there */
  char *many = malloc(20000);
  assert_non_null(many);
  size_t n = 0;
  for (int i = 0; i < 300; i++) n += (size_t)sprintf(many + n, "%s\"k%d\":%d", i ? "," : "{", i, i);
  strcpy(many + n, "}");
  assert_true(parse(&o, many));
  assert_int_equal(o.n, NN_JSON_MAX_FIELDS);
  assert_true(nn_json_num(&o, "k5", -1) == 5);
  free(many);
  nn_json_free(&o);
}

static const char log_text[] =
    "{\"time\":100.0,\"event\":\"step\",\"step\":1,\"loss\":9}\n" /* before any start: ignored */
    "{\"time\":101.0,\"event\":\"start\",\"ranks\":2,\"nodes\":1,\"step\":0,\"epoch\":0,\"epochs\":3,"
    "\"steps_per_epoch\":10,\"batch_size\":8,\"resumed\":false}\n"
    "{\"time\":102.0,\"event\":\"step\",\"epoch\":1,\"step\":5,\"loss\":0.9,\"acc\":0.5,\"lr\":0.1,\"samples_per_s\":"
    "100}\n"
    "\n"
    "not json at all\n"
    "{\"time\":103.0,\"event\":\"step\",\"epoch\":1,\"step\":10,\"loss\":0.8,\"acc\":0.6,\"lr\":0.1,\"samples_per_s\":"
    "110}\n"
    "{\"time\":103.5,\"event\":\"eval\",\"epoch\":1,\"step\":10,\"loss\":0.7,\"accuracy\":0.75,\"rows\":50}\n"
    "{\"time\":103.6,\"event\":\"checkpoint\",\"path\":\"r/checkpoints/"
    "ckpt-00000010.h5\",\"step\":10,\"seconds\":0.1}\n"
    "{\"time\":104.0,\"event\":\"step\",\"epoch\":2,\"step\":15,\"loss\":0.6,\"acc\":0.7,\"lr\":0.1,\"samples_per_s\":"
    "50}\n"
    "{\"time\":104.5,\"event\":\"step\",\"epoch\":2,\"step\":20,\"loss\":0.5,\"acc\":0.8,\"lr\":0.1,\"samples_per_s\":"
    "120}\n"
    "{\"time\":104.6,\"event\":\"eval\",\"epoch\":2,\"step\":20,\"loss\":0.45,\"accuracy\":0.8,\"rows\":50}\n"
    /* killed here (after step 20; the newest checkpoint is at 10): the next segment redoes 11..20 */
    "{\"time\":200.0,\"event\":\"start\",\"ranks\":1,\"nodes\":1,\"step\":10,\"epoch\":1,\"epochs\":3,"
    "\"steps_per_epoch\":10,\"batch_size\":8,\"resumed\":true}\n"
    "{\"time\":201.0,\"event\":\"step\",\"epoch\":2,\"step\":15,\"loss\":0.61,\"acc\":0.7,\"lr\":0.1,\"samples_per_s\":"
    "90}\n"
    "{\"time\":201.5,\"event\":\"something_new\",\"step\":17,\"x\":[1]}\n"
    "{\"time\":202.0,\"event\":\"stopped\",\"step\":17,\"checkpoint\":\"r/checkpoints/ckpt-00000017.h5\"}\n"
    "{\"time\":202.1,\"event\":\"summary\",\"epoch\":1,\"step\":17,\"samples\":136,\"steps_this_run\":7,"
    "\"samples_this_run\":56,\"wall\":2.0,\"elapsed\":5.0,\"ranks\":1,\"data\":0.1,\"forward\":0.2,\"backward\":0.3,"
    "\"allreduce\":0.0,\"optimizer\":0.4,\"eval\":0.05,\"checkpoint\":0.5,\"dominant\":\"optimizer\","
    "\"samples_per_s\":56.0,\"eval_loss\":0.7,\"eval_metric\":0.75}\n"
    "{\"time\":300.0,\"event\":\"start\",\"ranks\":1,\"step\":17,\"epoch\":1,\"epochs\":3,\"steps_per_epoch\":10,"
    "\"resumed\":true}\n"
    "{\"time\":301.0,\"event\":\"failed\",\"step\":18,\"message\":\"step 18: non-finite loss \\\"nan\\\"\"}\n"
    "{\"time\":302.0,\"event\":\"step\",\"epoch\":2,\"step\":19,\"lo"; /* being written */

static void test_runlog_segments(void **state) {
  (void)state;
  nn_runlog rl = {0};
  nn_runlog_parse(&rl, log_text, strlen(log_text));
  assert_true(rl.partial);
  assert_int_equal(rl.bad_lines, 1);
  assert_int_equal(rl.first_bad, 5);
  assert_int_equal(rl.n_seg, 3);
  assert_int_equal(rl.metric, NN_RL_ACCURACY);
  /* segment 1: killed (no end event), its steps after 10 dropped by segment 2 */
  assert_int_equal(rl.seg[0].end, NN_RL_OPEN);
  assert_int_equal(rl.seg[0].ranks, 2);
  assert_int_equal(rl.seg[0].step, 20);
  assert_int_equal(rl.n_pts, 3);
  assert_true(rl.pts[0].step == 5 && rl.pts[1].step == 10 && rl.pts[2].step == 15);
  assert_true(rl.pts[2].loss == 0.61); /* the redone step, not the dropped one */
  assert_false(rl.pts[1].pause);
  assert_int_equal(rl.n_evals, 1);
  assert_true(rl.evals[0].step == 10 && rl.evals[0].metric == 0.75 && rl.evals[0].epoch == 1);
  /* segment 2: stopped, then its summary */
  const nn_rl_segment *s = &rl.seg[1];
  assert_int_equal(s->end, NN_RL_STOPPED);
  assert_true(s->summary && s->resumed && s->step0 == 10 && s->step == 17 && s->summary_epoch == 1);
  assert_true(s->has_phases && s->phase[4] == 0.4 && s->phase[6] == 0.5);
  assert_true(s->sps == 56 && s->samples_this_run == 56 && s->elapsed == 5);
  assert_true(s->t_start == 200 && s->t_last == 202.1);
  assert_true(fabs(s->max_gap - 1) < 1e-9); /* 200 -> 201 */
  /* segment 3: failed with its message */
  assert_int_equal(rl.seg[2].end, NN_RL_FAILED);
  assert_string_equal(rl.seg[2].message, "step 18: non-finite loss \"nan\"");
  assert_int_equal(nn_runlog_last_step(&rl), 18);
  assert_string_equal(rl.last_ckpt, "r/checkpoints/ckpt-00000017.h5");
  assert_string_equal(rl.last_event, "failed");
  assert_true(rl.last_time == 301);
  nn_runlog_free(&rl);

  /* the interval after an evaluation or checkpoint is marked (its samples/s counts them) */
  const char *t = "{\"event\":\"start\",\"step\":0,\"epochs\":1,\"steps_per_epoch\":4}\n"
                  "{\"event\":\"step\",\"step\":2,\"loss\":1,\"acc\":-1,\"samples_per_s\":10}\n"
                  "{\"event\":\"eval\",\"step\":2,\"epoch\":1,\"loss\":1,\"mse\":0.5,\"mae\":0.4}\n"
                  "{\"event\":\"step\",\"step\":4,\"loss\":1,\"acc\":-1,\"samples_per_s\":1}\n"
                  "{\"event\":\"summary\",\"epoch\":1,\"step\":4}\n";
  nn_runlog_parse(&rl, t, strlen(t));
  assert_false(rl.partial);
  assert_int_equal(rl.metric, NN_RL_MSE);
  assert_true(isnan(rl.pts[0].acc)); /* regression: no training accuracy */
  assert_true(!rl.pts[0].pause && rl.pts[1].pause);
  assert_true(rl.evals[0].metric == 0.5);
  assert_int_equal(rl.seg[0].end, NN_RL_DONE);
  assert_false(rl.seg[0].has_phases);
  nn_runlog_free(&rl);

  /* numbers no run writes: clamped or dropped, never converted out of range */
  t = "{\"event\":\"start\",\"step\":-5,\"epochs\":1e300,\"steps_per_epoch\":1e300,\"ranks\":1e20}\n"
      "{\"event\":\"step\",\"step\":1e308,\"loss\":1}\n"
      "{\"event\":\"step\",\"step\":nan,\"loss\":1}\n"
      "{\"event\":\"summary\",\"epoch\":-inf,\"step\":3,\"samples_this_run\":1e99}\n";
  nn_runlog_parse(&rl, t, strlen(t));
  assert_int_equal(rl.n_seg, 1);
  assert_int_equal(rl.n_pts, 0);
  assert_true(rl.seg[0].step0 == 0 && rl.seg[0].step == 3 && rl.seg[0].ranks == 1000000000);
  assert_true(rl.seg[0].steps_per_epoch == (int64_t)1 << 50 && rl.seg[0].summary_epoch == -1);
  assert_true(rl.seg[0].samples_this_run == (int64_t)1 << 50);
  nn_runlog_free(&rl);
}

static void test_runlog_read(void **state) {
  (void)state;
  nn_runlog rl;
  assert_int_equal(nn_runlog_read(tu_path("none.jsonl"), &rl), NN_EIO);
  tu_assert_contains(nn_errmsg(), "none.jsonl");
  tu_write_file(tu_path("m.jsonl"), log_text, (size_t)-1);
  assert_int_equal(nn_runlog_read(tu_path("m.jsonl"), &rl), NN_OK);
  assert_int_equal(rl.n_seg, 3);
  assert_int_equal(rl.lines, 18);
  nn_runlog_free(&rl);
}

static char *svg_text(void (*fn)(FILE *, void *), void *arg) {
  char *s = NULL;
  size_t n = 0;
  FILE *f = open_memstream(&s, &n);
  assert_non_null(f);
  fn(f, arg);
  fclose(f);
  return s;
}

static void escape_it(FILE *f, void *arg) { nn_svg_escape(f, arg); }

static void test_svg_text(void **state) {
  (void)state;
  char *s = svg_text(escape_it, "a<b>&'\"\x01 \xc3\xa9 \xff \xed\xa0\x80 \xef\xbf\xbe ok");
  assert_string_equal(s, "a&lt;b&gt;&amp;&apos;&quot;? \xc3\xa9 ? ??? ??? ok");
  free(s);
  char b[32];
  nn_svg_label(20000, 5000, false, b, sizeof b);
  assert_string_equal(b, "20k");
  nn_svg_label(1.5e6, 5e5, false, b, sizeof b);
  assert_string_equal(b, "1.5M");
  nn_svg_label(0.25, 0.05, false, b, sizeof b);
  assert_string_equal(b, "0.25");
  nn_svg_label(1500, 500, false, b, sizeof b);
  assert_string_equal(b, "1500");
  nn_svg_label(0, 0.1, false, b, sizeof b);
  assert_string_equal(b, "0");
  nn_svg_label(0.001, 0, true, b, sizeof b);
  assert_string_equal(b, "0.001");
  nn_svg_label(20000, 0, true, b, sizeof b);
  assert_string_equal(b, "20k");
}

static void test_svg_axes(void **state) {
  (void)state;
  nn_svg_axis a = {.p0 = 300, .p1 = 0};
  nn_svg_tick t[NN_SVG_MAX_TICKS];
  double step;
  /* linear: round ends that are ticks */
  nn_svg_fit(&a, 0.03, 0.97, false, false, 5);
  assert_true(a.lo == 0 && fabs(a.hi - 1) < 1e-12);
  int n = nn_svg_ticks(&a, 30, t, &step);
  assert_true(n >= 3 && t[0].v == 0 && fabs(t[n - 1].v - 1) < 1e-9);
  for (int i = 1; i < n; i++) assert_true(fabs(t[i].v - t[i - 1].v - step) < 1e-9);
  nn_svg_fit(&a, 812, 1630000, false, true, 4);
  assert_true(a.lo == 0 && a.hi >= 1630000 && a.hi <= 2000000);
  nn_svg_fit(&a, 5, 5, false, false, 4); /* one value: widened around it */
  assert_true(a.lo < 5 && a.hi > 5);
  /* log: 1-2-5 ends over decades, finer within one */
  nn_svg_fit(&a, 0.013, 0.8, true, false, 0);
  assert_true(fabs(a.lo - 0.01) < 1e-12 && fabs(a.hi - 1) < 1e-12);
  n = nn_svg_ticks(&a, 18, t, &step);
  int labelled = 0, has[3] = {0};
  for (int i = 0; i < n; i++) {
    labelled += t[i].label;
    for (int k = 0; k < 3; k++) has[k] |= t[i].label && fabs(t[i].v - pow(10, -k)) < 1e-12;
  }
  assert_true(has[0] && has[1] && has[2]);    /* 1, 0.1, 0.01 */
  assert_true(labelled >= 3 && n > labelled); /* grid lines between the labels */
  nn_svg_fit(&a, 0.58, 0.79, true, false, 0);
  assert_true(fabs(a.lo - 0.5) < 1e-12 && fabs(a.hi - 0.8) < 1e-12);
  nn_svg_fit(&a, 1e-30, 1e30, true, false, 0); /* a diverged run: still a bounded tick list */
  assert_true(nn_svg_ticks(&a, 18, t, &step) <= NN_SVG_MAX_TICKS);
  /* mapping: ends to pixels, out of range clamped a little outside */
  nn_svg_fit(&a, 0, 10, false, false, 5);
  assert_true(nn_svg_map(&a, 0) == 300 && nn_svg_map(&a, 10) == 0);
  assert_true(nn_svg_map(&a, 1e9) >= -15 && nn_svg_map(&a, NAN) <= 315);
}

typedef struct {
  nn_curves_run *runs;
  int n;
} chart_arg;

static void chart_it(FILE *f, void *arg) {
  chart_arg *c = arg;
  nn_curves_svg(f, "t <&> title", c->runs, c->n);
}

static void test_curves(void **state) {
  (void)state;
  nn_runlog a = {0}, b = {0}, empty = {0};
  nn_runlog_parse(&a, log_text, strlen(log_text));
  nn_runlog_parse(&b, log_text, strlen(log_text));
  nn_curves_run runs[3] = {{"run <a>", &a}, {"b & c", &b}, {"none", &empty}};
  chart_arg arg = {runs, 3};
  char *s = svg_text(chart_it, &arg);
  tu_assert_contains(s, "<svg xmlns='http://www.w3.org/2000/svg'");
  tu_assert_contains(s, "t &lt;&amp;&gt; title");
  tu_assert_contains(s, "run &lt;a&gt;");
  tu_assert_contains(s, "b &amp; c");
  tu_assert_contains(s, "none (no points yet)");
  for (int r = 0; r < 2; r++) {
    char want[64];
    static const char *const cls[] = {"train-loss", "eval-loss", "train-acc", "eval-acc", "speed"};
    for (int k = 0; k < 5; k++) {
      snprintf(want, sizeof want, "class='%s' data-run='%d'", cls[k], r);
      tu_assert_contains(s, want);
    }
  }
  assert_null(strstr(s, "data-run='2'")); /* nothing to draw for the empty run */
  tu_assert_contains(s, "segment 2 started at step 10");
  tu_assert_contains(s, ">epoch</text>");
  tu_assert_contains(s, "</svg>\n");
  free(s);
  /* no data at all: a chart that says so */
  arg = (chart_arg){&runs[2], 1};
  s = svg_text(chart_it, &arg);
  tu_assert_contains(s, "no step or eval events yet");
  free(s);
  /* into a file, atomically; an unwritable path is an error naming it */
  assert_int_equal(nn_curves_write_svg(tu_path("c.svg"), "x", runs, 2), NN_OK);
  size_t len;
  char *file = tu_read_file(tu_path("c.svg"), &len);
  tu_assert_contains(file, "</svg>");
  free(file);
  assert_int_equal(nn_curves_write_svg("/nonexistent-dir/c.svg", "x", runs, 2), NN_EIO);
  tu_assert_contains(nn_errmsg(), "/nonexistent-dir/c.svg");
  nn_runlog_free(&a);
  nn_runlog_free(&b);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_json_values), cmocka_unit_test(test_json_rejects), cmocka_unit_test(test_runlog_segments),
      cmocka_unit_test(test_runlog_read), cmocka_unit_test(test_svg_text),     cmocka_unit_test(test_svg_axes),
      cmocka_unit_test(test_curves),
  };
  return cmocka_run_group_tests(tests, tu_setup_tmpdir, tu_teardown_tmpdir);
}
