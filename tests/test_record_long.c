/* test_record_long.c — a jam recording longer than one MIDI file holds
 * (10 h): session_save_recording cuts it into parts, each readable by our own
 * reader (midifile_load), and nothing is lost: every event comes back, in
 * its part, at its time less the part's start (within a tick, 1/1920 s),
 * and a note held over a cut is ended there and struck again at the next
 * part's 0. The reference is the list of events the test itself put in. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <math.h>
#include <string.h>
#include <unistd.h>
#include <glib/gstdio.h>
#include <cmocka.h>
#include "session.h"
#include "session_config.h"
#include "midifile.h"
#include "test_models.h"

#define TICK (1.0 / 1920)
#define PART 36000.0

typedef struct {
    char *model_path, *dir;
    model *m;
} fixture;

static int setup(void **state)
{
    fixture *f = g_new0(fixture, 1);
    model_config c;
    test_model_small_config(&c, 64);
    c.n_layers = 1;
    float *p = model_random_params(&c, 3, 0.02f);
    f->model_path = test_model_write(&c, p, "continuo-test-reclong");
    g_free(p);
    GError *err = NULL;
    f->m = model_load(f->model_path, &err);
    if (!f->m) fail_msg("%s", err->message);
    f->dir = g_dir_make_tmp("continuo-reclong-XXXXXX", &err);
    if (!f->dir) fail_msg("%s", err->message);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    model_free(f->m);
    g_unlink(f->model_path);
    g_free(f->model_path);
    g_rmdir(f->dir);
    g_free(f->dir);
    g_free(f);
    return 0;
}

/* A session whose performer played `n` events (channel 0), saved at `now`. */
static gboolean save(fixture *f, const cn_event *ev, int n, double now, const char *name,
                     GError **err)
{
    session_config c;
    session_config_defaults(&c);
    session *s = session_new(&c, f->m, err);
    if (!s) fail_msg("%s", (*err)->message);
    for (int i = 0; i < n; i++) session_input(s, &ev[i]);
    char *path = g_build_filename(f->dir, name, NULL);
    gboolean ok = session_save_recording(s, path, now, err);
    g_free(path);
    session_free(s);
    return ok;
}

static GArray *load(fixture *f, const char *name)
{
    char *path = g_build_filename(f->dir, name, NULL);
    GError *err = NULL;
    GArray *ev = midifile_load(path, &err);
    if (!ev) fail_msg("%s", err->message);
    g_unlink(path);
    g_free(path);
    return ev;
}

/* ev[i] in got, as the same type/pitch at want_time within a tick. */
static void assert_has(const GArray *got, int type, int pitch, double want_time)
{
    for (guint i = 0; i < got->len; i++) {
        const cn_event *e = &g_array_index(got, cn_event, i);
        if (e->type == type && e->a == pitch && fabs(e->time - want_time) <= TICK) return;
    }
    fail_msg("no event type %d pitch %d at %.4f s", type, pitch, want_time);
}

static void test_under_limit_one_file(void **state)
{
    fixture *f = *state;
    cn_event ev[] = {{1.0, CN_EV_NOTE_ON, 0, 60, 90}, {35000.0, CN_EV_NOTE_OFF, 0, 60, 0}};
    GError *err = NULL;
    if (!save(f, ev, 2, 35000.0, "short.mid", &err)) fail_msg("%s", err->message);
    GArray *got = load(f, "short.mid");
    assert_int_equal(got->len, 2);
    assert_has(got, CN_EV_NOTE_ON, 60, 1.0);
    assert_has(got, CN_EV_NOTE_OFF, 60, 35000.0);
    g_array_free(got, TRUE);
    char *p2 = g_build_filename(f->dir, "short-2.mid", NULL);
    assert_false(g_file_test(p2, G_FILE_TEST_EXISTS));
    g_free(p2);
}

/* 25 h: three parts. Note 62 is held over the first cut, the pedal over the
 * second; note 64 sits exactly on the second cut (it belongs to part 3). */
static void test_over_limit_parts(void **state)
{
    fixture *f = *state;
    cn_event ev[] = {
        {1.0, CN_EV_NOTE_ON, 0, 60, 90},     {2.0, CN_EV_NOTE_OFF, 0, 60, 0},
        {35999.0, CN_EV_NOTE_ON, 0, 62, 70}, {36001.0, CN_EV_NOTE_OFF, 0, 62, 0},
        {50000.0, CN_EV_CC, 0, CN_CC_SUSTAIN, 127},
        {72000.0, CN_EV_NOTE_ON, 0, 64, 80}, {72000.5, CN_EV_NOTE_OFF, 0, 64, 0},
        {80000.0, CN_EV_CC, 0, CN_CC_SUSTAIN, 0},
    };
    GError *err = NULL;
    if (!save(f, ev, G_N_ELEMENTS(ev), 90000.0, "long.mid", &err)) fail_msg("%s", err->message);

    GArray *p1 = load(f, "long.mid");
    assert_int_equal(p1->len, 4);
    assert_has(p1, CN_EV_NOTE_ON, 60, 1.0);
    assert_has(p1, CN_EV_NOTE_OFF, 60, 2.0);
    assert_has(p1, CN_EV_NOTE_ON, 62, 35999.0);
    assert_has(p1, CN_EV_NOTE_OFF, 62, PART); /* ended at the cut */
    g_array_free(p1, TRUE);

    GArray *p2 = load(f, "long-2.mid");
    assert_int_equal(p2->len, 4);
    assert_has(p2, CN_EV_NOTE_ON, 62, 0.0); /* struck again */
    assert_has(p2, CN_EV_NOTE_OFF, 62, 1.0);
    assert_has(p2, CN_EV_CC, CN_CC_SUSTAIN, 50000.0 - PART);
    assert_has(p2, CN_EV_CC, CN_CC_SUSTAIN, PART); /* pedal lifted at the cut */
    g_array_free(p2, TRUE);

    GArray *p3 = load(f, "long-3.mid");
    assert_int_equal(p3->len, 4);
    assert_has(p3, CN_EV_CC, CN_CC_SUSTAIN, 0.0); /* pedal down again */
    assert_has(p3, CN_EV_NOTE_ON, 64, 0.0);
    assert_has(p3, CN_EV_NOTE_OFF, 64, 0.5);
    assert_has(p3, CN_EV_CC, CN_CC_SUSTAIN, 80000.0 - 2 * PART);
    g_array_free(p3, TRUE);
}

/* Part 2 cannot be written (a directory sits at its path): part 1 still is,
 * and the error names both. */
static void test_part_fails_rest_written(void **state)
{
    fixture *f = *state;
    char *block = g_build_filename(f->dir, "blocked-2.mid.tmp", NULL);
    assert_int_equal(g_mkdir(block, 0755), 0);
    cn_event ev[] = {{1.0, CN_EV_NOTE_ON, 0, 60, 90}, {36500.0, CN_EV_NOTE_OFF, 0, 60, 0}};
    GError *err = NULL;
    assert_false(save(f, ev, 2, 36500.0, "blocked.mid", &err));
    assert_non_null(strstr(err->message, "blocked-2.mid"));
    assert_non_null(strstr(err->message, "written: "));
    g_clear_error(&err);
    GArray *p1 = load(f, "blocked.mid");
    assert_int_equal(p1->len, 2);
    assert_has(p1, CN_EV_NOTE_OFF, 60, PART);
    g_array_free(p1, TRUE);
    g_rmdir(block);
    g_free(block);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_under_limit_one_file),
        cmocka_unit_test(test_over_limit_parts),
        cmocka_unit_test(test_part_fails_rest_written),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
