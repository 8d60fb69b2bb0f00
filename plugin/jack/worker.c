/* worker.c — the worker thread: input ring -> session -> output ring.
 * See worker.h for the timing rules. */
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "duties.h"
#include "error.h"
#include "token.h"
#include "worker.h"

#define TAKE_MAX 256 /* events moved per session_take_due call */

struct worker {
    jack_host *host;
    session *sess;
    worker_config cfg;
    uint64_t horizon_frames, margin_frames, period;
    uint64_t xruns_seen;        /* the host's xrun count at the last pass */
    uint64_t wide_until;        /* frame until which the margin is one period wider */
    pthread_t thread;
    bool thread_started;

    sem_t wake;         /* posted by the RT thread once per cycle */
    atomic_uint_least64_t wakes;
    atomic_bool stop, panic;
    atomic_bool held;   /* cfg.held until worker_go */
    atomic_bool broken; /* duties_pass said DUTIES_STOP */

    /* worker-thread state */
    cn_event *take; /* TAKE_MAX */
    uint64_t last_input_frame;  /* latest performer event heard */
    bool answered;              /* a model note-on was released since that event */
    bool heard_any;

    GMutex stats_mu;
    worker_stats stats;
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

static void note_released(worker *w, const cn_event *e, uint64_t frame)
{
    if (e->type != CN_EV_NOTE_ON || w->answered || !w->heard_any) return;
    w->answered = true;
    double gap = (double)(frame - w->last_input_frame) / jack_host_rate(w->host);
    if (frame < w->last_input_frame) gap = 0;
    g_mutex_lock(&w->stats_mu);
    worker_stats *st = &w->stats;
    st->answer_gap_last_s = gap;
    st->answer_gap_sum_s += gap;
    if (st->answers == 0 || gap < st->answer_gap_min_s) st->answer_gap_min_s = gap;
    if (gap > st->answer_gap_max_s) st->answer_gap_max_s = gap;
    st->answers++;
    g_mutex_unlock(&w->stats_mu);
}

/* Moves due events [next, next + horizon) (everything when `all`) from the
 * session into the output ring. When the server is gone they go nowhere but
 * the session's recording. */
static uint64_t release(worker *w, uint64_t next, bool all)
{
    jack_host *h = w->host;
    bool dead = jack_host_dead(h);
    double now = jack_host_seconds(h, next);
    double until = all ? INFINITY : jack_host_seconds(h, next + w->horizon_frames);
    uint64_t moved = 0;
    for (;;) {
        size_t space = dead ? TAKE_MAX : jack_host_output_space(h);
        int cap = space < TAKE_MAX ? (int)space : TAKE_MAX;
        if (cap == 0) break; /* the rest stays in the session for the next pass */
        int n = session_take_due(w->sess, now, until, w->take, cap);
        for (int i = 0; i < n; i++) {
            const cn_event *e = &w->take[i];
            uint64_t frame = jack_host_frame_of(h, e->time);
            if (frame < next) frame = next; /* never hand the RT thread the past */
            rt_event ev = {frame, e->type, e->channel, e->a, e->b};
            if (!dead) jack_host_push_output(h, &ev); /* fits: n <= space */
            note_released(w, e, frame);
            if (w->cfg.duties) duties_observe(w->cfg.duties, e);
        }
        moved += (uint64_t)n;
        if (n < cap) break;
    }
    return moved;
}

static void drain_input(worker *w)
{
    jack_host *h = w->host;
    rt_event ev;
    uint64_t n = 0;
    jack_host_drain_sync(h, session_tempo(w->sess)); /* tempo sync (issue 8): before the notes */
    while (jack_host_pop_input(h, &ev)) {
        cn_event e = {jack_host_seconds(h, ev.frame), ev.type, ev.channel, ev.a, ev.b};
        n++;
        session_input(w->sess, &e); /* CC 120/123 panic inside the session */
        if (ev.type == CN_EV_NOTE_ON || ev.type == CN_EV_NOTE_OFF) {
            w->last_input_frame = ev.frame;
            w->heard_any = true;
            w->answered = false;
        }
    }
    if (n) {
        g_mutex_lock(&w->stats_mu);
        w->stats.events_in += n;
        g_mutex_unlock(&w->stats_mu);
    }
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void do_panic(worker *w)
{
    session_panic(w->sess, jack_host_seconds(w->host, next_playable(w)));
    g_mutex_lock(&w->stats_mu);
    w->stats.panics++;
    g_mutex_unlock(&w->stats_mu);
}

/* One pass per cycle: hear the input, hand over the next cycle's events,
 * then generate. Releasing before generating matters: a long step must not
 * make events that were already decided miss their cycle. Generation never
 * writes before what was released (the session's floor), so what this step
 * decides goes out from the next pass on. */
static void pass(worker *w)
{
    drain_input(w);
    if (atomic_exchange(&w->panic, false)) do_panic(w);
    uint64_t next = next_playable(w);
    uint64_t out = release(w, next, false);
    double t0 = now_ms();
    double now = jack_host_seconds(w->host, next);
    session_step(w->sess, now);
    double dt = now_ms() - t0;
    /* Health, the recording's hand-off to the recorder thread (a memcpy: no
     * file I/O here) and a posted preset reload; bounded like the step. */
    if (w->cfg.duties && (duties_pass(w->cfg.duties, w->sess, now) & DUTIES_STOP))
        atomic_store(&w->broken, true);
    g_mutex_lock(&w->stats_mu);
    w->stats.passes++;
    w->stats.events_out += out;
    if (dt > w->stats.step_max_ms) w->stats.step_max_ms = dt;
    w->stats.step_sum_ms += dt;
    g_mutex_unlock(&w->stats_mu);
}

static void *worker_main(void *arg)
{
    worker *w = arg;
    for (;;) {
        while (sem_wait(&w->wake) != 0) {} /* EINTR: wait again */
        while (sem_trywait(&w->wake) == 0) {} /* cycles that went by count once */
        if (atomic_load(&w->stop)) break;
        if (!jack_host_started(w->host) || jack_host_dead(w->host)) continue;
        if (atomic_load(&w->held)) continue;
        pass(w);
    }
    /* Stop: hear what is left, end every note, hand over the note-offs. */
    if (jack_host_started(w->host)) {
        drain_input(w);
        do_panic(w);
        uint64_t out = release(w, next_playable(w), true);
        g_mutex_lock(&w->stats_mu);
        w->stats.events_out += out;
        g_mutex_unlock(&w->stats_mu);
    }
    return NULL;
}

/* ----------------------------------------------------------------------------
 * Setup */

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
    cn_event *take = calloc(TAKE_MAX, sizeof *take);
    if (!w || !take) {
        g_set_error(err, CN_ERROR, CN_ERR_JACK, "worker: out of memory");
        free(w);
        free(take);
        return NULL;
    }
    w->take = take;
    w->host = h;
    w->sess = s;
    w->cfg = *c;
    atomic_store(&w->held, c->held);
    uint32_t rate = jack_host_rate(h);
    w->period = jack_host_period(h);
    w->horizon_frames = c->horizon > 0 ? (uint64_t)(c->horizon * rate + 0.5) : w->period;
    w->margin_frames = w->period / 4;
    if (w->margin_frames < rate / 2000) w->margin_frames = rate / 2000; /* 0.5 ms */
    g_mutex_init(&w->stats_mu);
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
    atomic_store(&w->panic, true);
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
    g_mutex_clear(&w->stats_mu);
    free(w->take);
    free(w);
}

void worker_get_stats(worker *w, worker_stats *st)
{
    g_mutex_lock(&w->stats_mu);
    *st = w->stats;
    g_mutex_unlock(&w->stats_mu);
}
