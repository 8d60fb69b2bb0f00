/* cmd_jam.c — `continuo jam`: play live with a performer over JACK.
 *
 * Setup (this thread): preset -> session config, model, JACK client
 * (plugin/jack/jack_client.c), synth, session, the installation's duties
 * (plugin/duties.h: health watch, rotating recording, preset reload), worker
 * thread (plugin/jack/worker.c), connections. Then this thread only waits for
 * signals, drains the audio ring into the WAV file, and watches the clock and
 * the server. SIGHUP re-reads the preset and posts it to the worker, which
 * applies it between two steps (no gap). When the server shuts down the
 * worker ends every sounding note in the recording; with --reconnect (or the
 * preset's [output] reconnect) this thread then polls for a server every
 * 0.5 s and, once one is back, opens a new client, worker and connections
 * around the same session, whose clock goes on from where it was plus the
 * time the server was away. On the way out (signal, --duration, server gone
 * without reconnect, a broken model) it stops the worker (which ends every
 * sounding note), lets the RT thread play the note-offs, writes the .mid,
 * the last rotated file and the .wav and prints a summary of
 * `name: value unit` lines. */
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <sys/mman.h>
#include "alsa_jam.h"
#include "commands.h"
#include "duties.h"
#include "error.h"
#include "jam_opts.h"
#include "jam_stats.h"
#include "jack_client.h"
#include "jackd.h"
#include "log.h"
#include "model.h"
#include "paths.h"
#include "reload.h"
#include "rotate.h"
#include "session.h"
#include "stop_signals.h"
#include "wav_stream.h"
#include "worker.h"

/* A connection asked for on the command line: one of our ports and theirs. */
typedef struct {
    const char *ours, *theirs;
} jam_link;

/* Everything the jam holds; a reconnect replaces h and w and keeps the rest. */
typedef struct {
    jack_opts *o;
    session_config cfg;  /* the preset as last (re)loaded, tokens_per_step fitted */
    host_config hcfg;    /* its [output], with the command line's overrides */
    bool reconnect;      /* wait for a server when ours goes */
    bool soft_audio;     /* a missing SoundFont is a warning, not an error */
    bool host_audio;     /* the client has out_L/out_R */
    model *m;
    session *s;
    duties *d;
    jack_host *h;
    worker *w;
    synth *syn;
    uint32_t syn_rate;
    wav_stream *wav;
    uint32_t wav_rate;
    float *audio_buf;
    GError *werr;        /* the first WAV write error */
    GArray *links;       /* jam_link: every connection asked for */
    GArray *retry;       /* jam_link: those not made yet after a reconnect */
    gint64 last_retry;
    uint32_t rate, period; /* the latest server's */
    int reconnects;
    /* counters of the clients and workers before the current one */
    jack_host_stats hs_sum;
    worker_stats ws_sum;
} jam;

/* ----------------------------------------------------------------------------
 * SIGHUP: blocked in every thread (set before any starts) and polled here;
 * a handler catches it if a thread started earlier (OpenBLAS's pool) gets it,
 * as stop_signals.c does for SIGINT/SIGTERM. */

static volatile sig_atomic_t hup_pending;
static void hup_note(int sig) { (void)sig; hup_pending = 1; }

static void hup_init(void) { signal_hold(SIGHUP, hup_note); }

static bool hup_taken(void)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGHUP);
    struct timespec zero = {0, 0};
    bool got = sigtimedwait(&set, NULL, &zero) == SIGHUP;
    if (hup_pending) {
        hup_pending = 0;
        got = true;
    }
    return got;
}

/* ----------------------------------------------------------------------------
 * Setup helpers */

static void jam_policy(jam *j)
{
    j->reconnect = j->hcfg.reconnect;
    j->soft_audio = j->reconnect || j->cfg.mode == SESSION_SOLO;
}

/* A synth for the current client when the preset wants audio and there is
 * none yet (at start, after a reconnect, on SIGHUP). A missing SoundFont is
 * an error unless soft (then logged: the jam goes on MIDI only). */
static gboolean audio_try(jam *j, bool soft, GError **err)
{
    if (!j->hcfg.audio || !j->host_audio || j->syn || !j->h) return TRUE;
    GError *e = NULL;
    char *sf = paths_find_soundfont(j->o->c.soundfont, &e);
    if (sf) j->syn = synth_new(sf, (int)j->rate, &e);
    if (!j->syn) {
        g_free(sf);
        if (!soft) {
            g_propagate_error(err, e);
            return FALSE;
        }
        log_warn("%s; playing MIDI only (SIGHUP looks for the SoundFont again)", e->message);
        g_clear_error(&e);
        return TRUE;
    }
    j->syn_rate = j->rate;
    if (jack_host_started(j->h)) log_info("audio: SoundFont %s found; out_L/out_R play again", sf);
    else log_debug("SoundFont %s at %u Hz", sf, j->rate);
    g_free(sf);
    jack_host_install_synth(j->h, j->syn); /* before activation or while running */
    return TRUE;
}

/* Opens a client (not activated) and prepares its synth and WAV capture. */
static gboolean host_open(jam *j, bool quiet, GError **err)
{
    jack_host_config hc;
    jack_host_config_defaults(&hc);
    hc.client_name = j->o->c.name ? j->o->c.name : "continuo";
    hc.server_name = j->o->server;
    hc.verbose = j->o->c.verbose;
    hc.audio = j->host_audio;
    hc.capture_audio = j->host_audio && j->o->wav != NULL;
    hc.quiet_open = quiet;
    const char *sync = j->o->sync ? j->o->sync : "auto";
    hc.sync_transport = !strcmp(sync, "auto") || !strcmp(sync, "transport");
    hc.sync_clock = !strcmp(sync, "auto") || !strcmp(sync, "midi-clock");
    j->h = jack_host_new(&hc, err);
    if (!j->h) return FALSE;
    j->rate = jack_host_rate(j->h);
    j->period = jack_host_period(j->h);
    if (j->syn && j->syn_rate != j->rate) {
        /* No RT thread renders it now (the old client is closed). */
        log_info("the new server runs at %u Hz (was %u): synth made again", j->rate, j->syn_rate);
        synth_free(j->syn);
        j->syn = NULL;
    } else if (j->syn) {
        synth_all_off(j->syn); /* voices left from before the server went */
    }
    jack_host_set_synth(j->h, j->syn, j->hcfg.performer_audio);
    if (j->wav && j->wav_rate != j->rate) {
        log_warn("--wav: the new server runs at %u Hz, the file at %u Hz: the WAV ends here",
                 j->rate, j->wav_rate);
        GError *e = NULL;
        if (!j->werr && !wav_stream_close(j->wav, &e)) j->werr = e;
        else if (j->werr) wav_stream_close(j->wav, NULL);
        j->wav = NULL;
    }
    return audio_try(j, quiet || j->soft_audio, err);
}

static gboolean worker_start(jam *j, GError **err)
{
    worker_config wc;
    worker_config_defaults(&wc);
    wc.horizon = isnan(j->o->c.horizon_ms) ? 0 : j->o->c.horizon_ms / 1e3; /* 0: one period */
    wc.verbose = j->o->c.verbose;
    wc.duties = j->d;
    wc.held = true; /* until connect_all: a --connect-out port hears the first note */
    j->w = worker_new(j->h, j->s, &wc, err);
    return j->w != NULL;
}

/* Makes the connections asked for. strict: the first failure is the error
 * (at start, a typo must be seen); else failures wait in j->retry. */
static gboolean connect_all(jam *j, bool strict, GError **err)
{
    for (guint i = 0; i < j->links->len; i++) {
        jam_link *l = &g_array_index(j->links, jam_link, i);
        GError *e = NULL;
        if (jack_host_connect(j->h, l->ours, l->theirs, &e)) continue;
        if (strict) {
            g_propagate_error(err, e);
            return FALSE;
        }
        log_info("%s; trying again every second", e->message);
        g_clear_error(&e);
        g_array_append_val(j->retry, *l);
    }
    if (j->host_audio && !(j->o->audio_out && j->o->audio_out[0]) && !j->o->no_auto_connect) {
        int n = jack_host_connect_playback(j->h);
        log_debug("audio connected to %d playback port(s)", n);
    }
    return TRUE;
}

static void connect_retry(jam *j)
{
    gint64 now = g_get_monotonic_time();
    if (!j->retry->len || now - j->last_retry < 1000000) return;
    j->last_retry = now;
    for (guint i = 0; i < j->retry->len;) {
        jam_link *l = &g_array_index(j->retry, jam_link, i);
        GError *e = NULL;
        if (jack_host_connect(j->h, l->ours, l->theirs, &e)) {
            log_info("connected %s and %s again", jack_host_port_name(j->h, l->ours), l->theirs);
            g_array_remove_index(j->retry, i);
        } else {
            g_clear_error(&e);
            i++;
        }
    }
}

/* ----------------------------------------------------------------------------
 * The jam */

static void print_summary(jam *j, double seconds)
{
    session_stats ss;
    jack_host_stats hs = j->hs_sum, cur;
    worker_stats ws = j->ws_sum, wcur;
    session_get_stats(j->s, &ss);
    if (j->h) {
        jack_host_get_stats(j->h, &cur);
        jam_host_stats_add(&hs, &cur);
    }
    if (j->w) {
        worker_get_stats(j->w, &wcur);
        jam_worker_stats_add(&ws, &wcur);
    }
    double period_ms = j->rate ? 1e3 * j->period / j->rate : 0;
    printf("duration: %.1f s\n", seconds);
    printf("mode: %s\n", session_mode_name(j->cfg.mode));
    printf("notes_in: %ld\n", ss.notes_in);
    printf("notes_out: %ld\n", ss.notes_out);
    printf("answers: %llu\n", (unsigned long long)ws.answers);
    if (ws.answers) {
        /* from the performer's last note event to the model's first note after it;
         * in duet this includes the preset's pause */
        printf("response_latency_mean: %.1f ms\n", 1e3 * ws.answer_gap_sum_s / ws.answers);
        printf("response_latency_min: %.1f ms\n", 1e3 * ws.answer_gap_min_s);
        printf("response_latency_max: %.1f ms\n", 1e3 * ws.answer_gap_max_s);
        if (j->cfg.mode == SESSION_DUET)
            printf("duet_pause: %.1f ms\n", 1e3 * j->cfg.duet_pause);
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
    printf("reconnects: %d\n", j->reconnects);
    /* tempo sync: the last tempo the jam followed (none: never one) */
    int src = hs.sync_source;
    printf("sync_items: %llu\n", (unsigned long long)hs.sync_in);
    printf("sync_drops: %llu\n", (unsigned long long)hs.sync_drops);
    printf("tempo_source: %s\n", src == TEMPO_SRC_POSITION ? "transport"
                                 : src == TEMPO_SRC_MIDI_CLOCK ? "midi-clock" : "none");
    printf("tempo: %.3f bpm\n", src ? hs.sync_bpm : 0.0);
    /* the JACK frame at the session's time 0 (the --record .mid's origin) */
    if (j->h && jack_host_started(j->h) && !j->reconnects)
        printf("start_frame: %llu\n", (unsigned long long)jack_host_start_frame(j->h));
    if (j->d) {
        duties_stats ds;
        duties_get_stats(j->d, &ds);
        printf("reloads: %ld\n", ds.reloads);
        printf("health_responses: %ld\n", ds.health_silence + ds.health_loop + ds.health_crowd);
        printf("nan_resets: %ld\n", ss.nan_resets);
    }
    fflush(stdout);
}

/* Drains captured audio into the WAV file (NULL: just empties the ring). */
static void drain_audio(jam *j)
{
    if (!j->audio_buf || !j->h) return;
    size_t n;
    while ((n = jack_host_read_audio(j->h, j->audio_buf, 4096)) > 0)
        if (j->wav && !j->werr) wav_stream_write(j->wav, j->audio_buf, n, &j->werr);
}

/* SIGHUP: the preset again, posted to the worker (applied at its next pass). */
static void jam_reload(jam *j)
{
    session_config c;
    host_config hc;
    GError *e = NULL;
    log_info("SIGHUP: reading the preset %s again", j->o->c.preset_path);
    if (!jam_opts_load(&j->o->c, &c, &hc, &e)) {
        log_error("SIGHUP: %s; the jam goes on as it was", e->message);
        g_clear_error(&e);
        return;
    }
    /* What was fitted to the server's period stays the ceiling. */
    if (c.tokens_per_step > j->cfg.tokens_per_step) c.tokens_per_step = j->cfg.tokens_per_step;
    j->cfg = c;
    j->hcfg = hc;
    jam_policy(j);
    duties_post_reload(j->d, &c);
    if (j->h && !jack_host_dead(j->h)) audio_try(j, true, NULL);
}

enum { END_STOP, END_GONE, END_BROKEN };

/* Runs while the client is up: signals, the clock, the server, the worker. */
static int run_connected(jam *j, gint64 t0, gint64 *last_report)
{
    const jack_opts *o = j->o;
    for (;;) {
        int sig = stop_signals_wait(20);
        drain_audio(j);
        if (sig) return END_STOP;
        if (hup_taken()) jam_reload(j);
        if (o->c.duration > 0 && g_get_monotonic_time() - t0 >= (gint64)(o->c.duration * 1e6))
            return END_STOP;
        if (jack_host_dead(j->h)) return END_GONE;
        if (worker_broken(j->w)) return END_BROKEN;
        connect_retry(j);
        uint64_t skip_at, skip_len;
        while (jack_host_pop_skip(j->h, &skip_at, &skip_len))
            if (o->c.verbose)
                fprintf(stderr, "continuo jam: xrun: the server skipped our cycles, frames %llu+%llu\n",
                        (unsigned long long)skip_at, (unsigned long long)skip_len);
        if (o->c.verbose && g_get_monotonic_time() - *last_report >= 5000000) {
            *last_report = g_get_monotonic_time();
            jack_host_stats hs;
            jack_host_get_stats(j->h, &hs);
            fprintf(stderr, "continuo jam: %.0f s: events in %llu out %llu, late %llu, drops %llu, xruns %llu\n",
                    (*last_report - t0) / 1e6, (unsigned long long)hs.events_in,
                    (unsigned long long)hs.events_out, (unsigned long long)hs.late,
                    (unsigned long long)(hs.drops_in + hs.drops_out), (unsigned long long)hs.xruns);
        }
    }
}

/* The session's time when the client stops: the cycle after the latest. */
static double host_end_time(jam *j)
{
    if (!jack_host_started(j->h)) return jack_host_time_offset(j->h);
    return jack_host_seconds(j->h, jack_host_cycle_frame(j->h) + jack_host_period(j->h));
}

/* The latest time in the session's recording (what rotation left of it). */
static double recording_end(const session *s)
{
    const GArray *r = session_recording(s);
    double t = 0;
    for (guint i = 0; i < r->len; i++)
        if (g_array_index(r, cn_event, i).time > t) t = g_array_index(r, cn_event, i).time;
    return t;
}

/* After the worker stopped: counters kept, client and worker freed. */
static void host_close(jam *j)
{
    jack_host_stats hs;
    worker_stats ws;
    jack_host_get_stats(j->h, &hs);
    worker_get_stats(j->w, &ws);
    jam_host_stats_add(&j->hs_sum, &hs);
    jam_worker_stats_add(&j->ws_sum, &ws);
    drain_audio(j);
    worker_free(j->w);
    j->w = NULL;
    jack_host_free(j->h);
    j->h = NULL;
    g_array_set_size(j->retry, 0);
}

/* The server is gone (the worker has ended the notes in the recording and
 * stopped; the client is closed): polls for a server every 0.5 s. Returns
 * TRUE with a new client open (not activated), FALSE when stopped first. */
static bool wait_for_server(jam *j, gint64 t0)
{
    const jack_opts *o = j->o;
    for (;;) {
        if (stop_signals_wait(500)) return false;
        if (hup_taken()) jam_reload(j);
        if (o->c.duration > 0 && g_get_monotonic_time() - t0 >= (gint64)(o->c.duration * 1e6))
            return false;
        GError *e = NULL;
        if (host_open(j, true, &e)) return true;
        if (j->h) { /* the server is there but the client could not be made */
            log_error("%s; trying again", e ? e->message : "jack client");
            jack_host_free(j->h);
            j->h = NULL;
        }
        g_clear_error(&e);
    }
}

/* ----------------------------------------------------------------------------
 * Start, run, end */

/* The duties on the session's thread: health, the rotating recording. */
static gboolean duties_open(jam *j, rotate_config *rc, GError **err)
{
    const jam_opts *o = &j->o->c;
    duties_config dc;
    duties_config_defaults(&dc, &j->cfg);
    dc.use_health = !o->no_health;
    if (o->record_dir) {
        rotate_config_defaults(rc);
        rc->dir = o->record_dir;
        rc->file_seconds = o->rotate_minutes * 60;
        rc->keep_files = o->keep_files;
        rc->keep_bytes = (guint64)(o->keep_mb * 1024 * 1024);
        dc.rotate = rc;
    }
    /* Without a rotating recorder nothing is handed off; with one, the
     * session keeps every event only when a final .mid is wanted too. */
    dc.keep_recording = o->record != NULL;
    j->d = duties_new(&dc, err);
    return j->d != NULL;
}

/* Preset, model, server, client, session, duties, worker, connections: up
 * to the model's first note. */
static gboolean jam_start(jam *j, GPid *jackd_pid, rotate_config *rc, GError **err)
{
    const jack_opts *o = j->o;
    if (!jam_opts_load(&o->c, &j->cfg, &j->hcfg, err)) return FALSE;
    jam_policy(j);
    j->host_audio = j->hcfg.audio;
    if (o->wav && !j->hcfg.audio) {
        g_set_error(err, CN_ERROR, CN_ERR_ARG, "--wav needs audio (the preset or --no-audio turned it off)");
        return FALSE;
    }
    char *mpath = paths_find_model(o->c.model, err);
    if (!mpath) return FALSE;
    j->m = model_load(mpath, err);
    g_free(mpath);
    if (!j->m || !model_set_device(j->m, o->c.device, err)) return FALSE;

    if (!jackd_running(o->server)) {
        if (!o->start_server) {
            g_set_error(err, CN_ERROR, CN_ERR_JACK,
                        "no JACK server '%s' is running (start one, or use --start-server)",
                        jackd_server_name(o->server));
            return FALSE;
        }
        if (!jackd_start(o->server, 48000, 128, 10.0, o->c.verbose, jackd_pid, err)) return FALSE;
        if (o->c.verbose) fprintf(stderr, "continuo jam: started jackd '%s' (dummy backend)\n", jackd_server_name(o->server));
    }

    if (!host_open(j, false, err)) return FALSE;
    if (o->wav) {
        j->wav = wav_stream_open(o->wav, j->rate, 2, err);
        if (!j->wav) return FALSE;
        j->wav_rate = j->rate;
        j->audio_buf = g_new(float, 2 * 4096);
    }
    /* One generation step must fit in a period (see worker.h). */
    double ms_per_token = worker_fit_budget(&j->cfg, j->m, (double)j->period / j->rate);
    log_debug("%.3f ms per token: at most %d tokens per step", ms_per_token, j->cfg.tokens_per_step);
    j->s = session_new(&j->cfg, j->m, err);
    if (!j->s || !duties_open(j, rc, err) || !worker_start(j, err)) return FALSE;
    /* Lock what is mapped now (model, rings, synth samples) and what comes
     * later, so neither thread takes a page fault mid-jam; best effort. */
    if (mlockall(MCL_CURRENT | MCL_FUTURE) != 0 && o->c.verbose)
        fprintf(stderr, "continuo jam: memory not locked (no privilege); running anyway\n");
    if (!jack_host_activate(j->h, err)) return FALSE;

    for (int i = 0; o->c.connect_in && o->c.connect_in[i]; i++)
        g_array_append_val(j->links, ((jam_link){"midi_in", o->c.connect_in[i]}));
    for (int i = 0; o->c.connect_out && o->c.connect_out[i]; i++)
        g_array_append_val(j->links, ((jam_link){"midi_out", o->c.connect_out[i]}));
    if (j->host_audio && o->audio_out && o->audio_out[0]) {
        const char *l = o->audio_out[0], *r = o->audio_out[1] ? o->audio_out[1] : o->audio_out[0];
        g_array_append_val(j->links, ((jam_link){"out_L", l}));
        g_array_append_val(j->links, ((jam_link){"out_R", r}));
    }
    if (!connect_all(j, true, err)) return FALSE;
    worker_go(j->w);
    fprintf(stderr, "continuo jam: %s mode, ports %s %s%s%s; Ctrl-C to stop\n",
            session_mode_name(j->cfg.mode), jack_host_port_name(j->h, "midi_in"),
            jack_host_port_name(j->h, "midi_out"), j->host_audio ? " " : "",
            j->host_audio ? jack_host_port_name(j->h, "out_L") : "");
    if (j->reconnect) log_info("if the JACK server shuts down, the jam waits for it to come back");
    return TRUE;
}

/* Signals, the clock, the server; reconnects while asked to. Returns the
 * END_* reason (-1: a failure, in *err) and the session's end time so far. */
static int jam_play(jam *j, gint64 t0, double *end_time, GError **err)
{
    gint64 last_report = t0;
    for (;;) {
        int end = run_connected(j, t0, &last_report);
        if (end != END_GONE || !j->reconnect) return end;
        /* The worker ends every note (in the recording only: no server). */
        worker_stop(j->w);
        double gone_at = host_end_time(j), rec_end = recording_end(j->s);
        if (rec_end > gone_at) gone_at = rec_end;
        *end_time = gone_at;
        log_warn("the JACK server '%s' shut down: %s; notes ended at %.2f s; waiting for it to come back",
                 jackd_server_name(j->o->server), jack_host_dead_reason(j->h), gone_at);
        host_close(j);
        gint64 away_since = g_get_monotonic_time();
        if (!wait_for_server(j, t0)) return end; /* stopped while waiting: j->h is NULL */
        /* The session's clock goes on from where it was, plus the time away. */
        double offset = gone_at + (g_get_monotonic_time() - away_since) / 1e6;
        jack_host_set_time_offset(j->h, offset);
        int was = j->cfg.tokens_per_step;
        worker_fit_budget(&j->cfg, j->m, (double)j->period / j->rate);
        if (j->cfg.tokens_per_step < was && !session_apply_config(j->s, &j->cfg, offset, err)) return -1;
        if (!worker_start(j, err) || !jack_host_activate(j->h, err)) return -1;
        connect_all(j, false, NULL);
        worker_go(j->w);
        j->reconnects++;
        log_info("reconnected to the JACK server '%s' (%u Hz, %u frames per period); the session "
                 "goes on at %.2f s", jackd_server_name(j->o->server), j->rate, j->period, offset);
    }
}

/* End every note: the worker panics and hands the note-offs over (only to
 * the recording when the server is gone); the RT thread plays them and the
 * synth rings out briefly for the WAV. Returns the session's end time. */
static double jam_end_notes(jam *j, int end, double end_time)
{
    if (!j->h) return end_time;
    worker_stop(j->w);
    if (end != END_GONE && jack_host_started(j->h)) {
        /* Every note the model started ends on midi_out: the client stays
         * active until a cycle that began after the hand-over has written
         * the last note-off (and one more ran), whatever the period;
         * bounded, as a dying server stops the cycles (2 s: an xrun storm
         * on a loaded machine can stall them for over half a second, and a
         * note-off lost there is a hanging note in the DAW). */
        uint64_t since = jack_host_cycles(j->h);
        jack_host_synth_all_off(j->h); /* the performer's notes too */
        double period_s = (double)j->period / j->rate;
        gint64 deadline = g_get_monotonic_time() + (gint64)((2.0 + 4 * period_s) * 1e6);
        while (!jack_host_output_written(j->h, since) && !jack_host_dead(j->h) &&
               g_get_monotonic_time() < deadline) {
            g_usleep(2000);
            drain_audio(j);
        }
        if (!jack_host_output_written(j->h, since) && !jack_host_dead(j->h))
            log_warn("the last note-offs were not written to midi_out within %.0f ms "
                     "(%zu events left)", 1e3 * (2.0 + 4 * period_s), jack_host_output_pending(j->h));
        gint64 tail = g_get_monotonic_time() + (j->syn ? 300000 : 0);
        while (g_get_monotonic_time() < tail && !jack_host_dead(j->h)) {
            g_usleep(10000);
            drain_audio(j);
        }
    }
    end_time = host_end_time(j);
    jack_host_deactivate(j->h);
    drain_audio(j);
    return end_time;
}

/* The recordings, the WAV, the summary; returns the exit status. */
static int jam_finish(jam *j, int end, double end_time, gint64 t0)
{
    const jack_opts *o = j->o;
    int status = end == END_BROKEN ? 1 : 0;
    GError *rerr = NULL;
    if (!duties_finish(j->d, j->s, end_time, &rerr)) {
        log_error("%s", rerr->message);
        g_clear_error(&rerr);
        status = 1;
    }
    if (o->c.record && !session_save_recording(j->s, o->c.record, end_time, &rerr)) {
        fprintf(stderr, "continuo jam: %s\n", rerr->message);
        g_clear_error(&rerr);
        status = 1;
    }
    if (j->wav) {
        if (!j->werr) wav_stream_close(j->wav, &j->werr);
        else wav_stream_close(j->wav, NULL);
        j->wav = NULL;
    }
    if (j->werr) {
        fprintf(stderr, "continuo jam: %s\n", j->werr->message);
        g_clear_error(&j->werr);
        status = 1;
    }
    print_summary(j, (g_get_monotonic_time() - t0) / 1e6);
    if (end == END_GONE && !j->reconnect) {
        const char *rec = o->c.record;
        fprintf(stderr, "continuo jam: the JACK server '%s' shut down: %s; %s%s%sexiting (continuo does not reconnect without --reconnect)\n",
                jackd_server_name(o->server), jack_host_dead_reason(j->h),
                rec ? "the recording is in " : "", rec ? rec : "", rec ? "; " : "");
        status = 1;
    }
    if (end == END_BROKEN) log_error("the model broke for good: exiting with status 1");
    return status;
}

static void jam_free(jam *j)
{
    if (j->w) worker_free(j->w);
    if (j->h) jack_host_free(j->h); /* before the synth its callback renders */
    if (j->wav) wav_stream_close(j->wav, NULL);
    g_clear_error(&j->werr);
    g_free(j->audio_buf);
    if (j->syn) synth_free(j->syn);
    duties_free(j->d);
    session_free(j->s);
    if (j->m) model_free(j->m);
    g_array_free(j->links, TRUE);
    g_array_free(j->retry, TRUE);
}

int cmd_jam(int argc, char **argv)
{
    if (jam_wants_alsa(argc, argv)) return cmd_jam_alsa(argc, argv); /* plugin/cli/alsa_jam.c */
    g_set_prgname("continuo jam");
    jack_opts o = {0};
    int status = jam_parse_jack(argc, argv, &o);
    if (status) {
        jam_opts_free(&o.c);
        return status;
    }
    if (o.c.verbose) log_set_level(CN_LOG_DEBUG);

    /* Before any thread starts (see stop_signals.h). */
    stop_signals_init();
    hup_init();

    jam j = {0};
    j.o = &o;
    j.links = g_array_new(FALSE, FALSE, sizeof(jam_link));
    j.retry = g_array_new(FALSE, FALSE, sizeof(jam_link));
    GPid jackd_pid = 0;
    rotate_config rc;
    GError *err = NULL;
    if (jam_start(&j, &jackd_pid, &rc, &err)) {
        gint64 t0 = g_get_monotonic_time();
        double end_time = 0;
        int end = jam_play(&j, t0, &end_time, &err);
        if (end >= 0) status = jam_finish(&j, end, jam_end_notes(&j, end, end_time), t0);
    }
    if (err) {
        fprintf(stderr, "continuo jam: %s\n", err->message);
        g_clear_error(&err);
        status = 1;
    }
    jam_free(&j);
    if (jackd_pid) jackd_stop(jackd_pid);
    jam_opts_free(&o.c);
    return status;
}
