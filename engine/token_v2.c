/* token_v2.c — performance encoding v2: two roles on one clock, each folded
 * by a v1 encoder (token.c) whose tokens are mapped to the role's ids, and
 * the DENSITY/DYNAMICS controls. Rules in token_v2.h. */
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <math.h>
#include "token_v2.h"

const int tok2_density_edges[TOK2_DENSITY_BINS - 1] = {1, 3, 6, 10, 14, 20, 26, 34, 44, 56, 72};

int tok2_density_bin(int onsets)
{
    int k = 0;
    while (k < TOK2_DENSITY_BINS - 1 && onsets >= tok2_density_edges[k]) k++;
    return k;
}

int tok2_density_bin_rate(double notes_per_s)
{
    if (!(notes_per_s > 0)) return 0;
    /* the bin a window at this rate would get: rate * window onsets, at least 1 */
    double n = notes_per_s * TOK2_WINDOW;
    return tok2_density_bin(n < 1 ? 1 : (int)floor(n + 1e-9));
}

int tok2_role(int t)
{
    if (tok_is_note_on(t) || tok_is_note_off(t) || tok_is_velocity(t)) return TOK2_ROLE_MODEL;
    if (t >= TOK2_P_NOTE_ON && t < TOK2_P_VELOCITY + TOK_VEL_BINS) return TOK2_ROLE_PERFORMER;
    return -1;
}

/* v1 note/velocity id -> the same meaning for the performer, and back. */
static int to_performer(int t)
{
    if (tok_is_note_on(t)) return t - TOK_NOTE_ON + TOK2_P_NOTE_ON;
    if (tok_is_note_off(t)) return t - TOK_NOTE_OFF + TOK2_P_NOTE_OFF;
    if (tok_is_velocity(t)) return t - TOK_VELOCITY + TOK2_P_VELOCITY;
    return t;
}

static int from_performer(int t)
{
    if (t < TOK2_P_NOTE_OFF) return t - TOK2_P_NOTE_ON + TOK_NOTE_ON;
    if (t < TOK2_P_VELOCITY) return t - TOK2_P_NOTE_OFF + TOK_NOTE_OFF;
    return t - TOK2_P_VELOCITY + TOK_VELOCITY;
}

/* ---- names ------------------------------------------------------------- */

static const struct { const char *prefix; int base, n; } v2_families[] = {
    {"P_NOTE_ON_", TOK2_P_NOTE_ON, 128},
    {"P_NOTE_OFF_", TOK2_P_NOTE_OFF, 128},
    {"P_VELOCITY_", TOK2_P_VELOCITY, TOK_VEL_BINS},
    {"DENSITY_", TOK2_DENSITY, TOK2_DENSITY_BINS},
    {"DYNAMICS_", TOK2_DYNAMICS, TOK2_DYNAMICS_BINS},
};

const char *tok2_name(int t, char *buf, size_t size)
{
    if (t < TOK_VOCAB_SIZE) return tok_name(t, buf, size);
    for (size_t i = 0; i < G_N_ELEMENTS(v2_families); i++)
        if (t >= v2_families[i].base && t < v2_families[i].base + v2_families[i].n) {
            snprintf(buf, size, "%s%d", v2_families[i].prefix, t - v2_families[i].base);
            return buf;
        }
    snprintf(buf, size, "INVALID_%d", t);
    return buf;
}

int tok2_from_name(const char *name)
{
    int t = tok_from_name(name);
    if (t >= 0) return t;
    for (size_t i = 0; i < G_N_ELEMENTS(v2_families); i++) {
        size_t n = strlen(v2_families[i].prefix);
        if (strncmp(name, v2_families[i].prefix, n)) continue;
        int k = tok_parse_index(name + n, 0, v2_families[i].n - 1);
        return k < 0 ? -1 : v2_families[i].base + k;
    }
    return -1;
}

int tok_vocab_size(int vocab_id)
{
    return vocab_id == TOK_VOCAB_ID ? TOK_VOCAB_SIZE : vocab_id == TOK2_VOCAB_ID ? TOK2_VOCAB_SIZE : 0;
}

const char *tok_vocab_name(int vocab_id, int t, char *buf, size_t size)
{
    return vocab_id == TOK2_VOCAB_ID ? tok2_name(t, buf, size) : tok_name(t, buf, size);
}

int tok_vocab_from_name(int vocab_id, const char *name)
{
    return vocab_id == TOK2_VOCAB_ID ? tok2_from_name(name) : tok_from_name(name);
}

/* ---- encoder ----------------------------------------------------------- */

void tok2_enc_init(tok2_encoder *e)
{
    for (int r = 0; r < TOK2_N_ROLES; r++) tok_enc_init(&e->role[r]);
}

/* One clock: every role at the latest tick and time any of them reached. */
static void enc_sync(tok2_encoder *e)
{
    int64_t tick = 0;
    double now = e->role[0].now;
    for (int r = 0; r < TOK2_N_ROLES; r++) {
        if (e->role[r].tick > tick) tick = e->role[r].tick;
        if (e->role[r].now > now) now = e->role[r].now;
    }
    for (int r = 0; r < TOK2_N_ROLES; r++) {
        e->role[r].tick = tick;
        e->role[r].now = now;
    }
}

static void enc_start(tok2_encoder *e, double t)
{
    for (int r = 0; r < TOK2_N_ROLES; r++) {
        e->role[r].started = true;
        e->role[r].origin = t;
        e->role[r].tick = 0;
    }
}

int tok2_enc_event(tok2_encoder *e, const cn_event *ev, int role, int *out, int cap)
{
    role = role == TOK2_ROLE_PERFORMER ? TOK2_ROLE_PERFORMER : TOK2_ROLE_MODEL;
    bool starts = !e->role[0].started && ev->type == CN_EV_NOTE_ON && ev->b;
    if (starts) enc_start(e, ev->time);
    int n = tok_enc_event(&e->role[role], ev, out, cap);
    if (n < 0) {
        if (starts)
            for (int r = 0; r < TOK2_N_ROLES; r++) e->role[r].started = false;
        return -1;
    }
    if (role == TOK2_ROLE_PERFORMER)
        for (int i = 0; i < n; i++) out[i] = to_performer(out[i]);
    enc_sync(e);
    return n;
}

int tok2_enc_control(tok2_encoder *e, double t, int token, int *out, int cap)
{
    if (!e->role[0].started) enc_start(e, t);
    int64_t gap = tok_enc_tick_at(&e->role[0], t) - e->role[0].tick;
    if (cap < 1 || gap > (int64_t)(cap - 1) * TOK_MAX_SHIFT) return -1;
    int n = tok_enc_advance(&e->role[0], t, out, cap - 1);
    out[n++] = token;
    enc_sync(e);
    return n;
}

int tok2_enc_advance(tok2_encoder *e, double t, int *out, int cap)
{
    int n = tok_enc_advance(&e->role[0], t, out, cap);
    enc_sync(e);
    return n;
}

int tok2_enc_flush(tok2_encoder *e, int *out, int cap)
{
    tok2_encoder save = *e;
    int n0 = tok_enc_flush(&e->role[0], out, cap);
    if (n0 >= 0) enc_sync(e);
    int n1 = n0 < 0 ? -1 : tok_enc_flush(&e->role[1], out + n0, cap - n0);
    if (n1 < 0) {
        *e = save;
        return -1;
    }
    for (int i = n0; i < n0 + n1; i++) out[i] = to_performer(out[i]);
    enc_sync(e);
    return n0 + n1;
}

int tok2_window_controls(const GArray *events, const uint8_t *roles, double t, int *out)
{
    int count = 0;
    double sum = 0;
    for (guint i = 0; i < events->len; i++) {
        const cn_event *ev = &g_array_index(events, cn_event, i);
        if (ev->time < t || ev->time >= t + TOK2_WINDOW) continue;
        if (ev->type != CN_EV_NOTE_ON || !ev->b || roles[i] != TOK2_ROLE_MODEL) continue;
        count++;
        sum += ev->b;
    }
    return tok2_control_pair(tok2_density_bin(count), count ? sum / count : 0, out);
}

int tok2_control_pair(int density_bin, double mean_velocity, int *out)
{
    out[0] = TOK2_DENSITY + density_bin;
    if (!density_bin) return 1;
    out[1] = TOK2_DYNAMICS + tok2_dynamics_bin(mean_velocity);
    return 2;
}

/* Appends the tokens of one encoder step, advancing the clock first when a
 * long silence makes them not fit. which: 0 event, 1 control. */
static void append_step(GArray *toks, tok2_encoder *e, const cn_event *ev, int role, int ctrl,
                        double t)
{
    int buf[TOK2_ENC_MAX_OUT], n;
    while ((n = ev ? tok2_enc_event(e, ev, role, buf, TOK2_ENC_MAX_OUT)
                   : tok2_enc_control(e, t, ctrl, buf, TOK2_ENC_MAX_OUT)) < 0) {
        int k = tok2_enc_advance(e, t, buf, TOK_ENC_MAX_OUT);
        g_array_append_vals(toks, buf, (guint)k);
    }
    g_array_append_vals(toks, buf, (guint)n);
}

GArray *tok2_encode_events(const GArray *events, const uint8_t *roles)
{
    GArray *toks = g_array_sized_new(FALSE, FALSE, sizeof(int), events->len * 2 + 16);
    double origin = 0;
    bool any = false;
    for (guint i = 0; i < events->len && !any; i++) {
        const cn_event *ev = &g_array_index(events, cn_event, i);
        if ((any = ev->type == CN_EV_NOTE_ON && ev->b)) origin = ev->time;
    }
    if (!any) return toks;
    tok2_encoder e;
    tok2_enc_init(&e);
    int64_t window = 0; /* next control pair at origin + window * TOK2_WINDOW */
    for (guint i = 0; i < events->len; i++) {
        const cn_event *ev = &g_array_index(events, cn_event, i);
        double next;
        while ((next = origin + (double)window * TOK2_WINDOW) <= ev->time) {
            int ctrl[2], k = tok2_window_controls(events, roles, next, ctrl);
            for (int j = 0; j < k; j++) append_step(toks, &e, NULL, 0, ctrl[j], next);
            window++;
        }
        bool pedal = ev->type == CN_EV_CC && ev->a == CN_CC_SUSTAIN;
        for (int r = 0; r < TOK2_N_ROLES; r++)
            if (pedal || r == roles[i]) append_step(toks, &e, ev, r, 0, ev->time);
    }
    int buf[TOK2_ENC_MAX_OUT], n;
    while ((n = tok2_enc_flush(&e, buf, TOK2_ENC_MAX_OUT)) < 0)
        g_array_append_vals(toks, buf,
                            (guint)tok2_enc_advance(&e, e.role[0].now, buf, TOK_ENC_MAX_OUT));
    g_array_append_vals(toks, buf, (guint)n);
    return toks;
}

/* ---- decoder ----------------------------------------------------------- */

void tok2_dec_init(tok2_decoder *d, double start_time, uint8_t ch_model, uint8_t ch_performer,
                   double max_note_len)
{
    tok_dec_init(&d->role[TOK2_ROLE_MODEL], start_time, ch_model, max_note_len);
    tok_dec_init(&d->role[TOK2_ROLE_PERFORMER], start_time, ch_performer, max_note_len);
    d->density = d->dynamics = -1;
}

/* Both roles' events of one shift, merged by time (each list is sorted). */
static int dec_shift(tok2_decoder *d, int t, cn_event *out, int cap)
{
    tok2_decoder save = *d;
    cn_event a[TOK_DEC_MAX_OUT], b[TOK_DEC_MAX_OUT];
    int na = tok_dec_token(&d->role[0], t, a, TOK_DEC_MAX_OUT);
    int nb = tok_dec_token(&d->role[1], t, b, TOK_DEC_MAX_OUT);
    if (na < 0 || nb < 0 || na + nb > cap) {
        *d = save;
        return -1;
    }
    int i = 0, j = 0, n = 0;
    while (i < na || j < nb)
        out[n++] = (j >= nb || (i < na && a[i].time <= b[j].time)) ? a[i++] : b[j++];
    return n;
}

int tok2_dec_token(tok2_decoder *d, int t, cn_event *out, int cap)
{
    int role = tok2_role(t);
    if (role == TOK2_ROLE_MODEL) return tok_dec_token(&d->role[0], t, out, cap);
    if (role == TOK2_ROLE_PERFORMER) return tok_dec_token(&d->role[1], from_performer(t), out, cap);
    if (tok_is_shift(t)) return dec_shift(d, t, out, cap);
    if (tok2_is_density(t)) d->density = t - TOK2_DENSITY;
    if (tok2_is_dynamics(t)) d->dynamics = t - TOK2_DYNAMICS;
    return 0;
}

int tok2_dec_flush(tok2_decoder *d, cn_event *out, int cap)
{
    if (d->role[0].n_sounding + d->role[1].n_sounding > cap) return -1;
    int n = tok_dec_flush(&d->role[0], out, cap);
    return n + tok_dec_flush(&d->role[1], out + n, cap - n);
}

GArray *tok2_decode_tokens(const int *tokens, size_t n, double start_time, double max_note_len)
{
    GArray *evs = cn_events_new();
    tok2_decoder d;
    tok2_dec_init(&d, start_time, 0, 1, max_note_len);
    cn_event buf[TOK2_DEC_MAX_OUT];
    for (size_t i = 0; i < n; i++) {
        int k = tok2_dec_token(&d, tokens[i], buf, TOK2_DEC_MAX_OUT);
        g_array_append_vals(evs, buf, (guint)k);
    }
    int k = tok2_dec_flush(&d, buf, TOK2_DEC_MAX_OUT);
    g_array_append_vals(evs, buf, (guint)k);
    return evs;
}

int tok2_v1_equivalent(int t)
{
    if (t >= 0 && t < TOK_VOCAB_SIZE) return t;
    if (t >= TOK2_P_NOTE_ON && t < TOK2_P_NOTE_ON + 128) return TOK_NOTE_ON + (t - TOK2_P_NOTE_ON);
    if (t >= TOK2_P_NOTE_OFF && t < TOK2_P_NOTE_OFF + 128) return TOK_NOTE_OFF + (t - TOK2_P_NOTE_OFF);
    if (t >= TOK2_P_VELOCITY && t < TOK2_P_VELOCITY + TOK_VEL_BINS)
        return TOK_VELOCITY + (t - TOK2_P_VELOCITY);
    return -1;
}
