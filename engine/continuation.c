/* continuation.c — the generation core of `continuo continue` (see
 * continuation.h). */
#include <math.h>
#include <string.h>
#include "continuation.h"
#include "error.h"
#include "events.h"
#include "smf_check.h"
#include "token.h"
#include "token_v2.h"

#define WINDOW_TICKS ((int64_t)(TOK2_WINDOW / TOK_TIME_STEP + 0.5))
#define FAR_WINDOW ((int64_t)1 << 50) /* v1: no controls */

/* ---------------------------------------------------------------------------
 * The primer */

void continuation_primer_scan(const GArray *ev, continuation_primer *p)
{
    *p = (continuation_primer){0};
    gboolean found = FALSE;
    for (guint i = 0; i < ev->len; i++) {
        const cn_event *e = &g_array_index(ev, cn_event, i);
        p->channels |= (uint16_t)(1u << (e->channel & 15));
        if (e->time > p->end) p->end = e->time;
        if (e->type == CN_EV_NOTE_ON && e->b > 0) {
            if (!found) p->origin = e->time;
            found = TRUE;
            p->notes++;
        }
    }
    if (!found) p->origin = p->end;
}

gboolean continuation_check_length(const continuation_primer *p, double seconds, GError **err)
{
    double last = p->end + TOK_TIME_STEP + seconds;
    if (last <= CN_SMF_MAX_SECONDS) return TRUE;
    double room = floor((CN_SMF_MAX_SECONDS - p->end - TOK_TIME_STEP) * 100) / 100;
    g_set_error(err, CN_ERROR, CN_ERR_ARG,
                "the primer lasts %.2f s; with --seconds %g the output would last %.2f s, more "
                "than the %.0f s one MIDI file holds (at most --seconds %.2f here)", p->end,
                seconds, last, CN_SMF_MAX_SECONDS, MAX(room, 0.0));
    return FALSE;
}

void continuation_primer_close(GArray *ev, double at)
{
    guint8 held[16][128];
    gboolean pedal[16] = {FALSE};
    memset(held, 0, sizeof held);
    guint n = ev->len;
    for (guint i = 0; i < n; i++) {
        const cn_event *e = &g_array_index(ev, cn_event, i);
        int c = e->channel & 15, k = e->a & 127;
        if (e->type == CN_EV_NOTE_ON && e->b > 0) held[c][k] = held[c][k] < 255 ? held[c][k] + 1 : 255;
        else if (e->type == CN_EV_NOTE_OFF || e->type == CN_EV_NOTE_ON) held[c][k] = 0;
        else if (e->type == CN_EV_CC && e->a == CN_CC_SUSTAIN) pedal[c] = e->b >= 64;
    }
    for (int c = 0; c < 16; c++) {
        for (int k = 0; k < 128; k++)
            if (held[c][k]) {
                cn_event off = {at, CN_EV_NOTE_OFF, (uint8_t)c, (uint8_t)k, 0};
                g_array_append_val(ev, off);
            }
        if (pedal[c]) {
            cn_event up = {at, CN_EV_CC, (uint8_t)c, CN_CC_SUSTAIN, 0};
            g_array_append_val(ev, up);
        }
    }
}

/* ---------------------------------------------------------------------------
 * Generation */

/* The decoder follows the whole primer (it is flushed: nothing sounds at its
 * end) so its clock sits where the primer ends, in file time. */
static void follow_primer(tok_decoder *d, const GArray *primer_tokens, double origin,
                          const continuation_params *p)
{
    cn_event evbuf[TOK_DEC_MAX_OUT];
    tok_dec_init(d, origin, p->channel, 0.0);
    for (guint i = 0; i < primer_tokens->len; i++)
        tok_dec_token(d, g_array_index(primer_tokens, int, i), evbuf, TOK_DEC_MAX_OUT);
    tok_dec_flush(d, evbuf, TOK_DEC_MAX_OUT);
    d->max_note_len = p->limits.max_note_len; /* backstop: the masks already end notes in time */
}

/* ---------------------------------------------------------------------------
 * v2: the primer as the model's own playing, and the controls */

/* The primer's onsets in its last CONTINUATION_SPAN s before t_end. */
static void primer_measure(const GArray *ev, double origin, double t_end, continuation_result *r)
{
    double span = MIN(CONTINUATION_SPAN, t_end - origin), vsum = 0;
    int n = 0;
    for (guint i = 0; i < ev->len; i++) {
        const cn_event *e = &g_array_index(ev, cn_event, i);
        if (e->type != CN_EV_NOTE_ON || !e->b || e->time < t_end - span || e->time >= t_end) continue;
        n++;
        vsum += e->b;
    }
    r->primer_rate = span > 0 ? n / span : 0;
    r->primer_velocity = n ? vsum / n : 0;
}

/* The target pair of every window from the primer's end on; returns 1 or 2. */
static int target_controls(const continuation_params *p, continuation_result *r, int *out)
{
    double rate = p->density_target > 0 ? p->density_target : r->primer_rate;
    double vel = p->velocity_target > 0 ? p->velocity_target : r->primer_velocity;
    rate *= p->density_scale > 0 ? p->density_scale : 1.0;
    r->density_bin = tok2_density_bin_rate(rate);
    r->dynamics_bin = tok2_dynamics_bin(vel);
    return tok2_control_pair(r->density_bin, vel, out);
}

GArray *continuation_prompt_v2(const GArray *primer_tokens, double origin, double t_end,
                         const continuation_params *p, continuation_result *r, int *ctrl,
                         int *n_ctrl)
{
    GArray *ev = tok_decode_tokens_full((const int *)primer_tokens->data, primer_tokens->len,
                                        origin, 0, 0.0);
    primer_measure(ev, origin, t_end, r);
    *n_ctrl = target_controls(p, r, ctrl);
    uint8_t *roles = g_new0(uint8_t, MAX(ev->len, 1)); /* all TOK2_ROLE_MODEL */
    GArray *toks = tok2_encode_events(ev, roles);
    g_free(roles);
    g_array_free(ev, TRUE);
    int last = -1;
    for (guint i = 0; i < toks->len; i++)
        if (tok2_is_density(g_array_index(toks, int, i))) last = (int)i;
    if (last >= 0) { /* the window holding the primer's end: the target */
        guint n = (guint)last + 1 < toks->len && tok2_is_dynamics(g_array_index(toks, int, last + 1)) ? 2 : 1;
        g_array_remove_range(toks, (guint)last, n);
        g_array_insert_vals(toks, (guint)last, ctrl, (guint)*n_ctrl);
    }
    return toks;
}

/* BOS + the primer's end, filling at most 3/4 of the context (the model
 * slides the cache to 3/4 when full, so this is where decoding resumes after
 * a slide anyway). Returns the logits after the prompt. */
static float *prime(model *m, model_state *st, const GArray *primer_tokens,
                    continuation_result *r)
{
    const model_config *c = model_get_config(m);
    int np = (int)primer_tokens->len;
    int room = c->seq_len - c->seq_len / 4 - 1;
    if (room < 1) room = 1;
    int keep = np < room ? np : room;
    int *prompt = g_new(int, keep + 1);
    prompt[0] = TOK_BOS;
    memcpy(prompt + 1, (const int *)primer_tokens->data + (np - keep), (size_t)keep * sizeof(int));
    gint64 t = g_get_monotonic_time();
    float *logits = model_prefill(st, prompt, keep + 1);
    r->prefill_s = (g_get_monotonic_time() - t) / 1e6;
    g_free(prompt);
    r->primed = keep + 1;
    r->primer_cut = keep < np;
    return logits;
}

gboolean continuation_generate(model *m, const GArray *primer_tokens, double origin,
                               const continuation_params *p, GArray *out,
                               continuation_result *r, GError **err)
{
    *r = (continuation_result){0};
    guint first = out->len;
    model_state *st = model_state_new(m, err);
    if (!st) return FALSE;
    tok_decoder d;
    follow_primer(&d, primer_tokens, origin, p);
    r->t_start = d.time;
    r->density_bin = r->dynamics_bin = -1;
    int vocab = tok_vocab_size(model_get_config(m)->vocab_id), ctrl[2], n_ctrl = 0;
    int64_t ctrl_next = FAR_WINDOW; /* tick of the next control pair (v2) */
    GArray *prompt = (GArray *)primer_tokens;
    if (model_get_config(m)->vocab_id == TOK2_VOCAB_ID) {
        prompt = continuation_prompt_v2(primer_tokens, origin, d.time, p, r, ctrl, &n_ctrl);
        bool any = false;
        for (guint i = 0; i < prompt->len && !any; i++) any = tok2_is_density(g_array_index(prompt, int, i));
        ctrl_next = any ? (d.tick / WINDOW_TICKS + 1) * WINDOW_TICKS : d.tick;
    }
    float *logits = prime(m, st, prompt, r);
    if (prompt != primer_tokens) g_array_free(prompt, TRUE);

    cn_rng rng;
    rng_seed(&rng, p->seed);
    uint8_t *allowed = g_new(uint8_t, vocab);
    cn_event evbuf[TOK_DEC_MAX_OUT];
    void *scratch = g_malloc(SAMPLER_SCRATCH_BYTES(vocab));
    double t_end = d.time + p->seconds;
    long max_tokens = (long)(p->seconds * CONTINUATION_MAX_TOKENS_PER_SECOND) + 1000;
    if (p->progress) p->progress(p->progress_user, 0.0, p->seconds, 0, false);
    gint64 t_gen = g_get_monotonic_time();
    gboolean ok = TRUE;
    const double half_step = TOK_TIME_STEP / 2;

    while (d.time < t_end - half_step) {
        if (d.tick >= ctrl_next) { /* v2: a window starts */
            for (int j = 0; j < n_ctrl; j++) logits = model_forward(st, ctrl[j]);
            ctrl_next = (d.tick / WINDOW_TICKS + 1) * WINDOW_TICKS;
        }
        sampler_mask_vocab(&d, &p->limits, vocab, allowed);
        for (int64_t k = ctrl_next - d.tick + 1; k <= TOK_MAX_SHIFT; k++)
            allowed[TOK_TIME_SHIFT + k] = 0; /* no shift past the next window start */
        int tok = sampler_sample(logits, vocab, allowed, &p->sampling, &rng, scratch);
        if (tok < 0) {
            g_set_error(err, CN_ERROR, CN_ERR_FORMAT,
                        "the model gave no usable logits at token %ld (NaN or -inf everywhere)",
                        r->tokens);
            ok = FALSE;
            break;
        }
        int k = tok_dec_token(&d, tok, evbuf, TOK_DEC_MAX_OUT);
        g_array_append_vals(out, evbuf, (guint)k);
        r->tokens++;
        if (p->progress)
            p->progress(p->progress_user, d.time - r->t_start, p->seconds, r->tokens, false);
        if (r->tokens >= max_tokens) {
            r->stopped_early = true;
            break;
        }
        if (d.time < t_end - half_step) logits = model_forward(st, tok);
    }
    r->generate_s = (g_get_monotonic_time() - t_gen) / 1e6;
    if (ok) {
        if (p->progress)
            p->progress(p->progress_user, d.time - r->t_start, p->seconds, r->tokens, true);
        int k = tok_dec_flush(&d, evbuf, TOK_DEC_MAX_OUT);
        g_array_append_vals(out, evbuf, (guint)k);
        /* The last TIME_SHIFT may overshoot t_end (sampled freely, so the
         * model's timing is not bent near the end): what sounds is cut
         * there, so the continuation lasts exactly `seconds` (to 10 ms).
         * Only note-offs can lie past t_end (note-ons come before a shift). */
        for (guint i = first; i < out->len; i++) {
            cn_event *e = &g_array_index(out, cn_event, i);
            if (e->time > t_end) e->time = t_end;
        }
    }
    g_free(scratch);
    g_free(allowed);
    model_state_free(st);
    return ok;
}
