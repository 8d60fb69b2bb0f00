/* synth.c — FluidSynth glue: a driverless synth that the
 * caller pulls audio from, and the offline render to WAV. See synth.h for
 * the threading rules. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <fluidsynth.h>
#include "error.h"
#include "synth.h"
#include "wav_stream.h"

struct synth {
    fluid_settings_t *settings;
    fluid_synth_t *fs;
};

/* ---------------------------------------------------------------------------
 * FluidSynth's log: it would print to stderr from inside its calls (the
 * render thread included). Every level goes to log_sink instead, which only
 * copies an error into the buffer of a thread that is setting up a synth
 * (and nothing else: it is reached from the RT thread too, so no I/O and no
 * allocation). */

static __thread char *log_capture; /* set by synth_new around loading */
#define LOG_CAPTURE_SIZE 256

static void log_sink(int level, const char *message, void *data)
{
    (void)data;
    if (!log_capture || level > FLUID_ERR || !message) return;
    if (!log_capture[0]) g_strlcpy(log_capture, message, LOG_CAPTURE_SIZE); /* the first cause */
}

static void log_init_once(void)
{
    static gsize done = 0;
    if (g_once_init_enter(&done)) {
        for (int level = FLUID_PANIC; level < LAST_LOG_LEVEL; level++)
            fluid_set_log_function(level, log_sink, NULL);
        g_once_init_leave(&done, 1);
    }
}

static void glib_log_sink(const gchar *domain, GLogLevelFlags level, const gchar *message,
                          gpointer data)
{
    (void)domain;
    log_sink(level & (G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL) ? FLUID_ERR : FLUID_DBG, message,
             data);
}

/* ---------------------------------------------------------------------------
 * The synth */

/* A SoundFont 2/3 file is RIFF with form type "sfbk" (DLS, which FluidSynth
 * also reads when built with libinstpatch, is RIFF "DLS "): anything else is
 * refused here with a clear message before FluidSynth's loaders see it. */
static gboolean soundfont_check(const char *path, GError **err)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        g_set_error(err, CN_ERROR, CN_ERR_SYNTH, "%s: cannot open SoundFont: %s", path,
                    g_strerror(errno));
        return FALSE;
    }
    unsigned char h[12];
    size_t n = fread(h, 1, sizeof h, f);
    fclose(f);
    if (n < sizeof h || memcmp(h, "RIFF", 4) ||
        (memcmp(h + 8, "sfbk", 4) && memcmp(h + 8, "DLS ", 4))) {
        g_set_error(err, CN_ERROR, CN_ERR_SYNTH, "%s: not a SoundFont (SF2/SF3) file", path);
        return FALSE;
    }
    return TRUE;
}

synth *synth_new(const char *sf_path, int sample_rate, GError **err)
{
    log_init_once();
    if (sample_rate < 8000 || sample_rate > 384000) {
        g_set_error(err, CN_ERROR, CN_ERR_ARG, "synth: sample rate %d Hz out of range",
                    sample_rate);
        return NULL;
    }
    char why[LOG_CAPTURE_SIZE] = "";
    log_capture = why;
    synth *s = g_new0(synth, 1);
    s->settings = new_fluid_settings();
    if (!s->settings) goto fail;
    fluid_settings_setnum(s->settings, "synth.sample-rate", sample_rate);
    /* one thread calls us (see synth.h): no mutex in every noteon/render */
    fluid_settings_setint(s->settings, "synth.threadsafe-api", 0);
    /* render in the calling thread only, no helper threads */
    fluid_settings_setint(s->settings, "synth.cpu-cores", 1);
    /* every sample in memory at load time: rendering never reads the file */
    fluid_settings_setint(s->settings, "synth.dynamic-sample-loading", 0);
    fluid_settings_setint(s->settings, "synth.verbose", 0);
    fluid_settings_setnum(s->settings, "synth.gain", SYNTH_GAIN);
    s->fs = new_fluid_synth(s->settings);
    if (!s->fs) goto fail;
    if (!soundfont_check(sf_path, err)) {
        log_capture = NULL;
        synth_free(s);
        return NULL;
    }
    /* FluidSynth's DLS loader (libinstpatch) reports through GLib's log
     * when it refuses a file: keep that off stderr too while loading */
    GLogFunc old_handler = g_log_set_default_handler(glib_log_sink, NULL);
    int id = fluid_synth_sfload(s->fs, sf_path, 1);
    g_log_set_default_handler(old_handler, NULL);
    if (id == FLUID_FAILED) {
        g_set_error(err, CN_ERROR, CN_ERR_SYNTH, "%s: cannot load SoundFont%s%s", sf_path,
                    why[0] ? ": " : "", why);
        log_capture = NULL;
        synth_free(s);
        return NULL;
    }
    for (int ch = 0; ch < 16; ch++)
        if (ch != 9) fluid_synth_program_change(s->fs, ch, 0);
    log_capture = NULL;
    return s;

fail:
    g_set_error(err, CN_ERROR, CN_ERR_SYNTH, "synth: cannot create a FluidSynth synth%s%s",
                why[0] ? ": " : "", why);
    log_capture = NULL;
    synth_free(s);
    return NULL;
}

void synth_free(synth *s)
{
    if (!s) return;
    if (s->fs) delete_fluid_synth(s->fs);
    if (s->settings) delete_fluid_settings(s->settings);
    g_free(s);
}

void synth_event(synth *s, const cn_event *ev)
{
    int ch = ev->channel & 15;
    switch (ev->type) {
    case CN_EV_NOTE_ON:
        if (ev->b) fluid_synth_noteon(s->fs, ch, ev->a & 127, ev->b & 127);
        else fluid_synth_noteoff(s->fs, ch, ev->a & 127);
        break;
    case CN_EV_NOTE_OFF:
        fluid_synth_noteoff(s->fs, ch, ev->a & 127);
        break;
    case CN_EV_CC:
        fluid_synth_cc(s->fs, ch, ev->a & 127, ev->b & 127);
        break;
    case CN_EV_PROGRAM:
        fluid_synth_program_change(s->fs, ch, ev->a & 127);
        break;
    default:
        break;
    }
}

void synth_render(synth *s, float *L, float *R, int nframes)
{
    if (nframes <= 0) return;
    fluid_synth_write_float(s->fs, nframes, L, 0, 1, R, 0, 1);
}

void synth_all_off(synth *s)
{
    for (int ch = 0; ch < 16; ch++) {
        fluid_synth_cc(s->fs, ch, CN_CC_SUSTAIN, 0);
        fluid_synth_cc(s->fs, ch, 66, 0); /* sostenuto */
    }
    fluid_synth_all_notes_off(s->fs, -1);
}

/* ---------------------------------------------------------------------------
 * Offline render */

#define RENDER_BLOCK 1024 /* frames per synth call and WAV write */

/* Renders `frames` frames and appends them to the WAV. */
static gboolean render_to(synth *s, wav_stream *w, int64_t frames, GError **err)
{
    float L[RENDER_BLOCK], R[RENDER_BLOCK], lr[2 * RENDER_BLOCK];
    while (frames > 0) {
        int n = frames < RENDER_BLOCK ? (int)frames : RENDER_BLOCK;
        synth_render(s, L, R, n);
        for (int i = 0; i < n; i++) {
            lr[2 * i] = L[i];
            lr[2 * i + 1] = R[i];
        }
        if (!wav_stream_write(w, lr, (size_t)n, err)) return FALSE;
        frames -= n;
    }
    return TRUE;
}

gboolean synth_render_events_to_wav(const GArray *events, const char *sf_path,
                                    const char *wav_path, int rate, GError **err)
{
    synth *s = synth_new(sf_path, rate, err);
    if (!s) return FALSE;
    wav_stream *w = wav_stream_open(wav_path, (uint32_t)rate, 2, err);
    if (!w) {
        synth_free(s);
        return FALSE;
    }
    GArray *sorted = cn_events_new();
    g_array_append_vals(sorted, events->data, events->len);
    cn_events_sort(sorted);

    gboolean ok = TRUE;
    int64_t done = 0; /* frames written */
    double last = 0.0;
    for (guint i = 0; i < sorted->len && ok; i++) {
        const cn_event *ev = &g_array_index(sorted, cn_event, i);
        double t = ev->time > 0 ? ev->time : 0.0;
        int64_t at = (int64_t)llround(t * rate);
        if (at > done) {
            ok = render_to(s, w, at - done, err);
            done = at;
        }
        synth_event(s, ev);
        if (t > last) last = t;
    }
    int64_t end = (int64_t)llround((last + SYNTH_WAV_TAIL) * rate);
    if (ok && end > done) ok = render_to(s, w, end - done, err);
    if (!wav_stream_close(w, ok ? err : NULL)) ok = FALSE;
    g_array_free(sorted, TRUE);
    synth_free(s);
    return ok;
}
