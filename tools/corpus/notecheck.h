/* notecheck.h — the round-trip yardstick for the tokenizer: the notes a raw
 * performance should sound (sustain pedal folded in), computed here
 * independently of engine/token.c, and a comparison against the notes that
 * come back from tokens. Used by tests/test_token.c and `continuo-bench tokens`.
 *
 * Not real-time safe (allocates). */
#ifndef CONTINUO_NOTECHECK_H
#define CONTINUO_NOTECHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <glib.h>
#include "events.h"

typedef struct {
    double on, off; /* seconds; off is the pedal-extended end */
    int pitch;      /* 0..127 */
    int velocity;   /* 1..127 */
    bool ended;     /* false: still sounding when the events ran out (off = on) */
} nc_note;

/* The notes of raw events (any channels, sorted by time), in onset order.
 * Each NOTE_ON starts a note; it is followed forward until it ends: the next
 * NOTE_ON of its pitch on any channel (re-strike), or the moment when no
 * channel holds its key down and no pedal holds a release of it (a key
 * released on channel c while c's CC64 is >= 64 sounds until c's pedal
 * lifts). The same rules as token.h, written as a per-note forward scan. */
GArray *notecheck_reference(const GArray *events);

/* The notes of an already well-formed event list (e.g. decoded tokens):
 * each NOTE_ON paired with the next NOTE_OFF of its pitch. */
GArray *notecheck_pair(const GArray *events);

typedef struct {
    size_t n_ref, n_out;       /* notes in each list */
    size_t n_missing;          /* pitch-wise count mismatches (should be 0) */
    size_t n_unended;          /* reference notes never ended (duration not compared) */
    size_t n_vel_bin_wrong;    /* velocity bin differs (bin = velocity / 4) */
    double max_onset_err;      /* seconds */
    double max_dur_err;        /* seconds, over ended notes */
} nc_result;

/* Matches the i-th note of each pitch in ref with the i-th of that pitch in
 * out (quantization can reorder notes of different pitches but never two of
 * the same pitch) and accumulates errors into r (zero it first to start). */
void notecheck_compare(const GArray *ref, const GArray *out, nc_result *r);

#endif
