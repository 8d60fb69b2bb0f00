/* test_rtqueue.c — the RT output queue (plugin/rtqueue.c) shared by the JACK
 * client and the LV2 plugin: sorted insert (equal frames keep their order),
 * the events due in a cycle with their offsets (late ones at 0, with how
 * late), capacity, and the render split at event offsets. Each check is
 * against a table written out by hand below, not computed by the code under
 * test. Exact (integers). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>
#include "rtqueue.h"

typedef struct {
    uint64_t frame;
    uint8_t tag; /* ev.a: which insert it was */
    uint32_t offset;
    uint64_t late_by;
} taken;

typedef struct {
    taken t[64];
    int n;
} take_log;

static void log_emit(void *arg, const rt_event *ev, uint32_t offset, uint64_t late_by)
{
    take_log *l = arg;
    l->t[l->n++] = (taken){ev->frame, ev->a, offset, late_by};
}

static rt_event ev_at(uint64_t frame, uint8_t tag)
{
    return (rt_event){frame, CN_EV_NOTE_ON, 0, tag, 100};
}

static void test_take_due(void **state)
{
    (void)state;
    rtqueue *q = rtqueue_new(16);
    assert_non_null(q);
    /* inserted out of order; tags 3 and 5 share frame 1010, tags 1 and 7 share 1127 */
    const uint64_t frames[8] = {1200, 1127, 990, 1010, 1128, 1010, 999, 1127};
    for (int i = 0; i < 8; i++) {
        rt_event e = ev_at(frames[i], (uint8_t)i);
        assert_true(rtqueue_insert(q, &e));
    }
    assert_int_equal(rtqueue_count(q), 8);
    /* the cycle [1000, 1128): due = frame < 1128, in frame order */
    const taken want[6] = {
        {990, 2, 0, 10}, {999, 6, 0, 1},   {1010, 3, 10, 0},
        {1010, 5, 10, 0}, {1127, 1, 127, 0}, {1127, 7, 127, 0},
    };
    take_log l = {0};
    assert_int_equal(rtqueue_take_due(q, 1000, 1128, log_emit, &l), 6);
    assert_int_equal(l.n, 6);
    for (int i = 0; i < 6; i++) {
        assert_int_equal(l.t[i].frame, want[i].frame);
        assert_int_equal(l.t[i].tag, want[i].tag);
        assert_int_equal(l.t[i].offset, want[i].offset);
        assert_int_equal(l.t[i].late_by, want[i].late_by);
    }
    /* what is left: 1128 (tag 4) then 1200 (tag 0), for the next cycle */
    assert_int_equal(rtqueue_count(q), 2);
    l.n = 0;
    assert_int_equal(rtqueue_take_due(q, 1128, 1256, log_emit, &l), 2);
    assert_int_equal(l.t[0].tag, 4);
    assert_int_equal(l.t[0].offset, 0);
    assert_int_equal(l.t[0].late_by, 0);
    assert_int_equal(l.t[1].tag, 0);
    assert_int_equal(l.t[1].offset, 72);
    assert_int_equal(rtqueue_count(q), 0);
    l.n = 0;
    assert_int_equal(rtqueue_take_due(q, 1256, 1384, log_emit, &l), 0);
    rtqueue_free(q);
}

static void test_capacity_and_clear(void **state)
{
    (void)state;
    rtqueue *q = rtqueue_new(3);
    for (int i = 0; i < 3; i++) {
        rt_event e = ev_at(100 - (uint64_t)i, (uint8_t)i);
        assert_true(rtqueue_insert(q, &e));
    }
    rt_event e = ev_at(1, 9);
    assert_true(rtqueue_full(q));
    assert_false(rtqueue_insert(q, &e));
    assert_int_equal(rtqueue_count(q), 3);
    rtqueue_clear(q);
    assert_int_equal(rtqueue_count(q), 0);
    assert_true(rtqueue_insert(q, &e));
    take_log l = {0};
    assert_int_equal(rtqueue_take_due(q, 0, 128, log_emit, &l), 1);
    assert_int_equal(l.t[0].tag, 9);
    rtqueue_free(q);
}

/* ---- the render split ---------------------------------------------------- */

typedef struct {
    char what[32];   /* 'R' render, 'E' event */
    uint32_t x[32];  /* R: from; E: the slot's tag (a) */
    uint32_t y[32];  /* R: frames */
    int n;
} split_log;

static void log_render(void *arg, uint32_t from, uint32_t frames)
{
    split_log *l = arg;
    l->what[l->n] = 'R';
    l->x[l->n] = from;
    l->y[l->n++] = frames;
}

static void log_event(void *arg, const rt_slot *s)
{
    split_log *l = arg;
    l->what[l->n] = 'E';
    l->x[l->n] = s->a;
    l->y[l->n++] = 0;
}

static void test_render_split(void **state)
{
    (void)state;
    /* input slots (tags 1x) and output slots (tags 2x), each sorted; one
     * input slot beyond the cycle (offset 200 of 128 frames) */
    const rt_slot a[4] = {{0, CN_EV_NOTE_ON, 0, 10, 1}, {10, CN_EV_NOTE_ON, 0, 11, 1},
                          {10, CN_EV_NOTE_OFF, 0, 12, 0}, {200, CN_EV_NOTE_ON, 0, 13, 1}};
    const rt_slot b[3] = {{5, CN_EV_NOTE_ON, 1, 20, 1}, {10, CN_EV_NOTE_ON, 1, 21, 1},
                          {127, CN_EV_NOTE_OFF, 1, 22, 0}};
    /* by hand: a's first at equal offsets; a render slice before each new
     * offset; the slot past the end after the last slice */
    const char want_what[] = "ERERE" "EERERE";
    const uint32_t want_x[11] = {10, 0, 20, 5, 11, 12, 21, 10, 22, 127, 13};
    const uint32_t want_y[11] = {0, 5, 0, 5, 0, 0, 0, 117, 0, 1, 0};
    split_log l = {0};
    rt_render_split(a, 4, b, 3, 128, log_render, log_event, &l);
    assert_int_equal(l.n, 11);
    for (int i = 0; i < 11; i++) {
        assert_int_equal(l.what[i], want_what[i]);
        assert_int_equal(l.x[i], want_x[i]);
        assert_int_equal(l.y[i], want_y[i]);
    }
    /* no events: one slice of the whole cycle */
    memset(&l, 0, sizeof l);
    rt_render_split(NULL, 0, NULL, 0, 64, log_render, log_event, &l);
    assert_int_equal(l.n, 1);
    assert_int_equal(l.what[0], 'R');
    assert_int_equal(l.x[0], 0);
    assert_int_equal(l.y[0], 64);
    /* one list only (the LV2 plugin's merged output), events at the end */
    const rt_slot c[2] = {{63, CN_EV_NOTE_ON, 0, 30, 1}, {63, CN_EV_NOTE_OFF, 0, 31, 0}};
    memset(&l, 0, sizeof l);
    rt_render_split(c, 2, NULL, 0, 64, log_render, log_event, &l);
    assert_int_equal(l.n, 4);
    assert_true(l.what[0] == 'R' && l.x[0] == 0 && l.y[0] == 63);
    assert_true(l.what[1] == 'E' && l.x[1] == 30);
    assert_true(l.what[2] == 'E' && l.x[2] == 31);
    assert_true(l.what[3] == 'R' && l.x[3] == 63 && l.y[3] == 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_take_due),
        cmocka_unit_test(test_capacity_and_clear),
        cmocka_unit_test(test_render_split),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
