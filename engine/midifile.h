/* midifile.h — Standard MIDI Files <-> event lists (libsmf underneath).
 *
 * Not real-time safe (file I/O, allocation). */
#ifndef CONTINUO_MIDIFILE_H
#define CONTINUO_MIDIFILE_H

#include <glib.h>
#include "events.h"

/* Load a format 0 or 1 SMF (any PPQN division, tempo changes anywhere in
 * any track, any number of tracks and channels) into a new time-sorted GArray
 * of cn_event, times in seconds from the start of the file (exact to double
 * rounding). Velocity-0 note-ons become note-offs (b = 0). Keeps notes, all
 * CCs (CC64 sustain included) and program changes; drops sysex, meta, pitch
 * bend and pressure. Equal times keep file order (tracks in file order).
 * On a malformed file returns NULL and sets *err (CN_ERROR domain: CN_ERR_IO,
 * _TRUNCATED, _FORMAT or _UNSUPPORTED, see smf_check.h) with one line
 * "PATH: problem (offset N)"; prints nothing. Files over 64 MiB or lasting
 * over 10 h are refused (CN_ERR_UNSUPPORTED). Thread-safe. */
GArray *midifile_load(const char *path, GError **err);

/* Save events (any order; a sorted copy is written, equal times keeping
 * their order) as a format 1 SMF: a conductor track holding the tempo, then
 * one track with every event, or, when split_by_channel is TRUE, one track
 * per used channel in channel order (performer and model apart in jam
 * recordings). Division 960 ppqn at 500000 us per quarter note: a tick is
 * 1/1920 s (~0.52 ms) and each time is rounded to the nearest tick, so a
 * save -> load round trip moves a time by at most 0.26 ms.
 * Writes PATH.tmp, fsyncs it and renames it over PATH: a crash never leaves a
 * half-written PATH. Returns FALSE with *err set (CN_ERR_ARG for an event
 * out of range: time outside 0..36000 s, channel > 15, data > 127;
 * CN_ERR_IO for a write failure, PATH.tmp removed); prints nothing. */
gboolean midifile_save(const char *path, const GArray *events, gboolean split_by_channel,
                       GError **err);

#endif
