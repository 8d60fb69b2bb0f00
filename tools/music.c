/* music.c — continuo-music: how musical the model's playing is, measured
 * against real performances.
 *
 *   continuo-music [--model M] [--preset duet] [--files 8] [--out DIR] [--json] ...
 *
 * Continuation (the `continuo continue` generation core, engine/continuation.h,
 * with the preset's sampling and limits): for --files performances of the
 * ASAP validation split (the first long enough in each of --files equal
 * strides of the split's list), or for the files given as arguments, the
 * primer is
 * [offset, offset + primer-seconds) of the file (held notes ended at the cut),
 * the model continues it for --seconds, and the result is compared with the
 * real continuation, [cut, cut + seconds) of the same file. Real notes are
 * taken through the tokenizer (encode, decode) so they look as the model's do:
 * sustain folded into lengths, 10 ms times, binned velocities.
 *   overlap_F_gen_vs_real   model continuation vs the real continuation
 *   overlap_F_real_vs_real  the real primer vs the real continuation: how much
 *                           a performance itself changes from one stretch to
 *                           the next (the ceiling to read the first against)
 * Accompaniment (the live path, not the continuation core: the session in
 * accompany mode, engine/session.h, driven on a virtual clock in 5.3 ms
 * passes as a JACK host would, without JACK): for --accomp-files POP909
 * validation songs (chosen likewise) the MELODY track (channel 1) from
 * --accomp-offset for --seconds is the performer; the song's own BRIDGE and
 * PIANO tracks over the same stretch are the real reference. Notes here are
 * the events as played (no pedal folding); "above" and "consonant" are
 * defined in music_metrics.h (mm_accompaniment).
 * Prints `name: value unit` lines (or one JSON object with --json); progress
 * and per-file lines go to stderr. Piano rolls (SVG) go to --out. */
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <glib.h>
#include <glib/gstdio.h>
#include "continuation.h"
#include "midifile.h"
#include "model.h"
#include "music_metrics.h"
#include "paths.h"
#include "piano_roll.h"
#include "session.h"
#include "splitlist.h"
#include "token.h"

typedef struct {
    char *model, *preset, *accomp_preset, *data, *out;
    int files, accomp_files;
    double seconds, primer_seconds, offset, accomp_offset, temperature, top_p, density;
    double density_scale; /* v2 continuations: the primer's density times this (1) */
    gint64 seed;
    gboolean json;
} music_opts;

/* ---------------------------------------------------------------------------
 * The report: `name: value unit` lines, or a JSON object */

typedef struct {
    gboolean json;
    int n;
} report;

static void put(report *r, const char *name, double v, const char *unit)
{
    if (r->json) {
        printf("%s\n  \"%s\": ", r->n++ ? "," : "{", name);
        if (isfinite(v)) printf("%.6g", v);
        else printf("null");
    } else {
        printf("%s: %.4g%s%s\n", name, v, *unit ? " " : "", unit);
    }
}

static void report_end(report *r)
{
    if (r->json) printf("%s}\n", r->n ? "\n" : "{");
}

static int dbl_cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Median / mean / worst of the finite values (worst: farthest from 1 as a
 * ratio, i.e. largest |log v|; inf counts as worst). */
typedef enum { AGG_MEDIAN, AGG_MEAN, AGG_MAX, AGG_WORST_RATIO } agg;

static double aggregate(const double *v, int n, agg how)
{
    double *x = g_new(double, n), s = 0;
    int k = 0;
    for (int i = 0; i < n; i++)
        if (!isnan(v[i])) x[k++] = v[i];
    double r = NAN;
    if (k > 0) {
        qsort(x, k, sizeof *x, dbl_cmp);
        switch (how) {
        case AGG_MEDIAN: r = k % 2 ? x[k / 2] : 0.5 * (x[k / 2 - 1] + x[k / 2]); break;
        case AGG_MEAN: for (int i = 0; i < k; i++) s += x[i]; r = s / k; break;
        case AGG_MAX: r = x[k - 1]; break;
        case AGG_WORST_RATIO:
            r = x[0];
            for (int i = 0; i < k; i++)
                if (fabs(log(x[i])) > fabs(log(r))) r = x[i];
            break;
        }
    }
    g_free(x);
    return r;
}

/* ---------------------------------------------------------------------------
 * Notes as the tokenizer sees them */

/* Events in [t0, t1) (notes begun before t0 dropped; held notes and pedals
 * ended at t1), encoded and decoded back: sustain folded, 10 ms grid. */
static GArray *tokenized_notes(const GArray *ev, double t0, double t1, int channel,
                               GArray **tokens_out, double *origin)
{
    GArray *cut = cn_events_new();
    gboolean begun[16][128] = {{FALSE}};
    for (guint i = 0; i < ev->len; i++) {
        const cn_event *e = &g_array_index(ev, cn_event, i);
        if (e->time < t0 || e->time >= t1 || (channel >= 0 && e->channel != channel)) continue;
        gboolean on = e->type == CN_EV_NOTE_ON && e->b > 0;
        gboolean off = e->type == CN_EV_NOTE_OFF || (e->type == CN_EV_NOTE_ON && e->b == 0);
        if (off && !begun[e->channel & 15][e->a & 127]) continue;
        if (on) begun[e->channel & 15][e->a & 127] = TRUE;
        g_array_append_val(cut, *e);
    }
    continuation_primer_close(cut, t1);
    cn_events_sort(cut);
    continuation_primer pi;
    continuation_primer_scan(cut, &pi);
    GArray *tokens = tok_encode_events(cut);
    GArray *dec = tok_decode_tokens((const int *)tokens->data, tokens->len, pi.origin);
    GArray *notes = mm_notes_from_events(dec, -1, -INFINITY, INFINITY);
    if (tokens_out) *tokens_out = tokens;
    else g_array_free(tokens, TRUE);
    if (origin) *origin = pi.origin;
    g_array_free(dec, TRUE);
    g_array_free(cut, TRUE);
    return notes;
}

static GArray *notes_between(const GArray *notes, double t0, double t1)
{
    GArray *r = g_array_new(FALSE, FALSE, sizeof(mm_note));
    for (guint i = 0; i < notes->len; i++) {
        mm_note n = g_array_index(notes, mm_note, i);
        if (n.on >= t0 && n.on < t1) g_array_append_val(r, n);
    }
    return r;
}

#define NOTES(a) ((const mm_note *)(a)->data), ((int)(a)->len)

static double file_length(const GArray *ev)
{
    return ev->len ? g_array_index(ev, cn_event, ev->len - 1).time : 0.0;
}

/* A file's events, or NULL when it cannot be read (a line on stderr) or
 * ends before t1 (s). */
static GArray *load_file(const char *path, double t1)
{
    GError *err = NULL;
    GArray *ev = midifile_load(path, &err);
    if (!ev) {
        fprintf(stderr, "continuo-music: %s\n", err->message);
        g_error_free(err);
        return NULL;
    }
    if (file_length(ev) < t1) {
        g_array_free(ev, TRUE);
        return NULL;
    }
    return ev;
}

static void write_roll(const music_opts *o, const char *name, const GArray *a, const GArray *b,
                       const char *la, const char *lb, double t0, double t1, double split)
{
    if (!o->out) return;
    gchar *path = g_build_filename(o->out, name, NULL);
    piano_roll_opts po = {name, la, lb, t0, t1, split};
    GError *err = NULL;
    if (!piano_roll_write_svg(path, NOTES(a), NOTES(b), &po, &err)) {
        fprintf(stderr, "continuo-music: %s\n", err->message);
        g_error_free(err);
    }
    g_free(path);
}

/* ---------------------------------------------------------------------------
 * Continuation */

typedef struct {
    double ov_gen[MM_N_FEATURES], ov_real[MM_N_FEATURES];
    double rate_primer, ratio_gen, ratio_real, drift_gen, drift_real, densest_gen, densest_real;
    double vshift_gen, vshift_real, poly_primer, poly_gen, poly_real, silence_gen, silence_real;
    double repeat_gen, repeat_real, tokens;
} cont_figures;

static void figures_of(const GArray *primer, const GArray *gen, const GArray *real, double t_gen,
                       double t_real, const music_opts *o, cont_figures *f)
{
    for (int k = 0; k < MM_N_FEATURES; k++) {
        mm_hist hp, hg, hr;
        mm_histogram(NOTES(primer), k, &hp);
        mm_histogram(NOTES(gen), k, &hg);
        mm_histogram(NOTES(real), k, &hr);
        f->ov_gen[k] = mm_overlap(&hg, &hr);
        f->ov_real[k] = mm_overlap(&hp, &hr);
    }
    double S = o->seconds;
    f->rate_primer = primer->len / o->primer_seconds;
    f->ratio_gen = mm_rate(NOTES(gen), t_gen, t_gen + S) / f->rate_primer;
    f->ratio_real = mm_rate(NOTES(real), t_real, t_real + S) / f->rate_primer;
    f->drift_gen = mm_drift(NOTES(gen), t_gen, t_gen + S, 5.0);
    f->drift_real = mm_drift(NOTES(real), t_real, t_real + S, 5.0);
    f->densest_gen = mm_densest(NOTES(gen), t_gen, t_gen + S, 5.0);
    f->densest_real = mm_densest(NOTES(real), t_real, t_real + S, 5.0);
    double vp = mm_mean_velocity(NOTES(primer));
    f->vshift_gen = mm_mean_velocity(NOTES(gen)) - vp;
    f->vshift_real = mm_mean_velocity(NOTES(real)) - vp;
    f->poly_primer = mm_mean_polyphony(NOTES(primer));
    f->poly_gen = mm_mean_polyphony(NOTES(gen));
    f->poly_real = mm_mean_polyphony(NOTES(real));
    f->repeat_gen = mm_longest_repeat(NOTES(gen));
    f->repeat_real = mm_longest_repeat(NOTES(real));
    f->silence_gen = mm_longest_silence(NOTES(gen), t_gen, t_gen + S);
    f->silence_real = mm_longest_silence(NOTES(real), t_real, t_real + S);
}

/* One file: FALSE (and a line on stderr) when it cannot be used. */
static gboolean continue_file(model *m, const session_config *sc, const music_opts *o,
                              const char *path, int index, cont_figures *f)
{
    double t0 = o->offset, cut = t0 + o->primer_seconds, t1 = cut + o->seconds;
    GArray *ev = load_file(path, t1);
    if (!ev) return FALSE;
    GError *err = NULL;
    GArray *tokens;
    double origin;
    GArray *primer = tokenized_notes(ev, t0, cut, -1, &tokens, &origin);
    GArray *whole = tokenized_notes(ev, t0, t1, -1, NULL, NULL);
    GArray *real = notes_between(whole, cut, t1);
    GArray *out = cn_events_new();
    continuation_params cp = {.seconds = o->seconds, .channel = sc->model_channel,
                              .sampling = sc->sampling, .limits = sc->limits,
                              .seed = sc->seed + (uint64_t)index,
                              .density_scale = o->density_scale};
    continuation_result cr;
    gboolean ok = continuation_generate(m, tokens, origin, &cp, out, &cr, &err);
    if (ok) {
        GArray *gen = mm_notes_from_events(out, -1, cr.t_start, cr.t_start + o->seconds);
        figures_of(primer, gen, real, cr.t_start, cut, o, f);
        f->tokens = cr.tokens;
        fprintf(stderr, "continuo-music: %s: primer %u notes (%.1f/s), model %u, real %u; "
                "%ld tokens in %.1f s\n", path, primer->len, f->rate_primer, gen->len, real->len,
                cr.tokens, cr.generate_s);
        gchar *name = g_strdup_printf("continue-%02d.svg", index);
        write_roll(o, name, primer, gen, "primer", "model", t0, t1, cr.t_start);
        g_free(name);
        name = g_strdup_printf("continue-%02d-real.svg", index);
        write_roll(o, name, primer, real, "primer", "real continuation", t0, t1, cut);
        g_free(name);
        g_array_free(gen, TRUE);
    } else {
        fprintf(stderr, "continuo-music: %s: %s\n", path, err->message);
        g_error_free(err);
    }
    g_array_free(out, TRUE);
    g_array_free(real, TRUE);
    g_array_free(whole, TRUE);
    g_array_free(primer, TRUE);
    g_array_free(tokens, TRUE);
    g_array_free(ev, TRUE);
    return ok;
}

static double *field_values(GArray *figs, size_t off)
{
    double *v = g_new(double, figs->len);
    for (guint i = 0; i < figs->len; i++)
        v[i] = *(const double *)((const char *)&g_array_index(figs, cont_figures, i) + off);
    return v;
}

static void put_agg(report *r, GArray *figs, size_t off, const char *name, agg how,
                    const char *unit)
{
    double *v = field_values(figs, off);
    put(r, name, aggregate(v, (int)figs->len, how), unit);
    g_free(v);
}
#define PUT(r, figs, field, name, how, unit) \
    put_agg(r, figs, offsetof(cont_figures, field), name, how, unit)

static void report_continuation(report *r, GArray *figs)
{
    put(r, "continue_files", figs->len, "files");
    for (int k = 0; k < MM_N_FEATURES; k++) {
        char name[64];
        snprintf(name, sizeof name, "overlap_%s_gen_vs_real", mm_feature_name(k));
        PUT(r, figs, ov_gen[k], name, AGG_MEAN, "");
        snprintf(name, sizeof name, "overlap_%s_real_vs_real", mm_feature_name(k));
        PUT(r, figs, ov_real[k], name, AGG_MEAN, "");
    }
    PUT(r, figs, rate_primer, "primer_density_median", AGG_MEDIAN, "notes/s");
    PUT(r, figs, ratio_gen, "density_ratio_gen_median", AGG_MEDIAN, "x");
    PUT(r, figs, ratio_gen, "density_ratio_gen_worst", AGG_WORST_RATIO, "x");
    PUT(r, figs, ratio_real, "density_ratio_real_median", AGG_MEDIAN, "x");
    PUT(r, figs, ratio_real, "density_ratio_real_worst", AGG_WORST_RATIO, "x");
    PUT(r, figs, drift_gen, "drift_gen_median", AGG_MEDIAN, "x");
    PUT(r, figs, drift_gen, "drift_gen_max", AGG_MAX, "x");
    PUT(r, figs, drift_real, "drift_real_median", AGG_MEDIAN, "x");
    PUT(r, figs, drift_real, "drift_real_max", AGG_MAX, "x");
    PUT(r, figs, densest_gen, "densest_5s_gen_median", AGG_MEDIAN, "notes/s");
    PUT(r, figs, densest_gen, "densest_5s_gen_max", AGG_MAX, "notes/s");
    PUT(r, figs, densest_real, "densest_5s_real_median", AGG_MEDIAN, "notes/s");
    PUT(r, figs, densest_real, "densest_5s_real_max", AGG_MAX, "notes/s");
    PUT(r, figs, vshift_gen, "velocity_shift_gen_mean", AGG_MEAN, "velocity");
    PUT(r, figs, vshift_real, "velocity_shift_real_mean", AGG_MEAN, "velocity");
    PUT(r, figs, poly_primer, "polyphony_primer_mean", AGG_MEAN, "notes");
    PUT(r, figs, poly_gen, "polyphony_gen_mean", AGG_MEAN, "notes");
    PUT(r, figs, poly_real, "polyphony_real_mean", AGG_MEAN, "notes");
    PUT(r, figs, repeat_gen, "longest_repeat_gen_median", AGG_MEDIAN, "notes");
    PUT(r, figs, repeat_gen, "longest_repeat_gen_max", AGG_MAX, "notes");
    PUT(r, figs, repeat_real, "longest_repeat_real_median", AGG_MEDIAN, "notes");
    PUT(r, figs, repeat_real, "longest_repeat_real_max", AGG_MAX, "notes");
    PUT(r, figs, silence_gen, "longest_silence_gen_max", AGG_MAX, "s");
    PUT(r, figs, silence_real, "longest_silence_real_max", AGG_MAX, "s");
    PUT(r, figs, tokens, "tokens_per_file_mean", AGG_MEAN, "tokens");
}

/* ---------------------------------------------------------------------------
 * Accompaniment: the session on a virtual clock */

#define PASS_S (256.0 / 48000.0) /* one JACK period at 48 kHz */
#define HORIZON_S (2 * PASS_S)
#define TAKE_CAP 256
#define MELODY_CHANNEL 0         /* POP909: MELODY on channel 1, BRIDGE 2, PIANO 3 */
#define LEAD_IN_S 0.5            /* performer time = file time - offset + this */

typedef struct {
    double notes_per_note, above, consonant, rate;
    double real_notes_per_note, real_above, real_consonant, real_rate;
} accomp_figures;

/* Plays the melody's events (already on the session's clock) into a fresh
 * session and returns what the model played (events on model_channel). */
static GArray *accompany(model *m, const session_config *sc, const GArray *melody, double end,
                         GError **err)
{
    session *s = session_new(sc, m, err);
    if (!s) return NULL;
    GArray *played = cn_events_new();
    cn_event take[TAKE_CAP];
    guint next = 0;
    double now = 0;
    for (long i = 0; now < end; i++) {
        now = i * PASS_S;
        while (next < melody->len && g_array_index(melody, cn_event, next).time <= now)
            session_input(s, &g_array_index(melody, cn_event, next++));
        int n;
        while ((n = session_take_due(s, now, now + HORIZON_S, take, TAKE_CAP)) > 0)
            g_array_append_vals(played, take, (guint)n);
        session_step(s, now);
    }
    session_panic(s, now);
    int n;
    while ((n = session_take_due(s, now, INFINITY, take, TAKE_CAP)) > 0)
        g_array_append_vals(played, take, (guint)n);
    session_free(s);
    return played;
}

static void accomp_of(const GArray *model_notes, const GArray *perf, double S, double *per_note,
                      double *above, double *consonant, double *rate)
{
    mm_accomp a;
    mm_accompaniment(NOTES(model_notes), NOTES(perf), &a);
    *per_note = a.performer_notes ? (double)a.model_notes / a.performer_notes : NAN;
    *above = a.met ? (double)a.above / a.met : NAN;
    *consonant = a.met ? (double)a.consonant / a.met : NAN;
    *rate = a.model_notes / S;
}

static gboolean accompany_file(model *m, const session_config *sc, const music_opts *o,
                               const char *path, int index, accomp_figures *f)
{
    double t0 = o->accomp_offset, t1 = t0 + o->seconds;
    GArray *ev = load_file(path, t1);
    if (!ev) return FALSE;
    GError *err = NULL;
    /* the performer: the melody's events in [t0, t1), moved onto the clock */
    GArray *melody = cn_events_new();
    for (guint i = 0; i < ev->len; i++) {
        cn_event e = g_array_index(ev, cn_event, i);
        if (e.channel != MELODY_CHANNEL || e.time < t0 || e.time >= t1) continue;
        e.time += LEAD_IN_S - t0;
        g_array_append_val(melody, e);
    }
    continuation_primer_close(melody, t1 - t0 + LEAD_IN_S);
    cn_events_sort(melody);
    double a0 = LEAD_IN_S, a1 = LEAD_IN_S + o->seconds;
    GArray *perf = mm_notes_from_events(melody, MELODY_CHANNEL, a0, a1);
    gboolean ok = perf->len > 0;
    GArray *played = ok ? accompany(m, sc, melody, a1, &err) : NULL;
    if (played) {
        GArray *model_notes = mm_notes_from_events(played, sc->model_channel, a0, a1 + 60);
        accomp_of(model_notes, perf, o->seconds, &f->notes_per_note, &f->above, &f->consonant,
                  &f->rate);
        /* the song's own accompaniment (BRIDGE + PIANO), same stretch */
        GArray *mel_real = mm_notes_from_events(ev, MELODY_CHANNEL, t0, t1);
        GArray *acc_ev = cn_events_new();
        for (guint i = 0; i < ev->len; i++)
            if (g_array_index(ev, cn_event, i).channel != MELODY_CHANNEL)
                g_array_append_val(acc_ev, g_array_index(ev, cn_event, i));
        GArray *real = mm_notes_from_events(acc_ev, -1, t0, t1);
        accomp_of(real, mel_real, o->seconds, &f->real_notes_per_note, &f->real_above,
                  &f->real_consonant, &f->real_rate);
        fprintf(stderr, "continuo-music: %s: melody %u notes, model %u, song's accompaniment %u\n",
                path, perf->len, model_notes->len, real->len);
        gchar *name = g_strdup_printf("accompany-%02d.svg", index);
        write_roll(o, name, perf, model_notes, "performer (melody)", "model", 0, a1 + 1, a0);
        g_free(name);
        g_array_free(acc_ev, TRUE);
        g_array_free(mel_real, TRUE);
        g_array_free(real, TRUE);
        g_array_free(model_notes, TRUE);
        g_array_free(played, TRUE);
    } else if (err) {
        fprintf(stderr, "continuo-music: %s: %s\n", path, err->message);
        g_error_free(err);
        ok = FALSE;
    }
    g_array_free(perf, TRUE);
    g_array_free(melody, TRUE);
    g_array_free(ev, TRUE);
    return ok;
}

static void report_accompaniment(report *r, const GArray *figs)
{
    int n = (int)figs->len;
    double *v = g_new(double, n);
    put(r, "accompany_files", n, "files");
#define ACC(field, name, unit)                                                      \
    do {                                                                            \
        for (int i = 0; i < n; i++) v[i] = g_array_index(figs, accomp_figures, i).field; \
        put(r, name, aggregate(v, n, AGG_MEAN), unit);                              \
    } while (0)
    ACC(notes_per_note, "accompany_notes_per_performer_note", "notes");
    ACC(real_notes_per_note, "accompany_real_notes_per_performer_note", "notes");
    ACC(above, "accompany_above_melody", "fraction");
    ACC(real_above, "accompany_real_above_melody", "fraction");
    ACC(consonant, "accompany_consonant", "fraction");
    ACC(real_consonant, "accompany_real_consonant", "fraction");
    ACC(rate, "accompany_density", "notes/s");
    ACC(real_rate, "accompany_real_density", "notes/s");
#undef ACC
    g_free(v);
}

/* ---------------------------------------------------------------------------
 * The program */

static gboolean parse_options(int *argc, char ***argv, music_opts *o)
{
    *o = (music_opts){.preset = g_strdup("duet"), .accomp_preset = g_strdup("accompany"),
                      .files = 8, .accomp_files = 4, .seconds = 30, .primer_seconds = 20,
                      .offset = 20, .accomp_offset = 30, .temperature = -1, .top_p = -1,
                      .density = -1, .seed = -1, .density_scale = 1};
    GOptionEntry entries[] = {
        {"model", 'm', 0, G_OPTION_ARG_FILENAME, &o->model, "weights (default: as continuo continue finds it)", "FILE"},
        {"preset", 0, 0, G_OPTION_ARG_STRING, &o->preset, "sampling and limits of the continuations (duet)", "NAME"},
        {"accomp-preset", 0, 0, G_OPTION_ARG_STRING, &o->accomp_preset, "preset of the accompaniment run (accompany)", "NAME"},
        {"data", 0, 0, G_OPTION_ARG_FILENAME, &o->data, "data folder holding asap/ and pop909/ (default $CONTINUO_DATA, else ../shared/data)", "DIR"},
        {"files", 'n', 0, G_OPTION_ARG_INT, &o->files, "ASAP validation performances to continue, spread through the split (8; 0 = none)", "N"},
        {"accomp-files", 0, 0, G_OPTION_ARG_INT, &o->accomp_files, "POP909 validation songs to accompany, spread through the split (4; 0 = none)", "N"},
        {"seconds", 's', 0, G_OPTION_ARG_DOUBLE, &o->seconds, "seconds of continuation / accompaniment (30)", "S"},
        {"primer-seconds", 0, 0, G_OPTION_ARG_DOUBLE, &o->primer_seconds, "seconds of primer (20)", "S"},
        {"offset", 0, 0, G_OPTION_ARG_DOUBLE, &o->offset, "where the primer starts in each performance (20 s)", "S"},
        {"accomp-offset", 0, 0, G_OPTION_ARG_DOUBLE, &o->accomp_offset, "where the melody starts in each song (30 s)", "S"},
        {"seed", 0, 0, G_OPTION_ARG_INT64, &o->seed, "sampling seed (the preset's); file i uses seed + i", "S"},
        {"temperature", 't', 0, G_OPTION_ARG_DOUBLE, &o->temperature, "override the presets' temperature", "T"},
        {"top-p", 'p', 0, G_OPTION_ARG_DOUBLE, &o->top_p, "override the presets' top-p", "P"},
        {"density", 0, 0, G_OPTION_ARG_DOUBLE, &o->density, "override the accompaniment's note density factor (the session's; continuations have none)", "D"},
        {"density-scale", 0, 0, G_OPTION_ARG_DOUBLE, &o->density_scale, "v2 models: continuations are asked for the primer's density times X (1; 0.5 and 2 check the control)", "X"},
        {"out", 'o', 0, G_OPTION_ARG_FILENAME, &o->out, "write SVG piano rolls into this folder", "DIR"},
        {"json", 0, 0, G_OPTION_ARG_NONE, &o->json, "one JSON object instead of name: value lines", NULL},
        {NULL, 0, 0, 0, NULL, NULL, NULL},
    };
    GOptionContext *oc = g_option_context_new("[PERFORMANCE.mid ...] - musical statistics of the model's continuations and accompaniment");
    g_option_context_add_main_entries(oc, entries, NULL);
    GError *err = NULL;
    gboolean ok = g_option_context_parse(oc, argc, argv, &err);
    g_option_context_free(oc);
    const char *bad = !ok ? err->message : !(o->seconds >= 10) ? "--seconds must be >= 10 (drift compares 5 s windows)"
                    : !(o->primer_seconds > 0) ? "--primer-seconds must be > 0"
                    : !(o->density_scale > 0 && o->density_scale <= 16) ? "--density-scale must be in (0, 16]"
                    : o->files < 0 || o->accomp_files < 0 ? "--files must be >= 0" : NULL;
    if (bad) fprintf(stderr, "continuo-music: %s\n", bad);
    if (err) g_error_free(err);
    if (!o->data) {
        const char *env = g_getenv("CONTINUO_DATA");
        o->data = g_strdup(env && *env ? env : "../shared/data");
    }
    return bad == NULL;
}

/* A preset with the command line's overrides, checked. */
static gboolean load_preset(const char *name, const music_opts *o, session_config *c,
                            GError **err)
{
    session_config_defaults(c);
    char *path = paths_find_preset(name, err);
    gboolean ok = path && session_config_load(c, path, err);
    g_free(path);
    if (!ok) return FALSE;
    if (o->temperature >= 0) c->sampling.temperature = (float)o->temperature;
    if (o->top_p >= 0) c->sampling.top_p = (float)o->top_p;
    if (o->density >= 0) c->density = (float)o->density;
    if (o->seed >= 0) c->seed = (uint64_t)o->seed;
    return session_config_check(c, err);
}

/* The validation files of data/NAME/SPLITS.tsv (ASAP: performances only). */
static GPtrArray *validation_files(const music_opts *o, const char *name, GError **err)
{
    gchar *dir = g_build_filename(o->data, name, NULL), *tsv = g_build_filename(dir, "SPLITS.tsv", NULL);
    GPtrArray *all = splitlist_read(tsv, dir, "performance", NULL, err);
    GPtrArray *val = all ? g_ptr_array_new_with_free_func(g_free) : NULL;
    for (guint i = 0; all && i < all->len; i++) {
        const splitlist_entry *e = g_ptr_array_index(all, i);
        if (strcmp(e->split, "validation") == 0) g_ptr_array_add(val, g_strdup(e->path));
    }
    if (all) g_ptr_array_unref(all);
    g_free(tsv);
    g_free(dir);
    return val;
}

/* Files are taken in n strides spread evenly through the list (the split's
 * order groups pieces by composer), so the choice is fixed and varied. */
static guint stride_start(const GPtrArray *files, int k, int n)
{
    return (guint)((guint64)files->len * (guint)k / (guint)MAX(n, 1));
}

static int run(model *m, const music_opts *o, char **paths, int n_paths)
{
    GError *err = NULL;
    session_config cc, ac;
    if (!load_preset(o->preset, o, &cc, &err) || !load_preset(o->accomp_preset, o, &ac, &err)) {
        fprintf(stderr, "continuo-music: %s\n", err->message);
        g_error_free(err);
        return 1;
    }
    report r = {.json = o->json};
    GPtrArray *files = NULL;
    if (n_paths > 0) {
        files = g_ptr_array_new_with_free_func(g_free);
        for (int i = 0; i < n_paths; i++) g_ptr_array_add(files, g_strdup(paths[i]));
    } else if (o->files) {
        files = validation_files(o, "asap", &err);
    }
    GArray *cf = g_array_new(FALSE, FALSE, sizeof(cont_figures));
    int nf = n_paths > 0 ? n_paths : o->files;
    for (int k = 0; files && k < nf; k++) /* the first usable file of each stride */
        for (guint i = stride_start(files, k, nf); i < stride_start(files, k + 1, nf); i++) {
            cont_figures f;
            if (continue_file(m, &cc, o, g_ptr_array_index(files, i), (int)cf->len, &f)) {
                g_array_append_val(cf, f);
                break;
            }
        }
    GPtrArray *songs = o->accomp_files && !err ? validation_files(o, "pop909", &err) : NULL;
    GArray *af = g_array_new(FALSE, FALSE, sizeof(accomp_figures));
    for (int k = 0; songs && k < o->accomp_files; k++)
        for (guint i = stride_start(songs, k, o->accomp_files);
             i < stride_start(songs, k + 1, o->accomp_files); i++) {
            accomp_figures f;
            if (accompany_file(m, &ac, o, g_ptr_array_index(songs, i), (int)af->len, &f)) {
                g_array_append_val(af, f);
                break;
            }
        }
    int rc = 0;
    if (err) {
        fprintf(stderr, "continuo-music: %s\n", err->message);
        g_error_free(err);
        rc = 1;
    } else {
        put(&r, "continue_temperature", cc.sampling.temperature, "");
        put(&r, "continue_top_p", cc.sampling.top_p, "");
        if (o->files) report_continuation(&r, cf);
        if (o->accomp_files) {
            put(&r, "accompany_temperature", ac.sampling.temperature, "");
            put(&r, "accompany_density_factor", ac.density, "");
            report_accompaniment(&r, af);
        }
        report_end(&r);
    }
    g_array_free(cf, TRUE);
    g_array_free(af, TRUE);
    if (files) g_ptr_array_unref(files);
    if (songs) g_ptr_array_unref(songs);
    return rc;
}

int main(int argc, char **argv)
{
    music_opts o;
    if (!parse_options(&argc, &argv, &o)) return 2;
    GError *err = NULL;
    char *path = paths_find_model(o.model, &err);
    model *m = path ? model_load(path, &err) : NULL;
    int rc = 1;
    if (!m) {
        fprintf(stderr, "continuo-music: %s\n", err->message);
        g_error_free(err);
    } else if (o.out && g_mkdir_with_parents(o.out, 0755) != 0) {
        fprintf(stderr, "continuo-music: %s: cannot create the folder\n", o.out);
    } else {
        fprintf(stderr, "continuo-music: model %s\n", path);
        rc = run(m, &o, argv + 1, argc - 1);
    }
    model_free(m);
    g_free(path);
    g_free(o.model);
    g_free(o.preset);
    g_free(o.accomp_preset);
    g_free(o.data);
    g_free(o.out);
    return rc;
}
