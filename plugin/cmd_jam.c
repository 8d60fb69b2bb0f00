/* cmd_jam.c — `continuo jam`: play live with a performer over JACK.
 *
 * Setup (this thread): preset -> session config, model, session, synth,
 * JACK client (plugin/jack_client.c), worker thread (plugin/worker.c),
 * connections. Then this thread only waits for signals, drains the audio
 * ring into the WAV file, and watches the clock and the server. On the way
 * out (signal, --duration, server gone) it stops the worker (which ends every
 * sounding note), lets the RT thread play the note-offs, writes the .mid and
 * .wav and prints a summary of `name: value unit` lines. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include "alsa_jam.h"
#include "commands.h"
#include "error.h"
#include "jack_client.h"
#include "jackd.h"
#include "model.h"
#include "paths.h"
#include "session.h"
#include "stop_signals.h"
#include "wav_stream.h"
#include "worker.h"

static const char *jam_summary =
    "Plays with a performer over JACK. Ports: midi_in (the performer's notes), midi_out\n"
    "(the model's notes, on the preset's model_channel), out_L/out_R (piano audio from\n"
    "FluidSynth: the model's notes, and the performer's unless the preset sets\n"
    "[output] performer_audio = false).\n"
    "\n"
    "Connections: --connect-in/--connect-out/--audio-out as given; without --audio-out the\n"
    "audio ports go to the first two physical playback ports, if the server has any.\n"
    "\n"
    "Stopping: SIGINT, SIGTERM or the end of --duration end every sounding note\n"
    "(note-offs on midi_out and in the synth), write --record and --wav, print a summary\n"
    "(name: value unit lines on stdout) and exit 0. CC 120 or 123 on midi_in is a panic:\n"
    "the model's notes end and, in duet, it waits for the performer's next phrase.\n"
    "\n"
    "If the JACK server shuts down during the jam, continuo ends its notes in the\n"
    "recording, writes --record and --wav, prints 'continuo jam: the JACK server ... shut\n"
    "down' with the server's reason and exits with status 1. It does not reconnect:\n"
    "restart it once a server runs again (e.g. a systemd unit with Restart=on-failure).\n"
    "\n"
    "Exit status: 0 done, 1 runtime error or server gone, 2 bad usage.\n"
    "\n"
    "With --alsa the jam runs over the ALSA sequencer instead of JACK (its own options:\n"
    "continuo jam --alsa --help).";

typedef struct {
    char *preset, *model, *mode, *server, *name, *record, *wav, *soundfont;
    char **connect_in, **connect_out, **audio_out;
    gboolean no_audio, start_server, verbose, no_auto_connect, alsa;
    double duration, temperature, horizon_ms;
    gint64 seed; /* -1: the preset's */
} jam_opts;

/* ----------------------------------------------------------------------------
 * Setup helpers */

/* The preset with the command line's overrides, and the model. */
static gboolean load_config(const jam_opts *o, session_config *cfg, model **m, GError **err)
{
    session_config_defaults(cfg);
    char *preset = paths_find_preset(o->preset ? o->preset : "duet", err);
    if (!preset) return FALSE;
    gboolean ok = session_config_load(cfg, preset, err);
    g_free(preset);
    if (!ok) return FALSE;
    if (o->mode && !session_mode_parse(o->mode, &cfg->mode)) {
        g_set_error(err, CN_ERROR, CN_ERR_ARG, "--mode: '%s' is not duet, accompany or solo", o->mode);
        return FALSE;
    }
    if (o->seed >= 0) cfg->seed = (uint64_t)o->seed;
    if (o->temperature > 0) cfg->sampling.temperature = (float)o->temperature;
    if (o->no_audio) cfg->audio = false;
    if (!session_config_check(cfg, err)) return FALSE;

    char *path = paths_find_model(o->model, err);
    if (!path) return FALSE;
    *m = model_load(path, err);
    g_free(path);
    return *m != NULL;
}

/* ----------------------------------------------------------------------------
 * The jam */

static void print_summary(const session_config *cfg, session *s,
                          jack_host *h, worker *w, double seconds)
{
    session_stats ss;
    jack_host_stats hs;
    worker_stats ws;
    session_get_stats(s, &ss);
    jack_host_get_stats(h, &hs);
    worker_get_stats(w, &ws);
    double period_ms = 1e3 * jack_host_period(h) / jack_host_rate(h);
    printf("duration: %.1f s\n", seconds);
    printf("mode: %s\n", session_mode_name(cfg->mode));
    printf("notes_in: %ld\n", ss.notes_in);
    printf("notes_out: %ld\n", ss.notes_out);
    printf("answers: %llu\n", (unsigned long long)ws.answers);
    if (ws.answers) {
        /* from the performer's last note event to the model's first note after it;
         * in duet this includes the preset's pause */
        printf("response_latency_mean: %.1f ms\n", 1e3 * ws.answer_gap_sum_s / ws.answers);
        printf("response_latency_min: %.1f ms\n", 1e3 * ws.answer_gap_min_s);
        printf("response_latency_max: %.1f ms\n", 1e3 * ws.answer_gap_max_s);
        if (cfg->mode == SESSION_DUET)
            printf("duet_pause: %.1f ms\n", 1e3 * cfg->duet_pause);
    }
    printf("late_events: %llu\n", (unsigned long long)hs.late);
    printf("late_after_xrun: %llu\n", (unsigned long long)hs.late_skipped);
    printf("dropped_late: %ld\n", ss.dropped_late);
    printf("drops_in: %llu\n", (unsigned long long)hs.drops_in);
    printf("drops_out: %llu\n", (unsigned long long)hs.drops_out);
    printf("audio_drops: %llu frames\n", (unsigned long long)hs.audio_drops);
    printf("xruns: %llu\n", (unsigned long long)hs.xruns);
    printf("cycles_skipped: %llu\n", (unsigned long long)hs.cycles_skipped);
    printf("frames_skipped: %llu frames\n", (unsigned long long)hs.frames_skipped);
    printf("rollbacks: %ld\n", ss.rollbacks);
    printf("tokens_generated: %ld\n", ss.tokens_generated);
    printf("step_max: %.2f ms\n", ws.step_max_ms);
    printf("callback_p50: %.1f us\n", hs.cb_p50_us);
    printf("callback_p99: %.1f us\n", hs.cb_p99_us);
    printf("callback_max: %.1f us\n", hs.cb_max_us);
    printf("period: %.3f ms\n", period_ms);
    fflush(stdout);
}

/* Drains captured audio into the WAV file (NULL: just empties the ring). */
static void drain_audio(jack_host *h, wav_stream *wav, float *buf, size_t frames, GError **werr)
{
    size_t n;
    while ((n = jack_host_read_audio(h, buf, frames)) > 0)
        if (wav && !*werr) wav_stream_write(wav, buf, n, werr);
}

int cmd_jam(int argc, char **argv)
{
    if (jam_wants_alsa(argc, argv)) return cmd_jam_alsa(argc, argv); /* plugin/alsa_jam.c */
    jam_opts o = {.seed = -1};
    g_set_prgname("continuo jam");
    GOptionEntry entries[] = {
        {"preset", 'p', 0, G_OPTION_ARG_STRING, &o.preset, "preset name (duet, accompany, solo, daw) or .ini file (default duet)", "NAME|FILE"},
        {"model", 'm', 0, G_OPTION_ARG_FILENAME, &o.model, "model weights file (default: the shipped model)", "FILE"},
        {"mode", 0, 0, G_OPTION_ARG_STRING, &o.mode, "override the preset's mode: duet, accompany or solo", "MODE"},
        {"seed", 0, 0, G_OPTION_ARG_INT64, &o.seed, "sampling seed >= 0 (default: the preset's)", "N"},
        {"temperature", 't', 0, G_OPTION_ARG_DOUBLE, &o.temperature, "sampling temperature > 0 (default: the preset's)", "T"},
        {"connect-in", 'i', 0, G_OPTION_ARG_STRING_ARRAY, &o.connect_in, "connect this MIDI output port to midi_in (repeatable)", "PORT"},
        {"connect-out", 'o', 0, G_OPTION_ARG_STRING_ARRAY, &o.connect_out, "connect midi_out to this MIDI input port (repeatable)", "PORT"},
        {"audio-out", 'a', 0, G_OPTION_ARG_STRING_ARRAY, &o.audio_out, "connect out_L, then out_R, to these audio ports (repeatable; given once, both go there)", "PORT"},
        {"no-auto-connect", 0, 0, G_OPTION_ARG_NONE, &o.no_auto_connect, "leave the audio ports unconnected unless --audio-out", NULL},
        {"no-audio", 0, 0, G_OPTION_ARG_NONE, &o.no_audio, "MIDI only: no synth, no out_L/out_R", NULL},
        {"soundfont", 0, 0, G_OPTION_ARG_FILENAME, &o.soundfont, "SoundFont for the synth (default: found as soundfonts/README.md says)", "FILE"},
        {"record", 'r', 0, G_OPTION_ARG_FILENAME, &o.record, "write the jam (performer and model, one track per channel) to this .mid on exit", "FILE.mid"},
        {"wav", 'w', 0, G_OPTION_ARG_FILENAME, &o.wav, "write out_L/out_R to this 16-bit WAV as the jam goes", "FILE.wav"},
        {"duration", 'd', 0, G_OPTION_ARG_DOUBLE, &o.duration, "stop after this many seconds (default: until SIGINT/SIGTERM)", "S"},
        {"start-server", 0, 0, G_OPTION_ARG_NONE, &o.start_server, "if no JACK server runs, start `jackd -d dummy -r 48000 -p 128` (stopped on exit)", NULL},
        {"server", 0, 0, G_OPTION_ARG_STRING, &o.server, "JACK server name (default: $JACK_DEFAULT_SERVER or 'default')", "NAME"},
        {"name", 'n', 0, G_OPTION_ARG_STRING, &o.name, "JACK client name (default continuo)", "NAME"},
        {"horizon", 0, 0, G_OPTION_ARG_DOUBLE, &o.horizon_ms, "ms of due events handed to the audio thread ahead of the next cycle (default: one period)", "MS"},
        {"alsa", 0, 0, G_OPTION_ARG_NONE, &o.alsa, "play over the ALSA sequencer instead of JACK (continuo jam --alsa --help lists its options)", NULL},
        {"verbose", 'v', 0, G_OPTION_ARG_NONE, &o.verbose, "report counters every 5 s and JACK's messages on stderr", NULL},
        {NULL, 0, 0, 0, NULL, NULL, NULL}};
    GOptionContext *ctx = g_option_context_new("- play live with a performer over JACK");
    g_option_context_set_summary(ctx, jam_summary);
    g_option_context_add_main_entries(ctx, entries, NULL);
    GError *err = NULL;
    if (!g_option_context_parse(ctx, &argc, &argv, &err) || argc != 1) {
        fprintf(stderr, "continuo jam: %s\n", err ? err->message : "unexpected arguments (see --help)");
        g_option_context_free(ctx);
        return 2;
    }
    g_option_context_free(ctx);
    if (o.duration < 0 || o.temperature < 0 || o.horizon_ms < 0 || o.seed < -1) {
        fprintf(stderr, "continuo jam: --duration, --temperature, --horizon and --seed must be positive\n");
        return 2;
    }

    /* Before any thread starts (see stop_signals.h). */
    stop_signals_init();

    int status = 1;
    session_config cfg;
    model *m = NULL;
    session *s = NULL;
    synth *syn = NULL;
    jack_host *h = NULL;
    worker *w = NULL;
    wav_stream *wav = NULL;
    GPid jackd_pid = 0;
    float *audio_buf = NULL;

    if (!load_config(&o, &cfg, &m, &err)) goto fail;

    if (!jackd_running(o.server)) {
        if (!o.start_server) {
            g_set_error(&err, CN_ERROR, CN_ERR_JACK,
                        "no JACK server '%s' is running (start one, or use --start-server)",
                        jackd_server_name(o.server));
            goto fail;
        }
        if (!jackd_start(o.server, 48000, 128, 10.0, o.verbose, &jackd_pid, &err)) goto fail;
        if (o.verbose) fprintf(stderr, "continuo jam: started jackd '%s' (dummy backend)\n", jackd_server_name(o.server));
    }

    jack_host_config hc;
    jack_host_config_defaults(&hc);
    hc.client_name = o.name ? o.name : "continuo";
    hc.server_name = o.server;
    hc.verbose = o.verbose;
    hc.audio = cfg.audio;
    hc.capture_audio = cfg.audio && o.wav != NULL;
    h = jack_host_new(&hc, &err);
    if (!h) goto fail;
    if (cfg.audio) {
        char *sf = synth_find_soundfont(o.soundfont, &err);
        if (!sf) goto fail;
        syn = synth_new(sf, (int)jack_host_rate(h), &err);
        if (o.verbose && syn) fprintf(stderr, "continuo jam: SoundFont %s\n", sf);
        g_free(sf);
        if (!syn) goto fail;
        jack_host_set_synth(h, syn, cfg.performer_audio);
    }
    if (o.wav) {
        if (!cfg.audio) {
            g_set_error(&err, CN_ERROR, CN_ERR_ARG, "--wav needs audio (the preset or --no-audio turned it off)");
            goto fail;
        }
        wav = wav_stream_open(o.wav, jack_host_rate(h), 2, &err);
        if (!wav) goto fail;
        audio_buf = g_new(float, 2 * 4096);
    }
    /* One generation step must fit in a period (see worker.h). */
    double ms_per_token = worker_fit_budget(&cfg, m, (double)jack_host_period(h) / jack_host_rate(h));
    if (o.verbose)
        fprintf(stderr, "continuo jam: %.3f ms per token: at most %d tokens per step\n", ms_per_token,
                cfg.tokens_per_step);
    s = session_new(&cfg, m, &err);
    if (!s) goto fail;
    worker_config wc;
    worker_config_defaults(&wc);
    wc.horizon = o.horizon_ms / 1e3;
    wc.verbose = o.verbose;
    w = worker_new(h, s, &wc, &err);
    if (!w) goto fail;
    /* Lock what is mapped now (model, rings, synth samples) and what comes
     * later, so neither thread takes a page fault mid-jam; best effort. */
    if (mlockall(MCL_CURRENT | MCL_FUTURE) != 0 && o.verbose)
        fprintf(stderr, "continuo jam: memory not locked (no privilege); running anyway\n");
    if (!jack_host_activate(h, &err)) goto fail;

    for (int i = 0; o.connect_in && o.connect_in[i]; i++)
        if (!jack_host_connect(h, "midi_in", o.connect_in[i], &err)) goto fail;
    for (int i = 0; o.connect_out && o.connect_out[i]; i++)
        if (!jack_host_connect(h, "midi_out", o.connect_out[i], &err)) goto fail;
    if (cfg.audio) {
        if (o.audio_out && o.audio_out[0]) {
            const char *l = o.audio_out[0], *r = o.audio_out[1] ? o.audio_out[1] : o.audio_out[0];
            if (!jack_host_connect(h, "out_L", l, &err) || !jack_host_connect(h, "out_R", r, &err))
                goto fail;
        } else if (!o.no_auto_connect) {
            int n = jack_host_connect_playback(h);
            if (o.verbose) fprintf(stderr, "continuo jam: audio connected to %d playback port(s)\n", n);
        }
    }
    fprintf(stderr, "continuo jam: %s mode, ports %s %s%s%s; Ctrl-C to stop\n",
            session_mode_name(cfg.mode), jack_host_port_name(h, "midi_in"),
            jack_host_port_name(h, "midi_out"), cfg.audio ? " " : "",
            cfg.audio ? jack_host_port_name(h, "out_L") : "");

    /* Wait: signals, the clock, the server. */
    gint64 t0 = g_get_monotonic_time(), last_report = t0;
    GError *werr = NULL;
    bool server_gone = false;
    for (;;) {
        int sig = stop_signals_wait(20);
        if (audio_buf) drain_audio(h, wav, audio_buf, 4096, &werr);
        if (sig) break;
        if (o.duration > 0 && g_get_monotonic_time() - t0 >= (gint64)(o.duration * 1e6)) break;
        if (jack_host_dead(h)) {
            server_gone = true;
            break;
        }
        uint64_t skip_at, skip_len;
        while (jack_host_pop_skip(h, &skip_at, &skip_len))
            if (o.verbose)
                fprintf(stderr, "continuo jam: xrun: the server skipped our cycles, frames %llu+%llu\n",
                        (unsigned long long)skip_at, (unsigned long long)skip_len);
        if (o.verbose && g_get_monotonic_time() - last_report >= 5000000) {
            last_report = g_get_monotonic_time();
            jack_host_stats hs;
            jack_host_get_stats(h, &hs);
            fprintf(stderr, "continuo jam: %.0f s: events in %llu out %llu, late %llu, drops %llu, xruns %llu\n",
                    (last_report - t0) / 1e6, (unsigned long long)hs.events_in,
                    (unsigned long long)hs.events_out, (unsigned long long)hs.late,
                    (unsigned long long)(hs.drops_in + hs.drops_out), (unsigned long long)hs.xruns);
        }
    }

    /* End every note: the worker panics and hands the note-offs over (only
     * to the recording when the server is gone); let the RT thread play them
     * and the synth ring out briefly for the WAV. */
    worker_stop(w);
    if (!server_gone) {
        jack_host_synth_all_off(h); /* the performer's notes too */
        gint64 deadline = g_get_monotonic_time() + 500000;
        while (jack_host_output_pending(h) > 0 && !jack_host_dead(h) && g_get_monotonic_time() < deadline) {
            g_usleep(5000);
            if (audio_buf) drain_audio(h, wav, audio_buf, 4096, &werr);
        }
        gint64 tail = g_get_monotonic_time() + (syn ? 300000 : 20000);
        while (g_get_monotonic_time() < tail && !jack_host_dead(h)) {
            g_usleep(10000);
            if (audio_buf) drain_audio(h, wav, audio_buf, 4096, &werr);
        }
    }
    double end_time = jack_host_started(h) ? jack_host_seconds(h, jack_host_cycle_frame(h) + jack_host_period(h)) : 0;
    jack_host_deactivate(h);
    if (audio_buf) drain_audio(h, wav, audio_buf, 4096, &werr);

    status = 0;
    if (o.record) {
        GError *rerr = NULL;
        if (!session_save_recording(s, o.record, end_time, &rerr)) {
            fprintf(stderr, "continuo jam: %s\n", rerr->message);
            g_error_free(rerr);
            status = 1;
        }
    }
    if (wav) {
        if (!werr) wav_stream_close(wav, &werr);
        else wav_stream_close(wav, NULL);
        wav = NULL;
        if (werr) {
            fprintf(stderr, "continuo jam: %s\n", werr->message);
            g_clear_error(&werr);
            status = 1;
        }
    }
    print_summary(&cfg, s, h, w, (g_get_monotonic_time() - t0) / 1e6);
    if (server_gone) {
        fprintf(stderr, "continuo jam: the JACK server '%s' shut down: %s; %s%s%sexiting (continuo does not reconnect)\n",
                jackd_server_name(o.server), jack_host_dead_reason(h),
                o.record ? "the recording is in " : "", o.record ? o.record : "", o.record ? "; " : "");
        status = 1;
    }
    goto done;

fail:
    fprintf(stderr, "continuo jam: %s\n", err ? err->message : "failed");
    g_clear_error(&err);
    status = 1;
done:
    if (w) worker_free(w);
    if (h) jack_host_free(h); /* before the synth its callback renders */
    if (wav) wav_stream_close(wav, NULL);
    g_free(audio_buf);
    if (syn) synth_free(syn);
    session_free(s);
    if (m) model_free(m);
    if (jackd_pid) jackd_stop(jackd_pid);
    return status;
}
