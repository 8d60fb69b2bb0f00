/* jack_client.c — the JACK client of `continuo jam`: ports, rings, setup,
 * teardown and the queries of the other threads. The process callback
 * (RT thread) is in jack_process.c. See jack_client.h. */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <jack/jack.h>
#include <jack/thread.h>
#include "error.h"
#include "jack_client_internal.h"
#include "jackd.h"
#include "ring.h"
#include "rtqueue.h"

/* ----------------------------------------------------------------------------
 * Callbacks from JACK's non-RT threads */

static int jack_host_xrun(void *arg)
{
    jack_host *h = arg;
    atomic_fetch_add_explicit(&h->xruns, 1, memory_order_relaxed);
    return 0;
}

/* Runs on a JACK thread when the server goes away: only record it; the main
 * thread notices (jack_host_dead), ends the notes and writes the recording. */
static void jack_host_shutdown(jack_status_t code, const char *reason, void *arg)
{
    jack_host *h = arg;
    snprintf(h->dead_reason, sizeof h->dead_reason, "%s (status 0x%x)",
             reason && *reason ? reason : "server shut down", (unsigned)code);
    atomic_store_explicit(&h->dead, true, memory_order_release);
}

/* ----------------------------------------------------------------------------
 * Setup and teardown */

void jack_host_config_defaults(jack_host_config *c)
{
    memset(c, 0, sizeof *c);
    c->client_name = "continuo";
    c->capture_seconds = 2.0;
    c->queue_events = 4096;
}

static void jack_quiet(const char *msg) { (void)msg; }
static void jack_info_stderr(const char *msg) { fprintf(stderr, "jack: %s\n", msg); }
static void jack_error_stderr(const char *msg) { fprintf(stderr, "jack: %s\n", msg); }

/* Allocates n bytes, zeroed (touched) and locked where allowed. */
static void *rt_alloc(size_t n)
{
    void *p = calloc(1, n);
    if (p) {
        memset(p, 0, n);
        (void)mlock(p, n); /* best effort: without the privilege pages are touched anyway */
    }
    return p;
}

jack_host *jack_host_new(const jack_host_config *c, GError **err)
{
    jack_host *h = rt_alloc(sizeof *h);
    if (!h) {
        g_set_error(err, CN_ERROR, CN_ERR_JACK, "jack client: out of memory");
        return NULL;
    }
    const char *server = jackd_server_name(c->server_name);
    jack_set_info_function(c->verbose ? jack_info_stderr : jack_quiet);
    /* Polling for a server that is not there yet: libjack's complaints about
     * the missing socket would fill the log every half second. */
    if (c->quiet_open) jack_set_error_function(jack_quiet);
    jack_status_t status;
    h->client = jack_client_open(c->client_name, JackNoStartServer | JackServerName, &status,
                                 server);
    if (c->quiet_open) jack_set_error_function(jack_error_stderr);
    if (!h->client) {
        g_set_error(err, CN_ERROR, CN_ERR_JACK,
                    "jack client '%s': cannot connect to the JACK server '%s' (status 0x%x%s)",
                    c->client_name, server, (unsigned)status,
                    (status & JackServerFailed) ? ": no server running; try --start-server" : "");
        free(h);
        return NULL;
    }
    h->rate = jack_get_sample_rate(h->client);
    h->period = jack_get_buffer_size(h->client);
    h->audio = c->audio;

    h->midi_in = jack_port_register(h->client, "midi_in", JACK_DEFAULT_MIDI_TYPE, JackPortIsInput, 0);
    h->midi_out = jack_port_register(h->client, "midi_out", JACK_DEFAULT_MIDI_TYPE, JackPortIsOutput, 0);
    if (h->audio) {
        h->out_l = jack_port_register(h->client, "out_L", JACK_DEFAULT_AUDIO_TYPE, JackPortIsOutput, 0);
        h->out_r = jack_port_register(h->client, "out_R", JACK_DEFAULT_AUDIO_TYPE, JackPortIsOutput, 0);
    }
    if (!h->midi_in || !h->midi_out || (h->audio && (!h->out_l || !h->out_r))) {
        g_set_error(err, CN_ERROR, CN_ERR_JACK, "jack client '%s': cannot register its ports",
                    jack_get_client_name(h->client));
        jack_host_free(h);
        return NULL;
    }
    jack_port_t *ports[4] = {h->midi_in, h->midi_out, h->out_l, h->out_r};
    for (int i = 0; i < 4; i++)
        if (ports[i]) h->port_names[i] = g_strdup(jack_port_name(ports[i]));

    int q = c->queue_events > 0 ? c->queue_events : 4096;
    h->in = ring_new(sizeof(rt_event), (size_t)q);
    h->out = ring_new(sizeof(rt_event), (size_t)q);
    h->skips = ring_new(2 * sizeof(uint64_t), 256);
    h->sync_transport = c->sync_transport;
    h->sync_clock = c->sync_clock;
    h->sync = ring_new(sizeof(rt_sync), 2048); /* ~5 s of per-cycle reports at 128 frames */
    h->pending = rtqueue_new(PENDING_MAX);
    h->slots_in = rt_alloc(SYNTH_EVENTS_MAX * sizeof *h->slots_in);
    h->slots_out = rt_alloc(SYNTH_EVENTS_MAX * sizeof *h->slots_out);
    h->hist = rt_alloc(HIST_BINS * sizeof *h->hist);
    if (c->capture_audio && h->audio) {
        double secs = c->capture_seconds > 0 ? c->capture_seconds : 2.0;
        h->capture = ring_new(2 * sizeof(float), (size_t)(secs * h->rate));
        h->interleave = rt_alloc(2 * CAPTURE_PERIOD_MAX * sizeof(float));
    }
    if (!h->in || !h->out || !h->skips || !h->sync || !h->pending || !h->slots_in || !h->slots_out || !h->hist ||
        (c->capture_audio && h->audio && (!h->capture || !h->interleave))) {
        g_set_error(err, CN_ERROR, CN_ERR_JACK, "jack client '%s': out of memory",
                    jack_get_client_name(h->client));
        jack_host_free(h);
        return NULL;
    }

    jack_set_process_callback(h->client, jack_host_process, h);
    jack_set_xrun_callback(h->client, jack_host_xrun, h);
    jack_on_info_shutdown(h->client, jack_host_shutdown, h);
    return h;
}

void jack_host_free(jack_host *h)
{
    if (!h) return;
    if (h->client) {
        /* After a shutdown the client must still be closed (JACK docs);
         * libjack then complains that the server is not running, which the
         * jam has already said in its own words. */
        bool dead = jack_host_dead(h);
        if (h->active && !dead) jack_deactivate(h->client);
        if (dead) jack_set_error_function(jack_quiet);
        jack_client_close(h->client);
        if (dead) jack_set_error_function(jack_error_stderr);
    }
    for (int i = 0; i < 4; i++) g_free(h->port_names[i]);
    ring_free(h->in);
    ring_free(h->out);
    ring_free(h->capture);
    ring_free(h->skips);
    ring_free(h->sync);
    rtqueue_free(h->pending);
    free(h->slots_in);
    free(h->slots_out);
    free(h->interleave);
    free((void *)h->hist);
    free(h);
}

void jack_host_set_synth(jack_host *h, synth *s, bool synth_input)
{
    h->synth_input = synth_input;
    atomic_store_explicit(&h->synth_pub, s, memory_order_release);
}

void jack_host_install_synth(jack_host *h, synth *s)
{
    /* synth_input was fixed before activation; the release store publishes
     * the synth's state to the RT thread's acquire load. */
    atomic_store_explicit(&h->synth_pub, s, memory_order_release);
}

bool jack_host_has_synth(const jack_host *h)
{
    return atomic_load_explicit(&((jack_host *)h)->synth_pub, memory_order_acquire) != NULL;
}

void jack_host_set_time_offset(jack_host *h, double seconds) { h->time_offset = seconds; }
double jack_host_time_offset(const jack_host *h) { return h->time_offset; }

void jack_host_synth_all_off(jack_host *h)
{
    atomic_store_explicit(&h->all_off, true, memory_order_release);
}

void jack_host_set_wake(jack_host *h, void (*wake)(void *), void *arg)
{
    h->wake = wake;
    h->wake_arg = arg;
}

gboolean jack_host_activate(jack_host *h, GError **err)
{
    if (jack_activate(h->client) != 0) {
        g_set_error(err, CN_ERROR, CN_ERR_JACK, "jack client '%s': cannot activate",
                    jack_get_client_name(h->client));
        return FALSE;
    }
    h->active = true;
    return TRUE;
}

void jack_host_deactivate(jack_host *h)
{
    if (h->active && !jack_host_dead(h)) jack_deactivate(h->client);
    h->active = false;
}

static int port_index(const char *ours)
{
    static const char *names[4] = {"midi_in", "midi_out", "out_L", "out_R"};
    for (int i = 0; i < 4; i++)
        if (!strcmp(ours, names[i])) return i;
    return -1;
}

const char *jack_host_port_name(jack_host *h, const char *ours)
{
    int i = port_index(ours);
    return i < 0 ? NULL : h->port_names[i];
}

gboolean jack_host_connect(jack_host *h, const char *ours, const char *theirs, GError **err)
{
    int i = port_index(ours);
    if (i < 0 || !h->port_names[i]) {
        g_set_error(err, CN_ERROR, CN_ERR_ARG, "jack client: no port '%s' (audio off?)", ours);
        return FALSE;
    }
    if (!jack_port_by_name(h->client, theirs)) {
        g_set_error(err, CN_ERROR, CN_ERR_JACK, "jack: no port '%s' to connect %s to", theirs,
                    h->port_names[i]);
        return FALSE;
    }
    bool input = i == 0;
    const char *src = input ? theirs : h->port_names[i];
    const char *dst = input ? h->port_names[i] : theirs;
    int rc = jack_connect(h->client, src, dst);
    if (rc != 0 && rc != EEXIST) {
        g_set_error(err, CN_ERROR, CN_ERR_JACK, "jack: cannot connect %s to %s", src, dst);
        return FALSE;
    }
    return TRUE;
}

int jack_host_connect_playback(jack_host *h)
{
    if (!h->audio) return 0;
    const char **ports = jack_get_ports(h->client, NULL, JACK_DEFAULT_AUDIO_TYPE,
                                        JackPortIsPhysical | JackPortIsInput);
    int made = 0;
    if (ports) {
        for (int i = 0; i < 2 && ports[i]; i++)
            if (jack_connect(h->client, h->port_names[2 + i], ports[i]) == 0) made++;
        /* a mono device gets both channels */
        if (ports[0] && !ports[1] && jack_connect(h->client, h->port_names[3], ports[0]) == 0) made++;
        jack_free(ports);
    }
    return made;
}

int jack_host_rt_priority(jack_host *h)
{
    return jack_is_realtime(h->client) ? jack_client_real_time_priority(h->client) : -1;
}

uint32_t jack_host_rate(const jack_host *h) { return h->rate; }
uint32_t jack_host_period(const jack_host *h) { return h->period; }

/* ----------------------------------------------------------------------------
 * The worker's side */

bool jack_host_started(const jack_host *h)
{
    return atomic_load_explicit(&((jack_host *)h)->started, memory_order_acquire);
}

uint64_t jack_host_start_frame(const jack_host *h)
{
    return atomic_load_explicit(&((jack_host *)h)->start_frame, memory_order_relaxed);
}

uint64_t jack_host_cycle_frame(const jack_host *h)
{
    return atomic_load_explicit(&((jack_host *)h)->cycle_frame, memory_order_acquire);
}

uint64_t jack_host_frame_now(jack_host *h)
{
    uint64_t cycle = jack_host_cycle_frame(h);
    if (jack_host_dead(h)) return cycle;
    uint32_t now32 = jack_frame_time(h->client);
    /* the estimate may lag the cycle start by a few frames: never go back */
    int32_t ahead = (int32_t)(now32 - (uint32_t)cycle);
    return ahead > 0 ? cycle + (uint64_t)ahead : cycle;
}

uint64_t jack_host_xruns(const jack_host *h)
{
    return atomic_load_explicit(&((jack_host *)h)->xruns, memory_order_relaxed);
}

bool jack_host_pop_input(jack_host *h, rt_event *ev) { return ring_pop(h->in, ev); }

int jack_host_drain_sync(jack_host *h, tempo_clock *c)
{
    rt_sync sy;
    int n = 0;
    double t = 0;
    while (ring_pop(h->sync, &sy)) {
        n++;
        t = jack_host_seconds(h, sy.frame);
        if (sy.kind == RT_SYNC_CLOCK) {
            if (h->sync_transport && h->drain_tp_valid) continue; /* the transport wins */
            if (sy.byte == 0xf2) tempo_song_position(c, sy.spp);
            else tempo_midi_byte(c, sy.byte, t);
            continue;
        }
        h->drain_tp_valid = sy.valid;
        if (sy.valid) {
            tempo_position p = {.time = t, .bpm = sy.bpm, .beats_per_bar = sy.beats_per_bar,
                                .bar = sy.bar, .bar_beat = sy.bar_beat, .rolling = sy.rolling};
            tempo_report_position(c, &p);
        } else if (tempo_source(c) == TEMPO_SRC_POSITION) {
            tempo_reset(c); /* the timebase master went: free time (or MIDI clock next) */
        }
    }
    if (n && tempo_known(c, t)) {
        double bpm = tempo_bpm(c);
        uint64_t bits;
        memcpy(&bits, &bpm, sizeof bits);
        atomic_store_explicit(&h->sync_bpm_bits, bits, memory_order_relaxed);
        atomic_store_explicit(&h->sync_source, tempo_source(c), memory_order_relaxed);
    }
    return n;
}
size_t jack_host_output_space(const jack_host *h) { return ring_space(h->out); }
bool jack_host_push_output(jack_host *h, const rt_event *ev) { return ring_push(h->out, ev); }

size_t jack_host_output_pending(const jack_host *h)
{
    return ring_count(h->out) +
           atomic_load_explicit(&((jack_host *)h)->n_pending_pub, memory_order_acquire);
}

uint64_t jack_host_cycles(const jack_host *h)
{
    return atomic_load_explicit(&((jack_host *)h)->cycles, memory_order_acquire);
}

bool jack_host_output_written(const jack_host *hc, uint64_t since)
{
    jack_host *h = (jack_host *)hc;
    uint64_t done = atomic_load_explicit(&h->cycles, memory_order_acquire);
    uint64_t busy = atomic_load_explicit(&h->busy_cycle, memory_order_relaxed);
    /* Cycle since + 1 may have begun before the caller's push and missed it;
     * since + 2 began after since + 1 ended, so it took all of it from the
     * ring. The latest ended cycle must also have found nothing to write or
     * hold: then the cycle that wrote the last event was followed by one
     * more, and the clients after us in the graph have read its buffer. */
    return done >= since + 2 && done > busy;
}

bool jack_host_pop_skip(jack_host *h, uint64_t *first, uint64_t *frames)
{
    uint64_t skip[2];
    if (!ring_pop(h->skips, skip)) return false;
    *first = skip[0];
    *frames = skip[1];
    return true;
}

size_t jack_host_read_audio(jack_host *h, float *lr, size_t frames)
{
    return h->capture ? ring_read(h->capture, lr, frames) : 0;
}

/* ----------------------------------------------------------------------------
 * Counters */

void jack_host_get_stats(const jack_host *hc, jack_host_stats *st)
{
    jack_host *h = (jack_host *)hc;
    memset(st, 0, sizeof *st);
    st->cycles = atomic_load(&h->cycles);
    st->events_in = atomic_load(&h->events_in);
    st->events_out = atomic_load(&h->events_out);
    st->late = atomic_load(&h->late);
    st->late_skipped = atomic_load(&h->late_skipped);
    st->cycles_skipped = atomic_load(&h->cycles_skipped);
    st->frames_skipped = atomic_load(&h->frames_skipped);
    st->late_max_frames = atomic_load(&h->late_max);
    st->drops_in = atomic_load(&h->drops_in);
    st->drops_out = atomic_load(&h->drops_out);
    st->audio_drops = atomic_load(&h->audio_drops);
    st->xruns = atomic_load(&h->xruns);
    st->synth_events = atomic_load(&h->synth_events);
    st->sync_in = atomic_load(&h->sync_in);
    st->sync_drops = atomic_load(&h->sync_drops);
    uint64_t bits = atomic_load(&h->sync_bpm_bits);
    memcpy(&st->sync_bpm, &bits, sizeof bits);
    st->sync_source = atomic_load(&h->sync_source);
    uint64_t total = 0;
    for (int i = 0; i < HIST_BINS; i++) total += atomic_load_explicit(&h->hist[i], memory_order_relaxed);
    if (total) {
        uint64_t want50 = (total + 1) / 2, want99 = (total * 99 + 99) / 100, acc = 0;
        bool have50 = false;
        for (int i = 0; i < HIST_BINS; i++) {
            acc += atomic_load_explicit(&h->hist[i], memory_order_relaxed);
            double us = (i + 0.5) * HIST_BIN_US; /* bin centre */
            if (!have50 && acc >= want50) {
                st->cb_p50_us = us;
                have50 = true;
            }
            if (acc >= want99) {
                st->cb_p99_us = us;
                break;
            }
        }
    }
    st->cb_max_us = atomic_load(&h->cb_max_ns) / 1000.0;
}

bool jack_host_dead(const jack_host *h)
{
    return atomic_load_explicit(&((jack_host *)h)->dead, memory_order_acquire);
}

const char *jack_host_dead_reason(const jack_host *h)
{
    return jack_host_dead(h) ? h->dead_reason : NULL;
}
