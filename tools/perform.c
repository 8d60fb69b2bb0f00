/* perform.c — continuo-perform FILE.mid --to PORT: a virtual performer.
 * Plays a MIDI file into JACK MIDI port(s) in real time at exact frames
 * (tools/jackio/jack_player.c), then exits. Used by the e2e tests, the
 * benchmark and tools/jam-demo.
 *
 * Tempo: --clock BPM also sends MIDI clock (0xFA, then 0xF8 24 per
 * quarter note at exact frames, 0xFC at the end) from a second client
 * "NAME-clock" into the same ports; --transport BPM makes that client the
 * JACK timebase master (4/4, BBT from the transport frame) and starts the
 * transport from frame 0, stopping it at the end. */
#include <errno.h>
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "error.h"
#include "jack_player.h"
#include "midi_msg.h"
#include "midifile.h"
#include "stop_signals.h"
#include <jack/jack.h>
#include <jack/midiport.h>
#include <jack/transport.h>
#include "jackd.h"

/* ---------------------------------------------------------------------------
 * --clock / --transport: the second client */

#define TB_TICKS_PER_BEAT 1e6 /* BBT ticks: fine, so the integer tick costs < 1 us */

typedef struct {
    jack_client_t *client;
    jack_port_t *out;         /* --clock only */
    double clock_bpm, transport_bpm;
    uint32_t rate;
    /* RT state */
    uint64_t cycle64;
    bool have_cycle;
    uint64_t next_tick;       /* number of the next 0xF8 */
    atomic_bool started, stop, stopped;
    atomic_uint_least64_t start_frame, ticks;
} clock_client;

static uint64_t tick_frame(const clock_client *c, uint64_t start, uint64_t n)
{
    return start + (uint64_t)llround((double)n * c->rate * 60.0 / (c->clock_bpm * 24.0));
}

static int clock_process(jack_nframes_t nframes, void *arg)
{
    clock_client *c = arg;
    uint32_t f32 = jack_last_frame_time(c->client);
    c->cycle64 = c->have_cycle ? c->cycle64 + (uint32_t)(f32 - (uint32_t)c->cycle64) : f32;
    c->have_cycle = true;
    if (!c->out) return 0;
    uint64_t cycle = c->cycle64, end = cycle + nframes;
    void *buf = jack_port_get_buffer(c->out, nframes);
    jack_midi_clear_buffer(buf);
    if (atomic_load_explicit(&c->stopped, memory_order_relaxed)) return 0;
    if (atomic_load_explicit(&c->stop, memory_order_acquire)) {
        uint8_t msg = 0xfc;
        jack_midi_event_write(buf, 0, &msg, 1);
        atomic_store_explicit(&c->stopped, true, memory_order_release);
        return 0;
    }
    if (!atomic_load_explicit(&c->started, memory_order_relaxed)) {
        uint8_t msg = 0xfa; /* start: the next tick is the song's first */
        jack_midi_event_write(buf, 0, &msg, 1);
        atomic_store_explicit(&c->start_frame, cycle, memory_order_relaxed);
        atomic_store_explicit(&c->started, true, memory_order_release);
    }
    uint64_t start = atomic_load_explicit(&c->start_frame, memory_order_relaxed), f;
    while ((f = tick_frame(c, start, c->next_tick)) < end) {
        uint8_t msg = 0xf8;
        if (f >= cycle) jack_midi_event_write(buf, (uint32_t)(f - cycle), &msg, 1);
        c->next_tick++;
    }
    atomic_store_explicit(&c->ticks, c->next_tick, memory_order_relaxed);
    return 0;
}

/* The timebase master: 4/4 at transport_bpm, beat 0 at transport frame 0. */
static void clock_timebase(jack_transport_state_t state, jack_nframes_t nframes,
                           jack_position_t *pos, int new_pos, void *arg)
{
    (void)state;
    (void)nframes;
    (void)new_pos;
    clock_client *c = arg;
    double beats = (double)pos->frame / pos->frame_rate * c->transport_bpm / 60.0;
    double bar = floor(beats / 4.0), in_bar = beats - 4.0 * bar, beat = floor(in_bar);
    pos->valid = JackPositionBBT;
    pos->bar = (int32_t)bar + 1;
    pos->beat = (int32_t)beat + 1;
    pos->tick = (int32_t)floor((in_bar - beat) * TB_TICKS_PER_BEAT);
    pos->bar_start_tick = bar * 4.0 * TB_TICKS_PER_BEAT;
    pos->beats_per_bar = 4;
    pos->beat_type = 4;
    pos->ticks_per_beat = TB_TICKS_PER_BEAT;
    pos->beats_per_minute = c->transport_bpm;
}

static clock_client *clock_open(const char *name, const char *server, double clock_bpm,
                                double transport_bpm, char **to, double wait, GError **err)
{
    clock_client *c = g_new0(clock_client, 1);
    c->clock_bpm = clock_bpm;
    c->transport_bpm = transport_bpm;
    jack_status_t st;
    char *cname = g_strconcat(name, "-clock", NULL);
    c->client = jack_client_open(cname, JackNoStartServer | JackServerName, &st,
                                 jackd_server_name(server));
    g_free(cname);
    if (!c->client) {
        g_set_error(err, CN_ERROR, CN_ERR_JACK, "clock client: cannot connect to the JACK server");
        g_free(c);
        return NULL;
    }
    c->rate = jack_get_sample_rate(c->client);
    if (clock_bpm > 0)
        c->out = jack_port_register(c->client, "out", JACK_DEFAULT_MIDI_TYPE, JackPortIsOutput, 0);
    jack_set_process_callback(c->client, clock_process, c);
    if ((clock_bpm > 0 && !c->out) || jack_activate(c->client) != 0) {
        g_set_error(err, CN_ERROR, CN_ERR_JACK, "clock client: cannot register or activate");
        jack_client_close(c->client);
        g_free(c);
        return NULL;
    }
    if (transport_bpm > 0) {
        if (jack_set_timebase_callback(c->client, 0, clock_timebase, c) != 0) {
            g_set_error(err, CN_ERROR, CN_ERR_JACK, "clock client: cannot become the timebase master");
            jack_client_close(c->client);
            g_free(c);
            return NULL;
        }
        jack_transport_locate(c->client, 0);
        jack_transport_start(c->client);
    }
    for (int i = 0; c->out && to[i]; i++) {
        gint64 until = g_get_monotonic_time() + (gint64)(wait * 1e6);
        int rc;
        while ((rc = jack_connect(c->client, jack_port_name(c->out), to[i])) != 0 && rc != EEXIST &&
               g_get_monotonic_time() < until)
            g_usleep(50000);
        if (rc != 0 && rc != EEXIST) {
            g_set_error(err, CN_ERROR, CN_ERR_JACK, "clock client: cannot connect to %s", to[i]);
            jack_client_close(c->client);
            g_free(c);
            return NULL;
        }
    }
    return c;
}

/* Sends 0xFC (clock) / stops the transport, then closes. */
static void clock_close(clock_client *c)
{
    if (!c) return;
    if (c->out) {
        atomic_store_explicit(&c->stop, true, memory_order_release);
        for (int i = 0; i < 100 && !atomic_load(&c->stopped); i++) g_usleep(5000);
        g_usleep(50000); /* the readers' next cycle */
    }
    if (c->transport_bpm > 0) {
        jack_transport_stop(c->client);
        jack_release_timebase(c->client);
    }
    fprintf(stderr, "continuo-perform: clock: %llu ticks at %.3f bpm from frame %llu%s\n",
            (unsigned long long)atomic_load(&c->ticks), c->clock_bpm,
            (unsigned long long)atomic_load(&c->start_frame),
            c->transport_bpm > 0 ? "; transport master" : "");
    jack_client_close(c->client);
    g_free(c);
}

/* The file's events, plus the --cc ones, in time order, on --channel when
 * given. NULL + err (code 2: a bad --cc, else the reader's error). */
static GArray *load_events(const char *path, char **ccs, int channel, GError **err)
{
    GArray *events = midifile_load(path, err);
    if (!events) return NULL;
    for (int i = 0; ccs && ccs[i]; i++) {
        double t;
        int cc, val;
        char rest;
        if (sscanf(ccs[i], "%lf:%d:%d%c", &t, &cc, &val, &rest) != 3 || t < 0 || cc < 0 || cc > 127 ||
            val < 0 || val > 127) {
            g_set_error(err, CN_ERROR, 2, "--cc '%s': want TIME:CC:VALUE (CC, VALUE 0..127)", ccs[i]);
            g_array_free(events, TRUE);
            return NULL;
        }
        cn_event e = {t, CN_EV_CC, 0, (uint8_t)cc, (uint8_t)val};
        g_array_append_val(events, e);
    }
    cn_events_sort(events);
    if (channel >= 0)
        for (guint i = 0; i < events->len; i++) g_array_index(events, cn_event, i).channel = (uint8_t)channel;
    return events;
}

/* --log: the frame of every event sent, one line each. FALSE if the file
 * cannot be written (said on stderr). */
static gboolean write_log(const char *log_path, jack_player *p, const GArray *events)
{
    FILE *f = fopen(log_path, "w");
    if (!f) {
        fprintf(stderr, "continuo-perform: %s: cannot write\n", log_path);
        return FALSE;
    }
    fprintf(f, "# continuo-perform: rate %u start_frame %llu\n", jack_player_rate(p),
            (unsigned long long)jack_player_start_frame(p));
    uint64_t sent = jack_player_sent(p);
    for (guint i = 0; i < events->len && i < sent; i++) {
        const cn_event *e = &g_array_index(events, cn_event, i);
        uint8_t msg[3] = {0, 0, 0}; /* log the bytes as sent (note-off velocity 64) */
        midi_msg_encode(e->type, e->channel, e->a, e->b, msg);
        fprintf(f, "%llu p0 %s %u %u %u\n", (unsigned long long)jack_player_event_frame(p, i),
                cn_event_type_name(e->type), e->channel, e->a, e->type == CN_EV_PROGRAM ? 0 : msg[2]);
    }
    fclose(f);
    return TRUE;
}

int main(int argc, char **argv)
{
    char **to = NULL, **ccs = NULL, *server = NULL, *name = NULL, *log_path = NULL;
    double delay = 0.1, wait = 5.0, tail = 0.1, clock_bpm = 0, transport_bpm = 0;
    int channel = -1;
    GOptionEntry entries[] = {
        {"to", 't', 0, G_OPTION_ARG_STRING_ARRAY, &to, "JACK MIDI input port to play into (repeatable)", "PORT"},
        {"server", 's', 0, G_OPTION_ARG_STRING, &server, "JACK server name (default: $JACK_DEFAULT_SERVER or 'default')", "NAME"},
        {"name", 'n', 0, G_OPTION_ARG_STRING, &name, "JACK client name (default: perform)", "NAME"},
        {"delay", 'd', 0, G_OPTION_ARG_DOUBLE, &delay, "seconds between connecting and the first event (default 0.1)", "S"},
        {"wait", 'w', 0, G_OPTION_ARG_DOUBLE, &wait, "seconds to wait for each --to port to appear (default 5)", "S"},
        {"channel", 'c', 0, G_OPTION_ARG_INT, &channel, "send every event on this MIDI channel 0..15 (default: the file's)", "CH"},
        {"cc", 0, 0, G_OPTION_ARG_STRING_ARRAY, &ccs, "also send a control change at TIME seconds of the file (repeatable; e.g. 2.5:123:0 = all notes off)", "TIME:CC:VALUE"},
        {"log", 'l', 0, G_OPTION_ARG_FILENAME, &log_path, "write the frame of every event sent: 'FRAME p0 on|off|cc|pc CH A B' lines", "FILE"},
        {"clock", 0, 0, G_OPTION_ARG_DOUBLE, &clock_bpm, "also send MIDI clock at BPM into the --to ports (0xFA, 0xF8 24 per quarter note, 0xFC at the end), from a client NAME-clock", "BPM"},
        {"transport", 0, 0, G_OPTION_ARG_DOUBLE, &transport_bpm, "be the JACK timebase master at BPM (4/4) and roll the transport from frame 0 until the end", "BPM"},
        {"after", 0, 0, G_OPTION_ARG_DOUBLE, &tail, "seconds to stay (clock and transport running) after the last event (default 0.1)", "S"},
        {NULL, 0, 0, 0, NULL, NULL, NULL}};
    GOptionContext *ctx = g_option_context_new("FILE.mid --to PORT");
    g_option_context_set_summary(ctx,
        "Plays a MIDI file into a JACK MIDI port in real time, each event at its exact frame\n"
        "(start frame + round(time x rate)), then exits 0. SIGINT/SIGTERM stop it early with\n"
        "note-offs for every note it left sounding. Never starts a JACK server.");
    g_option_context_add_main_entries(ctx, entries, NULL);
    GError *err = NULL;
    if (!g_option_context_parse(ctx, &argc, &argv, &err) || argc != 2 || !to || !to[0]) {
        fprintf(stderr, "continuo-perform: %s\n", err ? err->message : "need FILE.mid and --to PORT (see --help)");
        return 2;
    }
    g_option_context_free(ctx);
    if (clock_bpm < 0 || clock_bpm > 1000 || transport_bpm < 0 || transport_bpm > 1000 || tail < 0) {
        fprintf(stderr, "continuo-perform: --clock and --transport take 0..1000 bpm, --after >= 0\n");
        return 2;
    }
    if (channel > 15) {
        fprintf(stderr, "continuo-perform: --channel must be 0..15\n");
        return 2;
    }

    GArray *events = load_events(argv[1], ccs, channel, &err);
    if (!events) {
        fprintf(stderr, "continuo-perform: %s\n", err->message);
        return err->code == 2 ? 2 : 1;
    }

    stop_signals_init(); /* before libjack starts its threads */

    clock_client *clk = NULL;
    if (clock_bpm > 0 || transport_bpm > 0) {
        clk = clock_open(name ? name : "perform", server, clock_bpm, transport_bpm, to, wait, &err);
        if (!clk) {
            fprintf(stderr, "continuo-perform: %s\n", err->message);
            return 1;
        }
    }
    jack_player *p = jack_player_new(name ? name : "perform", server, &err);
    if (!p) {
        fprintf(stderr, "continuo-perform: %s\n", err->message);
        return 1;
    }
    for (int i = 0; to[i]; i++)
        if (!jack_player_connect(p, to[i], wait, &err)) {
            fprintf(stderr, "continuo-perform: %s\n", err->message);
            jack_player_free(p);
            return 1;
        }
    jack_player_start(p, events, delay, NULL);

    int status = 0;
    bool stopped = false;
    while (!jack_player_done(p)) {
        if (stop_signals_wait(20) && !stopped) {
            jack_player_stop(p);
            stopped = true;
        }
        if (jack_player_dead(p)) {
            fprintf(stderr, "continuo-perform: the JACK server shut down; stopping\n");
            status = 1;
            break;
        }
    }
    /* let the last cycle reach its readers before the port goes away */
    gint64 until = g_get_monotonic_time() + (gint64)(tail * 1e6);
    while (g_get_monotonic_time() < until && !stop_signals_wait(20)) {}
    clock_close(clk);

    if (log_path && !write_log(log_path, p, events)) status = 1;
    fprintf(stderr, "continuo-perform: sent %llu of %u events from frame %llu (late %llu)%s\n",
            (unsigned long long)jack_player_sent(p), events->len,
            (unsigned long long)jack_player_start_frame(p), (unsigned long long)jack_player_late(p),
            stopped ? ", stopped early" : "");
    jack_player_free(p);
    g_array_free(events, TRUE);
    g_strfreev(to);
    g_strfreev(ccs);
    return status;
}
