/* session_config.h — what a session is told: mode, timing, sampling, CC
 * mapping, quantize. Filled with defaults, then from a preset (GLib key file)
 * and the command line; checked once (session_config_check) by everything
 * that builds or changes a session. Defaults and ranges of the real-valued
 * fields are the settings table's (settings.h). Finding a preset file is the
 * host's (plugin/paths.h), and so are the preset's [output] keys
 * (plugin/host_config.h). Host-free; not real-time safe. */
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
     *   temperature, density: settings_from_cc (settings.h: temperature
     *     0.2 .. 2 linear; density 0.25 .. 1 .. 4, geometric, 64 -> 1)
     *   mode: v < 43 duet, < 86 accompany, else solo
     *   startstop: v >= 64 start, < 64 stop (the model's notes end) */
    int cc_temperature, cc_density, cc_mode, cc_startstop;
    int tokens_per_step;   /* most model forwards per session_step (bounds its work; 4) */
    double max_silence;    /* s: a longer silence is shortened to this in the token stream (2) */
    double accompany_hold; /* accompany: keep playing this long after the performer's last
                            * note (s; <= 0: forever) */
    float density;         /* note density factor (1 = off): v1 models NOTE_ON logits +=
                            * ln(density); v2 models the DENSITY target times it */
    /* [controls] (v2 models, token_v2.h): the DENSITY/DYNAMICS target the
     * session gives the model every TOK2_WINDOW s (see session.h) */
    double density_ratio;  /* accompany: model notes per performer note (3) */
    double solo_density;   /* notes/s: solo, and before the performer has played (6) */
    double solo_velocity;  /* mean MIDI velocity of solo (64) */
    /* [tempo] in a preset: active only while the session's beat clock
     * (session_tempo) knows a tempo. Defaults: no quantize, the
     * silence-based duet. */
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
/* The preset group that belongs to the host (audio, reconnect); skipped here. */
#define SESSION_CONFIG_HOST_GROUP "output"

/* Read a preset (GLib key file); fields absent keep their current value.
 * Unknown groups/keys and bad values (NaN and infinities included) are
 * errors naming the file and the key, e.g.
 * "presets/x.ini: [session] lookahead: 'abc' is not a finite number". */
gboolean session_config_load(session_config *c, const char *path, GError **err);
const char *session_mode_name(session_mode m); /* "duet" "accompany" "solo" */
gboolean session_mode_parse(const char *name, session_mode *m);

#endif
