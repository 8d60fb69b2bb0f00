/* continuation.h — offline continuation of a primer: the generation core of
 * `continuo continue`, host-free so that evaluation tools generate exactly
 * what the command does.
 *
 * The primer's tokens are fed to a decoder (so the clock sits where the
 * primer ends) and, after a BOS, as much of their end as fills 3/4 of the
 * model's context is prefilled; then tokens are sampled under the playability
 * masks (sampler_mask) until the decoder's clock reaches `seconds` past the
 * primer's end. Not real-time safe (allocates, runs the model); prints
 * nothing (progress goes through a callback). */
#ifndef CONTINUO_CONTINUATION_H
#define CONTINUO_CONTINUATION_H

#include <stdbool.h>
#include <stdint.h>
#include <glib.h>
#include "model.h"
#include "sample.h"

/* Tokens allowed per second of continuation before the core gives up on a
 * model that will not advance time (100 TIME_SHIFT_1 per second is the legal
 * maximum rate; 20x that leaves room for any sane note density). */
#define CONTINUATION_MAX_TOKENS_PER_SECOND 2000

/* What a primer's event list holds, as the continuation sees it. */
typedef struct {
    double origin;     /* s: the first NOTE_ON (token time 0), or the last event if no notes */
    double end;        /* s: the latest event */
    int notes;
    uint16_t channels; /* bit c: channel c used */
} continuation_primer;

void continuation_primer_scan(const GArray *events, continuation_primer *p);
/* Whether primer + `seconds` of continuation fit in one MIDI file
 * (CN_SMF_MAX_SECONDS), the continuation's start allowed one token time step
 * after the primer's end; FALSE + err (CN_ERR_ARG, one line with the
 * figures) when not. Call it before generating. */
gboolean continuation_check_length(const continuation_primer *p, double seconds, GError **err);
/* Appends to events a NOTE_OFF at `at` for each note still held there, and
 * lifts pedals left down, so the list leaves nothing hanging. */
void continuation_primer_close(GArray *events, double at);

typedef void (*continuation_progress_fn)(void *user, double done, double total, long tokens,
                                         bool final);

typedef struct {
    double seconds;          /* of continuation, after the primer's end */
    uint8_t channel;         /* 0..15, of the model's events */
    sampler_params sampling;
    sampler_limits limits;   /* masks; limits.max_note_len also caps the decoder */
    uint64_t seed;
    continuation_progress_fn progress; /* may be NULL; called once after the prefill
                                        * (tokens 0; the result's prefill fields are set)
                                        * and after each token (final: the last call) */
    void *progress_user;
} continuation_params;

typedef struct {
    long tokens;         /* sampled */
    int primed;          /* tokens prefilled (BOS included) */
    bool primer_cut;     /* only the primer's end fit */
    bool stopped_early;  /* hit the token limit before reaching `seconds` */
    double t_start;      /* s, file time where the continuation starts */
    double prefill_s, generate_s; /* wall time */
} continuation_result;

/* Continues primer_tokens (tok_encode_events of the primer, whose first
 * NOTE_ON is at file time `origin`) and appends the model's events to out,
 * every note ended, none later than t_start + seconds. FALSE + err when the
 * model gives no usable logits (the events so far stay in out). */
gboolean continuation_generate(model *m, const GArray *primer_tokens, double origin,
                               const continuation_params *p, GArray *out,
                               continuation_result *r, GError **err);

#endif
