/* roles.c — melody finding and role assignment for v2 documents; rules in roles.h. */
#include <string.h>
#include "roles.h"
#include "token_v2.h"

const char *const roles_mode_names[ROLES_N_MODES] = {"solo", "accompany", "lead", "call"};

static bool is_on(const cn_event *e) { return e->type == CN_EV_NOTE_ON && e->b; }
static bool is_off(const cn_event *e)
{
    return e->type == CN_EV_NOTE_OFF || (e->type == CN_EV_NOTE_ON && !e->b);
}

/* off[i]: the key-release time of NOTE_ON i (next NOTE_OFF or NOTE_ON of
 * its pitch on its channel; the last event's time if none). */
static double *key_releases(const GArray *evs)
{
    guint n = evs->len;
    double *off = g_new0(double, n ? n : 1);
    int *open = g_new(int, 16 * 128);
    for (int k = 0; k < 16 * 128; k++) open[k] = -1;
    double last = n ? g_array_index(evs, cn_event, n - 1).time : 0;
    for (guint i = 0; i < n; i++) {
        const cn_event *e = &g_array_index(evs, cn_event, i);
        if (!is_on(e) && !is_off(e)) continue;
        int k = (e->channel & 15) * 128 + (e->a & 127);
        if (open[k] >= 0) off[open[k]] = e->time;
        open[k] = is_on(e) ? (int)i : -1;
    }
    for (int k = 0; k < 16 * 128; k++)
        if (open[k] >= 0) off[open[k]] = last;
    g_free(open);
    return off;
}

uint8_t *roles_melody_skyline(const GArray *evs)
{
    guint n = evs->len;
    uint8_t *mel = g_new0(uint8_t, n ? n : 1);
    double *off = key_releases(evs);
    double held_on[128], held_off[128]; /* the latest note of each pitch */
    for (int p = 0; p < 128; p++) held_on[p] = held_off[p] = -1e300;
    for (guint i = 0; i < n; i++) {
        const cn_event *e = &g_array_index(evs, cn_event, i);
        if (!is_on(e)) continue;
        double t = e->time;
        bool top = true;
        for (guint j = i; j-- > 0 && top;) { /* the chord, before i */
            const cn_event *o = &g_array_index(evs, cn_event, j);
            if (o->time < t - ROLES_CHORD_S) break;
            if (is_on(o) && o->a > e->a) top = false;
        }
        for (guint j = i + 1; j < n && top; j++) { /* the chord, after i */
            const cn_event *o = &g_array_index(evs, cn_event, j);
            if (o->time > t + ROLES_CHORD_S) break;
            if (is_on(o) && o->a > e->a) top = false;
        }
        for (int p = e->a + 1; p < 128 && top; p++)
            if (held_on[p] < t - ROLES_CHORD_S && held_off[p] > t + ROLES_OVERLAP_S) top = false;
        mel[i] = top;
        held_on[e->a] = t;
        held_off[e->a] = off[i];
    }
    g_free(off);
    return mel;
}

uint8_t *roles_melody_channel(const GArray *evs, int channel)
{
    uint8_t *mel = g_new0(uint8_t, evs->len ? evs->len : 1);
    for (guint i = 0; i < evs->len; i++) {
        const cn_event *e = &g_array_index(evs, cn_event, i);
        mel[i] = is_on(e) && e->channel == channel;
    }
    return mel;
}

static uint8_t role_of_onset(const cn_event *e, bool melody, roles_mode mode, double first)
{
    switch (mode) {
    case ROLES_ACCOMPANY: return melody ? TOK2_ROLE_PERFORMER : TOK2_ROLE_MODEL;
    case ROLES_LEAD: return melody ? TOK2_ROLE_MODEL : TOK2_ROLE_PERFORMER;
    case ROLES_CALL: {
        long seg = (long)((e->time - first) / ROLES_CALL_S);
        return seg % 2 == 0 ? TOK2_ROLE_PERFORMER : TOK2_ROLE_MODEL;
    }
    default: return TOK2_ROLE_MODEL;
    }
}

uint8_t *roles_assign(const GArray *evs, const uint8_t *melody, roles_mode mode)
{
    guint n = evs->len;
    uint8_t *role = g_new0(uint8_t, n ? n : 1);
    uint8_t last[16 * 128]; /* role of the latest NOTE_ON per channel and pitch */
    memset(last, TOK2_ROLE_MODEL, sizeof last);
    double first = 0;
    for (guint i = 0; i < n; i++)
        if (is_on(&g_array_index(evs, cn_event, i))) {
            first = g_array_index(evs, cn_event, i).time;
            break;
        }
    for (guint i = 0; i < n; i++) {
        const cn_event *e = &g_array_index(evs, cn_event, i);
        int k = (e->channel & 15) * 128 + (e->a & 127);
        if (is_on(e)) role[i] = last[k] = role_of_onset(e, melody[i], mode, first);
        else if (is_off(e)) role[i] = last[k];
        else role[i] = TOK2_ROLE_MODEL;
    }
    return role;
}
