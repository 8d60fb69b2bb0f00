/* recorder.h — the rotating recorder (engine/rotate.h) on a thread of its
 * own, so that writing and fsyncing a file (tens to hundreds of ms on a slow
 * disk) never delays the thread that generates the music. The generating
 * thread pushes the session's new recording events (a copy under a mutex
 * held for a memcpy) with the current time; the recorder thread wakes every
 * second, adds them to the rotator and lets it cut, checkpoint and prune.
 *
 * recorder_push takes a plain mutex, briefly: fine on a worker thread, NOT
 * in a JACK process callback. The rest is setup code. */
#ifndef CONTINUO_RECORDER_H
#define CONTINUO_RECORDER_H

#include <glib.h>
#include "events.h"
#include "rotate.h"

typedef struct recorder recorder;

/* Creates the rotator (its folder) and starts the thread. NULL + err. */
recorder *recorder_new(const rotate_config *c, GError **err);
/* Events (any thread; not RT safe) and the current time of the session. */
void recorder_push(recorder *r, const cn_event *ev, guint n, double now);
/* Stops the thread, writes the last file (notes ended at `now`), fills *st
 * with the rotator's final figures (st may be NULL), frees.
 * FALSE + err if any write failed during the run or now (the first error). */
gboolean recorder_close(recorder *r, double now, rotate_stats *st, GError **err);

/* Write failures so far (each logged once a minute at most). */
long recorder_errors(recorder *r);

#endif
