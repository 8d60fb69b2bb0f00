/* alsa_jam.c — `continuo jam --alsa`: options, setup and teardown of the
 * jam over the ALSA sequencer. Setup order: preset (usage errors first),
 * the sequencer client (so a machine without /dev/snd/seq fails at once,
 * with one line), the model, the synth (FluidSynth's ALSA audio driver, or
 * its JACK driver when a server runs; a
 * missing SoundFont or audio device is logged and the jam goes on MIDI
 * only), the session, then the pump (plugin/pump.c) until a signal or
 * --duration. Logs go to stderr with levels and timestamps (plugin/log.h);
 * the summary (name: value lines) to stdout. */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <pthread.h>
#include "alsa_audio.h"
#include "alsa_client.h"
#include "alsa_jam.h"
#include "error.h"
#include "jackd.h"
#include "log.h"
#include "model.h"
#include "paths.h"
#include "pump.h"
#include "reload.h"
#include "session.h"
#include "synth.h"
#include "worker.h"

static const char *alsa_summary =
    "Plays with a performer over the ALSA sequencer (no JACK needed). The client is\n"
    "'continuo' with ports midi_in and midi_out (see `aconnect -l`); the model's notes are\n"
    "scheduled on a sequencer queue with real-time timestamps. Audio: FluidSynth through\n"
    "its ALSA audio driver (--audio-device), or its JACK driver when a JACK server runs\n"
    "(--audio-driver picks), unless --no-audio or the preset says\n"
    "[output] audio = false; without a SoundFont or an audio device the jam goes on with\n"
    "MIDI only (logged), and SIGHUP tries again. The SoundFont is loaded whole at start:\n"
    "removing its file later changes nothing.\n"
    "\n"
    "The installation: --record-dir DIR writes one .mid per --rotate-minutes (checkpointed\n"
    "every minute, so a power cut loses at most a minute), keeping at most --keep-files\n"
    "files and --keep-mb MiB. The health watch (unless --no-health) raises density after\n"
    "a long silence and temperature when the music loops; a model that turns non-finite\n"
    "for good stops the jam with status 1, for the service manager to restart it.\n"
    "\n"
    "Signals: SIGINT/SIGTERM end every note, flush the recordings and exit 0; SIGHUP\n"
    "reloads the preset file (with this command line's overrides) without a gap.\n"
    "CONTINUO_LOG=error|warn|info|debug sets the log level (default info).\n"
    "\n"
    "Exit status: 0 done, 1 runtime error (no ALSA sequencer, model, device), 2 bad usage.";

typedef struct {
    char *preset, *model, *mode, *name, *record, *record_dir, *soundfont, *audio_device, *seq_device,
        *audio_driver;
    char **connect_in, **connect_out;
    gboolean alsa, no_audio, no_health, verbose;
    double duration, temperature, horizon_ms, rotate_minutes, keep_mb;
    gint64 seed;
    int keep_files;
    char *preset_path; /* resolved */
} alsa_opts;

bool jam_wants_alsa(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--")) return false;
        if (!strcmp(argv[i], "--alsa")) return true;
    }
    return false;
}

/* The preset file with the command line's overrides (setup and SIGHUP). */
static gboolean load_preset(alsa_opts *o, session_config *cfg, GError **err)
{
    jam_overrides ov = {o->mode, o->seed, o->temperature, o->no_audio};
    return jam_preset_load(o->preset_path, &ov, cfg, err);
}

/* Host callbacks: the synth hears the performer at once and the model on time. */
typedef struct {
    alsa_audio *audio;
    bool performer_audio;
    char *soundfont; /* the one in use, or NULL */
} audio_route;

/* Audio for cfg (if it wants some and has none yet): a SoundFont missing at
 * start is looked for again at each SIGHUP. Logs a failure; never fatal. */
static void audio_try(alsa_opts *o, audio_route *r, const session_config *cfg)
{
    r->performer_audio = cfg->performer_audio;
    if (!cfg->audio || r->audio) return;
    GError *err = NULL;
    char *sf = synth_find_soundfont(o->soundfont, &err);
    const char *drv = o->audio_driver ? o->audio_driver : jackd_running(NULL) ? "jack" : "alsa";
    if (sf) r->audio = alsa_audio_new(sf, drv, o->audio_device, 48000, &err);
    if (!r->audio) {
        log_error("%s; playing MIDI only (SIGHUP tries again)", err ? err->message : "no audio");
        g_clear_error(&err);
        g_free(sf);
        return;
    }
    log_info("audio: %s through FluidSynth's %s driver", sf, drv);
    g_free(r->soundfont);
    r->soundfont = sf;
}

typedef struct {
    alsa_opts *o;
    audio_route *route;
} reload_ctx;

/* SIGHUP, on the pump's thread (the one that also drives the host
 * callbacks, so the route may change here). */
static gboolean reload_cb(void *arg, session_config *c, GError **err)
{
    reload_ctx *rc = arg;
    if (!load_preset(rc->o, c, err)) return FALSE;
    audio_try(rc->o, rc->route, c);
    return TRUE;
}

static void monitor_cb(void *arg, const cn_event *ev)
{
    audio_route *r = arg;
    if (r->audio && r->performer_audio) alsa_audio_play_now(r->audio, ev);
}

static void schedule_cb(void *arg, const cn_event *ev, double now)
{
    audio_route *r = arg;
    if (r->audio) alsa_audio_schedule(r->audio, ev, ev->time - now);
}

static void print_summary(const session_config *cfg, session *s, const pump_stats *ps,
                          const alsa_host_stats *hs, double seconds)
{
    session_stats ss;
    session_get_stats(s, &ss);
    printf("duration: %.1f s\n", seconds);
    printf("mode: %s\n", session_mode_name(cfg->mode));
    printf("notes_in: %ld\n", ss.notes_in);
    printf("notes_out: %ld\n", ss.notes_out);
    printf("events_in: %ld\n", hs->events_in);
    printf("events_out: %ld\n", hs->events_out);
    printf("late_events: %ld\n", ps->late);
    printf("dropped_late: %ld\n", ss.dropped_late);
    printf("send_errors: %ld\n", hs->send_errors);
    printf("rollbacks: %ld\n", ss.rollbacks);
    printf("tokens_generated: %ld\n", ss.tokens_generated);
    printf("slides: %ld\n", ss.slides);
    printf("nan_resets: %ld\n", ss.nan_resets);
    printf("health_responses: %ld\n", ps->health_silence + ps->health_loop + ps->health_crowd);
    printf("reloads: %ld\n", ps->reloads);
    fflush(stdout);
}

int cmd_jam_alsa(int argc, char **argv)
{
    alsa_opts o = {0};
    o.seed = -1;
    g_set_prgname("continuo jam");
    o.horizon_ms = 50;
    o.rotate_minutes = 60;
    o.keep_files = 168;
    o.keep_mb = 1024;
    GOptionEntry entries[] = {
        {"alsa", 0, 0, G_OPTION_ARG_NONE, &o.alsa, "use the ALSA sequencer (this mode)", NULL},
        {"preset", 'p', 0, G_OPTION_ARG_STRING, &o.preset, "preset name (duet, accompany, solo, daw) or .ini file (default duet)", "NAME|FILE"},
        {"model", 'm', 0, G_OPTION_ARG_FILENAME, &o.model, "model weights file (default: the shipped model)", "FILE"},
        {"mode", 0, 0, G_OPTION_ARG_STRING, &o.mode, "override the preset's mode: duet, accompany or solo", "MODE"},
        {"seed", 0, 0, G_OPTION_ARG_INT64, &o.seed, "sampling seed (default: the preset's)", "N"},
        {"temperature", 't', 0, G_OPTION_ARG_DOUBLE, &o.temperature, "sampling temperature > 0 (default: the preset's)", "T"},
        {"connect-in", 'i', 0, G_OPTION_ARG_STRING_ARRAY, &o.connect_in, "connect this port to midi_in (repeatable)", "CLIENT:PORT"},
        {"connect-out", 'o', 0, G_OPTION_ARG_STRING_ARRAY, &o.connect_out, "connect midi_out to this port (repeatable)", "CLIENT:PORT"},
        {"no-audio", 0, 0, G_OPTION_ARG_NONE, &o.no_audio, "MIDI only: no synth", NULL},
        {"soundfont", 0, 0, G_OPTION_ARG_FILENAME, &o.soundfont, "SoundFont for the synth (default: found as soundfonts/README.md says)", "FILE"},
        {"audio-driver", 0, 0, G_OPTION_ARG_STRING, &o.audio_driver, "FluidSynth's audio driver: alsa or jack (default: jack when a JACK server runs, else alsa)", "NAME"},
        {"audio-device", 0, 0, G_OPTION_ARG_STRING, &o.audio_device, "ALSA PCM device for FluidSynth (default 'default')", "PCM"},
        {"seq-device", 0, 0, G_OPTION_ARG_STRING, &o.seq_device, "ALSA sequencer device (default 'default')", "NAME"},
        {"record", 'r', 0, G_OPTION_ARG_FILENAME, &o.record, "write the whole jam to this .mid on exit", "FILE.mid"},
        {"record-dir", 0, 0, G_OPTION_ARG_FILENAME, &o.record_dir, "rotating recording: one .mid per period in DIR (the installation)", "DIR"},
        {"rotate-minutes", 0, 0, G_OPTION_ARG_DOUBLE, &o.rotate_minutes, "length of one rotated file (60)", "MIN"},
        {"keep-files", 0, 0, G_OPTION_ARG_INT, &o.keep_files, "most rotated files kept (168)", "N"},
        {"keep-mb", 0, 0, G_OPTION_ARG_DOUBLE, &o.keep_mb, "most MiB of rotated files kept (1024)", "MIB"},
        {"duration", 'd', 0, G_OPTION_ARG_DOUBLE, &o.duration, "stop after this many seconds (default: until SIGINT/SIGTERM)", "S"},
        {"name", 'n', 0, G_OPTION_ARG_STRING, &o.name, "sequencer client name (default continuo)", "NAME"},
        {"horizon", 0, 0, G_OPTION_ARG_DOUBLE, &o.horizon_ms, "ms of events queued on the sequencer ahead of time (50)", "MS"},
        {"no-health", 0, 0, G_OPTION_ARG_NONE, &o.no_health, "no silence/loop responses", NULL},
        {"verbose", 'v', 0, G_OPTION_ARG_NONE, &o.verbose, "debug logging", NULL},
        {NULL, 0, 0, 0, NULL, NULL, NULL}};
    GOptionContext *ctx = g_option_context_new("--alsa - play live with a performer over the ALSA sequencer");
    g_option_context_set_summary(ctx, alsa_summary);
    g_option_context_add_main_entries(ctx, entries, NULL);
    GError *err = NULL;
    if (!g_option_context_parse(ctx, &argc, &argv, &err) || argc != 1) {
        fprintf(stderr, "continuo jam: %s\n", err ? err->message : "unexpected arguments (see --alsa --help)");
        g_clear_error(&err);
        g_option_context_free(ctx);
        return 2;
    }
    g_option_context_free(ctx);
    if (o.duration < 0 || o.temperature < 0 || !(o.horizon_ms > 0) || !(o.rotate_minutes > 0) ||
        o.rotate_minutes > 600 || o.keep_files < 1 || !(o.keep_mb > 0)) {
        fprintf(stderr, "continuo jam: --duration, --temperature, --horizon, --rotate-minutes "
                        "(at most 600), --keep-files and --keep-mb must be positive\n");
        return 2;
    }
    if (o.audio_driver && strcmp(o.audio_driver, "alsa") && strcmp(o.audio_driver, "jack")) {
        fprintf(stderr, "continuo jam: --audio-driver: '%s' is not alsa or jack\n", o.audio_driver);
        return 2;
    }
    if (o.verbose) log_set_level(CN_LOG_DEBUG);

    /* Signals are taken by the pump (sigtimedwait); block them before any
     * thread starts (FluidSynth's audio thread) so every thread inherits it. */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);

    int status = 1;
    session_config cfg;
    alsa_host *h = NULL;
    model *m = NULL;
    session *s = NULL;
    pump *p = NULL;
    audio_route route = {0};

    o.preset_path = paths_find_preset(o.preset ? o.preset : "duet", &err);
    if (!o.preset_path || !load_preset(&o, &cfg, &err)) goto fail;

    alsa_host_config hc;
    alsa_host_config_defaults(&hc);
    if (o.name) hc.client_name = o.name;
    if (o.seq_device) hc.device = o.seq_device;
    hc.monitor = monitor_cb;
    hc.schedule = schedule_cb;
    hc.cb_arg = &route;
    h = alsa_host_new(&hc, &err);
    if (!h) goto fail;

    char *path = paths_find_model(o.model, &err);
    if (!path) goto fail;
    m = model_load(path, &err);
    g_free(path);
    if (!m) goto fail;

    audio_try(&o, &route, &cfg);

    pump_config pc;
    pump_config_defaults(&pc);
    pc.horizon = o.horizon_ms / 1e3;
    pc.duration = o.duration;
    pc.signals = true;
    pc.use_health = !o.no_health;
    health_config_defaults(&pc.health, &cfg);
    pc.record = o.record;
    reload_ctx rctx = {&o, &route};
    pc.reload = reload_cb;
    pc.reload_arg = &rctx;
    rotate_config rc;
    if (o.record_dir) {
        rotate_config_defaults(&rc);
        rc.dir = o.record_dir;
        rc.file_seconds = o.rotate_minutes * 60;
        rc.keep_files = o.keep_files;
        rc.keep_bytes = (guint64)(o.keep_mb * 1024 * 1024);
        pc.rotate = &rc;
    }
    /* One session_step must fit in half a pass (see worker.h). */
    double ms_per_token = worker_fit_budget(&cfg, m, pc.pass);
    log_debug("%.3f ms per token: at most %d tokens per step", ms_per_token, cfg.tokens_per_step);
    s = session_new(&cfg, m, &err);
    if (!s) goto fail;
    pump_host ph;
    alsa_host_pump_host(h, &ph);
    p = pump_new(&pc, s, &ph, &err);
    if (!p) goto fail;

    for (int i = 0; o.connect_in && o.connect_in[i]; i++)
        if (!alsa_host_connect_in(h, o.connect_in[i], &err)) goto fail;
    for (int i = 0; o.connect_out && o.connect_out[i]; i++)
        if (!alsa_host_connect_out(h, o.connect_out[i], &err)) goto fail;
    log_info("%s mode over the ALSA sequencer, ports %s and %s%s; Ctrl-C to stop",
             session_mode_name(cfg.mode), alsa_host_port_name(h, false),
             alsa_host_port_name(h, true), route.audio ? ", audio through FluidSynth" : "");

    gint64 t0 = g_get_monotonic_time();
    status = pump_run(p);
    if (route.audio) {
        alsa_audio_all_off(route.audio);
        g_usleep(300000); /* let the release tails ring out */
    }
    pump_stats ps;
    pump_get_stats(p, &ps);
    alsa_host_stats hs;
    alsa_host_get_stats(h, &hs);
    print_summary(&cfg, s, &ps, &hs, (g_get_monotonic_time() - t0) / 1e6);
    goto done;

fail:
    fprintf(stderr, "continuo jam: %s\n", err ? err->message : "failed");
    g_clear_error(&err);
    status = 1;
done:
    pump_free(p);
    session_free(s);
    alsa_audio_free(route.audio);
    alsa_host_free(h);
    if (m) model_free(m);
    g_free(route.soundfont);
    g_free(o.preset_path);
    return status;
}
