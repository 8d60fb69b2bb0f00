/* sample.h — choosing the next token: temperature, top-k, top-p, min-p, a
 * seedable deterministic RNG, and masks that keep the output playable.
 * All functions are allocation-free (scratch is caller-provided) and safe on
 * the worker thread. */
#ifndef CONTINUO_SAMPLE_H
#define CONTINUO_SAMPLE_H

#include <stdint.h>
#include <stdbool.h>
#include "token.h"

/* Deterministic RNG (same seed -> same stream on every machine). */
typedef struct { uint64_t s[2]; } cn_rng;
void rng_seed(cn_rng *r, uint64_t seed);
uint64_t rng_next(cn_rng *r);
/* splitmix64: the next word of the sequence *x (advances it); the seeder of
 * every generator in the project (the sampler's and the trainer's). */
uint64_t rng_splitmix64(uint64_t *x);
float rng_float(cn_rng *r); /* uniform in [0, 1) */

/* Filters apply in this order: temperature, top-k, top-p (on what top-k
 * kept, renormalized), min-p; ties in rank go to the lower token id. */
typedef struct {
    float temperature; /* > 0; 1 = the model's distribution; <= 0: argmax */
    int top_k;         /* 0 = off */
    float top_p;       /* 1 = off */
    float min_p;       /* 0 = off: drop tokens with p < min_p * p_max */
} sampler_params;

typedef struct {
    int pitch_lo, pitch_hi;  /* NOTE_ONs allowed only in [lo, hi] */
    int max_polyphony;       /* no NOTE_ON when this many notes sound (0 = no limit) */
    double max_note_len;     /* seconds: a note sounding this long must be ended next */
    bool allow_specials;     /* BOS/EOS/CTRL are never sampled unless set (PAD never) */
} sampler_limits;

/* The one set of defaults (session_config_defaults and `continuo continue`
 * start from them; the real-valued ones are the settings table's):
 * temperature 1, top-k off, top-p 0.95, min-p off; keys 21..108 (the piano),
 * at most 10 notes at once, notes at most 4 s, no specials. */
void sampler_params_defaults(sampler_params *p);
void sampler_limits_defaults(sampler_limits *l);

/* Fills allowed[TOK_VOCAB_SIZE] (1 = may be sampled) from the decoder's
 * state: no NOTE_OFF of a silent key, NOTE_ON only in range and under the
 * polyphony limit (a re-strike of a sounding key is allowed at the limit),
 * no zero-length note (a key struck at the current time is neither released
 * nor re-struck until a TIME_SHIFT),
 * VELOCITY always, TIME_SHIFTs only as long as they carry no sounding note
 * past max_note_len, and when a note has reached max_note_len (less than one
 * 10 ms step left) only its NOTE_OFF (the oldest such note first). So a
 * masked stream never relies on the decoder's own max_note_len cap. */
void sampler_mask(const tok_decoder *d, const sampler_limits *lim, uint8_t *allowed);
/* sampler_mask for a vocabulary of n_vocab tokens (tok_vocab_size): the v1
 * ids as above (in v2 they are the model's own notes), every id past them
 * (v2: the performer's notes and the DENSITY/DYNAMICS controls) masked, so
 * the model never plays the performer's part nor sets its own controls. */
void sampler_mask_vocab(const tok_decoder *d, const sampler_limits *lim, int n_vocab,
                        uint8_t *allowed);

/* Samples a token from logits[n] restricted to allowed (NULL = all).
 * logits is left untouched; scratch must hold 2*n floats + n ints
 * (SAMPLER_SCRATCH_BYTES(n)). Returns the token id, or -1 if nothing is allowed. */
#define SAMPLER_SCRATCH_BYTES(n) ((size_t)(n) * (2 * sizeof(float) + sizeof(int)))
int sampler_sample(const float *logits, int n, const uint8_t *allowed, const sampler_params *p,
                   cn_rng *rng, void *scratch);

/* The filtered distribution sampler_sample draws from, written to probs[n]
 * (for tests and evaluation). */
void sampler_probs(const float *logits, int n, const uint8_t *allowed, const sampler_params *p,
                   float *probs, void *scratch);

#endif
