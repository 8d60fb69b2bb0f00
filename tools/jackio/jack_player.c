/* jack_player.c — plays timed events into a JACK MIDI port at exact frames.
 * See jack_player.h. */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <jack/jack.h>
#include <jack/midiport.h>
#include "error.h"
#include "jackd.h"
#include "jack_player.h"
#include "midi_msg.h"

struct jack_player {
    jack_client_t *client;
    jack_port_t *out;
    char *port_name;
    uint32_t rate;
    rt_event *events; /* frame = offset from the start frame */
    size_t n;
    uint64_t delay_frames;

    /* RT-thread state */
    size_t next;
    uint64_t cycle64;
    bool have_cycle;
    uint8_t sounding[16][128]; /* note-ons written minus note-offs, per channel and key */

    atomic_bool armed, playing, done, dead, stop;
    atomic_uint_least64_t start_frame, sent, late;
};

static int player_process(jack_nframes_t nframes, void *arg)
{
    jack_player *p = arg;
    uint32_t f32 = jack_last_frame_time(p->client);
    p->cycle64 = p->have_cycle ? p->cycle64 + (uint32_t)(f32 - (uint32_t)p->cycle64) : f32;
    p->have_cycle = true;
    uint64_t cycle = p->cycle64, end = cycle + nframes;
    void *buf = jack_port_get_buffer(p->out, nframes);
    jack_midi_clear_buffer(buf);
    if (atomic_load_explicit(&p->done, memory_order_relaxed)) return 0;
    if (atomic_load_explicit(&p->stop, memory_order_acquire)) {
        for (int ch = 0; ch < 16; ch++)
            for (int k = 0; k < 128; k++)
                for (; p->sounding[ch][k] > 0; p->sounding[ch][k]--) {
                    uint8_t msg[3] = {(uint8_t)(0x80 | ch), (uint8_t)k, 64};
                    jack_midi_event_write(buf, 0, msg, 3);
                }
        atomic_store_explicit(&p->done, true, memory_order_release);
        return 0;
    }
    if (!atomic_load_explicit(&p->armed, memory_order_acquire)) return 0;
    if (!atomic_load_explicit(&p->playing, memory_order_relaxed)) {
        atomic_store_explicit(&p->start_frame, cycle + p->delay_frames, memory_order_relaxed);
        atomic_store_explicit(&p->playing, true, memory_order_release);
    }
    uint64_t start = atomic_load_explicit(&p->start_frame, memory_order_relaxed);
    uint64_t sent = 0, late = 0;
    while (p->next < p->n && start + p->events[p->next].frame < end) {
        const rt_event *e = &p->events[p->next];
        uint64_t due = start + e->frame;
        uint32_t offset = 0;
        if (due < cycle) late++;
        else offset = (uint32_t)(due - cycle);
        uint8_t msg[3];
        size_t len = midi_msg_encode(e->type, e->channel, e->a, e->b, msg);
        if (len == 0 || jack_midi_event_write(buf, offset, msg, len) != 0) break; /* buffer full: next cycle */
        sent++;
        p->next++;
        uint8_t *snd = &p->sounding[e->channel & 15][e->a & 127];
        if (e->type == CN_EV_NOTE_ON && *snd < 255) (*snd)++;
        else if (e->type == CN_EV_NOTE_OFF && *snd > 0) (*snd)--;
    }
    if (sent) atomic_fetch_add_explicit(&p->sent, sent, memory_order_relaxed);
    if (late) atomic_fetch_add_explicit(&p->late, late, memory_order_relaxed);
    if (p->next >= p->n) atomic_store_explicit(&p->done, true, memory_order_release);
    return 0;
}

static void player_shutdown(jack_status_t code, const char *reason, void *arg)
{
    (void)code; (void)reason;
    jack_player *p = arg;
    atomic_store(&p->dead, true);
}

jack_player *jack_player_new(const char *name, const char *server, GError **err)
{
    jack_player *p = calloc(1, sizeof *p);
    jack_status_t status;
    p->client = jack_client_open(name, JackNoStartServer | JackServerName, &status,
                                 jackd_server_name(server));
    if (!p->client) {
        g_set_error(err, CN_ERROR, CN_ERR_JACK, "jack client '%s': cannot connect to the JACK server '%s'",
                    name, jackd_server_name(server));
        free(p);
        return NULL;
    }
    p->rate = jack_get_sample_rate(p->client);
    p->out = jack_port_register(p->client, "out", JACK_DEFAULT_MIDI_TYPE, JackPortIsOutput, 0);
    if (!p->out) {
        g_set_error(err, CN_ERROR, CN_ERR_JACK, "jack client '%s': cannot register its port", name);
        jack_player_free(p);
        return NULL;
    }
    p->port_name = g_strdup(jack_port_name(p->out));
    jack_set_process_callback(p->client, player_process, p);
    jack_on_info_shutdown(p->client, player_shutdown, p);
    if (jack_activate(p->client) != 0) {
        g_set_error(err, CN_ERROR, CN_ERR_JACK, "jack client '%s': cannot activate", name);
        jack_player_free(p);
        return NULL;
    }
    return p;
}

void jack_player_free(jack_player *p)
{
    if (!p) return;
    if (p->client) jack_client_close(p->client);
    g_free(p->port_name);
    free(p->events);
    free(p);
}

const char *jack_player_port_name(jack_player *p) { return p->port_name; }

gboolean jack_player_connect(jack_player *p, const char *port, double wait, GError **err)
{
    /* The port may not exist yet, or belong to a client not yet active
     * (then jack_connect fails): retry both until the deadline. */
    gint64 deadline = g_get_monotonic_time() + (gint64)(wait * 1e6);
    for (;;) {
        if (jack_port_by_name(p->client, port)) {
            int rc = jack_connect(p->client, p->port_name, port);
            if (rc == 0 || rc == EEXIST) break;
        }
        if (g_get_monotonic_time() >= deadline || atomic_load(&p->dead)) {
            g_set_error(err, CN_ERROR, CN_ERR_JACK, "jack: cannot connect %s to %s within %.1f s%s",
                        p->port_name, port, wait, jack_port_by_name(p->client, port) ? "" : " (no such port)");
            return FALSE;
        }
        g_usleep(20 * 1000);
    }
    return TRUE;
}

gboolean jack_player_start(jack_player *p, const GArray *events, double delay, GError **err)
{
    if (atomic_load(&p->armed)) {
        g_set_error(err, CN_ERROR, CN_ERR_ARG, "jack player: already started");
        return FALSE;
    }
    p->n = events->len;
    p->events = calloc(p->n ? p->n : 1, sizeof *p->events);
    for (size_t i = 0; i < p->n; i++) {
        const cn_event *e = &g_array_index(events, cn_event, i);
        double rel = e->time > 0 ? e->time : 0;
        p->events[i] = (rt_event){(uint64_t)(rel * p->rate + 0.5), e->type, e->channel, e->a, e->b};
        /* keep the frames non-decreasing even if rounding disagrees */
        if (i && p->events[i].frame < p->events[i - 1].frame) p->events[i].frame = p->events[i - 1].frame;
    }
    (void)mlock(p->events, (p->n ? p->n : 1) * sizeof *p->events);
    p->delay_frames = (uint64_t)(delay * p->rate + 0.5);
    atomic_store_explicit(&p->armed, true, memory_order_release);
    return TRUE;
}

void jack_player_stop(jack_player *p) { atomic_store_explicit(&p->stop, true, memory_order_release); }

bool jack_player_done(jack_player *p) { return atomic_load_explicit(&p->done, memory_order_acquire); }
bool jack_player_dead(jack_player *p) { return atomic_load(&p->dead); }
uint64_t jack_player_start_frame(jack_player *p) { return atomic_load(&p->start_frame); }
uint64_t jack_player_sent(jack_player *p) { return atomic_load(&p->sent); }
uint64_t jack_player_late(jack_player *p) { return atomic_load(&p->late); }
uint32_t jack_player_rate(jack_player *p) { return p->rate; }
uint64_t jack_player_event_frame(jack_player *p, size_t i)
{
    return i < p->n ? jack_player_start_frame(p) + p->events[i].frame : 0;
}
