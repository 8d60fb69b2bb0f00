/* driver.c — the session driver (see driver.h). */
#include <math.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>
#include <glib.h>
#include "driver.h"
#include "duties.h"

#define TAKE_MAX 256 /* events moved per session_take_due call */

struct driver {
    driver_host host;
    driver_config cfg;
    atomic_bool panic;
    cn_event take[TAKE_MAX];

    /* answer gaps (the pass's thread) */
    double last_input;  /* latest performer note heard (s) */
    bool heard_any;
    bool answered;      /* a model note-on was released since that note */

    GMutex stats_mu;
    driver_stats stats;
};

driver *driver_new(const driver_host *host, const driver_config *c)
{
    driver *d = g_new0(driver, 1);
    d->host = *host;
    if (c) d->cfg = *c;
    g_mutex_init(&d->stats_mu);
    return d;
}

void driver_free(driver *d)
{
    if (!d) return;
    g_mutex_clear(&d->stats_mu);
    g_free(d);
}

void driver_request_panic(driver *d) { atomic_store(&d->panic, true); }

void driver_get_stats(driver *d, driver_stats *st)
{
    g_mutex_lock(&d->stats_mu);
    *st = d->stats;
    g_mutex_unlock(&d->stats_mu);
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* ----------------------------------------------------------------------------
 * The pieces of a pass */

static void hear(driver *d, session *s)
{
    if (d->host.sync) d->host.sync(d->host.ctx, session_tempo(s));
    cn_event e;
    uint64_t n = 0;
    while (d->host.pop(d->host.ctx, &e)) {
        n++;
        session_input(s, &e);
        if (e.type == CN_EV_NOTE_ON || e.type == CN_EV_NOTE_OFF) {
            d->last_input = e.time;
            d->heard_any = true;
            d->answered = false;
        }
    }
    if (n) {
        g_mutex_lock(&d->stats_mu);
        d->stats.events_in += n;
        g_mutex_unlock(&d->stats_mu);
    }
}

static void note_answer(driver *d, const cn_event *e)
{
    if (e->type != CN_EV_NOTE_ON || d->answered || !d->heard_any) return;
    d->answered = true;
    double gap = e->time < d->last_input ? 0 : e->time - d->last_input;
    g_mutex_lock(&d->stats_mu);
    driver_stats *st = &d->stats;
    st->answer_gap_last_s = gap;
    st->answer_gap_sum_s += gap;
    if (st->answers == 0 || gap < st->answer_gap_min_s) st->answer_gap_min_s = gap;
    if (gap > st->answer_gap_max_s) st->answer_gap_max_s = gap;
    st->answers++;
    g_mutex_unlock(&d->stats_mu);
}

/* Moves the session's events due in [next, until) to the host, as many as
 * its output has room for (the rest waits in the session). */
static void release(driver *d, session *s, double next, double until)
{
    uint64_t out = 0, refused = 0;
    for (;;) {
        size_t space = d->host.space(d->host.ctx);
        int cap = space < TAKE_MAX ? (int)space : TAKE_MAX;
        if (cap == 0) break;
        int n = session_take_due(s, next, until, d->take, cap);
        for (int i = 0; i < n; i++) {
            cn_event *e = &d->take[i];
            if (e->time < next) e->time = next; /* never hand the host the past */
            if (d->host.push(d->host.ctx, e)) out++;
            else refused++;
            note_answer(d, e);
            if (d->cfg.duties) duties_observe(d->cfg.duties, e);
        }
        if (n < cap) break;
    }
    if (d->host.flush) d->host.flush(d->host.ctx);
    g_mutex_lock(&d->stats_mu);
    d->stats.events_out += out;
    d->stats.push_errors += refused;
    g_mutex_unlock(&d->stats_mu);
}

static void panic(driver *d, session *s, double next)
{
    session_panic(s, next);
    g_mutex_lock(&d->stats_mu);
    d->stats.panics++;
    g_mutex_unlock(&d->stats_mu);
}

/* ----------------------------------------------------------------------------
 * Pass and shutdown */

int driver_pass(driver *d, session *s)
{
    hear(d, s);
    double until;
    double next = d->host.next(d->host.ctx, &until);
    if (atomic_exchange(&d->panic, false)) panic(d, s, next);
    release(d, s, next, until);
    double t0 = now_ms();
    session_step(s, next);
    double dt = now_ms() - t0;
    /* Health, the recording's hand-off to the recorder thread (a memcpy: no
     * file I/O here) and a posted preset reload; bounded like the step. */
    int done = d->cfg.duties ? duties_pass(d->cfg.duties, s, next) : 0;
    g_mutex_lock(&d->stats_mu);
    d->stats.passes++;
    if (dt > d->stats.step_max_ms) d->stats.step_max_ms = dt;
    d->stats.step_sum_ms += dt;
    g_mutex_unlock(&d->stats_mu);
    return done;
}

double driver_finish(driver *d, session *s)
{
    hear(d, s);
    double until;
    double next = d->host.next(d->host.ctx, &until);
    panic(d, s, next);
    release(d, s, next, INFINITY);
    return next;
}
