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
/* The decimal number (1..3 digits) that makes up all of s, in [lo, hi]; -1
 * otherwise. Shared by the name parsers of every vocabulary. */
int tok_parse_index(const char *s, int lo, int hi);

/* ---- encoder: events -> tokens ----------------------------------------- */

typedef struct {
    int64_t tick;            /* time already emitted, in 10 ms units since the origin */
    double origin;           /* seconds at tick 0 */
    double now;              /* seconds: latest event (or advance) fed; a flush ends notes here */
    bool started;
    int vel_bin;             /* last VELOCITY bin emitted, -1 = none yet */
    bool pedal[16];          /* sustain pedal down, per channel */
    uint8_t held[128];       /* key physically down (count over channels) */
    bool sounding[128];      /* a NOTE_ON was emitted and its NOTE_OFF not yet */
    bool sustained[128];     /* sounding only because of the pedal */
    uint8_t sustain_ch[128]; /* channel whose pedal holds it (lowest, if several) */
    /* The exact state behind the four summaries above: */
    uint16_t held_mask[128]; /* bit c: key down on channel c */
    uint16_t sus_mask[128];  /* bit c: released on channel c while c's pedal was down */
} tok_encoder;

/* Encoder rules (all channels merge into one piano stream), which
 * tools/corpus/notecheck.c restates independently as the yardstick:
 * - The clock starts at the first NOTE_ON (origin = its time); time before it
 *   (pedal, program changes) produces no tokens (to start it at a chosen
 *   time instead, set origin and started = true after tok_enc_init; then
 *   the first NOTE_ON is preceded by shifts). Tokens are stamped at tick
 *   round((t - origin) / 10 ms), computed from the absolute time for every
 *   event, so quantization error never accumulates (|error| <= 5 ms always).
 *   TIME_SHIFTs are emitted lazily, just before the next token, in chunks of
 *   at most 1 s (TIME_SHIFT_100).
 * - One sounding instance per pitch. It sounds while any channel holds its
 *   key down or any channel's sustain pedal (CC64 >= 64 down, < 64 up) holds
 *   a release of it. A pedal lift ends only the notes whose keys were all
 *   released while it was down, never a key still down; a CC64 value on the
 *   same side as the channel's last one changes nothing. A NOTE_ON of a
 *   sounding pitch (any channel) re-strikes it: NOTE_OFF then NOTE_ON; the
 *   re-strike also ends what the pedals were sustaining of that pitch. So a
 *   note held on two channels ends when the last key (or pedal that caught
 *   its release) lets go.
 * - A note-off for a key not down on that channel is dropped. A velocity-0
 *   NOTE_ON is a note-off.
 * - VELOCITY_b comes before a NOTE_ON only when its bin differs from the last
 *   one emitted. Other CCs and program changes produce no tokens. */

/* Max tokens one call can produce: 128 NOTE_OFFs (a pedal lift) plus time
 * shifts, so an event after a gap of up to 128 s always fits; for longer
 * silences call tok_enc_advance first (repeatedly, until it returns 0). */
#define TOK_ENC_MAX_OUT 256

/* All encoder/decoder functions are real-time safe (no allocation, no
 * locks, bounded work) except tok_encode_events / tok_decode_tokens. */
void tok_enc_init(tok_encoder *e);
/* Feed one event (times non-decreasing; an earlier time is treated as the
 * current one). Writes its tokens to out and returns how many. If they do
 * not fit in `cap` (cap >= TOK_ENC_MAX_OUT always fits unless the gap since
 * the last token is > 128 s), writes nothing, changes nothing and returns -1. */
int tok_enc_event(tok_encoder *e, const cn_event *ev, int *out, int cap);
/* Emit TIME_SHIFTs up to time t without an event (e.g. during a long
 * silence); returns tokens written (at most cap; call again while it
 * returns cap). Nothing before the clock has started (first NOTE_ON). */
int tok_enc_advance(tok_encoder *e, double t, int *out, int cap);
/* The end of the piece: every key and pedal lets go at `now`, the time of
 * the latest event (or advance) fed, even when that event produced no
 * token (e.g. the last key released under a pedal that never lifts):
 * TIME_SHIFTs up to now, then NOTE_OFFs in pitch order. Nothing (not even
 * the shifts) when no note sounds. Returns tokens written, or -1 (nothing
 * changed) if more than cap; cap >= TOK_ENC_MAX_OUT fits unless now is
 * > 128 s past the last token (then tok_enc_advance(e, e->now, ...) first). */
int tok_enc_flush(tok_encoder *e, int *out, int cap);
/* The tick (10 ms units since the origin, never before the last token) at
 * which a token at time t is stamped; the clock must have started. */
int64_t tok_enc_tick_at(const tok_encoder *e, double t);

/* Whole list of events -> GArray of int tokens (no BOS added), flushed at
 * the end; long silences handled with tok_enc_advance. */
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
    /* time is start + tick * TOK_TIME_STEP, recomputed from the integer
     * tick so that long decodes never drift. */
    double start;
    int64_t tick;
} tok_decoder;

/* Max events one token can produce. */
#define TOK_DEC_MAX_OUT 130
/* Velocity of NOTE_ONs before the first VELOCITY token. */
#define TOK_DEC_DEFAULT_VELOCITY 64
/* Note length cap used by tok_decode_tokens and `continuo tokens --decode`
 * (seconds): about twice the longest pedal-extended note in the ASAP
 * performances (62.3 s, `continuo-bench tokens`), so real music passes
 * untouched while a note the model never ends stops within two minutes.
 * The live session sets its own, shorter cap (sampler_limits). */
#define TOK_DEC_DEFAULT_MAX_NOTE_LEN 120.0

void tok_dec_init(tok_decoder *d, double start_time, uint8_t channel, double max_note_len);
/* Feed one token; writes the resulting events (time-ordered) to out and
 * returns how many (-1 and nothing changed if they do not fit in cap;
 * cap >= TOK_DEC_MAX_OUT always fits). Real-time safe.
 * Rules for nonsense: NOTE_OFF of a silent key is ignored; NOTE_ON of a
 * sounding key re-strikes it (NOTE_OFF then NOTE_ON at the same time); a
 * TIME_SHIFT that carries a note past max_note_len ends it at
 * onset+max_note_len (several such notes in order of that time, ties by
 * pitch); specials (PAD, BOS, EOS, CTRL) produce nothing. Every NOTE_ON
 * emitted is matched by exactly one later NOTE_OFF of the same pitch
 * (at the latest from tok_dec_flush). */
int tok_dec_token(tok_decoder *d, int token, cn_event *out, int cap);
/* End every sounding note at the current time (pitch order); returns the
 * number of events, or -1 if more than cap (cap >= 128 always fits). */
int tok_dec_flush(tok_decoder *d, cn_event *out, int cap);

/* Whole token list -> events (flushed at the end), on channel 0, notes
 * capped at TOK_DEC_DEFAULT_MAX_NOTE_LEN. Out-of-range ids are ignored. */
GArray *tok_decode_tokens(const int *tokens, size_t n, double start_time);
/* Same with an explicit cap (seconds, <= 0: no cap) and channel. */
GArray *tok_decode_tokens_full(const int *tokens, size_t n, double start_time, uint8_t channel,
                               double max_note_len);

#endif
