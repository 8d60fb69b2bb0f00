/* test_driver.c — the session driver (plugin/driver.c) that the JACK worker,
 * the ALSA pump, the LV2 worker and the soak run, driven here by a fake host
 * on a virtual clock (a small random model):
 *  - every event handed to the host falls in its pass's window
 *    [next, until), in time order, once; shutdown ends every note; what the
 *    host got is exactly the model's part of the session's recording;
 *  - the performer's events heard at their times (the recording holds them
 *    unchanged), the tempo feed called before the input in every pass, and
 *    the answer gap equal to the one measured on the host's own log;
 *  - a requested panic ends, in its pass, every note the host was given, at
 *    the pass's next (or after the last event already handed out);
 *  - a host with little room and one that refuses events: nothing is lost
 *    but what it refused, counted.
 * Times are compared exactly (the driver copies them) or within 1e-9 s. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <string.h>
#include <glib/gstdio.h>
#include "driver.h"
#include "test_models.h"
#include "session.h"

#define MODEL_CH 1
#define DT 0.01      /* s between passes */
#define MARGIN 0.01  /* next = now + MARGIN */
#define HORIZON 0.05 /* until = next + HORIZON */

static test_model *the_model;

static int setup(void **state)
{
    (void)state;
    the_model = test_model_small(256, 9, "continuo-test-driver");
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    test_model_free(the_model);
    return 0;
}

static session *make_session(session_mode mode)
{
    session_config c;
    session_config_defaults(&c);
    c.mode = mode;
    c.model_channel = MODEL_CH;
    c.lookahead = 0.5;
    c.duet_pause = 0.4;
    c.duet_phrase = 3.0;
    c.seed = 3;
    GError *err = NULL;
    session *s = session_new(&c, the_model->m, &err);
    if (!s) fail_msg("%s", err->message);
    return s;
}

/* ---- the fake host ---------------------------------------------------------- */

typedef struct {
    double next, until;
} window;

typedef struct {
    double now;
    int pass;             /* index of the current pass (its window in win) */
    GArray *win;          /* window per pass */
    GArray *script;       /* performer events, delivered once now >= their time */
    guint script_next;
    GArray *out;          /* events the host took */
    GArray *out_pass;     /* int: the pass each was taken in */
    size_t room;          /* events the host takes per pass (SIZE_MAX: any) */
    size_t room_left;
    int refuse_every;     /* refuse every Nth push (0: never) */
    long pushes, refused;
    bool synced;          /* the tempo feed ran in this pass */
    int sync_calls, pop_before_sync;
} fake;

static double f_next(void *ctx, double *until)
{
    fake *f = ctx;
    window w = {f->now + MARGIN, f->now + MARGIN + HORIZON};
    g_array_append_val(f->win, w);
    f->pass = (int)f->win->len - 1;
    f->room_left = f->room;
    *until = w.until;
    return w.next;
}

static bool f_pop(void *ctx, cn_event *e)
{
    fake *f = ctx;
    if (!f->synced) f->pop_before_sync++;
    if (f->script_next >= f->script->len) return false;
    const cn_event *s = &g_array_index(f->script, cn_event, f->script_next);
    if (s->time > f->now) return false;
    *e = *s;
    f->script_next++;
    return true;
}

static void f_sync(void *ctx, tempo_clock *c)
{
    fake *f = ctx;
    assert_non_null(c);
    f->synced = true;
    f->sync_calls++;
}

static size_t f_space(void *ctx) { return ((fake *)ctx)->room_left; }

static bool f_push(void *ctx, const cn_event *e)
{
    fake *f = ctx;
    assert_true(f->room_left > 0);
    if (f->room != SIZE_MAX) f->room_left--;
    f->pushes++;
    if (f->refuse_every && f->pushes % f->refuse_every == 0) {
        f->refused++;
        return false;
    }
    g_array_append_val(f->out, *e);
    g_array_append_val(f->out_pass, f->pass);
    return true;
}

static fake *fake_new(void)
{
    fake *f = g_new0(fake, 1);
    f->win = g_array_new(FALSE, FALSE, sizeof(window));
    f->script = cn_events_new();
    f->out = cn_events_new();
    f->out_pass = g_array_new(FALSE, FALSE, sizeof(int));
    f->room = SIZE_MAX;
    return f;
}

static void fake_free(fake *f)
{
    g_array_free(f->win, TRUE);
    g_array_free(f->script, TRUE);
    g_array_free(f->out, TRUE);
    g_array_free(f->out_pass, TRUE);
    g_free(f);
}

static driver *fake_driver(fake *f)
{
    driver_host h = {f, f_next, f_pop, f_sync, f_space, f_push, NULL};
    return driver_new(&h, NULL);
}

/* Passes at now = i * DT until `end` (exclusive). */
static void run_until(driver *d, session *s, fake *f, double end)
{
    for (long i = lround(f->now / DT); i * DT < end - 1e-9; i++) {
        f->now = i * DT;
        f->synced = false;
        driver_pass(d, s);
    }
    f->now = lround(end / DT) * DT;
}

static const cn_event *out_at(const fake *f, guint i) { return &g_array_index(f->out, cn_event, i); }

/* In time order, each in its pass's window (the finish pass: no upper bound). */
static void check_windows(const fake *f, int finish_pass)
{
    for (guint i = 0; i < f->out->len; i++) {
        const cn_event *e = out_at(f, i);
        int p = g_array_index(f->out_pass, int, i);
        const window *w = &g_array_index(f->win, window, p);
        assert_true(e->time >= w->next);
        if (p != finish_pass) assert_true(e->time < w->until);
        if (i) assert_true(e->time >= out_at(f, i - 1)->time);
        assert_int_equal(e->channel, MODEL_CH);
    }
}

/* Model notes on after the host's log; returns how many note-ons. */
static long count_sounding(const fake *f, guint upto, int sounding[128])
{
    long ons = 0;
    memset(sounding, 0, 128 * sizeof *sounding);
    for (guint i = 0; i < upto; i++) {
        const cn_event *e = out_at(f, i);
        if (e->type == CN_EV_NOTE_ON && e->b > 0) sounding[e->a]++, ons++;
        else if (e->type == CN_EV_NOTE_OFF || e->type == CN_EV_NOTE_ON) sounding[e->a]--;
    }
    return ons;
}

/* ---- tests ------------------------------------------------------------------- */

static void test_solo_windows_and_finish(void **state)
{
    (void)state;
    fake *f = fake_new();
    session *s = make_session(SESSION_SOLO);
    driver *d = fake_driver(f);
    run_until(d, s, f, 20.0);
    int passes = (int)f->win->len;
    double fin = driver_finish(d, s);
    assert_true(fabs(fin - (20.0 + MARGIN)) < 1e-9);
    check_windows(f, passes);
    int sounding[128];
    long ons = count_sounding(f, f->out->len, sounding);
    assert_true(ons > 20); /* a random model plays a few notes a second */
    for (int p = 0; p < 128; p++) assert_int_equal(sounding[p], 0);
    driver_stats st;
    driver_get_stats(d, &st);
    assert_int_equal(st.passes, passes);
    assert_int_equal(st.events_out, f->out->len);
    assert_int_equal(st.events_in, 0);
    assert_int_equal(st.push_errors, 0);
    assert_int_equal(st.panics, 1); /* the shutdown's */
    assert_int_equal(f->pop_before_sync, 0);
    assert_int_equal(f->sync_calls, passes + 1);
    /* the host got exactly the model's part of the session's recording */
    const GArray *rec = session_recording(s);
    guint k = 0;
    for (guint i = 0; i < rec->len; i++) {
        const cn_event *r = &g_array_index(rec, cn_event, i);
        if (r->channel != MODEL_CH) continue;
        assert_true(k < f->out->len);
        const cn_event *e = out_at(f, k++);
        assert_int_equal(r->type, e->type);
        assert_int_equal(r->a, e->a);
        assert_true(fabs(r->time - e->time) < 1e-9);
    }
    assert_int_equal(k, f->out->len);
    driver_free(d);
    session_free(s);
    fake_free(f);
}

static int by_time(const void *a, const void *b)
{
    double ta = ((const cn_event *)a)->time, tb = ((const cn_event *)b)->time;
    return ta < tb ? -1 : ta > tb;
}

static void test_duet_input_and_answer(void **state)
{
    (void)state;
    fake *f = fake_new();
    session *s = make_session(SESSION_DUET);
    driver *d = fake_driver(f);
    const double on_at[4] = {1.003, 1.251, 1.502, 1.757};
    const uint8_t pitch[4] = {60, 62, 64, 65};
    for (int i = 0; i < 4; i++) {
        cn_event on = {on_at[i], CN_EV_NOTE_ON, 0, pitch[i], 90};
        cn_event off = {on_at[i] + 0.2, CN_EV_NOTE_OFF, 0, pitch[i], 0};
        g_array_append_val(f->script, on);
        g_array_append_val(f->script, off);
    }
    g_array_sort(f->script, by_time);
    run_until(d, s, f, 6.0);
    driver_stats st;
    driver_get_stats(d, &st);
    assert_int_equal(st.events_in, 8);
    assert_int_equal(f->pop_before_sync, 0);
    /* the performer's events, heard at their own times */
    const GArray *rec = session_recording(s);
    guint k = 0;
    for (guint i = 0; i < rec->len; i++) {
        const cn_event *r = &g_array_index(rec, cn_event, i);
        if (r->channel == MODEL_CH) continue;
        const cn_event *want = &g_array_index(f->script, cn_event, k++);
        assert_int_equal(r->type, want->type);
        assert_int_equal(r->a, want->a);
        assert_true(fabs(r->time - want->time) < 1e-9);
    }
    assert_int_equal(k, 8);
    /* the answer: after the pause, and the gap the driver reports is the
     * one on the host's log (last performer event: the last note-off) */
    check_windows(f, -1);
    double first_on = -1;
    for (guint i = 0; i < f->out->len && first_on < 0; i++)
        if (out_at(f, i)->type == CN_EV_NOTE_ON) first_on = out_at(f, i)->time;
    double last_in = on_at[3] + 0.2;
    assert_true(first_on >= last_in + 0.4 - 0.011); /* duet_pause, one token tick */
    assert_int_equal(st.answers, 1);
    assert_true(fabs(st.answer_gap_min_s - (first_on - last_in)) < 1e-9);
    assert_true(fabs(st.answer_gap_last_s - (first_on - last_in)) < 1e-9);
    driver_free(d);
    session_free(s);
    fake_free(f);
}

static void test_panic(void **state)
{
    (void)state;
    fake *f = fake_new();
    session *s = make_session(SESSION_SOLO);
    driver *d = fake_driver(f);
    /* run until some notes are sounding at the host */
    int sounding[128], n_on = 0;
    for (double end = 3.0; end < 30 && n_on == 0; end += 0.37) {
        run_until(d, s, f, end);
        count_sounding(f, f->out->len, sounding);
        n_on = 0;
        for (int p = 0; p < 128; p++) n_on += sounding[p] > 0;
    }
    assert_true(n_on > 0);
    guint before = f->out->len;
    double last = before ? out_at(f, before - 1)->time : 0;
    driver_request_panic(d);
    run_until(d, s, f, f->now + DT); /* the panic's pass */
    const window *w = &g_array_index(f->win, window, f->win->len - 1);
    int ended[128] = {0};
    for (guint i = before; i < f->out->len; i++) {
        const cn_event *e = out_at(f, i);
        if (e->type != CN_EV_NOTE_OFF && !(e->type == CN_EV_NOTE_ON && e->b == 0)) continue;
        assert_true(e->time >= w->next - 1e-12);
        assert_true(e->time <= fmax(w->next, last) + 1e-12);
        ended[e->a]++;
    }
    for (int p = 0; p < 128; p++)
        if (sounding[p] > 0) assert_int_equal(ended[p], sounding[p]);
    driver_stats st;
    driver_get_stats(d, &st);
    assert_int_equal(st.panics, 1);
    driver_finish(d, s);
    count_sounding(f, f->out->len, sounding);
    for (int p = 0; p < 128; p++) assert_int_equal(sounding[p], 0);
    driver_free(d);
    session_free(s);
    fake_free(f);
}

static void test_little_room_and_refusals(void **state)
{
    (void)state;
    fake *f = fake_new();
    f->room = 2;
    f->refuse_every = 7;
    session *s = make_session(SESSION_SOLO);
    driver *d = fake_driver(f);
    run_until(d, s, f, 15.0);
    driver_stats st;
    driver_get_stats(d, &st);
    int per_pass[2048] = {0};
    for (guint i = 0; i < f->out->len; i++) {
        int p = g_array_index(f->out_pass, int, i);
        assert_true(p < 2048);
        per_pass[p]++;
        assert_true(per_pass[p] <= 2);
        const window *w = &g_array_index(f->win, window, p);
        assert_true(out_at(f, i)->time >= w->next); /* left for later: never the past */
        if (i) assert_true(out_at(f, i)->time >= out_at(f, i - 1)->time);
    }
    assert_true(f->refused > 0);
    assert_int_equal(st.push_errors, f->refused);
    assert_int_equal(st.events_out, f->out->len);
    assert_int_equal(f->pushes, (long)f->out->len + f->refused);
    driver_free(d);
    session_free(s);
    fake_free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_solo_windows_and_finish),
        cmocka_unit_test(test_duet_input_and_answer),
        cmocka_unit_test(test_panic),
        cmocka_unit_test(test_little_room_and_refusals),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
