/* jack_client_internal.h — the JACK client's state, shared by its setup and
 * queries (jack_client.c) and its process callback (jack_process.c). Private
 * to plugin/jack: other code sees only jack_client.h. */
#ifndef CONTINUO_JACK_CLIENT_INTERNAL_H
#define CONTINUO_JACK_CLIENT_INTERNAL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <jack/jack.h>
#include "jack_client.h"
#include "ring.h"
#include "rtqueue.h"

/* ----------------------------------------------------------------------------
 * Sizes */

#define PENDING_MAX 1024     /* output events held past the ring (sorted by frame) */
#define SYNTH_EVENTS_MAX 512 /* events fed to the synth in one cycle */
#define CAPTURE_PERIOD_MAX 8192 /* largest period (frames) the WAV capture copies */
#define HIST_BINS 20000      /* callback-duration histogram: 0.5 us bins up to 10 ms */
#define HIST_BIN_US 0.5
#define XRUN_SHADOW 8        /* cycles after a server xrun whose lateness is the xrun's */

struct jack_host {
    jack_client_t *client;
    jack_port_t *midi_in, *midi_out, *out_l, *out_r;
    bool audio;
    /* Set before activation, or later by jack_host_install_synth (a SoundFont
     * found on SIGHUP): the RT thread loads it once per cycle. */
    _Atomic(synth *) synth_pub;
    synth *synth;      /* RT thread: this cycle's synth_pub */
    bool synth_input;
    double time_offset; /* s on the session's clock at start_frame (reconnects) */
    uint32_t rate, period;
    char *port_names[4]; /* full names of midi_in, midi_out, out_L, out_R */

    ring *in;      /* rt_event: RT -> worker */
    ring *out;     /* rt_event: worker -> RT */
    ring *capture; /* float[2] frames: RT -> WAV writer, or NULL */
    ring *skips;   /* uint64_t[2] (first frame, frames): cycles the server ran without us */
    ring *sync;    /* rt_sync: RT -> worker (tempo sync) */
    bool sync_transport, sync_clock;
    bool tp_valid;       /* RT: the transport's BBT was valid at the last cycle */
    bool drain_tp_valid; /* worker: the last transport item drained had BBT */
    atomic_int sync_source;              /* worker: the last tempo known (stats) */
    atomic_uint_least64_t sync_bpm_bits; /* its bpm, a double's bits */
    void (*wake)(void *);
    void *wake_arg;
    bool active;

    /* RT-thread state (touched only by process once active) */
    rtqueue *pending;  /* PENDING_MAX output events waiting for their cycle */
    rt_slot *slots_in, *slots_out; /* SYNTH_EVENTS_MAX each */
    float *interleave;                /* 2 * CAPTURE_PERIOD_MAX */
    uint64_t cycle64;                 /* unwrapped start frame of the current cycle */
    uint64_t prev_end;                /* frame after the previous cycle processed */
    uint64_t xruns_seen;              /* xrun count at the last cycle */
    int cycles_since_xrun;            /* cycles since the count last changed */

    /* published by the RT thread */
    atomic_bool started;
    atomic_uint_least64_t start_frame, cycle_frame;
    atomic_uint_least64_t n_pending_pub;
    atomic_uint_least64_t busy_cycle; /* number of the latest cycle that wrote output or ended with some left */
    atomic_uint_least64_t cycles, events_in, events_out, late, late_max, drops_in, drops_out,
        audio_drops, synth_events, late_skipped, cycles_skipped, frames_skipped, sync_in,
        sync_drops;
    atomic_uint_least32_t *hist; /* HIST_BINS */
    atomic_uint_least64_t cb_max_ns;
    /* published by JACK's other threads */
    atomic_uint_least64_t xruns;
    atomic_bool dead, all_off;
    char dead_reason[256];
};

/* The process callback (RT thread): set by jack_host_new. */
int jack_host_process(jack_nframes_t nframes, void *arg);

#endif
