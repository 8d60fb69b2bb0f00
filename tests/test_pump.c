/* test_pump.c — everything of `continuo jam --alsa` above the libasound
 * calls, without a device: the pump (plugin/pump.c) driven by a fake
 * schedule-ahead host on a virtual clock, and the ALSA client's pure
 * conversions (plugin/alsa/alsa_client.c).
 *
 * The fake host plays the sequencer's part: its clock advances only in
 * wait (to the next scripted input, or by the timeout), it records every
 * event sent with the clock at the time of sending, and can fail or raise
 * a signal at a set time. Checks are made on what it received: times never
 * go back and are never in the past when sent, every model note-on has its
 * note-off after shutdown, the files written load and pair up. Tolerances:
 * 1 ns for the time conversions, one 10 ms token tick for stream times. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <pthread.h>
#include <alsa/asoundlib.h>
#include <glib/gstdio.h>
#include "alsa_client.h"
#include "error.h"
#include "midifile.h"
#include "test_models.h"
#include "pump.h"
#include "reload.h"
#include "paths.h"
#include "session.h"

#define MODEL_CH 1

/* ---- a small model ----------------------------------------------------------- */

static char *model_path;
static model *the_model;

static char *write_model(bool nan)
{
    model_config c;
    test_model_small_config(&c, 256);
    float *p = model_random_params(&c, 9, 0.02f);
    if (nan) {
        model_weights w;
        model_weights_map(&w, &c, p);
        for (int i = 0; i < c.dim; i++) w.rms_final[i] = NAN;
    }
    char *path = test_model_write(&c, p, "continuo-test-pump");
    g_free(p);
    return path;
}

static int setup(void **state)
{
    (void)state;
    model_path = write_model(false);
    GError *err = NULL;
    the_model = model_load(model_path, &err);
    /* the pump takes signals synchronously: block them as cmd_jam_alsa does */
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, SIGHUP);
    sigaddset(&s, SIGTERM);
    sigaddset(&s, SIGINT);
    pthread_sigmask(SIG_BLOCK, &s, NULL);
    return the_model ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    model_free(the_model);
    g_unlink(model_path);
    g_free(model_path);
    return 0;
}

/* ---- the fake host ---------------------------------------------------------- */

typedef struct {
    double t;
    GArray *script;  /* performer events to deliver (time order) */
    guint next;
    GArray *sent;    /* every event sent */
    GArray *sent_at; /* double: the clock when each was sent */
    double fail_at;  /* wait fails from then on (INFINITY: never) */
    double signal_at[4];
    int signal_sig[4];
    int n_signals;
} fake;

static fake *fake_new(void)
{
    fake *f = g_new0(fake, 1);
    f->script = cn_events_new();
    f->sent = cn_events_new();
    f->sent_at = g_array_new(FALSE, FALSE, sizeof(double));
    f->fail_at = INFINITY;
    return f;
}

static void fake_free(fake *f)
{
    g_array_free(f->script, TRUE);
    g_array_free(f->sent, TRUE);
    g_array_free(f->sent_at, TRUE);
    g_free(f);
}

static void fake_note(fake *f, double t, double dur, int pitch)
{
    cn_event on = {t, CN_EV_NOTE_ON, 0, (uint8_t)pitch, 90};
    cn_event off = {t + dur, CN_EV_NOTE_OFF, 0, (uint8_t)pitch, 0};
    g_array_append_val(f->script, on);
    g_array_append_val(f->script, off);
    cn_events_sort(f->script);
}

static void fake_signal(fake *f, double t, int sig)
{
    f->signal_at[f->n_signals] = t;
    f->signal_sig[f->n_signals++] = sig;
}

static double f_now(void *ctx) { return ((fake *)ctx)->t; }

static int f_wait(void *ctx, double timeout, cn_event *in, int cap, GError **err)
{
    fake *f = ctx;
    if (f->t >= f->fail_at) {
        g_set_error(err, CN_ERROR, CN_ERR_IO, "fake: the device went away");
        return -1;
    }
    double until = f->t + timeout;
    if (f->next < f->script->len) {
        double te = g_array_index(f->script, cn_event, f->next).time;
        if (te < until) until = MAX(te, f->t);
    }
    for (int i = 0; i < f->n_signals; i++)
        if (f->signal_at[i] > f->t && f->signal_at[i] <= until) {
            until = f->signal_at[i];
            raise(f->signal_sig[i]); /* blocked: pending until the pump takes it */
        }
    f->t = until;
    int n = 0;
    while (n < cap && f->next < f->script->len &&
           g_array_index(f->script, cn_event, f->next).time <= f->t)
        in[n++] = g_array_index(f->script, cn_event, f->next++);
    return n;
}

static gboolean f_send(void *ctx, const cn_event *ev, GError **err)
{
    fake *f = ctx;
    g_array_append_val(f->sent, *ev);
    g_array_append_val(f->sent_at, f->t);
    return TRUE;
}

static void f_finish(void *ctx, double limit)
{
    fake *f = ctx;
    if (f->sent->len) {
        double last = g_array_index(f->sent, cn_event, f->sent->len - 1).time;
        if (last > f->t) f->t = MIN(last, f->t + limit);
    }
}

static pump_host fake_host(fake *f)
{
    pump_host h = {.ctx = f, .now = f_now, .wait = f_wait, .send = f_send, .finish = f_finish};
    return h;
}

/* ---- checks ------------------------------------------------------------------ */

typedef struct {
    int model_ons;
    double first_on, last_on;
} sent_summary;

/* Times never go back, none sent in the past, every model note-on has its
 * note-off, nothing left sounding. */
static sent_summary check_sent(const fake *f)
{
    sent_summary s = {0, INFINITY, -INFINITY};
    bool on[128] = {false};
    double prev = -INFINITY;
    for (guint i = 0; i < f->sent->len; i++) {
        const cn_event *e = &g_array_index(f->sent, cn_event, i);
        double at = g_array_index(f->sent_at, double, i);
        if (e->time < prev - 1e-9) fail_msg("event %u at %.4f after one at %.4f", i, e->time, prev);
        if (e->time < at - 1e-9) fail_msg("event %u at %.4f sent late, at %.4f", i, e->time, at);
        prev = e->time;
        assert_int_equal(e->channel, MODEL_CH);
        if (e->type == CN_EV_NOTE_ON) {
            assert_false(on[e->a]);
            on[e->a] = true;
            s.model_ons++;
            s.first_on = MIN(s.first_on, e->time);
            s.last_on = MAX(s.last_on, e->time);
        } else if (e->type == CN_EV_NOTE_OFF) {
            assert_true(on[e->a]);
            on[e->a] = false;
        }
    }
    for (int p = 0; p < 128; p++)
        if (on[p]) fail_msg("pitch %d left sounding", p);
    return s;
}

static void check_midi_file(const char *path)
{
    GError *err = NULL;
    GArray *ev = midifile_load(path, &err);
    if (!ev) fail_msg("%s", err->message);
    int down[16][128] = {{0}};
    for (guint i = 0; i < ev->len; i++) {
        const cn_event *e = &g_array_index(ev, cn_event, i);
        if (e->type == CN_EV_NOTE_ON && e->b) down[e->channel][e->a]++;
        else if (e->type == CN_EV_NOTE_OFF || e->type == CN_EV_NOTE_ON) {
            assert_true(down[e->channel][e->a] > 0);
            down[e->channel][e->a]--;
        }
    }
    for (int c = 0; c < 16; c++)
        for (int p = 0; p < 128; p++) assert_int_equal(down[c][p], 0);
    g_array_free(ev, TRUE);
}

static session *make_session(session_mode mode, double lookahead)
{
    session_config c;
    session_config_defaults(&c);
    c.mode = mode;
    c.model_channel = MODEL_CH;
    c.lookahead = lookahead;
    c.duet_pause = 0.4;
    c.duet_phrase = 3.0;
    c.seed = 3;
    GError *err = NULL;
    session *s = session_new(&c, the_model, &err);
    if (!s) fail_msg("%s", err->message);
    return s;
}

static void base_config(pump_config *pc)
{
    pump_config_defaults(pc);
    pc->health.channel = MODEL_CH;
}

/* ---- tests ------------------------------------------------------------------- */

static void test_solo_duration(void **state)
{
    (void)state;
    fake *f = fake_new();
    session *s = make_session(SESSION_SOLO, 0.5);
    pump_config pc;
    base_config(&pc);
    pc.duration = 60;
    char *rec = NULL;
    int fd = g_file_open_tmp("continuo-test-pump-XXXXXX.mid", &rec, NULL);
    close(fd);
    pc.record = rec;
    pump_host h = fake_host(f);
    pump *p = pump_new(&pc, s, &h, NULL);
    assert_int_equal(pump_run(p), 0);
    pump_stats st;
    pump_get_stats(p, &st);
    sent_summary sm = check_sent(f);
    assert_true(sm.model_ons > 60); /* a random model plays a few notes a second */
    assert_int_equal(st.late, 0);
    assert_true(f->t >= 60);
    /* passes come at most `pass` apart */
    assert_true(st.passes >= (long)(60 / pc.pass) - 1);
    check_midi_file(rec);
    GArray *ev = midifile_load(rec, NULL);
    long ons = 0;
    for (guint i = 0; i < ev->len; i++) ons += g_array_index(ev, cn_event, i).type == CN_EV_NOTE_ON;
    assert_int_equal(ons, sm.model_ons); /* the recording holds what was played */
    g_array_free(ev, TRUE);
    g_unlink(rec);
    g_free(rec);
    pump_free(p);
    session_free(s);
    fake_free(f);
}

static void test_duet_yields(void **state)
{
    (void)state;
    fake *f = fake_new();
    for (int i = 0; i < 6; i++) fake_note(f, 1.0 + 0.2 * i, 0.15, 60 + i);
    for (int i = 0; i < 4; i++) fake_note(f, 4.0 + 0.2 * i, 0.15, 67 + i); /* resumes at 4.0 */
    session *s = make_session(SESSION_DUET, 0.2);
    pump_config pc;
    base_config(&pc);
    pc.duration = 8;
    pump_host h = fake_host(f);
    pump *p = pump_new(&pc, s, &h, NULL);
    assert_int_equal(pump_run(p), 0);
    check_sent(f);
    /* the answer starts after the pause and stops when the performer resumes:
     * nothing the model starts between 4.0 + margin + horizon and the next pause */
    int answer = 0;
    for (guint i = 0; i < f->sent->len; i++) {
        const cn_event *e = &g_array_index(f->sent, cn_event, i);
        if (e->type != CN_EV_NOTE_ON) continue;
        assert_true(e->time >= 2.0 + 0.4 - 0.011); /* last note-off 2.15 + pause (one tick) */
        if (e->time < 4.0) answer++;
        assert_false(e->time > 4.0 + pc.margin + pc.horizon + 0.011 && e->time < 4.75 + 0.4 - 0.011);
    }
    assert_true(answer > 0);
    pump_stats st;
    pump_get_stats(p, &st);
    assert_int_equal(st.events_in, 20);
    session_stats ss;
    session_get_stats(s, &ss);
    assert_int_equal(ss.notes_in, 10);
    assert_true(ss.rollbacks >= 1);
    pump_free(p);
    session_free(s);
    fake_free(f);
}

static gboolean reload_hot(void *arg, session_config *c, GError **err)
{
    int *calls = arg;
    (*calls)++;
    session_config_defaults(c);
    c->mode = SESSION_SOLO;
    c->model_channel = 5; /* kept at MODEL_CH by session_apply_config */
    c->sampling.temperature = 1.37f;
    c->density = 0.5f;
    return TRUE;
}

static void test_sighup_sigterm(void **state)
{
    (void)state;
    fake *f = fake_new();
    session *s = make_session(SESSION_SOLO, 0.5);
    pump_config pc;
    base_config(&pc);
    pc.use_health = false; /* its responses would move the controls we check */
    pc.signals = true;
    int calls = 0;
    pc.reload = reload_hot;
    pc.reload_arg = &calls;
    fake_signal(f, 5.0, SIGHUP);
    fake_signal(f, 12.0, SIGTERM);
    pump_host h = fake_host(f);
    pump *p = pump_new(&pc, s, &h, NULL);
    assert_int_equal(pump_run(p), 0); /* SIGTERM: a clean stop */
    assert_int_equal(calls, 1);
    pump_stats st;
    pump_get_stats(p, &st);
    assert_int_equal(st.reloads, 1);
    float t, d;
    session_get_controls(s, &t, &d);
    assert_true(fabsf(t - 1.37f) < 1e-6f && fabsf(d - 0.5f) < 1e-6f);
    assert_true(f->t >= 12.0 && f->t < 12.0 + 1.0);
    /* no gap at the reload: notes on both sides, and everything ended */
    sent_summary sm = check_sent(f);
    assert_true(sm.first_on < 5.0 && sm.last_on > 6.0);
    pump_free(p);
    session_free(s);
    fake_free(f);
}

static void test_rotation_through_pump(void **state)
{
    (void)state;
    fake *f = fake_new();
    session *s = make_session(SESSION_SOLO, 0.5);
    GError *err = NULL;
    char *dir = g_dir_make_tmp("continuo-test-pump-XXXXXX", &err);
    rotate_config rc;
    rotate_config_defaults(&rc);
    rc.dir = dir;
    rc.file_seconds = 10;
    rc.checkpoint_seconds = 2;
    pump_config pc;
    base_config(&pc);
    pc.rotate = &rc;
    pc.duration = 35;
    pump_host h = fake_host(f);
    pump *p = pump_new(&pc, s, &h, &err);
    assert_non_null(p);
    assert_int_equal(pump_run(p), 0);
    const char *names[] = {"continuo-000000.mid", "continuo-000001.mid", "continuo-000002.mid",
                           "continuo-000003.mid"};
    for (int i = 0; i < 4; i++) {
        char *path = g_build_filename(dir, names[i], NULL);
        assert_true(g_file_test(path, G_FILE_TEST_EXISTS));
        check_midi_file(path);
        g_unlink(path);
        g_free(path);
    }
    /* the session's recording was drained: memory stays flat */
    assert_true(session_recording(s)->len < 2000);
    assert_int_equal(g_rmdir(dir), 0); /* nothing else (no .tmp) was left */
    g_free(dir);
    pump_free(p);
    session_free(s);
    fake_free(f);
}

static void test_host_failure(void **state)
{
    (void)state;
    fake *f = fake_new();
    f->fail_at = 3.0;
    session *s = make_session(SESSION_SOLO, 0.5);
    pump_config pc;
    base_config(&pc);
    pump_host h = fake_host(f);
    pump *p = pump_new(&pc, s, &h, NULL);
    assert_int_equal(pump_run(p), 1);
    check_sent(f); /* the notes were still ended */
    pump_free(p);
    session_free(s);
    fake_free(f);
}

static void test_broken_model_stops(void **state)
{
    (void)state;
    char *path = write_model(true);
    GError *err = NULL;
    model *m = model_load(path, &err);
    assert_non_null(m);
    session_config c;
    session_config_defaults(&c);
    c.mode = SESSION_SOLO;
    c.model_channel = MODEL_CH;
    session *s = session_new(&c, m, &err);
    fake *f = fake_new();
    pump_config pc;
    base_config(&pc);
    pc.duration = 30;
    pump_host h = fake_host(f);
    pump *p = pump_new(&pc, s, &h, NULL);
    assert_int_equal(pump_run(p), 1); /* for the service manager to restart it */
    assert_true(f->t < 1.0);          /* at once, not after the duration */
    pump_free(p);
    session_free(s);
    fake_free(f);
    model_free(m);
    g_unlink(path);
    g_free(path);
}

static void test_alsa_conversions(void **state)
{
    (void)state;
    cn_event e;
    assert_true(alsa_event_to_cn(SND_SEQ_EVENT_NOTEON, 3, 60, 100, &e));
    assert_int_equal(e.type, CN_EV_NOTE_ON);
    assert_int_equal(e.channel, 3);
    assert_int_equal(e.a, 60);
    assert_int_equal(e.b, 100);
    assert_true(alsa_event_to_cn(SND_SEQ_EVENT_NOTEON, 0, 61, 0, &e)); /* running-status off */
    assert_int_equal(e.type, CN_EV_NOTE_OFF);
    assert_true(alsa_event_to_cn(SND_SEQ_EVENT_NOTEOFF, 0, 62, 40, &e));
    assert_int_equal(e.type, CN_EV_NOTE_OFF);
    assert_true(alsa_event_to_cn(SND_SEQ_EVENT_CONTROLLER, 15, 64, 127, &e));
    assert_int_equal(e.type, CN_EV_CC);
    assert_int_equal(e.a, 64);
    assert_true(alsa_event_to_cn(SND_SEQ_EVENT_PGMCHANGE, 2, 5, 0, &e));
    assert_int_equal(e.type, CN_EV_PROGRAM);
    assert_int_equal(e.a, 5);
    assert_false(alsa_event_to_cn(SND_SEQ_EVENT_PITCHBEND, 0, 0, 0, &e));
    assert_false(alsa_event_to_cn(SND_SEQ_EVENT_NOTEON, 16, 60, 1, &e));
    assert_false(alsa_event_to_cn(SND_SEQ_EVENT_NOTEON, 0, 128, 1, &e));
    unsigned sec, nsec;
    alsa_seconds_to_real(86400.123456789, &sec, &nsec); /* a day in: still ns-exact-ish */
    assert_int_equal(sec, 86400);
    assert_true(labs((long)nsec - 123456789L) <= 20); /* double at 1e5 s: ~1.5e-11 s ulp */
    assert_true(fabs(alsa_real_to_seconds(sec, nsec) - 86400.123456789) < 1e-8);
    alsa_seconds_to_real(1.9999999999, &sec, &nsec); /* rounds up into the next second */
    assert_int_equal(sec, 2);
    assert_int_equal(nsec, 0);
    alsa_seconds_to_real(-1.0, &sec, &nsec);
    assert_int_equal(sec, 0);
    assert_int_equal(nsec, 0);
}

static void test_no_sequencer_here(void **state)
{
    (void)state;
    if (access("/dev/snd/seq", F_OK) == 0) skip(); /* a machine with ALSA: nothing to check */
    alsa_host_config c;
    alsa_host_config_defaults(&c);
    GError *err = NULL;
    assert_null(alsa_host_new(&c, &err));
    assert_non_null(err);
    assert_non_null(strstr(err->message, "/dev/snd/seq is missing"));
    assert_null(strchr(err->message, '\n'));
    g_error_free(err);
}

/* SIGHUP's pieces: the preset with the command line's overrides, and the
 * box that carries it to the session's thread. */
static void test_reload_pieces(void **state)
{
    (void)state;
    GError *err = NULL;
    char *path = paths_find_preset("solo", &err);
    if (!path) fail_msg("%s", err->message);
    session_config c;
    host_config hc;
    assert_true(jam_preset_load(path, NULL, &c, &hc, &err));
    assert_int_equal(c.mode, SESSION_SOLO); /* as presets/solo.ini says */
    assert_true(hc.audio && hc.reconnect);
    jam_overrides ov;
    jam_overrides_none(&ov);
    ov.mode = "duet";
    ov.seed = 9;
    ov.temperature = 0.7;
    ov.no_audio = true;
    assert_true(jam_preset_load(path, &ov, &c, &hc, &err));
    assert_int_equal(c.mode, SESSION_DUET);
    assert_int_equal(c.seed, 9);
    assert_true(fabsf(c.sampling.temperature - 0.7f) < 1e-6f);
    assert_false(hc.audio);
    jam_overrides bad;
    jam_overrides_none(&bad);
    bad.mode = "trio";
    assert_false(jam_preset_load(path, &bad, &c, NULL, &err));
    assert_non_null(strstr(err->message, "trio"));
    g_clear_error(&err);
    g_free(path);

    reload_box *b = reload_box_new();
    session_config got;
    assert_false(reload_box_take(b, &got));
    c.seed = 41;
    reload_box_post(b, &c);
    c.seed = 42; /* a second post before the take replaces the first */
    reload_box_post(b, &c);
    assert_true(reload_box_take(b, &got));
    assert_int_equal(got.seed, 42);
    assert_false(reload_box_take(b, &got));
    reload_box_free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_alsa_conversions),
        cmocka_unit_test(test_no_sequencer_here),
        cmocka_unit_test(test_solo_duration),
        cmocka_unit_test(test_duet_yields),
        cmocka_unit_test(test_sighup_sigterm),
        cmocka_unit_test(test_rotation_through_pump),
        cmocka_unit_test(test_host_failure),
        cmocka_unit_test(test_broken_model_stops),
        cmocka_unit_test(test_reload_pieces),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
