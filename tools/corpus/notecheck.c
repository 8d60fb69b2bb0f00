/* notecheck.c — reference notes of a raw performance (pedal folded in) and
 * their comparison with the notes that come back from tokens. */
#include <math.h>
#include <string.h>
#include "notecheck.h"

static bool is_on(const cn_event *e) { return e->type == CN_EV_NOTE_ON && e->b > 0; }
static bool is_off(const cn_event *e)
{
    return e->type == CN_EV_NOTE_OFF || (e->type == CN_EV_NOTE_ON && e->b == 0);
}
static bool is_pedal(const cn_event *e) { return e->type == CN_EV_CC && e->a == 64; }

/* The note that ev[i] (a NOTE_ON) starts, followed forward from the raw
 * state at that moment: `down` the channels holding its key (this one
 * included), `ped` the channels whose pedal is down. */
static nc_note follow(const cn_event *ev, size_t n, size_t i, unsigned down, unsigned ped)
{
    int p = ev[i].a & 127;
    unsigned sus = 0; /* channels whose pedal caught a release of this key */
    nc_note nt = {.on = ev[i].time, .pitch = p, .velocity = ev[i].b};
    for (size_t j = i + 1; j < n; j++) {
        const cn_event *f = &ev[j];
        unsigned fb = 1u << (f->channel & 15);
        bool ends = false;
        if (is_pedal(f)) {
            if (f->b >= 64) {
                ped |= fb;
                continue;
            }
            ped &= ~fb;
            if (!(sus & fb)) continue; /* this pedal holds no release of ours */
            sus &= ~fb;
            ends = !down && !sus;
        } else if ((f->a & 127) != p) {
            continue;
        } else if (is_on(f)) {
            ends = true; /* re-struck */
        } else if (is_off(f) && (down & fb)) {
            down &= ~fb;
            if (ped & fb) sus |= fb;
            ends = !down && !sus;
        }
        if (ends) {
            nt.off = f->time;
            return nt;
        }
    }
    nt.off = ev[n - 1].time; /* the performance ends: every key and pedal lets go */
    nt.at_end = true;
    return nt;
}

GArray *notecheck_reference(const GArray *events)
{
    GArray *notes = g_array_new(FALSE, FALSE, sizeof(nc_note));
    const cn_event *ev = (const cn_event *)events->data;
    size_t n = events->len;
    /* Raw state before each event: which channels hold each key, which pedals are down. */
    unsigned keys[128] = {0}, pedals = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned bit = 1u << (ev[i].channel & 15);
        int p = ev[i].a & 127;
        if (is_on(&ev[i])) {
            nc_note nt = follow(ev, n, i, keys[p] | bit, pedals);
            g_array_append_val(notes, nt);
            keys[p] |= bit;
        } else if (is_off(&ev[i])) {
            keys[p] &= ~bit;
        } else if (is_pedal(&ev[i])) {
            if (ev[i].b >= 64) pedals |= bit;
            else pedals &= ~bit;
        }
    }
    return notes;
}
GArray *notecheck_pair(const GArray *events)
{
    GArray *notes = g_array_new(FALSE, FALSE, sizeof(nc_note));
    int open[128];
    for (int p = 0; p < 128; p++) open[p] = -1;
    for (guint i = 0; i < events->len; i++) {
        const cn_event *e = &g_array_index(events, cn_event, i);
        int p = e->a & 127;
        if (is_on(e)) {
            nc_note nt = {.on = e->time, .off = e->time, .pitch = p, .velocity = e->b};
            open[p] = (int)notes->len;
            g_array_append_val(notes, nt);
        } else if (is_off(e) && open[p] >= 0) {
            nc_note *nt = &g_array_index(notes, nc_note, open[p]);
            nt->off = e->time;
            open[p] = -1;
        }
    }
    return notes;
}

/* Errors of one matched pair, x from the reference, y from the tokens. */
static void compare_note(const nc_note *x, const nc_note *y, double max_note_len, nc_result *r)
{
    double e_on = fabs(x->on - y->on);
    if (e_on > r->max_onset_err) r->max_onset_err = e_on;
    if (e_on > NC_ONSET_TOL) r->n_onset_over++;
    if (x->velocity / 4 != y->velocity / 4) r->n_vel_bin_wrong++;
    if (x->at_end) r->n_at_end++;
    double want = x->off - x->on;
    if (max_note_len > 0 && want >= max_note_len) {
        want = max_note_len;
        r->n_capped++;
    }
    double e_dur = fabs(want - (y->off - y->on));
    if (e_dur > r->max_dur_err) r->max_dur_err = e_dur;
    if (e_dur > NC_DUR_TOL) r->n_dur_over++;
}

void notecheck_compare(const GArray *ref, const GArray *out, double max_note_len, nc_result *r)
{
    r->n_ref += ref->len;
    r->n_out += out->len;
    const nc_note *a = (const nc_note *)ref->data, *b = (const nc_note *)out->data;
    /* out's notes grouped by pitch, in order (a counting sort of indices). */
    size_t cnt_ref[128] = {0}, cnt_out[128] = {0}, start[129] = {0}, seen[128] = {0};
    for (guint i = 0; i < ref->len; i++) cnt_ref[a[i].pitch]++;
    for (guint i = 0; i < out->len; i++) cnt_out[b[i].pitch]++;
    for (int p = 0; p < 128; p++) {
        start[p + 1] = start[p] + cnt_out[p];
        r->n_missing += cnt_ref[p] > cnt_out[p] ? cnt_ref[p] - cnt_out[p] : cnt_out[p] - cnt_ref[p];
    }
    guint *idx = g_new(guint, out->len + 1);
    for (guint i = 0; i < out->len; i++) idx[start[b[i].pitch] + seen[b[i].pitch]++] = i;
    memset(seen, 0, sizeof seen);
    for (guint i = 0; i < ref->len; i++) {
        const nc_note *x = &a[i];
        size_t k = seen[x->pitch]++;
        if (k < cnt_out[x->pitch]) compare_note(x, &b[idx[start[x->pitch] + k]], max_note_len, r);
    }
    g_free(idx);
}

void notecheck_merge(nc_result *a, const nc_result *b)
{
    a->n_ref += b->n_ref;
    a->n_out += b->n_out;
    a->n_missing += b->n_missing;
    a->n_onset_over += b->n_onset_over;
    a->n_dur_over += b->n_dur_over;
    a->n_vel_bin_wrong += b->n_vel_bin_wrong;
    a->n_at_end += b->n_at_end;
    a->n_capped += b->n_capped;
    if (b->max_onset_err > a->max_onset_err) a->max_onset_err = b->max_onset_err;
    if (b->max_dur_err > a->max_dur_err) a->max_dur_err = b->max_dur_err;
}
