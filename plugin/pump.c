/* pump.c — the session loop for schedule-ahead hosts (see pump.h). */
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>
#include "duties.h"
#include "error.h"
#include "log.h"
#include "pump.h"

#define TAKE_MAX 128
#define IN_MAX 256

struct pump {
    pump_config cfg;
    session *s;
    pump_host host;
    duties *d;
    atomic_int stop, reload, panic;
    double last_in; /* latest input time (inputs must not go back) */
    cn_event take[TAKE_MAX];
    cn_event in[IN_MAX];
    pump_stats st;
};

void pump_config_defaults(pump_config *c)
{
    memset(c, 0, sizeof *c);
    c->pass = 0.005;
    c->margin = 0.01;
    c->horizon = 0.05;
    c->use_health = true;
    health_config_defaults(&c->health, NULL);
}

pump *pump_new(const pump_config *c, session *s, const pump_host *host, GError **err)
{
    duties_config dc;
    duties_config_defaults(&dc, NULL);
    dc.use_health = c->use_health;
    dc.health = c->health;
    dc.rotate = c->rotate;
    dc.keep_recording = c->record != NULL;
    duties *d = duties_new(&dc, err);
    if (!d) return NULL;
    pump *p = g_new0(pump, 1);
    p->cfg = *c;
    p->s = s;
    p->host = *host;
    p->d = d;
    p->last_in = -INFINITY;
    return p;
}

void pump_free(pump *p)
{
    if (!p) return;
    duties_free(p->d);
    g_free(p);
}

void pump_stop(pump *p) { atomic_store(&p->stop, 1); }
void pump_request_reload(pump *p) { atomic_store(&p->reload, 1); }
void pump_request_panic(pump *p) { atomic_store(&p->panic, 1); }

void pump_get_stats(const pump *p, pump_stats *st)
{
    *st = p->st;
    duties_stats ds;
    duties_get_stats(p->d, &ds);
    st->health_silence = ds.health_silence;
    st->health_loop = ds.health_loop;
    st->health_relax = ds.health_relax;
    st->health_crowd = ds.health_crowd;
    st->reloads = ds.reloads;
    st->reload_errors += ds.reload_errors;
    st->rotate_errors = ds.record_errors;
}

/* ---------------------------------------------------------------------------
 * pieces of a pass */

static bool send_due(pump *p, double from, double until)
{
    bool ok = true;
    int n;
    while ((n = session_take_due(p->s, from, until, p->take, TAKE_MAX)) > 0) {
        double now = p->host.now(p->host.ctx);
        for (int i = 0; i < n; i++) {
            const cn_event *e = &p->take[i];
            if (e->time < now) p->st.late++;
            GError *err = NULL;
            if (!p->host.send(p->host.ctx, e, &err)) {
                if (p->st.send_errors++ == 0) log_error("%s", err ? err->message : "send failed");
                g_clear_error(&err);
                ok = false;
            } else {
                p->st.events_out++;
            }
            duties_observe(p->d, e);
        }
        if (n < TAKE_MAX) break;
    }
    if (p->host.flush) p->host.flush(p->host.ctx);
    return ok;
}

/* SIGHUP: the preset is read here (the pump's thread is the main thread)
 * and applied by the duties at this pass. */
static void do_reload(pump *p)
{
    if (!p->cfg.reload) {
        log_warn("SIGHUP: no preset to reload");
        return;
    }
    session_config c;
    GError *err = NULL;
    if (!p->cfg.reload(p->cfg.reload_arg, &c, &err)) {
        p->st.reload_errors++;
        log_error("SIGHUP: preset not reloaded: %s", err ? err->message : "failed");
        g_clear_error(&err);
        return;
    }
    duties_post_reload(p->d, &c);
}

static void take_signals(pump *p)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGHUP);
    struct timespec zero = {0, 0};
    int sig;
    while ((sig = sigtimedwait(&set, NULL, &zero)) > 0) {
        if (sig == SIGHUP) {
            atomic_store(&p->reload, 1);
        } else {
            log_info("%s: ending every note and stopping", sig == SIGINT ? "SIGINT" : "SIGTERM");
            atomic_store(&p->stop, 1);
        }
    }
}

/* ---------------------------------------------------------------------------
 * the loop */

int pump_run(pump *p)
{
    int status = 0;
    double start = p->host.now(p->host.ctx), now = start;
    for (;;) {
        GError *err = NULL;
        int n = p->host.wait(p->host.ctx, p->cfg.pass, p->in, IN_MAX, &err);
        now = p->host.now(p->host.ctx);
        if (n < 0) {
            log_error("%s", err ? err->message : "the host failed");
            g_clear_error(&err);
            status = 1;
            break;
        }
        for (int i = 0; i < n; i++) {
            cn_event e = p->in[i];
            if (!(e.time <= now)) e.time = now;
            if (e.time < p->last_in) e.time = p->last_in;
            p->last_in = e.time;
            session_input(p->s, &e);
            p->st.events_in++;
        }
        double t = now + p->cfg.margin;
        if (atomic_exchange(&p->panic, 0)) session_panic(p->s, t);
        if (!send_due(p, t, t + p->cfg.horizon) && p->st.send_errors > 100) {
            log_error("the host refuses events (%ld errors): stopping", p->st.send_errors);
            status = 1; /* a host that cannot take events any more */
            break;
        }
        session_step(p->s, t);
        if (p->cfg.signals) take_signals(p);
        if (atomic_exchange(&p->reload, 0)) do_reload(p);
        if (duties_pass(p->d, p->s, t) & DUTIES_STOP) status = 1, atomic_store(&p->stop, 1);
        p->st.passes++;
        if (p->cfg.duration > 0 && now - start >= p->cfg.duration) break;
        if (atomic_load(&p->stop)) break;
    }

    /* The way out: every note ends, on the host and in the recording. */
    double t = now + p->cfg.margin;
    session_panic(p->s, t);
    send_due(p, t, INFINITY);
    if (p->host.finish) p->host.finish(p->host.ctx, 1.0);
    now = p->host.now(p->host.ctx);
    double end = MAX(now, t);
    p->st.end_time = end;
    GError *err = NULL;
    if (!duties_finish(p->d, p->s, end, &err)) {
        log_error("recording: %s", err->message);
        g_clear_error(&err);
        status = 1;
    }
    if (p->cfg.record) {
        if (!session_save_recording(p->s, p->cfg.record, end, &err)) {
            log_error("%s", err->message);
            g_clear_error(&err);
            status = 1;
        }
    }
    return status;
}
