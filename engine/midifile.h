/* midifile.h — Standard MIDI Files <-> event lists (libsmf underneath).
 *
 * Not real-time safe (file I/O, allocation). */
#ifndef CONTINUO_MIDIFILE_H
#define CONTINUO_MIDIFILE_H

#include <glib.h>
#include "events.h"

/* Load a format 0 or 1 SMF (any PPQN division, tempo changes, any number of
 * tracks and channels) into a new time-sorted GArray of cn_event, times in
 * seconds. Velocity-0 note-ons become note-offs. Keeps notes, all CCs and
 * program changes; drops sysex, meta and other channel messages.
 * On a malformed file returns NULL and sets *err (CN_ERROR domain) with one
 * line naming the file and the problem; prints nothing. */
GArray *midifile_load(const char *path, GError **err);

/* Save events (any order; sorted copy is written) as a format 1 SMF with
 * a fine division (960 ppqn at 120 bpm: ~0.52 ms per tick). One track per
 * entry of `track_of_channel` semantics is kept simple: all events on one
 * track unless split_by_channel is TRUE, then one track per used channel. */
gboolean midifile_save(const char *path, const GArray *events, gboolean split_by_channel,
                       GError **err);

#endif
