/* test_music.c — the musical statistics of tools/corpus/music_metrics.c on
 * hand-built note lists whose answers are worked out by hand in each test
 * (exact integer counts; 1e-9 on ratios of them), and the piano roll read
 * back as text. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <glib/gstdio.h>
#include "events.h"
#include "music_metrics.h"
#include "piano_roll.h"

#define EPS 1e-9

static mm_note N(double on, double off, int pitch, int vel)
{
    return (mm_note){on, off, pitch, vel};
}

static void test_overlap(void **state)
{
    (void)state;
    mm_note a[] = {N(0, 1, 60, 64), N(1, 2, 62, 64)};
    mm_note b[] = {N(0, 1, 70, 64), N(1, 2, 72, 64)};          /* other pitches */
    mm_note c[] = {N(0, 1, 60, 64), N(1, 2, 70, 64)};          /* one pitch shared */
    mm_note d[] = {N(0, 1, 60, 64), N(1, 2, 62, 64), N(2, 3, 60, 64), N(3, 4, 62, 64)};
    mm_hist ha, hb, hc, hd;
    mm_histogram(a, 2, MM_PITCH, &ha);
    mm_histogram(b, 2, MM_PITCH, &hb);
    mm_histogram(c, 2, MM_PITCH, &hc);
    mm_histogram(d, 4, MM_PITCH, &hd);
    assert_float_equal(mm_overlap(&ha, &ha), 1.0, EPS);
    assert_float_equal(mm_overlap(&ha, &hd), 1.0, EPS); /* normalized: counts do not matter */
    assert_float_equal(mm_overlap(&ha, &hb), 0.0, EPS);
    assert_float_equal(mm_overlap(&ha, &hc), 0.5, EPS);  /* min(.5,.5) at 60, 0 elsewhere */
    mm_hist empty;
    mm_histogram(a, 0, MM_PITCH, &empty);
    assert_true(isnan(mm_overlap(&ha, &empty)));
    /* pitch class: b is a transposed by 10 semitones, so key-invariantly equal */
    mm_histogram(a, 2, MM_PITCH_CLASS, &ha);
    mm_histogram(b, 2, MM_PITCH_CLASS, &hb);
    assert_float_equal(mm_overlap(&ha, &hb), 1.0, EPS);
    /* {C, D} vs {C, F#}: best transposition matches one class of two */
    mm_note e[] = {N(0, 1, 60, 64), N(1, 2, 66, 64)};
    mm_histogram(e, 2, MM_PITCH_CLASS, &hc);
    assert_float_equal(mm_overlap(&ha, &hc), 0.5, EPS);
}

static void test_ioi_and_polyphony(void **state)
{
    (void)state;
    /* a chord of 3 at 0 (onsets 0, 0.005: one onset), then notes at 0.5, 1.0,
     * 1.02 -> distinct onsets 0, 0.5, 1.0, 1.02: IOIs 0.5, 0.5, 0.02 */
    mm_note n[] = {N(0, 2, 60, 10), N(0, 2, 64, 10), N(0.005, 2, 67, 10),
                   N(0.5, 0.6, 72, 10), N(1.0, 1.5, 74, 10), N(1.02, 1.5, 76, 10)};
    mm_hist h;
    mm_histogram(n, 6, MM_IOI, &h);
    double total = 0;
    for (int i = 0; i < h.n_bins; i++) total += h.count[i];
    assert_float_equal(total, 3, EPS);
    /* 4 log2(0.5/0.01) = 22.58 -> bin 22; 4 log2(2) = 4 -> bin 4 */
    assert_int_equal(mm_duration_bin(0.5), 22);
    assert_int_equal(mm_duration_bin(0.02), 4);
    assert_int_equal(mm_duration_bin(0.001), 0);
    assert_int_equal(mm_duration_bin(100), 39);
    assert_float_equal(h.count[22], 2, EPS);
    assert_float_equal(h.count[4], 1, EPS);
    /* polyphony at each onset: at t = 0 the two notes starting then (2 for
     * each), at 0.005 three, at 0.5 four, at 1.0 four (the chord + itself;
     * 72 ended at 0.6), at 1.02 five */
    mm_histogram(n, 6, MM_POLYPHONY, &h);
    assert_float_equal(h.count[2], 2, EPS); /* both notes at t = 0 */
    assert_float_equal(h.count[3], 1, EPS);
    assert_float_equal(h.count[4], 2, EPS);
    assert_float_equal(h.count[5], 1, EPS);
    assert_float_equal(mm_mean_polyphony(n, 6), (2 + 2 + 3 + 4 + 4 + 5) / 6.0, EPS);
}

static void test_density(void **state)
{
    (void)state;
    /* 20 s: 1 note/s for the first 10 s, 4 notes/s for the last 10 s (times
     * exact in binary, so window edges are not blurred by rounding) */
    GArray *a = g_array_new(FALSE, FALSE, sizeof(mm_note));
    for (int i = 0; i < 10; i++) { mm_note x = N(i, i + 0.2, 60, 40); g_array_append_val(a, x); }
    for (int i = 0; i < 40; i++) {
        mm_note x = N(10 + i * 0.25, 10 + i * 0.25 + 0.125, 62, 80);
        g_array_append_val(a, x);
    }
    const mm_note *n = (const mm_note *)a->data;
    assert_float_equal(mm_rate(n, 50, 0, 20), 2.5, EPS);
    assert_float_equal(mm_rate(n, 50, 10, 20), 4.0, EPS);
    assert_float_equal(mm_drift(n, 50, 0, 20, 5), 4.0, EPS);  /* 20 over 5 */
    assert_float_equal(mm_densest(n, 50, 0, 20, 5), 4.0, EPS);
    assert_float_equal(mm_densest(n, 50, 0, 20, 20), 2.5, EPS);
    assert_float_equal(mm_mean_velocity(n, 50), (10 * 40 + 40 * 80) / 50.0, EPS);
    assert_true(isinf(mm_drift(n, 50, -10, 20, 5)));          /* nothing in -10..-5 */
    assert_true(isnan(mm_drift(n, 0, 0, 20, 5)));
    /* silence: the 0.8 s after each of the first notes; 9.8..10 is 0.2 */
    assert_float_equal(mm_longest_silence(n, 50, 0, 20), 0.8, EPS);
    assert_float_equal(mm_longest_silence(n, 50, -3, 20), 3.0, EPS);
    assert_float_equal(mm_longest_silence(n, 0, 0, 20), 20.0, EPS);
    g_array_free(a, TRUE);
}

static void test_longest_repeat(void **state)
{
    (void)state;
    /* pitches 1 2 3 4 9 1 2 3 4 5: "1 2 3 4" repeats -> 4 */
    int p[] = {1, 2, 3, 4, 9, 1, 2, 3, 4, 5};
    mm_note n[10];
    for (int i = 0; i < 10; i++) n[i] = N(i, i + 1, p[i], 64);
    assert_int_equal(mm_longest_repeat(n, 10), 4);
    /* one pitch 7 times: the runs may not overlap -> 3 (plus one left over) */
    for (int i = 0; i < 7; i++) n[i].pitch = 60;
    assert_int_equal(mm_longest_repeat(n, 7), 3);
    for (int i = 0; i < 5; i++) n[i].pitch = 60 + i; /* all distinct */
    assert_int_equal(mm_longest_repeat(n, 5), 0);
    assert_int_equal(mm_longest_repeat(n, 0), 0);
}

static void test_accompaniment(void **state)
{
    (void)state;
    /* performer: C4 (60) over 0..1, E4 (64) over 1..2, nothing after 2 */
    mm_note perf[] = {N(0, 1, 60, 64), N(1, 2, 64, 64)};
    mm_note model[] = {
        N(0.1, 0.5, 67, 64), /* G4 over C4: above, fifth: consonant */
        N(0.2, 0.5, 61, 64), /* C#4 over C4: above, minor second: dissonant */
        N(1.0, 1.5, 48, 64), /* C3 under E4: major sixth (16 -> 4): consonant */
        N(1.5, 1.6, 70, 64), /* Bb4 over E4: tritone: above, dissonant */
        N(2.5, 3.0, 72, 64), /* nothing sounding: not met */
    };
    mm_accomp a;
    mm_accompaniment(model, 5, perf, 2, &a);
    assert_int_equal(a.model_notes, 5);
    assert_int_equal(a.performer_notes, 2);
    assert_int_equal(a.met, 4);
    assert_int_equal(a.above, 3);
    assert_int_equal(a.consonant, 2);
}

static void test_notes_from_events(void **state)
{
    (void)state;
    cn_event ev[] = {
        {0.0, CN_EV_NOTE_ON, 0, 60, 100}, {0.5, CN_EV_NOTE_ON, 1, 60, 50},
        {1.0, CN_EV_NOTE_OFF, 0, 60, 0},  {1.2, CN_EV_NOTE_ON, 0, 62, 70},
        {1.4, CN_EV_NOTE_ON, 0, 62, 0},   /* velocity 0 ends it */
        {3.0, CN_EV_NOTE_ON, 0, 64, 90},  /* never ended: ends at t1 */
        {9.0, CN_EV_NOTE_ON, 0, 65, 90},  /* after t1: left out */
    };
    GArray *e = g_array_new(FALSE, FALSE, sizeof(cn_event));
    g_array_append_vals(e, ev, G_N_ELEMENTS(ev));
    GArray *n = mm_notes_from_events(e, 0, 0.0, 5.0);
    assert_int_equal(n->len, 3);
    mm_note *x = (mm_note *)n->data;
    assert_float_equal(x[0].off, 1.0, EPS);
    assert_int_equal(x[0].velocity, 100);
    assert_float_equal(x[1].on, 1.2, EPS);
    assert_float_equal(x[1].off, 1.4, EPS);
    assert_float_equal(x[2].off, 5.0, EPS);
    g_array_free(n, TRUE);
    n = mm_notes_from_events(e, -1, 0.0, 5.0);
    assert_int_equal(n->len, 4); /* channel 1's note too, still held: ends at 5 */
    assert_float_equal(((mm_note *)n->data)[1].off, 5.0, EPS);
    g_array_free(n, TRUE);
    g_array_free(e, TRUE);
}

static void test_piano_roll(void **state)
{
    (void)state;
    mm_note a[] = {N(0, 1, 60, 64)}, b[] = {N(2, 3, 72, 127), N(3, 4, 74, 1)};
    GError *err = NULL;
    char *dir = g_dir_make_tmp("continuo-test-music-XXXXXX", &err);
    assert_non_null(dir);
    char *path = g_build_filename(dir, "roll.svg", NULL);
    piano_roll_opts o = {"t <1>", "primer", "model", 0, 4, 2};
    assert_true(piano_roll_write_svg(path, a, 1, b, 2, &o, &err));
    char *text;
    assert_true(g_file_get_contents(path, &text, NULL, NULL));
    int rects = 0;
    for (const char *s = text; (s = strstr(s, "<rect x=")); s++) rects++;
    assert_int_equal(rects, 3);
    assert_non_null(strstr(text, "t &lt;1&gt;"));   /* the title is escaped */
    assert_non_null(strstr(text, "</svg>"));
    g_free(text);
    g_unlink(path);
    g_rmdir(dir);
    g_free(path);
    g_free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_overlap),
        cmocka_unit_test(test_ioi_and_polyphony),
        cmocka_unit_test(test_density),
        cmocka_unit_test(test_longest_repeat),
        cmocka_unit_test(test_accompaniment),
        cmocka_unit_test(test_notes_from_events),
        cmocka_unit_test(test_piano_roll),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
