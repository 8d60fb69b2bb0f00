/* jack_player.h — a JACK client that plays a list of timed events into a
 * port at exact frames: the virtual performer of continuo-perform, the e2e
 * tests and continuo-bench live.
 *
 * The events are converted to frame offsets before activation; the process
 * callback only walks that array (no allocation, locks or printing). Playing
 * starts `delay` seconds after jack_player_start, at a cycle boundary, so
 * an event at time t (seconds from the file's start, as midifile_load gives
 * it) goes out at frame start_frame + round(t * rate). */
#ifndef CONTINUO_JACK_PLAYER_H
#define CONTINUO_JACK_PLAYER_H

#include <stdbool.h>
#include <stdint.h>
#include <glib.h>

typedef struct jack_player jack_player;

/* Opens a client `name` with one MIDI output port "out" and activates it
 * (silent until jack_player_start). Never starts a server. Not RT safe. */
jack_player *jack_player_new(const char *name, const char *server, GError **err);
void jack_player_free(jack_player *p);

/* Connects "out" to `port`, waiting up to `wait` seconds for it to appear. */
gboolean jack_player_connect(jack_player *p, const char *port, double wait, GError **err);
/* Full name of the output port ("perform:out"). */
const char *jack_player_port_name(jack_player *p);

/* Plays `events` (cn_event, time order; times in seconds from the start)
 * once. Call once. */
gboolean jack_player_start(jack_player *p, const GArray *events, double delay, GError **err);

/* Stops early: the next cycle ends every note this player left sounding
 * (note-offs at offset 0) and the player is then done. */
void jack_player_stop(jack_player *p);

bool jack_player_done(jack_player *p);        /* every event written */
bool jack_player_dead(jack_player *p);        /* the server went away */
uint64_t jack_player_start_frame(jack_player *p); /* valid once playing began */
uint64_t jack_player_sent(jack_player *p);    /* events written so far */
uint64_t jack_player_late(jack_player *p);    /* events written after their frame (never expected) */
uint32_t jack_player_rate(jack_player *p);
/* The frame event i was scheduled for (after start). */
uint64_t jack_player_event_frame(jack_player *p, size_t i);

#endif
