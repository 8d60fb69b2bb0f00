/* worker.h — the worker thread between the JACK process callback and the
 * session: woken once per cycle by the RT thread (sem_post: never a wait; see
 * worker.c for why not trylock + cond_signal), it runs one pass of the
 * session driver (plugin/driver.h): the input ring (and the tempo sync
 * ring) into the session, the session's due events for the next cycle that
 * has not begun into the output ring, session_step, the installation's
 * duties when given (health watch, recording hand-off, preset reload; never
 * file I/O). This file holds the JACK host table: frames <-> seconds and
 * the timing below.
 *
 * Timing: the earliest frame it hands out is the start of the first cycle
 * whose callback has not begun, with a safety margin (a quarter period, at
 * least 0.5 ms) so that an event is in the ring before that callback drains
 * it (a period more for a second after a server xrun, when the driver may run
 * cycles back to back to catch up). Each pass hands out `horizon` from there (default one period): what
 * the RT thread holds always plays, so the horizon bounds how long the model
 * can go on after the performer resumes (one period by default). A pass must
 * therefore come every period: session_step's work is bounded by the
 * session's tokens_per_step, which worker_fit_budget fits to the period.
 * Events a late pass could not hand out in time are dropped by the session
 * (never played late) and counted in its dropped_late.
 *
 * The session is touched only by this thread between worker_new and
 * worker_stop; after worker_stop returns the caller may read it again. */
#ifndef CONTINUO_WORKER_H
#define CONTINUO_WORKER_H

#include <stdbool.h>
#include <stdint.h>
#include <glib.h>
#include "driver.h"
#include "jack_client.h"
#include "session.h"

typedef struct worker worker;

typedef struct {
    double horizon;   /* s handed to the RT thread beyond the next cycle (<= 0: one period) */
    bool realtime;    /* run with SCHED_FIFO below JACK's RT thread when allowed */
    bool verbose;
    /* Start held: no pass (nothing heard, generated or played) until
     * worker_go, so that connections made after activation hear the model
     * from its first note. */
    bool held;
    /* The installation's duties (plugin/duties.h), or NULL: each released
     * event observed, duties_pass after each session_step. Owned by the
     * caller (it outlives workers: a reconnect starts a new worker). */
    struct duties *duties;
} worker_config;

void worker_config_defaults(worker_config *c);

/* Caps cfg->tokens_per_step so that one session_step fits in about half a
 * period: times a few model_forward calls on a scratch state of m (before
 * the jam starts; allocates). Returns the measured ms per token. Not RT safe. */
double worker_fit_budget(session_config *cfg, const model *m, double period_s);

/* Starts the thread and registers worker_wake with the host (before the host
 * is activated). Not RT safe. */
worker *worker_new(jack_host *h, session *s, const worker_config *c, GError **err);

/* The RT thread's wake-up: one sem_post; never waits. RT safe. */
void worker_wake(void *w);

/* Lets a worker made with cfg.held begin its passes (from the next cycle).
 * Any thread; not RT safe. */
void worker_go(worker *w);

/* Asks for a panic at the next pass (any thread; e.g. a signal handler's
 * thread or a control surface). Not RT safe (takes no lock, but wakes). */
void worker_request_panic(worker *w);

/* True once duties_pass returned DUTIES_STOP (the model broke for good):
 * the caller should stop the jam with status 1. Any thread. */
bool worker_broken(worker *w);

/* Ends every sounding model note (session_panic), hands the note-offs to
 * the host (or only to the recording when the server is gone), and joins the
 * thread. Not RT safe; call once. */
void worker_stop(worker *w);
void worker_free(worker *w);

/* passes, events in and out, panics, session_step time, answer gaps. */
typedef driver_stats worker_stats;
/* Safe from any thread (values may be a pass old). */
void worker_get_stats(worker *w, worker_stats *st);

#endif
