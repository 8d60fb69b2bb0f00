/* session_schedule.c — the model's scheduled events: quantize where tokens
 * become events, the per-pitch note bookkeeping that keeps a quantized note
 * whole, and session_take_due, which hands the host what is due and keeps
 * track of what it holds (guarantees in session.h). Not real-time safe
 * (worker thread). */
#include <math.h>
#include "session_internal.h"

void schedule_init(session *s)
{
    s->sched.items = g_array_new(FALSE, FALSE, sizeof(sched_item));
    s->sched.out_floor = s->sched.last_until = -INFINITY;
    s->sched.floor = -INFINITY;
    s->sched.turn_end = INFINITY;
}

void schedule_free(session *s) { g_array_free(s->sched.items, TRUE); }

void schedule_insert(session *s, const cn_event *ev, uint64_t serial)
{
    GArray *a = s->sched.items;
    guint i = a->len;
    while (i > 0 && g_array_index(a, sched_item, i - 1).ev.time > ev->time) i--;
    sched_item it = {.ev = *ev, .serial = serial};
    g_array_insert_val(a, i, it);
}

double schedule_last_time(const session *s)
{
    const GArray *a = s->sched.items;
    return a->len ? g_array_index(a, sched_item, a->len - 1).ev.time : -INFINITY;
}

void schedule_drop_from(session *s, uint64_t first)
{
    GArray *a = s->sched.items;
    guint j = 0;
    for (guint i = 0; i < a->len; i++) {
        sched_item it = g_array_index(a, sched_item, i);
        if (it.serial == 0 || it.serial < first) g_array_index(a, sched_item, j++) = it;
    }
    g_array_set_size(a, j);
}

void schedule_clear(session *s) { g_array_set_size(s->sched.items, 0); }

void schedule_end_host_notes(session *s, double now)
{
    double host = MAX(now, s->sched.out_floor);
    for (int p = 0; p < 128; p++)
        if (s->sched.out_sounding[p]) {
            cn_event off = {.time = host, .type = CN_EV_NOTE_OFF,
                            .channel = (uint8_t)s->cfg.model_channel, .a = (uint8_t)p, .b = 0};
            schedule_insert(s, &off, 0);
        }
}

/* ---------------------------------------------------------------------------
 * quantize */

void schedule_follow_shifts(stream_pos *p, cn_event *ev, int n, double on_shift)
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

double schedule_generated(session *s, cn_event *ev, int n, uint64_t serial)
{
    stream_pos *g = &s->stream.gen;
    const session_sched *c = &s->sched;
    /* in event order: a re-strike's NOTE_ON follows its NOTE_OFF */
    double on_shift = 0;
    for (int i = 0; i < n; i++) {
        int p = ev[i].a & 127;
        if (ev[i].type == CN_EV_NOTE_OFF) {
            double t = c->cut ? MAX(ev[i].time, g->qon[p]) : ev[i].time + g->qshift[p];
            t = MIN(t, MAX(c->turn_end, g->qon[p])); /* a shift never carries a note past its turn */
            ev[i].time = MAX(t, c->floor);
            g->qoff[p] = ev[i].time;
        } else if (ev[i].type == CN_EV_NOTE_ON) {
            /* after this pitch's previous NOTE_OFF, unless that one is the
             * end of the turn (the re-strike then ends the old note early) */
            double prev_off = g->qoff[p] < c->turn_end ? g->qoff[p] : -INFINITY;
            on_shift = quantize_shift(s, ev[i].time, MAX(c->floor, prev_off), c->turn_end);
            ev[i].time += on_shift;
            g->qshift[p] = on_shift;
            g->qon[p] = ev[i].time;
        }
    }
    for (int i = 0; i < n; i++) schedule_insert(s, &ev[i], serial);
    return on_shift;
}

void session_set_quantize(session *s, double grid_beats, double strength)
{
    s->cfg.quantize_grid = grid_beats > 0 && isfinite(grid_beats) ? grid_beats : 0;
    s->cfg.quantize_strength = isfinite(strength) ? CLAMP(strength, 0.0, 1.0) : 0;
}

/* ---------------------------------------------------------------------------
 * output */

static void release(session *s, cn_event ev, cn_event *out, int *n)
{
    out[(*n)++] = ev;
    s->sched.out_floor = ev.time;
    g_array_append_val(s->rec, ev);
}

int session_take_due(session *s, double now, double until, cn_event *out, int cap)
{
    session_sched *c = &s->sched;
    int n = 0;
    guint i = 0;
    for (; i < c->items->len && n < cap; i++) {
        sched_item it = g_array_index(c->items, sched_item, i);
        if (it.ev.time >= until) break;
        if (it.ev.type == CN_EV_NOTE_ON && c->out_sounding[it.ev.a & 127] && n + 2 > cap)
            break; /* a re-strike needs room for its NOTE_OFF too */
        if (it.serial >= s->stream.commit) stream_commit_to(s, it.serial);
        cn_event ev = it.ev;
        int p = ev.a & 127;
        if (ev.type == CN_EV_NOTE_ON) {
            if (ev.time < now) { /* missed: never late, and its NOTE_OFF finds the key silent */
                s->st.dropped_late++;
                continue;
            }
            ev.time = MAX(ev.time, c->out_floor);
            if (c->out_sounding[p]) { /* keep on/off pairs at the host whatever happened */
                cn_event off = ev;
                off.type = CN_EV_NOTE_OFF;
                off.b = 0;
                release(s, off, out, &n);
            }
            release(s, ev, out, &n);
            c->out_sounding[p] = true;
            s->st.notes_out++;
            if (s->latency_pending) {
                s->st.last_response_latency = ev.time - s->latency_from;
                s->latency_pending = false;
            }
        } else if (ev.type == CN_EV_NOTE_OFF) {
            if (!c->out_sounding[p]) continue;
            ev.time = MAX(MAX(ev.time, now), c->out_floor);
            release(s, ev, out, &n);
            c->out_sounding[p] = false;
        }
    }
    g_array_remove_range(c->items, 0, i);
    /* New events go after what the host now holds (at shutdown, until = inf). */
    double held = isfinite(until) ? until : c->out_floor;
    if (held > c->last_until) c->last_until = held;
    return n;
}
