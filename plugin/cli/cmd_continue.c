/* cmd_continue.c — `continuo continue`: offline continuation of a MIDI file.
 * The primer is tokenized, fed to the model in one prefill, and the model's
 * tokens are sampled (with the playability masks) through a decoder until
 * the requested seconds of music exist; primer + continuation are written as
 * MIDI (model on its own channel and track) and optionally as a WAV. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <glib.h>
#include "commands.h"
#include "continuation.h"
#include "error.h"
#include "midifile.h"
#include "model.h"
#include "cli_number.h"
#include "paths.h"
#include "settings.h"
#include "sample.h"
#include "synth.h"
#include "token.h"

#define WAV_RATE 44100

static const char *summary =
    "Continues IN.mid with the model and writes the primer plus the continuation\n"
    "to OUT.mid: the primer's events as they were (notes still held at its end are\n"
    "ended there), then the model's notes on their own MIDI channel and track,\n"
    "every note ended. The continuation starts where the primer's last note ends\n"
    "and lasts --seconds (to 10 ms).\n"
    "\n"
    "The primer is encoded as performance tokens (channels merged, sustain pedal\n"
    "folded into note lengths) after a BOS token; if it is longer than 3/4 of the\n"
    "model's context only its end is kept. The cache slides when full, so any\n"
    "length can be generated. Sampling: temperature, then top-k, then top-p, then\n"
    "min-p; masks keep the notes playable: keys 21..108, at most 10 at once, none\n"
    "longer than 4 s, no note-off for a silent key (the presets' defaults).\n"
    "Decimal options refuse NaN and infinities; --temperature, --top-p and --min-p\n"
    "have the presets' ranges ([0, 10], (0, 1], [0, 1)).\n"
    "\n"
    "A vocabulary-v2 model continues the primer as its own playing, told the\n"
    "density and dynamics of every 4 s: by default the primer's (notes/s and mean\n"
    "velocity over its last 8 s); --density-target and --dynamics set them\n"
    "(a v1 model ignores both).\n"
    "\n"
    "Model look-up: --model, else $CONTINUO_MODEL, else presets/" CONTINUO_DEFAULT_MODEL "\n"
    "of the tree the program runs from (build/bin/../../presets/, or\n"
    "<its prefix>/share/continuo/presets/), else " CONTINUO_PREFIX "/share/continuo/presets/\n"
    "(the order of plugin/paths.h).\n"
    "SoundFont for --wav: --soundfont, else $CONTINUO_SOUNDFONT, else Debian's\n"
    "/usr/share/sounds/sf2/FluidR3_GM.sf2 (package fluid-soundfont-gm) and other\n"
    "standard paths (see soundfonts/README.md). The WAV is 16-bit stereo 44.1 kHz\n"
    "and ends 2 s after the last event.\n"
    "\n"
    "Progress goes to stderr. Exit status: 0 ok, 1 error (one line on stderr),\n"
    "2 bad usage.";

typedef struct {
    char *output, *model, *device, *wav, *soundfont, *seed_text;
    double seconds, temperature, top_p, min_p;
    double density_target, dynamics; /* v2 targets; 0: the primer's */
    int top_k, channel;
} continue_opts;

/* ---------------------------------------------------------------------------
 * Options */

static gboolean parse_options(int argc, char **argv, continue_opts *o, char **input, int *status)
{
    sampler_params sp;
    sampler_params_defaults(&sp);
    *o = (continue_opts){.seconds = 10.0, .temperature = sp.temperature, .top_p = sp.top_p,
                         .min_p = sp.min_p, .top_k = sp.top_k, .channel = 0};
    const cli_number numbers[] = {
        {"seconds", 's', &o->seconds, -1, 0, 36000, true},
        {"temperature", 't', &o->temperature, SET_TEMPERATURE, 0, 0, false},
        {"top-p", 'p', &o->top_p, SET_TOP_P, 0, 0, false},
        {"min-p", 0, &o->min_p, SET_MIN_P, 0, 0, false},
        {"density-target", 0, &o->density_target, -1, 0, 100, true},
        {"dynamics", 0, &o->dynamics, -1, 1, 127, false},
        {NULL, 0, NULL, -1, 0, 0, false}};
    const gpointer num = (gpointer)cli_number_cb;
    GOptionEntry entries[] = {
        {"output", 'o', 0, G_OPTION_ARG_FILENAME, &o->output, "MIDI file to write (required)", "OUT.mid"},
        {"seconds", 's', 0, G_OPTION_ARG_CALLBACK, num, "seconds of continuation, at most 36000 (default 10)", "N"},
        {"model", 'm', 0, G_OPTION_ARG_FILENAME, &o->model, "weights file (default: see below)", "FILE"},
        {"device", 0, 0, G_OPTION_ARG_STRING, &o->device, "where the model runs: cpu (default) or cuda (the GPU decoder)", "DEV"},
        {"temperature", 't', 0, G_OPTION_ARG_CALLBACK, num, "softmax temperature in [0, 10] (default 1; 0 = always the likeliest token)", "T"},
        {"top-p", 'p', 0, G_OPTION_ARG_CALLBACK, num, "nucleus: keep the likeliest tokens up to this mass (default 0.95; 1 = off)", "P"},
        {"top-k", 'k', 0, G_OPTION_ARG_INT, &o->top_k, "keep the K likeliest tokens (default 0 = off)", "K"},
        {"min-p", 0, 0, G_OPTION_ARG_CALLBACK, num, "drop tokens below M times the likeliest's probability (default 0 = off)", "M"},
        {"density-target", 0, 0, G_OPTION_ARG_CALLBACK, num, "v2 models: notes per second to play (default: the primer's last 8 s)", "NOTES_PER_S"},
        {"dynamics", 0, 0, G_OPTION_ARG_CALLBACK, num, "v2 models: mean MIDI velocity 1..127 to play at (default: the primer's)", "VELOCITY"},
        {"seed", 0, 0, G_OPTION_ARG_STRING, &o->seed_text, "sampling seed, 0..2^64-1 (default: from the clock, printed)", "S"},
        {"channel", 'c', 0, G_OPTION_ARG_INT, &o->channel, "MIDI channel 1..16 of the model's notes (default: the first one the primer leaves free, not 10)", "C"},
        {"wav", 'w', 0, G_OPTION_ARG_FILENAME, &o->wav, "also render primer + continuation to this WAV with FluidSynth", "OUT.wav"},
        {"soundfont", 0, 0, G_OPTION_ARG_FILENAME, &o->soundfont, "SoundFont for --wav (default: see below)", "SF"},
        {NULL, 0, 0, 0, NULL, NULL, NULL},
    };
    g_set_prgname("continuo continue"); /* for --help's usage line */
    GOptionContext *ctx = g_option_context_new("IN.mid -o OUT.mid");
    g_option_context_set_summary(ctx, "continuo continue: continue a MIDI file with the model");
    g_option_context_set_description(ctx, summary);
    g_option_context_set_main_group(ctx, cli_number_group("continue", entries, numbers));
    GError *err = NULL;
    gboolean ok = g_option_context_parse(ctx, &argc, &argv, &err);
    g_option_context_free(ctx);
    *status = 2;
    if (!ok) {
        fprintf(stderr, "continuo continue: %s (see --help)\n", err->message);
        g_error_free(err);
        return FALSE;
    }
    const char *bad = NULL;
    if (argc != 2) bad = argc < 2 ? "no input MIDI file given" : "more than one input file given";
    else if (!o->output) bad = "no output file: give -o OUT.mid";
    else if (o->top_k < 0) bad = "--top-k must be >= 0";
    else if (o->channel != 0 && (o->channel < 1 || o->channel > 16)) bad = "--channel must be in 1..16";
    if (bad) {
        fprintf(stderr, "continuo continue: %s (see --help)\n", bad);
        return FALSE;
    }
    *input = g_strdup(argv[1]);
    return TRUE;
}

static gboolean parse_seed(const char *text, uint64_t *seed)
{
    guint64 v;
    if (!g_ascii_string_to_unsigned(text, 10, 0, G_MAXUINT64, &v, NULL)) return FALSE;
    *seed = v;
    return TRUE;
}

/* An output path whose folder is missing or read-only fails here, before
 * the generation, rather than after it. */
static gboolean check_writable(const char *path, GError **err)
{
    gchar *dir = g_path_get_dirname(path);
    gboolean ok = g_file_test(dir, G_FILE_TEST_IS_DIR) && access(dir, W_OK) == 0;
    if (!ok)
        g_set_error(err, CN_ERROR, CN_ERR_IO, "%s: cannot write there: folder %s %s", path, dir,
                    g_file_test(dir, G_FILE_TEST_IS_DIR) ? "is not writable" : "does not exist");
    g_free(dir);
    return ok;
}

/* ---------------------------------------------------------------------------
 * The primer */

/* The model's channel: the user's, else the first the primer leaves free
 * (never 10, the GM drum channel). */
static int pick_channel(int user, uint16_t used)
{
    if (user) return user - 1;
    for (int c = 1; c < 16; c++) {
        int ch = c % 16; /* 1, 2, ... 15, then 0 */
        if (ch != 9 && !(used & (1u << ch))) return ch;
    }
    for (int c = 0; c < 16; c++) if (c != 9 && !(used & (1u << c))) return c;
    return 1; /* all 16 used: share channel 2 */
}

/* ---------------------------------------------------------------------------
 * Progress (continuation_progress_fn) */

typedef struct {
    gboolean tty;
    int reported; /* last progress mark printed */
    const continuation_result *r;
} progress;

static void progress_update(void *user, double done, double total, long tokens, bool final)
{
    progress *pg = user;
    if (tokens == 0 && !final)
        fprintf(stderr, "continuo continue: primed with %d tokens%s in %.0f ms\n", pg->r->primed,
                pg->r->primer_cut ? " (the primer's end)" : "", pg->r->prefill_s * 1000.0);
    if (done > total) done = total;
    if (pg->tty) {
        int mark = (int)(done * 10);
        if (mark == pg->reported && !final) return;
        pg->reported = mark;
        fprintf(stderr, "\rcontinuo continue: generating %.1f/%.1f s (%ld tokens)%s", done, total,
                tokens, final ? "\n" : "");
    } else {
        int mark = (int)(4 * done / total); /* lines at 25, 50, 75, 100 % */
        if (mark <= pg->reported && !final) return;
        if (final && mark <= pg->reported) return;
        pg->reported = mark;
        fprintf(stderr, "continuo continue: generating %.1f/%.1f s (%ld tokens)\n", done, total,
                tokens);
    }
}

/* Runs the continuation core with the default playability limits and
 * reports on stderr; *t_start: where the continuation begins (file time). */
static gboolean generate(model *m, const GArray *tokens, const continuation_primer *pi,
                         const continue_opts *o, int ch, const sampler_params *sp, uint64_t seed,
                         GArray *model_events, double *t_start, GError **err)
{
    sampler_limits lim;
    sampler_limits_defaults(&lim);
    continuation_result cr;
    progress pg = {.tty = isatty(2), .reported = 0, .r = &cr};
    continuation_params cp = {.seconds = o->seconds, .channel = (uint8_t)ch, .sampling = *sp,
                              .limits = lim, .seed = seed, .density_target = o->density_target,
                              .velocity_target = o->dynamics, .progress = progress_update,
                              .progress_user = &pg};
    if (!continuation_generate(m, tokens, pi->origin, &cp, model_events, &cr, err)) return FALSE;
    if (cr.stopped_early)
        fprintf(stderr, "continuo continue: warning: the model emitted %ld tokens without "
                "reaching %.1f s; it was stopped there\n", cr.tokens, o->seconds);
    if (cr.density_bin >= 0)
        fprintf(stderr, "continuo continue: primer %.2f notes/s at velocity %.0f; controls "
                "DENSITY_%d DYNAMICS_%d\n", cr.primer_rate, cr.primer_velocity, cr.density_bin,
                cr.dynamics_bin);
    fprintf(stderr, "continuo continue: %ld tokens in %.2f s (%.0f tokens/s)\n", cr.tokens,
            cr.generate_s, cr.generate_s > 0 ? cr.tokens / cr.generate_s : 0.0);
    *t_start = cr.t_start;
    return TRUE;
}

/* ---------------------------------------------------------------------------
 * The command */

static int count_notes(const GArray *ev, int channel)
{
    int n = 0;
    for (guint i = 0; i < ev->len; i++) {
        const cn_event *e = &g_array_index(ev, cn_event, i);
        if (e->type == CN_EV_NOTE_ON && e->b > 0 && (channel < 0 || e->channel == channel)) n++;
    }
    return n;
}

/* The strings parse_options allocated. */
static void continue_opts_clear(continue_opts *o)
{
    g_free(o->output);
    g_free(o->model);
    g_free(o->device);
    g_free(o->wav);
    g_free(o->soundfont);
    g_free(o->seed_text);
}

int cmd_continue(int argc, char **argv)
{
    continue_opts o;
    char *input = NULL, *sf = NULL, *model_path = NULL;
    int status;
    if (!parse_options(argc, argv, &o, &input, &status)) goto out_usage;

    GError *err = NULL;
    model *m = NULL;
    GArray *events = NULL, *tokens = NULL, *model_events = NULL;
    int rc = 1;

    uint64_t seed;
    if (o.seed_text) {
        if (!parse_seed(o.seed_text, &seed)) {
            fprintf(stderr, "continuo continue: --seed: '%s' is not a number in 0..2^64-1\n",
                    o.seed_text);
            rc = 2;
            goto out;
        }
    } else {
        seed = (uint64_t)g_get_real_time() ^ ((uint64_t)getpid() << 32);
    }
    sampler_params sp = {.temperature = (float)o.temperature, .top_k = o.top_k,
                         .top_p = (float)o.top_p, .min_p = (float)o.min_p};

    /* Everything that can fail on the user's files, before any real work. */
    if (!check_writable(o.output, &err)) goto fail;
    if (o.wav && !check_writable(o.wav, &err)) goto fail;
    if (o.wav && !(sf = paths_find_soundfont(o.soundfont, &err))) goto fail;
    if (!(events = midifile_load(input, &err))) goto fail;
    continuation_primer pi;
    continuation_primer_scan(events, &pi);
    if (!continuation_check_length(&pi, o.seconds, &err)) {
        fprintf(stderr, "continuo continue: %s\n", err->message);
        g_clear_error(&err);
        rc = 2;
        goto out;
    }
    if (!(model_path = paths_find_model(o.model, &err))) goto fail;
    if (!(m = model_load(model_path, &err))) goto fail;
    if (!model_set_device(m, o.device, &err)) goto fail;
    const model_config *c = model_get_config(m);
    if (!tok_vocab_size(c->vocab_id) || c->vocab_size != tok_vocab_size(c->vocab_id)) {
        g_set_error(&err, CN_ERROR, CN_ERR_UNSUPPORTED,
                    "%s: vocabulary %d (%d tokens), but this build speaks performance v%d (%d tokens) "
                    "and v%d (%d tokens)", model_path, c->vocab_id, c->vocab_size, TOK_VOCAB_ID,
                    TOK_VOCAB_SIZE, TOK2_VOCAB_ID, TOK2_VOCAB_SIZE);
        goto fail;
    }

    int ch = pick_channel(o.channel, pi.channels);
    tokens = tok_encode_events(events);
    fprintf(stderr, "continuo continue: %s: %d notes, %.1f s, %u tokens; model %s (%d layers, "
            "dim %d, context %d); seed %" G_GUINT64_FORMAT "; model notes on channel %d\n",
            input, pi.notes, pi.end, tokens->len, model_path, c->n_layers, c->dim, c->seq_len,
            (guint64)seed, ch + 1);
    if (pi.notes == 0)
        fprintf(stderr, "continuo continue: warning: %s has no notes; the model starts from "
                "nothing\n", input);

    model_events = cn_events_new();
    double t_start;
    if (!generate(m, tokens, &pi, &o, ch, &sp, seed, model_events, &t_start, &err)) goto fail;

    /* primer (its held notes ended where it ends) + continuation */
    GArray *all = cn_events_new();
    g_array_append_vals(all, events->data, events->len);
    continuation_primer_close(all, pi.end);
    g_array_append_vals(all, model_events->data, model_events->len);
    cn_events_sort(all);
    gboolean saved = midifile_save(o.output, all, TRUE, &err);
    if (saved) {
        fprintf(stderr, "continuo continue: wrote %s: primer %d notes + %d new notes "
                "(%.1f..%.1f s, channel %d)\n", o.output, pi.notes, count_notes(model_events, -1),
                t_start, t_start + o.seconds, ch + 1);
        if (o.wav) {
            gint64 t = g_get_monotonic_time();
            saved = synth_render_events_to_wav(all, sf, o.wav, WAV_RATE, &err);
            if (saved)
                fprintf(stderr, "continuo continue: wrote %s with %s in %.1f s\n", o.wav, sf,
                        (g_get_monotonic_time() - t) / 1e6);
        }
    }
    g_array_free(all, TRUE);
    if (!saved) goto fail;
    rc = 0;
    goto out;

fail:
    fprintf(stderr, "continuo continue: %s\n", err->message);
    g_error_free(err);
    rc = 1;
out:
    if (model_events) g_array_free(model_events, TRUE);
    if (tokens) g_array_free(tokens, TRUE);
    if (events) g_array_free(events, TRUE);
    model_free(m);
    g_free(model_path);
    g_free(sf);
    g_free(input);
    continue_opts_clear(&o);
    return rc;

out_usage:
    continue_opts_clear(&o);
    return status;
}
