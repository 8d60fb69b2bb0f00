/* lv2_work.c — the LV2 plugin's worker side: one pass per request from
 * run() (WORK_TICK) applies the control ports and runs the session driver
 * (plugin/driver.h: feeds the beat clock, hears the performer, hands the
 * next cycles' model events to run() and lets the session generate ahead); WORK_LOAD_SYNTH loads FluidSynth off the audio
 * thread; WORK_SET loads another preset or model (patch:Set from a host's
 * UI) and swaps the session. Everything here runs in the host's worker thread (or inside
 * schedule_work when the host runs work synchronously, e.g. while
 * exporting), never concurrently with itself.
 *
 * Timing, as in plugin/jack/worker.c but without a wall clock: a pass asked for
 * by cycle [c, c + n) hands out events from `next` = the start of the cycle
 * after the latest one run() has begun (>= c + n), up to `next + horizon`,
 * horizon = two of the host's cycles but at least HORIZON_MIN_S. A host's
 * worker thread is an ordinary thread (jalv's, Ardour's): on a loaded
 * machine it can answer a cycle or more late, so events are handed over
 * that far ahead; what run() holds always plays, so this is also how long
 * the model can go on after the performer resumes in duet. A worker later
 * than that: its events go out late at offset 0 (counted in `late`), never
 * lost. */
#include <math.h>
#include <stddef.h>
#include <string.h>
#include "driver.h"
#include "lv2_plugin.h"
#include "paths.h"
#include "settings.h"

#define TAKE_MAX 256 /* events dropped per session_take_due call in a reset */
#define HORIZON_CYCLES 2
#define HORIZON_MIN_S 0.05

/* ----------------------------------------------------------------------------
 * A pass (under mu) */

static double secs(const lv2_plugin *p, uint64_t frame) { return (double)frame / p->rate; }

/* Drops the session's notes and schedule; run() has ended (or will end) what
 * was sounding at the output. */
static void reset_locked(lv2_plugin *p, double now)
{
    session_panic(p->sess, now);
    while (session_take_due(p->sess, now, INFINITY, p->take_ev, TAKE_MAX) == TAKE_MAX) {}
}

/* time:Position reports merged into one full position (hosts may send only
 * the fields that changed), then handed to the session's beat clock. */
static void feed_position(lv2_plugin *p, const lv2_ctl *c)
{
    tempo_position *pos = &p->position;
    if (c->bpm > 0) pos->bpm = c->bpm;
    if (c->beats_per_bar > 0) pos->beats_per_bar = c->beats_per_bar;
    if (c->has_bar) {
        pos->bar = c->bar;
        pos->bar_beat = c->bar_beat;
        p->position_bar_known = true;
    } else if (p->position_bar_known && pos->bpm > 0 && pos->rolling) {
        /* no bar given: it moved on at the old tempo since the last report */
        double beat = pos->bar_beat + (secs(p, c->frame) - pos->time) * pos->bpm / 60.0;
        double bpb = pos->beats_per_bar > 0 ? pos->beats_per_bar : 4;
        int64_t whole = (int64_t)floor(beat / bpb);
        pos->bar += whole;
        pos->bar_beat = beat - (double)whole * bpb;
    }
    pos->time = secs(p, c->frame);
    pos->rolling = c->speed != 0;
    pos->on_change = true; /* LV2 hosts send time:Position when it jumps, not every cycle */
    if (pos->bpm > 0 && pos->beats_per_bar > 0 && p->position_bar_known)
        tempo_report_position(session_tempo(p->sess), pos);
}

static float ctl_value(lv2_plugin *p, lv2_port port)
{
    return atomic_load_explicit(&p->ctl_val[port], memory_order_relaxed);
}

/* The control ports into the session when one changed (a host may move
 * them every cycle; most cycles change nothing). */
static void apply_controls(lv2_plugin *p, double now)
{
    float v[PORT_COUNT] = {0};
    bool changed = false;
    for (int i = PORT_MODE; i < PORT_COUNT; i++) {
        v[i] = ctl_value(p, (lv2_port)i);
        if (v[i] != p->applied[i]) changed = true; /* NAN applied: the first pass */
    }
    if (!changed) return;
    session_config c = p->cfg;
    int mode = (int)lrintf(v[PORT_MODE]);
    c.mode = (session_mode)(mode < 0 ? 0 : mode > 2 ? 2 : mode);
    /* a host may send any float: into the settings' ranges (settings.h) */
    c.sampling.temperature = (float)settings_clamp(SET_TEMPERATURE, v[PORT_TEMPERATURE]);
    c.density = (float)settings_clamp(SET_DENSITY, v[PORT_DENSITY]);
    c.lookahead = settings_clamp(SET_LOOKAHEAD, v[PORT_LOOKAHEAD]);
    c.quantize_grid = settings_clamp(SET_QUANTIZE_GRID, v[PORT_QUANT_GRID]);
    c.quantize_strength = settings_clamp(SET_QUANTIZE_STRENGTH, v[PORT_QUANT_STRENGTH]);
    int bars = (int)lrintf(v[PORT_DUET_BARS]);
    c.duet_bars = bars < 0 ? 0 : bars > 16 ? 16 : bars;
    GError *err = NULL;
    if (session_apply_config(p->sess, &c, now, &err)) {
        p->cfg = c;
    } else {
        lv2_log_warning(&p->logger, "continuo: controls: %s\n", err->message);
        g_error_free(err);
    }
    memcpy(p->applied, v, sizeof v);
}

/* ----------------------------------------------------------------------------
 * The driver's host table (plugin/driver.h): run()'s rings, in frames */

static double host_next(void *ctx, double *until)
{
    lv2_plugin *p = ctx;
    *until = secs(p, p->work_until);
    return secs(p, p->work_next);
}

/* time:Position reports (the ctl ring) into the session's beat clock. */
static void host_sync(void *ctx, tempo_clock *c)
{
    lv2_plugin *p = ctx;
    lv2_ctl ctl;
    while (ring_pop(p->ctl_ring, &ctl))
        if (ctl.kind == CTL_POSITION) feed_position(p, &ctl);
}

static bool host_pop(void *ctx, cn_event *e)
{
    lv2_plugin *p = ctx;
    lv2_event ev;
    if (!ring_pop(p->in, &ev)) return false;
    *e = (cn_event){secs(p, ev.frame), ev.type, ev.channel, ev.a, ev.b};
    return true;
}

static size_t host_space(void *ctx) { return ring_space(((lv2_plugin *)ctx)->out); }

static bool host_push(void *ctx, const cn_event *e)
{
    lv2_plugin *p = ctx;
    double f = floor(e->time * p->rate + 0.5);
    uint64_t frame = f > (double)p->work_next ? (uint64_t)f : p->work_next;
    lv2_event ev = {frame, p->work_epoch, e->type, e->channel, e->a, e->b};
    return ring_push(p->out, &ev); /* fits: the driver asked host_space */
}

void lv2_work_init(lv2_plugin *p)
{
    driver_host dh = {p, host_next, host_pop, host_sync, host_space, host_push, NULL};
    p->drv = driver_new(&dh, NULL);
}

static void pass(lv2_plugin *p, const lv2_work_msg *m)
{
    uint64_t next = m->cycle + m->nframes;
    uint64_t pub = atomic_load_explicit(&p->pub_cycle, memory_order_acquire) +
                   atomic_load_explicit(&p->pub_nframes, memory_order_relaxed);
    if (pub > next) next = pub;
    double now = secs(p, next);

    /* A flush in run() (transport stop, deactivate): the notes it ended are
     * the session's too; events of the old epoch are dropped by run(). */
    uint32_t epoch = atomic_load_explicit(&p->pub_epoch, memory_order_acquire);
    if (epoch != p->work_epoch) {
        p->work_epoch = epoch;
        reset_locked(p, now);
    }
    apply_controls(p, now);
    uint64_t horizon = (uint64_t)HORIZON_CYCLES * m->nframes;
    if (horizon < (uint64_t)(HORIZON_MIN_S * p->rate)) horizon = (uint64_t)(HORIZON_MIN_S * p->rate);
    p->work_next = next;
    p->work_until = next + horizon;
    driver_pass(p->drv, p->sess);
}

/* ----------------------------------------------------------------------------
 * The worker interface */

static LV2_Worker_Status work(LV2_Handle instance, LV2_Worker_Respond_Function respond,
                              LV2_Worker_Respond_Handle handle, uint32_t size, const void *data)
{
    lv2_plugin *p = instance;
    uint32_t kind;
    if (size < sizeof kind) return LV2_WORKER_ERR_UNKNOWN;
    memcpy(&kind, data, sizeof kind);
    if (kind == WORK_SET) {
        /* the preset or the model from the host's UI (patch:Set) */
        lv2_work_set m = {0};
        if (size <= offsetof(lv2_work_set, value) || size > sizeof m) return LV2_WORKER_ERR_UNKNOWN;
        memcpy(&m, data, size);
        m.value[sizeof m.value - 1] = '\0';
        bool is_model = m.property == p->uris.cn_model;
        GError *err = NULL;
        if (lv2_engine_load(p, is_model ? NULL : m.value, is_model ? m.value : NULL, &err)) {
            lv2_log_note(&p->logger, "continuo: model %s, preset %s\n", p->model_path, p->preset_path);
        } else {
            lv2_log_error(&p->logger, "continuo: %s\n", err->message);
            g_error_free(err);
        }
        return LV2_WORKER_SUCCESS;
    }
    lv2_work_msg m;
    if (size != sizeof m) return LV2_WORKER_ERR_UNKNOWN;
    memcpy(&m, data, sizeof m);
    if (m.kind == WORK_TICK) {
        g_mutex_lock(&p->mu);
        if (p->sess) pass(p, &m);
        g_mutex_unlock(&p->mu);
        atomic_store_explicit(&p->work_pending, false, memory_order_release);
        return LV2_WORKER_SUCCESS;
    }
    if (m.kind == WORK_LOAD_SYNTH) {
        GError *err = NULL;
        char *sf = paths_find_soundfont(NULL, &err);
        synth *syn = sf ? synth_new(sf, (int)p->rate, &err) : NULL;
        if (!syn) {
            /* once: run() asks only once per instance */
            lv2_log_warning(&p->logger, "continuo: no audio, MIDI out only: %s\n", err->message);
            g_error_free(err);
        } else {
            lv2_log_note(&p->logger, "continuo: audio from %s\n", sf);
            respond(handle, sizeof syn, &syn);
        }
        g_free(sf);
        return LV2_WORKER_SUCCESS;
    }
    return LV2_WORKER_ERR_UNKNOWN;
}

/* Audio thread: installs the synth loaded by work(). */
static LV2_Worker_Status work_response(LV2_Handle instance, uint32_t size, const void *data)
{
    lv2_plugin *p = instance;
    synth *syn;
    if (size != sizeof syn) return LV2_WORKER_ERR_UNKNOWN;
    memcpy(&syn, data, sizeof syn);
    if (p->syn) return LV2_WORKER_ERR_UNKNOWN; /* cannot happen: asked once */
    p->syn = syn;
    return LV2_WORKER_SUCCESS;
}

static const LV2_Worker_Interface worker_iface = {work, work_response, NULL};

const void *lv2_worker_interface(void) { return &worker_iface; }

void lv2_work_reset(lv2_plugin *p)
{
    g_mutex_lock(&p->mu);
    if (p->sess) reset_locked(p, secs(p, p->frame));
    g_mutex_unlock(&p->mu);
}
