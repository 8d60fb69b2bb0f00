/* session_stream.c — the session's token stream: the KV-cache mirror, the
 * heard and gen cursors, slides, rollback, silence compression and the
 * logits' freshness and recovery (see session_internal.h for the design).
 * Not real-time safe (worker thread). */
#include <math.h>
#include <string.h>
#include "session_internal.h"
#include "session_debug.h"

/* Forward the tokens not yet in the cache. A batched prefill has a fixed
 * cost of about seven single-token decodes (1.8 ms vs 0.27 ms each, shipped
 * shape), so the usual handful of performer tokens goes one by one. */
#define PREFILL_MIN 16

/* ---------------------------------------------------------------------------
 * clock and cursors */

static void pos_init(stream_pos *p, double start, const session *s)
{
    const session_config *c = &s->cfg;
    tok_dec_init(&p->dec, start, c->model_channel, c->limits.max_note_len);
    p->vel_bin = -1;
    p->ctrl_next = s->stream.perf_role == TOK2_ROLE_PERFORMER ? 0 : FAR_TICKS;
    for (int i = 0; i < 128; i++) {
        p->qshift[i] = 0;
        p->qoff[i] = p->qon[i] = -INFINITY;
    }
}

gboolean stream_init(session *s, const model *m, GError **err)
{
    session_stream *q = &s->stream;
    q->ms = model_state_new(m, err);
    if (!q->ms) return FALSE;
    q->seq_len = model_get_config(m)->seq_len;
    bool v2 = model_get_config(m)->vocab_id == TOK2_VOCAB_ID;
    q->vocab = tok_vocab_size(model_get_config(m)->vocab_id);
    q->perf_role = v2 ? TOK2_ROLE_PERFORMER : TOK2_ROLE_MODEL;
    q->cap = q->seq_len + 4 * TOK2_ENC_MAX_OUT;
    q->toks = g_new(int, q->cap);
    q->tshift = g_new0(double, q->cap);
    q->base = q->commit = 1;
    tok2_enc_init(&q->enc);
    pos_init(&q->heard, 0.0, s);
    q->gen = q->heard;
    return TRUE;
}

void stream_free(session *s)
{
    model_state_free(s->stream.ms);
    g_free(s->stream.toks);
    g_free(s->stream.tshift);
}

void stream_clock_start(session *s, double t)
{
    session_stream *q = &s->stream;
    if (q->clock_started) return;
    q->clock_started = true;
    q->origin = t;
    /* only BOS is in the stream yet: restart the cursors at the origin */
    pos_init(&q->heard, t, s);
    q->gen = q->heard;
    for (int r = 0; r < TOK2_N_ROLES; r++) { /* our origin, not the encoder's first NOTE_ON */
        q->enc.role[r].started = true;
        q->enc.role[r].origin = t;
        q->enc.role[r].tick = 0;
    }
}

void stream_enc_sync(session *s)
{
    session_stream *q = &s->stream;
    for (int r = 0; r < TOK2_N_ROLES; r++) {
        q->enc.role[r].origin = q->origin;
        q->enc.role[r].tick = q->heard.dec.tick;
    }
    /* v1: the performer's VELOCITY state is the stream's, model tokens
     * move it too; v2: each role has its own, and the performer's (role 1,
     * always heard) is the encoder's */
    q->enc.role[TOK2_ROLE_MODEL].vel_bin = q->heard.vel_bin;
}

static int shift_ticks(int tok) { return tok_is_shift(tok) ? tok - TOK_TIME_SHIFT : 0; }

/* One token's effect on a cursor; writes the model events it makes to out. */
static int pos_apply(stream_pos *p, int tok, bool performer, cn_event *out)
{
    if (tok_is_velocity(tok)) p->vel_bin = tok - TOK_VELOCITY;
    if (tok2_is_density(tok)) p->ctrl_next = (p->dec.tick / WINDOW_TICKS + 1) * WINDOW_TICKS;
    if (performer && (tok_is_note_on(tok) || tok_is_note_off(tok))) return 0;
    int n = tok_dec_token(&p->dec, tok, out, TOK_DEC_MAX_OUT);
    return n < 0 ? 0 : n;
}

/* ---------------------------------------------------------------------------
 * the cache: slides and forwarding */

static void drop_front(session_stream *q, int drop)
{
    if (drop <= 0) return;
    for (int i = 0; i < drop; i++) q->base_tick += shift_ticks(q->toks[i]);
    memmove(q->toks, q->toks + drop, (size_t)(q->len - drop) * sizeof(int));
    memmove(q->tshift, q->tshift + drop, (size_t)(q->len - drop) * sizeof(double));
    q->len -= drop;
    q->fed -= drop;
    q->base += (uint64_t)drop;
}

/* Make room in the cache for `need` more tokens by sliding it ourselves (so
 * the model never slides behind our back and toks[] stays its mirror). */
static void ensure_room(session *s, int need)
{
    session_stream *q = &s->stream;
    if (q->fed + need <= q->seq_len) return;
    int keep = q->seq_len - MAX(q->seq_len / 4, need);
    keep = MAX(keep, stream_uncommitted(s)); /* speculation is small (see session_step) */
    keep = MIN(keep, q->fed);
    model_slide(q->ms, keep);
    drop_front(q, q->fed - model_state_len(q->ms));
    s->st.slides++;
}

static void feed_pending(session *s)
{
    session_stream *q = &s->stream;
    int chunk = MAX(q->seq_len / 4, 1);
    while (q->fed < q->len) {
        int n = MIN(q->len - q->fed, chunk);
        if (n < PREFILL_MIN) n = 1;
        ensure_room(s, n);
        q->logits = n == 1 ? model_forward(q->ms, q->toks[q->fed])
                           : model_prefill(q->ms, q->toks + q->fed, n);
        q->fed += n;
        q->logits_ok = true;
    }
}

/* ---------------------------------------------------------------------------
 * appending, committing, rolling back */

void stream_append_heard(session *s, int tok, bool performer, double host_time)
{
    session_stream *q = &s->stream;
    if (q->len == q->cap) feed_pending(s);
    q->tshift[q->len] = 0;
    q->toks[q->len++] = tok;
    q->commit = q->base + (uint64_t)q->len;
    cn_event ev[TOK_DEC_MAX_OUT];
    int n = pos_apply(&q->heard, tok, performer, ev);
    schedule_follow_shifts(&q->heard, ev, n, 0);
    q->gen = q->heard;
    for (int i = 0; i < n; i++) {
        if (ev[i].time < host_time) ev[i].time = host_time;
        schedule_insert(s, &ev[i], 0);
    }
    if (performer) s->st.tokens_in++;
}

void stream_append_generated(session *s, int tok)
{
    session_stream *q = &s->stream;
    ensure_room(s, 1);
    q->logits = model_forward(q->ms, tok);
    q->logits_ok = true;
    q->toks[q->len++] = tok;
    q->fed++;
    uint64_t serial = q->base + (uint64_t)q->len - 1;
    int64_t before = q->gen.dec.tick;
    cn_event ev[TOK_DEC_MAX_OUT];
    int n = pos_apply(&q->gen, tok, false, ev);
    s->sampling.same_tick = q->gen.dec.tick == before ? s->sampling.same_tick + 1 : 0;
    q->tshift[q->len - 1] = schedule_generated(s, ev, n, serial);
}

void stream_commit_to(session *s, uint64_t serial)
{
    session_stream *q = &s->stream;
    cn_event scratch[TOK_DEC_MAX_OUT];
    while (q->commit <= serial && q->commit < q->base + (uint64_t)q->len) {
        int i = (int)(q->commit - q->base);
        int n = pos_apply(&q->heard, q->toks[i], false, scratch);
        schedule_follow_shifts(&q->heard, scratch, n, q->tshift[i]); /* the shifts generation chose */
        q->commit++;
    }
}

void stream_rollback(session *s)
{
    session_stream *q = &s->stream;
    int keep = (int)(q->commit - q->base);
    if (keep >= q->len) return;
    if (q->fed > keep) {
        model_truncate(q->ms, keep);
        q->fed = keep;
        q->logits_ok = false; /* they were the dropped token's */
    }
    q->len = keep;
    q->gen = q->heard;
    s->sampling.same_tick = 0;
    s->sampling.short_steps = 0;
    schedule_drop_from(s, q->commit);
    s->st.rollbacks++;
}

/* The model's note onsets stay in real time, so a note held over the
 * silence still ends by max_note_len of real time. */
bool stream_compress_silence(session *s, double t)
{
    session_stream *q = &s->stream;
    double gap = t - tick_time(s, q->heard.dec.tick);
    if (stream_uncommitted(s) > 0 || gap <= s->cfg.max_silence) return false;
    double delta = gap - s->cfg.max_silence;
    q->origin += delta;
    q->heard.dec.start += delta;
    q->heard.dec.time += delta;
    q->gen = q->heard;
    return true;
}

/* TIME_SHIFTs of the heard stream up to t (no-op if already there). */
static void shifts_heard(session *s, double t, double host_time)
{
    stream_enc_sync(s);
    int buf[64], n;
    while ((n = tok2_enc_advance(&s->stream.enc, t, buf, 64)) > 0)
        for (int i = 0; i < n; i++) stream_append_heard(s, buf[i], false, host_time);
}

void stream_controls_to(session *s, double t, double host_time)
{
    session_stream *q = &s->stream;
    stream_enc_sync(s);
    int64_t k = tok_enc_tick_at(&q->enc.role[0], t);
    while (q->heard.ctrl_next <= k) {
        double b = tick_time(s, q->heard.ctrl_next);
        int ctrl[2], m = policy_controls(s, b, ctrl);
        shifts_heard(s, b, host_time);
        for (int j = 0; j < m; j++) stream_append_heard(s, ctrl[j], false, host_time);
    }
}

/* Advance the heard stream to t with rests and controls (no-op if already there). */
static void advance_heard(session *s, double t, double host_time)
{
    stream_compress_silence(s, t);
    stream_controls_to(s, t, host_time);
    shifts_heard(s, t, host_time);
}

void stream_end_model_notes(session *s, double t)
{
    stream_pos *h = &s->stream.heard;
    if (h->dec.n_sounding == 0) return;
    double host = MAX(MAX(t, s->sched.out_floor), schedule_last_time(s));
    advance_heard(s, t, host);
    for (int p = 0; p < 128; p++)
        if (h->dec.sounding[p]) stream_append_heard(s, TOK_NOTE_OFF + p, false, host);
}

/* ---------------------------------------------------------------------------
 * logits: freshness, non-finite values, recovery */

static bool logits_finite(session_stream *q)
{
    if (q->poison) {
        q->poison = false;
        return false;
    }
    for (int i = 0; i < q->vocab; i++)
        if (!isfinite(q->logits[i])) return false;
    return true;
}

/* Reset the cache and re-prime it from the recent tokens (BOS first). */
static void recover(session *s)
{
    session_stream *q = &s->stream;
    s->st.nan_resets++;
    int keep = MAX(q->seq_len / 4, stream_uncommitted(s) + 1);
    keep = MIN(keep, q->len);
    int drop = q->len - keep;
    model_truncate(q->ms, 0);
    if (drop > 0) {
        drop_front(q, drop - 1);
        q->base_tick += shift_ticks(q->toks[0]);
        q->toks[0] = TOK_BOS; /* in place of an already-heard token */
        q->tshift[0] = 0;
    }
    q->fed = 0;
    feed_pending(s);
}

bool stream_ensure_logits(session *s)
{
    session_stream *q = &s->stream;
    if (q->broken) return false;
    if (q->len == 0) stream_append_heard(s, TOK_BOS, false, 0.0); /* never happens; never crash */
    feed_pending(s);
    if (!q->logits_ok) { /* after a rollback: recompute the last token's logits */
        model_truncate(q->ms, q->fed - 1);
        q->logits = model_forward(q->ms, q->toks[q->fed - 1]);
        q->logits_ok = true;
    }
    if (logits_finite(q)) return true;
    recover(s);
    if (logits_finite(q)) return true;
    q->broken = s->st.broken = true;
    g_warning("session: the model gives non-finite logits even after a reset; the model is silent");
    return false;
}

/* ---------------------------------------------------------------------------
 * session_debug.h */

const int *session_tokens(const session *s, int *n, double *start)
{
    *n = s->stream.len;
    if (start) *start = tick_time(s, s->stream.base_tick);
    return s->stream.toks;
}

double session_origin(const session *s) { return s->stream.origin; }

void session_debug_poison(session *s) { s->stream.poison = true; }
