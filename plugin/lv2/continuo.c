/* continuo.c — the LV2 plugin's descriptor and its audio thread: run().
 *
 * run() only moves events and renders audio (see lv2_plugin.h for the
 * threads): performer MIDI from the atom input goes to the worker through
 * the `in` ring, time:Position reports through the `ctl` ring, the model's
 * events come back through the `out` ring and are written to the atom
 * output at their frame (x42 mididelay style: due events in order, late
 * ones at offset 0 and counted), FluidSynth renders the MIDI out when the
 * audio port is on. Once per cycle, when the previous request is done, it
 * asks the host's worker for a pass (schedule_work). Nothing here
 * allocates, locks, prints or touches a file.
 *
 * Every note-on at the output gets its note-off: run() tracks the notes
 * sounding at its output and ends them itself on transport stop (time:speed
 * going to 0) and in the first cycle after deactivate/activate or a state
 * restore ("flush"), and drops note-offs for notes that are not sounding. */
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <lv2/atom/util.h>
#include <lv2/core/lv2_util.h>
#include <lv2/midi/midi.h>
#include <lv2/options/options.h>
#include <lv2/patch/patch.h>
#include <lv2/state/state.h>
#include <lv2/time/time.h>
#include "driver.h"
#include "lv2_plugin.h"
#include "midi_msg.h"

/* ----------------------------------------------------------------------------
 * Output of one cycle: model events and thru events, merged by offset */

typedef struct {
    lv2_plugin *p;
    uint32_t nframes;
    int n;   /* entries in p->cycle_ev */
    int max; /* events that fit in the list and in the host's atom output */
} cycle_out;

/* Bytes one 3-byte MIDI event takes in an atom sequence: the event header
 * (time, atom size and type) and the body padded to 8. */
#define MIDI_EVENT_BYTES (sizeof(LV2_Atom_Event) + 8)

/* How many events this cycle can write: the list's size, or fewer when the
 * host's MIDI output buffer (its atom size before run(), the capacity)
 * holds fewer. Deciding here, before the sounding table changes, means an
 * event that does not fit is dropped whole (counted), never written to the
 * table but not to the host. */
static int cycle_capacity(const lv2_plugin *p)
{
    if (!p->midi_out) return CYCLE_EVENTS_MAX;
    uint32_t cap = p->midi_out->atom.size;
    uint32_t head = sizeof(LV2_Atom) + sizeof(LV2_Atom_Sequence_Body);
    size_t fits = cap > head ? (cap - head) / MIDI_EVENT_BYTES : 0;
    return fits < CYCLE_EVENTS_MAX ? (int)fits : CYCLE_EVENTS_MAX;
}

/* Appends an event at `offset` (>= every earlier one) unless the cycle's
 * output is full (counted). The last quarter of it is kept for note-offs,
 * so a crowded cycle drops new notes before it drops the end of one. Keeps
 * the sounding table: a note-off for a note not sounding is dropped; a
 * note-on over a sounding note re-strikes it (note-off first). A note whose
 * note-off was dropped stays in the table and is ended later (re-strike,
 * transport stop, deactivate). */
static void out_add(cycle_out *o, uint32_t offset, uint8_t type, uint8_t ch, uint8_t a, uint8_t b)
{
    lv2_plugin *p = o->p;
    ch &= 15;
    a &= 127;
    if (type == CN_EV_NOTE_OFF) {
        if (!p->sounding[ch][a]) return;
    } else if (type == CN_EV_NOTE_ON && p->sounding[ch][a]) {
        out_add(o, offset, CN_EV_NOTE_OFF, ch, a, 64);
    }
    if (o->n >= (type == CN_EV_NOTE_OFF ? o->max : o->max - o->max / 4)) {
        atomic_fetch_add_explicit(&p->drops_out, 1, memory_order_relaxed);
        return;
    }
    if (type == CN_EV_NOTE_ON) p->sounding[ch][a] = 1;
    if (type == CN_EV_NOTE_OFF) p->sounding[ch][a] = 0;
    if (offset >= o->nframes) offset = o->nframes - 1;
    if (o->n && offset < p->cycle_ev[o->n - 1].offset) offset = p->cycle_ev[o->n - 1].offset;
    p->cycle_ev[o->n++] = (rt_slot){offset, type, ch, a, b};
}

/* Ends every note sounding at the output at `offset`, forgets the model's
 * events held here, and tells the worker (new epoch: it ends the session's
 * notes and what it hands out from then on carries the new epoch). */
static void flush(lv2_plugin *p, cycle_out *o, uint32_t offset)
{
    for (int ch = 0; ch < 16; ch++)
        for (int k = 0; k < 128; k++)
            if (p->sounding[ch][k]) out_add(o, offset, CN_EV_NOTE_OFF, (uint8_t)ch, (uint8_t)k, 64);
    rtqueue_clear(p->pending);
    p->epoch++;
    atomic_store_explicit(&p->pub_epoch, p->epoch, memory_order_release);
    lv2_ctl c = {.kind = CTL_FLUSH, .epoch = p->epoch, .frame = p->frame + offset};
    (void)ring_push(p->ctl_ring, &c); /* full: the epoch alone still drops stale events */
}

static void out_emit(void *arg, const rt_event *e, uint32_t offset, uint64_t late_by)
{
    cycle_out *o = arg;
    if (late_by) atomic_fetch_add_explicit(&o->p->late, 1, memory_order_relaxed);
    out_add(o, offset, e->type, e->channel, e->a, e->b);
}

/* Model events due before `until` (plugin frames) into the cycle's list,
 * in frame order; late ones at offset 0. */
static void out_take_due(lv2_plugin *p, cycle_out *o, uint64_t until)
{
    rtqueue_take_due(p->pending, p->frame, until, out_emit, o);
}

/* ----------------------------------------------------------------------------
 * time:Position */

static double atom_number(const lv2_uris *u, const LV2_Atom *a, bool *ok)
{
    *ok = true;
    if (a && a->type == u->atom_Float) return ((const LV2_Atom_Float *)a)->body;
    if (a && a->type == u->atom_Double) return ((const LV2_Atom_Double *)a)->body;
    if (a && a->type == u->atom_Int) return ((const LV2_Atom_Int *)a)->body;
    if (a && a->type == u->atom_Long) return (double)((const LV2_Atom_Long *)a)->body;
    *ok = false;
    return 0;
}

/* Reads a time:Position object at `offset`: hands it to the worker and, when
 * the transport stops, ends every note at once. */
static void read_position(lv2_plugin *p, cycle_out *o, const LV2_Atom_Object *obj, uint32_t offset)
{
    const lv2_uris *u = &p->uris;
    const LV2_Atom *bar = NULL, *bar_beat = NULL, *bpb = NULL, *bpm = NULL, *speed = NULL;
    lv2_atom_object_get(obj, u->time_bar, &bar, u->time_barBeat, &bar_beat, u->time_beatsPerBar,
                        &bpb, u->time_beatsPerMinute, &bpm, u->time_speed, &speed, 0);
    lv2_ctl c = {.kind = CTL_POSITION, .frame = p->frame + offset, .speed = p->rolling ? 1 : 0};
    bool ok, ok2;
    double v = atom_number(u, bpm, &ok);
    if (ok) c.bpm = v;
    v = atom_number(u, bpb, &ok);
    if (ok) c.beats_per_bar = v;
    v = atom_number(u, speed, &ok);
    if (ok) c.speed = v;
    double bb = atom_number(u, bar_beat, &ok);
    double b = atom_number(u, bar, &ok2);
    if (ok && ok2) {
        c.has_bar = true;
        c.bar_beat = bb;
        c.bar = (int64_t)b;
    }
    bool rolling = c.speed != 0;
    if (p->rolling && !rolling) flush(p, o, offset);
    p->rolling = rolling;
    (void)ring_push(p->ctl_ring, &c); /* full: the next report (hosts send them often) */
}

/* A patch:Set of the preset or the model (a host's UI for the parameters
 * in continuo.ttl): handed to the worker, which loads it. */
static void read_patch_set(lv2_plugin *p, const LV2_Atom_Object *obj)
{
    const lv2_uris *u = &p->uris;
    const LV2_Atom *prop = NULL, *val = NULL;
    lv2_atom_object_get(obj, u->patch_property, &prop, u->patch_value, &val, 0);
    if (!prop || prop->type != p->forge.URID || !val) return;
    uint32_t key = ((const LV2_Atom_URID *)prop)->body;
    if ((key != u->cn_preset && key != u->cn_model) ||
        (val->type != u->atom_Path && val->type != u->atom_String) || val->size < 2 ||
        val->size > LV2_PATH_MAX)
        return;
    lv2_work_set m;
    m.kind = WORK_SET;
    m.property = key;
    memcpy(m.value, LV2_ATOM_BODY_CONST(val), val->size);
    m.value[val->size - 1] = '\0';
    uint32_t size = (uint32_t)(offsetof(lv2_work_set, value) + val->size);
    (void)p->schedule->schedule_work(p->schedule->handle, size, &m);
}

/* ----------------------------------------------------------------------------
 * run() */

static void render(lv2_plugin *p, const cycle_out *o)
{
    uint32_t n = o->nframes;
    bool on = atomic_load_explicit(&p->ctl_val[PORT_AUDIO], memory_order_relaxed) > 0.5f;
    if (!p->out_l || !p->out_r) return;
    if (!on || !p->syn) {
        memset(p->out_l, 0, n * sizeof(float));
        memset(p->out_r, 0, n * sizeof(float));
        return;
    }
    rt_render_synth(p->syn, p->out_l, p->out_r, n, p->cycle_ev, o->n, NULL, 0);
}

/* Writes the cycle's events into the atom output (its capacity is the
 * atom's size field as the host set it). */
static void write_output(lv2_plugin *p, const cycle_out *o)
{
    if (!p->midi_out) return;
    uint32_t capacity = p->midi_out->atom.size;
    lv2_atom_forge_set_buffer(&p->forge, (uint8_t *)p->midi_out, capacity);
    LV2_Atom_Forge_Frame seq;
    lv2_atom_forge_sequence_head(&p->forge, &seq, 0);
    uint64_t written = 0;
    for (int i = 0; i < o->n; i++) {
        uint8_t msg[3];
        size_t len = midi_msg_encode(p->cycle_ev[i].type, p->cycle_ev[i].channel,
                                     p->cycle_ev[i].a, p->cycle_ev[i].b, msg);
        if (!len) continue;
        if (!lv2_atom_forge_frame_time(&p->forge, p->cycle_ev[i].offset) ||
            !lv2_atom_forge_atom(&p->forge, (uint32_t)len, p->uris.midi_MidiEvent) ||
            !lv2_atom_forge_write(&p->forge, msg, (uint32_t)len)) {
            atomic_fetch_add_explicit(&p->drops_out, 1, memory_order_relaxed);
            break;
        }
        written++;
    }
    lv2_atom_forge_pop(&p->forge, &seq);
    if (written) atomic_fetch_add_explicit(&p->n_out, written, memory_order_relaxed);
}

static void run(LV2_Handle instance, uint32_t nframes)
{
    lv2_plugin *p = instance;
    if (nframes == 0) return;
    cycle_out o = {p, nframes, 0, cycle_capacity(p)};
    atomic_store_explicit(&p->pub_nframes, nframes, memory_order_relaxed);
    atomic_store_explicit(&p->pub_cycle, p->frame, memory_order_release);

    if (atomic_exchange_explicit(&p->flush_request, false, memory_order_acquire)) {
        flush(p, &o, 0);
        if (p->syn) synth_all_off(p->syn);
    }

    /* Control ports, for the worker (the host's memory is read here only). */
    for (int i = PORT_MODE; i < PORT_COUNT; i++)
        if (p->ctl[i]) atomic_store_explicit(&p->ctl_val[i], *p->ctl[i], memory_order_relaxed);

    /* 1. The model's events newly handed over (of this epoch). */
    lv2_event e;
    while (!rtqueue_full(p->pending) && ring_pop(p->out, &e)) {
        if (e.epoch != p->epoch) {
            atomic_fetch_add_explicit(&p->stale, 1, memory_order_relaxed);
            continue;
        }
        rt_event ev = {e.frame, e.type, e.channel, e.a, e.b};
        if (!rtqueue_insert(p->pending, &ev)) atomic_fetch_add_explicit(&p->drops_out, 1, memory_order_relaxed);
    }

    /* 2. Input: MIDI to the worker (and through, when asked), positions. */
    bool thru = atomic_load_explicit(&p->ctl_val[PORT_THRU], memory_order_relaxed) > 0.5f;
    const lv2_uris *u = &p->uris;
    /* The model's events due before each input event go out first, so the
     * merged list stays in offset order. */
    if (p->midi_in) {
        LV2_ATOM_SEQUENCE_FOREACH (p->midi_in, ev) {
            int64_t t = ev->time.frames;
            uint32_t offset = t < 0 ? 0 : (t >= (int64_t)nframes ? nframes - 1 : (uint32_t)t);
            if (ev->body.type == u->midi_MidiEvent) {
                const uint8_t *msg = (const uint8_t *)LV2_ATOM_BODY_CONST(&ev->body);
                lv2_event e = {.frame = p->frame + offset, .epoch = p->epoch};
                if (!midi_msg_parse(msg, ev->body.size, &e.type, &e.channel, &e.a, &e.b)) continue;
                atomic_fetch_add_explicit(&p->n_in, 1, memory_order_relaxed);
                if (!ring_push(p->in, &e)) atomic_fetch_add_explicit(&p->drops_in, 1, memory_order_relaxed);
                if (thru) {
                    out_take_due(p, &o, p->frame + offset + 1);
                    out_add(&o, offset, e.type, e.channel, e.a, e.b);
                }
            } else if (ev->body.type == u->atom_Object || ev->body.type == u->atom_Blank) {
                const LV2_Atom_Object *obj = (const LV2_Atom_Object *)&ev->body;
                if (obj->body.otype == u->time_Position) {
                    out_take_due(p, &o, p->frame + offset);
                    read_position(p, &o, obj, offset);
                } else if (obj->body.otype == u->patch_Set) {
                    read_patch_set(p, obj);
                }
            }
        }
    }

    /* 3. The model's events due in the rest of this cycle. */
    out_take_due(p, &o, p->frame + nframes);

    write_output(p, &o);
    render(p, &o);

    /* 4. Work: a pass per cycle, unless the last one is still queued. */
    bool want_audio = atomic_load_explicit(&p->ctl_val[PORT_AUDIO], memory_order_relaxed) > 0.5f;
    if (want_audio && !p->syn && !p->synth_asked && p->schedule) {
        lv2_work_msg m = {.kind = WORK_LOAD_SYNTH};
        if (p->schedule->schedule_work(p->schedule->handle, sizeof m, &m) == LV2_WORKER_SUCCESS)
            p->synth_asked = true;
    }
    if (p->schedule && !atomic_exchange_explicit(&p->work_pending, true, memory_order_acq_rel)) {
        lv2_work_msg m = {.kind = WORK_TICK, .nframes = nframes, .cycle = p->frame};
        if (p->schedule->schedule_work(p->schedule->handle, sizeof m, &m) != LV2_WORKER_SUCCESS)
            atomic_store_explicit(&p->work_pending, false, memory_order_release);
    }
    p->frame += nframes;
}

/* ----------------------------------------------------------------------------
 * Instantiation class */

static void connect_port(LV2_Handle instance, uint32_t port, void *data)
{
    lv2_plugin *p = instance;
    switch (port) {
    case PORT_MIDI_IN: p->midi_in = data; break;
    case PORT_MIDI_OUT: p->midi_out = data; break;
    case PORT_OUT_L: p->out_l = data; break;
    case PORT_OUT_R: p->out_r = data; break;
    default:
        if (port < PORT_COUNT) p->ctl[port] = data;
        break;
    }
}

static void map_uris(LV2_URID_Map *map, lv2_uris *u)
{
    u->atom_Blank = map->map(map->handle, LV2_ATOM__Blank);
    u->atom_Object = map->map(map->handle, LV2_ATOM__Object);
    u->atom_Float = map->map(map->handle, LV2_ATOM__Float);
    u->atom_Double = map->map(map->handle, LV2_ATOM__Double);
    u->atom_Int = map->map(map->handle, LV2_ATOM__Int);
    u->atom_Long = map->map(map->handle, LV2_ATOM__Long);
    u->atom_String = map->map(map->handle, LV2_ATOM__String);
    u->atom_Path = map->map(map->handle, LV2_ATOM__Path);
    u->atom_Sequence = map->map(map->handle, LV2_ATOM__Sequence);
    u->midi_MidiEvent = map->map(map->handle, LV2_MIDI__MidiEvent);
    u->time_Position = map->map(map->handle, LV2_TIME__Position);
    u->time_bar = map->map(map->handle, LV2_TIME__bar);
    u->time_barBeat = map->map(map->handle, LV2_TIME__barBeat);
    u->time_beatsPerBar = map->map(map->handle, LV2_TIME__beatsPerBar);
    u->time_beatsPerMinute = map->map(map->handle, LV2_TIME__beatsPerMinute);
    u->time_speed = map->map(map->handle, LV2_TIME__speed);
    u->cn_preset = map->map(map->handle, CONTINUO_LV2__preset);
    u->cn_model = map->map(map->handle, CONTINUO_LV2__model);
    u->cn_seed = map->map(map->handle, CONTINUO_LV2__seed);
    u->patch_Set = map->map(map->handle, LV2_PATCH__Set);
    u->patch_property = map->map(map->handle, LV2_PATCH__property);
    u->patch_value = map->map(map->handle, LV2_PATCH__value);
}

/* Zeroed, touched and (best effort) locked: run() takes no page fault. */
static void *rt_calloc(size_t n, size_t size)
{
    void *q = calloc(n, size);
    if (q) (void)mlock(q, n * size);
    return q;
}

static void cleanup(LV2_Handle instance);

static LV2_Handle instantiate(const LV2_Descriptor *d, double rate, const char *bundle,
                              const LV2_Feature *const *features)
{
    lv2_plugin *p = rt_calloc(1, sizeof *p);
    if (!p) return NULL;
    g_mutex_init(&p->mu);
    p->rate = rate;
    p->bundle = g_strdup(bundle);
    p->map = lv2_features_data(features, LV2_URID__map);
    p->schedule = lv2_features_data(features, LV2_WORKER__schedule);
    LV2_Log_Log *log = lv2_features_data(features, LV2_LOG__log);
    lv2_log_logger_init(&p->logger, p->map, log);
    if (!p->map || !p->schedule) {
        lv2_log_error(&p->logger, "continuo: the host lacks %s\n",
                      !p->map ? "urid:map" : "worker:schedule");
        cleanup(p);
        return NULL;
    }
    map_uris(p->map, &p->uris);
    lv2_atom_forge_init(&p->forge, p->map);
    p->in = ring_new(sizeof(lv2_event), 4096);
    p->out = ring_new(sizeof(lv2_event), 4096);
    p->ctl_ring = ring_new(sizeof(lv2_ctl), 256);
    p->pending = rtqueue_new(OUT_PENDING_MAX);
    p->cycle_ev = rt_calloc(CYCLE_EVENTS_MAX, sizeof *p->cycle_ev);
    if (!p->in || !p->out || !p->ctl_ring || !p->pending || !p->cycle_ev) {
        lv2_log_error(&p->logger, "continuo: out of memory\n");
        cleanup(p);
        return NULL;
    }
    /* Port defaults (as in continuo.ttl) until run() reads the ports. */
    static const float defaults[PORT_COUNT] = {
        [PORT_MODE] = 0, [PORT_TEMPERATURE] = 1, [PORT_DENSITY] = 1, [PORT_LOOKAHEAD] = 0.2f,
        [PORT_QUANT_GRID] = 0, [PORT_QUANT_STRENGTH] = 1, [PORT_AUDIO] = 0, [PORT_THRU] = 1,
        [PORT_DUET_BARS] = 2,
    };
    for (int i = 0; i < PORT_COUNT; i++) atomic_store(&p->ctl_val[i], defaults[i]);
    p->seed = 0; /* 0: the preset's */
    lv2_work_init(p);
    GError *err = NULL;
    if (!lv2_engine_load(p, LV2_DEFAULT_PRESET, NULL, &err)) {
        lv2_log_error(&p->logger, "continuo: %s\n", err->message);
        g_error_free(err);
        cleanup(p);
        return NULL;
    }
    lv2_log_note(&p->logger, "continuo: model %s, preset %s\n", p->model_path, p->preset_path);
    return p;
}

static void activate(LV2_Handle instance)
{
    lv2_plugin *p = instance;
    lv2_work_reset(p);
    atomic_store(&p->work_pending, false);
}

/* No run() follows until activate: the notes still sounding at the output
 * are ended in the first cycle after it (flush), the session's at once. */
static void deactivate(LV2_Handle instance)
{
    lv2_plugin *p = instance;
    atomic_store_explicit(&p->flush_request, true, memory_order_release);
    lv2_work_reset(p);
    /* The audio thread's counters, said where someone can read them. */
    lv2_log_note(&p->logger,
                 "continuo: %llu MIDI events in, %llu out, %llu late, %llu dropped in, %llu "
                 "dropped out, %llu stale\n",
                 (unsigned long long)atomic_load(&p->n_in), (unsigned long long)atomic_load(&p->n_out),
                 (unsigned long long)atomic_load(&p->late), (unsigned long long)atomic_load(&p->drops_in),
                 (unsigned long long)atomic_load(&p->drops_out), (unsigned long long)atomic_load(&p->stale));
}

static void cleanup(LV2_Handle instance)
{
    lv2_plugin *p = instance;
    lv2_engine_free(p);
    driver_free(p->drv);
    synth_free(p->syn);
    ring_free(p->in);
    ring_free(p->out);
    ring_free(p->ctl_ring);
    rtqueue_free(p->pending);
    free(p->cycle_ev);
    g_free(p->bundle);
    g_mutex_clear(&p->mu);
    free(p);
}

static const void *extension_data(const char *uri)
{
    if (!strcmp(uri, LV2_WORKER__interface)) return lv2_worker_interface();
    if (!strcmp(uri, LV2_STATE__interface)) return lv2_state_interface();
    return NULL;
}

static const LV2_Descriptor descriptor = {
    CONTINUO_LV2_URI, instantiate, connect_port, activate, run, deactivate, cleanup, extension_data,
};

LV2_SYMBOL_EXPORT const LV2_Descriptor *lv2_descriptor(uint32_t index)
{
    return index == 0 ? &descriptor : NULL;
}
