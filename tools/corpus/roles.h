/* roles.h — who plays which note in a v2 training document (token_v2.h):
 * the melody of a piece is found, then a mode gives each note a role.
 *
 * Melody:
 * - skyline (solo piano, ASAP): a note is melody when no other note starts
 *   within ROLES_CHORD_S of it with a higher pitch (top of its chord) and no
 *   higher key, pressed more than ROLES_CHORD_S earlier, is still down
 *   ROLES_OVERLAP_S after it starts (an inner voice under a held top note;
 *   a short legato overlap of the top line is allowed). Key-down time only:
 *   the pedal does not make a voice. Chosen over a hand split (by pitch)
 *   because accompany mode needs the top line on one side and everything
 *   under it on the other, which is what the performer plays (a melody) and
 *   what the model must learn to play under it; a left/right hand split
 *   would leave the right hand's inner harmony with the melody.
 * - channel (POP909): the notes of one MIDI channel (POP909's MELODY track is
 *   channel 0; BRIDGE and PIANO, channels 1 and 2, are the accompaniment).
 *
 * Modes (the role of each note; a note-off takes the role of its note-on):
 * - SOLO: every note is the model's (plain continuation, as v1).
 * - ACCOMPANY: melody = performer, the rest = model (the model plays under
 *   the performer's melody).
 * - LEAD: melody = model, the rest = performer (a melody over given chords).
 * - CALL: call and response: segments of ROLES_CALL_S from the first onset,
 *   alternately the performer's and the model's (by onset time).
 *
 * Not real-time safe (allocates). */
#ifndef CONTINUO_ROLES_H
#define CONTINUO_ROLES_H

#include <stdint.h>
#include <glib.h>
#include "events.h"

#define ROLES_CHORD_S 0.05   /* onsets this close count as one chord */
#define ROLES_OVERLAP_S 0.10 /* legato overlap allowed to the top line */
#define ROLES_CALL_S 8.0     /* length of one call-and-response segment */

typedef enum { ROLES_SOLO, ROLES_ACCOMPANY, ROLES_LEAD, ROLES_CALL, ROLES_N_MODES } roles_mode;

extern const char *const roles_mode_names[ROLES_N_MODES]; /* "solo", "accompany", ... */

/* melody[i] = 1 for the NOTE_ONs (velocity > 0) of events (time-sorted)
 * that are melody; 0 for everything else. g_free the result. */
uint8_t *roles_melody_skyline(const GArray *events);
uint8_t *roles_melody_channel(const GArray *events, int channel);

/* role[i] (TOK2_ROLE_MODEL or TOK2_ROLE_PERFORMER) of every event for a
 * mode; events that are not notes get TOK2_ROLE_MODEL (tok2_encode_events
 * sends CC64 to both roles anyway). g_free the result. */
uint8_t *roles_assign(const GArray *events, const uint8_t *melody, roles_mode mode);

#endif
