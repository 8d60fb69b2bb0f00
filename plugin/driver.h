/* driver.h — the session driver: the one loop that every host (the JACK
 * worker thread, plugin/jack/worker.c; the ALSA pump, plugin/pump.c; the LV2
 * worker, plugin/lv2/lv2_work.c) and the installation soak on a virtual
 * clock (tools/bench/soak.c) runs around the session. A host is a small
 * table of calls (its clock, its input, its output) plus its own thread
 * and wake policy; the driver does the rest, in this order, in one pass:
 *
 *   1. the host's tempo sync feed (MIDI clock, transport, time:Position)
 *      into the session's beat clock, before the notes;
 *   2. the performer's events heard -> session_input (which also panics on
 *      CC 120/123);
 *   3. a panic asked for by driver_request_panic (any thread);
 *   4. the session's events due in [next, until) released to the host's
 *      output, never before `next` (the first time the host can still play
 *      in time: each host's own margin, see its header), each also observed
 *      by the installation's duties (plugin/duties.h: the health watch);
 *   5. session_step(next): generate ahead;
 *   6. duties_pass: health responses, recording hand-off, preset reload.
 * Releasing before generating matters: a long step must not make events
 * that were already decided miss their cycle. Generation never writes
 * before what was released (the session's floor), so what this step decides
 * goes out from the next pass on.
 *
 * Shutdown (driver_finish): hear what is left, end every model note
 * (session_panic) and hand every note-off to the host.
 *
 * Times are seconds on the session's clock; the host converts to its own
 * (frames, sequencer ticks). The driver holds no session: the caller's
 * thread owns it and passes it to each call, so a host may swap sessions
 * between passes (the LV2 plugin loading another preset). Not real-time
 * safe (the worker side): never call it from a process callback. */
#ifndef CONTINUO_DRIVER_H
#define CONTINUO_DRIVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "events.h"
#include "session.h"
#include "tempo.h"

struct duties;

typedef struct {
    void *ctx;
    /* Clock: the first time (s) an event handed out now still plays in time;
     * sets *until to the end of this pass's release window (> next). Called
     * once per pass and once at shutdown. */
    double (*next)(void *ctx, double *until);
    /* Input: one performer event (session-clock time) into *ev; false when
     * none is waiting. */
    bool (*pop)(void *ctx, cn_event *ev);
    /* Tempo sync: feeds what the host saw (MIDI clock, transport position)
     * into c, before the input is heard. May be NULL. */
    void (*sync)(void *ctx, tempo_clock *c);
    /* Output: how many events push can take now (0: the rest stays in the
     * session for the next pass). */
    size_t (*space)(void *ctx);
    /* Hands one event to the host; ev->time >= the pass's next. false: the
     * host refused it (counted in push_errors; it is not retried). */
    bool (*push)(void *ctx, const cn_event *ev);
    /* After each release, what was pushed goes to the device. May be NULL. */
    void (*flush)(void *ctx);
} driver_host;

typedef struct {
    /* The installation's duties (plugin/duties.h), or NULL. Owned by the
     * caller; it may outlive the driver (a JACK reconnect starts a new one). */
    struct duties *duties;
} driver_config;

typedef struct driver driver;

/* Copies the table. Allocates its scratch; not RT safe. */
driver *driver_new(const driver_host *host, const driver_config *c);
void driver_free(driver *d);

/* One pass (steps 1-6 above). Returns duties_pass's DUTIES_* bits (0 without
 * duties): DUTIES_STOP means the model broke for good. */
int driver_pass(driver *d, session *s);

/* Shutdown: drains the input, ends every model note (session_panic at the
 * host's next) and hands out everything left, note-offs included, whatever
 * the horizon. Returns that next (s). */
double driver_finish(driver *d, session *s);

/* Asks for a panic at the next pass. Any thread (an atomic flag). */
void driver_request_panic(driver *d);

typedef struct {
    uint64_t passes;
    uint64_t events_in, events_out; /* heard by session_input / taken by the host's push */
    uint64_t push_errors;           /* events the host's push refused */
    uint64_t panics;                /* requested ones (CC panics happen inside the session) */
    double step_max_ms;             /* longest session_step call */
    double step_sum_ms;             /* total time in session_step (mean = sum / passes) */
    /* Answers: for each model note-on that is the first released after some
     * performer note, the gap from that performer event to it (s). */
    uint64_t answers;
    double answer_gap_last_s, answer_gap_min_s, answer_gap_max_s, answer_gap_sum_s;
} driver_stats;
/* Any thread (values may be a pass old). */
void driver_get_stats(driver *d, driver_stats *st);

#endif
