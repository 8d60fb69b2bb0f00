/* session.c — the jam: one token stream holding the performer and the model
 * in time order, the lookahead schedule, rollback, modes and controls.
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
 * current VELOCITY bin. The performer's notes are tracked by the shared
 * tok_encoder instead; encoder and cursors share the clock and the velocity
 * (synced before every encode), so the performer's TIME_SHIFTs continue from
 * wherever the model's last heard token left the clock. Stream time t_k =
 * origin + k * 10 ms; a silence longer than max_silence is shortened by
 * moving origin forward (the KV cache never fills with TIME_SHIFT_100s).
 *
 * Policy. The model may play in a window of stream time: solo always;
 * accompany from the performer's first note to hold s after their last;
 * duet from pause s after the performer's last note event for phrase s.
 * Generation keeps the decided stream `lookahead` ahead of now, walking to
 * the next window start with speculative rests, ending the model's notes at
 * a window end, and never writing events before the host's released
 * horizon (catching up with rests when behind: fewer notes, no late burst).
 *
 * Not real-time safe (worker thread). */
#include <math.h>
#include <string.h>
#include "session.h"
#include "settings.h"
#include "token.h"
#include "error.h"

#define TICK TOK_TIME_STEP
#define FAR_TICKS ((int64_t)1 << 50)
#define MAX_SAME_TICK 24   /* model tokens at one instant before only rests are allowed */
#define LAG_BIAS_MAX 3.0f  /* nats taken off NOTE_ON logits when generation is behind */
#define STARVED_STEPS 8    /* short steps in a row before generation counts as starved */

typedef struct {
    cn_event ev;
    uint64_t serial; /* token that produced it; 0: scheduled already heard */
} sched_item;

typedef struct {
    tok_decoder dec; /* the model's notes; dec.tick is the stream clock */
    int vel_bin;     /* last VELOCITY bin in the stream, -1 = none yet */
    double qshift[128]; /* s: quantize shift of each pitch's last NOTE_ON (its NOTE_OFF moves too) */
    double qoff[128];   /* s: time of each pitch's last scheduled NOTE_OFF (a re-strike goes after) */
    double qon[128];    /* s: time of each pitch's last scheduled NOTE_ON */
} stream_pos;

struct session {
    session_config cfg;
    const model *m;
    model_state *ms;
    int seq_len;
    /* the stream (see the top) */
    int *toks;
    int len, fed, cap;
    uint64_t base;     /* serial of toks[0]; serials start at 1 */
    int64_t base_tick; /* stream tick before toks[0] (ticks of tokens slid away) */
    uint64_t commit;   /* first serial not yet heard */
    stream_pos heard, gen;
    tok_encoder enc;   /* the performer's notes and pedals */
    double origin;     /* seconds at stream tick 0 */
    bool clock_started;
    int same_tick;     /* model tokens generated at gen's current tick */
    float *logits;     /* of the last forwarded token (model's buffer) */
    bool logits_ok, poison, broken;
    int short_steps;   /* consecutive steps that spent their budget well short of the lookahead */
    bool starved;      /* short_steps has lasted: generation cannot keep up */
    /* sampling */
    sampler_params params;
    float density, lag_bias;
    cn_rng rng;
    float *work;       /* (TOK_VOCAB_SIZE) biased logits */
    uint8_t *allowed;  /* (TOK_VOCAB_SIZE) */
    void *scratch;
    /* schedule and output */
    GArray *sched;     /* sched_item, time order */
    bool out_sounding[128]; /* model notes the host has been given a NOTE_ON for */
    double out_floor;  /* time of the last released event */
    double last_until; /* the host holds everything released up to here */
    /* performer and policy */
    session_mode mode;
    bool running, perf_seen, duet_silenced;
    double last_perf;  /* time of the performer's last note event */
    bool latency_pending;
    double latency_from;
    GArray *rec;
    session_stats st;
    /* tempo sync (issue 8) */
    tempo_clock tempo;
    double *tshift;    /* (cap) quantize shift of each model NOTE_ON token in toks[] (s) */
    double gen_floor;  /* session_step's floor: nothing is scheduled before it */
    double gen_hi;     /* end of the window the next sampled token is in (s; quantize stays inside) */
    bool gen_cut;      /* the next generated NOTE_OFF ends a note at a window end: not shifted */
    double tempo_now;  /* s: the host's latest now (step or input); a tempo is asked about
                        * then (MIDI clock goes stale by arrival time) and extrapolated */
    bool call_valid;   /* bar duet: the performer's current call */
    double call_beat;  /* absolute beat of the call's first bar line */
};

/* ---------------------------------------------------------------------------
 * clock */

static double tick_time(const session *s, int64_t k) { return s->origin + (double)k * TICK; }

/* First tick at or after t (infinities map to +-FAR_TICKS). */
static int64_t tick_ceil(const session *s, double t)
{
    if (isinf(t)) return t > 0 ? FAR_TICKS : -FAR_TICKS;
    return (int64_t)ceil((t - s->origin) / TICK - 1e-6);
}

static void pos_init(stream_pos *p, double start, const session_config *c)
{
    tok_dec_init(&p->dec, start, c->model_channel, c->limits.max_note_len);
    p->vel_bin = -1;
    for (int i = 0; i < 128; i++) {
        p->qshift[i] = 0;
        p->qoff[i] = p->qon[i] = -INFINITY;
    }
}

static void clock_start(session *s, double t)
{
    if (s->clock_started) return;
    s->clock_started = true;
    s->origin = t;
    /* only BOS is in the stream yet: restart the cursors at the origin */
    pos_init(&s->heard, t, &s->cfg);
    s->gen = s->heard;
    s->enc.started = true; /* our origin, not the encoder's first NOTE_ON */
    s->enc.origin = t;
    s->enc.tick = 0;
}

/* Encoder clock and velocity follow the heard cursor (model tokens move them too). */
static void enc_sync(session *s)
{
    s->enc.origin = s->origin;
    s->enc.tick = s->heard.dec.tick;
    s->enc.vel_bin = s->heard.vel_bin;
}

static int shift_ticks(int tok) { return tok_is_shift(tok) ? tok - TOK_TIME_SHIFT : 0; }

/* ---------------------------------------------------------------------------
 * the stream: cursors, cache, slides, rollback */

/* One token's effect on a cursor; writes the model events it makes to out. */
static int pos_apply(stream_pos *p, int tok, bool performer, cn_event *out)
{
    if (tok_is_velocity(tok)) p->vel_bin = tok - TOK_VELOCITY;
    if (performer && (tok_is_note_on(tok) || tok_is_note_off(tok))) return 0;
    int n = tok_dec_token(&p->dec, tok, out, TOK_DEC_MAX_OUT);
    return n < 0 ? 0 : n;
}

/* Quantize shifts on a cursor's model events (from pos_apply): a NOTE_OFF
 * moves with its NOTE_ON (the note keeps its length), a NOTE_ON by on_shift. */
static void pos_shift(stream_pos *p, cn_event *ev, int n, double on_shift)
{
    for (int i = 0; i < n; i++) {
        int k = ev[i].a & 127;
        if (ev[i].type == CN_EV_NOTE_OFF) {
            ev[i].time += p->qshift[k];
            p->qoff[k] = ev[i].time;
        } else if (ev[i].type == CN_EV_NOTE_ON) {
            ev[i].time += on_shift;
            p->qshift[k] = on_shift;
            p->qon[k] = ev[i].time;
        }
    }
}

/* Insert in time order, after events of the same time. */
static void sched_insert(session *s, const cn_event *ev, uint64_t serial)
{
    guint i = s->sched->len;
    while (i > 0 && g_array_index(s->sched, sched_item, i - 1).ev.time > ev->time) i--;
    sched_item it = {.ev = *ev, .serial = serial};
    g_array_insert_val(s->sched, i, it);
}

static double sched_last_time(const session *s)
{
    return s->sched->len ? g_array_index(s->sched, sched_item, s->sched->len - 1).ev.time
                         : -INFINITY;
}

static int uncommitted(const session *s) { return (int)(s->base + (uint64_t)s->len - s->commit); }

static void drop_front(session *s, int drop)
{
    if (drop <= 0) return;
    for (int i = 0; i < drop; i++) s->base_tick += shift_ticks(s->toks[i]);
    memmove(s->toks, s->toks + drop, (size_t)(s->len - drop) * sizeof(int));
    memmove(s->tshift, s->tshift + drop, (size_t)(s->len - drop) * sizeof(double));
    s->len -= drop;
    s->fed -= drop;
    s->base += (uint64_t)drop;
}

/* Make room in the cache for `need` more tokens by sliding it ourselves (so
 * the model never slides behind our back and toks[] stays its mirror). */
static void ensure_room(session *s, int need)
{
    if (s->fed + need <= s->seq_len) return;
    int keep = s->seq_len - MAX(s->seq_len / 4, need);
    keep = MAX(keep, uncommitted(s)); /* speculation is small (see session_step) */
    keep = MIN(keep, s->fed);
    model_slide(s->ms, keep);
    drop_front(s, s->fed - model_state_len(s->ms));
    s->st.slides++;
}

/* Forward the tokens not yet in the cache. A batched prefill has a fixed
 * cost of about seven single-token decodes (1.8 ms vs 0.27 ms each, shipped
 * shape), so the usual handful of performer tokens goes one by one. */
#define PREFILL_MIN 16

static void feed_pending(session *s)
{
    int chunk = MAX(s->seq_len / 4, 1);
    while (s->fed < s->len) {
        int n = MIN(s->len - s->fed, chunk);
        if (n < PREFILL_MIN) n = 1;
        ensure_room(s, n);
        s->logits = n == 1 ? model_forward(s->ms, s->toks[s->fed])
                           : model_prefill(s->ms, s->toks + s->fed, n);
        s->fed += n;
        s->logits_ok = true;
    }
}

/* A heard token (the performer's, or a forced model token such as the
 * NOTE_OFFs that end the model's notes when it yields). Its model events are
 * scheduled no earlier than host_time. Needs no speculation pending. */
static void append_heard(session *s, int tok, bool performer, double host_time)
{
    if (s->len == s->cap) feed_pending(s);
    s->tshift[s->len] = 0;
    s->toks[s->len++] = tok;
    s->commit = s->base + (uint64_t)s->len;
    cn_event ev[TOK_DEC_MAX_OUT];
    int n = pos_apply(&s->heard, tok, performer, ev);
    pos_shift(&s->heard, ev, n, 0);
    s->gen = s->heard;
    for (int i = 0; i < n; i++) {
        if (ev[i].time < host_time) ev[i].time = host_time;
        sched_insert(s, &ev[i], 0);
    }
    if (performer) s->st.tokens_in++;
}

/* How far to move a model NOTE_ON at t (s) toward the beat grid: to
 * t + strength * (g - t), g the nearest grid line, or the first later one
 * that keeps the onset at or after lo; the line at or before t when that
 * would pass hi (the end of the model's window). Never before lo, whatever
 * happens (lo holds that pitch's previous NOTE_OFF, which earlier shifts may
 * have moved past t): lo - t when no line fits, or without a tempo or grid. */
static double quantize_shift(const session *s, double t, double lo, double hi)
{
    double keep = MAX(lo - t, 0.0);
    double g = s->cfg.quantize_grid, k = s->cfg.quantize_strength;
    if (!(g > 0) || !(k > 0) || !tempo_known(&s->tempo, s->tempo_now)) return keep;
    double n = floor(tempo_beat_at(&s->tempo, t) / g + 0.5);
    if (t + k * (tempo_time_of_beat(&s->tempo, n * g) - t) < lo) /* need T(n g) >= t + (lo - t) / k */
        n = ceil(tempo_beat_at(&s->tempo, t + (lo - t) / k) / g - 1e-9);
    double sh = k * (tempo_time_of_beat(&s->tempo, n * g) - t);
    if (t + sh >= hi) {
        n = floor(tempo_beat_at(&s->tempo, t) / g + 1e-9);
        sh = k * (tempo_time_of_beat(&s->tempo, n * g) - t);
        if (t + sh < lo - 1e-6) return keep;
    }
    if (!isfinite(sh)) return keep;
    return MAX(sh, lo - t); /* a line at lo may come out a hair before it */
}

/* A model token at the generation frontier (speculative until released). */
static void append_generated(session *s, int tok)
{
    ensure_room(s, 1);
    s->logits = model_forward(s->ms, tok);
    s->logits_ok = true;
    s->toks[s->len++] = tok;
    s->fed++;
    uint64_t serial = s->base + (uint64_t)s->len - 1;
    int64_t before = s->gen.dec.tick;
    cn_event ev[TOK_DEC_MAX_OUT];
    int n = pos_apply(&s->gen, tok, false, ev);
    s->same_tick = s->gen.dec.tick == before ? s->same_tick + 1 : 0;
    /* quantize, in event order (a re-strike's NOTE_ON follows its NOTE_OFF);
     * nothing goes before the floor the host already holds */
    double on_shift = 0;
    for (int i = 0; i < n; i++) {
        int p = ev[i].a & 127;
        if (ev[i].type == CN_EV_NOTE_OFF) {
            double t = s->gen_cut ? MAX(ev[i].time, s->gen.qon[p]) : ev[i].time + s->gen.qshift[p];
            t = MIN(t, MAX(s->gen_hi, s->gen.qon[p])); /* a shift never carries a note past its turn */
            ev[i].time = MAX(t, s->gen_floor);
            s->gen.qoff[p] = ev[i].time;
        } else if (ev[i].type == CN_EV_NOTE_ON) {
            /* after this pitch's previous NOTE_OFF, unless that one is the
             * end of the turn (the re-strike then ends the old note early) */
            double prev_off = s->gen.qoff[p] < s->gen_hi ? s->gen.qoff[p] : -INFINITY;
            on_shift = quantize_shift(s, ev[i].time, MAX(s->gen_floor, prev_off), s->gen_hi);
            ev[i].time += on_shift;
            s->gen.qshift[p] = on_shift;
            s->gen.qon[p] = ev[i].time;
        }
    }
    s->tshift[s->len - 1] = on_shift;
    for (int i = 0; i < n; i++) sched_insert(s, &ev[i], serial);
}

/* Tokens up to `serial` are heard: move the heard cursor over them. */
static void commit_to(session *s, uint64_t serial)
{
    cn_event scratch[TOK_DEC_MAX_OUT];
    while (s->commit <= serial && s->commit < s->base + (uint64_t)s->len) {
        int i = (int)(s->commit - s->base);
        int n = pos_apply(&s->heard, s->toks[i], false, scratch);
        pos_shift(&s->heard, scratch, n, s->tshift[i]); /* the shifts generation chose */
        s->commit++;
    }
}

/* Cancel the speculation: cache and schedule back to the last heard token. */
static void rollback(session *s)
{
    int keep = (int)(s->commit - s->base);
    if (keep >= s->len) return;
    if (s->fed > keep) {
        model_truncate(s->ms, keep);
        s->fed = keep;
        s->logits_ok = false; /* they were the dropped token's */
    }
    s->len = keep;
    s->gen = s->heard;
    s->same_tick = 0;
    s->short_steps = 0;
    guint j = 0;
    for (guint i = 0; i < s->sched->len; i++) {
        sched_item it = g_array_index(s->sched, sched_item, i);
        if (it.serial == 0 || it.serial < s->commit) g_array_index(s->sched, sched_item, j++) = it;
    }
    g_array_set_size(s->sched, j);
    s->st.rollbacks++;
}

/* Shorten a silence from the heard position up to t to at most max_silence,
 * by moving the origin (needs no speculation pending); TRUE if it did. The
 * model's note onsets stay in real time, so a note held over the silence
 * still ends by max_note_len of real time. */
static bool compress_silence(session *s, double t)
{
    double gap = t - tick_time(s, s->heard.dec.tick);
    if (uncommitted(s) > 0 || gap <= s->cfg.max_silence) return false;
    double delta = gap - s->cfg.max_silence;
    s->origin += delta;
    s->heard.dec.start += delta;
    s->heard.dec.time += delta;
    s->gen = s->heard;
    return true;
}

/* Advance the heard stream to t with rests (no-op if already there). */
static void advance_heard(session *s, double t, double host_time)
{
    compress_silence(s, t);
    enc_sync(s);
    int buf[64], n;
    while ((n = tok_enc_advance(&s->enc, t, buf, 64)) > 0)
        for (int i = 0; i < n; i++) append_heard(s, buf[i], false, host_time);
}

/* The model's sounding notes end at stream time t; the host gets the
 * NOTE_OFFs after everything it already holds. Needs no speculation pending. */
static void end_model_notes(session *s, double t)
{
    if (s->heard.dec.n_sounding == 0) return;
    double host = MAX(MAX(t, s->out_floor), sched_last_time(s));
    advance_heard(s, t, host);
    for (int p = 0; p < 128; p++)
        if (s->heard.dec.sounding[p]) append_heard(s, TOK_NOTE_OFF + p, false, host);
}

/* ---------------------------------------------------------------------------
 * logits: freshness, non-finite values, recovery */

static bool logits_finite(session *s)
{
    if (s->poison) {
        s->poison = false;
        return false;
    }
    for (int i = 0; i < TOK_VOCAB_SIZE; i++)
        if (!isfinite(s->logits[i])) return false;
    return true;
}

/* Reset the cache and re-prime it from the recent tokens (BOS first). */
static void recover(session *s)
{
    s->st.nan_resets++;
    int keep = MAX(s->seq_len / 4, uncommitted(s) + 1);
    keep = MIN(keep, s->len);
    int drop = s->len - keep;
    model_truncate(s->ms, 0);
    if (drop > 0) {
        drop_front(s, drop - 1);
        s->base_tick += shift_ticks(s->toks[0]);
        s->toks[0] = TOK_BOS; /* in place of an already-heard token */
        s->tshift[0] = 0;
    }
    s->fed = 0;
    feed_pending(s);
}

/* Fresh, finite logits for the last token, or FALSE if the model is broken. */
static bool ensure_logits(session *s)
{
    if (s->broken) return false;
    if (s->len == 0) append_heard(s, TOK_BOS, false, 0.0); /* never happens; never crash */
    feed_pending(s);
    if (!s->logits_ok) { /* after a rollback: recompute the last token's logits */
        model_truncate(s->ms, s->fed - 1);
        s->logits = model_forward(s->ms, s->toks[s->fed - 1]);
        s->logits_ok = true;
    }
    if (logits_finite(s)) return true;
    recover(s);
    if (logits_finite(s)) return true;
    s->broken = s->st.broken = true;
    g_warning("session: the model gives non-finite logits even after a reset; the model is silent");
    return false;
}

/* ---------------------------------------------------------------------------
 * policy */

#define CALL_GRACE 0.25 /* beats: a note this early counts in the next bar; this late in
                         * an answer, still the call's tail (bar duet) */

/* Bar duet: the answer window of the current call, if the bar duet is on
 * and a tempo is known now. */
static bool bar_window(const session *s, double *ws, double *we)
{
    if (s->cfg.duet_bars <= 0 || !s->call_valid || !tempo_known(&s->tempo, s->tempo_now)) return false;
    double bar = tempo_beats_per_bar(&s->tempo) * s->cfg.duet_bars;
    *ws = tempo_time_of_beat(&s->tempo, s->call_beat + bar);
    *we = tempo_time_of_beat(&s->tempo, s->call_beat + 2 * bar);
    return isfinite(*ws) && isfinite(*we);
}

/* Bar duet: a performer NOTE_ON at t starts a call in its bar unless it
 * falls inside the current call (or the grace at the start of its answer). */
static void bar_call(session *s, double t)
{
    if (s->cfg.duet_bars <= 0 || !tempo_known(&s->tempo, s->tempo_now)) return;
    double bpb = tempo_beats_per_bar(&s->tempo), b = tempo_beat_at(&s->tempo, t);
    double answer = s->call_beat + bpb * s->cfg.duet_bars;
    if (s->call_valid && b >= s->call_beat - CALL_GRACE && b < answer + CALL_GRACE) return;
    s->call_beat = floor((b + CALL_GRACE) / bpb) * bpb;
    s->call_valid = true;
}

/* The window of stream time in which the model may play that contains t, or
 * the next one after t; FALSE if there is none. */
static bool policy_window(const session *s, double t, double *ws, double *we)
{
    if (!s->running || s->broken) return false;
    switch (s->mode) {
    case SESSION_SOLO:
        *ws = -INFINITY;
        *we = INFINITY;
        break;
    case SESSION_ACCOMPANY:
        if (!s->perf_seen) return false;
        *ws = -INFINITY;
        *we = s->cfg.accompany_hold > 0 ? s->last_perf + s->cfg.accompany_hold : INFINITY;
        break;
    default: /* duet */
        if (!s->perf_seen || s->duet_silenced) return false;
        if (bar_window(s, ws, we)) break;
        *ws = s->last_perf + s->cfg.duet_pause;
        *we = *ws + s->cfg.duet_phrase;
        break;
    }
    return t < *we;
}

static bool policy_allows(const session *s, double t)
{
    double ws, we;
    return policy_window(s, t, &ws, &we) && t >= ws;
}

/* ---------------------------------------------------------------------------
 * generation */

static int sample_next(session *s, int64_t max_shift)
{
    memcpy(s->work, s->logits, TOK_VOCAB_SIZE * sizeof(float));
    sampler_mask(&s->gen.dec, &s->cfg.limits, s->allowed);
    for (int k = 1; k <= TOK_MAX_SHIFT; k++)
        if (k > max_shift) s->allowed[TOK_TIME_SHIFT + k] = 0;
    if (s->same_tick >= MAX_SAME_TICK) /* a stuck model: time must move (or notes end) */
        for (int t = 0; t < TOK_VOCAB_SIZE; t++)
            if (!tok_is_shift(t) && !tok_is_note_off(t)) s->allowed[t] = 0;
    /* Note density: the odds of starting a note (a NOTE_ON, or the VELOCITY
     * that announces one) against letting time pass or ending a note are
     * scaled by the density factor, so the onset rate scales with it. Right
     * after a VELOCITY the note is already decided: no bias there (biasing
     * only NOTE_ONs moved the mass to VELOCITY tokens, which made density < 1
     * play denser, not sparser). */
    float bias = logf(MAX(s->density, 1e-3f)) - s->lag_bias;
    bool after_velocity = s->len > 0 && tok_is_velocity(s->toks[s->len - 1]);
    if (bias != 0.0f && !after_velocity) {
        for (int p = 0; p < 128; p++) s->work[TOK_NOTE_ON + p] += bias;
        for (int b = 0; b < TOK_VEL_BINS; b++) s->work[TOK_VELOCITY + b] += bias;
    }
    int tok = sampler_sample(s->work, TOK_VOCAB_SIZE, s->allowed, &s->params, &s->rng, s->scratch);
    return tok >= 0 ? tok : TOK_TIME_SHIFT + 1;
}

void session_step(session *s, double now)
{
    clock_start(s, now);
    if (!ensure_logits(s)) return;
    double floor_t = MAX(MAX(now, s->last_until), s->out_floor);
    s->gen_floor = floor_t;
    s->tempo_now = now;
    double target = now + s->cfg.lookahead;
    int budget = s->cfg.tokens_per_step;
    while (budget > 0) {
        int64_t g = s->gen.dec.tick; /* ticks are recomputed each turn: the origin may move */
        int64_t floor_k = tick_ceil(s, floor_t), now_k = tick_ceil(s, now);
        if (tick_time(s, g) >= target - 1e-9) break;
        if (uncommitted(s) > s->seq_len / 2) break; /* absurd lookahead: keep the cache sane */
        double ws = 0, we = 0;
        bool any = policy_window(s, tick_time(s, g), &ws, &we);
        int64_t wk0 = any ? tick_ceil(s, ws) : 0, wk1 = any ? tick_ceil(s, we) : 0;
        bool inside = any && g >= wk0 && g < wk1;
        if (!inside && s->gen.dec.n_sounding > 0) { /* window over: end the model's notes here */
            int p = 0;
            while (!s->gen.dec.sounding[p]) p++;
            s->gen_cut = true;
            append_generated(s, TOK_NOTE_OFF + p);
            s->gen_cut = false;
            budget--;
            continue;
        }
        int64_t want = g;
        if (!inside) {
            if (!any || tick_time(s, wk0) >= target) break; /* nothing to do yet */
            want = wk0;
        }
        if (want < floor_k) {
            want = floor_k;
            if (inside && now_k - g > 2) s->st.catchups++; /* > 20 ms behind the clock */
            /* Starved: rest past the floor too, or every step's budget would
             * go on this rest and the model would never play a note. */
            if (inside && s->starved)
                want = MIN(want + (int64_t)(0.5 * s->cfg.lookahead / TICK), MAX(wk1, floor_k));
        }
        if (want > g) { /* a rest: to the window start, or catching up with the clock */
            if (compress_silence(s, tick_time(s, want))) continue;
            append_generated(s, TOK_TIME_SHIFT + (int)MIN(want - g, TOK_MAX_SHIFT));
            budget--;
            continue;
        }
        if (!ensure_logits(s)) break;
        s->gen_hi = any ? we : INFINITY;
        int tok = sample_next(s, wk1 - g);
        append_generated(s, tok);
        s->st.tokens_generated++;
        budget--;
    }
    /* Graceful degradation: when the budget keeps failing to hold the
     * lookahead, fewer notes. One short step is normal (a chord spends the
     * budget at one instant; a refill after a rollback takes a few steps), so
     * it must last STARVED_STEPS in a row. */
    double horizon = tick_time(s, s->gen.dec.tick) - now;
    if (budget == 0 && horizon < 0.5 * s->cfg.lookahead) s->short_steps++;
    else s->short_steps = 0;
    s->starved = s->short_steps >= STARVED_STEPS;
    if (s->starved) {
        s->lag_bias = MIN(s->lag_bias + 0.25f, LAG_BIAS_MAX);
        s->st.degraded_steps++;
    } else {
        s->lag_bias = MAX(s->lag_bias - 0.05f, 0.0f);
    }
}

/* ---------------------------------------------------------------------------
 * output */

static void release(session *s, cn_event ev, cn_event *out, int *n)
{
    out[(*n)++] = ev;
    s->out_floor = ev.time;
    g_array_append_val(s->rec, ev);
}

int session_take_due(session *s, double now, double until, cn_event *out, int cap)
{
    int n = 0;
    guint i = 0;
    for (; i < s->sched->len && n < cap; i++) {
        sched_item it = g_array_index(s->sched, sched_item, i);
        if (it.ev.time >= until) break;
        if (it.ev.type == CN_EV_NOTE_ON && s->out_sounding[it.ev.a & 127] && n + 2 > cap)
            break; /* a re-strike needs room for its NOTE_OFF too */
        if (it.serial >= s->commit) commit_to(s, it.serial);
        cn_event ev = it.ev;
        int p = ev.a & 127;
        if (ev.type == CN_EV_NOTE_ON) {
            if (ev.time < now) { /* missed: never late, and its NOTE_OFF finds the key silent */
                s->st.dropped_late++;
                continue;
            }
            ev.time = MAX(ev.time, s->out_floor);
            if (s->out_sounding[p]) { /* keep on/off pairs at the host whatever happened */
                cn_event off = ev;
                off.type = CN_EV_NOTE_OFF;
                off.b = 0;
                release(s, off, out, &n);
            }
            release(s, ev, out, &n);
            s->out_sounding[p] = true;
            s->st.notes_out++;
            if (s->latency_pending) {
                s->st.last_response_latency = ev.time - s->latency_from;
                s->latency_pending = false;
            }
        } else if (ev.type == CN_EV_NOTE_OFF) {
            if (!s->out_sounding[p]) continue;
            ev.time = MAX(MAX(ev.time, now), s->out_floor);
            release(s, ev, out, &n);
            s->out_sounding[p] = false;
        }
    }
    g_array_remove_range(s->sched, 0, i);
    /* New events go after what the host now holds (at shutdown, until = inf). */
    double held = isfinite(until) ? until : s->out_floor;
    if (held > s->last_until) s->last_until = held;
    return n;
}

/* ---------------------------------------------------------------------------
 * controls */

/* Cancels everything not yet handed to the host and ends the model's notes
 * at once (at now, or after the last event handed out). Not only the
 * speculation: tokens already heard can have events still scheduled (a
 * quantized onset moved past the last released event, a note-off behind it),
 * and a stop must not wait for them, nor start them. The model's stream ends
 * its notes (end_model_notes, from an empty schedule so that it does not wait
 * either); the host gets a note-off for each note it holds, whatever the
 * stream says (its tokens can run ahead of the clock, and a heard NOTE_OFF
 * token's event may have been among those cancelled). */
static void cancel_and_end(session *s, double now)
{
    clock_start(s, now);
    rollback(s);
    g_array_set_size(s->sched, 0);
    end_model_notes(s, now);
    g_array_set_size(s->sched, 0);
    double host = MAX(now, s->out_floor);
    for (int p = 0; p < 128; p++)
        if (s->out_sounding[p]) {
            cn_event off = {.time = host, .type = CN_EV_NOTE_OFF,
                            .channel = (uint8_t)s->cfg.model_channel, .a = (uint8_t)p, .b = 0};
            sched_insert(s, &off, 0);
        }
}

void session_panic(session *s, double now)
{
    cancel_and_end(s, now);
    if (s->mode == SESSION_DUET) s->duet_silenced = true; /* until the performer's next call */
}

void session_set_mode(session *s, session_mode mode, double now)
{
    if (mode == s->mode) return;
    session_panic(s, now);
    s->mode = mode;
    s->duet_silenced = false;
}

void session_set_running(session *s, bool running, double now)
{
    if (!running && s->running) cancel_and_end(s, now);
    s->running = running;
}

/* TRUE if the CC was a control (consumed, not encoded). */
static bool control_cc(session *s, const cn_event *ev)
{
    int cc = ev->a, v = ev->b;
    if (cc == CN_CC_ALL_SOUND_OFF || cc == CN_CC_ALL_NOTES_OFF) {
        session_panic(s, ev->time);
        return true;
    }
    if (cc == s->cfg.cc_temperature) {
        s->params.temperature = (float)settings_from_cc(SET_TEMPERATURE, v);
        return true;
    }
    if (cc == s->cfg.cc_density) {
        s->density = (float)settings_from_cc(SET_DENSITY, v);
        return true;
    }
    if (cc == s->cfg.cc_mode) {
        session_set_mode(s, v < 43 ? SESSION_DUET : v < 86 ? SESSION_ACCOMPANY : SESSION_SOLO,
                         ev->time);
        return true;
    }
    if (cc == s->cfg.cc_startstop) {
        session_set_running(s, v >= 64, ev->time);
        return true;
    }
    return false;
}

void session_input(session *s, const cn_event *ev)
{
    clock_start(s, ev->time);
    s->tempo_now = MAX(s->tempo_now, ev->time);
    g_array_append_val(s->rec, *ev);
    bool note = ev->type == CN_EV_NOTE_ON || ev->type == CN_EV_NOTE_OFF;
    if (ev->type == CN_EV_CC) {
        if (control_cc(s, ev) || ev->a != CN_CC_SUSTAIN) return;
    } else if (!note) {
        return; /* program changes etc.: recorded only */
    }
    double t = ev->time;
    if (note) {
        s->perf_seen = true;
        s->last_perf = t;
        s->duet_silenced = false;
        s->latency_pending = true;
        s->latency_from = t;
        if (ev->type == CN_EV_NOTE_ON && ev->b > 0) {
            s->st.notes_in++;
            bar_call(s, t);
        }
    }
    /* Does it change the stream? Probe on a copy at the heard position. */
    int buf[TOK_ENC_MAX_OUT];
    enc_sync(s);
    tok_encoder probe = s->enc;
    int n = tok_enc_event(&probe, ev, buf, TOK_ENC_MAX_OUT);
    bool yield = note && !policy_allows(s, t);
    if (n == 0 && !yield) {
        s->enc = probe; /* e.g. a key released under the pedal: state only */
        return;
    }
    rollback(s);
    if (yield) end_model_notes(s, t);
    compress_silence(s, t);
    enc_sync(s);
    while ((n = tok_enc_event(&s->enc, ev, buf, TOK_ENC_MAX_OUT)) < 0) { /* > 128 s gap */
        int k = tok_enc_advance(&s->enc, t, buf, 64);
        for (int i = 0; i < k; i++) append_heard(s, buf[i], true, t);
    }
    for (int i = 0; i < n; i++) append_heard(s, buf[i], true, t);
}

/* ---------------------------------------------------------------------------
 * lifecycle and queries */

session *session_new(const session_config *c, const model *m, GError **err)
{
    const model_config *mc = model_get_config(m);
    if (mc->vocab_id != TOK_VOCAB_ID || mc->vocab_size < TOK_VOCAB_SIZE) {
        g_set_error(err, CN_ERROR, CN_ERR_UNSUPPORTED,
                    "session: the model uses vocabulary %d (%d tokens); the session needs "
                    "vocabulary %d (%d tokens)",
                    mc->vocab_id, mc->vocab_size, TOK_VOCAB_ID, TOK_VOCAB_SIZE);
        return NULL;
    }
    if (mc->seq_len < 32) {
        g_set_error(err, CN_ERROR, CN_ERR_UNSUPPORTED,
                    "session: the model's context (%d tokens) is too short, 32 at least",
                    mc->seq_len);
        return NULL;
    }
    if (!session_config_check(c, err)) return NULL;
    session *s = g_new0(session, 1);
    s->ms = model_state_new(m, err);
    if (!s->ms) {
        g_free(s);
        return NULL;
    }
    s->cfg = *c;
    s->m = m;
    s->seq_len = mc->seq_len;
    s->cap = s->seq_len + 4 * TOK_ENC_MAX_OUT;
    s->toks = g_new(int, s->cap);
    s->tshift = g_new0(double, s->cap);
    tempo_init(&s->tempo);
    s->gen_floor = -INFINITY;
    s->gen_hi = INFINITY;
    s->tempo_now = -INFINITY;
    s->work = g_new(float, TOK_VOCAB_SIZE);
    s->allowed = g_new(uint8_t, TOK_VOCAB_SIZE);
    s->scratch = g_malloc(SAMPLER_SCRATCH_BYTES(TOK_VOCAB_SIZE));
    s->sched = g_array_new(FALSE, FALSE, sizeof(sched_item));
    s->rec = cn_events_new();
    s->base = s->commit = 1;
    s->mode = c->mode;
    s->running = true;
    s->params = c->sampling;
    s->density = c->density;
    rng_seed(&s->rng, c->seed);
    tok_enc_init(&s->enc);
    pos_init(&s->heard, 0.0, c);
    s->gen = s->heard;
    s->out_floor = s->last_until = -INFINITY;
    append_heard(s, TOK_BOS, false, 0.0);
    return s;
}

void session_free(session *s)
{
    if (!s) return;
    model_state_free(s->ms);
    g_free(s->toks);
    g_free(s->tshift);
    g_free(s->work);
    g_free(s->allowed);
    g_free(s->scratch);
    g_array_free(s->sched, TRUE);
    g_array_free(s->rec, TRUE);
    g_free(s);
}

bool session_model_active(const session *s, double now)
{
    for (int p = 0; p < 128; p++)
        if (s->out_sounding[p]) return true;
    return s->sched->len > 0 || s->heard.dec.n_sounding > 0 || policy_allows(s, now);
}

const GArray *session_recording(const session *s) { return s->rec; }

void session_get_stats(const session *s, session_stats *st)
{
    *st = s->st;
    st->generated_until = tick_time(s, s->gen.dec.tick);
    st->cache_len = model_state_len(s->ms);
    st->broken = s->broken;
}

const int *session_tokens(const session *s, int *n, double *start)
{
    *n = s->len;
    if (start) *start = tick_time(s, s->base_tick);
    return s->toks;
}

double session_origin(const session *s) { return s->origin; }

void session_debug_poison(session *s) { s->poison = true; }

/* ---------------------------------------------------------------------------
 * added for the installation (issue 6): live controls, recording drop,
 * preset reload. See session.h. */

void session_set_controls(session *s, float temperature, float density)
{
    if (temperature > 0) s->params.temperature = temperature;
    if (density > 0) s->density = density;
}

void session_get_controls(const session *s, float *temperature, float *density)
{
    if (temperature) *temperature = s->params.temperature;
    if (density) *density = s->density;
}

void session_recording_drop(session *s, guint n)
{
    g_array_remove_range(s->rec, 0, MIN(n, s->rec->len));
}

gboolean session_apply_config(session *s, const session_config *c, double now, GError **err)
{
    if (!session_config_check(c, err)) return FALSE;
    session_config nc = *c;
    nc.model_channel = s->cfg.model_channel;
    if (s->cfg.tokens_per_step < nc.tokens_per_step) nc.tokens_per_step = s->cfg.tokens_per_step;
    if (nc.seed != s->cfg.seed) rng_seed(&s->rng, nc.seed);
    session_mode old_mode = s->mode;
    s->cfg = nc;
    s->params = nc.sampling;
    s->density = nc.density;
    if (nc.mode != old_mode) session_set_mode(s, nc.mode, now);
    return TRUE;
}

/* ---------------------------------------------------------------------------
 * added for tempo sync (issue 8): the beat clock and live quantize. See session.h. */

tempo_clock *session_tempo(session *s) { return &s->tempo; }

void session_set_quantize(session *s, double grid_beats, double strength)
{
    s->cfg.quantize_grid = grid_beats > 0 && isfinite(grid_beats) ? grid_beats : 0;
    s->cfg.quantize_strength = isfinite(strength) ? CLAMP(strength, 0.0, 1.0) : 0;
}
