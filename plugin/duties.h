/* duties.h — the installation's duties, done on the session's own thread
 * once per pass whatever the host (the session driver, plugin/driver.c,
 * calls them for the JACK worker, the ALSA pump and the soak):
 *   - the health watch (engine/health.h): each released event observed,
 *     responses applied to the session, a broken model reported;
 *   - the rotating recording: every second the session's new recording
 *     events go to the recorder thread (plugin/recorder.h) and, unless the
 *     whole jam is also kept for a final .mid, are dropped from the session
 *     so that memory stays flat for days;
 *   - SIGHUP: a reloaded preset posted from any thread (duties_post_reload,
 *     e.g. the main loop that took the signal and ran jam_preset_load) is
 *     applied at the next pass with session_apply_config, without a gap.
 *
 * In the driver's pass:
 *     for each event released: duties_observe(d, &ev);
 *     session_step(s, now);
 *     if (duties_pass(d, s, now) & DUTIES_STOP) ...stop the jam, exit status 1...
 * and after the host has stopped: duties_finish(d, s, end, &err).
 * duties_observe and duties_pass never block on I/O (the recorder has its
 * thread; the reload box is only tried); they are not RT safe (a mutex, some
 * allocation): worker thread, never a process callback. */
#ifndef CONTINUO_DUTIES_H
#define CONTINUO_DUTIES_H

#include <stdbool.h>
#include <glib.h>
#include "events.h"
#include "health.h"
#include "rotate.h"
#include "session.h"

typedef struct {
    bool use_health;
    health_config health;         /* its channel: the session's model_channel */
    const rotate_config *rotate;  /* NULL: no rotating recording */
    bool keep_recording;          /* the session keeps every event (a final .mid is wanted) */
} duties_config;

void duties_config_defaults(duties_config *c, const session_config *sc);

typedef struct duties duties;

/* Starts the recorder thread when rotating. NULL + err (the folder). */
duties *duties_new(const duties_config *c, GError **err);
/* Stops the recorder without a last write if duties_finish was not called. */
void duties_free(duties *d);

void duties_observe(duties *d, const cn_event *ev);

enum { DUTIES_STOP = 1, DUTIES_RELOADED = 2, DUTIES_RESPONDED = 4 };
/* Health, recording hand-off (each second of `now`), reload; returns the
 * DUTIES_* bits. Each response and reload is logged (plugin/log.h). */
int duties_pass(duties *d, session *s, double now);

/* Any thread. */
void duties_post_reload(duties *d, const session_config *c);

/* The last recording events and the last file (notes ended at `end`).
 * FALSE + err if any recording write failed during the run. */
gboolean duties_finish(duties *d, session *s, double end, GError **err);

typedef struct {
    long health_silence, health_loop, health_relax, health_crowd;
    long reloads, reload_errors;
    long record_errors;
    long files_done, files_deleted; /* rotated files cut and pruned (after duties_finish) */
    bool broken;
} duties_stats;
void duties_get_stats(const duties *d, duties_stats *st);
void duties_get_health(const duties *d, health_stats *st);

#endif
