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

/* What a round trip through tokens may change, from rounding every event
 * time to the 10 ms grid (each end moves by at most 5 ms), plus 1e-9 s for
 * double arithmetic. A TIME_SHIFT holds at most 1 s, but a longer gap is
 * several of them and every stamp is rounded from the absolute time, so
 * that limit adds no error. */
#define NC_ONSET_TOL (0.005 + 1e-9) /* seconds */
#define NC_DUR_TOL (0.010 + 1e-9)   /* seconds */

typedef struct {
    double on, off; /* seconds; off is the pedal-extended end */
    int pitch;      /* 0..127 */
    int velocity;   /* 1..127 */
    bool at_end;    /* still sounding when the events ran out: off = the last event's time */
} nc_note;

/* The notes of raw events (any channels, sorted by time), in onset order.
 * Each NOTE_ON (velocity > 0) starts a note; it is followed forward until
 * it ends:
 * - the next NOTE_ON of its pitch on any channel (re-strike), or
 * - the moment no channel holds its key down and no pedal holds a release
 *   of it. A key lifted (NOTE_OFF, or NOTE_ON velocity 0) on channel c while
 *   c's pedal is down (its last CC64 >= 64) sounds on until c's pedal goes
 *   below 64; a CC64 that stays on the same side of 64 changes nothing; a
 *   key still down when a pedal lifts is not ended by it; another
 *   channel's pedal neither holds nor ends it, or
 * - the end of the performance: the time of the last event of any kind,
 *   when every key and pedal lets go (at_end).
 * The same rules as token.h, written as a per-note forward scan. */
GArray *notecheck_reference(const GArray *events);

/* The notes of an already well-formed event list (e.g. decoded tokens):
 * each NOTE_ON paired with the next NOTE_OFF of its pitch (off = on if none). */
GArray *notecheck_pair(const GArray *events);

typedef struct {
    size_t n_ref, n_out;       /* notes in each list */
    size_t n_missing;          /* pitch-wise count mismatches (should be 0) */
    size_t n_onset_over;       /* matched notes whose onset is off by more than NC_ONSET_TOL */
    size_t n_dur_over;         /* matched notes whose duration is off by more than NC_DUR_TOL */
    size_t n_vel_bin_wrong;    /* velocity bin differs (bin = velocity / 4) */
    size_t n_at_end;           /* reference notes ended by the end of the events */
    size_t n_capped;           /* reference notes >= max_note_len (compared with the cap) */
    double max_onset_err;      /* seconds */
    double max_dur_err;        /* seconds */
} nc_result;

/* Matches the i-th note of each pitch in ref with the i-th of that pitch in
 * out (quantization can reorder notes of different pitches but never two of
 * the same pitch) and accumulates errors into r (zero it first to start).
 * max_note_len (seconds, <= 0: none) is the decoder's cap: a reference note
 * that long is expected back exactly that long, and counted in n_capped. */
void notecheck_compare(const GArray *ref, const GArray *out, double max_note_len, nc_result *r);

/* Adds b's counts to a and keeps the larger maxima. */
void notecheck_merge(nc_result *a, const nc_result *b);

/* Notes beyond tolerance or missing: 0 when the round trip is right. */
static inline size_t notecheck_mismatches(const nc_result *r)
{
    return r->n_missing + r->n_onset_over + r->n_dur_over + r->n_vel_bin_wrong;
}

#endif
