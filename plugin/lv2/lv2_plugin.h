/* lv2_plugin.h — the continuo LV2 plugin's instance, shared by its three
 * files (private to plugin/lv2/, built only into continuo.so):
 *
 *   continuo.c    the descriptor and the audio thread: run() moves MIDI
 *                 atoms in and out through lock-free rings, reads
 *                 time:Position, renders FluidSynth, asks for work.
 *   lv2_work.c    the host's worker thread: the session (model, tokens,
 *                 sampler) is touched only there (and in setup/state code,
 *                 under `mu`, which run() never takes).
 *   lv2_state.c   finding and loading the model and preset, and the LV2
 *                 state extension (preset and model path saved with the
 *                 host's project).
 *
 * Threads, in LV2's terms: run() is the audio class (no malloc, lock,
 * printf or I/O); work() is the worker; instantiate/activate/deactivate/
 * cleanup/save/restore are the instantiation class. The session lives
 * behind `mu` because hosts differ in whether work() can overlap
 * activate/deactivate/restore; run() never touches it.
 *
 * Time: the plugin counts frames itself from instantiate (`frame`, 64-bit,
 * never reset, so the session's clock never goes back across
 * deactivate/activate); session time in seconds = frame / rate. */
#ifndef CONTINUO_LV2_PLUGIN_H
#define CONTINUO_LV2_PLUGIN_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <glib.h>
#include <lv2/atom/atom.h>
#include <lv2/atom/forge.h>
#include <lv2/core/lv2.h>
#include <lv2/log/logger.h>
#include <lv2/urid/urid.h>
#include <lv2/worker/worker.h>
#include "model.h"
#include "ring.h"
#include "rtqueue.h"
#include "session.h"
#include "synth.h"
#include "tempo.h"

#define CONTINUO_LV2_URI "urn:continuo:lv2"
#define CONTINUO_LV2_PREFIX CONTINUO_LV2_URI ":"
/* State properties (also listed in continuo.ttl). */
#define CONTINUO_LV2__preset CONTINUO_LV2_PREFIX "preset" /* atom:String: name or path */
#define CONTINUO_LV2__model CONTINUO_LV2_PREFIX "model"   /* atom:Path: weights file */
#define CONTINUO_LV2__seed CONTINUO_LV2_PREFIX "seed"     /* atom:Long: sampler seed */

#define LV2_DEFAULT_PRESET "daw"

/* Port indices: must match continuo.ttl. */
typedef enum {
    PORT_MIDI_IN = 0,   /* atom:Sequence: MIDI + time:Position */
    PORT_MIDI_OUT,      /* atom:Sequence: MIDI */
    PORT_OUT_L,         /* audio */
    PORT_OUT_R,
    PORT_MODE,          /* 0 duet, 1 accompany, 2 solo */
    PORT_TEMPERATURE,   /* 0.2 .. 2 */
    PORT_DENSITY,       /* 0.25 .. 4 (1: off) */
    PORT_LOOKAHEAD,     /* s, 0.05 .. 2 */
    PORT_QUANT_GRID,    /* beats (quarter notes); 0: off */
    PORT_QUANT_STRENGTH,/* 0 .. 1 */
    PORT_AUDIO,         /* toggle: render the MIDI out with FluidSynth */
    PORT_THRU,          /* toggle: pass the input's MIDI to the output */
    PORT_DUET_BARS,     /* duet in bars when the host gives a tempo; 0: by silence */
    PORT_COUNT
} lv2_port;

/* A MIDI event crossing the RT boundary, stamped in the plugin's frames.
 * `epoch` lets run() drop what the worker decided before a flush
 * (transport stop, deactivate) without emptying the ring from two sides. */
typedef struct {
    uint64_t frame;
    uint32_t epoch;
    uint8_t type, channel, a, b; /* cn_event fields */
} lv2_event;

/* run() -> worker: host happenings other than MIDI (ctl ring). */
typedef enum { CTL_POSITION = 1, CTL_FLUSH } lv2_ctl_kind;
typedef struct {
    uint32_t kind;        /* lv2_ctl_kind */
    uint32_t epoch;       /* CTL_FLUSH: the new epoch */
    uint64_t frame;       /* when (plugin frames) */
    double bpm;           /* time:beatsPerMinute (0: not given) */
    double beats_per_bar; /* time:beatsPerBar (0: not given) */
    double bar_beat;      /* time:barBeat: beats since the bar line */
    int64_t bar;          /* time:bar (0-based) */
    double speed;         /* time:speed: 0 stopped, 1 rolling */
    bool has_bar;         /* bar and bar_beat were given */
} lv2_ctl;

/* Messages to work() (schedule_work). */
typedef enum { WORK_TICK = 1, WORK_LOAD_SYNTH, WORK_SET } lv2_work_kind;
typedef struct {
    uint32_t kind;        /* lv2_work_kind */
    uint32_t nframes;     /* TICK: the cycle's length */
    uint64_t cycle;       /* TICK: first frame of the cycle that asked */
} lv2_work_msg;
/* WORK_SET: a patch:Set of the preset or the model from the host's UI,
 * followed by the value's characters (NUL-terminated, <= LV2_PATH_MAX). */
#define LV2_PATH_MAX 1024
typedef struct {
    uint32_t kind;        /* WORK_SET */
    uint32_t property;    /* URID: cn_preset or cn_model */
    char value[LV2_PATH_MAX];
} lv2_work_set;

typedef struct {
    LV2_URID atom_Blank, atom_Object, atom_Float, atom_Double, atom_Int, atom_Long,
        atom_String, atom_Path, atom_Sequence, midi_MidiEvent, time_Position, time_bar,
        time_barBeat, time_beatsPerBar, time_beatsPerMinute, time_speed, cn_preset, cn_model,
        cn_seed, patch_Set, patch_property, patch_value;
} lv2_uris;

#define OUT_PENDING_MAX 1024 /* model events held by run() beyond this cycle */
#define CYCLE_EVENTS_MAX 512 /* events written/played in one cycle */

typedef struct lv2_plugin {
    /* --- set at instantiate, read by every thread --- */
    double rate;
    char *bundle;
    LV2_URID_Map *map;
    LV2_Worker_Schedule *schedule;
    LV2_Log_Logger logger;
    lv2_uris uris;

    /* --- ports (host pointers; run() only) --- */
    const LV2_Atom_Sequence *midi_in;
    LV2_Atom_Sequence *midi_out;
    float *out_l, *out_r;
    const float *ctl[PORT_COUNT];

    /* --- the rings (single writer, single reader each) --- */
    ring *in;   /* lv2_event, run() -> worker: the performer */
    ring *out;  /* lv2_event, worker -> run(): the model */
    ring *ctl_ring; /* lv2_ctl, run() -> worker */

    /* --- run() state (audio thread only) --- */
    uint64_t frame;            /* first frame of the current cycle */
    uint32_t epoch;            /* bumped by each flush */
    rtqueue *pending;          /* OUT_PENDING_MAX model events waiting for their cycle */
    uint8_t sounding[16][128]; /* notes on at the MIDI out (note-on count, 0/1) */
    bool rolling;              /* last time:speed seen was non-zero */
    bool synth_asked;
    synth *syn;                /* owned; installed by work_response */
    LV2_Atom_Forge forge;
    rt_slot *cycle_ev;         /* CYCLE_EVENTS_MAX: this cycle's output, by offset */

    /* --- run() <-> worker / setup (atomics) --- */
    atomic_bool work_pending;     /* a TICK is queued or running */
    atomic_bool flush_request;    /* deactivate/restore: end every note in the next run() */
    atomic_uint_least64_t pub_cycle, pub_nframes; /* the latest cycle run() began */
    atomic_uint_least32_t pub_epoch;
    _Atomic float ctl_val[PORT_COUNT]; /* the control ports as run() last read them */
    /* counters (any thread reads; run() or the worker writes) */
    atomic_uint_least64_t n_in, n_out, drops_in, drops_out, late, stale;

    /* --- worker / setup state, behind mu --- */
    GMutex mu;
    model *m;
    session *sess;
    session_config cfg;     /* the preset's, with the ports' values applied */
    char *preset;           /* as the user gave it: a name ("daw") or a path */
    char *preset_path;      /* the file found for it */
    char *model_path;
    uint64_t seed;
    uint32_t work_epoch;    /* epoch of the events the worker hands out */
    uint64_t work_next, work_until; /* the pass's release window (frames) */
    struct driver *drv;     /* the session driver (lv2_work.c's host table) */
    float applied[PORT_COUNT]; /* control values as last applied (NAN: apply at the next pass) */
    tempo_position position;   /* time:Position fields merged over reports */
    bool position_bar_known;
    bool synth_failed;      /* no SoundFont: MIDI only (logged once) */
    lv2_event *take_buf;    /* scratch for session_take_due */
    cn_event *take_ev;
} lv2_plugin;

/* lv2_state.c */
/* The model file and a preset (name or path), by paths_find with this
 * bundle (plugin/paths.h: option, $CONTINUO_MODEL / $CONTINUO_PRESETS, the
 * bundle, the tree it is installed or built in, the compile-time prefix).
 * Not RT safe. */
char *lv2_find_model(const char *bundle, const char *option, GError **err);
char *lv2_find_preset(const char *bundle, const char *name, GError **err);
/* Loads model + preset into a new session and swaps it in (under mu).
 * NULL arguments keep the current ones. Not RT safe. */
gboolean lv2_engine_load(lv2_plugin *p, const char *preset, const char *model_path, GError **err);
void lv2_engine_free(lv2_plugin *p);
const void *lv2_state_interface(void);

/* lv2_work.c */
const void *lv2_worker_interface(void);
/* Makes the session driver (p->drv; freed with driver_free). Not RT safe. */
void lv2_work_init(lv2_plugin *p);
/* Ends the session's notes and forgets its schedule (run() ends what was
 * sounding at the output itself). Takes mu. Not RT safe. */
void lv2_work_reset(lv2_plugin *p);

#endif
