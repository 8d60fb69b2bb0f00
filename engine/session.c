/* session.c — building the session, and its two working calls: session_input
 * (a performer event joins the stream, cancelling the speculation) and
 * session_step (generation up to the lookahead, inside the policy's windows).
 * The parts they drive are in session_stream.c, session_schedule.c and
 * session_policy.c (design: session_internal.h).
 *
 * Generation keeps the decided stream `lookahead` ahead of now, walking to
 * the next window start with speculative rests, ending the model's notes at
 * a window end, and never writing events before the host's released
 * horizon (catching up with rests when behind: fewer notes, no late burst).
 *
 * Not real-time safe (worker thread). */
#include <math.h>
#include <string.h>
#include "session_internal.h"
#include "error.h"

#define MAX_SAME_TICK 24   /* model tokens at one instant before only rests are allowed */
#define LAG_BIAS_MAX 3.0f  /* nats taken off NOTE_ON logits when generation is behind */
#define STARVED_STEPS 8    /* short steps in a row before generation counts as starved */

/* ---------------------------------------------------------------------------
 * lifecycle */

session *session_new(const session_config *c, const model *m, GError **err)
{
    const model_config *mc = model_get_config(m);
    int vocab = tok_vocab_size(mc->vocab_id);
    if (!vocab || mc->vocab_size < vocab) {
        g_set_error(err, CN_ERROR, CN_ERR_UNSUPPORTED,
                    "session: the model uses vocabulary %d (%d tokens); the session needs "
                    "vocabulary %d (%d tokens) or %d (%d tokens)",
                    mc->vocab_id, mc->vocab_size, TOK_VOCAB_ID, TOK_VOCAB_SIZE, TOK2_VOCAB_ID,
                    TOK2_VOCAB_SIZE);
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
    s->cfg = *c;
    if (!stream_init(s, m, err)) {
        g_free(s);
        return NULL;
    }
    schedule_init(s);
    tempo_init(&s->tempo);
    s->tempo_now = -INFINITY;
    session_sampling *g = &s->sampling;
    g->work = g_new(float, vocab);
    g->allowed = g_new(uint8_t, vocab);
    g->scratch = g_malloc(SAMPLER_SCRATCH_BYTES(vocab));
    g->params = c->sampling;
    g->density = c->density;
    rng_seed(&g->rng, c->seed);
    s->policy.mode = c->mode;
    s->policy.running = true;
    s->policy.first_onset = INFINITY;
    s->rec = cn_events_new();
    stream_append_heard(s, TOK_BOS, false, 0.0);
    return s;
}

void session_free(session *s)
{
    if (!s) return;
    stream_free(s);
    schedule_free(s);
    g_free(s->sampling.work);
    g_free(s->sampling.allowed);
    g_free(s->sampling.scratch);
    g_array_free(s->rec, TRUE);
    g_free(s);
}

/* ---------------------------------------------------------------------------
 * input */

void session_input(session *s, const cn_event *ev)
{
    stream_clock_start(s, ev->time);
    s->tempo_now = MAX(s->tempo_now, ev->time);
    g_array_append_val(s->rec, *ev);
    bool note = ev->type == CN_EV_NOTE_ON || ev->type == CN_EV_NOTE_OFF;
    if (ev->type == CN_EV_CC) {
        if (policy_control_cc(s, ev) || ev->a != CN_CC_SUSTAIN) return;
    } else if (!note) {
        return; /* program changes etc.: recorded only */
    }
    double t = ev->time;
    if (note) {
        s->latency_pending = true;
        s->latency_from = t;
        if (ev->type == CN_EV_NOTE_ON && ev->b > 0) s->st.notes_in++;
        policy_performer_note(s, ev);
    }
    /* Does it change the stream? Probe on a copy at the heard position. */
    session_stream *q = &s->stream;
    int buf[TOK2_ENC_MAX_OUT];
    stream_enc_sync(s);
    tok2_encoder probe = q->enc;
    int n = tok2_enc_event(&probe, ev, q->perf_role, buf, TOK2_ENC_MAX_OUT);
    bool yield = note && !policy_allows(s, t);
    if (n == 0 && !yield) {
        q->enc = probe; /* e.g. a key released under the pedal: state only */
        return;
    }
    stream_rollback(s);
    if (yield) stream_end_model_notes(s, t);
    stream_compress_silence(s, t);
    stream_controls_to(s, t, t);
    stream_enc_sync(s);
    while ((n = tok2_enc_event(&q->enc, ev, q->perf_role, buf, TOK2_ENC_MAX_OUT)) < 0) { /* > 128 s gap */
        int k = tok2_enc_advance(&q->enc, t, buf, 64);
        for (int i = 0; i < k; i++) stream_append_heard(s, buf[i], true, t);
    }
    for (int i = 0; i < n; i++) stream_append_heard(s, buf[i], true, t);
}

/* ---------------------------------------------------------------------------
 * generation */

static int sample_next(session *s, int64_t max_shift)
{
    session_sampling *g = &s->sampling;
    const session_stream *q = &s->stream;
    memcpy(g->work, q->logits, (size_t)q->vocab * sizeof(float));
    sampler_mask_vocab(&q->gen.dec, &s->cfg.limits, q->vocab, g->allowed);
    for (int k = 1; k <= TOK_MAX_SHIFT; k++)
        if (k > max_shift) g->allowed[TOK_TIME_SHIFT + k] = 0;
    if (g->same_tick >= MAX_SAME_TICK) /* a stuck model: time must move (or notes end) */
        for (int t = 0; t < q->vocab; t++)
            if (!tok_is_shift(t) && !tok_is_note_off(t)) g->allowed[t] = 0;
    /* Note density: the odds of starting a note (a NOTE_ON, or the VELOCITY
     * that announces one) against letting time pass or ending a note are
     * scaled by the density factor, so the onset rate scales with it. Right
     * after a VELOCITY the note is already decided: no bias there (biasing
     * only NOTE_ONs moved the mass to VELOCITY tokens, which made density < 1
     * play denser, not sparser). A v2 model is told the density instead
     * (its DENSITY target, policy_controls): no bias for it there. */
    bool v2 = q->perf_role == TOK2_ROLE_PERFORMER;
    float bias = (v2 ? 0.0f : logf(MAX(g->density, 1e-3f))) - g->lag_bias;
    bool after_velocity = q->len > 0 && tok_is_velocity(q->toks[q->len - 1]);
    if (bias != 0.0f && !after_velocity) {
        for (int p = 0; p < 128; p++) g->work[TOK_NOTE_ON + p] += bias;
        for (int b = 0; b < TOK_VEL_BINS; b++) g->work[TOK_VELOCITY + b] += bias;
    }
    int tok = sampler_sample(g->work, q->vocab, g->allowed, &g->params, &g->rng, g->scratch);
    return tok >= 0 ? tok : TOK_TIME_SHIFT + 1;
}

/* Graceful degradation: when the budget keeps failing to hold the
 * lookahead, fewer notes. One short step is normal (a chord spends the
 * budget at one instant; a refill after a rollback takes a few steps), so
 * it must last STARVED_STEPS in a row. */
static void pace(session *s, int budget_left, double now)
{
    session_sampling *g = &s->sampling;
    double horizon = tick_time(s, s->stream.gen.dec.tick) - now;
    if (budget_left == 0 && horizon < 0.5 * s->cfg.lookahead) g->short_steps++;
    else g->short_steps = 0;
    g->starved = g->short_steps >= STARVED_STEPS;
    if (g->starved) {
        g->lag_bias = MIN(g->lag_bias + 0.25f, LAG_BIAS_MAX);
        s->st.degraded_steps++;
    } else {
        g->lag_bias = MAX(g->lag_bias - 0.05f, 0.0f);
    }
}

void session_step(session *s, double now)
{
    stream_clock_start(s, now);
    if (!stream_ensure_logits(s)) return;
    const stream_pos *gen = &s->stream.gen;
    double floor_t = MAX(MAX(now, s->sched.last_until), s->sched.out_floor);
    s->sched.floor = floor_t;
    s->tempo_now = now;
    double target = now + s->cfg.lookahead;
    int budget = s->cfg.tokens_per_step;
    while (budget > 0) {
        int64_t g = gen->dec.tick; /* ticks are recomputed each turn: the origin may move */
        int64_t floor_k = tick_ceil(s, floor_t), now_k = tick_ceil(s, now);
        if (tick_time(s, g) >= target - 1e-9) break;
        if (stream_uncommitted(s) > s->stream.seq_len / 2) break; /* absurd lookahead: keep the cache sane */
        double ws = 0, we = 0;
        bool any = policy_window(s, tick_time(s, g), &ws, &we);
        int64_t wk0 = any ? tick_ceil(s, ws) : 0, wk1 = any ? tick_ceil(s, we) : 0;
        bool inside = any && g >= wk0 && g < wk1;
        if (!inside && gen->dec.n_sounding > 0) { /* window over: end the model's notes here */
            int p = 0;
            while (!gen->dec.sounding[p]) p++;
            s->sched.cut = true;
            stream_append_generated(s, TOK_NOTE_OFF + p);
            s->sched.cut = false;
            budget--;
            continue;
        }
        if (g >= gen->ctrl_next) { /* v2: a control window starts: its DENSITY/DYNAMICS first */
            int ctrl[2], k = policy_controls(s, tick_time(s, gen->ctrl_next), ctrl);
            for (int j = 0; j < k; j++) stream_append_generated(s, ctrl[j]);
            budget -= k;
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
            if (inside && s->sampling.starved)
                want = MIN(want + (int64_t)(0.5 * s->cfg.lookahead / TICK), MAX(wk1, floor_k));
        }
        if (want > g) { /* a rest: to the window start, or catching up with the clock */
            if (stream_compress_silence(s, tick_time(s, want))) continue;
            want = MIN(want, gen->ctrl_next); /* no rest past a control */
            stream_append_generated(s, TOK_TIME_SHIFT + (int)MIN(want - g, TOK_MAX_SHIFT));
            budget--;
            continue;
        }
        if (!stream_ensure_logits(s)) break;
        s->sched.turn_end = any ? we : INFINITY;
        int tok = sample_next(s, MIN(wk1, gen->ctrl_next) - g);
        stream_append_generated(s, tok);
        s->st.tokens_generated++;
        budget--;
    }
    pace(s, budget, now);
}

/* ---------------------------------------------------------------------------
 * queries */

void session_get_stats(const session *s, session_stats *st)
{
    *st = s->st;
    st->generated_until = tick_time(s, s->stream.gen.dec.tick);
    st->cache_len = model_state_len(s->stream.ms);
    st->broken = s->stream.broken;
}

tempo_clock *session_tempo(session *s) { return &s->tempo; }
