/* alsa_jam.c — `continuo jam --alsa`: options, setup and teardown of the
 * jam over the ALSA sequencer. Setup order: preset (usage errors first),
 * the sequencer client (so a machine without /dev/snd/seq fails at once,
 * with one line), the model, the synth (FluidSynth's ALSA audio driver, or
 * its JACK driver when a server runs; a
 * missing SoundFont or audio device is logged and the jam goes on MIDI
 * only), the session, then the pump (plugin/pump.c) until a signal or
 * --duration. Logs go to stderr with levels and timestamps (plugin/log.h);
 * the summary (name: value lines) to stdout. */
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <pthread.h>
#include "alsa_audio.h"
#include "alsa_client.h"
#include "alsa_jam.h"
#include "error.h"
#include "jam_opts.h"
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
    JAM_FILES_HELP
    "\n"
    "Exit status: 0 done, 1 runtime error (no ALSA sequencer, model, device), 2 bad usage.";

/* The shared options (jam_opts.h) and the ALSA jam's own. */
typedef struct {
    jam_opts c;
    char *audio_device, *seq_device, *audio_driver;
} alsa_opts;

bool jam_wants_alsa(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--")) return false;
        if (!strcmp(argv[i], "--alsa")) return true;
    }
    return false;
}

/* Host callbacks: the synth hears the performer at once and the model on time. */
typedef struct {
    alsa_audio *audio;
    bool performer_audio;
    char *soundfont; /* the one in use, or NULL */
} audio_route;

/* Audio for cfg (if it wants some and has none yet): a SoundFont missing at
 * start is looked for again at each SIGHUP. Logs a failure; never fatal. */
static void audio_try(alsa_opts *o, audio_route *r, const host_config *hc)
{
    r->performer_audio = hc->performer_audio;
    if (!hc->audio || r->audio) return;
    GError *err = NULL;
    char *sf = paths_find_soundfont(o->c.soundfont, &err);
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
    host_config hc;
    if (!jam_opts_load(&rc->o->c, c, &hc, err)) return FALSE;
    audio_try(rc->o, rc->route, &hc);
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

/* Parses the command line into o; 0 ok, else the exit status after a
 * one-line error (2: usage, 1: no preset). */
static int alsa_parse(int argc, char **argv, alsa_opts *o)
{
    GOptionGroup *g = jam_opts_group(&o->c);
    const GOptionEntry entries[] = {
        {"audio-driver", 0, 0, G_OPTION_ARG_STRING, &o->audio_driver, "FluidSynth's audio driver: alsa or jack (default: jack when a JACK server runs, else alsa)", "NAME"},
        {"audio-device", 0, 0, G_OPTION_ARG_STRING, &o->audio_device, "ALSA PCM device for FluidSynth (default 'default')", "PCM"},
        {"seq-device", 0, 0, G_OPTION_ARG_STRING, &o->seq_device, "ALSA sequencer device (default 'default')", "NAME"},
        {NULL, 0, 0, 0, NULL, NULL, NULL}};
    GError *err = NULL;
    bool usage = true;
    gboolean ok = jam_opts_parse(g, entries,
                                 "--alsa - play live with a performer over the ALSA sequencer",
                                 alsa_summary, "--alsa --help", argc, argv, &err);
    if (ok && o->audio_driver && strcmp(o->audio_driver, "alsa") && strcmp(o->audio_driver, "jack")) {
        g_set_error(&err, CN_ERROR, CN_ERR_ARG, "--audio-driver: '%s' is not alsa or jack", o->audio_driver);
        ok = FALSE;
    }
    if (isnan(o->c.horizon_ms)) o->c.horizon_ms = 50;
    ok = ok && jam_opts_check(&o->c, &usage, &err);
    if (ok) return 0;
    fprintf(stderr, "continuo jam: %s\n", err ? err->message : "bad usage (see --alsa --help)");
    g_clear_error(&err);
    return usage ? 2 : 1;
}

int cmd_jam_alsa(int argc, char **argv)
{
    g_set_prgname("continuo jam");
    alsa_opts o = {0};
    int status = alsa_parse(argc, argv, &o);
    if (status) {
        jam_opts_free(&o.c);
        return status;
    }
    if (o.c.verbose) log_set_level(CN_LOG_DEBUG);

    /* Signals are taken by the pump (sigtimedwait); block them before any
     * thread starts (FluidSynth's audio thread) so every thread inherits it. */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);

    status = 1;
    session_config cfg;
    host_config hcfg;
    alsa_host *h = NULL;
    model *m = NULL;
    session *s = NULL;
    pump *p = NULL;
    audio_route route = {0};

    GError *err = NULL;
    if (!jam_opts_load(&o.c, &cfg, &hcfg, &err)) goto fail;

    alsa_host_config hc;
    alsa_host_config_defaults(&hc);
    if (o.c.name) hc.client_name = o.c.name;
    if (o.seq_device) hc.device = o.seq_device;
    hc.monitor = monitor_cb;
    hc.schedule = schedule_cb;
    hc.cb_arg = &route;
    h = alsa_host_new(&hc, &err);
    if (!h) goto fail;

    char *path = paths_find_model(o.c.model, &err);
    if (!path) goto fail;
    m = model_load(path, &err);
    g_free(path);
    if (!m || !model_set_device(m, o.c.device, &err)) goto fail;

    audio_try(&o, &route, &hcfg);

    pump_config pc;
    pump_config_defaults(&pc);
    pc.horizon = o.c.horizon_ms / 1e3;
    pc.duration = o.c.duration;
    pc.signals = true;
    pc.use_health = !o.c.no_health;
    health_config_defaults(&pc.health, &cfg);
    pc.record = o.c.record;
    reload_ctx rctx = {&o, &route};
    pc.reload = reload_cb;
    pc.reload_arg = &rctx;
    rotate_config rc;
    if (o.c.record_dir) {
        rotate_config_defaults(&rc);
        rc.dir = o.c.record_dir;
        rc.file_seconds = o.c.rotate_minutes * 60;
        rc.keep_files = o.c.keep_files;
        rc.keep_bytes = (guint64)(o.c.keep_mb * 1024 * 1024);
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

    for (int i = 0; o.c.connect_in && o.c.connect_in[i]; i++)
        if (!alsa_host_connect_in(h, o.c.connect_in[i], &err)) goto fail;
    for (int i = 0; o.c.connect_out && o.c.connect_out[i]; i++)
        if (!alsa_host_connect_out(h, o.c.connect_out[i], &err)) goto fail;
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
    jam_opts_free(&o.c);
    return status;
}
