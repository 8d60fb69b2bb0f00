/* jack_recorder.c — records MIDI ports (frame-stamped) and audio RMS from
 * JACK. See jack_recorder.h. */
#include <errno.h>
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jack/jack.h>
#include <jack/midiport.h>
#include "error.h"
#include "jackd.h"
#include "jack_recorder.h"
#include "midi_msg.h"
#include "ring.h"

#define REC_PORTS_MAX 16

struct jack_recorder {
    jack_client_t *client;
    int n_midi, n_audio;
    jack_port_t *midi[REC_PORTS_MAX], *audio[REC_PORTS_MAX];
    uint32_t rate, period, window;
    ring *items;
    ring *xruns;  /* jrec_item, written by the notification thread (its own ring: one writer each) */

    /* RT-thread state */
    uint64_t cycle64;
    bool have_cycle;
    double sumsq[REC_PORTS_MAX];
    uint32_t filled;        /* frames in the current RMS window */
    uint64_t window_start;
    uint64_t prev_end;      /* frame after the previous cycle */

    atomic_uint_least64_t start_frame, drops;
    atomic_bool started, dead;
};

static void rec_push(jack_recorder *r, const jrec_item *it)
{
    if (!ring_push(r->items, it)) atomic_fetch_add_explicit(&r->drops, 1, memory_order_relaxed);
}

/* The RMS window so far (r->filled frames, > 0) out, one item a port, stamped
 * with its start; the sums start again. */
static void end_window(jack_recorder *r)
{
    for (int p = 0; p < r->n_audio; p++) {
        jrec_item it = {.frame = r->window_start, .kind = JREC_RMS, .port = (uint8_t)p,
                        .value = (float)sqrt(r->sumsq[p] / r->filled)};
        rec_push(r, &it);
        r->sumsq[p] = 0;
    }
    r->filled = 0;
}

static int rec_process(jack_nframes_t nframes, void *arg)
{
    jack_recorder *r = arg;
    uint32_t f32 = jack_last_frame_time(r->client);
    r->cycle64 = r->have_cycle ? r->cycle64 + (uint32_t)(f32 - (uint32_t)r->cycle64) : f32;
    if (!r->have_cycle) {
        r->have_cycle = true;
        r->window_start = r->cycle64;
        r->prev_end = r->cycle64;
        atomic_store(&r->start_frame, r->cycle64);
        atomic_store_explicit(&r->started, true, memory_order_release);
    }
    uint64_t cycle = r->cycle64;
    if (cycle > r->prev_end) {
        jrec_item it = {.frame = r->prev_end, .kind = JREC_SKIP, .value = (float)(cycle - r->prev_end)};
        rec_push(r, &it);
        /* A window must span only the frames its stamp says: one the skip
         * cut ends here, shorter (RMS over the frames it has), and the next
         * starts with this cycle. Else a window stamped before an event
         * would hold sound from after it. */
        if (r->filled > 0) end_window(r);
        r->window_start = cycle;
    }
    r->prev_end = cycle + nframes;
    for (int p = 0; p < r->n_midi; p++) {
        void *buf = jack_port_get_buffer(r->midi[p], nframes);
        uint32_t n = jack_midi_get_event_count(buf);
        for (uint32_t i = 0; i < n; i++) {
            jack_midi_event_t e;
            if (jack_midi_event_get(&e, buf, i) != 0) continue;
            jrec_item it = {.frame = cycle + e.time, .kind = JREC_MIDI, .port = (uint8_t)p};
            if (midi_msg_parse(e.buffer, e.size, &it.type, &it.channel, &it.a, &it.b)) rec_push(r, &it);
        }
    }
    if (r->n_audio == 0) return 0;
    /* RMS windows may end inside a cycle: walk the cycle in pieces. */
    const float *bufs[REC_PORTS_MAX];
    for (int p = 0; p < r->n_audio; p++) bufs[p] = jack_port_get_buffer(r->audio[p], nframes);
    uint32_t done = 0;
    while (done < nframes) {
        uint32_t take = r->window - r->filled;
        if (take > nframes - done) take = nframes - done;
        for (int p = 0; p < r->n_audio; p++) {
            double s = 0;
            for (uint32_t i = done; i < done + take; i++) s += (double)bufs[p][i] * bufs[p][i];
            r->sumsq[p] += s;
        }
        r->filled += take;
        done += take;
        if (r->filled == r->window) {
            end_window(r);
            r->window_start = cycle + done;
        }
    }
    return 0;
}

static int rec_xrun(void *arg)
{
    jack_recorder *r = arg;
    uint32_t now32 = jack_frame_time(r->client);
    uint64_t base = r->cycle64; /* a racy read is fine: only the high bits are used */
    uint64_t frame = (base & ~(uint64_t)0xffffffffu) | now32;
    if (frame + 0x80000000u < base) frame += (uint64_t)1 << 32;
    jrec_item it = {.frame = frame, .kind = JREC_XRUN};
    if (!ring_push(r->xruns, &it)) atomic_fetch_add_explicit(&r->drops, 1, memory_order_relaxed);
    return 0;
}

static void rec_shutdown(jack_status_t code, const char *reason, void *arg)
{
    (void)code; (void)reason;
    jack_recorder *r = arg;
    atomic_store(&r->dead, true);
}

jack_recorder *jack_recorder_new(const char *name, const char *server, int n_midi, int n_audio,
                                 double rms_window, GError **err)
{
    if (n_midi < 0 || n_audio < 0 || n_midi > REC_PORTS_MAX || n_audio > REC_PORTS_MAX) {
        g_set_error(err, CN_ERROR, CN_ERR_ARG, "jack recorder: at most %d ports of each kind", REC_PORTS_MAX);
        return NULL;
    }
    jack_recorder *r = calloc(1, sizeof *r);
    jack_status_t status;
    r->client = jack_client_open(name, JackNoStartServer | JackServerName, &status,
                                 jackd_server_name(server));
    if (!r->client) {
        g_set_error(err, CN_ERROR, CN_ERR_JACK, "jack client '%s': cannot connect to the JACK server '%s'",
                    name, jackd_server_name(server));
        free(r);
        return NULL;
    }
    r->rate = jack_get_sample_rate(r->client);
    r->period = jack_get_buffer_size(r->client);
    r->window = (uint32_t)((rms_window > 0 ? rms_window : 0.1) * r->rate + 0.5);
    if (r->window == 0) r->window = 1;
    r->n_midi = n_midi;
    r->n_audio = n_audio;
    r->items = ring_new(sizeof(jrec_item), 1 << 16);
    r->xruns = ring_new(sizeof(jrec_item), 1 << 12);
    for (int i = 0; i < n_midi; i++) {
        char pn[32];
        snprintf(pn, sizeof pn, "midi_%d", i);
        r->midi[i] = jack_port_register(r->client, pn, JACK_DEFAULT_MIDI_TYPE, JackPortIsInput, 0);
    }
    for (int i = 0; i < n_audio; i++) {
        char pn[32];
        snprintf(pn, sizeof pn, "audio_%d", i);
        r->audio[i] = jack_port_register(r->client, pn, JACK_DEFAULT_AUDIO_TYPE, JackPortIsInput, 0);
    }
    bool ok = r->items && r->xruns;
    for (int i = 0; i < n_midi; i++) ok = ok && r->midi[i];
    for (int i = 0; i < n_audio; i++) ok = ok && r->audio[i];
    if (!ok) {
        g_set_error(err, CN_ERROR, CN_ERR_JACK, "jack client '%s': cannot register its ports", name);
        jack_recorder_free(r);
        return NULL;
    }
    jack_set_process_callback(r->client, rec_process, r);
    jack_on_info_shutdown(r->client, rec_shutdown, r);
    jack_set_xrun_callback(r->client, rec_xrun, r);
    if (jack_activate(r->client) != 0) {
        g_set_error(err, CN_ERROR, CN_ERR_JACK, "jack client '%s': cannot activate", name);
        jack_recorder_free(r);
        return NULL;
    }
    return r;
}

void jack_recorder_free(jack_recorder *r)
{
    if (!r) return;
    if (r->client) jack_client_close(r->client);
    ring_free(r->items);
    ring_free(r->xruns);
    free(r);
}

static gboolean rec_connect(jack_recorder *r, jack_port_t *ours, const char *port, double wait,
                            GError **err)
{
    /* The port may not exist yet, or belong to a client not yet active
     * (then jack_connect fails): retry both until the deadline. */
    gint64 deadline = g_get_monotonic_time() + (gint64)(wait * 1e6);
    for (;;) {
        if (jack_port_by_name(r->client, port)) {
            int rc = jack_connect(r->client, port, jack_port_name(ours));
            if (rc == 0 || rc == EEXIST) break;
        }
        if (g_get_monotonic_time() >= deadline || atomic_load(&r->dead)) {
            g_set_error(err, CN_ERROR, CN_ERR_JACK, "jack: cannot connect %s to %s within %.1f s%s",
                        port, jack_port_name(ours), wait, jack_port_by_name(r->client, port) ? "" : " (no such port)");
            return FALSE;
        }
        g_usleep(20 * 1000);
    }
    return TRUE;
}

gboolean jack_recorder_connect_midi(jack_recorder *r, int i, const char *port, double wait, GError **err)
{
    if (i < 0 || i >= r->n_midi) {
        g_set_error(err, CN_ERROR, CN_ERR_ARG, "jack recorder: no MIDI port %d", i);
        return FALSE;
    }
    return rec_connect(r, r->midi[i], port, wait, err);
}

gboolean jack_recorder_connect_audio(jack_recorder *r, int i, const char *port, double wait, GError **err)
{
    if (i < 0 || i >= r->n_audio) {
        g_set_error(err, CN_ERROR, CN_ERR_ARG, "jack recorder: no audio port %d", i);
        return FALSE;
    }
    return rec_connect(r, r->audio[i], port, wait, err);
}

size_t jack_recorder_drain(jack_recorder *r, GArray *items)
{
    jrec_item buf[256];
    size_t total = 0, n;
    while ((n = ring_read(r->items, buf, 256)) > 0) {
        g_array_append_vals(items, buf, (guint)n);
        total += n;
    }
    while ((n = ring_read(r->xruns, buf, 256)) > 0) {
        g_array_append_vals(items, buf, (guint)n);
        total += n;
    }
    return total;
}

uint32_t jack_recorder_rate(jack_recorder *r) { return r->rate; }
uint32_t jack_recorder_period(jack_recorder *r) { return r->period; }
uint64_t jack_recorder_start_frame(jack_recorder *r) { return atomic_load(&r->start_frame); }
uint64_t jack_recorder_drops(jack_recorder *r) { return atomic_load(&r->drops); }
bool jack_recorder_dead(jack_recorder *r) { return atomic_load(&r->dead); }
