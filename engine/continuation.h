/* continuation.h — offline continuation of a primer: the generation core of
 * `continuo continue`, host-free so that evaluation tools generate exactly
 * what the command does.
 *
 * The primer's tokens are fed to a decoder (so the clock sits where the
 * primer ends) and, after a BOS, as much of their end as fills 3/4 of the
 * model's context is prefilled; then tokens are sampled under the playability
 * masks (sampler_mask) until the decoder's clock reaches `seconds` past the
 * primer's end.
 *
 * A v2 model continues the primer as itself, in solo: the primer's notes are
 * the MODEL role's (the v1 ids are), with a DENSITY/DYNAMICS pair at its
 * first note and every TOK2_WINDOW after it, describing the primer's own
 * notes (tok2_window_controls), except the pair of the window holding the
 * primer's end, which gets the target: the primer's notes/s and mean
 * velocity over its last CONTINUATION_SPAN s (or the params' targets), the
 * rate times density_scale. Every later window of the continuation starts
 * with the same target pair; TIME_SHIFTs never jump a window start, and the
 * model never samples a performer note or a control. Not real-time safe (allocates, runs the model); prints
 * nothing (progress goes through a callback). */
#ifndef CONTINUO_CONTINUATION_H
#define CONTINUO_CONTINUATION_H

#include <stdbool.h>
#include <stdint.h>
#include <glib.h>
#include "model.h"
#include "sample.h"
#include "token_v2.h"

/* Tokens allowed per second of continuation before the core gives up on a
 * model that will not advance time (100 TIME_SHIFT_1 per second is the legal
 * maximum rate; 20x that leaves room for any sane note density). */
#define CONTINUATION_MAX_TOKENS_PER_SECOND 2000

/* s of the primer's end whose playing sets a v2 model's targets by default. */
#define CONTINUATION_SPAN (2 * TOK2_WINDOW)

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
    /* v2 models (token_v2.h) are told the density and dynamics of every
     * TOK2_WINDOW of the continuation: */
    double density_target;   /* notes/s; <= 0: the primer's (its last CONTINUATION_SPAN s) */
    double density_scale;    /* the target times this (<= 0: 1) */
    double velocity_target;  /* mean MIDI velocity; <= 0: the primer's */
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
    /* v2: the primer's density (notes/s over its last CONTINUATION_SPAN s)
     * and mean velocity there, and the control bins the continuation got */
    double primer_rate, primer_velocity;
    int density_bin, dynamics_bin; /* -1: v1 model */
} continuation_result;

/* Continues primer_tokens (tok_encode_events of the primer, whose first
 * NOTE_ON is at file time `origin`) and appends the model's events to out,
 * every note ended, none later than t_start + seconds. FALSE + err when the
 * model gives no usable logits (the events so far stay in out). */
gboolean continuation_generate(model *m, const GArray *primer_tokens, double origin,
                               const continuation_params *p, GArray *out,
                               continuation_result *r, GError **err);

/* v2: primer_tokens (v1, first NOTE_ON at `origin`, ending at t_end) as
 * the prompt a v2 model continues (without BOS), described above; the
 * target pair goes to ctrl[*n_ctrl] and r's primer and bin fields. */
GArray *continuation_prompt_v2(const GArray *primer_tokens, double origin, double t_end,
                               const continuation_params *p, continuation_result *r, int *ctrl,
                               int *n_ctrl);

#endif
