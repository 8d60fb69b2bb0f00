/* session_internal.h — the session's state, shared by the files that make up
 * the session and by nothing else (hosts and tools see session.h only).
 *
 * One struct per seam; each file writes its own part and reads the others':
 *   stream    session_stream.c    the token stream, its KV-cache mirror, the
 *                                 two cursors, rollback, slides, logits
 *   sched     session_schedule.c  the model's scheduled events, quantize,
 *                                 what the host holds (session_take_due)
 *   policy    session_policy.c    modes, turns (silence and bar duet,
 *                                 accompany hold), controls
 *   sampling  session.c           sampler state and the step's pacing
 * session.c builds the whole and runs session_input / session_step.
 *
 * The stream. toks[] mirrors the KV cache exactly: toks[0..fed) are in it,
 * toks[fed..len) are performer tokens waiting for the next session_step to
 * forward them. Every token gets a serial (base + index), so positions stay
 * meaningful across slides. Tokens with serial < commit are "heard": the
 * performer's (heard when played) and the model's up to the last one whose
 * events were released to the host. Tokens from commit on are the model's
 * speculation (the lookahead), which a performer event cancels: the cache is
 * truncated back to commit and the performer's tokens appended there.
 * Invariant: unforwarded tokens and speculated tokens never coexist (input
 * rolls back first; generation forwards everything first).
 *
 * Two cursors follow the stream: `heard` (state after the heard tokens) and
 * `gen` (after all of them). Each holds a tok_decoder for the model's notes
 * (what sounds, velocity) whose tick is the stream clock, plus the stream's
 * current model VELOCITY bin. The performer's notes go through one tok2
 * encoder: in the model role with a v1 model (v1 cannot tell the players
 * apart: plain v1 ids, clock and velocity shared with the cursors and synced
 * before every encode), in the performer role with a v2 model (its own ids
 * and velocity; the clock still shared), so the performer's TIME_SHIFTs
 * continue from wherever the model's last heard token left the clock. With a
 * v2 model a DENSITY/DYNAMICS pair is due every WINDOW_TICKS of stream time
 * (ctrl_next), inserted before the first token of its window, whoever plays
 * it; its targets come from the policy (session_policy.c). Stream time
 * t_k = origin + k * 10 ms; a silence longer than max_silence is shortened
 * by moving origin forward (the KV cache never fills with TIME_SHIFT_100s).
 *
 * Not real-time safe (worker thread). */
#ifndef CONTINUO_SESSION_INTERNAL_H
#define CONTINUO_SESSION_INTERNAL_H

#include <math.h>
#include <stdint.h>
#include "session.h"
#include "token.h"
#include "token_v2.h"

#define TICK TOK_TIME_STEP
#define FAR_TICKS ((int64_t)1 << 50)
#define WINDOW_TICKS ((int64_t)(TOK2_WINDOW / TOK_TIME_STEP + 0.5)) /* ticks per control window */
#define CONTROL_SPAN (2 * TOK2_WINDOW) /* s of the performer's playing a target follows */
#define POLICY_ONSETS 512 /* performer onsets kept: 64 notes/s over CONTROL_SPAN */

/* A cursor over the stream. */
typedef struct {
    tok_decoder dec; /* the model's notes; dec.tick is the stream clock */
    int vel_bin;     /* last VELOCITY bin in the stream, -1 = none yet */
    double qshift[128]; /* s: quantize shift of each pitch's last NOTE_ON (its NOTE_OFF moves too) */
    double qoff[128];   /* s: time of each pitch's last scheduled NOTE_OFF (a re-strike goes after) */
    double qon[128];    /* s: time of each pitch's last scheduled NOTE_ON */
    int64_t ctrl_next;  /* tick of the next DENSITY/DYNAMICS pair due (v2; FAR_TICKS for v1) */
} stream_pos;

typedef struct {
    model_state *ms;
    int seq_len;       /* the model's context (tokens) */
    int *toks;         /* (cap) the stream; see the top */
    double *tshift;    /* (cap) quantize shift of each model NOTE_ON token in toks[] (s) */
    int len, fed, cap;
    uint64_t base;     /* serial of toks[0]; serials start at 1 */
    int64_t base_tick; /* stream tick before toks[0] (ticks of tokens slid away) */
    uint64_t commit;   /* first serial not yet heard */
    stream_pos heard, gen;
    tok2_encoder enc;  /* the performer's notes and pedals, in role perf_role */
    int perf_role;     /* v1: TOK2_ROLE_MODEL (role[0], plain v1 ids); v2: TOK2_ROLE_PERFORMER */
    int vocab;         /* tokens in the vocabulary (tok_vocab_size of the model's id) */
    double origin;     /* seconds at stream tick 0 */
    bool clock_started;
    float *logits;     /* (vocab) of the last forwarded token (model's buffer) */
    bool logits_ok, poison, broken;
} session_stream;

typedef struct {
    cn_event ev;
    uint64_t serial; /* token that produced it; 0: scheduled already heard */
} sched_item;

typedef struct {
    GArray *items;     /* sched_item, time order */
    bool out_sounding[128]; /* model notes the host has been given a NOTE_ON for */
    double out_floor;  /* time of the last released event */
    double last_until; /* the host holds everything released up to here */
    /* where the model token being generated may put its events (session_step) */
    double floor;      /* nothing is scheduled before it */
    double turn_end;   /* end of the model's turn the token is in (quantize stays inside) */
    bool cut;          /* the token is a NOTE_OFF ending a note at the turn's end: not shifted */
} session_sched;

typedef struct {
    session_mode mode;
    bool running, perf_seen, duet_silenced;
    double last_perf;  /* time of the performer's last note event */
    bool call_valid;   /* bar duet: the performer's current call */
    double call_beat;  /* absolute beat of the call's first bar line */
    /* the performer's recent NOTE_ONs (v2 control targets), a ring */
    double on_time[POLICY_ONSETS];
    uint8_t on_vel[POLICY_ONSETS];
    int on_n, on_head;    /* entries held; next slot */
    double first_onset;   /* the performer's first NOTE_ON (INFINITY: none yet) */
} session_policy;

typedef struct {
    sampler_params params;
    float density, lag_bias;
    cn_rng rng;
    float *work;       /* (vocab) biased logits */
    uint8_t *allowed;  /* (vocab) */
    void *scratch;
    int same_tick;     /* model tokens generated at gen's current tick */
    int short_steps;   /* consecutive steps that spent their budget well short of the lookahead */
    bool starved;      /* short_steps has lasted: generation cannot keep up */
} session_sampling;

struct session {
    session_config cfg;
    session_stream stream;
    session_sched sched;
    session_policy policy;
    session_sampling sampling;
    tempo_clock tempo; /* the beat clock: quantize (sched) and bar duet (policy) */
    double tempo_now;  /* s: the host's latest now (step or input); a tempo is asked about
                        * then (MIDI clock goes stale by arrival time) and extrapolated */
    GArray *rec;       /* every event input or released */
    session_stats st;
    bool latency_pending;
    double latency_from;
};

/* ---- the stream clock ---------------------------------------------------- */

static inline double tick_time(const session *s, int64_t k)
{
    return s->stream.origin + (double)k * TICK;
}

/* First tick at or after t (infinities map to +-FAR_TICKS). */
static inline int64_t tick_ceil(const session *s, double t)
{
    if (isinf(t)) return t > 0 ? FAR_TICKS : -FAR_TICKS;
    return (int64_t)ceil((t - s->stream.origin) / TICK - 1e-6);
}

/* Tokens from commit on: the speculation. */
static inline int stream_uncommitted(const session *s)
{
    return (int)(s->stream.base + (uint64_t)s->stream.len - s->stream.commit);
}

/* ---- session_stream.c ---------------------------------------------------- */

/* Allocates the stream's part (the model state, toks, tshift) for model m. */
gboolean stream_init(session *s, const model *m, GError **err);
void stream_free(session *s);
/* The first call sets the stream's origin to t (only BOS is in it then). */
void stream_clock_start(session *s, double t);
/* Encoder clock and velocity follow the heard cursor (model tokens move them too). */
void stream_enc_sync(session *s);
/* A heard token (the performer's, or a forced model token such as the
 * NOTE_OFFs that end the model's notes when it yields). Its model events are
 * scheduled no earlier than host_time. Needs no speculation pending. */
void stream_append_heard(session *s, int tok, bool performer, double host_time);
/* A model token at the generation frontier (speculative until released);
 * its events go through schedule_generated. */
void stream_append_generated(session *s, int tok);
/* Tokens up to `serial` are heard: move the heard cursor over them. */
void stream_commit_to(session *s, uint64_t serial);
/* Cancel the speculation: cache and schedule back to the last heard token. */
void stream_rollback(session *s);
/* v2: the heard stream's control pairs due at or before t (heard tokens,
 * their events no earlier than host_time); nothing for v1. Needs no
 * speculation pending. */
void stream_controls_to(session *s, double t, double host_time);
/* Shorten a silence from the heard position up to t to at most max_silence
 * (needs no speculation pending); TRUE if it did. */
bool stream_compress_silence(session *s, double t);
/* The model's sounding notes end at stream time t; the host gets the
 * NOTE_OFFs after everything it already holds. Needs no speculation pending. */
void stream_end_model_notes(session *s, double t);
/* Fresh, finite logits for the last token, or FALSE if the model is broken. */
bool stream_ensure_logits(session *s);

/* ---- session_schedule.c -------------------------------------------------- */

void schedule_init(session *s);
void schedule_free(session *s);
/* Insert in time order, after events of the same time. */
void schedule_insert(session *s, const cn_event *ev, uint64_t serial);
/* Time of the last scheduled event (-inf when none). */
double schedule_last_time(const session *s);
/* Drop the events of tokens from serial `first` on (the speculation). */
void schedule_drop_from(session *s, uint64_t first);
/* Drop every scheduled event, heard or not. */
void schedule_clear(session *s);
/* A note-off at `now` (or after the last event released) for every model
 * note the host holds. */
void schedule_end_host_notes(session *s, double now);
/* Quantize shifts on a cursor's model events (from a heard token, or one
 * being committed): a NOTE_OFF moves with its NOTE_ON (the note keeps its
 * length), a NOTE_ON by on_shift. */
void schedule_follow_shifts(stream_pos *p, cn_event *ev, int n, double on_shift);
/* Quantize and schedule the events of a generated token (in event order, on
 * the gen cursor; never before sched.floor nor, but for a note ending at
 * the turn's end, past sched.turn_end). Returns the NOTE_ON's shift. */
double schedule_generated(session *s, cn_event *ev, int n, uint64_t serial);

/* ---- session_policy.c ---------------------------------------------------- */

/* The window of stream time in which the model may play that contains t, or
 * the next one after t; FALSE if there is none. */
bool policy_window(const session *s, double t, double *ws, double *we);
bool policy_allows(const session *s, double t);
/* A performer note event (on or off) at ev->time. */
void policy_performer_note(session *s, const cn_event *ev);
/* v2: the control tokens (DENSITY_k, then DYNAMICS_k when k > 0) for the
 * window starting at stream time b; returns 1 or 2. See session.h. */
int policy_controls(const session *s, double b, int *out);
/* TRUE if the CC was a control (consumed, not encoded). */
bool policy_control_cc(session *s, const cn_event *ev);

#endif
