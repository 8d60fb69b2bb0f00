/* test_token.c — the performance encoding v1 (engine/token.c).
 *
 * Tolerances (NC_ONSET_TOL, NC_DUR_TOL in notecheck.h): onsets within 5 ms
 * (half a 10 ms tick) and durations within 10 ms (one tick: both ends
 * rounded), plus 1e-9 s for double arithmetic. Expected token sequences and
 * note lengths are written out by hand; round trips are checked against
 * tools/corpus/notecheck.c, which derives the notes a performance should
 * sound (pedal folded in) by its own per-note forward scan. The corpus check
 * runs build/bin/continuo-bench tokens: always on synthetic files written
 * here, and on every ASAP performance when the data is there
 * ($CONTINUO_DATA or ../shared/data; skipped otherwise). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>
#include <sys/wait.h>
#include <cmocka.h>
#include "token.h"
#include "midifile.h"
#include "notecheck.h"


/* ---- helpers ----------------------------------------------------------- */

static void add(GArray *evs, double t, int type, int ch, int a, int b)
{
    cn_event e = {.time = t, .type = (uint8_t)type, .channel = (uint8_t)ch, .a = (uint8_t)a,
                  .b = (uint8_t)b};
    g_array_append_val(evs, e);
}
#define ON(t, p, v) add(evs, t, CN_EV_NOTE_ON, 0, p, v)
#define OFF(t, p) add(evs, t, CN_EV_NOTE_OFF, 0, p, 0)
#define PED(t, v) add(evs, t, CN_EV_CC, 0, 64, v)

/* Tokens joined by spaces, as names. */
static char *names_of(const int *t, size_t n)
{
    GString *s = g_string_new(NULL);
    char buf[32];
    for (size_t i = 0; i < n; i++) {
        if (i) g_string_append_c(s, ' ');
        g_string_append(s, tok_name(t[i], buf, sizeof buf));
    }
    return g_string_free(s, FALSE);
}

static void expect_tokens(const GArray *evs, const char *expected)
{
    GArray *t = tok_encode_events(evs);
    char *got = names_of((const int *)t->data, t->len);
    assert_string_equal(got, expected);
    g_free(got);
    g_array_free(t, TRUE);
}

/* Encodes, decodes (no cap, starting at the first NOTE_ON) and compares
 * with the reference notes; returns the comparison. */
static nc_result roundtrip(const GArray *evs)
{
    double first = 0;
    for (guint i = 0; i < evs->len; i++) {
        const cn_event *e = &g_array_index(evs, cn_event, i);
        if (e->type == CN_EV_NOTE_ON && e->b) { first = e->time; break; }
    }
    GArray *t = tok_encode_events(evs);
    GArray *dec = tok_decode_tokens_full((const int *)t->data, t->len, first, 0, 0);
    GArray *ref = notecheck_reference(evs), *out = notecheck_pair(dec);
    nc_result r = {0};
    notecheck_compare(ref, out, 0, &r);
    g_array_free(t, TRUE);
    g_array_free(dec, TRUE);
    g_array_free(ref, TRUE);
    g_array_free(out, TRUE);
    return r;
}

static void assert_roundtrip_ok(const nc_result *r)
{
    assert_int_equal(r->n_missing, 0);
    assert_int_equal(r->n_ref, r->n_out);
    assert_int_equal(notecheck_mismatches(r), 0);
    assert_true(r->max_onset_err <= NC_ONSET_TOL);
    assert_true(r->max_dur_err <= NC_DUR_TOL);
}

/* ---- names ------------------------------------------------------------- */

static void test_names(void **state)
{
    char buf[32];
    for (int t = 0; t < TOK_VOCAB_SIZE; t++) assert_int_equal(tok_from_name(tok_name(t, buf, sizeof buf)), t);
    assert_string_equal(tok_name(TOK_NOTE_ON + 60, buf, sizeof buf), "NOTE_ON_60");
    assert_string_equal(tok_name(264, buf, sizeof buf), "TIME_SHIFT_1");
    assert_string_equal(tok_name(363, buf, sizeof buf), "TIME_SHIFT_100");
    assert_string_equal(tok_name(395, buf, sizeof buf), "VELOCITY_31");
    assert_string_equal(tok_name(TOK_NOTE_OFF + 127, buf, sizeof buf), "NOTE_OFF_127");
    const char *bad[] = {"NOTE_ON_128", "TIME_SHIFT_0", "TIME_SHIFT_101", "VELOCITY_32",
                         "NOTE_ON_", "NOTE_ON_6x", "NOTE_ON_-1", "note_on_60", "", "CTRL_8",
                         "NOTE_ON_0060", "BOS "};
    for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) assert_int_equal(tok_from_name(bad[i]), -1);
}

/* ---- encoder: hand-built cases ----------------------------------------- */

static void test_enc_basic(void **state)
{
    GArray *evs = cn_events_new();
    ON(1.0, 60, 80); OFF(1.5, 60); ON(1.5, 62, 81); OFF(2.0, 62); ON(2.004, 64, 100);
    add(evs, 2.1, CN_EV_PROGRAM, 0, 5, 0); add(evs, 2.1, CN_EV_CC, 0, 7, 100);
    ON(2.106, 65, 101); OFF(2.2, 64); OFF(2.2, 65);
    /* clock starts at 1.0; 81 shares bin 20 with 80; 2.004 rounds to 2.00
     * (same tick as the NOTE_OFF_62); the program change and CC7 give nothing */
    expect_tokens(evs, "VELOCITY_20 NOTE_ON_60 TIME_SHIFT_50 NOTE_OFF_60 NOTE_ON_62 TIME_SHIFT_50 "
                       "NOTE_OFF_62 VELOCITY_25 NOTE_ON_64 TIME_SHIFT_11 NOTE_ON_65 TIME_SHIFT_9 "
                       "NOTE_OFF_64 NOTE_OFF_65");
    g_array_free(evs, TRUE);
}

static void test_enc_incremental(void **state)
{
    /* Each event's tokens come out of its own call, at once. */
    tok_encoder e;
    tok_enc_init(&e);
    int out[TOK_ENC_MAX_OUT];
    cn_event on = {.time = 0.5, .type = CN_EV_NOTE_ON, .a = 60, .b = 64};
    assert_int_equal(tok_enc_event(&e, &on, out, TOK_ENC_MAX_OUT), 2);
    assert_int_equal(out[0], TOK_VELOCITY + 16);
    assert_int_equal(out[1], TOK_NOTE_ON + 60);
    cn_event off = {.time = 0.83, .type = CN_EV_NOTE_OFF, .a = 60};
    assert_int_equal(tok_enc_event(&e, &off, out, TOK_ENC_MAX_OUT), 2);
    assert_int_equal(out[0], TOK_TIME_SHIFT + 33);
    assert_int_equal(out[1], TOK_NOTE_OFF + 60);
    /* a velocity-0 NOTE_ON is a note-off; a note-off of a silent key gives nothing */
    cn_event on2 = {.time = 1.0, .type = CN_EV_NOTE_ON, .a = 61, .b = 66};
    assert_int_equal(tok_enc_event(&e, &on2, out, TOK_ENC_MAX_OUT), 2); /* shift + on, same bin */
    cn_event ghost = {.time = 1.2, .type = CN_EV_NOTE_OFF, .a = 70};
    assert_int_equal(tok_enc_event(&e, &ghost, out, TOK_ENC_MAX_OUT), 0);
    cn_event z = {.time = 1.25, .type = CN_EV_NOTE_ON, .a = 61, .b = 0};
    assert_int_equal(tok_enc_event(&e, &z, out, TOK_ENC_MAX_OUT), 2);
    assert_int_equal(out[0], TOK_TIME_SHIFT + 25); /* the ghost moved no time */
    assert_int_equal(out[1], TOK_NOTE_OFF + 61);
    assert_false(e.sounding[61]);
    /* too small a buffer: nothing written, nothing changed */
    cn_event on3 = {.time = 9.0, .type = CN_EV_NOTE_ON, .a = 62, .b = 100};
    tok_encoder copy = e;
    assert_int_equal(tok_enc_event(&e, &on3, out, 3), -1);
    assert_memory_equal(&copy, &e, sizeof e);
    assert_int_equal(tok_enc_event(&e, &on3, out, TOK_ENC_MAX_OUT), 10);
}

static void test_enc_quantize(void **state)
{
    GArray *evs = cn_events_new();
    /* relative to the first NOTE_ON at 10.0: 4 ms rounds down, 6 ms up */
    PED(3.0, 127); PED(5.0, 0); /* before the clock starts: no tokens, no time */
    ON(10.0, 60, 40); ON(10.004, 61, 40); ON(10.006, 62, 40); ON(10.0149, 63, 40); ON(10.0151, 64, 40);
    OFF(11, 60); OFF(11, 61); OFF(11, 62); OFF(11, 63); OFF(11, 64);
    expect_tokens(evs, "VELOCITY_10 NOTE_ON_60 NOTE_ON_61 TIME_SHIFT_1 NOTE_ON_62 NOTE_ON_63 "
                       "TIME_SHIFT_1 NOTE_ON_64 TIME_SHIFT_98 NOTE_OFF_60 NOTE_OFF_61 NOTE_OFF_62 "
                       "NOTE_OFF_63 NOTE_OFF_64");
    g_array_free(evs, TRUE);
}

static void test_enc_pedal(void **state)
{
    GArray *evs = cn_events_new();
    /* released under the pedal: ends at the lift, in pitch order */
    ON(0, 64, 80); ON(0, 60, 80); PED(0.2, 100); OFF(0.5, 64); OFF(0.5, 60); ON(0.6, 67, 80);
    OFF(0.7, 67); PED(1.0, 63);
    expect_tokens(evs, "VELOCITY_20 NOTE_ON_64 NOTE_ON_60 TIME_SHIFT_60 NOTE_ON_67 TIME_SHIFT_40 "
                       "NOTE_OFF_60 NOTE_OFF_64 NOTE_OFF_67");
    g_array_set_size(evs, 0);
    /* a key still down when the pedal lifts keeps sounding to its release */
    ON(0, 60, 80); PED(0.1, 64); PED(0.3, 0); OFF(0.5, 60);
    expect_tokens(evs, "VELOCITY_20 NOTE_ON_60 TIME_SHIFT_50 NOTE_OFF_60");
    g_array_set_size(evs, 0);
    /* re-strike while sustained: NOTE_OFF then NOTE_ON, and the second
     * release under the pedal waits for the lift */
    ON(0, 60, 80); PED(0.1, 127); OFF(0.2, 60); ON(0.4, 60, 40); OFF(0.5, 60); PED(0.8, 0);
    expect_tokens(evs, "VELOCITY_20 NOTE_ON_60 TIME_SHIFT_40 NOTE_OFF_60 VELOCITY_10 NOTE_ON_60 "
                       "TIME_SHIFT_40 NOTE_OFF_60");
    g_array_set_size(evs, 0);
    /* the pedal of another channel does not hold a note */
    add(evs, 0, CN_EV_NOTE_ON, 1, 60, 80); PED(0.1, 127); add(evs, 0.2, CN_EV_NOTE_OFF, 1, 60, 0);
    PED(0.3, 0);
    expect_tokens(evs, "VELOCITY_20 NOTE_ON_60 TIME_SHIFT_20 NOTE_OFF_60");
    g_array_set_size(evs, 0);
    /* pedal down twice, up twice: the first lift ends things, the second is a no-op */
    ON(0, 60, 80); PED(0.1, 127); PED(0.15, 90); OFF(0.2, 60); PED(0.3, 10); PED(0.4, 0);
    expect_tokens(evs, "VELOCITY_20 NOTE_ON_60 TIME_SHIFT_30 NOTE_OFF_60");
    g_array_set_size(evs, 0);
    /* a piece ending with the pedal down: the flush ends what it holds at the
     * last event (0.4, a release that gave no token), not at the last token (0.3) */
    ON(0, 60, 80); PED(0.1, 127); OFF(0.2, 60); ON(0.3, 62, 80); OFF(0.4, 62);
    expect_tokens(evs, "VELOCITY_20 NOTE_ON_60 TIME_SHIFT_30 NOTE_ON_62 TIME_SHIFT_10 NOTE_OFF_60 "
                       "NOTE_OFF_62");
    g_array_set_size(evs, 0);
    /* ... and a key still down at the end, or a later event of any kind, the same way */
    ON(0, 60, 80); add(evs, 0.25, CN_EV_CC, 0, 7, 90);
    expect_tokens(evs, "VELOCITY_20 NOTE_ON_60 TIME_SHIFT_25 NOTE_OFF_60");
    g_array_set_size(evs, 0);
    /* nothing sounding at the end: no trailing shifts */
    ON(0, 60, 80); OFF(0.1, 60); PED(0.5, 127); PED(0.9, 0);
    expect_tokens(evs, "VELOCITY_20 NOTE_ON_60 TIME_SHIFT_10 NOTE_OFF_60");
    g_array_free(evs, TRUE);
}

/* ASAP Schumann/Kreisleriana/1/ParkJH04M.mid at 172.99-174.51 s, as
 * midifile_load reads it: 86 is released under the pedal; the pedal goes
 * down, a five-note chord is struck, the pedal lifts (63, then 0) while
 * the chord is held; with `repedal` the pedal comes back (35..127, down
 * from the 64) before the keys let go and the file ends there, as the real
 * one does; without it the keys are released with the pedal up. */
static void kreisleriana(GArray *evs, bool repedal)
{
    ON(172.9922, 86, 106); PED(173.2578, 127);
    ON(173.2669, 62, 85); ON(173.2695, 74, 99); ON(173.2734, 69, 84); ON(173.2799, 65, 81);
    ON(173.2826, 98, 111); OFF(173.3086, 86); PED(173.4857, 63); PED(173.5052, 0);
    if (repedal) {
        const double t[] = {173.9206, 173.9401, 173.9609, 173.9792, 173.9987, 174.0195,
                            174.0391, 174.0599, 174.0781};
        const int v[] = {35, 55, 62, 64, 65, 68, 75, 100, 127};
        for (int i = 0; i < 9; i++) PED(t[i], v[i]);
    }
    OFF(174.4167, 98); OFF(174.4336, 62); OFF(174.4414, 65); OFF(174.4609, 69); OFF(174.5052, 74);
}

/* Decoded notes of the tokens of evs (pitch order within a time) against
 * hand-computed {pitch, onset, end}, within the 10 ms grid. */
static void expect_notes(const GArray *evs, const double (*want)[3], int n)
{
    GArray *t = tok_encode_events(evs);
    double first = g_array_index(evs, cn_event, 0).time; /* a NOTE_ON starts both lists */
    GArray *dec = tok_decode_tokens_full((const int *)t->data, t->len, first, 0, 0);
    GArray *got = notecheck_pair(dec), *ref = notecheck_reference(evs);
    assert_int_equal(got->len, n);
    assert_int_equal(ref->len, n);
    for (int i = 0; i < n; i++) {
        const nc_note *g = &g_array_index(got, nc_note, i), *r = &g_array_index(ref, nc_note, i);
        assert_int_equal(g->pitch, (int)want[i][0]);
        assert_int_equal(r->pitch, (int)want[i][0]);
        assert_true(fabs(g->on - want[i][1]) <= NC_ONSET_TOL);
        assert_true(fabs((g->off - g->on) - (want[i][2] - want[i][1])) <= NC_DUR_TOL);
        /* the yardstick itself, exactly */
        assert_true(fabs(r->on - want[i][1]) < 1e-9 && fabs(r->off - want[i][2]) < 1e-9);
    }
    g_array_free(ref, TRUE);
    g_array_free(got, TRUE);
    g_array_free(dec, TRUE);
    g_array_free(t, TRUE);
}

static void test_enc_pedal_lift_held(void **state)
{
    GArray *evs = cn_events_new();
    /* pedal up for the releases: each key ends at its own release
     * (1.13-1.24 s), 86 at the lift that held it (0.49 s) */
    kreisleriana(evs, false);
    const double up[][3] = {{86, 172.9922, 173.4857}, {62, 173.2669, 174.4336},
                            {74, 173.2695, 174.5052}, {69, 173.2734, 174.4609},
                            {65, 173.2799, 174.4414}, {98, 173.2826, 174.4167}};
    expect_notes(evs, up, 6);
    /* the file as it is: released under the second pedal, which never lifts
     * before the file ends: all five sound to the last event (1.22-1.24 s) */
    g_array_set_size(evs, 0);
    kreisleriana(evs, true);
    const double end[][3] = {{86, 172.9922, 173.4857}, {62, 173.2669, 174.5052},
                             {74, 173.2695, 174.5052}, {69, 173.2734, 174.5052},
                             {65, 173.2799, 174.5052}, {98, 173.2826, 174.5052}};
    expect_notes(evs, end, 6);
    /* incrementally, as the live session feeds it: the lift to 63 ends 86
     * only, and no later event (0, the re-pedal, the releases) ends anything */
    tok_encoder e;
    tok_enc_init(&e);
    int out[TOK_ENC_MAX_OUT];
    for (guint i = 0; i < evs->len; i++) {
        const cn_event *ev = &g_array_index(evs, cn_event, i);
        int n = tok_enc_event(&e, ev, out, TOK_ENC_MAX_OUT);
        int offs = 0;
        for (int k = 0; k < n; k++) offs += tok_is_note_off(out[k]);
        if (ev->type == CN_EV_CC && ev->b == 63) {
            assert_int_equal(offs, 1);
            assert_int_equal(out[n - 1], TOK_NOTE_OFF + 86);
        } else {
            assert_int_equal(offs, 0);
        }
    }
    for (int p = 0; p < 128; p++)
        assert_int_equal(e.sounding[p], p == 62 || p == 65 || p == 69 || p == 74 || p == 98);
    /* the flush: 174.5052 is tick 151 from 172.9922 (49 + 102 after the lift) */
    int n = tok_enc_flush(&e, out, TOK_ENC_MAX_OUT);
    char *names = names_of(out, (size_t)n);
    assert_string_equal(names, "TIME_SHIFT_100 TIME_SHIFT_2 NOTE_OFF_62 NOTE_OFF_65 NOTE_OFF_69 "
                               "NOTE_OFF_74 NOTE_OFF_98");
    g_free(names);
    g_array_free(evs, TRUE);
}

static void test_enc_channels(void **state)
{
    GArray *evs = cn_events_new();
    /* the same key on two channels is one instance: the second NOTE_ON
     * re-strikes it, and it ends with the last release */
    add(evs, 0, CN_EV_NOTE_ON, 0, 60, 80); add(evs, 0.1, CN_EV_NOTE_ON, 1, 60, 80);
    add(evs, 0.2, CN_EV_NOTE_OFF, 0, 60, 0); add(evs, 0.25, CN_EV_NOTE_OFF, 2, 60, 0);
    add(evs, 0.3, CN_EV_NOTE_OFF, 1, 60, 0); add(evs, 0.35, CN_EV_NOTE_OFF, 1, 60, 0);
    expect_tokens(evs, "VELOCITY_20 NOTE_ON_60 TIME_SHIFT_10 NOTE_OFF_60 NOTE_ON_60 TIME_SHIFT_20 "
                       "NOTE_OFF_60");
    g_array_set_size(evs, 0);
    /* released on channel 0 under its pedal, then on channel 1 with no pedal:
     * channel 0's pedal still holds it */
    add(evs, 0, CN_EV_NOTE_ON, 0, 60, 80); add(evs, 0, CN_EV_CC, 0, 64, 127);
    add(evs, 0.1, CN_EV_NOTE_ON, 1, 60, 80); add(evs, 0.2, CN_EV_NOTE_OFF, 0, 60, 0);
    add(evs, 0.3, CN_EV_NOTE_OFF, 1, 60, 0); add(evs, 0.5, CN_EV_CC, 1, 64, 0);
    add(evs, 0.6, CN_EV_CC, 0, 64, 0);
    expect_tokens(evs, "VELOCITY_20 NOTE_ON_60 TIME_SHIFT_10 NOTE_OFF_60 NOTE_ON_60 TIME_SHIFT_50 "
                       "NOTE_OFF_60");
    g_array_free(evs, TRUE);
}

static void test_enc_long_gap(void **state)
{
    GArray *evs = cn_events_new();
    ON(0, 60, 80); OFF(3.57, 60);
    expect_tokens(evs, "VELOCITY_20 NOTE_ON_60 TIME_SHIFT_100 TIME_SHIFT_100 TIME_SHIFT_100 "
                       "TIME_SHIFT_57 NOTE_OFF_60");
    /* a silence longer than one call holds (500 s = 500 shifts): no time lost */
    ON(503.571, 62, 80); OFF(503.6, 62);
    GArray *t = tok_encode_events(evs);
    int64_t ticks = 0;
    for (guint i = 0; i < t->len; i++) {
        int k = g_array_index(t, int, i);
        if (tok_is_shift(k)) ticks += k - TOK_TIME_SHIFT;
    }
    assert_int_equal(ticks, 50360);
    assert_int_equal(g_array_index(t, int, t->len - 3), TOK_NOTE_ON + 62);
    assert_int_equal(g_array_index(t, int, t->len - 2), TOK_TIME_SHIFT + 3);
    g_array_free(t, TRUE);
    nc_result r = roundtrip(evs);
    assert_roundtrip_ok(&r);
    /* directly: the event refuses, tok_enc_advance catches up, then it fits */
    tok_encoder e;
    tok_enc_init(&e);
    int out[TOK_ENC_MAX_OUT];
    cn_event on = {.time = 1.0, .type = CN_EV_NOTE_ON, .a = 60, .b = 80};
    cn_event late = {.time = 301.004, .type = CN_EV_NOTE_OFF, .a = 60};
    assert_int_equal(tok_enc_event(&e, &on, out, TOK_ENC_MAX_OUT), 2);
    assert_int_equal(tok_enc_event(&e, &late, out, TOK_ENC_MAX_OUT), -1);
    int n, total = 0;
    while ((n = tok_enc_advance(&e, late.time, out, 64)) > 0) total += n;
    assert_int_equal(total, 300);
    assert_int_equal(e.tick, 30000);
    assert_int_equal(tok_enc_event(&e, &late, out, TOK_ENC_MAX_OUT), 1);
    assert_int_equal(out[0], TOK_NOTE_OFF + 60);
    g_array_free(evs, TRUE);
}

static void test_enc_drift(void **state)
{
    /* 10,000 events at i * 13.7 ms: a running sum of rounded steps would
     * drift by 3.7 ms per event; rounding each absolute time does not. */
    GArray *evs = cn_events_new();
    for (int i = 0; i < 10000; i++) {
        int p = 40 + (i / 2) % 48;
        if (i % 2 == 0) ON(i * 0.0137, p, 1 + (i * 7) % 127);
        else OFF(i * 0.0137, p);
    }
    GArray *t = tok_encode_events(evs);
    GArray *dec = tok_decode_tokens_full((const int *)t->data, t->len, 0.0, 0, 0);
    assert_int_equal(dec->len, 10000);
    for (guint i = 0; i < dec->len; i++) {
        const cn_event *d = &g_array_index(dec, cn_event, i), *s = &g_array_index(evs, cn_event, i);
        assert_int_equal(d->a, s->a);
        assert_true(fabs(d->time - s->time) <= NC_ONSET_TOL);
    }
    nc_result r = roundtrip(evs);
    assert_roundtrip_ok(&r);
    assert_int_equal(r.n_ref, 5000);
    g_array_free(t, TRUE);
    g_array_free(dec, TRUE);
    g_array_free(evs, TRUE);
}

/* A random multi-channel performance with pedals (values on both sides of
 * and right at the 64 threshold), re-strikes, velocity-0 note-ons, stray
 * note-offs, long gaps and an ending with keys or pedals down. */
static GArray *random_performance(GRand *rng, int nch, int n_events)
{
    GArray *evs = cn_events_new();
    double t = g_rand_double_range(rng, 0, 3);
    for (int i = 0; i < n_events; i++) {
        double r = g_rand_double(rng);
        t += r < 0.02 ? g_rand_double_range(rng, 1, 200) : g_rand_double_range(rng, 0, 0.05);
        int ch = g_rand_int_range(rng, 0, nch), p = g_rand_int_range(rng, 55, 67);
        double k = g_rand_double(rng);
        if (k < 0.45) add(evs, t, CN_EV_NOTE_ON, ch, p, g_rand_int_range(rng, 1, 128));
        else if (k < 0.8) add(evs, t, CN_EV_NOTE_OFF, ch, p, 0);
        else if (k < 0.9) add(evs, t, CN_EV_NOTE_ON, ch, p, 0); /* a note-off too */
        else if (k < 0.94) add(evs, t, CN_EV_CC, ch, 64, g_rand_int_range(rng, 0, 128));
        else if (k < 0.97) add(evs, t, CN_EV_CC, ch, 64, g_rand_int_range(rng, 62, 66));
        else add(evs, t, CN_EV_CC, ch, g_rand_int_range(rng, 0, 128), 5);
    }
    return evs;
}

/* The round trip must give every note of random performances back. */
static void test_enc_random_roundtrip(void **state)
{
    GRand *rng = g_rand_new_with_seed(1234);
    size_t at_end = 0;
    for (int doc = 0; doc < 50; doc++) {
        GArray *evs = random_performance(rng, 1 + doc % 3, 2000);
        nc_result r = roundtrip(evs);
        assert_roundtrip_ok(&r);
        assert_true(r.n_ref > 500);
        at_end += r.n_at_end;
        g_array_free(evs, TRUE);
    }
    assert_true(at_end > 50); /* the ending rule was exercised */
    g_rand_free(rng);
}

/* ---- decoder ----------------------------------------------------------- */

static int dec_all(tok_decoder *d, const char *names, cn_event *out)
{
    gchar **v = g_strsplit(names, " ", -1);
    int n = 0;
    for (gchar **s = v; *s; s++) {
        int t = tok_from_name(*s);
        assert_true(t >= 0);
        n += tok_dec_token(d, t, out + n, TOK_DEC_MAX_OUT);
    }
    g_strfreev(v);
    return n;
}

static void expect_event(const cn_event *e, int type, int pitch, double t)
{
    assert_int_equal(e->type, type);
    assert_int_equal(e->a, pitch);
    assert_true(fabs(e->time - t) < 1e-9);
}

static void test_dec_rules(void **state)
{
    tok_decoder d;
    cn_event out[1024];
    tok_dec_init(&d, 100.0, 3, 2.5);
    int n = dec_all(&d, "BOS NOTE_OFF_60 NOTE_ON_60 TIME_SHIFT_10 VELOCITY_31 NOTE_ON_60 PAD EOS CTRL_5 "
                        "TIME_SHIFT_5 NOTE_OFF_60 NOTE_OFF_60", out);
    assert_int_equal(n, 4);
    expect_event(&out[0], CN_EV_NOTE_ON, 60, 100.0);
    assert_int_equal(out[0].b, TOK_DEC_DEFAULT_VELOCITY);
    assert_int_equal(out[0].channel, 3);
    expect_event(&out[1], CN_EV_NOTE_OFF, 60, 100.1); /* re-strike */
    expect_event(&out[2], CN_EV_NOTE_ON, 60, 100.1);
    assert_int_equal(out[2].b, 126);
    expect_event(&out[3], CN_EV_NOTE_OFF, 60, 100.15);
    assert_int_equal(d.n_sounding, 0);
    /* the cap: notes reaching 2.5 s end at onset + 2.5, earliest first */
    n = dec_all(&d, "NOTE_ON_62 TIME_SHIFT_50 NOTE_ON_61 TIME_SHIFT_100 TIME_SHIFT_100 TIME_SHIFT_100 "
                    "NOTE_OFF_62 NOTE_ON_64", out);
    assert_int_equal(n, 5);
    expect_event(&out[0], CN_EV_NOTE_ON, 62, 100.15);
    expect_event(&out[1], CN_EV_NOTE_ON, 61, 100.65);
    expect_event(&out[2], CN_EV_NOTE_OFF, 62, 102.65);
    expect_event(&out[3], CN_EV_NOTE_OFF, 61, 103.15);
    expect_event(&out[4], CN_EV_NOTE_ON, 64, 103.65);
    n = tok_dec_flush(&d, out, 128);
    assert_int_equal(n, 1);
    expect_event(&out[0], CN_EV_NOTE_OFF, 64, 103.65);
    assert_int_equal(tok_dec_flush(&d, out, 128), 0);
    /* a full keyboard flushes in pitch order; too small a buffer refuses */
    for (int p = 127; p >= 0; p--) tok_dec_token(&d, TOK_NOTE_ON + p, out, TOK_DEC_MAX_OUT);
    assert_int_equal(tok_dec_flush(&d, out, 127), -1);
    assert_int_equal(tok_dec_flush(&d, out, 128), 128);
    for (int p = 0; p < 128; p++) expect_event(&out[p], CN_EV_NOTE_OFF, p, 103.65);
}

static void test_dec_no_drift(void **state)
{
    tok_decoder d;
    cn_event out[TOK_DEC_MAX_OUT];
    tok_dec_init(&d, 0.0, 0, 0);
    for (int i = 0; i < 1000000; i++) tok_dec_token(&d, TOK_TIME_SHIFT + 1, out, TOK_DEC_MAX_OUT);
    assert_int_equal(tok_dec_token(&d, TOK_NOTE_ON + 1, out, TOK_DEC_MAX_OUT), 1);
    assert_true(fabs(out[0].time - 10000.0) < 1e-9);
}

/* Random tokens decode into well-formed MIDI: every NOTE_ON matched by
 * exactly one later NOTE_OFF, no note longer than the cap, time order. */
static void fuzz_decoder(guint32 seed, bool with_offs, double cap_s)
{
    GRand *rng = g_rand_new_with_seed(seed);
    tok_decoder d;
    tok_dec_init(&d, 7.0, 0, cap_s);
    cn_event out[TOK_DEC_MAX_OUT];
    double onset[128], last = 7.0;
    bool on[128] = {false};
    long n_on = 0, n_off = 0;
    for (int i = 0; i <= 100000; i++) {
        int n;
        if (i == 100000) {
            n = tok_dec_flush(&d, out, TOK_DEC_MAX_OUT);
        } else {
            int t = g_rand_int_range(rng, 0, TOK_VOCAB_SIZE);
            if (!with_offs && tok_is_note_off(t)) t = TOK_NOTE_ON + (t - TOK_NOTE_OFF);
            n = tok_dec_token(&d, t, out, TOK_DEC_MAX_OUT);
        }
        assert_true(n >= 0 && n <= TOK_DEC_MAX_OUT);
        for (int k = 0; k < n; k++) {
            const cn_event *e = &out[k];
            assert_true(e->time >= last - 1e-12);
            last = e->time;
            if (e->type == CN_EV_NOTE_ON) {
                assert_false(on[e->a]);
                assert_true(e->b >= 1 && e->b <= 127);
                on[e->a] = true;
                onset[e->a] = e->time;
                n_on++;
            } else {
                assert_int_equal(e->type, CN_EV_NOTE_OFF);
                assert_true(on[e->a]);
                on[e->a] = false;
                assert_true(e->time - onset[e->a] <= cap_s + 1e-9);
                n_off++;
            }
        }
    }
    for (int p = 0; p < 128; p++) assert_false(on[p]);
    assert_int_equal(n_on, n_off);
    assert_true(n_on > 10000);
    assert_int_equal(d.n_sounding, 0);
    g_rand_free(rng);
}

static void test_dec_fuzz(void **state)
{
    fuzz_decoder(42, true, 3.0);
    fuzz_decoder(43, false, 3.0); /* no NOTE_OFF tokens at all: only the cap ends notes */
    fuzz_decoder(44, false, 0.05);
}

/* ---- continuo-bench tokens: synthetic files, then the corpus ---------- */

/* Runs build/bin/continuo-bench tokens (beside this test's build/tests)
 * with args; returns its exit status and its `name: value unit` lines as
 * name -> value. */
static int run_bench(const char *const *args, GHashTable **figures)
{
    char *exe = g_file_read_link("/proc/self/exe", NULL), *tests = g_path_get_dirname(exe);
    char *bin = g_build_filename(tests, "..", "bin", "continuo-bench", NULL);
    if (!g_file_test(bin, G_FILE_TEST_IS_EXECUTABLE)) fail_msg("%s: not built (make all)", bin);
    GPtrArray *argv = g_ptr_array_new();
    g_ptr_array_add(argv, bin);
    g_ptr_array_add(argv, "tokens");
    for (const char *const *a = args; *a; a++) g_ptr_array_add(argv, (gpointer)*a);
    g_ptr_array_add(argv, NULL);
    char *out = NULL;
    int status = 0;
    GError *err = NULL;
    if (!g_spawn_sync(NULL, (char **)argv->pdata, NULL, G_SPAWN_DEFAULT, NULL, NULL, &out, NULL,
                      &status, &err))
        fail_msg("%s", err->message);
    *figures = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    gchar **lines = g_strsplit(out, "\n", -1);
    for (gchar **l = lines; *l; l++) {
        char *colon = strchr(*l, ':');
        if (!colon) continue;
        double *v = g_new(double, 1);
        *v = g_ascii_strtod(colon + 1, NULL);
        g_hash_table_insert(*figures, g_strndup(*l, (gsize)(colon - *l)), v);
        print_message("  %s\n", *l);
    }
    g_strfreev(lines);
    g_free(out);
    g_ptr_array_free(argv, TRUE);
    g_free(bin);
    g_free(tests);
    g_free(exe);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static double figure(GHashTable *f, const char *name)
{
    const double *v = g_hash_table_lookup(f, name);
    if (!v) fail_msg("continuo-bench tokens printed no %s", name);
    return *v;
}

/* What every corpus must show: each note back within the grid's error. */
static void assert_bench_ok(GHashTable *f)
{
    assert_int_equal(figure(f, "tokens_bad_files"), 0);
    assert_int_equal(figure(f, "tokens_roundtrip_mismatches"), 0);
    assert_int_equal(figure(f, "tokens_roundtrip_notes_checked"), figure(f, "tokens_notes"));
    assert_true(figure(f, "tokens_roundtrip_max_onset_error") <= 5.0 + 1e-3); /* printed in ms */
    assert_true(figure(f, "tokens_roundtrip_max_duration_error") <= 10.0 + 1e-3);
}

static void test_bench_synthetic(void **state)
{
    char *dir = g_dir_make_tmp("test_token_XXXXXX", NULL);
    assert_non_null(dir);
    GRand *rng = g_rand_new_with_seed(99);
    size_t notes = 0;
    for (int i = 0; i < 5; i++) {
        GArray *evs = i < 2 ? cn_events_new() : random_performance(rng, i - 1, 600);
        if (i < 2) kreisleriana(evs, i == 0);
        for (guint k = 0; k < evs->len; k++) {
            const cn_event *e = &g_array_index(evs, cn_event, k);
            notes += e->type == CN_EV_NOTE_ON && e->b > 0;
        }
        char name[32];
        snprintf(name, sizeof name, "perf%d.mid", i);
        char *path = g_build_filename(dir, name, NULL);
        assert_true(midifile_save(path, evs, TRUE, NULL));
        g_free(path);
        g_array_free(evs, TRUE);
    }
    GHashTable *f;
    const char *args[] = {"--data", dir, NULL};
    assert_int_equal(run_bench(args, &f), 0);
    assert_int_equal(figure(f, "tokens_files"), 5);
    assert_int_equal(figure(f, "tokens_notes"), notes);
    assert_true(figure(f, "tokens_notes_ended_by_file_end") >= 5); /* the Kreisleriana chord */
    /* the random files hold notes through silences of up to 200 s: the
     * decoder's 120 s cap cuts them, they come back exactly that long and
     * are counted apart */
    assert_true(figure(f, "tokens_notes_over_cap") > 0);
    assert_bench_ok(f);
    g_hash_table_unref(f);
    const char *uncapped[] = {"--data", dir, "--max-note-len", "0", NULL};
    assert_int_equal(run_bench(uncapped, &f), 0);
    assert_int_equal(figure(f, "tokens_notes_over_cap"), 0);
    assert_bench_ok(f);
    g_hash_table_unref(f);
    char *cmd = g_strdup_printf("rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
    g_free(cmd);
    g_free(dir);
    g_rand_free(rng);
}

/* The data folder: $CONTINUO_DATA, else ../shared/data (from the repository root). */
static char *data_dir(void)
{
    const char *env = g_getenv("CONTINUO_DATA");
    char *d = g_build_filename(env && *env ? env : "../shared/data", "asap", NULL);
    if (g_file_test(d, G_FILE_TEST_IS_DIR)) return d;
    g_free(d);
    return NULL;
}

/* Every ASAP performance (SPLITS.tsv, kind performance), when the data is here. */
static void test_bench_asap(void **state)
{
    char *dir = data_dir();
    if (!dir) skip();
    GHashTable *f;
    const char *args[] = {"--data", dir, NULL};
    assert_int_equal(run_bench(args, &f), 0);
    assert_true(figure(f, "tokens_files") >= 1000);
    assert_true(figure(f, "tokens_notes") > 3e6);
    assert_int_equal(figure(f, "tokens_notes_over_cap"), 0); /* the default cap cuts no real note */
    assert_bench_ok(f);
    g_hash_table_unref(f);
    g_free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_enc_basic),
        cmocka_unit_test(test_enc_incremental),
        cmocka_unit_test(test_enc_quantize),
        cmocka_unit_test(test_enc_pedal),
        cmocka_unit_test(test_enc_pedal_lift_held),
        cmocka_unit_test(test_enc_channels),
        cmocka_unit_test(test_enc_long_gap),
        cmocka_unit_test(test_enc_drift),
        cmocka_unit_test(test_enc_random_roundtrip),
        cmocka_unit_test(test_dec_rules),
        cmocka_unit_test(test_dec_no_drift),
        cmocka_unit_test(test_dec_fuzz),
        cmocka_unit_test(test_bench_synthetic),
        cmocka_unit_test(test_bench_asap),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
