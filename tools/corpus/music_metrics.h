/* music_metrics.h — musical statistics of note lists, for comparing a
 * model's continuation or accompaniment with real performances.
 *
 * Histogram overlap follows Yang & Lerch, "On the evaluation of generative
 * models in music" (2020): each histogram is normalized to sum 1 and the
 * overlap is the sum over bins of the smaller of the two (1 = same shape,
 * 0 = disjoint). The features and their bins:
 *   pitch_class  12 bins, pitch % 12; the overlap is the largest over the 12
 *                transpositions of the second histogram (key-invariant)
 *   pitch        128 bins, MIDI pitch
 *   ioi          inter-onset interval: the gap between successive distinct
 *                onsets (onsets closer than 10 ms, one token step, are one
 *                onset); 40 bins, 4 per octave from 10 ms (bin 0: <= 11.9 ms,
 *                bin 39: >= 8.6 s)
 *   velocity     32 bins of 4 (the tokenizer's velocity bins)
 *   length       note length, bins as ioi
 *   polyphony    at each onset, the notes sounding then (itself included);
 *                bins 0..32 (32: 32 or more)
 * Host-free, not real-time safe (allocates). */
#ifndef CONTINUO_MUSIC_METRICS_H
#define CONTINUO_MUSIC_METRICS_H

#include <glib.h>

typedef struct {
    double on, off; /* s */
    int pitch, velocity;
} mm_note;

/* Notes (onset in [t0, t1)) of the events on `channel` (-1: every channel),
 * pairing each NOTE_ON with the next NOTE_OFF of its channel and key (the
 * sustain pedal is not applied: decode tokens first to fold it in); a note
 * never ended ends at t1. Sorted by onset, then pitch. GArray of mm_note. */
GArray *mm_notes_from_events(const GArray *events, int channel, double t0, double t1);

enum { MM_PITCH_CLASS, MM_PITCH, MM_IOI, MM_VELOCITY, MM_LENGTH, MM_POLYPHONY, MM_N_FEATURES };
#define MM_MAX_BINS 128

typedef struct {
    int feature, n_bins;
    double count[MM_MAX_BINS];
} mm_hist;

const char *mm_feature_name(int feature); /* "pitch_class", "ioi", ... */
/* Histogram of one feature over notes[n] (sorted by onset). */
void mm_histogram(const mm_note *notes, int n, int feature, mm_hist *h);
/* Overlap of two histograms of the same feature, in [0, 1]; NAN when either
 * is empty. */
double mm_overlap(const mm_hist *a, const mm_hist *b);
/* The ioi/length bin of a duration in seconds. */
int mm_duration_bin(double seconds);

/* Onsets per second in [t0, t1). */
double mm_rate(const mm_note *notes, int n, double t0, double t1);
/* Onsets per second of the last `w` seconds of [t0, t1] over those of the
 * first `w`: INFINITY when only the first window is empty, NAN when both. */
double mm_drift(const mm_note *notes, int n, double t0, double t1, double w);
/* Onsets per second in the densest window of `w` seconds inside [t0, t1]. */
double mm_densest(const mm_note *notes, int n, double t0, double t1, double w);
double mm_mean_velocity(const mm_note *notes, int n); /* NAN when n == 0 */
/* Mean of the polyphony feature (notes sounding at each onset). */
double mm_mean_polyphony(const mm_note *notes, int n);
/* Longest run of successive notes whose pitch sequence occurs again later,
 * not overlapping the first occurrence (exact pitches, no transposition),
 * in notes. */
int mm_longest_repeat(const mm_note *notes, int n);
/* Longest stretch of [t0, t1] in which no note sounds (s). */
double mm_longest_silence(const mm_note *notes, int n, double t0, double t1);

/* A model accompanying a performer. A model onset "meets" the performer when
 * at least one performer note sounds then (on <= t < off). Of those:
 *   above      the model's pitch is higher than every sounding performer pitch
 *   consonant  its interval class (|a - b| mod 12) with every sounding
 *              performer pitch is 0, 3, 4, 5, 7, 8 or 9 (unison/octave,
 *              thirds, perfect fourth/fifth, sixths) */
typedef struct {
    int model_notes, performer_notes, met, above, consonant;
} mm_accomp;
void mm_accompaniment(const mm_note *model, int nm, const mm_note *performer, int np,
                      mm_accomp *a);

#endif
