/* host_config.h — what a preset tells the host rather than the session: the
 * [output] group (audio, performer_audio, reconnect). The engine skips that
 * group (SESSION_CONFIG_HOST_GROUP); preset_load reads one file into both
 * configs, so the preset format is one file as before. Not real-time safe. */
#ifndef CONTINUO_HOST_CONFIG_H
#define CONTINUO_HOST_CONFIG_H

#include <stdbool.h>
#include <glib.h>
#include "session_config.h"

typedef struct {
    bool audio;           /* render audio with FluidSynth (daw preset: false) */
    bool performer_audio; /* also play the performer's notes through the synth */
    bool reconnect;       /* JACK jam: wait for a restarted server and carry on (false: exit) */
} host_config;

/* audio and performer_audio on, reconnect off. */
void host_config_defaults(host_config *h);

/* The [output] group of a preset; keys absent keep their value. An unknown
 * key or a value other than true/false is an error naming the file and the
 * key ("x.ini: [output] audio: 'maybe' is not true or false"). */
gboolean host_config_load(host_config *h, const char *path, GError **err);

/* Defaults, then the preset file into both (h may be NULL: [output] is still
 * checked), then session_config_check. All or nothing. */
gboolean preset_load(const char *path, session_config *c, host_config *h, GError **err);

#endif
