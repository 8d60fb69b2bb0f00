/* pump.c — the session loop for schedule-ahead hosts (see pump.h). */
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>
#include "driver.h"
#include "duties.h"
#include "error.h"
#include "log.h"
#include "pump.h"

#define IN_MAX 256

struct pump {
    pump_config cfg;
    session *s;
    pump_host host;
    duties *d;
    driver *drv;
    atomic_int stop, reload;
    double now;     /* host time after the latest wait */
    double last_in; /* latest input time (inputs must not go back) */
    cn_event in[IN_MAX];
    int n_in, i_in; /* events from the latest wait, and how many were heard */
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

/* ---------------------------------------------------------------------------
 * the driver's host table (plugin/driver.h) */

/* Events due from now + margin: the sequencer queues them with their times. */
static double host_next(void *ctx, double *until)
{
    pump *p = ctx;
    double t = p->host.now(p->host.ctx) + p->cfg.margin;
    *until = t + p->cfg.horizon;
    return t;
}

/* The latest wait's input, times clamped to be non-decreasing and not
 * after the clock. */
static bool host_pop(void *ctx, cn_event *e)
{
    pump *p = ctx;
    if (p->i_in >= p->n_in) return false;
    *e = p->in[p->i_in++];
    if (!(e->time <= p->now)) e->time = p->now;
    if (e->time < p->last_in) e->time = p->last_in;
    p->last_in = e->time;
    return true;
}

static size_t host_space(void *ctx) { return SIZE_MAX; }

static bool host_push(void *ctx, const cn_event *e)
{
    pump *p = ctx;
    if (e->time < p->host.now(p->host.ctx)) p->st.late++;
    GError *err = NULL;
    if (p->host.send(p->host.ctx, e, &err)) return true;
    if (p->st.send_errors++ == 0) log_error("%s", err ? err->message : "send failed");
    g_clear_error(&err);
    return false;
}

static void host_flush(void *ctx)
{
    pump *p = ctx;
    if (p->host.flush) p->host.flush(p->host.ctx);
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
    driver_host dh = {p, host_next, host_pop, NULL, host_space, host_push, host_flush};
    driver_config dcfg = {.duties = d};
    p->drv = driver_new(&dh, &dcfg);
    return p;
}

void pump_free(pump *p)
{
    if (!p) return;
    driver_free(p->drv);
    duties_free(p->d);
    g_free(p);
}

void pump_stop(pump *p) { atomic_store(&p->stop, 1); }
void pump_request_reload(pump *p) { atomic_store(&p->reload, 1); }
void pump_request_panic(pump *p) { driver_request_panic(p->drv); }

void pump_get_stats(const pump *p, pump_stats *st)
{
    *st = p->st;
    driver_stats dst;
    driver_get_stats(p->drv, &dst);
    st->passes = (long)dst.passes;
    st->events_in = (long)dst.events_in;
    st->events_out = (long)dst.events_out;
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
    double start = p->host.now(p->host.ctx);
    for (;;) {
        GError *err = NULL;
        p->n_in = p->host.wait(p->host.ctx, p->cfg.pass, p->in, IN_MAX, &err);
        p->i_in = 0;
        p->now = p->host.now(p->host.ctx);
        if (p->n_in < 0) {
            p->n_in = 0;
            log_error("%s", err ? err->message : "the host failed");
            g_clear_error(&err);
            status = 1;
            break;
        }
        if (p->cfg.signals) take_signals(p);
        if (atomic_exchange(&p->reload, 0)) do_reload(p);
        if (driver_pass(p->drv, p->s) & DUTIES_STOP) status = 1, atomic_store(&p->stop, 1);
        if (p->st.send_errors > 100) {
            log_error("the host refuses events (%ld errors): stopping", p->st.send_errors);
            status = 1; /* a host that cannot take events any more */
            break;
        }
        if (p->cfg.duration > 0 && p->now - start >= p->cfg.duration) break;
        if (atomic_load(&p->stop)) break;
    }

    /* The way out: every note ends, on the host and in the recording. */
    double t = driver_finish(p->drv, p->s);
    if (p->host.finish) p->host.finish(p->host.ctx, 1.0);
    double end = MAX(p->host.now(p->host.ctx), t);
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
