/* pump.h — the session loop for hosts that schedule ahead (the ALSA
 * sequencer): one thread waits for the host's input and runs the session
 * driver's pass (plugin/driver.h: hear the input, hand the session's due
 * events to the host with their times, generate, the installation's duties:
 * health watch, rotating recorder, preset reload), and takes the signals.
 * Everything above the host's own calls lives here, so a test can drive it
 * with a fake host on a virtual clock (tests/test_pump.c), and the ALSA
 * client (plugin/alsa/alsa_client.c) is only the calls to libasound.
 *
 * Unlike JACK, such a host has no process callback: it queues an event with
 * a timestamp and its own timer plays it. So each pass hands out the events
 * due in [now + margin, now + margin + horizon), and the pump may block in
 * the host's wait (input or timeout) between passes.
 *
 * A pass (at most `pass` seconds apart, sooner when input arrives):
 *   1. signals: SIGINT/SIGTERM stop, SIGHUP reads the preset again
 *      (cfg.reload, on this thread) for the duties to apply in this pass;
 *   2. the driver's pass at next = now + margin: input heard (times clamped
 *      to be non-decreasing and not after now), due events -> host send,
 *      session_step(next), the duties' pass (health responses, the reloaded
 *      preset applied without a gap, and every second the session's
 *      recording handed to the recorder thread, plugin/recorder.c: file I/O
 *      never delays generation).
 * On the way out (stop, --duration, host failure, a broken model): panic,
 * every note-off sent, the host's finish (let its queue play them), the
 * recording written. Not real-time safe: it is the worker side. */
#ifndef CONTINUO_PUMP_H
#define CONTINUO_PUMP_H

#include <stdbool.h>
#include <glib.h>
#include "events.h"
#include "health.h"
#include "rotate.h"
#include "session.h"

typedef struct {
    void *ctx;
    /* The host's clock, seconds (the same clock as input and send times). */
    double (*now)(void *ctx);
    /* Waits up to timeout s for input; fills at most cap events (host-clock
     * times) and returns how many; < 0 when the host has failed for good
     * (err set). May return early with 0. */
    int (*wait)(void *ctx, double timeout, cn_event *in, int cap, GError **err);
    /* Queues one event to sound at ev->time (>= now). FALSE + err on failure. */
    gboolean (*send)(void *ctx, const cn_event *ev, GError **err);
    /* Pushes what send queued to the device (may be NULL). */
    void (*flush)(void *ctx);
    /* At shutdown, after the last send: returns once everything queued has
     * played, or after at most `limit` s (may be NULL). */
    void (*finish)(void *ctx, double limit);
} pump_host;

typedef struct {
    double pass;         /* s: longest wait between passes (0.005) */
    double margin;       /* s: the earliest time handed out is now + margin (0.01) */
    double horizon;      /* s handed out per pass beyond that (0.05) */
    double duration;     /* s: stop after this long (0: until a signal) */
    bool signals;        /* take SIGINT/SIGTERM/SIGHUP (the caller blocks them first) */
    bool use_health;     /* run the health watch and its responses */
    health_config health;
    const rotate_config *rotate; /* NULL: no rotating recorder */
    const char *record;  /* write the whole jam to this .mid at the end (NULL: none) */
    /* SIGHUP: fills *c with the reloaded preset (and the command line's
     * overrides); FALSE + err leaves the session as it is. May be NULL. */
    gboolean (*reload)(void *arg, session_config *c, GError **err);
    void *reload_arg;
} pump_config;

void pump_config_defaults(pump_config *c);

typedef struct pump pump;

/* Does not take ownership of s or host->ctx. NULL + err if the rotator's
 * folder cannot be made. Not RT safe. */
pump *pump_new(const pump_config *c, session *s, const pump_host *host, GError **err);
void pump_free(pump *p);

/* Runs passes until stopped; then shuts down as above. Returns the exit
 * status: 0 stopped by a signal, pump_stop or the duration; 1 the host
 * failed, the model broke, or the recording could not be written (each
 * logged on one line). */
int pump_run(pump *p);

/* From any thread or a signal handler (async-signal-safe: sets a flag). */
void pump_stop(pump *p);
void pump_request_reload(pump *p);
void pump_request_panic(pump *p);

typedef struct {
    long passes, events_in, events_out;
    long late;          /* handed to the host after their time (should stay 0) */
    long send_errors;
    long reloads, reload_errors;
    long health_silence, health_loop, health_relax, health_crowd;
    long rotate_errors;
    double end_time;    /* host time at the end */
} pump_stats;
void pump_get_stats(const pump *p, pump_stats *st);

#endif
