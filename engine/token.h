/* token.h — performance encoding v1 (vocabulary id 1): MIDI events <-> tokens.
 *
 * The vocabulary (fixed: ids and names never change once a model is trained on them):
 *
 *   id        name            meaning
 *   0         PAD             padding (never sampled)
 *   1         BOS             start of a document / performance
 *   2         EOS             end of a document
 *   3..7      CTRL_3..CTRL_7  reserved for control tokens
 *   8..135    NOTE_ON_p       key p (0..127) pressed, at the current velocity
 *   136..263  NOTE_OFF_p      key p released (sustain pedal already folded in)
 *   264..363  TIME_SHIFT_k    advance time by k*10 ms, k = 1..100 (10 ms .. 1 s)
 *   364..395  VELOCITY_b      current velocity bin b (0..31) for following NOTE_ONs;
 *                             bin b covers MIDI velocities 4b..4b+3, decoded as 4b+2
 *   396                       vocabulary size
 *
 * Names print as e.g. "NOTE_ON_60", "TIME_SHIFT_25", "VELOCITY_20", "BOS".
 *
 * Encoder and decoder are incremental: feed one event (or token) at a time and
 * the resulting tokens (or events) come out at once. Both are plain structs with
 * no allocation after init, so the session may keep them on its worker thread. */
#ifndef CONTINUO_TOKEN_H
#define CONTINUO_TOKEN_H

#include <stdint.h>
#include <stdbool.h>
#include <glib.h>
#include "events.h"

#define TOK_VOCAB_ID 1 /* performance encoding v1 */

enum {
    TOK_PAD = 0,
    TOK_BOS = 1,
    TOK_EOS = 2,
    TOK_NOTE_ON = 8,      /* + pitch */
    TOK_NOTE_OFF = 136,   /* + pitch */
    TOK_TIME_SHIFT = 263, /* + k, k = 1..100: TOK_TIME_SHIFT + 1 = 264 is 10 ms */
    TOK_VELOCITY = 364,   /* + bin */
    TOK_VOCAB_SIZE = 396,
};

#define TOK_TIME_STEP 0.01  /* seconds per TIME_SHIFT unit */
#define TOK_MAX_SHIFT 100   /* units in the largest TIME_SHIFT */
#define TOK_VEL_BINS 32

static inline bool tok_is_note_on(int t) { return t >= TOK_NOTE_ON && t < TOK_NOTE_ON + 128; }
static inline bool tok_is_note_off(int t) { return t >= TOK_NOTE_OFF && t < TOK_NOTE_OFF + 128; }
static inline bool tok_is_shift(int t) { return t > TOK_TIME_SHIFT && t <= TOK_TIME_SHIFT + TOK_MAX_SHIFT; }
static inline bool tok_is_velocity(int t) { return t >= TOK_VELOCITY && t < TOK_VELOCITY + TOK_VEL_BINS; }
static inline int tok_velocity_bin(int velocity) { return velocity / 4; }        /* 0..31 */
static inline int tok_bin_velocity(int bin) { return bin * 4 + 2; }             /* 2..126 */

/* Writes the token's name into buf (>= 24 bytes); returns buf. */
const char *tok_name(int token, char *buf, size_t size);
/* Parses a name as printed by tok_name; returns the id or -1. */
int tok_from_name(const char *name);

/* ---- encoder: events -> tokens ----------------------------------------- */

typedef struct {
    int64_t tick;            /* time already emitted, in 10 ms units since the origin */
    double origin;           /* seconds at tick 0 */
    bool started;
    int vel_bin;             /* last VELOCITY bin emitted, -1 = none yet */
    bool pedal[16];          /* sustain pedal down, per channel */
    uint8_t held[128];       /* key physically down (count over channels) */
    bool sounding[128];      /* a NOTE_ON was emitted and its NOTE_OFF not yet */
    bool sustained[128];     /* sounding only because of the pedal */
    uint8_t sustain_ch[128]; /* channel whose pedal holds it */
} tok_encoder;

/* Max tokens one event can produce (time shifts for a long gap are emitted
 * in chunks by tok_enc_event: a gap longer than this many seconds is
 * emitted across calls of tok_enc_advance). */
#define TOK_ENC_MAX_OUT 64

void tok_enc_init(tok_encoder *e);
/* Feed one event (times non-decreasing). Writes up to `cap` tokens to out,
 * returns how many. Gaps too long for `cap` are capped: call tok_enc_advance
 * first for very long silences. */
int tok_enc_event(tok_encoder *e, const cn_event *ev, int *out, int cap);
/* Emit TIME_SHIFTs up to time t without an event (e.g. before a long gap);
 * returns tokens written (at most cap). */
int tok_enc_advance(tok_encoder *e, double t, int *out, int cap);
/* End every sounding note (pedal lift at the end of a piece). */
int tok_enc_flush(tok_encoder *e, int *out, int cap);

/* Whole list of events -> GArray of int tokens (no BOS added). */
GArray *tok_encode_events(const GArray *events);

/* ---- decoder: tokens -> events ----------------------------------------- */

typedef struct {
    double time;             /* current time, seconds */
    int velocity;            /* current NOTE_ON velocity */
    uint8_t channel;         /* channel for emitted events */
    double max_note_len;     /* seconds; a note sounding longer is ended (<=0: no cap) */
    bool sounding[128];
    double onset[128];       /* when each sounding note started */
    int n_sounding;
} tok_decoder;

/* Max events one token can produce. */
#define TOK_DEC_MAX_OUT 130

void tok_dec_init(tok_decoder *d, double start_time, uint8_t channel, double max_note_len);
/* Feed one token; writes the resulting events (time-ordered) to out.
 * Rules for nonsense: NOTE_OFF of a silent key is ignored; NOTE_ON of a
 * sounding key re-strikes it (NOTE_OFF then NOTE_ON at the same time); a
 * TIME_SHIFT that carries a note past max_note_len ends it at onset+max_note_len;
 * specials produce nothing. */
int tok_dec_token(tok_decoder *d, int token, cn_event *out, int cap);
/* End every sounding note at the current time. */
int tok_dec_flush(tok_decoder *d, cn_event *out, int cap);

/* Whole token list -> events (flushed at the end). */
GArray *tok_decode_tokens(const int *tokens, size_t n, double start_time);

#endif
