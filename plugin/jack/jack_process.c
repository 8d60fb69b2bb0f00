/* jack_process.c — the process callback of the JACK client (RT thread):
 * input stamped and handed to the worker, due output written in order, the
 * synth rendered, the WAV capture fed, counters published. Touches only port
 * buffers, jack_midi_* calls, rings and atomics. */
#include <stdatomic.h>
#include <string.h>
#include <time.h>
#include <jack/jack.h>
#include <jack/midiport.h>
#include <jack/transport.h>
#include "jack_client_internal.h"

static inline uint64_t monotonic_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts); /* vDSO: no syscall, no blocking */
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static inline void count(atomic_uint_least64_t *c, uint64_t v)
{
    if (v) atomic_fetch_add_explicit(c, v, memory_order_relaxed);
}

/* One cycle's output: midi_out written in order, the synth's slots, counts. */
typedef struct {
    jack_host *h;
    void *outbuf;
    uint64_t gap_start; /* frames from here to the cycle start were skipped */
    bool xrun_shadow;
    int n_slots;
    uint64_t written, late, late_skipped, late_by, dropped;
} cycle_out;

static void out_emit(void *arg, const rt_event *p, uint32_t offset, uint64_t late_by)
{
    cycle_out *o = arg;
    if (late_by) {
        if (p->frame >= o->gap_start || o->xrun_shadow) o->late_skipped++;
        else o->late++;
        o->late_by = late_by;
    }
    uint8_t msg[3];
    size_t len = midi_msg_encode(p->type, p->channel, p->a, p->b, msg);
    if (len && jack_midi_event_write(o->outbuf, offset, msg, len) == 0) o->written++;
    else o->dropped++;
    if (o->h->synth && o->n_slots < SYNTH_EVENTS_MAX)
        o->h->slots_out[o->n_slots++] = (rt_slot){offset, p->type, p->channel, p->a, p->b};
}

/* The transport (RT safe per JACK's docs) into the sync ring: every cycle
 * while a timebase master gives BBT, once when it stops giving it. Returns
 * 1 when an item was pushed, -1 when the ring was full, 0 when none was due. */
static int read_transport(jack_host *h, uint64_t cycle)
{
    jack_position_t pos;
    jack_transport_state_t ts = jack_transport_query(h->client, &pos);
    bool valid = (pos.valid & JackPositionBBT) && pos.beats_per_minute > 0 &&
                 pos.beats_per_bar > 0 && pos.ticks_per_beat > 0;
    bool report = valid || h->tp_valid;
    h->tp_valid = valid;
    if (!report) return 0;
    rt_sync sy = {.frame = cycle, .kind = RT_SYNC_TRANSPORT, .valid = valid,
                  .rolling = ts == JackTransportRolling};
    if (valid) {
        /* BBT may describe a moment bbt_offset frames before the cycle */
        if ((pos.valid & JackBBTFrameOffset) && pos.bbt_offset <= cycle)
            sy.frame = cycle - pos.bbt_offset;
        sy.bar = pos.bar - 1;
        sy.bar_beat = (pos.beat - 1) + pos.tick / pos.ticks_per_beat;
        sy.bpm = pos.beats_per_minute;
        sy.beats_per_bar = pos.beats_per_bar;
    }
    return ring_push(h->sync, &sy) ? 1 : -1;
}

/* The rendered cycle, interleaved, into the WAV writer's ring. */
static void capture(jack_host *h, const float *l, const float *r, uint32_t nframes)
{
    if (nframes > CAPTURE_PERIOD_MAX) {
        atomic_fetch_add_explicit(&h->audio_drops, nframes, memory_order_relaxed);
        return;
    }
    for (uint32_t i = 0; i < nframes; i++) {
        h->interleave[2 * i] = l[i];
        h->interleave[2 * i + 1] = r[i];
    }
    size_t put = ring_write(h->capture, h->interleave, nframes);
    if (put < nframes)
        atomic_fetch_add_explicit(&h->audio_drops, nframes - put, memory_order_relaxed);
}

/* The cycle's 64-bit start frame, published; skipped frames reported from
 * *gap_start (the previous cycle's end); *xrun_shadow while lateness is a
 * recent server xrun's. */
static uint64_t begin_cycle(jack_host *h, uint32_t nframes, uint64_t *gap_start, bool *xrun_shadow)
{
    /* Unwrap the 32-bit frame time: the low bits stay JACK's. */
    uint32_t f32 = jack_last_frame_time(h->client);
    bool first = !atomic_load_explicit(&h->started, memory_order_relaxed);
    h->cycle64 = first ? f32 : h->cycle64 + (uint32_t)(f32 - (uint32_t)h->cycle64);
    uint64_t cycle = h->cycle64;
    if (first) {
        atomic_store_explicit(&h->start_frame, cycle, memory_order_relaxed);
        atomic_store_explicit(&h->started, true, memory_order_release);
        h->prev_end = cycle;
        h->cycles_since_xrun = XRUN_SHADOW;
    }
    /* Frames the server ran without us (an xrun skipped our callback): events
     * due in them can only go out late, and are counted apart from ours. */
    uint64_t gap = h->prev_end;
    *gap_start = gap;
    if (cycle > gap) {
        uint64_t skip[2] = {gap, cycle - gap};
        ring_push(h->skips, skip); /* full: only the report loses it, the counters keep it */
        atomic_fetch_add_explicit(&h->cycles_skipped, 1, memory_order_relaxed);
        atomic_fetch_add_explicit(&h->frames_skipped, cycle - gap, memory_order_relaxed);
    }
    h->prev_end = cycle + nframes;
    /* After a server xrun the dummy (and any) driver catches up: cycles then
     * come sooner than their frames say, so events handed over in time by
     * the clock can still miss them. Lateness within XRUN_SHADOW cycles of an
     * xrun is the xrun's, counted apart like skipped cycles. */
    uint64_t xr = atomic_load_explicit(&h->xruns, memory_order_relaxed);
    if (xr != h->xruns_seen) {
        h->xruns_seen = xr;
        h->cycles_since_xrun = 0;
    } else if (h->cycles_since_xrun < 1000000) {
        h->cycles_since_xrun++;
    }
    *xrun_shadow = h->cycles_since_xrun < XRUN_SHADOW;
    atomic_store_explicit(&h->cycle_frame, cycle, memory_order_release);
    return cycle;
}

int jack_host_process(jack_nframes_t nframes, void *arg)
{
    jack_host *h = arg;
    uint64_t t0 = monotonic_ns();
    h->synth = atomic_load_explicit(&h->synth_pub, memory_order_acquire);

    uint64_t gap_start;
    bool xrun_shadow;
    uint64_t cycle = begin_cycle(h, nframes, &gap_start, &xrun_shadow), cycle_end = cycle + nframes;

    /* 1. Input: stamp in absolute frames, hand to the worker. */
    int n_in_slots = 0;
    void *inbuf = jack_port_get_buffer(h->midi_in, nframes);
    uint32_t n_in = jack_midi_get_event_count(inbuf);
    uint64_t got = 0, dropped = 0, synced = 0, sync_dropped = 0;
    for (uint32_t i = 0; i < n_in; i++) {
        jack_midi_event_t e;
        if (jack_midi_event_get(&e, inbuf, i) != 0) continue;
        rt_sync sy = {.frame = cycle + e.time, .kind = RT_SYNC_CLOCK};
        if (h->sync_clock && midi_msg_clock(e.buffer, e.size, &sy.byte, &sy.spp)) {
            if (ring_push(h->sync, &sy)) synced++;
            else sync_dropped++;
            continue;
        }
        rt_event ev;
        if (!midi_msg_parse(e.buffer, e.size, &ev.type, &ev.channel, &ev.a, &ev.b)) continue;
        ev.frame = cycle + e.time;
        got++;
        if (!ring_push(h->in, &ev)) dropped++;
        if (h->synth && h->synth_input && n_in_slots < SYNTH_EVENTS_MAX)
            h->slots_in[n_in_slots++] = (rt_slot){e.time, ev.type, ev.channel, ev.a, ev.b};
    }

    /* 1b. The transport. */
    int tp = h->sync_transport ? read_transport(h, cycle) : 0;
    if (tp > 0) synced++;
    if (tp < 0) sync_dropped++;

    /* 2. Output: merge newly queued events, write the due ones in order. */
    rt_event ev;
    while (!rtqueue_full(h->pending) && ring_pop(h->out, &ev)) rtqueue_insert(h->pending, &ev);
    cycle_out o = {.h = h, .outbuf = jack_port_get_buffer(h->midi_out, nframes),
                   .gap_start = gap_start, .xrun_shadow = xrun_shadow};
    jack_midi_clear_buffer(o.outbuf);
    rtqueue_take_due(h->pending, cycle, cycle_end, out_emit, &o);

    /* 3. Audio. */
    if (h->audio) {
        float *l = jack_port_get_buffer(h->out_l, nframes);
        float *r = jack_port_get_buffer(h->out_r, nframes);
        if (h->synth) {
            if (atomic_exchange_explicit(&h->all_off, false, memory_order_acquire))
                synth_all_off(h->synth);
            rt_render_synth(h->synth, l, r, nframes, h->slots_in, n_in_slots, h->slots_out,
                            o.n_slots);
        } else {
            memset(l, 0, nframes * sizeof *l);
            memset(r, 0, nframes * sizeof *r);
        }
        if (h->capture) capture(h, l, r, nframes); /* 4. WAV capture */
    }

    /* 5. Counters. The cycle's number is published after what it wrote, so
     * that jack_host_output_written can tell a cycle that began after a push
     * (and took everything pushed) from the one running then. */
    int n_pending = rtqueue_count(h->pending);
    atomic_store_explicit(&h->n_pending_pub, (uint64_t)n_pending, memory_order_release);
    uint64_t cycle_no = atomic_load_explicit(&h->cycles, memory_order_relaxed) + 1;
    if (o.written || o.dropped || n_pending || ring_count(h->out))
        atomic_store_explicit(&h->busy_cycle, cycle_no, memory_order_relaxed);
    atomic_store_explicit(&h->cycles, cycle_no, memory_order_release);
    count(&h->events_in, got);
    count(&h->drops_in, dropped);
    count(&h->sync_in, synced);
    count(&h->sync_drops, sync_dropped);
    count(&h->events_out, o.written);
    count(&h->drops_out, o.dropped);
    count(&h->synth_events, (uint64_t)(n_in_slots + o.n_slots));
    count(&h->late, o.late);
    count(&h->late_skipped, o.late_skipped);
    if (o.late || o.late_skipped) atomic_store_explicit(&h->late_max, o.late_by, memory_order_relaxed);

    if (h->wake) h->wake(h->wake_arg);

    uint64_t dt = monotonic_ns() - t0;
    size_t bin = (size_t)((double)dt / (HIST_BIN_US * 1000.0));
    if (bin >= HIST_BINS) bin = HIST_BINS - 1;
    atomic_fetch_add_explicit(&h->hist[bin], 1, memory_order_relaxed);
    if (dt > atomic_load_explicit(&h->cb_max_ns, memory_order_relaxed))
        atomic_store_explicit(&h->cb_max_ns, dt, memory_order_relaxed);
    return 0;
}
