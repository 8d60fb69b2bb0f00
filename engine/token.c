/* token.c — performance encoding v1: names, the incremental encoder (events
 * -> tokens, sustain pedal folded in, drift-free 10 ms quantization) and the
 * incremental decoder (tokens -> events, no hanging notes). Rules in token.h. */
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <math.h>
#include "token.h"

/* ---- names ------------------------------------------------------------- */

const char *tok_name(int t, char *buf, size_t size)
{
    if (t == TOK_PAD) snprintf(buf, size, "PAD");
    else if (t == TOK_BOS) snprintf(buf, size, "BOS");
    else if (t == TOK_EOS) snprintf(buf, size, "EOS");
    else if (t >= 3 && t < TOK_NOTE_ON) snprintf(buf, size, "CTRL_%d", t);
    else if (tok_is_note_on(t)) snprintf(buf, size, "NOTE_ON_%d", t - TOK_NOTE_ON);
    else if (tok_is_note_off(t)) snprintf(buf, size, "NOTE_OFF_%d", t - TOK_NOTE_OFF);
    else if (tok_is_shift(t)) snprintf(buf, size, "TIME_SHIFT_%d", t - TOK_TIME_SHIFT);
    else if (tok_is_velocity(t)) snprintf(buf, size, "VELOCITY_%d", t - TOK_VELOCITY);
    else snprintf(buf, size, "INVALID_%d", t);
    return buf;
}

int tok_parse_index(const char *s, int lo, int hi)
{
    if (*s < '0' || *s > '9' || strlen(s) > 3) return -1;
    char *end;
    long v = strtol(s, &end, 10);
    if (*end || v < lo || v > hi) return -1;
    return (int)v;
}

int tok_from_name(const char *name)
{
    static const struct { const char *prefix; int base, lo, hi; } families[] = {
        {"NOTE_ON_", TOK_NOTE_ON, 0, 127},
        {"NOTE_OFF_", TOK_NOTE_OFF, 0, 127},
        {"TIME_SHIFT_", TOK_TIME_SHIFT, 1, TOK_MAX_SHIFT},
        {"VELOCITY_", TOK_VELOCITY, 0, TOK_VEL_BINS - 1},
        {"CTRL_", 0, 3, 7},
    };
    if (!strcmp(name, "PAD")) return TOK_PAD;
    if (!strcmp(name, "BOS")) return TOK_BOS;
    if (!strcmp(name, "EOS")) return TOK_EOS;
    for (size_t i = 0; i < G_N_ELEMENTS(families); i++) {
        size_t n = strlen(families[i].prefix);
        if (strncmp(name, families[i].prefix, n)) continue;
        int k = tok_parse_index(name + n, families[i].lo, families[i].hi);
        return k < 0 ? -1 : families[i].base + k;
    }
    return -1;
}

/* ---- encoder ----------------------------------------------------------- */

void tok_enc_init(tok_encoder *e)
{
    memset(e, 0, sizeof *e);
    e->vel_bin = -1;
}

/* Refreshes the summary fields of token.h for pitch p from the masks. */
static void enc_sync(tok_encoder *e, int p)
{
    e->held[p] = (uint8_t)__builtin_popcount(e->held_mask[p]);
    e->sounding[p] = (e->held_mask[p] | e->sus_mask[p]) != 0;
    e->sustained[p] = e->sounding[p] && !e->held_mask[p];
    e->sustain_ch[p] = e->sus_mask[p] ? (uint8_t)__builtin_ctz(e->sus_mask[p]) : 0;
}

/* Tick (10 ms units since origin) at which an event at time t is stamped:
 * rounded from the absolute time each call, never from a running sum. */
static int64_t enc_target(const tok_encoder *e, double t)
{
    int64_t k = llround((t - e->origin) / TOK_TIME_STEP);
    return k > e->tick ? k : e->tick;
}

int64_t tok_enc_tick_at(const tok_encoder *e, double t)
{
    return enc_target(e, t);
}

static int n_shifts(int64_t gap)
{
    return (int)((gap + TOK_MAX_SHIFT - 1) / TOK_MAX_SHIFT);
}

/* Writes the TIME_SHIFTs from e->tick to target (the caller checked room). */
static int emit_shifts(tok_encoder *e, int64_t target, int *out)
{
    int n = 0;
    while (e->tick < target) {
        int64_t k = target - e->tick;
        if (k > TOK_MAX_SHIFT) k = TOK_MAX_SHIFT;
        out[n++] = TOK_TIME_SHIFT + (int)k;
        e->tick += k;
    }
    return n;
}

static int enc_note_on(tok_encoder *e, const cn_event *ev, int *out, int cap)
{
    int p = ev->a & 127, bin = tok_velocity_bin(ev->b & 127);
    if (!e->started) { /* the clock starts at the first NOTE_ON */
        if (cap < 2) return -1;
        e->started = true;
        e->origin = ev->time;
        e->tick = 0;
    }
    int64_t target = enc_target(e, ev->time);
    int64_t gap = target - e->tick;
    if (gap > (int64_t)cap * TOK_MAX_SHIFT) return -1;
    int need = n_shifts(gap) + 1 + e->sounding[p] + (bin != e->vel_bin);
    if (need > cap) return -1;
    int n = emit_shifts(e, target, out);
    if (e->sounding[p]) out[n++] = TOK_NOTE_OFF + p; /* re-strike ends the old instance */
    if (bin != e->vel_bin) out[n++] = TOK_VELOCITY + bin;
    out[n++] = TOK_NOTE_ON + p;
    e->vel_bin = bin;
    e->held_mask[p] |= (uint16_t)(1u << (ev->channel & 15));
    e->sus_mask[p] = 0;
    enc_sync(e, p);
    return n;
}

static int enc_note_off(tok_encoder *e, const cn_event *ev, int *out, int cap)
{
    int p = ev->a & 127, c = ev->channel & 15;
    uint16_t bit = (uint16_t)(1u << c);
    if (!(e->held_mask[p] & bit)) return 0; /* not down on this channel: dropped */
    bool ends = (e->held_mask[p] & ~bit) == 0 && !e->pedal[c] && !e->sus_mask[p];
    int64_t target = enc_target(e, ev->time);
    if (ends) {
        int64_t gap = target - e->tick;
        if (gap > (int64_t)cap * TOK_MAX_SHIFT || n_shifts(gap) + 1 > cap) return -1;
    }
    e->held_mask[p] &= (uint16_t)~bit;
    if (e->pedal[c]) e->sus_mask[p] |= bit;
    int n = 0;
    if (ends) {
        n = emit_shifts(e, target, out);
        out[n++] = TOK_NOTE_OFF + p;
    }
    enc_sync(e, p);
    return n;
}

static int enc_pedal(tok_encoder *e, const cn_event *ev, int *out, int cap)
{
    int c = ev->channel & 15;
    bool down = ev->b >= 64;
    if (down || !e->pedal[c]) {
        e->pedal[c] = down;
        return 0;
    }
    /* Lift: every pitch whose last hold was this pedal ends now. */
    uint16_t bit = (uint16_t)(1u << c);
    int ending = 0;
    for (int p = 0; p < 128; p++)
        if ((e->sus_mask[p] & bit) && !e->held_mask[p] && e->sus_mask[p] == bit) ending++;
    int64_t target = enc_target(e, ev->time);
    if (ending) {
        int64_t gap = target - e->tick;
        if (gap > (int64_t)cap * TOK_MAX_SHIFT || n_shifts(gap) + ending > cap) return -1;
    }
    e->pedal[c] = false;
    int n = ending ? emit_shifts(e, target, out) : 0;
    for (int p = 0; p < 128; p++) {
        if (!(e->sus_mask[p] & bit)) continue;
        e->sus_mask[p] &= (uint16_t)~bit;
        if (!e->held_mask[p] && !e->sus_mask[p]) out[n++] = TOK_NOTE_OFF + p;
        enc_sync(e, p);
    }
    return n;
}

static int enc_dispatch(tok_encoder *e, const cn_event *ev, int *out, int cap)
{
    switch (ev->type) {
    case CN_EV_NOTE_ON:
        return ev->b ? enc_note_on(e, ev, out, cap) : enc_note_off(e, ev, out, cap);
    case CN_EV_NOTE_OFF:
        return enc_note_off(e, ev, out, cap);
    case CN_EV_CC:
        return ev->a == CN_CC_SUSTAIN ? enc_pedal(e, ev, out, cap) : 0;
    default:
        return 0;
    }
}

int tok_enc_event(tok_encoder *e, const cn_event *ev, int *out, int cap)
{
    int n = enc_dispatch(e, ev, out, cap);
    if (n >= 0 && ev->time > e->now) e->now = ev->time;
    return n;
}

int tok_enc_advance(tok_encoder *e, double t, int *out, int cap)
{
    if (t > e->now) e->now = t;
    if (!e->started || cap <= 0) return 0;
    int64_t target = enc_target(e, t);
    int64_t reach = e->tick + (int64_t)cap * TOK_MAX_SHIFT;
    return emit_shifts(e, target < reach ? target : reach, out);
}

int tok_enc_flush(tok_encoder *e, int *out, int cap)
{
    int ending = 0;
    for (int p = 0; p < 128; p++) ending += e->sounding[p];
    int n = 0;
    if (ending) { /* the notes end where the piece does, not at the last token */
        int64_t target = enc_target(e, e->now), gap = target - e->tick;
        if (gap > (int64_t)cap * TOK_MAX_SHIFT || n_shifts(gap) + ending > cap) return -1;
        n = emit_shifts(e, target, out);
    }
    for (int p = 0; p < 128; p++) {
        if (e->sounding[p]) out[n++] = TOK_NOTE_OFF + p;
        e->held_mask[p] = e->sus_mask[p] = 0;
        enc_sync(e, p);
    }
    memset(e->pedal, 0, sizeof e->pedal);
    return n;
}

GArray *tok_encode_events(const GArray *events)
{
    GArray *toks = g_array_sized_new(FALSE, FALSE, sizeof(int), events->len * 2 + 16);
    tok_encoder e;
    tok_enc_init(&e);
    int buf[TOK_ENC_MAX_OUT];
    for (guint i = 0; i < events->len; i++) {
        const cn_event *ev = &g_array_index(events, cn_event, i);
        int n;
        while ((n = tok_enc_event(&e, ev, buf, TOK_ENC_MAX_OUT)) < 0) {
            /* a silence longer than one call can hold: shifts first */
            int k = tok_enc_advance(&e, ev->time, buf, TOK_ENC_MAX_OUT - 128);
            g_array_append_vals(toks, buf, (guint)k);
        }
        g_array_append_vals(toks, buf, (guint)n);
    }
    int n;
    while ((n = tok_enc_flush(&e, buf, TOK_ENC_MAX_OUT)) < 0)
        g_array_append_vals(toks, buf, (guint)tok_enc_advance(&e, e.now, buf, TOK_ENC_MAX_OUT));
    g_array_append_vals(toks, buf, (guint)n);
    return toks;
}

/* ---- decoder ----------------------------------------------------------- */

void tok_dec_init(tok_decoder *d, double start_time, uint8_t channel, double max_note_len)
{
    memset(d, 0, sizeof *d);
    d->start = d->time = start_time;
    d->velocity = TOK_DEC_DEFAULT_VELOCITY;
    d->channel = channel & 15;
    d->max_note_len = max_note_len;
}

static cn_event dec_event(const tok_decoder *d, uint8_t type, int p, int vel, double t)
{
    return (cn_event){.time = t, .type = type, .channel = d->channel, .a = (uint8_t)p,
                      .b = (uint8_t)vel};
}

static void dec_end(tok_decoder *d, int p, double t, cn_event *out)
{
    *out = dec_event(d, CN_EV_NOTE_OFF, p, 0, t);
    d->sounding[p] = false;
    d->n_sounding--;
}

/* A TIME_SHIFT of k ticks: notes that reach the cap before the new time end
 * at onset + cap, earliest first. */
static int dec_shift(tok_decoder *d, int k, cn_event *out, int cap)
{
    int64_t tick = d->tick + k;
    double now = d->start + (double)tick * TOK_TIME_STEP;
    int n = 0;
    if (d->max_note_len > 0) {
        int due[128];
        for (int p = 0; p < 128; p++)
            if (d->sounding[p] && d->onset[p] + d->max_note_len <= now + 1e-9) due[n++] = p;
        if (n > cap) return -1;
        /* insertion sort by onset (then pitch): n is small */
        for (int i = 1; i < n; i++) {
            int p = due[i], j = i;
            while (j > 0 && d->onset[due[j - 1]] > d->onset[p]) {
                due[j] = due[j - 1];
                j--;
            }
            due[j] = p;
        }
        for (int i = 0; i < n; i++) { /* min(): the 1e-9 slack never reaches past now */
            double end = d->onset[due[i]] + d->max_note_len;
            dec_end(d, due[i], end < now ? end : now, &out[i]);
        }
    }
    d->tick = tick;
    d->time = now;
    return n;
}

int tok_dec_token(tok_decoder *d, int t, cn_event *out, int cap)
{
    if (tok_is_note_on(t)) {
        int p = t - TOK_NOTE_ON;
        if (cap < 1 + d->sounding[p]) return -1;
        int n = 0;
        if (d->sounding[p]) dec_end(d, p, d->time, &out[n++]); /* re-strike */
        out[n++] = dec_event(d, CN_EV_NOTE_ON, p, d->velocity, d->time);
        d->sounding[p] = true;
        d->onset[p] = d->time;
        d->n_sounding++;
        return n;
    }
    if (tok_is_note_off(t)) {
        int p = t - TOK_NOTE_OFF;
        if (!d->sounding[p]) return 0; /* silent key: ignored */
        if (cap < 1) return -1;
        dec_end(d, p, d->time, out);
        return 1;
    }
    if (tok_is_shift(t)) return dec_shift(d, t - TOK_TIME_SHIFT, out, cap);
    if (tok_is_velocity(t)) d->velocity = tok_bin_velocity(t - TOK_VELOCITY);
    return 0;
}

int tok_dec_flush(tok_decoder *d, cn_event *out, int cap)
{
    if (d->n_sounding > cap) return -1;
    int n = 0;
    for (int p = 0; p < 128; p++)
        if (d->sounding[p]) dec_end(d, p, d->time, &out[n++]);
    return n;
}

GArray *tok_decode_tokens_full(const int *tokens, size_t n, double start_time, uint8_t channel,
                               double max_note_len)
{
    GArray *evs = cn_events_new();
    tok_decoder d;
    tok_dec_init(&d, start_time, channel, max_note_len);
    cn_event buf[TOK_DEC_MAX_OUT];
    for (size_t i = 0; i < n; i++) {
        int k = tok_dec_token(&d, tokens[i], buf, TOK_DEC_MAX_OUT);
        g_array_append_vals(evs, buf, (guint)k);
    }
    int k = tok_dec_flush(&d, buf, TOK_DEC_MAX_OUT);
    g_array_append_vals(evs, buf, (guint)k);
    return evs;
}

GArray *tok_decode_tokens(const int *tokens, size_t n, double start_time)
{
    return tok_decode_tokens_full(tokens, n, start_time, 0, TOK_DEC_DEFAULT_MAX_NOTE_LEN);
}
