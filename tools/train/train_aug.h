/* train_aug.h — augmentation of training windows as they are drawn:
 * transposition and time stretch, for token vocabularies v1 (token.h) and
 * v2 (token_v2.h). Each window gets its own draws, made from one 64-bit
 * value the caller takes from the data sampler (train_rng.h), so a run is
 * deterministic from its seed and its step, and a resumed run draws what an
 * uninterrupted one would.
 *
 * Transposition: a shift s of -N..+N semitones moves every NOTE_ON and
 * NOTE_OFF of both roles. s is drawn uniformly from the shifts that keep
 * every note of the window in 0..127 (the same law as redrawing until it
 * fits, without the loop): a window from C8 upwards is never moved up.
 *
 * Time stretch: a factor f drawn uniformly in [1 - P, 1 + P]. Each run of
 * consecutive TIME_SHIFTs (one gap) becomes round(A + units * f) - round(A)
 * units, A the exact stretched time since the window start, re-emitted in
 * shifts of at most 1 s; so rounding never accumulates (every token is within
 * half a 10 ms tick of its exact stretched time), a gap may vanish (two
 * events merge into one tick) and the window may read more or fewer source
 * tokens than it writes. Stretch changes notes/s, so each v2 DENSITY token is
 * recomputed: the MODEL role's NOTE_ONs in the next TOK2_WINDOW seconds of
 * stretched time, counted on the source tokens after it (also beyond the
 * window's end, up to the document's end), exact to the 10 ms tick. Velocities
 * are not stretched, so DYNAMICS keeps its bin; it is dropped when the new
 * density is 0 and added (from the velocities of the onsets counted) when a
 * density of 0 becomes more. A window that reaches the file's end before it is
 * full is written unstretched (it is still transposed).
 * Training code: plain arithmetic, no allocation. */
#ifndef CONTINUO_TRAIN_AUG_H
#define CONTINUO_TRAIN_AUG_H

#include <stdint.h>
#include <stddef.h>
#include "tokfile.h"

typedef struct {
    int transpose;     /* N: shifts of -N..+N semitones (0: none) */
    float stretch;     /* P: factors 1 - P .. 1 + P, e.g. 0.05 (0: none) */
    uint32_t vocab_id; /* the token file's vocabulary (1 or 2) */
} train_aug;

static inline int train_aug_active(const train_aug *a)
{
    return a && (a->transpose > 0 || a->stretch > 0.0f);
}

/* Writes n_out tokens: the window at offset off of tf (off + n_out <=
 * n_tokens), augmented with the draws that `draw` seeds, into out. */
void train_aug_window(const train_aug *a, const tokfile *tf, size_t off, int n_out,
                      uint64_t draw, uint16_t *out);

/* The pieces, for tests. Stretch src[0 .. n_src) by f into out (n_out
 * tokens); src[-n_before .. -1] may be read (a velocity before the window).
 * Returns how many tokens were written (< n_out when src ran out). */
int train_aug_stretch(uint32_t vocab_id, const uint16_t *src, size_t n_before, size_t n_src,
                      double f, uint16_t *out, int n_out);
/* Transposes the notes of tok (n) by s semitones (the caller keeps them in range). */
void train_aug_transpose(uint32_t vocab_id, uint16_t *tok, int n, int s);

#endif
