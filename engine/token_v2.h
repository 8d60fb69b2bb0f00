/* token_v2.h — performance encoding v2 (vocabulary id 2): two roles and
 * attribute controls, MIDI events <-> tokens.
 *
 * v2 is v1 (token.h) with every v1 id kept and meaning the same, the notes
 * and velocities of v1 belonging to the MODEL role, plus:
 *
 *   id        name            meaning
 *   0..395    (as v1)         NOTE_ON/NOTE_OFF/VELOCITY of the MODEL role
 *                             (the notes the model plays), TIME_SHIFT, specials
 *   396..523  P_NOTE_ON_p     PERFORMER role: key p pressed, at the performer's
 *                             current velocity
 *   524..651  P_NOTE_OFF_p    PERFORMER role: key p released (pedal folded in)
 *   652..683  P_VELOCITY_b    PERFORMER role: velocity bin b for its next NOTE_ONs
 *   684..695  DENSITY_k       the MODEL role's onsets in the coming control
 *                             window (TOK2_WINDOW s), bin k of tok2_density_bin
 *   696..703  DYNAMICS_k      their mean velocity, bin k = mean / 16 (0..7);
 *                             absent when the window holds no model onset
 *   704                       vocabulary size
 *
 * Why separate note ids per role (not a role token): a role token before
 * each note would add about one token per note (v1 costs ~4.05 tokens/note,
 * so ~25% less music in a 1024-token context); separate ids cost nothing in
 * length, only 308 embedding rows. Velocity is per role too: the two players
 * interleave, and one shared velocity state would re-emit VELOCITY at nearly
 * every role change.
 *
 * Each role keeps its own pedal-folded note state (one v1 tok_encoder per
 * role: the same folding code) on one shared clock: TIME_SHIFTs are common.
 *
 * Controls: DENSITY_k (then DYNAMICS_k when k > 0) stand at time T and
 * describe the MODEL role's NOTE_ONs with T <= onset < T + TOK2_WINDOW (raw,
 * unquantized onset times). tok2_encode_events places them at the clock's
 * origin and every TOK2_WINDOW after it. At run time the session emits them
 * itself whenever it wants to steer the model (tok2_enc_control), typically
 * every TOK2_WINDOW, from the performer's recent playing or a preset: the
 * model learned that what follows a control matches it.
 *
 * Decoded events carry the role in their channel (tok2_decoder.channel[role]).
 * All encoder/decoder functions are real-time safe except tok2_encode_events
 * and tok2_decode_tokens. */
#ifndef CONTINUO_TOKEN_V2_H
#define CONTINUO_TOKEN_V2_H

#include "token.h"

#define TOK2_VOCAB_ID 2

enum {
    TOK2_P_NOTE_ON = 396,  /* + pitch */
    TOK2_P_NOTE_OFF = 524, /* + pitch */
    TOK2_P_VELOCITY = 652, /* + bin */
    TOK2_DENSITY = 684,    /* + bin, TOK2_DENSITY_BINS */
    TOK2_DYNAMICS = 696,   /* + bin, TOK2_DYNAMICS_BINS */
    TOK2_VOCAB_SIZE = 704,
};

enum { TOK2_ROLE_MODEL = 0, TOK2_ROLE_PERFORMER = 1, TOK2_N_ROLES = 2 };

#define TOK2_WINDOW 4.0 /* seconds covered by one DENSITY/DYNAMICS pair */
#define TOK2_DENSITY_BINS 12
#define TOK2_DYNAMICS_BINS 8

/* Onsets in one TOK2_WINDOW -> density bin: 0 for none, then k for
 * count >= tok2_density_edges[k - 1]. The edges are 1 3 6 10 14 20 26 34 44
 * 56 72 onsets per 4 s (0.25 .. 18 notes/s), finer where piano music lives. */
extern const int tok2_density_edges[TOK2_DENSITY_BINS - 1];
int tok2_density_bin(int onsets_in_window);
/* A notes-per-second rate (e.g. the performer's recent playing) -> bin. */
int tok2_density_bin_rate(double notes_per_s);
/* Mean MIDI velocity (1..127) -> dynamics bin 0..7. */
static inline int tok2_dynamics_bin(double mean_velocity)
{
    int b = (int)(mean_velocity / 16.0);
    return b < 0 ? 0 : b >= TOK2_DYNAMICS_BINS ? TOK2_DYNAMICS_BINS - 1 : b;
}

static inline bool tok2_is_note_on(int t) { return tok_is_note_on(t) || (t >= TOK2_P_NOTE_ON && t < TOK2_P_NOTE_ON + 128); }
static inline bool tok2_is_density(int t) { return t >= TOK2_DENSITY && t < TOK2_DENSITY + TOK2_DENSITY_BINS; }
static inline bool tok2_is_dynamics(int t) { return t >= TOK2_DYNAMICS && t < TOK2_DYNAMICS + TOK2_DYNAMICS_BINS; }
static inline bool tok2_is_control(int t) { return tok2_is_density(t) || tok2_is_dynamics(t); }
/* Role of a note or velocity token (-1 for shifts, controls, specials). */
int tok2_role(int t);
/* The v1 token that means the most nearly the same as v2 token t (itself for
 * the shared ids; a performer note -> the same note of v1), or -1 for the
 * controls. Warm-starting a v2 model from v1 weights copies these rows. */
int tok2_v1_equivalent(int t);

/* Names: v1 names for ids < 396, then "P_NOTE_ON_60", "P_NOTE_OFF_60",
 * "P_VELOCITY_20", "DENSITY_5", "DYNAMICS_4". */
const char *tok2_name(int token, char *buf, size_t size);
int tok2_from_name(const char *name);

/* ---- per vocabulary id ----------------------------------------------------- */

/* Size of vocabulary id (1 or 2), 0 if unknown. */
int tok_vocab_size(int vocab_id);
/* Name of token t in vocabulary id (v1 names for an unknown id). */
const char *tok_vocab_name(int vocab_id, int t, char *buf, size_t size);
int tok_vocab_from_name(int vocab_id, const char *name);

/* ---- encoder ----------------------------------------------------------- */

typedef struct {
    tok_encoder role[TOK2_N_ROLES]; /* ticks, origin and now kept equal */
} tok2_encoder;

/* Max tokens one call produces (both roles' pedal lifts, shifts). */
#define TOK2_ENC_MAX_OUT (2 * TOK_ENC_MAX_OUT)

void tok2_enc_init(tok2_encoder *e);
/* Feed one event of `role` (times non-decreasing across roles): the v1
 * rules of token.h apply per role, with the role's ids; a CC64 acts on that
 * role's notes only. The clock starts at the first NOTE_ON of any role, or
 * at the first control. Returns tokens written, or -1 (nothing changed)
 * when they do not fit in cap (cap >= TOK2_ENC_MAX_OUT fits after gaps of
 * up to 128 s; otherwise tok2_enc_advance first). */
int tok2_enc_event(tok2_encoder *e, const cn_event *ev, int role, int *out, int cap);
/* A control token (DENSITY_k or DYNAMICS_k) at time t: TIME_SHIFTs up to t,
 * then the token. This is how the session steers the model: e.g. every
 * TOK2_WINDOW s, tok2_enc_control(e, now, TOK2_DENSITY + tok2_density_bin_rate(r), ...)
 * then tok2_enc_control(e, now, TOK2_DYNAMICS + tok2_dynamics_bin(v), ...),
 * and feed the tokens to the model like any other. Returns tokens written or
 * -1 (nothing changed, gap > cap seconds: tok2_enc_advance first). */
int tok2_enc_control(tok2_encoder *e, double t, int token, int *out, int cap);
/* TIME_SHIFTs up to t (as tok_enc_advance). */
int tok2_enc_advance(tok2_encoder *e, double t, int *out, int cap);
/* End of the piece, both roles (as tok_enc_flush): -1 and nothing changed
 * if the tokens do not fit. */
int tok2_enc_flush(tok2_encoder *e, int *out, int cap);

/* Whole list -> tokens (no BOS): roles[i] is the role of event i (a CC64
 * acts on every role, one piano's pedal sounding for both), with a control
 * pair at the origin (the first NOTE_ON) and every TOK2_WINDOW after it,
 * up to the last event; flushed at the end. */
GArray *tok2_encode_events(const GArray *events, const uint8_t *roles);

/* The control tokens (DENSITY_k, then DYNAMICS_k when k > 0) describing the
 * model-role onsets of events in [t, t + TOK2_WINDOW); writes 1 or 2 ids. */
/* The control tokens of one window, from its density bin and the mean
 * velocity of its model notes: DENSITY, then DYNAMICS unless the bin is 0
 * (no notes: no dynamics). Writes out[0..1], returns 1 or 2. The one rule
 * for training data and for the targets the session and continuation set. */
int tok2_control_pair(int density_bin, double mean_velocity, int *out);
int tok2_window_controls(const GArray *events, const uint8_t *roles, double t, int *out);

/* ---- decoder ----------------------------------------------------------- */

typedef struct {
    tok_decoder role[TOK2_N_ROLES]; /* times kept equal; role[r].channel = its channel */
    int density, dynamics;          /* last control bins seen, -1 = none yet */
} tok2_decoder;

#define TOK2_DEC_MAX_OUT (2 * TOK_DEC_MAX_OUT)

/* Model-role events on channel ch_model, performer-role on ch_performer. */
void tok2_dec_init(tok2_decoder *d, double start_time, uint8_t ch_model, uint8_t ch_performer,
                   double max_note_len);
/* As tok_dec_token, per role; controls update density/dynamics and produce
 * nothing. Events come out time-ordered. -1 (nothing changed) if they do not
 * fit in cap (cap >= TOK2_DEC_MAX_OUT always fits). */
int tok2_dec_token(tok2_decoder *d, int token, cn_event *out, int cap);
int tok2_dec_flush(tok2_decoder *d, cn_event *out, int cap);
/* Whole list; model role on channel 0, performer on channel 1. */
GArray *tok2_decode_tokens(const int *tokens, size_t n, double start_time, double max_note_len);

#endif
