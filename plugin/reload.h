/* reload.h — SIGHUP: reading the preset again and handing it to the thread
 * that owns the session.
 *
 * jam_preset_load is the one way a jam turns a preset file plus the command
 * line's overrides into a session_config and a host_config (at start, and
 * again on SIGHUP, so a reload keeps --mode/--seed/--temperature/...). The reload box carries the
 * new config from the thread that took the signal (the jam's main loop) to
 * the session's thread (the JACK worker, or the pump), which applies it with
 * session_apply_config at its next pass:
 *
 *   main loop, on SIGHUP:   jam_preset_load(path, &ov, &c, &hc, &err) && reload_box_post(box, &c)
 *   worker, once per pass:  if (reload_box_take(box, &c)) session_apply_config(s, &c, now, &err)
 *
 * Not real-time safe (the box uses a mutex: take only tries it, never waits,
 * so it is fine on a worker thread but still not for a process callback). */
#ifndef CONTINUO_RELOAD_H
#define CONTINUO_RELOAD_H

#include <stdbool.h>
#include <stdint.h>
#include <glib.h>
#include "host_config.h"
#include "session.h"

/* The command line's overrides; jam_overrides_none fills "the preset's" in each. */
typedef struct {
    const char *mode;         /* NULL: the preset's */
    int64_t seed;             /* < 0: the preset's */
    double temperature;       /* NAN: the preset's (range: settings.h) */
    double quantize_grid;     /* NAN: the preset's */
    double quantize_strength; /* NAN: the preset's */
    int duet_bars;            /* < 0: the preset's */
    bool no_audio;
    bool reconnect, no_reconnect; /* --reconnect / --no-reconnect over [output] reconnect */
} jam_overrides;
void jam_overrides_none(jam_overrides *ov);

/* Defaults, then the preset file (session and [output]), then the
 * overrides, then the range check. FALSE + err naming the file/key or the
 * option. hc may be NULL. */
gboolean jam_preset_load(const char *preset_path, const jam_overrides *ov, session_config *c,
                         host_config *hc, GError **err);

typedef struct reload_box reload_box;
reload_box *reload_box_new(void);
void reload_box_free(reload_box *b);
/* Posts a config (replacing one not yet taken). Any thread. */
void reload_box_post(reload_box *b, const session_config *c);
/* TRUE and *c if one was posted; never waits (a busy box is tried again at
 * the next pass). */
bool reload_box_take(reload_box *b, session_config *c);

#endif
