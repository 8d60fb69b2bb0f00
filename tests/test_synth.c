/* test_synth.c — the FluidSynth glue (plugin/synth.c) with the real
 * SoundFont: an offline render read back by a WAV parser written here
 * (silent before the first note, sounding while notes play, sample-accurate
 * onset, exact length), the live API (events + render, panic lifting the
 * pedal), and the SoundFont look-up and loading errors. The tests that need
 * a SoundFont skip when none is installed (package fluid-soundfont-gm). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <glib.h>
#include <glib/gstdio.h>
#include "error.h"
#include "paths.h"
#include "synth.h"

#define RATE 44100

/* Thresholds, as RMS of the mean of both channels, full scale = 1:
 * silence below -80 dBFS, a sounding piano note above -50 dBFS (measured
 * with FluidR3_GM at SYNTH_GAIN 0.5: a single note ~ -37 dBFS). */
#define SILENT_RMS 1e-4
#define SOUNDING_RMS 3e-3

static char *find_sf_or_skip(void)
{
    GError *err = NULL;
    char *sf = paths_find_soundfont(NULL, &err);
    if (!sf) {
        print_message("skipped: %s\n", err->message);
        g_error_free(err);
    }
    return sf;
}

static void check_one_line(const GError *err, int code, const char *needle)
{
    assert_non_null(err);
    assert_true(err->domain == CN_ERROR);
    assert_int_equal(err->code, code);
    assert_null(strchr(err->message, '\n'));
    if (needle && !strstr(err->message, needle))
        fail_msg("error '%s' does not mention '%s'", err->message, needle);
}

/* ---- a WAV reader of its own (walks the RIFF chunks) ----------------------- */

typedef struct {
    int channels, rate, bits, format;
    size_t frames;
    float *mono; /* (L + R) / 2, full scale 1 */
} wav_data;

static uint32_t le32(const uint8_t *p) { return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24; }
static uint16_t le16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }

static void wav_read(const char *path, wav_data *w)
{
    gchar *buf;
    gsize len;
    memset(w, 0, sizeof *w);
    assert_true(g_file_get_contents(path, &buf, &len, NULL));
    const uint8_t *b = (const uint8_t *)buf;
    assert_true(len >= 12 && !memcmp(b, "RIFF", 4) && !memcmp(b + 8, "WAVE", 4));
    assert_int_equal(le32(b + 4), len - 8);
    size_t off = 12;
    const uint8_t *data = NULL;
    size_t data_len = 0;
    while (off + 8 <= len) {
        uint32_t sz = le32(b + off + 4);
        assert_true(off + 8 + sz <= len);
        if (!memcmp(b + off, "fmt ", 4)) {
            w->format = le16(b + off + 8);
            w->channels = le16(b + off + 10);
            w->rate = (int)le32(b + off + 12);
            w->bits = le16(b + off + 22);
        } else if (!memcmp(b + off, "data", 4)) {
            data = b + off + 8;
            data_len = sz;
        }
        off += 8 + sz + (sz & 1);
    }
    assert_non_null(data);
    assert_int_equal(w->format, 1);
    assert_int_equal(w->channels, 2);
    assert_int_equal(w->bits, 16);
    w->frames = data_len / 4;
    w->mono = g_new(float, w->frames);
    for (size_t i = 0; i < w->frames; i++) {
        int16_t l = (int16_t)le16(data + 4 * i), r = (int16_t)le16(data + 4 * i + 2);
        w->mono[i] = (float)((l + r) / 65536.0);
    }
    g_free(buf);
}

static double rms(const float *x, size_t from, size_t to)
{
    double s = 0;
    for (size_t i = from; i < to; i++) s += (double)x[i] * x[i];
    return to > from ? sqrt(s / (double)(to - from)) : 0;
}

static size_t sec(double t) { return (size_t)llround(t * RATE); }

/* ---- tests ------------------------------------------------------------------ */

static void test_bad_soundfont(void **state)
{
    (void)state;
    gchar *dir = g_dir_make_tmp("test_synth_XXXXXX", NULL);
    gchar *path = g_build_filename(dir, "garbage.sf2", NULL);
    assert_true(g_file_set_contents(path, "RIFF\x10\0\0\0this is not a soundfont", 29, NULL));
    GError *err = NULL;
    assert_null(synth_new(path, RATE, &err));
    check_one_line(err, CN_ERR_SYNTH, path);
    print_message("garbage SoundFont: %s\n", err->message);
    g_clear_error(&err);
    /* right magic, broken body: FluidSynth's own loader refuses it */
    assert_true(g_file_set_contents(path, "RIFF\x40\0\0\0sfbkLIST\x04\0\0\0INFOjunkjunk", 32, NULL));
    assert_null(synth_new(path, RATE, &err));
    check_one_line(err, CN_ERR_SYNTH, path);
    print_message("broken SoundFont: %s\n", err->message);
    g_clear_error(&err);
    assert_null(synth_new("/nonexistent/x.sf2", RATE, &err));
    check_one_line(err, CN_ERR_SYNTH, "/nonexistent/x.sf2");
    g_clear_error(&err);
    g_unlink(path);
    g_rmdir(dir);
    g_free(path);
    g_free(dir);
}

static void add(GArray *a, double t, int type, int ch, int x, int y)
{
    cn_event e = {.time = t, .type = (uint8_t)type, .channel = (uint8_t)ch, .a = (uint8_t)x,
                  .b = (uint8_t)y};
    g_array_append_val(a, e);
}

static void test_render_wav(void **state)
{
    (void)state;
    char *sf = find_sf_or_skip();
    if (!sf) skip();
    /* C major chord 0.5..1.5 s, then C5 1.5..2.0 s (given out of order: the
     * renderer sorts) */
    GArray *ev = cn_events_new();
    add(ev, 1.5, CN_EV_NOTE_ON, 0, 72, 90);
    add(ev, 2.0, CN_EV_NOTE_OFF, 0, 72, 0);
    for (int k = 0; k < 3; k++) {
        add(ev, 0.5, CN_EV_NOTE_ON, 0, 60 + 4 * k - (k == 2), 100);
        add(ev, 1.5, CN_EV_NOTE_OFF, 0, 60 + 4 * k - (k == 2), 0);
    }
    gchar *dir = g_dir_make_tmp("test_synth_XXXXXX", NULL);
    gchar *path = g_build_filename(dir, "out.wav", NULL);
    GError *err = NULL;
    gboolean ok = synth_render_events_to_wav(ev, sf, path, RATE, &err);
    if (!ok) fail_msg("%s", err->message);

    wav_data w;
    wav_read(path, &w);
    assert_int_equal(w.rate, RATE);
    /* last event at 2.0 s plus the 2 s tail, to the frame */
    assert_int_equal(w.frames, sec(2.0 + SYNTH_WAV_TAIL));
    double before = rms(w.mono, 0, sec(0.5));
    double chord = rms(w.mono, sec(0.6), sec(1.4));
    double melody = rms(w.mono, sec(1.55), sec(1.95));
    double tail_end = rms(w.mono, sec(3.5), sec(4.0));
    size_t first = 0;
    while (first < w.frames && w.mono[first] == 0.0f) first++;
    print_message("RMS: before %.2g, chord %.3g, melody %.3g, last 0.5 s of tail %.2g; "
                  "first non-zero frame %zu (note at %zu)\n",
                  before, chord, melody, tail_end, first, sec(0.5));
    assert_true(before < SILENT_RMS);
    assert_true(chord > SOUNDING_RMS);
    assert_true(melody > SOUNDING_RMS);
    assert_true(tail_end < chord / 10); /* released notes decay */
    /* timing: nothing before the note's frame; sound within FluidSynth's
     * 64-frame block plus the piano's attack (5 ms in all) */
    assert_true(first >= sec(0.5) && first < sec(0.5) + sec(0.005));

    g_free(w.mono);
    g_unlink(path);
    g_rmdir(dir);
    g_free(path);
    g_free(dir);
    g_array_free(ev, TRUE);
    free(sf);
}

static void test_live_api(void **state)
{
    (void)state;
    char *sf = find_sf_or_skip();
    if (!sf) skip();
    GError *err = NULL;
    synth *s = synth_new(sf, RATE, &err);
    if (!s) fail_msg("%s", err->message);
    enum { PERIOD = 128, SECONDS = 5 };
    size_t n = (size_t)SECONDS * RATE;
    float *L = g_new0(float, n), *R = g_new0(float, n), *mono = g_new0(float, n);
    /* 0 .. 0.5 s silence; 0.5 s: pedal down, note on; 1.0 s: key up (pedal
     * holds it); 2.0 s: panic; render in JACK-sized periods throughout */
    size_t t_on = sec(0.5), t_up = sec(1.0), t_off = sec(2.0);
    for (size_t f = 0; f < n; f += PERIOD) {
        if (f == (t_on / PERIOD) * PERIOD) {
            synth_event(s, &(cn_event){0, CN_EV_CC, 0, CN_CC_SUSTAIN, 127});
            synth_event(s, &(cn_event){0, CN_EV_NOTE_ON, 0, 64, 110});
        }
        if (f == (t_up / PERIOD) * PERIOD) synth_event(s, &(cn_event){0, CN_EV_NOTE_OFF, 0, 64, 0});
        if (f == (t_off / PERIOD) * PERIOD) synth_all_off(s);
        int k = (int)(n - f < PERIOD ? n - f : PERIOD);
        synth_render(s, L + f, R + f, k);
    }
    for (size_t i = 0; i < n; i++) mono[i] = (L[i] + R[i]) / 2;
    double before = rms(mono, 0, sec(0.45)), held = rms(mono, sec(0.6), sec(1.0)),
           pedal = rms(mono, sec(1.5), sec(2.0)), after = rms(mono, sec(4.5), sec(5.0));
    print_message("live RMS: before %.2g, key down %.3g, pedal only %.3g, 2.5 s after panic %.2g\n",
                  before, held, pedal, after);
    assert_true(before < SILENT_RMS);
    assert_true(held > SOUNDING_RMS);
    assert_true(pedal > SOUNDING_RMS / 4); /* the pedal keeps the note sounding */
    assert_true(after < SILENT_RMS * 10);  /* panic lifted the pedal: the note ended */
    synth_free(s);
    g_free(L);
    g_free(R);
    g_free(mono);
    free(sf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_soundfont),
        cmocka_unit_test(test_render_wav),
        cmocka_unit_test(test_live_api),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
