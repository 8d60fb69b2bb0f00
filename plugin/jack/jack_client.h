/* jack_client.h — the JACK side of `continuo jam`: ports, the process
 * callback, and the rings that connect it to the worker thread.
 *
 * Ports: midi_in, midi_out, and (unless audio is off) out_L, out_R.
 *
 * The process callback (the RT thread) does only this, per cycle:
 *   1. midi_in events, stamped cycle_start + event.time (absolute frames),
 *      pushed to the input ring (counted as drops when the ring is full);
 *      with tempo sync on, MIDI clock messages go to the sync ring instead,
 *      and the transport's position (jack_transport_query, RT safe) joins
 *      them once per cycle (jack_host_drain_sync takes them);
 *   2. output events from the output ring merged into a small sorted pending
 *      list; those due before the cycle's end written to midi_out at
 *      offset = due - cycle_start (0 when late, counted), in order; later
 *      ones wait for their cycle;
 *   3. the synth rendered into out_L/out_R in slices split at those events'
 *      offsets (the model's notes, and the performer's when synth_input);
 *   4. optionally the rendered audio copied to a ring for a WAV writer;
 *   5. counters, the callback's own duration (a histogram), cycles the
 *      server skipped, and the cycle frame published in atomics; the worker
 *      woken (the wake callback: worker_wake's sem_post, never a wait).
 * No allocation, locks, printf or blocking calls happen in it. Every
 * function below says whether it is RT safe; none is meant for the RT thread
 * except through the rings.
 *
 * Frames are 64-bit and unwrapped (low 32 bits = JACK's frame time), so a
 * session can run for days. Seconds on the engine's clock are
 * time_offset + (frame - start_frame) / sample_rate, start_frame being the
 * first cycle's; time_offset is 0 for the first client of a jam and, after a
 * reconnect, where the session's clock had got to (so that no time goes
 * back when a new server's frames start from anywhere). */
#ifndef CONTINUO_JACK_CLIENT_H
#define CONTINUO_JACK_CLIENT_H

#include <stdbool.h>
#include <stdint.h>
#include <glib.h>
#include "midi_msg.h"
#include "synth.h"
#include "tempo.h"

typedef struct jack_host jack_host;

typedef struct {
    const char *client_name; /* "continuo" */
    const char *server_name; /* NULL: $JACK_DEFAULT_SERVER or "default" */
    bool audio;              /* register out_L/out_R (a synth is set with jack_host_set_synth) */
    bool capture_audio;      /* copy out_L/out_R into a ring for jack_host_read_audio */
    double capture_seconds;  /* capacity of that ring (2 s) */
    int queue_events;        /* capacity of each event ring (4096) */
    bool verbose;            /* let libjack print its info messages */
    bool quiet_open;         /* no libjack error lines if the server is absent (reconnect polling) */
    /* Tempo sync: what the process callback passes on to
     * jack_host_drain_sync. Both off: MIDI clock bytes are dropped as before. */
    bool sync_transport;     /* jack_transport_query each cycle (RT safe) */
    bool sync_clock;         /* MIDI clock bytes (0xF8 0xFA 0xFB 0xFC 0xF2) on midi_in */
} jack_host_config;

void jack_host_config_defaults(jack_host_config *c);

/* Opens the client (never starts a server: see jackd.h), registers the ports,
 * allocates and touches every RT buffer. Not RT safe. */
jack_host *jack_host_new(const jack_host_config *c, GError **err);
/* Deactivates (if active) and closes. Not RT safe. */
void jack_host_free(jack_host *h);

/* The synth that renders into out_L/out_R (created at jack_host_rate; owned
 * by the caller, freed after jack_host_free), and whether it also plays the
 * performer's notes. Before jack_host_activate. Without one the audio ports
 * carry silence. */
void jack_host_set_synth(jack_host *h, synth *s, bool synth_input);
/* Hands a synth to a running client that had none (one created later, e.g.
 * when a SoundFont missing at start turns up on SIGHUP); synth_input stays
 * as jack_host_set_synth left it. One atomic store; any thread, once. */
void jack_host_install_synth(jack_host *h, synth *s);
bool jack_host_has_synth(const jack_host *h);
/* Asks the RT thread to call synth_all_off at its next cycle (stopping:
 * whatever the performer left sounding rings out). Any thread. */
void jack_host_synth_all_off(jack_host *h);

/* Called from the RT thread at the end of each cycle (must be RT safe, e.g.
 * worker_wake). Set before jack_host_activate. */
void jack_host_set_wake(jack_host *h, void (*wake)(void *), void *arg);

gboolean jack_host_activate(jack_host *h, GError **err);
/* Stops the process callback (returns once it no longer runs). Not RT safe. */
void jack_host_deactivate(jack_host *h);

/* Connects one of our ports ("midi_in", "midi_out", "out_L", "out_R") to or
 * from a foreign port, in the right direction. Not RT safe. */
gboolean jack_host_connect(jack_host *h, const char *ours, const char *theirs, GError **err);
/* Connects out_L/out_R to the first two physical playback ports, if any;
 * returns how many connections were made. Not RT safe. */
int jack_host_connect_playback(jack_host *h);
/* Full name of one of our ports, e.g. "continuo:midi_out" (owned by h). */
const char *jack_host_port_name(jack_host *h, const char *ours);

/* SCHED_FIFO priority of the process thread, or -1 when not realtime. */
int jack_host_rt_priority(jack_host *h);
uint32_t jack_host_rate(const jack_host *h);   /* frames per second */
uint32_t jack_host_period(const jack_host *h); /* frames per cycle */
/* Seconds on the session's clock at start_frame (default 0). Set before
 * jack_host_activate. Not RT safe (plain field). */
void jack_host_set_time_offset(jack_host *h, double seconds);
double jack_host_time_offset(const jack_host *h);

/* ---- for the worker thread (the rings' other ends; not RT, never block) -- */
/* True once the first cycle ran; start_frame is then valid. */
bool jack_host_started(const jack_host *h);
uint64_t jack_host_start_frame(const jack_host *h);
/* Start frame of the latest cycle the process callback began. */
uint64_t jack_host_cycle_frame(const jack_host *h);
/* The server's estimate of the current frame (jack_frame_time, unwrapped). */
uint64_t jack_host_frame_now(jack_host *h);
/* Server xruns so far (any client's), for a worker that widens its margin
 * after one. */
uint64_t jack_host_xruns(const jack_host *h);
static inline double jack_host_seconds(const jack_host *h, uint64_t frame);
/* The frame of a time in seconds on the engine's clock (rounded). */
static inline uint64_t jack_host_frame_of(const jack_host *h, double seconds);

bool jack_host_pop_input(jack_host *h, rt_event *ev);
/* Feeds what the RT thread saw since the last call (MIDI clock bytes, the
 * transport's position at each cycle start; see jack_host_config) into the
 * beat clock c, in order, times in seconds on the engine's clock. With both
 * kinds on, the transport wins while a timebase master gives BBT, MIDI clock
 * otherwise; a transport that loses its BBT leaves the clock free. Returns
 * how many items it took. Worker thread (the sync ring's one reader; not RT). */
int jack_host_drain_sync(jack_host *h, tempo_clock *c);
size_t jack_host_output_space(const jack_host *h);
bool jack_host_push_output(jack_host *h, const rt_event *ev);
/* Output events not yet written to midi_out (ring + pending list). */
size_t jack_host_output_pending(const jack_host *h);
/* Cycles the process callback has run to their end (a count, not frames).
 * Any thread; RT safe. */
uint64_t jack_host_cycles(const jack_host *h);
/* True once every output event pushed before jack_host_cycles returned
 * `since` has been written to midi_out by a cycle that ran to its end, and
 * the next cycle ended too (the clients reading midi_out have had it). For
 * waiting before a deactivate: poll with a bounded timeout (an xrun or a
 * dead server stops the cycles). Any thread; RT safe (no wait). */
bool jack_host_output_written(const jack_host *h, uint64_t since);

/* The next range of frames the server ran without calling us (an xrun
 * skipped our callback: input then is lost, output due then goes out late).
 * False when none is waiting. One reader. */
bool jack_host_pop_skip(jack_host *h, uint64_t *first, uint64_t *frames);

/* Reads up to `frames` stereo frames (interleaved L R floats) of captured
 * audio; returns how many. Only when capture_audio was set. */
size_t jack_host_read_audio(jack_host *h, float *lr, size_t frames);

/* ---- counters, read from any thread ------------------------------------- */
typedef struct {
    uint64_t cycles;
    uint64_t events_in;       /* MIDI events read on midi_in */
    uint64_t events_out;      /* events written to midi_out */
    uint64_t late;            /* output events written after their due frame (at offset 0)
                               * in a cycle that ran normally: our own lateness */
    uint64_t late_skipped;    /* late because of a server xrun: due in a cycle the server ran
                               * without calling us, or written within 8 cycles after an
                               * xrun (the driver then catches up: cycles come early) */
    uint64_t late_max_frames; /* how late the latest late event was */
    uint64_t cycles_skipped;  /* cycles whose start frame jumped past the previous end */
    uint64_t frames_skipped;  /* frames in those jumps */
    uint64_t drops_in;        /* input ring full */
    uint64_t drops_out;       /* midi_out buffer full */
    uint64_t audio_drops;     /* captured audio frames lost (WAV ring full) */
    uint64_t xruns;           /* xrun callbacks from the server */
    uint64_t synth_events;    /* events sent to the synth */
    uint64_t sync_in;         /* tempo sync items (clock bytes, transport reports) passed on */
    uint64_t sync_drops;      /* sync ring full */
    int sync_source;          /* TEMPO_SRC_* of the last tempo known while draining (0: never) */
    double sync_bpm;          /* and its bpm */
    double cb_p50_us, cb_p99_us, cb_max_us; /* process-callback duration */
} jack_host_stats;
void jack_host_get_stats(const jack_host *h, jack_host_stats *st);

/* True after the server shut down or threw the client out (on_info_shutdown);
 * reason is the server's message. */
bool jack_host_dead(const jack_host *h);
const char *jack_host_dead_reason(const jack_host *h);

/* ---- inline conversions --------------------------------------------------- */
static inline double jack_host_seconds(const jack_host *h, uint64_t frame)
{
    return jack_host_time_offset(h) +
           ((double)frame - (double)jack_host_start_frame(h)) / (double)jack_host_rate(h);
}

static inline uint64_t jack_host_frame_of(const jack_host *h, double seconds)
{
    double f = (double)jack_host_start_frame(h) +
               (seconds - jack_host_time_offset(h)) * (double)jack_host_rate(h);
    return f <= 0 ? 0 : (uint64_t)(f + 0.5);
}

#endif
