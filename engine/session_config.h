/* session_config.h — what a session is told: mode, timing, sampling, CC
 * mapping, quantize. Filled with defaults, then from a preset (GLib key file)
 * and the command line; checked once (session_config_check) by everything
 * that builds or changes a session. Host-free; not real-time safe. */
#ifndef CONTINUO_SESSION_CONFIG_H
#define CONTINUO_SESSION_CONFIG_H

#include <stdbool.h>
#include <stdint.h>
#include <glib.h>
#include "sample.h"

typedef enum { SESSION_DUET = 0, SESSION_ACCOMPANY, SESSION_SOLO } session_mode;

typedef struct {
    session_mode mode;
    double lookahead;      /* seconds of model events kept scheduled ahead of now (0.2) */
    double duet_pause;     /* duet: performer silence that starts an answer (s) */
    double duet_phrase;    /* duet: longest answer (s) */
    sampler_params sampling;
    sampler_limits limits;
    uint64_t seed;
    uint8_t model_channel; /* MIDI channel of the model's notes, 0..15 (performer keeps theirs) */
    /* CC mapping (-1 = unmapped): value 0..127 scaled into each control:
     *   temperature: 0.2 + 1.8 * v/127        density: 4^((v - 64)/64) (64 -> 1)
     *   mode: v < 43 duet, < 86 accompany, else solo
     *   startstop: v >= 64 start, < 64 stop (the model's notes end) */
    int cc_temperature, cc_density, cc_mode, cc_startstop;
    /* --- added with session.c --- */
    int tokens_per_step;   /* most model forwards per session_step (bounds its work; 4) */
    double max_silence;    /* s: a longer silence is shortened to this in the token stream (2) */
    double accompany_hold; /* accompany: keep playing this long after the performer's last
                            * note (s; <= 0: forever) */
    float density;         /* note density factor: NOTE_ON logits += ln(density) (1 = off) */
    /* Host-only keys ([output] in a preset); the engine ignores them. */
    bool audio;            /* render audio with FluidSynth (daw preset: false) */
    bool performer_audio;  /* also play the performer's notes through the synth */
    bool reconnect;        /* JACK jam: wait for a restarted server and carry on (false: exit) */
    /* --- added for tempo sync (issue 8; [tempo] group in a preset) --------
     * Active only while the session's beat clock (session_tempo) knows a
     * tempo; without one the session behaves as before. Defaults keep
     * today's behaviour: no quantize, the silence-based duet. */
    double quantize_grid;     /* beats (0.25 = sixteenths at a quarter-note beat); 0 = off */
    double quantize_strength; /* 0..1: 1 puts each model onset exactly on the nearest grid
                               * line, 0 leaves it; note lengths are kept (1) */
    int duet_bars;            /* duet with a tempo: the performer plays N bars, the model
                               * answers the next N, turns change on bar lines; 0 = off
                               * (silence duet always). 2 is the usual choice. */
} session_config;

void session_config_defaults(session_config *c);
/* Range checks (lookahead > 0, pitch range, channel, ...); one-line error
 * naming the field. session_new and session_config_load call it. */
gboolean session_config_check(const session_config *c, GError **err);
/* Read a preset (GLib key file); fields absent keep their current value.
 * Unknown groups/keys and bad values are errors naming the file and the key,
 * e.g. "presets/x.ini: [session] lookahead: 'abc' is not a number". */
gboolean session_config_load(session_config *c, const char *path, GError **err);
/* A preset name ("duet") or path -> the file to load (newly allocated).
 * Looks in $CONTINUO_PRESETS, ./presets, the executable's ../presets and
 * ../share/continuo/presets, /usr/local/share/continuo/presets,
 * /usr/share/continuo/presets. NULL + err (listing where it looked) if absent. */
char *session_preset_find(const char *name_or_path, GError **err);
const char *session_mode_name(session_mode m); /* "duet" "accompany" "solo" */
gboolean session_mode_parse(const char *name, session_mode *m);

#endif
