/* continuation.c — the generation core of `continuo continue` (see
 * continuation.h). */
#include <math.h>
#include <string.h>
#include "continuation.h"
#include "error.h"
#include "events.h"
#include "smf_check.h"
#include "token.h"

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
    float *logits = prime(m, st, primer_tokens, r);

    cn_rng rng;
    rng_seed(&rng, p->seed);
    uint8_t allowed[TOK_VOCAB_SIZE];
    cn_event evbuf[TOK_DEC_MAX_OUT];
    void *scratch = g_malloc(SAMPLER_SCRATCH_BYTES(TOK_VOCAB_SIZE));
    double t_end = d.time + p->seconds;
    long max_tokens = (long)(p->seconds * CONTINUATION_MAX_TOKENS_PER_SECOND) + 1000;
    if (p->progress) p->progress(p->progress_user, 0.0, p->seconds, 0, false);
    gint64 t_gen = g_get_monotonic_time();
    gboolean ok = TRUE;
    const double half_step = TOK_TIME_STEP / 2;

    while (d.time < t_end - half_step) {
        sampler_mask(&d, &p->limits, allowed);
        int tok = sampler_sample(logits, TOK_VOCAB_SIZE, allowed, &p->sampling, &rng, scratch);
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
    model_state_free(st);
    return ok;
}
