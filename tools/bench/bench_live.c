/* bench_live.c — continuo-bench live: the jam against a dummy jackd that it
 * starts itself (its own server name), with an in-process performer
 * (jack_player) and listener (jack_recorder) on the same server clock.
 *
 * Two runs, without and with FluidSynth rendering out_L/out_R. In each the
 * performer plays `trials` single notes, `gap` seconds apart, into a duet
 * whose pause is 0: the policy lets the model answer at once, so the time
 * from a performer's note-on to the model's first note-on after it (both as
 * the listener hears them, in frames) is the response latency. It contains
 * the pipeline (the worker hears the note after the cycle it came in, the
 * answer goes out no earlier than the next cycle not yet begun), the 10 ms
 * tick of the token clock, and whatever rest the model chooses to sample
 * before its first note: the minimum over trials is the system's floor, the
 * median includes the model's musical choices.
 *
 * Prints `name: value unit` lines: response latency (frames, ms), process-
 * callback time p50/p99/max with and without the synth (and p99 as a share
 * of the period), late events, drops, xruns. Not a test: it times things. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "bench.h"
#include "error.h"
#include "jack_client.h"
#include "jack_player.h"
#include "jack_recorder.h"
#include "jackd.h"
#include "model.h"
#include "model_random.h"
#include "paths.h"
#include "session.h"
#include "synth.h"
#include "worker.h"

typedef struct {
    jack_host_stats host;
    session_stats sess;
    worker_stats work;
    GArray *latency;     /* double, frames, one per answered trial */
    int trials, answered;
    double ms_per_token;
    int tokens_per_step;
    uint64_t rec_skips, rec_xruns;
    float max_rms;
} live_run;

typedef struct {
    char *model, *server, *soundfont;
    int trials, rate, period;
    double gap;
    gboolean verbose;
} live_opts;

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The q-quantile (nearest rank) of a sorted array. */
static double quantile(const GArray *sorted, double q)
{
    if (sorted->len == 0) return NAN;
    guint i = (guint)ceil(q * sorted->len);
    if (i > 0) i--;
    if (i >= sorted->len) i = sorted->len - 1;
    return g_array_index(sorted, double, i);
}

/* Latency: each performer note-on (port 0) to the first model note-on
 * (port 1) at or after it and before the next performer note-on, sorted;
 * and the listener's loudness, skips and xruns. */
static void read_items(const GArray *items, live_run *out)
{
    GArray *calls = g_array_new(FALSE, FALSE, sizeof(uint64_t));
    GArray *answers = g_array_new(FALSE, FALSE, sizeof(uint64_t));
    for (guint i = 0; i < items->len; i++) {
        const jrec_item *it = &g_array_index(items, jrec_item, i);
        if (it->kind == JREC_MIDI && it->type == CN_EV_NOTE_ON)
            g_array_append_val(it->port == 0 ? calls : answers, it->frame);
        if (it->kind == JREC_RMS && it->value > out->max_rms) out->max_rms = it->value;
        if (it->kind == JREC_SKIP) out->rec_skips++;
        if (it->kind == JREC_XRUN) out->rec_xruns++;
    }
    out->trials = (int)calls->len;
    for (guint i = 0; i < calls->len; i++) {
        uint64_t f0 = g_array_index(calls, uint64_t, i);
        uint64_t f1 = i + 1 < calls->len ? g_array_index(calls, uint64_t, i + 1) : UINT64_MAX;
        for (guint j = 0; j < answers->len; j++) {
            uint64_t a = g_array_index(answers, uint64_t, j);
            if (a >= f0 && a < f1) {
                double lat = (double)(a - f0);
                g_array_append_val(out->latency, lat);
                out->answered++;
                break;
            }
        }
    }
    g_array_free(calls, TRUE);
    g_array_free(answers, TRUE);
    qsort(out->latency->data, out->latency->len, sizeof(double), cmp_double);
}

static gboolean run_once(const live_opts *o, const char *model_path, bool audio, live_run *out,
                         GError **err)
{
    memset(out, 0, sizeof *out);
    out->latency = g_array_new(FALSE, FALSE, sizeof(double));
    gboolean ok = FALSE;
    model *m = NULL;
    session *s = NULL;
    synth *syn = NULL;
    jack_host *h = NULL;
    worker *w = NULL;
    jack_player *pl = NULL;
    jack_recorder *rec = NULL;
    GArray *notes = NULL, *items = NULL;

    session_config cfg;
    session_config_defaults(&cfg);
    char *preset = paths_find_preset("duet", NULL);
    if (preset && !session_config_load(&cfg, preset, err)) {
        g_free(preset);
        goto done;
    }
    g_free(preset);
    cfg.mode = SESSION_DUET;
    cfg.duet_pause = 0.0;  /* the model may answer at once */
    cfg.duet_phrase = 0.6; /* and ends well before the next call */
    cfg.seed = 1;
    m = model_load(model_path, err);
    if (!m) goto done;

    jack_host_config hc;
    jack_host_config_defaults(&hc);
    hc.client_name = "continuo";
    hc.server_name = o->server;
    hc.audio = audio;
    h = jack_host_new(&hc, err);
    if (!h) goto done;
    if (audio) {
        char *sf = paths_find_soundfont(o->soundfont, err);
        if (!sf) goto done;
        syn = synth_new(sf, (int)jack_host_rate(h), err);
        g_free(sf);
        if (!syn) goto done;
        jack_host_set_synth(h, syn, true);
    }
    out->ms_per_token = worker_fit_budget(&cfg, m, (double)jack_host_period(h) / jack_host_rate(h));
    out->tokens_per_step = cfg.tokens_per_step;
    s = session_new(&cfg, m, err);
    if (!s) goto done;
    worker_config wc;
    worker_config_defaults(&wc);
    w = worker_new(h, s, &wc, err);
    if (!w) goto done;
    if (!jack_host_activate(h, err)) goto done;

    rec = jack_recorder_new("bench-listen", o->server, 2, audio ? 1 : 0, 0.1, err);
    if (!rec) goto done;
    pl = jack_player_new("bench-perform", o->server, err);
    if (!pl) goto done;
    if (!jack_recorder_connect_midi(rec, 0, jack_player_port_name(pl), 5, err) ||
        !jack_recorder_connect_midi(rec, 1, jack_host_port_name(h, "midi_out"), 5, err) ||
        (audio && !jack_recorder_connect_audio(rec, 0, jack_host_port_name(h, "out_L"), 5, err)) ||
        !jack_player_connect(pl, jack_host_port_name(h, "midi_in"), 5, err))
        goto done;

    notes = cn_events_new();
    for (int i = 0; i < o->trials; i++) {
        double t = i * o->gap;
        cn_event on = {t, CN_EV_NOTE_ON, 0, (uint8_t)(60 + (i * 5) % 12), 80};
        cn_event off = {t + 0.1, CN_EV_NOTE_OFF, 0, on.a, 0};
        g_array_append_val(notes, on);
        g_array_append_val(notes, off);
    }
    items = g_array_new(FALSE, FALSE, sizeof(jrec_item));
    if (!jack_player_start(pl, notes, 0.5, err)) goto done;
    gint64 deadline = g_get_monotonic_time() + (gint64)((o->trials * o->gap + 10) * 1e6);
    while (!jack_player_done(pl) && !jack_host_dead(h) && g_get_monotonic_time() < deadline) {
        g_usleep(20000);
        jack_recorder_drain(rec, items);
    }
    g_usleep((gulong)(o->gap * 1e6)); /* the last answer */
    worker_stop(w);
    for (int i = 0; i < 50 && jack_host_output_pending(h) > 0; i++) g_usleep(10000);
    g_usleep(50000);
    jack_recorder_drain(rec, items);
    if (jack_host_dead(h)) {
        g_set_error(err, CN_ERROR, CN_ERR_JACK, "bench live: the JACK server went away");
        goto done;
    }

    read_items(items, out);
    jack_host_get_stats(h, &out->host);
    session_get_stats(s, &out->sess);
    worker_get_stats(w, &out->work);
    ok = TRUE;

done:
    jack_player_free(pl);
    jack_recorder_free(rec);
    if (w) worker_free(w);
    jack_host_free(h);
    synth_free(syn);
    session_free(s);
    if (m) model_free(m);
    if (notes) g_array_free(notes, TRUE);
    if (items) g_array_free(items, TRUE);
    return ok;
}

static void print_run(const char *tag, const live_run *r, uint32_t rate, uint32_t period)
{
    double ms = 1e3 / rate, period_us = 1e6 * period / rate;
    printf("%s_trials: %d\n", tag, r->trials);
    printf("%s_answered: %d\n", tag, r->answered);
    if (r->latency->len) {
        double lo = g_array_index(r->latency, double, 0);
        double p50 = quantile(r->latency, 0.5);
        double hi = g_array_index(r->latency, double, r->latency->len - 1);
        printf("%s_response_latency_min: %.0f frames\n", tag, lo);
        printf("%s_response_latency_min_ms: %.2f ms\n", tag, lo * ms);
        printf("%s_response_latency_p50: %.0f frames\n", tag, p50);
        printf("%s_response_latency_p50_ms: %.2f ms\n", tag, p50 * ms);
        printf("%s_response_latency_max: %.0f frames\n", tag, hi);
        printf("%s_response_latency_max_ms: %.2f ms\n", tag, hi * ms);
    }
    printf("%s_callback_p50: %.1f us\n", tag, r->host.cb_p50_us);
    printf("%s_callback_p99: %.1f us\n", tag, r->host.cb_p99_us);
    printf("%s_callback_max: %.1f us\n", tag, r->host.cb_max_us);
    printf("%s_callback_p99_of_period: %.1f %%\n", tag, 100.0 * r->host.cb_p99_us / period_us);
    printf("%s_late_events: %llu\n", tag, (unsigned long long)r->host.late);
    printf("%s_late_after_xrun: %llu\n", tag, (unsigned long long)r->host.late_skipped);
    printf("%s_late_max: %llu frames\n", tag, (unsigned long long)r->host.late_max_frames);
    printf("%s_dropped_late: %ld\n", tag, r->sess.dropped_late);
    printf("%s_drops: %llu\n", tag,
           (unsigned long long)(r->host.drops_in + r->host.drops_out + r->host.audio_drops));
    printf("%s_xruns: %llu\n", tag, (unsigned long long)r->host.xruns);
    printf("%s_cycles_skipped: %llu\n", tag, (unsigned long long)r->host.cycles_skipped);
    printf("%s_step_max: %.2f ms\n", tag, r->work.step_max_ms);
    printf("%s_notes_out: %ld\n", tag, r->sess.notes_out);
    if (r->max_rms > 0) printf("%s_out_L_max_rms: %.4f\n", tag, r->max_rms);
}

int bench_live(int argc, char **argv)
{
    live_opts o = {.trials = 20, .rate = 48000, .period = 128, .gap = 1.2};
    GOptionEntry entries[] = {
        {"model", 'm', 0, G_OPTION_ARG_FILENAME, &o.model, "model weights (default: the shipped model, else a random one of the shipped shape)", "FILE"},
        {"trials", 'n', 0, G_OPTION_ARG_INT, &o.trials, "performer notes per run (default 20)", "N"},
        {"gap", 0, 0, G_OPTION_ARG_DOUBLE, &o.gap, "seconds between them (default 1.2)", "S"},
        {"rate", 0, 0, G_OPTION_ARG_INT, &o.rate, "sample rate of the dummy server (48000)", "HZ"},
        {"period", 0, 0, G_OPTION_ARG_INT, &o.period, "frames per period (128)", "N"},
        {"soundfont", 0, 0, G_OPTION_ARG_FILENAME, &o.soundfont, "SoundFont (default: as synth.h finds it)", "FILE"},
        {"server", 0, 0, G_OPTION_ARG_STRING, &o.server, "use this running server instead of starting one", "NAME"},
        {"verbose", 'v', 0, G_OPTION_ARG_NONE, &o.verbose, "progress on stderr", NULL},
        {NULL, 0, 0, 0, NULL, NULL, NULL}};
    GOptionContext *ctx = g_option_context_new("- the jam's response latency and callback time against a dummy jackd");
    g_option_context_add_main_entries(ctx, entries, NULL);
    GError *err = NULL;
    if (!g_option_context_parse(ctx, &argc, &argv, &err) || o.trials < 1 || o.gap <= 0.7) {
        fprintf(stderr, "continuo-bench live: %s\n", err ? err->message : "--trials >= 1, --gap > 0.7");
        g_option_context_free(ctx);
        return 2;
    }
    g_option_context_free(ctx);

    /* The model: given, shipped, or random (timing does not need a good one). */
    char *model_path = paths_find_model(o.model, NULL), *tmp_model = NULL;
    const char *model_kind = "shipped or given";
    if (!model_path) {
        if (o.model) {
            fprintf(stderr, "continuo-bench live: no model file %s\n", o.model);
            return 1;
        }
        model_config c;
        model_random_default_config(&c);
        float *params = model_random_params(&c, 1, 0.02f);
        tmp_model = g_strdup_printf("%s/continuo-bench-live-%d.bin", g_get_tmp_dir(), (int)getpid());
        if (!model_file_write(tmp_model, &c, params, &err)) {
            fprintf(stderr, "continuo-bench live: %s\n", err->message);
            g_free(params);
            return 1;
        }
        g_free(params);
        model_path = g_strdup(tmp_model);
        model_kind = "random (no shipped model found)";
    }

    GPid pid = 0;
    char *server = o.server ? g_strdup(o.server) : g_strdup_printf("cn-bench-%d", (int)getpid());
    if (!o.server && !jackd_start(server, o.rate, o.period, 10.0, o.verbose, &pid, &err)) {
        fprintf(stderr, "continuo-bench live: %s\n", err->message);
        return 1;
    }
    o.server = server;
    int status = 0;
    live_run runs[2];
    const char *tags[2] = {"nosynth", "synth"};
    for (int k = 0; k < 2; k++) {
        if (o.verbose) fprintf(stderr, "continuo-bench live: run %s (%d notes, %.1f s apart)\n", tags[k], o.trials, o.gap);
        if (!run_once(&o, model_path, k == 1, &runs[k], &err)) {
            fprintf(stderr, "continuo-bench live: %s run: %s\n", tags[k], err ? err->message : "failed");
            g_clear_error(&err);
            status = 1;
            runs[k].trials = -1;
        }
    }
    if (pid) jackd_stop(pid);
    if (tmp_model) unlink(tmp_model);

    printf("model: %s\n", model_kind);
    printf("live_rate: %d Hz\n", o.rate);
    printf("live_period: %d frames\n", o.period);
    printf("live_period_ms: %.3f ms\n", 1e3 * o.period / o.rate);
    if (runs[0].trials >= 0) {
        printf("model_forward: %.3f ms/token\n", runs[0].ms_per_token);
        printf("tokens_per_step: %d\n", runs[0].tokens_per_step);
    }
    for (int k = 0; k < 2; k++)
        if (runs[k].trials >= 0) {
            print_run(tags[k], &runs[k], (uint32_t)o.rate, (uint32_t)o.period);
            g_array_free(runs[k].latency, TRUE);
        }
    g_free(model_path);
    g_free(tmp_model);
    g_free(server);
    return status;
}
