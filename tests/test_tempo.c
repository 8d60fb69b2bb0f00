/* test_tempo.c — the beat clock (engine/tempo.c) and the session's tempo
 * features (quantize, bar duet) under a virtual clock.
 *
 * The clock is checked against the tempo that generated its input: position
 * reports against hand-computed beats; MIDI clock ticks made from a known
 * tempo with seeded jitter (uniform +-2 ms, outliers of +8 ms, a missed
 * tick, arrivals rounded up to 256-frame periods) against the true tempo
 * (0.5 % after two beats; after three for period-rounded arrivals) and the true beat
 * position (3 ms; 4 ms rounded). A tempo change 120 -> 90 bpm must be
 * followed within two beats (1 %, 5 ms).
 *
 * The session runs as in test_session.c (a small random-weight model, a host
 * loop of 128-frame periods at 48 kHz) with the clock fed a position report
 * every period. Quantize 1: every model onset on the grid within one sample
 * (1/48000 s); 0: the output equals a run without quantize, event for event;
 * 0.5: every onset half way to its grid line; in every run each note keeps
 * its length (1e-6 s) and every NOTE_ON gets its NOTE_OFF. Bar duet: the
 * answer lies in the N bars after the call's N bars (one 10 ms token tick of
 * slack at its end). No wall-clock time anywhere. */
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
#include "tempo.h"
#include "session.h"
#include "token.h"
#include "test_models.h"
#include "error.h"

#define EPS 1e-9
#define SR 48000.0
#define DT (128.0 / SR) /* one host period */
#define HORIZON (2 * DT)
#define MODEL_CH 1

/* ---- the beat clock: position reports ------------------------------------ */

static void test_position_queries(void **state)
{
    (void)state;
    tempo_clock c;
    tempo_init(&c);
    assert_false(tempo_known(&c, 0));
    assert_true(isnan(tempo_beat_at(&c, 1.0)));
    assert_true(isnan(tempo_next_bar(&c, 1.0)));
    assert_true(tempo_bpm(&c) == 0);

    /* 120 bpm, 4/4, bar 3 beat 1.5 (0-based) at t = 10 s: absolute beat 13.5 */
    tempo_position p = {.time = 10.0, .bpm = 120, .beats_per_bar = 4, .bar = 3, .bar_beat = 1.5,
                        .rolling = true};
    tempo_report_position(&c, &p);
    assert_true(tempo_known(&c, 10.0));
    assert_float_equal(tempo_bpm(&c), 120, EPS);
    assert_float_equal(tempo_beat_at(&c, 10.0), 13.5, EPS);
    assert_float_equal(tempo_beat_at(&c, 10.5), 14.5, EPS);
    assert_float_equal(tempo_time_of_beat(&c, 16), 11.25, EPS);
    assert_float_equal(tempo_next_bar(&c, 10.0), 11.25, EPS);
    assert_float_equal(tempo_next_bar(&c, 11.25), 11.25, EPS); /* at the line: that line */
    assert_float_equal(tempo_next_grid(&c, 10.0, 0.25), 10.0, EPS);
    assert_float_equal(tempo_next_grid(&c, 10.01, 0.25), 10.125, EPS);
    assert_float_equal(tempo_next_grid(&c, 10.01, 1), 10.25, EPS);

    /* a report without a tempo (no BBT) is ignored */
    tempo_position bad = p;
    bad.bpm = 0;
    tempo_report_position(&c, &bad);
    assert_float_equal(tempo_bpm(&c), 120, EPS);

    /* stopped: no grid runs, the beat stands where it stopped */
    p.time = 12.0;
    p.bar = 5;
    p.bar_beat = 0.25;
    p.rolling = false;
    tempo_report_position(&c, &p);
    assert_false(tempo_known(&c, 12.0));
    assert_float_equal(tempo_beat_at(&c, 13.0), 20.25, EPS);
    assert_true(isnan(tempo_time_of_beat(&c, 21)));

    /* 3/4 at 90 bpm: bar lines every 3 beats (2 s) */
    p = (tempo_position){.time = 0, .bpm = 90, .beats_per_bar = 3, .bar = 0, .bar_beat = 0.5,
                         .rolling = true};
    tempo_report_position(&c, &p);
    assert_float_equal(tempo_beats_per_bar(&c), 3, EPS);
    assert_float_equal(tempo_next_bar(&c, 0.0), 2.5 * 60.0 / 90.0, EPS);

    tempo_reset(&c);
    assert_false(tempo_known(&c, 0));
}

/* Host glitches seen under a loaded dummy jackd (tools: a client logging
 * jack_transport_query each cycle): the BBT repeated while the frame moves
 * on (the timebase master missed cycles), and one cycle's position one
 * period off. Neither may move the grid; a lasting shift or a relocation must. */
static void report(tempo_clock *c, double t, double beat, bool rolling)
{
    tempo_position p = {.time = t, .bpm = 120, .beats_per_bar = 4, .bar = (int64_t)floor(beat / 4),
                        .bar_beat = beat - 4 * floor(beat / 4), .rolling = rolling};
    tempo_report_position(c, &p);
}

static void test_position_glitches(void **state)
{
    (void)state;
    const double P = 256.0 / SR; /* one period */
    tempo_clock c;
    tempo_init(&c);
    for (int i = 0; i < 10; i++) report(&c, i * P, i * P * 2, true); /* 120 bpm: 2 beats/s */
    double want = tempo_time_of_beat(&c, 8.0);
    assert_float_equal(want, 4.0, 1e-9);
    /* stale BBT for three cycles: the grid stays */
    for (int i = 10; i < 13; i++) {
        report(&c, i * P, 9 * P * 2, true);
        assert_float_equal(tempo_time_of_beat(&c, 8.0), want, 1e-9);
    }
    /* one cycle reported a period off, then right again */
    report(&c, 13 * P, 12 * P * 2, true);
    assert_float_equal(tempo_time_of_beat(&c, 8.0), want, 1e-9);
    report(&c, 14 * P, 14 * P * 2, true);
    assert_float_equal(tempo_time_of_beat(&c, 8.0), want, 1e-9);
    /* tick rounding (under 0.001 beat) re-anchors at once */
    report(&c, 15 * P, 15 * P * 2 + 0.0005, true);
    assert_float_equal(tempo_time_of_beat(&c, 8.0), want - 0.00025, 1e-9);
    /* a lasting shift of one period: taken at the second report */
    report(&c, 16 * P, 15 * P * 2, true);
    assert_float_equal(tempo_time_of_beat(&c, 8.0), want - 0.00025, 1e-9);
    report(&c, 17 * P, 16 * P * 2, true);
    assert_float_equal(tempo_time_of_beat(&c, 8.0), want + P, 1e-9);
    /* a relocation (to bar 4): at once */
    report(&c, 18 * P, 16, true);
    assert_float_equal(tempo_beat_at(&c, 18 * P), 16, 1e-9);
    /* stop, and start again elsewhere, a little off: at once */
    report(&c, 19 * P, 16.1, false);
    assert_false(tempo_known(&c, 19 * P));
    report(&c, 20 * P, 16.05, true);
    assert_true(tempo_known(&c, 20 * P));
    assert_float_equal(tempo_beat_at(&c, 20 * P), 16.05, 1e-9);
}

/* An on-change host (LV2 time:Position: a report only when the position
 * jumps) that skipped a cycle: its one report, a period ahead of the line,
 * is taken at once; no confirming report would ever come. */
static void test_position_on_change(void **state)
{
    (void)state;
    const double P = 512.0 / SR;
    tempo_clock c;
    tempo_init(&c);
    tempo_position p = {.time = 0, .bpm = 120, .beats_per_bar = 4, .bar = 0, .bar_beat = 0.5,
                        .rolling = true, .on_change = true};
    tempo_report_position(&c, &p);
    assert_float_equal(tempo_time_of_beat(&c, 8.5), 4.0, 1e-9);
    /* at host time 3 s (the plugin's clock) the song is a period further on */
    p.time = 3.0;
    p.bar = 1;
    p.bar_beat = 2.5 + P * 2; /* beat 6.5 + one period at 2 beats/s */
    tempo_report_position(&c, &p);
    assert_float_equal(tempo_time_of_beat(&c, 8.5), 4.0 - P, 1e-9);
    /* the same report from an every-cycle host waits for a second one */
    tempo_init(&c);
    p = (tempo_position){.time = 0, .bpm = 120, .beats_per_bar = 4, .bar = 0, .bar_beat = 0.5,
                         .rolling = true};
    tempo_report_position(&c, &p);
    p.time = 3.0;
    p.bar = 1;
    p.bar_beat = 2.5 + P * 2;
    tempo_report_position(&c, &p);
    assert_float_equal(tempo_time_of_beat(&c, 8.5), 4.0, 1e-9);
}

/* ---- the beat clock: MIDI clock ------------------------------------------- */

typedef struct {
    double bpm0, bpm1, change_beat; /* tempo bpm0 until change_beat, then bpm1 */
} tempo_track;

static double track_time(const tempo_track *tt, double beat)
{
    if (beat <= tt->change_beat) return beat * 60.0 / tt->bpm0;
    return tt->change_beat * 60.0 / tt->bpm0 + (beat - tt->change_beat) * 60.0 / tt->bpm1;
}

typedef struct {
    double jitter;     /* s: uniform +-jitter on every tick */
    int outlier_every; /* every n-th tick arrives 8 ms late (0: never) */
    int missed_tick;   /* this tick is lost (-1: none) */
    double period;     /* > 0: arrivals rounded up to multiples of it (a host's periods) */
} clock_noise;

/* Feeds 0xFA then ticks for `beats` beats of the track (the clock starts at
 * t0 = 1 s); checks tempo and position from check_from beats on, against the
 * true tempo at each tick (rel_tol) and the true beat at the tick's true
 * time (pos_tol seconds). Returns the worst relative tempo error seen. */
static double run_clock(const tempo_track *tt, const clock_noise *nz, double beats,
                        double check_from, double rel_tol, double pos_tol, guint32 seed)
{
    GRand *rng = g_rand_new_with_seed(seed);
    tempo_clock c;
    tempo_init(&c);
    const double t0 = 1.0;
    assert_true(tempo_midi_byte(&c, 0xFA, t0 - 0.001));
    double worst = 0, worst_pos = 0;
    int n = (int)(beats * 24);
    for (int k = 0; k < n; k++) {
        double b = k / 24.0;
        double t_true = t0 + track_time(tt, b);
        double t = t_true + g_rand_double_range(rng, -nz->jitter, nz->jitter);
        if (nz->outlier_every && k % nz->outlier_every == nz->outlier_every - 1) t += 0.008;
        if (nz->period > 0) t = ceil(t / nz->period) * nz->period;
        if (k == nz->missed_tick) continue;
        assert_true(tempo_midi_byte(&c, 0xF8, t));
        if (b < check_from) continue;
        assert_true(tempo_known(&c, t));
        double bpm_true = b < tt->change_beat ? tt->bpm0 : tt->bpm1;
        double rel = fabs(tempo_bpm(&c) - bpm_true) / bpm_true;
        worst = MAX(worst, rel);
        if (rel > rel_tol)
            fail_msg("tick %d (beat %.2f): %.3f bpm, true %.3f (tolerance %.2f %%)", k, b,
                     tempo_bpm(&c), bpm_true, 100 * rel_tol);
        /* position: the clock's beat at the true time vs the true beat, in seconds */
        double err = fabs(tempo_beat_at(&c, t_true) - (b)) * 60.0 / bpm_true;
        worst_pos = MAX(worst_pos, err);
        if (err > pos_tol)
            fail_msg("tick %d (beat %.2f): position off by %.2f ms (tolerance %.1f)", k, b,
                     1e3 * err, 1e3 * pos_tol);
    }
    print_message("  worst tempo error %.3f %%, worst position error %.2f ms\n", 100 * worst,
                  1e3 * worst_pos);
    g_rand_free(rng);
    return worst;
}

static void test_midi_clock_jitter(void **state)
{
    (void)state;
    tempo_track steady = {.bpm0 = 120, .bpm1 = 120, .change_beat = 1e9};
    clock_noise clean = {.jitter = 0, .missed_tick = -1};
    run_clock(&steady, &clean, 8, 0.5, 1e-6, 1e-6, 1);
    clock_noise live = {.jitter = 0.002, .outlier_every = 50, .missed_tick = 100};
    run_clock(&steady, &live, 32, 2, 0.005, 0.003, 2);
    tempo_track fast = {.bpm0 = 174, .bpm1 = 174, .change_beat = 1e9};
    run_clock(&fast, &live, 32, 2, 0.005, 0.003, 3);
    tempo_track slow = {.bpm0 = 63, .bpm1 = 63, .change_beat = 1e9};
    run_clock(&slow, &live, 32, 2, 0.005, 0.003, 4);
    /* arrivals rounded up to 256-frame periods at 48 kHz (5.3 ms): a mean
     * delay of half a period is inherent, so 4 ms of position slack; the
     * estimate settles a beat later (from beat 3) */
    clock_noise periods = {.jitter = 0.0005, .missed_tick = -1, .period = 256.0 / SR};
    run_clock(&steady, &periods, 32, 3, 0.005, 0.004, 5);
}

static void test_midi_clock_tempo_change(void **state)
{
    (void)state;
    clock_noise live = {.jitter = 0.002, .outlier_every = 0, .missed_tick = -1};
    /* 120 -> 90 at beat 8; checked from two beats after the change */
    tempo_track down = {.bpm0 = 120, .bpm1 = 90, .change_beat = 8};
    run_clock(&down, &live, 8, 2, 0.005, 0.003, 11); /* beats 2..8: the first tempo */
    /* the whole track, checked from beat 10 on against the second */
    tempo_clock c;
    tempo_init(&c);
    GRand *rng = g_rand_new_with_seed(12);
    tempo_midi_byte(&c, 0xFA, 0.999);
    for (int k = 0; k < 24 * 24; k++) {
        double b = k / 24.0, t_true = 1.0 + track_time(&down, b);
        double t = t_true + g_rand_double_range(rng, -0.002, 0.002);
        tempo_midi_byte(&c, 0xF8, t);
        if (b >= 2 && b < 8) assert_true(fabs(tempo_bpm(&c) - 120) < 1.2);
        if (b < 10) continue;
        assert_true(tempo_known(&c, t));
        if (fabs(tempo_bpm(&c) - 90) > 0.9) fail_msg("beat %.2f: %.2f bpm, want 90 +- 1 %%", b, tempo_bpm(&c));
        double err = fabs(tempo_beat_at(&c, t_true) - b) * 60.0 / 90;
        if (err > 0.005) fail_msg("beat %.2f: position off by %.2f ms", b, 1e3 * err);
    }
    /* and up again, 90 -> 140 */
    tempo_track up = {.bpm0 = 90, .bpm1 = 140, .change_beat = 8};
    tempo_init(&c);
    tempo_midi_byte(&c, 0xFA, 0.999);
    for (int k = 0; k < 24 * 24; k++) {
        double b = k / 24.0, t_true = 1.0 + track_time(&up, b);
        tempo_midi_byte(&c, 0xF8, t_true + g_rand_double_range(rng, -0.002, 0.002));
        if (b >= 10 && fabs(tempo_bpm(&c) - 140) > 1.4)
            fail_msg("beat %.2f: %.2f bpm, want 140 +- 1 %%", b, tempo_bpm(&c));
    }
    g_rand_free(rng);
}

static void test_midi_clock_transport(void **state)
{
    (void)state;
    tempo_clock c;
    tempo_init(&c);
    const double p = 60.0 / (100 * 24); /* 100 bpm */
    assert_false(tempo_midi_byte(&c, 0x90, 0)); /* not clock */
    assert_false(tempo_midi_byte(&c, 0xFE, 0)); /* active sensing: not ours */
    /* ticks with no start: rolling from the first tick (beat 0) */
    double t = 1.0;
    for (int k = 0; k < 48; k++, t += p) tempo_midi_byte(&c, 0xF8, t);
    t -= p;
    assert_true(tempo_known(&c, t));
    assert_float_equal(tempo_bpm(&c), 100, 1e-6);
    assert_float_equal(tempo_beat_at(&c, t), 47.0 / 24, 1e-6);
    /* stop: not known, the beat stands; ticks go on (tempo still estimated) */
    tempo_midi_byte(&c, 0xFC, t + 0.001);
    assert_false(tempo_known(&c, t + 0.002));
    for (int k = 0; k < 24; k++) tempo_midi_byte(&c, 0xF8, t += p);
    assert_false(tempo_known(&c, t));
    assert_float_equal(tempo_beat_at(&c, t + 5), 47.0 / 24, 1e-6);
    assert_float_equal(tempo_bpm(&c), 100, 1e-6);
    /* song position 16 sixteenths (= beat 4), continue: the next tick is beat 4 */
    tempo_song_position(&c, 16);
    assert_float_equal(tempo_beat_at(&c, t), 4.0, EPS);
    tempo_midi_byte(&c, 0xFB, t + 0.001);
    for (int k = 0; k < 24; k++) tempo_midi_byte(&c, 0xF8, t += p);
    assert_true(tempo_known(&c, t));
    assert_float_equal(tempo_beat_at(&c, t), 4.0 + 23.0 / 24, 1e-6);
    /* start: back to beat 0 at the next tick */
    tempo_midi_byte(&c, 0xFA, t + 0.001);
    tempo_midi_byte(&c, 0xF8, t += p);
    assert_float_equal(tempo_beat_at(&c, t), 0.0, 1e-6);
    /* the clock goes silent: after half a second no tempo is known */
    assert_true(tempo_known(&c, t + 0.2));
    assert_false(tempo_known(&c, t + 0.6));
    /* a position report takes over from MIDI clock */
    tempo_position pos = {.time = t, .bpm = 130, .beats_per_bar = 4, .bar = 1, .bar_beat = 0,
                          .rolling = true};
    tempo_report_position(&c, &pos);
    assert_float_equal(tempo_bpm(&c), 130, EPS);
    assert_float_equal(tempo_beat_at(&c, t), 4, EPS);
}

/* ---- the session: quantize and bar duet ----------------------------------- */

static int setup_model(void **state)
{
    *state = test_model_small(256, 7, "continuo-test-tempo");
    return 0;
}

static int teardown_model(void **state)
{
    test_model_free(*state);
    return 0;
}

typedef struct {
    session *s;
    double now;
    GArray *perf, *out;
    guint next;
    bool feed;             /* report the transport every period */
    double clock_bpm;      /* > 0: feed MIDI clock instead (beat 0 at zero), as heard by the end of each period */
    int64_t ticks_sent;
    double bpm, bpb, zero; /* the song: beat 0 at time zero */
} rig;

static rig *rig_new(const model *m, const session_config *c, bool feed)
{
    rig *r = g_new0(rig, 1);
    GError *err = NULL;
    r->s = session_new(c, m, &err);
    if (!r->s) fail_msg("%s", err->message);
    r->perf = cn_events_new();
    r->out = cn_events_new();
    r->feed = feed;
    r->bpm = 120;
    r->bpb = 4;
    r->zero = 0.5;
    return r;
}

static void rig_free(rig *r)
{
    session_free(r->s);
    g_array_free(r->perf, TRUE);
    g_array_free(r->out, TRUE);
    g_free(r);
}

static double rig_beat(const rig *r, double t) { return (t - r->zero) * r->bpm / 60.0; }
static double rig_time(const rig *r, double beat) { return r->zero + beat * 60.0 / r->bpm; }

static void perf_note(rig *r, double t, double dur, int pitch)
{
    cn_event on = {.time = t, .type = CN_EV_NOTE_ON, .a = (uint8_t)pitch, .b = 80};
    cn_event off = {.time = t + dur, .type = CN_EV_NOTE_OFF, .a = (uint8_t)pitch};
    g_array_append_val(r->perf, on);
    g_array_append_val(r->perf, off);
    cn_events_sort(r->perf);
}

static void rig_take(rig *r, double until)
{
    cn_event buf[16];
    int n;
    while ((n = session_take_due(r->s, r->now, until, buf, 16)) > 0) {
        for (int i = 0; i < n; i++)
            if (buf[i].time < r->now - EPS) fail_msg("event at %.4f released at %.4f", buf[i].time, r->now);
        g_array_append_vals(r->out, buf, (guint)n);
    }
}

/* One period: the transport report (as a JACK client makes it at the
 * cycle start), performer events due, step, hand-off. */
static void rig_run(rig *r, double t_end)
{
    while (r->now < t_end - EPS) {
        if (r->feed) {
            double b = rig_beat(r, r->now);
            double bar = floor(b / r->bpb);
            tempo_position p = {.time = r->now, .bpm = r->bpm, .beats_per_bar = r->bpb,
                                .bar = (int64_t)bar, .bar_beat = b - bar * r->bpb, .rolling = true};
            tempo_report_position(session_tempo(r->s), &p);
        }
        if (r->clock_bpm > 0) {
            double p = 60.0 / (r->clock_bpm * 24);
            if (r->ticks_sent == 0) tempo_midi_byte(session_tempo(r->s), 0xFA, r->zero - 0.001);
            for (double tt; (tt = r->zero + r->ticks_sent * p) <= r->now; r->ticks_sent++)
                tempo_midi_byte(session_tempo(r->s), 0xF8, round(tt * SR) / SR);
        }
        while (r->next < r->perf->len &&
               g_array_index(r->perf, cn_event, r->next).time <= r->now + EPS)
            session_input(r->s, &g_array_index(r->perf, cn_event, r->next++));
        session_step(r->s, r->now);
        rig_take(r, r->now + HORIZON);
        r->now += DT;
    }
}

static void rig_close(rig *r)
{
    session_panic(r->s, r->now);
    rig_take(r, INFINITY);
}

/* A model note as released: pitch, on and off times. */
typedef struct {
    int pitch;
    double on, off;
} note;

/* Pairs the released events into notes (in NOTE_ON order) and checks the
 * stream: times never go back, NOTE_ON on a silent key, NOTE_OFF on a
 * sounding one, nothing left sounding. */
static GArray *notes_of(const GArray *out)
{
    GArray *notes = g_array_new(FALSE, FALSE, sizeof(note));
    int open[128];
    for (int p = 0; p < 128; p++) open[p] = -1;
    double prev = -INFINITY;
    for (guint i = 0; i < out->len; i++) {
        const cn_event *e = &g_array_index(out, cn_event, i);
        assert_int_equal(e->channel, MODEL_CH);
        assert_true(e->time >= prev - EPS);
        prev = e->time;
        if (e->type == CN_EV_NOTE_ON) {
            assert_int_equal(open[e->a], -1);
            note n = {.pitch = e->a, .on = e->time, .off = NAN};
            open[e->a] = (int)notes->len;
            g_array_append_val(notes, n);
        } else {
            assert_int_equal(e->type, CN_EV_NOTE_OFF);
            assert_int_not_equal(open[e->a], -1);
            g_array_index(notes, note, open[e->a]).off = e->time;
            open[e->a] = -1;
        }
    }
    for (int p = 0; p < 128; p++) assert_int_equal(open[p], -1); /* every NOTE_ON got its NOTE_OFF */
    return notes;
}

static void solo_config(session_config *c)
{
    session_config_defaults(c);
    c->mode = SESSION_SOLO;
    c->model_channel = MODEL_CH;
    c->limits.max_note_len = 1.0;
    c->lookahead = 0.3;
    c->seed = 42;
}

static GArray *solo_run(const model *m, double grid, double strength, bool feed)
{
    session_config c;
    solo_config(&c);
    c.quantize_grid = grid;
    c.quantize_strength = strength;
    rig *r = rig_new(m, &c, feed);
    rig_run(r, 12.0);
    rig_close(r);
    GArray *notes = notes_of(r->out);
    rig_free(r);
    return notes;
}

/* The k-th note of each pitch in a matches the k-th of that pitch in b. */
static void compare_notes(const GArray *a, const GArray *b, double strength, double grid, const rig *song)
{
    int count[128] = {0};
    int matched = 0;
    for (guint i = 0; i < a->len; i++) {
        const note *x = &g_array_index(a, note, i);
        int k = count[x->pitch]++, seen = 0;
        const note *y = NULL;
        for (guint j = 0; j < b->len && !y; j++)
            if (g_array_index(b, note, j).pitch == x->pitch && seen++ == k) y = &g_array_index(b, note, j);
        if (!y) continue; /* the quantized run ends at a different note */
        /* a note the stop at the end cut (its note-off at the close, 12 s, or
         * later: the heard stream can run a little ahead of the clock) */
        if (x->off >= 12.0 - 1e-6 || y->off >= 12.0 - 1e-6) continue;
        matched++;
        /* the note keeps its length */
        if (fabs((y->off - y->on) - (x->off - x->on)) > 1e-6)
            fail_msg("pitch %d #%d: length %.6f s, unquantized %.6f s", x->pitch, k, y->off - y->on,
                     x->off - x->on);
        if (strength > 0 && strength < 1) { /* half way to a grid line */
            double g = rig_time(song, round(rig_beat(song, x->on) / grid) * grid);
            double want = x->on + strength * (g - x->on);
            if (fabs(y->on - want) > 1e-6 && y->on < want) /* later lines allowed (floor, re-strike) */
                fail_msg("pitch %d #%d: onset %.6f, want %.6f", x->pitch, k, y->on, want);
        }
    }
    assert_true(matched >= (int)(0.9 * a->len));
}

static void test_quantize(void **state)
{
    const model *m = ((test_model *)*state)->m;
    rig song = {.bpm = 120, .bpb = 4, .zero = 0.5};
    GArray *plain = solo_run(m, 0, 1, true);
    assert_true(plain->len > 20);
    /* strength 1: every onset on a sixteenth within one sample */
    GArray *q1 = solo_run(m, 0.25, 1, true);
    assert_true(q1->len > 20);
    int on_grid_before = 0;
    for (guint i = 0; i < q1->len; i++) {
        double b = rig_beat(&song, g_array_index(q1, note, i).on) / 0.25;
        double err = fabs(b - round(b)) * 0.25 * 60.0 / song.bpm;
        if (err > 1.0 / SR) fail_msg("note %u at %.6f s: %.3f ms off the grid", i, g_array_index(q1, note, i).on, 1e3 * err);
    }
    for (guint i = 0; i < plain->len; i++) {
        double b = rig_beat(&song, g_array_index(plain, note, i).on) / 0.25;
        on_grid_before += fabs(b - round(b)) * 0.125 < 1.0 / SR;
    }
    assert_true(on_grid_before < (int)plain->len / 2); /* the test means something */
    compare_notes(plain, q1, 1, 0.25, &song);
    /* strength 0.5: half way */
    GArray *qh = solo_run(m, 0.25, 0.5, true);
    compare_notes(plain, qh, 0.5, 0.25, &song);
    /* strength 0, and no tempo: exactly the plain output */
    GArray *q0 = solo_run(m, 0.25, 0, true);
    GArray *nt = solo_run(m, 0.25, 1, false);
    assert_int_equal(q0->len, plain->len);
    assert_int_equal(nt->len, plain->len);
    for (guint i = 0; i < plain->len; i++) {
        const note *a = &g_array_index(plain, note, i);
        const note *b = &g_array_index(q0, note, i), *c = &g_array_index(nt, note, i);
        assert_true(a->pitch == b->pitch && a->on == b->on && a->off == b->off);
        assert_true(a->pitch == c->pitch && a->on == c->on && a->off == c->off);
    }
    print_message("  %u notes; quantized 1: %u, 0.5: %u\n", plain->len, q1->len, qh->len);
    g_array_free(plain, TRUE);
    g_array_free(q1, TRUE);
    g_array_free(qh, TRUE);
    g_array_free(q0, TRUE);
    g_array_free(nt, TRUE);
}

/* Live control and a tempo that changes mid-run: still on the grid. */
static void test_quantize_live_control(void **state)
{
    const model *m = ((test_model *)*state)->m;
    session_config c;
    solo_config(&c);
    rig *r = rig_new(m, &c, true);
    rig_run(r, 2.0);
    session_set_quantize(r->s, 0.5, 1);
    double from = r->now + c.lookahead + HORIZON; /* notes decided before stay */
    rig_run(r, 8.0);
    rig_close(r);
    GArray *notes = notes_of(r->out);
    int checked = 0;
    for (guint i = 0; i < notes->len; i++) {
        const note *n = &g_array_index(notes, note, i);
        if (n->on < from) continue;
        double b = rig_beat(r, n->on) / 0.5;
        assert_true(fabs(b - round(b)) * 0.25 < 1.0 / SR);
        checked++;
    }
    assert_true(checked > 5);
    g_array_free(notes, TRUE);
    rig_free(r);
}

/* Following MIDI clock (100 bpm, ticks on exact frames, heard at the end
 * of each period as a JACK worker hears them) with the solo preset's
 * lookahead (0.5 s: notes decided further ahead than the clock's
 * staleness limit): on the grid. */
static void test_quantize_midi_clock(void **state)
{
    const model *m = ((test_model *)*state)->m;
    session_config c;
    solo_config(&c);
    c.quantize_grid = 0.25;
    c.lookahead = 0.5;
    rig *r = rig_new(m, &c, false);
    r->clock_bpm = 100;
    r->bpm = 100;
    rig_run(r, 12.0);
    rig_close(r);
    GArray *notes = notes_of(r->out);
    int checked = 0, off = 0;
    for (guint i = 0; i < notes->len; i++) {
        const note *n = &g_array_index(notes, note, i);
        if (n->on < r->zero + 1.0) continue; /* while the estimate settles */
        double b = rig_beat(r, n->on) / 0.25, err = fabs(b - round(b)) * 0.25 * 60 / r->bpm;
        if (err > 1e-4) {
            print_message("  onset %.4f: %.2f ms off\n", n->on, 1e3 * err);
            off++;
        }
        checked++;
    }
    assert_true(checked > 20);
    assert_int_equal(off, 0);
    g_array_free(notes, TRUE);
    rig_free(r);
}

static void duet_config(session_config *c, int bars)
{
    session_config_defaults(c);
    c->mode = SESSION_DUET;
    c->model_channel = MODEL_CH;
    c->duet_pause = 0.5;
    c->duet_phrase = 3.0;
    c->limits.max_note_len = 1.0;
    c->seed = 42;
    c->duet_bars = bars;
}

/* Model notes with onsets in [t0, t1). */
static void model_span(const GArray *notes, double t0, double t1, double *first_on, double *last_off,
                       int *count)
{
    *first_on = INFINITY;
    *last_off = -INFINITY;
    *count = 0;
    for (guint i = 0; i < notes->len; i++) {
        const note *n = &g_array_index(notes, note, i);
        if (n->on < t0 || n->on >= t1) continue;
        *first_on = MIN(*first_on, n->on);
        *last_off = MAX(*last_off, n->off);
        (*count)++;
    }
}

static void test_bar_duet(void **state)
{
    const model *m = ((test_model *)*state)->m;
    session_config c;
    duet_config(&c, 2);
    c.quantize_grid = 0.5;
    rig *r = rig_new(m, &c, true); /* 120 bpm 4/4: a bar is 2 s, bar lines at 0.5 + 2k */
    /* the call: notes through bars 0-1 (0.5 .. 4.5 s), the first a little early */
    for (int i = 0; i < 7; i++) perf_note(r, 0.45 + 0.55 * i, 0.3, 60 + (i * 5) % 12);
    /* a second call in bar 4 (8.5 .. 10.5 s), one note */
    perf_note(r, 9.1, 0.2, 64);
    rig_run(r, 16.0);
    rig_close(r);
    GArray *notes = notes_of(r->out);
    double first, last;
    int n;
    /* nothing during the calls */
    model_span(notes, 0, 4.5 - 1e-6, &first, &last, &n);
    assert_int_equal(n, 0);
    /* the answer: bars 2-3, 4.5 .. 8.5 s */
    model_span(notes, 4.5 - 1e-6, 8.5, &first, &last, &n);
    print_message("  answer 1: %d notes, %.3f .. %.3f s (window 4.5 .. 8.5)\n", n, first, last);
    for (guint i = 0; i < notes->len; i++) {
        const note *x = &g_array_index(notes, note, i);
        if (x->off > 8.5 + TOK_TIME_STEP + 1e-6 && x->on < 8.5)
            print_message("  note %d %.4f .. %.4f ends after the answer\n", x->pitch, x->on, x->off);
    }
    assert_true(n >= 3);
    assert_true(first >= 4.5 - 1e-6);
    assert_true(first < 5.5);     /* it starts in the answer's first half bar */
    assert_true(last <= 8.5 + TOK_TIME_STEP + 1e-6);
    assert_true(last >= 6.5);     /* and lasts into its second bar */
    /* quiet between the answer and the second call's answer */
    model_span(notes, 8.5, 12.5 - 1e-6, &first, &last, &n);
    if (n) print_message("  %d notes from %.4f in 8.5 .. 12.5\n", n, first);
    assert_int_equal(n, 0);
    /* the second call started in bar 4: the answer is bars 6-7, 12.5 .. 16.5 */
    model_span(notes, 12.5 - 1e-6, 17, &first, &last, &n);
    print_message("  answer 2: %d notes from %.3f s (window 12.5 .. 16.5)\n", n, first);
    assert_true(n >= 1);
    assert_true(first >= 12.5 - 1e-6 && first < 13.5);
    g_array_free(notes, TRUE);
    rig_free(r);

    /* no tempo fed: the silence duet answers duet_pause after the last note */
    r = rig_new(m, &c, false);
    for (int i = 0; i < 7; i++) perf_note(r, 0.45 + 0.55 * i, 0.3, 60 + (i * 5) % 12);
    rig_run(r, 8.0);
    rig_close(r);
    notes = notes_of(r->out);
    double last_perf = 0.45 + 0.55 * 6 + 0.3; /* the last note-off */
    model_span(notes, 0, 100, &first, &last, &n);
    assert_true(n >= 1);
    assert_true(first >= last_perf + c.duet_pause - 1e-6);
    assert_true(last <= last_perf + c.duet_pause + c.duet_phrase + TOK_TIME_STEP + 1e-6);
    g_array_free(notes, TRUE);
    rig_free(r);
}

/* The performer interrupts an answer: the model yields at once, and the
 * next answer comes N bars after the bar of the interruption. */
static void test_bar_duet_interrupt(void **state)
{
    const model *m = ((test_model *)*state)->m;
    session_config c;
    duet_config(&c, 1); /* one bar each: bar lines at 0.5 + 2k */
    rig *r = rig_new(m, &c, true);
    perf_note(r, 0.6, 0.3, 60);           /* call: bar 0; answer bar 1 (2.5 .. 4.5) */
    perf_note(r, 3.3, 0.2, 67);           /* interrupts in bar 1: answer bar 2 (4.5 .. 6.5) */
    rig_run(r, 8.0);
    rig_close(r);
    GArray *notes = notes_of(r->out);
    for (guint i = 0; i < notes->len; i++) { /* nothing sounds across the interruption */
        const note *x = &g_array_index(notes, note, i);
        if (x->on < 3.3 && x->off > 3.3 + DT + HORIZON + 1e-6) /* the host's period and horizon */
            fail_msg("model note %.4f .. %.4f sounds across the interruption at 3.3", x->on, x->off);
        assert_false(x->on >= 3.3 && x->on < 4.5 - 1e-6);
        assert_true(x->on >= 2.5 - 1e-6 && x->off <= 6.5 + TOK_TIME_STEP + 1e-6);
    }
    double first, last;
    int n;
    model_span(notes, 4.5 - 1e-6, 7, &first, &last, &n);
    assert_true(n >= 1);
    g_array_free(notes, TRUE);
    rig_free(r);
}

/* The [tempo] keys of a preset. */
static void test_preset_keys(void **state)
{
    (void)state;
    session_config c;
    session_config_defaults(&c);
    assert_true(c.quantize_grid == 0 && c.duet_bars == 0); /* today's behaviour by default */
    char *path = NULL;
    int fd = g_file_open_tmp("continuo-test-tempo-XXXXXX.ini", &path, NULL);
    close(fd);
    g_file_set_contents(path, "[tempo]\ngrid = 0.25\nstrength = 0.75\nduet_bars = 2\n", -1, NULL);
    GError *err = NULL;
    assert_true(session_config_load(&c, path, &err));
    assert_float_equal(c.quantize_grid, 0.25, EPS);
    assert_float_equal(c.quantize_strength, 0.75, EPS);
    assert_int_equal(c.duet_bars, 2);
    g_file_set_contents(path, "[tempo]\nstrength = 1.5\n", -1, NULL);
    assert_false(session_config_load(&c, path, &err));
    assert_non_null(strstr(err->message, "strength"));
    g_clear_error(&err);
    g_unlink(path);
    g_free(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_position_queries),
        cmocka_unit_test(test_position_glitches),
        cmocka_unit_test(test_position_on_change),
        cmocka_unit_test(test_midi_clock_jitter),
        cmocka_unit_test(test_midi_clock_tempo_change),
        cmocka_unit_test(test_midi_clock_transport),
        cmocka_unit_test(test_preset_keys),
        cmocka_unit_test(test_quantize),
        cmocka_unit_test(test_quantize_live_control),
        cmocka_unit_test(test_quantize_midi_clock),
        cmocka_unit_test(test_bar_duet),
        cmocka_unit_test(test_bar_duet_interrupt),
    };
    return cmocka_run_group_tests(tests, setup_model, teardown_model);
}
