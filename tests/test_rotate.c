/* test_rotate.c — the rotating recorder (engine/rotate.c): files cut at
 * their period, notes and pedals carried across a cut, checkpoints, pruning
 * by count and by size, numbering across restarts. Every file is read back
 * with midifile_load (our SMF reader, independent of the libsmf writer) and
 * compared with the events expected by hand. Tolerance: the SMF tick,
 * 1/1920 s, so 0.3 ms on every time. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <glib/gstdio.h>
#include "error.h"
#include "midifile.h"
#include "rotate.h"

#define TOL 3e-4

static char *tmpdir(void)
{
    GError *err = NULL;
    char *d = g_dir_make_tmp("continuo-test-rotate-XXXXXX", &err);
    assert_non_null(d);
    return d;
}

static void rmtree(char *dir)
{
    GDir *d = g_dir_open(dir, 0, NULL);
    const char *name;
    while (d && (name = g_dir_read_name(d))) {
        char *p = g_build_filename(dir, name, NULL);
        g_unlink(p);
        g_free(p);
    }
    if (d) g_dir_close(d);
    g_rmdir(dir);
    g_free(dir);
}

static GArray *load(const char *dir, const char *name)
{
    char *p = g_build_filename(dir, name, NULL);
    GError *err = NULL;
    GArray *ev = midifile_load(p, &err);
    if (!ev) fail_msg("%s", err->message);
    g_free(p);
    return ev;
}

static bool exists(const char *dir, const char *name)
{
    char *p = g_build_filename(dir, name, NULL);
    bool e = g_file_test(p, G_FILE_TEST_EXISTS);
    g_free(p);
    return e;
}

static int count_files(const char *dir)
{
    GDir *d = g_dir_open(dir, 0, NULL);
    int n = 0;
    while (g_dir_read_name(d)) n++;
    g_dir_close(d);
    return n;
}

static void add(rotator *r, double t, int type, int ch, int a, int b)
{
    cn_event e = {t, (uint8_t)type, (uint8_t)ch, (uint8_t)a, (uint8_t)b};
    rotate_add(r, &e, 1);
}

static void expect(const GArray *ev, guint i, double t, int type, int a, int b)
{
    assert_true(i < ev->len);
    const cn_event *e = &g_array_index(ev, cn_event, i);
    if (fabs(e->time - t) > TOL || e->type != type || e->a != a || e->b != b)
        fail_msg("event %u: got (%.4f, %d, %d, %d), expected (%.4f, %d, %d, %d)", i, e->time,
                 e->type, e->a, e->b, t, type, a, b);
}

static rotator *make(const char *dir, double len, int keep)
{
    rotate_config c;
    rotate_config_defaults(&c);
    c.dir = dir;
    c.file_seconds = len;
    c.keep_files = keep;
    c.checkpoint_seconds = 2;
    GError *err = NULL;
    rotator *r = rotate_new(&c, &err);
    if (!r) fail_msg("%s", err->message);
    return r;
}

/* A note and a pedal held over the cut at 10 s end there and start again at
 * 0 in the next file; events arrive out of order. */
static void test_carry_over_cut(void **state)
{
    (void)state;
    char *dir = tmpdir();
    rotator *r = make(dir, 10, 10);
    add(r, 8, CN_EV_CC, 0, CN_CC_SUSTAIN, 127);
    add(r, 5, CN_EV_NOTE_ON, 0, 60, 70);
    add(r, 15, CN_EV_NOTE_OFF, 0, 60, 0);
    add(r, 12, CN_EV_CC, 0, CN_CC_SUSTAIN, 0);
    GError *err = NULL;
    assert_true(rotate_poll(r, 16, &err));
    assert_true(rotate_close(r, 16, &err));
    GArray *a = load(dir, "continuo-000000.mid");
    assert_int_equal(a->len, 4);
    expect(a, 0, 5, CN_EV_NOTE_ON, 60, 70);
    expect(a, 1, 8, CN_EV_CC, CN_CC_SUSTAIN, 127);
    expect(a, 2, 10, CN_EV_NOTE_OFF, 60, 0);
    expect(a, 3, 10, CN_EV_CC, CN_CC_SUSTAIN, 0);
    GArray *b = load(dir, "continuo-000001.mid");
    assert_int_equal(b->len, 4);
    expect(b, 0, 0, CN_EV_CC, CN_CC_SUSTAIN, 127);
    expect(b, 1, 0, CN_EV_NOTE_ON, 60, 70);
    expect(b, 2, 2, CN_EV_CC, CN_CC_SUSTAIN, 0);
    expect(b, 3, 5, CN_EV_NOTE_OFF, 60, 0);
    g_array_free(a, TRUE);
    g_array_free(b, TRUE);
    rotate_stats st;
    rotate_get_stats(r, &st);
    assert_int_equal(st.files_done, 1);
    rotate_free(r);
    assert_int_equal(count_files(dir), 2); /* no .tmp left */
    rmtree(dir);
}

/* Mid-period checkpoints: the file exists, complete, and grows. */
static void test_checkpoint(void **state)
{
    (void)state;
    char *dir = tmpdir();
    rotator *r = make(dir, 100, 10);
    add(r, 0.5, CN_EV_NOTE_ON, 1, 64, 90);
    GError *err = NULL;
    assert_true(rotate_poll(r, 1.0, &err));
    assert_false(exists(dir, "continuo-000000.mid")); /* interval (2 s) not reached */
    assert_true(rotate_poll(r, 2.5, &err));
    GArray *a = load(dir, "continuo-000000.mid");
    assert_int_equal(a->len, 2);
    expect(a, 0, 0.5, CN_EV_NOTE_ON, 64, 90);
    expect(a, 1, 2.5, CN_EV_NOTE_OFF, 64, 0); /* ended at the checkpoint, in the file only */
    g_array_free(a, TRUE);
    add(r, 3.0, CN_EV_NOTE_OFF, 1, 64, 0);
    add(r, 3.5, CN_EV_NOTE_ON, 1, 65, 80);
    assert_true(rotate_poll(r, 5.0, &err));
    a = load(dir, "continuo-000000.mid");
    assert_int_equal(a->len, 4);
    expect(a, 1, 3.0, CN_EV_NOTE_OFF, 64, 0);
    expect(a, 3, 5.0, CN_EV_NOTE_OFF, 65, 0);
    g_array_free(a, TRUE);
    rotate_free(r);
    rmtree(dir);
}

/* Six periods, keep 3: the current file and the two newest closed ones.
 * A restart continues the numbering; foreign files are never touched. */
static void test_prune_and_restart(void **state)
{
    (void)state;
    char *dir = tmpdir();
    char *foreign = g_build_filename(dir, "notes.txt", NULL);
    char *other = g_build_filename(dir, "continuo-12.mid", NULL); /* not 6 digits: not ours */
    g_file_set_contents(foreign, "x", 1, NULL);
    g_file_set_contents(other, "x", 1, NULL);
    rotator *r = make(dir, 10, 3);
    GError *err = NULL;
    for (int k = 0; k < 6; k++) {
        add(r, 10 * k + 1, CN_EV_NOTE_ON, 0, 50 + k, 60);
        add(r, 10 * k + 2, CN_EV_NOTE_OFF, 0, 50 + k, 0);
        assert_true(rotate_poll(r, 10 * k + 5, &err));
    }
    assert_true(rotate_close(r, 58, &err));
    rotate_stats st;
    rotate_get_stats(r, &st);
    assert_int_equal(st.files_deleted, 3);
    rotate_free(r);
    assert_false(exists(dir, "continuo-000002.mid"));
    assert_true(exists(dir, "continuo-000003.mid"));
    assert_true(exists(dir, "continuo-000004.mid"));
    assert_true(exists(dir, "continuo-000005.mid"));
    GArray *a = load(dir, "continuo-000005.mid");
    assert_int_equal(a->len, 2);
    expect(a, 0, 1, CN_EV_NOTE_ON, 55, 60);
    g_array_free(a, TRUE);
    /* restart: the next file is 000006; an empty period writes nothing */
    r = make(dir, 10, 3);
    assert_string_equal(strrchr(rotate_current_path(r), '/') + 1, "continuo-000006.mid");
    assert_true(rotate_poll(r, 25, &err)); /* two empty periods */
    add(r, 26, CN_EV_NOTE_ON, 0, 70, 60);
    add(r, 27, CN_EV_NOTE_OFF, 0, 70, 0);
    assert_true(rotate_close(r, 28, &err));
    rotate_free(r);
    a = load(dir, "continuo-000006.mid"); /* starts at 20 s of the new run */
    expect(a, 0, 6, CN_EV_NOTE_ON, 70, 60);
    g_array_free(a, TRUE);
    assert_true(g_file_test(foreign, G_FILE_TEST_EXISTS));
    assert_true(g_file_test(other, G_FILE_TEST_EXISTS));
    g_free(foreign);
    g_free(other);
    rmtree(dir);
}

/* A byte budget smaller than one file: only the current file stays. */
static void test_prune_by_bytes(void **state)
{
    (void)state;
    char *dir = tmpdir();
    rotate_config c;
    rotate_config_defaults(&c);
    c.dir = dir;
    c.file_seconds = 10;
    c.keep_bytes = 10;
    GError *err = NULL;
    rotator *r = rotate_new(&c, &err);
    for (int k = 0; k < 4; k++) {
        add(r, 10 * k + 1, CN_EV_NOTE_ON, 0, 60, 60);
        add(r, 10 * k + 2, CN_EV_NOTE_OFF, 0, 60, 0);
        assert_true(rotate_poll(r, 10 * k + 5, &err));
    }
    assert_true(rotate_close(r, 35, &err));
    rotate_stats st;
    rotate_get_stats(r, &st);
    assert_int_equal(st.files_kept, 0);
    assert_int_equal(st.bytes_kept, 0);
    rotate_free(r);
    assert_int_equal(count_files(dir), 1);
    assert_true(exists(dir, "continuo-000003.mid"));
    rmtree(dir);
}

static void test_bad_config(void **state)
{
    (void)state;
    rotate_config c;
    rotate_config_defaults(&c);
    GError *err = NULL;
    c.file_seconds = 0;
    assert_null(rotate_new(&c, &err));
    assert_non_null(err);
    g_clear_error(&err);
    rotate_config_defaults(&c);
    c.prefix = "a/b";
    assert_null(rotate_new(&c, &err));
    g_clear_error(&err);
    rotate_config_defaults(&c);
    c.dir = "/proc/no-such-place/for-sure";
    assert_null(rotate_new(&c, &err));
    assert_non_null(strstr(err->message, "/proc/no-such-place/for-sure"));
    g_clear_error(&err);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_carry_over_cut),
        cmocka_unit_test(test_checkpoint),
        cmocka_unit_test(test_prune_and_restart),
        cmocka_unit_test(test_prune_by_bytes),
        cmocka_unit_test(test_bad_config),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
