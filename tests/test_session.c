/* test_session.c — the jam session (engine/session.c) under a virtual clock.
 *
 * A small random-weight model (tests/support/test_models.c) stands in for the
 * trained one: the session's logic (stream merge, rollback, modes, lookahead,
 * controls, recording) does not depend on what the model has learnt. The
 * clock is a loop: every DT seconds the "host" delivers the performer events
 * due, calls session_step(now) and takes what is due before now + HORIZON.
 *
 * Checks are made against the released events themselves (an independent
 * pairing scan: every NOTE_ON of the model has one later NOTE_OFF, times never
 * go back) and against the token stream recomputed by hand (stream times
 * summed from TIME_SHIFTs, expected token counts). Tolerances: one token tick
 * (10 ms) where a time is quantized into the stream, plus 1e-9 s for double
 * arithmetic; no wall-clock time anywhere. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>
#include <unistd.h>
#include <glib/gstdio.h>
#include <cmocka.h>
#include "session.h"
#include "session_debug.h"
#include "token.h"
#include "midifile.h"
#include "test_models.h"
#include "error.h"
#include "host_config.h"
#include "paths.h"

#define DT (128.0 / 48000.0) /* one JACK period at 48 kHz, 128 frames: 2.67 ms */
#define HORIZON (2 * DT)
#define EPS 1e-9
#define TICK_TOL (TOK_TIME_STEP + EPS)
#define MODEL_CH 1

/* ---- fixtures: random models written to temporary files ---------------- */

static test_model *model_make(int seq_len, guint32 seed, bool nan_weights)
{
    model_config c;
    test_model_small_config(&c, seq_len);
    float *p = model_random_params(&c, seed, 0.02f);
    if (nan_weights) {
        model_weights w;
        model_weights_map(&w, &c, p);
        w.rms_final[0] = NAN;
    }
    test_model *tm = test_model_new(&c, p, "continuo-test-session");
    g_free(p);
    return tm;
}

static int setup_models(void **state)
{
    test_model **ms = g_new0(test_model *, 2);
    ms[0] = model_make(256, 7, false); /* roomy context */
    ms[1] = model_make(96, 7, false);  /* slides often */
    *state = ms;
    return 0;
}

static int teardown_models(void **state)
{
    test_model **ms = *state;
    test_model_free(ms[0]);
    test_model_free(ms[1]);
    g_free(ms);
    return 0;
}

static const model *model_big(void **state) { return ((test_model **)*state)[0]->m; }
static const model *model_small(void **state) { return ((test_model **)*state)[1]->m; }

/* ---- the virtual host ---------------------------------------------------- */

typedef struct {
    session *s;
    double now;
    GArray *perf; /* performer events still to deliver (time order) */
    guint next;
    GArray *out;  /* every released event */
} rig;

static rig *rig_new(const model *m, const session_config *c)
{
    rig *r = g_new0(rig, 1);
    GError *err = NULL;
    r->s = session_new(c, m, &err);
    if (!r->s) fail_msg("%s", err->message);
    r->perf = cn_events_new();
    r->out = cn_events_new();
    return r;
}

static void rig_free(rig *r)
{
    session_free(r->s);
    g_array_free(r->perf, TRUE);
    g_array_free(r->out, TRUE);
    g_free(r);
}

static void perf_event(rig *r, double t, int type, int a, int b)
{
    cn_event e = {.time = t, .type = (uint8_t)type, .channel = 0, .a = (uint8_t)a,
                  .b = (uint8_t)b};
    g_array_append_val(r->perf, e);
    cn_events_sort(r->perf);
}

static void perf_note(rig *r, double t, double dur, int pitch)
{
    perf_event(r, t, CN_EV_NOTE_ON, pitch, 80);
    perf_event(r, t + dur, CN_EV_NOTE_OFF, pitch, 0);
}

/* A phrase of n notes, one every `gap` s, each `dur` long, from t0. */
static void perf_phrase(rig *r, double t0, int n, double gap, double dur)
{
    for (int i = 0; i < n; i++) perf_note(r, t0 + i * gap, dur, 60 + (i * 5) % 12);
}

static void rig_take(rig *r, double until)
{
    cn_event buf[16];
    int n;
    while ((n = session_take_due(r->s, r->now, until, buf, 16)) > 0) {
        for (int i = 0; i < n; i++) /* never late: nothing before the host's now */
            if (buf[i].time < r->now - EPS) fail_msg("event at %.4f released at %.4f", buf[i].time, r->now);
        g_array_append_vals(r->out, buf, (guint)n);
    }
}

/* One host period: performer events due by now, step, hand-off. */
static void rig_tick(rig *r)
{
    while (r->next < r->perf->len && g_array_index(r->perf, cn_event, r->next).time <= r->now + EPS)
        session_input(r->s, &g_array_index(r->perf, cn_event, r->next++));
    session_step(r->s, r->now);
    rig_take(r, r->now + HORIZON);
}

static void rig_run(rig *r, double t_end)
{
    while (r->now < t_end - EPS) {
        rig_tick(r);
        r->now += DT;
    }
}

/* Shutdown as the host does it: panic, then take everything. */
static void rig_close(rig *r)
{
    session_panic(r->s, r->now);
    rig_take(r, INFINITY);
}

/* ---- checks on released events ------------------------------------------ */

typedef struct {
    int ons, offs, sounding;
    double first_on, last_on, last_event;
} out_summary;

/* Pairing scan over the model's output: times never go back, a NOTE_ON only
 * on a silent key, a NOTE_OFF only on a sounding one, all on MODEL_CH. */
static out_summary check_output(const GArray *out)
{
    out_summary sm = {.first_on = INFINITY, .last_on = -INFINITY, .last_event = -INFINITY};
    bool on[128] = {false};
    double prev = -INFINITY;
    for (guint i = 0; i < out->len; i++) {
        const cn_event *e = &g_array_index(out, cn_event, i);
        assert_int_equal(e->channel, MODEL_CH);
        assert_true(e->time >= prev - EPS);
        prev = e->time;
        if (e->type == CN_EV_NOTE_ON) {
            assert_false(on[e->a]);
            assert_true(e->b > 0);
            on[e->a] = true;
            sm.ons++;
            sm.first_on = MIN(sm.first_on, e->time);
            sm.last_on = MAX(sm.last_on, e->time);
        } else {
            assert_int_equal(e->type, CN_EV_NOTE_OFF);
            assert_true(on[e->a]);
            on[e->a] = false;
            sm.offs++;
        }
        sm.last_event = e->time;
    }
    for (int p = 0; p < 128; p++) sm.sounding += on[p];
    return sm;
}

/* Model notes sounding at the host after the first `upto` released events. */
static int sounding_after(const GArray *out, guint upto)
{
    bool on[128] = {false};
    for (guint i = 0; i < upto && i < out->len; i++) {
        const cn_event *e = &g_array_index(out, cn_event, i);
        on[e->a] = e->type == CN_EV_NOTE_ON;
    }
    int n = 0;
    for (int p = 0; p < 128; p++) n += on[p];
    return n;
}

static void base_config(session_config *c, session_mode mode)
{
    session_config_defaults(c);
    c->mode = mode;
    c->model_channel = MODEL_CH;
    c->duet_pause = 0.5;
    c->duet_phrase = 3.0;
    c->accompany_hold = 2.0;
    c->limits.max_note_len = 1.0;
    c->seed = 42;
}

/* ---- tests ----------------------------------------------------------------- */

/* Every shipped preset loads; a few values as documented in the files. */
static void test_presets_parse(void **state)
{
    (void)state;
    const char *names[] = {"duet", "accompany", "solo", "daw"};
    const session_mode modes[] = {SESSION_DUET, SESSION_ACCOMPANY, SESSION_SOLO, SESSION_DUET};
    for (int i = 0; i < 4; i++) {
        GError *err = NULL;
        char *path = paths_find_preset(names[i], &err);
        if (!path) fail_msg("%s", err->message);
        session_config c;
        host_config h;
        if (!preset_load(path, &c, &h, &err)) fail_msg("%s", err->message);
        assert_int_equal(c.mode, modes[i]);
        assert_int_equal(c.model_channel, 1); /* "model_channel = 2" counts from 1 */
        assert_true(c.lookahead > 0);
        assert_int_equal(h.audio, i != 3);    /* daw: MIDI out only */
        assert_int_equal(c.cc_startstop, 24);
        g_free(path);
    }
    GError *err = NULL;
    assert_null(paths_find_preset("no-such-preset", &err));
    assert_non_null(strstr(err->message, "no-such-preset"));
    g_clear_error(&err);
}

/* A broken preset: one clear line naming the file and the key; the config
 * is left untouched. */
static void expect_preset_error(const char *text, const char *key_part)
{
    char *path = NULL;
    GError *err = NULL;
    int fd = g_file_open_tmp("continuo-test-preset-XXXXXX.ini", &path, &err);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    session_config c, before;
    session_config_defaults(&c);
    before = c;
    assert_false(session_config_load(&c, path, &err));
    assert_non_null(err);
    if (!strstr(err->message, path) || !strstr(err->message, key_part) || strchr(err->message, '\n'))
        fail_msg("unclear error for %s: %s", key_part, err->message);
    assert_memory_equal(&c, &before, sizeof c);
    g_error_free(err);
    g_unlink(path);
    g_free(path);
}

static void test_preset_errors(void **state)
{
    (void)state;
    expect_preset_error("[session]\nlookahead = abc\n", "lookahead");
    expect_preset_error("[session]\nlookahed = 0.2\n", "lookahed");
    expect_preset_error("[sesion]\nmode = duet\n", "sesion");
    expect_preset_error("[session]\nmode = trio\n", "mode");
    expect_preset_error("[session]\nmodel_channel = 17\n", "model_channel");
    expect_preset_error("[sampling]\ntemperature = nan\n", "temperature");
    expect_preset_error("[sampling]\ndensity = inf\n", "density");
    expect_preset_error("[duet]\npause = -infinity\n", "pause");
    expect_preset_error("[sampling]\ntemperature = 11\n", "temperature");
    expect_preset_error("[session]\nlookahead = -1\n", "lookahead");
    expect_preset_error("[cc]\ntemperature = 5\ndensity = 5\n", "CC");
    expect_preset_error("[session\nmode = duet\n", "");
}

/* Solo: after each step the decided stream reaches lookahead past now. */
static void test_lookahead_refill(void **state)
{
    session_config c;
    base_config(&c, SESSION_SOLO);
    c.lookahead = 0.3;
    c.tokens_per_step = 32; /* room for a whole chord at one tick in every step */
    rig *r = rig_new(model_big(state), &c);
    int checked = 0;
    while (r->now < 6.0) {
        rig_tick(r);
        session_stats st;
        session_get_stats(r->s, &st);
        if (r->now > 0.5) { /* after the first fill */
            if (st.generated_until < r->now + c.lookahead - EPS)
                fail_msg("at %.4f s the stream is decided only to %.4f s", r->now, st.generated_until);
            checked++;
        }
        r->now += DT;
    }
    assert_true(checked > 1000);
    rig_close(r);
    out_summary sm = check_output(r->out);
    assert_true(sm.ons > 5);
    assert_int_equal(sm.sounding, 0);
    session_stats st;
    session_get_stats(r->s, &st);
    assert_int_equal(st.dropped_late, 0);
    rig_free(r);
}

/* Duet: silence while the performer plays, an answer pause s after the last
 * note event, bounded by the phrase, yielding when the performer returns. */
static void test_duet_yield_and_answer(void **state)
{
    session_config c;
    base_config(&c, SESSION_DUET);
    rig *r = rig_new(model_big(state), &c);
    perf_phrase(r, 0.1, 8, 0.2, 0.15); /* last note event: off at 0.1 + 1.4 + 0.15 = 1.65 */
    const double last = 1.65, answer = last + c.duet_pause;
    rig_run(r, answer + 1.5);
    out_summary sm = check_output(r->out);
    assert_true(sm.ons > 0);
    if (sm.first_on < answer - EPS) fail_msg("model played at %.4f before its turn at %.4f", sm.first_on, answer);
    assert_true(sm.first_on < answer + 1.0); /* a random model answers quickly */
    session_stats st;
    session_get_stats(r->s, &st);
    assert_true(fabs(st.last_response_latency - (sm.first_on - last)) < EPS);
    assert_true(session_model_active(r->s, r->now));

    /* The performer comes back: every model note ends there, then silence. */
    double back = r->now + 0.01;
    perf_note(r, back, 0.3, 67);
    guint before = r->out->len;
    rig_run(r, back + 0.3 + c.duet_pause - 0.05);
    for (guint i = before; i < r->out->len; i++) {
        const cn_event *e = &g_array_index(r->out, cn_event, i);
        if (e->type == CN_EV_NOTE_ON) fail_msg("model note-on at %.4f after yielding at %.4f", e->time, back);
        assert_true(e->time <= back + DT + HORIZON + EPS); /* ended at once */
    }
    assert_int_equal(sounding_after(r->out, r->out->len), 0);
    /* ... and answers again after the new pause. */
    rig_run(r, back + 0.3 + c.duet_pause + 2.0);
    sm = check_output(r->out);
    bool again = false;
    for (guint i = before; i < r->out->len; i++) {
        const cn_event *e = &g_array_index(r->out, cn_event, i);
        if (e->type == CN_EV_NOTE_ON) {
            assert_true(e->time >= back + 0.3 + c.duet_pause - EPS);
            again = true;
        }
    }
    assert_true(again);
    rig_close(r);
    sm = check_output(r->out);
    assert_int_equal(sm.sounding, 0);
    rig_free(r);
}

/* Duet: the answer never outlasts the phrase; afterwards the model waits. */
static void test_duet_phrase_bound(void **state)
{
    session_config c;
    base_config(&c, SESSION_DUET);
    c.duet_phrase = 1.2;
    c.limits.max_note_len = 4.0; /* longer than the phrase: the bound must cut */
    c.sampling.temperature = 1.0;
    rig *r = rig_new(model_big(state), &c);
    perf_phrase(r, 0.0, 4, 0.25, 0.2); /* last event 0.95 */
    const double start = 0.95 + c.duet_pause, end = start + c.duet_phrase;
    rig_run(r, end + 6.0);
    out_summary sm = check_output(r->out);
    assert_true(sm.ons > 0);
    assert_true(sm.first_on >= start - EPS);
    /* window bounds are rounded up to the 10 ms token grid */
    if (sm.last_event > end + TICK_TOL) fail_msg("answer ran to %.4f, bound %.4f", sm.last_event, end);
    assert_int_equal(sm.sounding, 0);
    assert_false(session_model_active(r->s, r->now));
    rig_free(r);
}

/* Per-token stream times (seconds), summed from the TIME_SHIFTs by hand. */
static double *token_times(const int *t, int n, double start)
{
    double *tt = g_new(double, n + 1);
    int64_t tick = 0;
    for (int i = 0; i < n; i++) {
        if (tok_is_shift(t[i])) tick += t[i] - TOK_TIME_SHIFT;
        tt[i] = start + (double)tick * TOK_TIME_STEP; /* time after token i */
    }
    return tt;
}

/* The performer plays over a speculated continuation. */
static void test_rollback(void **state)
{
    session_config c;
    base_config(&c, SESSION_DUET);
    c.lookahead = 0.4;
    c.limits.max_note_len = 2.0;
    rig *r = rig_new(model_big(state), &c);
    perf_phrase(r, 0.1, 4, 0.2, 0.15); /* last event at 0.85 */
    const double answer = 0.85 + c.duet_pause;
    /* Run into the answer until a model note sounds and speculation exists. */
    rig_run(r, answer);
    session_stats st;
    for (;;) {
        rig_tick(r);
        r->now += DT;
        session_get_stats(r->s, &st);
        if (sounding_after(r->out, r->out->len) > 0 && st.generated_until > r->now + 0.2) break;
        assert_true(r->now < answer + c.duet_phrase);
    }
    double last_until = r->now - DT + HORIZON; /* what the host was given up to */
    int n_old;
    double start_old;
    const int *t = session_tokens(r->s, &n_old, &start_old);
    int *old = g_memdup2(t, sizeof(int) * (size_t)n_old);
    double *old_t = token_times(old, n_old, start_old);
    int n_sounding = sounding_after(r->out, r->out->len);
    guint released_before = r->out->len;

    /* The performer's note, stamped now (as a host stamps input). */
    cn_event ev = {.time = r->now, .type = CN_EV_NOTE_ON, .channel = 0, .a = 72, .b = 80};
    session_input(r->s, &ev);
    int n_new;
    double start_new;
    const int *now_t = session_tokens(r->s, &n_new, &start_new);
    int *nw = g_memdup2(now_t, sizeof(int) * (size_t)n_new);
    assert_true(fabs(start_new - start_old) < EPS);
    int k = 0;
    while (k < n_old && k < n_new && old[k] == nw[k]) k++;
    assert_true(k < n_old); /* something was cancelled */
    /* Nothing cancelled was ever released (its notes were all due after
     * what the host holds), and the kept prefix ends on a heard token. */
    for (int i = k; i < n_old; i++)
        if (tok_is_note_on(old[i]) || tok_is_note_off(old[i]))
            assert_true(old_t[i] >= last_until - EPS);
    assert_true(old_t[k - 1] < last_until + EPS);
    /* Appended exactly: rests up to the performer's time, one NOTE_OFF per
     * sounding model note, a VELOCITY if the stream's bin differs, the NOTE_ON. */
    int last_bin = -1;
    for (int i = 0; i < k; i++)
        if (tok_is_velocity(old[i])) last_bin = old[i] - TOK_VELOCITY;
    int64_t gap = llround((ev.time - old_t[k - 1]) / TOK_TIME_STEP);
    int n_rest = gap > 0 ? (int)((gap + TOK_MAX_SHIFT - 1) / TOK_MAX_SHIFT) : 0;
    int expected = k + n_rest + n_sounding + (last_bin != tok_velocity_bin(80)) + 1;
    assert_int_equal(n_new, expected);
    int offs = 0;
    for (int i = k; i < n_new; i++) offs += tok_is_note_off(nw[i]);
    assert_int_equal(offs, n_sounding);
    assert_int_equal(nw[n_new - 1], TOK_NOTE_ON + 72);
    rig_tick(r); /* forwards the performer's tokens */
    session_get_stats(r->s, &st);
    int n_after;
    double s_after;
    session_tokens(r->s, &n_after, &s_after);
    assert_int_equal(st.cache_len, n_after); /* cache mirrors the stream */
    assert_int_equal(n_after, n_new);        /* the model waits (its turn is > lookahead away) */
    assert_true(st.rollbacks >= 1);

    /* No model event after the performer's note until the model's turn
     * again, except the NOTE_OFFs ending its notes, at once. */
    r->now += DT;
    perf_event(r, ev.time + 0.3, CN_EV_NOTE_OFF, 72, 0); /* after every delivered event */
    double turn = ev.time + 0.3 + c.duet_pause;
    rig_run(r, turn - 0.01);
    int late_offs = 0;
    for (guint i = released_before; i < r->out->len; i++) {
        const cn_event *e = &g_array_index(r->out, cn_event, i);
        assert_int_equal(e->type, CN_EV_NOTE_OFF);
        assert_true(e->time <= last_until + EPS);
        late_offs++;
    }
    assert_int_equal(late_offs, n_sounding);
    rig_run(r, turn + 2.0);
    rig_close(r);
    out_summary sm = check_output(r->out);
    assert_int_equal(sm.sounding, 0);
    assert_true(sm.last_on >= turn - EPS); /* it answered again */
    g_free(old);
    g_free(old_t);
    g_free(nw);
    rig_free(r);
}

/* Accompany: plays while the performer plays, stops hold s after them. */
static void test_accompany(void **state)
{
    session_config c;
    base_config(&c, SESSION_ACCOMPANY);
    rig *r = rig_new(model_big(state), &c);
    rig_run(r, 1.0);
    assert_int_equal(r->out->len, 0); /* nothing before the performer */
    perf_phrase(r, 1.0, 20, 0.25, 0.2); /* 1.0 .. 5.95 */
    const double last = 1.0 + 19 * 0.25 + 0.2;
    rig_run(r, last + c.accompany_hold + 2.0);
    out_summary sm = check_output(r->out);
    assert_true(sm.ons > 3);
    assert_true(sm.first_on < last);      /* played along */
    assert_true(sm.last_event <= last + c.accompany_hold + TICK_TOL);
    assert_int_equal(sm.sounding, 0);
    session_stats st;
    session_get_stats(r->s, &st);
    assert_true(st.rollbacks > 10);       /* the performer kept cancelling speculation */
    assert_int_equal(st.notes_in, 20);
    assert_int_equal(st.dropped_late, 0);
    rig_free(r);
}

/* Panic (call, CC 120/123), mode switch and stop end every model note at once. */
static void test_panic(void **state)
{
    session_config c;
    base_config(&c, SESSION_SOLO);
    c.cc_startstop = 24;
    c.limits.max_note_len = 3.0;
    rig *r = rig_new(model_big(state), &c);
    /* Four ways to end everything, each when notes are sounding. */
    for (int way = 0; way < 4; way++) {
        double until = r->now + 10.0;
        while (sounding_after(r->out, r->out->len) == 0 && r->now < until) {
            rig_tick(r);
            r->now += DT;
        }
        assert_true(sounding_after(r->out, r->out->len) > 0);
        double t = r->now;
        guint before = r->out->len;
        if (way == 0) session_panic(r->s, t);
        else if (way == 1) {
            cn_event cc = {.time = t, .type = CN_EV_CC, .a = way == 1 ? 123 : 120, .b = 0};
            session_input(r->s, &cc);
        } else if (way == 2) session_set_mode(r->s, SESSION_ACCOMPANY, t);
        else {
            cn_event cc = {.time = t, .type = CN_EV_CC, .a = 24, .b = 0}; /* stop */
            session_input(r->s, &cc);
        }
        rig_take(r, t + HORIZON);
        assert_int_equal(sounding_after(r->out, r->out->len), 0);
        for (guint i = before; i < r->out->len; i++) {
            const cn_event *e = &g_array_index(r->out, cn_event, i);
            assert_int_equal(e->type, CN_EV_NOTE_OFF);
            assert_true(e->time <= t + HORIZON + EPS);
        }
        if (way == 2) session_set_mode(r->s, SESSION_SOLO, r->now); /* solo again */
        r->now += DT;
    }
    /* Stopped: silent however long. */
    guint before = r->out->len;
    rig_run(r, r->now + 5.0);
    assert_int_equal(r->out->len, before);
    assert_false(session_model_active(r->s, r->now));
    cn_event start = {.time = r->now, .type = CN_EV_CC, .a = 24, .b = 127};
    session_input(r->s, &start);
    rig_run(r, r->now + 5.0);
    assert_true(r->out->len > before);
    rig_close(r);
    out_summary sm = check_output(r->out);
    assert_int_equal(sm.sounding, 0);
    rig_free(r);
}

/* Shutdown: session_panic, then everything left (session_take_due up to
 * infinity, as the hosts do when they stop) must be note-offs for the notes
 * sounding at the host, at once: nothing new may start, nothing may be held
 * back for later. Solo with quantize on a grid (a tempo from position
 * reports and from MIDI clock that has just stopped), stopped at many
 * moments. */
static void test_stop_ends_at_once(void **state)
{
    for (int clock = 0; clock < 2; clock++) {
        session_config c;
        base_config(&c, SESSION_SOLO);
        c.lookahead = 0.5;
        rig *r = rig_new(model_big(state), &c);
        session_set_quantize(r->s, 0.25, 1.0);
        tempo_clock *tc = session_tempo(r->s);
        double clock_end = 6.0;
        double next_tick = 0;
        for (int stop = 0; stop < 8; stop++) {
            double until = r->now + 0.9;
            while (r->now < until) {
                if (clock == 0) {
                    tempo_position pos = {.time = r->now, .bpm = 120, .beats_per_bar = 4,
                                          .bar = (int64_t)floor(r->now * 2 / 4),
                                          .bar_beat = fmod(r->now * 2, 4), .rolling = true};
                    tempo_report_position(tc, &pos);
                } else {
                    while (next_tick <= r->now && next_tick < clock_end) {
                        tempo_midi_byte(tc, next_tick == 0 ? 0xFA : 0xF8, next_tick);
                        next_tick += 60.0 / (100 * 24);
                        if (next_tick >= clock_end) tempo_midi_byte(tc, 0xFC, next_tick);
                    }
                }
                rig_tick(r);
                r->now += DT;
            }
            double t = r->now;
            guint before = r->out->len;
            session_panic(r->s, t);
            rig_take(r, INFINITY);
            for (guint i = before; i < r->out->len; i++) {
                const cn_event *e = &g_array_index(r->out, cn_event, i);
                if (e->type != CN_EV_NOTE_OFF || e->time > t + HORIZON + EPS)
                    fail_msg("%s, stop %d at %.3f s: after the panic, a %s at %.3f s",
                             clock ? "MIDI clock" : "positions", stop, t,
                             e->type == CN_EV_NOTE_OFF ? "note-off" : "note-on", e->time);
            }
            assert_int_equal(sounding_after(r->out, r->out->len), 0);
            r->now += DT;
        }
        rig_free(r);
    }
}

/* Solo for 10 simulated minutes on a 96-token context: the cache slides,
 * notes keep coming, nothing hangs, nothing is late. */
static void test_solo_endless(void **state)
{
    session_config c;
    base_config(&c, SESSION_SOLO);
    rig *r = rig_new(model_small(state), &c);
    const double minutes = 10;
    int windows_with_notes = 0;
    guint seen = 0;
    for (int w = 0; w < (int)minutes; w++) { /* one-minute windows */
        while (r->now < (w + 1) * 60.0) { /* a coarser period keeps it fast */
            session_step(r->s, r->now);
            rig_take(r, r->now + 0.02);
            r->now += 0.01;
        }
        bool any = false;
        for (; seen < r->out->len; seen++)
            any |= g_array_index(r->out, cn_event, seen).type == CN_EV_NOTE_ON;
        windows_with_notes += any;
        session_stats st;
        session_get_stats(r->s, &st);
        assert_true(st.cache_len <= 96);
    }
    rig_close(r);
    out_summary sm = check_output(r->out);
    assert_int_equal(sm.sounding, 0);
    assert_int_equal(windows_with_notes, (int)minutes);
    session_stats st;
    session_get_stats(r->s, &st);
    assert_true(st.slides > 100);
    assert_int_equal(st.dropped_late, 0);
    assert_int_equal(st.nan_resets, 0);
    print_message("solo: %d notes in %.0f min, %ld slides, %ld tokens\n", sm.ons, minutes, st.slides,
                  st.tokens_generated);
    rig_free(r);
}

/* The same seed, input and clock give the same output; another seed differs. */
static GArray *scripted_run(const model *m, uint64_t seed)
{
    session_config c;
    base_config(&c, SESSION_DUET);
    c.seed = seed;
    rig *r = rig_new(m, &c);
    perf_phrase(r, 0.2, 6, 0.2, 0.15);
    perf_phrase(r, 4.0, 6, 0.15, 0.1);
    rig_run(r, 9.0);
    rig_close(r);
    GArray *out = r->out;
    r->out = cn_events_new();
    rig_free(r);
    return out;
}

static void test_determinism(void **state)
{
    GArray *a = scripted_run(model_big(state), 11);
    GArray *b = scripted_run(model_big(state), 11);
    GArray *d = scripted_run(model_big(state), 12);
    assert_true(a->len > 0);
    assert_int_equal(a->len, b->len);
    assert_memory_equal(a->data, b->data, a->len * sizeof(cn_event));
    assert_true(a->len != d->len || memcmp(a->data, d->data, a->len * sizeof(cn_event)));
    g_array_free(a, TRUE);
    g_array_free(b, TRUE);
    g_array_free(d, TRUE);
}

/* Generation starved (one token per step, few steps): shorter horizon and
 * fewer notes, but never a late event. Then a stalled host (no calls for a
 * second): what was due meanwhile is dropped, not burst out late. */
/* Solo for `secs` with one step every `period` s of at most `per_step` tokens. */
static out_summary starved_run(const model *m, int per_step, double period, double secs,
                               session_stats *st)
{
    session_config c;
    base_config(&c, SESSION_SOLO);
    c.tokens_per_step = per_step;
    c.lookahead = 0.3;
    c.density = 4.0f; /* a busy player: many tokens per second of music */
    rig *r = rig_new(m, &c);
    while (r->now < secs) {
        session_step(r->s, r->now);
        rig_take(r, r->now + period + 0.01); /* rig_take fails on anything late */
        r->now += period;
    }
    rig_close(r);
    session_get_stats(r->s, st);
    out_summary sm = check_output(r->out);
    rig_free(r);
    return sm;
}

static void test_degrade_and_stall(void **state)
{
    session_stats st, full;
    out_summary fed = starved_run(model_big(state), 64, 0.05, 30.0, &full);
    out_summary sm = starved_run(model_big(state), 1, 0.05, 30.0, &st);
    print_message("degrade: %d notes with 64 tokens/step (%ld degraded steps), %d with 1 "
                  "(%ld degraded steps, %ld catch-ups)\n",
                  fed.ons, full.degraded_steps, sm.ons, st.degraded_steps, st.catchups);
    assert_int_equal(full.degraded_steps, 0);
    assert_true(st.degraded_steps > 0);
    assert_true(sm.ons > 0 && sm.ons < fed.ons); /* fewer notes, none late (rig_take) */
    assert_int_equal(sm.sounding, 0);
    assert_int_equal(st.dropped_late, 0);
    /* Stall: the stream is decided 2 s ahead (dense: density 4); the host
     * sleeps 2 s. */
    session_config c2;
    base_config(&c2, SESSION_SOLO);
    c2.lookahead = 2.0;
    c2.density = 4.0f;
    c2.tokens_per_step = 512;
    rig *q = rig_new(model_big(state), &c2);
    rig_run(q, 3.0);
    session_get_stats(q->s, &st);
    assert_true(st.generated_until >= q->now + 1.9);
    guint before = q->out->len;
    q->now += 2.0;
    rig_take(q, q->now + HORIZON); /* rig_take fails on any event before now */
    for (guint i = before; i < q->out->len; i++)
        assert_true(g_array_index(q->out, cn_event, i).type == CN_EV_NOTE_OFF ||
                    g_array_index(q->out, cn_event, i).time >= q->now - EPS);
    session_get_stats(q->s, &st);
    assert_true(st.dropped_late > 0);
    print_message("stall: %ld note-ons dropped, %u events released at the wake-up\n",
                  st.dropped_late, q->out->len - before);
    rig_run(q, q->now + 3.0);
    rig_close(q);
    sm = check_output(q->out);
    assert_int_equal(sm.sounding, 0);
    rig_free(q);
}

/* Non-finite logits: reset and re-prime, then play on; a model that is
 * non-finite for good goes silent instead of crashing. */
static void test_nan_recovery(void **state)
{
    session_config c;
    base_config(&c, SESSION_SOLO);
    rig *r = rig_new(model_big(state), &c);
    rig_run(r, 2.0);
    session_debug_poison(r->s);
    guint before = r->out->len;
    rig_run(r, 6.0);
    session_stats st;
    session_get_stats(r->s, &st);
    assert_int_equal(st.nan_resets, 1);
    assert_false(st.broken);
    assert_true(r->out->len > before);
    int n;
    const int *t = session_tokens(r->s, &n, NULL);
    assert_int_equal(st.cache_len, n);
    (void)t;
    rig_close(r);
    assert_int_equal(check_output(r->out).sounding, 0);
    rig_free(r);

    test_model *bad = model_make(64, 3, true);
    rig *q = rig_new(bad->m, &c);
    rig_run(q, 2.0);
    session_get_stats(q->s, &st);
    assert_true(st.broken);
    assert_int_equal(q->out->len, 0);
    rig_close(q);
    rig_free(q);
    test_model_free(bad);
}

/* The recording: performer and model on their channels, written as a .mid
 * that another reader (midifile_load) finds complete, even mid-note. */
static void test_recording(void **state)
{
    session_config c;
    base_config(&c, SESSION_DUET);
    rig *r = rig_new(model_big(state), &c);
    perf_phrase(r, 0.1, 5, 0.2, 0.15);
    perf_event(r, 0.1, CN_EV_CC, CN_CC_SUSTAIN, 127); /* pedal never lifted */
    perf_event(r, 3.9, CN_EV_NOTE_ON, 40, 90);        /* never released */
    rig_run(r, 4.0);
    const GArray *rec = session_recording(r->s);
    int perf_on = 0, model_on = 0;
    for (guint i = 0; i < rec->len; i++) {
        const cn_event *e = &g_array_index(rec, cn_event, i);
        if (e->type != CN_EV_NOTE_ON) continue;
        if (e->channel == 0) perf_on++;
        else if (e->channel == MODEL_CH) model_on++;
        else fail();
    }
    assert_int_equal(perf_on, 6);
    assert_true(model_on > 0);
    char *path = NULL;
    GError *err = NULL;
    int fd = g_file_open_tmp("continuo-test-rec-XXXXXX.mid", &path, &err);
    assert_true(fd >= 0);
    close(fd);
    if (!session_save_recording(r->s, path, r->now, &err)) fail_msg("%s", err->message);
    GArray *back = midifile_load(path, &err);
    if (!back) fail_msg("%s", err->message);
    int down[16][128] = {{0}};
    int ons[16] = {0};
    for (guint i = 0; i < back->len; i++) {
        const cn_event *e = &g_array_index(back, cn_event, i);
        if (e->type == CN_EV_NOTE_ON) {
            down[e->channel][e->a]++;
            ons[e->channel]++;
        } else if (e->type == CN_EV_NOTE_OFF) {
            assert_true(down[e->channel][e->a] > 0);
            down[e->channel][e->a]--;
        }
        assert_true(e->time <= r->now + 0.001); /* within one tick of the file's division */
    }
    for (int ch = 0; ch < 16; ch++)
        for (int p = 0; p < 128; p++) assert_int_equal(down[ch][p], 0);
    assert_int_equal(ons[0], perf_on);
    assert_int_equal(ons[MODEL_CH], model_on);
    g_array_free(back, TRUE);
    g_unlink(path);
    g_free(path);
    rig_free(r);
}

/* CC controls: temperature and density are consumed (not recorded as notes
 * or encoded), mode switches by CC. */
static void test_cc_controls(void **state)
{
    session_config c;
    base_config(&c, SESSION_DUET);
    c.cc_mode = 23;
    c.cc_density = 22;
    rig *r = rig_new(model_big(state), &c);
    rig_run(r, 1.0);
    assert_int_equal(r->out->len, 0); /* duet, nobody played */
    cn_event cc = {.time = r->now, .type = CN_EV_CC, .a = 23, .b = 127}; /* -> solo */
    session_input(r->s, &cc);
    cn_event dens = {.time = r->now, .type = CN_EV_CC, .a = 22, .b = 127}; /* 4x notes */
    session_input(r->s, &dens);
    rig_run(r, 4.0);
    out_summary sm = check_output(r->out);
    assert_true(sm.ons > 0);
    int n;
    const int *t = session_tokens(r->s, &n, NULL);
    session_stats st;
    session_get_stats(r->s, &st);
    assert_int_equal(st.tokens_in, 0); /* control CCs never enter the stream */
    (void)t;
    rig_close(r);
    rig_free(r);
}


/* Random performer input, pedal, controls, panics and mode switches in every
 * mode: the invariants hold at every period (the cache mirrors the stream,
 * nothing late, output paired and in order, model notes no longer than
 * max_note_len plus the hand-off horizon). */
static void test_fuzz(void **state)
{
    for (guint32 seed = 1; seed <= 6; seed++) {
        session_config c;
        base_config(&c, (session_mode)(seed % 3));
        c.cc_mode = 23;
        c.cc_startstop = 24;
        c.cc_temperature = 21;
        c.seed = seed;
        c.lookahead = seed % 2 ? 0.2 : 0.5;
        c.tokens_per_step = seed % 3 ? 16 : 2;
        rig *r = rig_new(seed % 2 ? model_small(state) : model_big(state), &c);
        GRand *g = g_rand_new_with_seed(seed);
        double t = 0.5;
        while (t < 55.0) { /* bursts of playing and silences, some long */
            double u = g_rand_double(g);
            if (u < 0.75) {
                perf_note(r, t, g_rand_double_range(g, 0.02, 1.5), g_rand_int_range(g, 30, 100));
                t += g_rand_double_range(g, 0.0, 0.4);
            } else if (u < 0.80) {
                perf_event(r, t, CN_EV_CC, CN_CC_SUSTAIN, g_rand_boolean(g) ? 127 : 0);
            } else if (u < 0.83) {
                perf_event(r, t, CN_EV_CC, 23, g_rand_int_range(g, 0, 128));
            } else if (u < 0.85) {
                perf_event(r, t, CN_EV_CC, g_rand_boolean(g) ? 120 : 123, 0);
            } else if (u < 0.87) {
                perf_event(r, t, CN_EV_CC, 24, g_rand_boolean(g) ? 127 : 0);
            } else if (u < 0.89) {
                perf_event(r, t, CN_EV_CC, 21, g_rand_int_range(g, 0, 128));
            } else {
                t += g_rand_double_range(g, 0.5, seed == 3 ? 20.0 : 4.0);
            }
        }
        session_stats st;
        while (r->now < 60.0) {
            rig_tick(r);
            int n;
            session_tokens(r->s, &n, NULL);
            session_get_stats(r->s, &st);
            assert_int_equal(st.cache_len, n);
            r->now += DT;
        }
        rig_close(r);
        out_summary sm = check_output(r->out);
        assert_int_equal(sm.sounding, 0);
        double on_at[128];
        for (guint i = 0; i < r->out->len; i++) {
            const cn_event *e = &g_array_index(r->out, cn_event, i);
            if (e->type == CN_EV_NOTE_ON) on_at[e->a] = e->time;
            else if (e->time - on_at[e->a] > c.limits.max_note_len + HORIZON + TICK_TOL)
                fail_msg("seed %u: note %d held %.3f s", seed, e->a, e->time - on_at[e->a]);
        }
        session_get_stats(r->s, &st);
        print_message("fuzz %u (%s): %ld notes in, %d out, %ld rollbacks, %ld slides, %ld late\n",
                      seed, session_mode_name(c.mode), st.notes_in, sm.ons, st.rollbacks,
                      st.slides, st.dropped_late);
        assert_int_equal(st.dropped_late, 0);
        g_rand_free(g);
        rig_free(r);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_presets_parse),
        cmocka_unit_test(test_preset_errors),
        cmocka_unit_test(test_lookahead_refill),
        cmocka_unit_test(test_duet_yield_and_answer),
        cmocka_unit_test(test_duet_phrase_bound),
        cmocka_unit_test(test_rollback),
        cmocka_unit_test(test_accompany),
        cmocka_unit_test(test_panic),
        cmocka_unit_test(test_stop_ends_at_once),
        cmocka_unit_test(test_solo_endless),
        cmocka_unit_test(test_determinism),
        cmocka_unit_test(test_degrade_and_stall),
        cmocka_unit_test(test_nan_recovery),
        cmocka_unit_test(test_recording),
        cmocka_unit_test(test_cc_controls),
        cmocka_unit_test(test_fuzz),
    };
    return cmocka_run_group_tests(tests, setup_models, teardown_models);
}
