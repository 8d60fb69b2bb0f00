/* worker.c — the worker thread: the session driver (plugin/driver.h) between
 * the input ring and the output ring. See worker.h for the timing rules. */
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "driver.h"
#include "duties.h"
#include "error.h"
#include "token.h"
#include "worker.h"

struct worker {
    jack_host *host;
    session *sess;
    driver *drv;
    worker_config cfg;
    uint64_t horizon_frames, margin_frames, period;
    uint64_t xruns_seen;        /* the host's xrun count at the last pass */
    uint64_t wide_until;        /* frame until which the margin is one period wider */
    uint64_t next_frame;        /* the pass's first playable frame */
    pthread_t thread;
    bool thread_started;

    sem_t wake;         /* posted by the RT thread once per cycle */
    atomic_uint_least64_t wakes;
    atomic_bool stop;
    atomic_bool held;   /* cfg.held until worker_go */
    atomic_bool broken; /* duties_pass said DUTIES_STOP */
};

void worker_config_defaults(worker_config *c)
{
    memset(c, 0, sizeof *c);
    c->horizon = 0; /* one period */
    c->realtime = true;
}

/* ----------------------------------------------------------------------------
 * RT side */

void worker_wake(void *arg)
{
    worker *w = arg;
    atomic_fetch_add_explicit(&w->wakes, 1, memory_order_release);
    /* A semaphore rather than the trylock + pthread_cond_signal of the JACK
     * examples: glibc's pthread_cond_signal may wait (futex) for a waiter
     * that was woken but has not run yet, which for a worker below the RT
     * thread's priority is a priority inversion. sem_post is an atomic
     * increment plus, only when the worker sleeps, one futex wake: it never
     * waits, and a post is never lost (no timed wait needed). */
    sem_post(&w->wake);
}

/* ----------------------------------------------------------------------------
 * Worker thread */

/* First frame still safe to hand out: the start of the first cycle whose
 * callback has not begun and will not begin within the margin. */
static uint64_t next_playable(worker *w)
{
    uint64_t cycle = jack_host_cycle_frame(w->host);
    uint64_t now = jack_host_frame_now(w->host);
    /* For a second after a server xrun the driver may run cycles back to
     * back to catch up: aim one period further then. */
    uint64_t xr = jack_host_xruns(w->host);
    if (xr != w->xruns_seen) {
        w->xruns_seen = xr;
        w->wide_until = now + jack_host_rate(w->host);
    }
    uint64_t margin = w->margin_frames + (now < w->wide_until ? w->period : 0);
    uint64_t next = cycle + w->period;
    while (next < now + margin) next += w->period;
    return next;
}

/* ----------------------------------------------------------------------------
 * The driver's host table (plugin/driver.h) */

static double host_next(void *ctx, double *until)
{
    worker *w = ctx;
    w->next_frame = next_playable(w);
    *until = jack_host_seconds(w->host, w->next_frame + w->horizon_frames);
    return jack_host_seconds(w->host, w->next_frame);
}

static bool host_pop(void *ctx, cn_event *e)
{
    worker *w = ctx;
    rt_event ev;
    if (!jack_host_pop_input(w->host, &ev)) return false;
    *e = (cn_event){jack_host_seconds(w->host, ev.frame), ev.type, ev.channel, ev.a, ev.b};
    return true;
}

static void host_sync(void *ctx, tempo_clock *c) { jack_host_drain_sync(((worker *)ctx)->host, c); }

/* When the server is gone the events go nowhere but the session's recording. */
static size_t host_space(void *ctx)
{
    worker *w = ctx;
    return jack_host_dead(w->host) ? SIZE_MAX : jack_host_output_space(w->host);
}

static bool host_push(void *ctx, const cn_event *e)
{
    worker *w = ctx;
    if (jack_host_dead(w->host)) return true;
    uint64_t frame = jack_host_frame_of(w->host, e->time);
    if (frame < w->next_frame) frame = w->next_frame; /* rounding: never the past */
    rt_event ev = {frame, e->type, e->channel, e->a, e->b};
    return jack_host_push_output(w->host, &ev); /* fits: the driver asked host_space */
}

/* ----------------------------------------------------------------------------
 * Worker thread */

static void *worker_main(void *arg)
{
    worker *w = arg;
    for (;;) {
        while (sem_wait(&w->wake) != 0) {} /* EINTR: wait again */
        while (sem_trywait(&w->wake) == 0) {} /* cycles that went by count once */
        if (atomic_load(&w->stop)) break;
        if (!jack_host_started(w->host) || jack_host_dead(w->host)) continue;
        if (atomic_load(&w->held)) continue;
        if (driver_pass(w->drv, w->sess) & DUTIES_STOP) atomic_store(&w->broken, true);
    }
    /* Stop: hear what is left, end every note, hand over the note-offs. */
    if (jack_host_started(w->host)) driver_finish(w->drv, w->sess);
    return NULL;
}

/* ----------------------------------------------------------------------------
 * Setup */

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

double worker_fit_budget(session_config *cfg, const model *m, double period_s)
{
    GError *err = NULL;
    model_state *st = model_state_new(m, &err);
    if (!st) {
        g_clear_error(&err);
        return 0;
    }
    /* Time single-token forwards with a quarter of the context filled
     * (attention grows with it): a mid-jam cost rather than the empty-cache
     * best case, without a long prefill at startup. */
    int ctx = model_get_config(m)->seq_len / 4;
    int *toks = g_new(int, ctx > 0 ? ctx : 1);
    for (int i = 0; i < ctx; i++) toks[i] = i % 4 ? TOK_TIME_SHIFT + 1 + i % 50 : TOK_NOTE_ON + 60 + i % 12;
    if (ctx > 0) model_prefill(st, toks, ctx);
    g_free(toks);
    const int reps = 8;
    double t0 = now_ms();
    for (int i = 0; i < reps; i++) model_forward(st, TOK_TIME_SHIFT + 10);
    double per_token = (now_ms() - t0) / reps;
    model_state_free(st);
    int budget = per_token > 0 ? (int)(0.5 * period_s * 1e3 / per_token) : cfg->tokens_per_step;
    if (budget < 1) budget = 1;
    if (budget < cfg->tokens_per_step) cfg->tokens_per_step = budget;
    return per_token;
}

worker *worker_new(jack_host *h, session *s, const worker_config *c, GError **err)
{
    worker *w = calloc(1, sizeof *w);
    if (!w) {
        g_set_error(err, CN_ERROR, CN_ERR_JACK, "worker: out of memory");
        return NULL;
    }
    w->host = h;
    w->sess = s;
    w->cfg = *c;
    atomic_store(&w->held, c->held);
    uint32_t rate = jack_host_rate(h);
    w->period = jack_host_period(h);
    w->horizon_frames = c->horizon > 0 ? (uint64_t)(c->horizon * rate + 0.5) : w->period;
    w->margin_frames = w->period / 4;
    if (w->margin_frames < rate / 2000) w->margin_frames = rate / 2000; /* 0.5 ms */
    driver_host dh = {w, host_next, host_pop, host_sync, host_space, host_push, NULL};
    driver_config dc = {.duties = c->duties};
    w->drv = driver_new(&dh, &dc);
    sem_init(&w->wake, 0, 0);

    pthread_attr_t attr;
    pthread_attr_init(&attr);
    int rc = -1;
    int jack_prio = jack_host_rt_priority(h);
    if (c->realtime && jack_prio > 1) {
        /* Strictly below JACK's process thread (at an equal FIFO priority a
         * long step would hold it off: xruns), above every ordinary job, so
         * other work on a shared machine cannot starve the model. */
        struct sched_param sp = {.sched_priority = jack_prio - 1};
        pthread_attr_setinheritsched(&attr, PTHREAD_EXPLICIT_SCHED);
        pthread_attr_setschedpolicy(&attr, SCHED_FIFO);
        pthread_attr_setschedparam(&attr, &sp);
        rc = pthread_create(&w->thread, &attr, worker_main, w);
        if (rc != 0 && c->verbose)
            fprintf(stderr, "continuo: worker runs without realtime priority (%s)\n", strerror(rc));
    }
    if (rc != 0) {
        pthread_attr_destroy(&attr);
        pthread_attr_init(&attr);
        rc = pthread_create(&w->thread, &attr, worker_main, w);
    }
    pthread_attr_destroy(&attr);
    if (rc != 0) {
        g_set_error(err, CN_ERROR, CN_ERR_JACK, "worker: cannot start its thread: %s", strerror(rc));
        worker_free(w);
        return NULL;
    }
    w->thread_started = true;
    jack_host_set_wake(h, worker_wake, w);
    return w;
}

bool worker_broken(worker *w) { return atomic_load(&w->broken); }

void worker_go(worker *w) { atomic_store(&w->held, false); }

void worker_request_panic(worker *w)
{
    driver_request_panic(w->drv);
    worker_wake(w);
}

void worker_stop(worker *w)
{
    if (!w->thread_started) return;
    atomic_store(&w->stop, true);
    sem_post(&w->wake);
    pthread_join(w->thread, NULL);
    w->thread_started = false;
}

void worker_free(worker *w)
{
    if (!w) return;
    worker_stop(w);
    sem_destroy(&w->wake);
    driver_free(w->drv);
    free(w);
}

void worker_get_stats(worker *w, worker_stats *st) { driver_get_stats(w->drv, st); }
