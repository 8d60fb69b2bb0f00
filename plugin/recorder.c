/* recorder.c — engine/rotate.c on its own thread (see recorder.h). */
#include <math.h>
#include "error.h"
#include "log.h"
#include "recorder.h"

struct recorder {
    rotator *rot;
    GThread *thread;
    GMutex mu;
    GCond cv;
    GArray *inbox;   /* cn_event pushed since the thread last looked */
    double now;      /* latest session time pushed */
    bool stop;
    long errors;
    GError *first_error;
};

/* Swaps the inbox for an empty one: the pusher never waits on file I/O. */
static GArray *take_inbox(recorder *r, double *now)
{
    GArray *fresh = cn_events_new();
    g_mutex_lock(&r->mu);
    GArray *taken = r->inbox;
    r->inbox = fresh;
    *now = r->now;
    g_mutex_unlock(&r->mu);
    return taken;
}

static void note_error(recorder *r, GError *err)
{
    if (r->errors++ % 60 == 0) log_error("recording: %s", err->message);
    if (!r->first_error) r->first_error = g_error_copy(err);
}

static gpointer recorder_main(gpointer arg)
{
    recorder *r = arg;
    for (;;) {
        g_mutex_lock(&r->mu);
        if (!r->stop) g_cond_wait_until(&r->cv, &r->mu, g_get_monotonic_time() + G_TIME_SPAN_SECOND);
        bool stop = r->stop;
        g_mutex_unlock(&r->mu);
        if (stop) break;
        double now;
        GArray *ev = take_inbox(r, &now);
        rotate_add(r->rot, (const cn_event *)ev->data, ev->len);
        g_array_free(ev, TRUE);
        GError *err = NULL;
        if (!rotate_poll(r->rot, now, &err)) {
            note_error(r, err);
            g_error_free(err);
        }
    }
    return NULL;
}

recorder *recorder_new(const rotate_config *c, GError **err)
{
    rotator *rot = rotate_new(c, err);
    if (!rot) return NULL;
    recorder *r = g_new0(recorder, 1);
    r->rot = rot;
    r->inbox = cn_events_new();
    r->now = -INFINITY;
    g_mutex_init(&r->mu);
    g_cond_init(&r->cv);
    r->thread = g_thread_new("continuo-recorder", recorder_main, r);
    return r;
}

void recorder_push(recorder *r, const cn_event *ev, guint n, double now)
{
    g_mutex_lock(&r->mu);
    g_array_append_vals(r->inbox, ev, n);
    if (now > r->now) r->now = now;
    g_mutex_unlock(&r->mu);
}

long recorder_errors(recorder *r)
{
    g_mutex_lock(&r->mu);
    long e = r->errors;
    g_mutex_unlock(&r->mu);
    return e;
}

gboolean recorder_close(recorder *r, double now, rotate_stats *st, GError **err)
{
    g_mutex_lock(&r->mu);
    r->stop = true;
    g_cond_signal(&r->cv);
    g_mutex_unlock(&r->mu);
    g_thread_join(r->thread);
    rotate_add(r->rot, (const cn_event *)r->inbox->data, r->inbox->len);
    GError *e = NULL;
    if (!rotate_close(r->rot, MAX(now, r->now), &e)) {
        note_error(r, e);
        g_error_free(e);
    }
    gboolean ok = r->first_error == NULL;
    if (!ok) g_propagate_error(err, r->first_error);
    if (st) rotate_get_stats(r->rot, st);
    rotate_free(r->rot);
    g_array_free(r->inbox, TRUE);
    g_mutex_clear(&r->mu);
    g_cond_clear(&r->cv);
    g_free(r);
    return ok;
}
