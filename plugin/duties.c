/* duties.c — health, rotating recording and preset reload on the session's
 * thread (see duties.h). */
#include <math.h>
#include <string.h>
#include "duties.h"
#include "error.h"
#include "log.h"
#include "recorder.h"
#include "reload.h"

struct duties {
    duties_config cfg;
    health *h;
    recorder *rec;
    reload_box *box;
    double last_handoff;
    duties_stats st;
};

void duties_config_defaults(duties_config *c, const session_config *sc)
{
    memset(c, 0, sizeof *c);
    c->use_health = true;
    health_config_defaults(&c->health, sc);
}

duties *duties_new(const duties_config *c, GError **err)
{
    duties *d = g_new0(duties, 1);
    d->cfg = *c;
    d->h = health_new(&c->health);
    d->box = reload_box_new();
    d->last_handoff = -INFINITY;
    if (c->rotate) {
        d->rec = recorder_new(c->rotate, err);
        if (!d->rec) {
            duties_free(d);
            return NULL;
        }
    }
    return d;
}

void duties_free(duties *d)
{
    if (!d) return;
    if (d->rec) recorder_close(d->rec, -INFINITY, NULL, NULL);
    health_free(d->h);
    reload_box_free(d->box);
    g_free(d);
}

void duties_observe(duties *d, const cn_event *ev) { health_observe(d->h, ev); }

void duties_post_reload(duties *d, const session_config *c) { reload_box_post(d->box, c); }

static void handoff(duties *d, session *s, double now)
{
    if (!d->rec) return;
    const GArray *rec = session_recording(s);
    guint n = rec->len;
    recorder_push(d->rec, (const cn_event *)rec->data, n, now);
    if (!d->cfg.keep_recording) session_recording_drop(s, n);
}

static int health_pass(duties *d, session *s, double now)
{
    if (!d->cfg.use_health) return 0;
    int done = health_check(d->h, s, now), out = 0;
    if (!done) return 0;
    health_stats hs;
    health_get_stats(d->h, &hs);
    if (done & HEALTH_SILENCE) {
        d->st.health_silence++;
        log_info("health: silent for over %.1f s: density raised to %.2f",
                 d->cfg.health.silence_limit, hs.density);
        out |= DUTIES_RESPONDED;
    }
    if (done & HEALTH_CROWD) {
        d->st.health_crowd++;
        log_info("health: %.1f notes/s over %.0f s: density lowered to %.2f", hs.crowd_rate,
                 d->cfg.health.crowd_window, hs.density);
        out |= DUTIES_RESPONDED;
    }
    if (done & HEALTH_LOOP) {
        d->st.health_loop++;
        log_info("health: %d notes repeat: temperature raised to %.2f", hs.current_repeat,
                 hs.temperature);
        out |= DUTIES_RESPONDED;
    }
    if (done & HEALTH_RELAX) {
        d->st.health_relax++;
        log_debug("health: controls back to temperature %.2f, density %.2f", hs.temperature,
                  hs.density);
    }
    if (done & HEALTH_BROKEN) {
        d->st.broken = true;
        log_error("health: the model gives non-finite values even after a reset; stopping so "
                  "that the service manager restarts continuo");
        out |= DUTIES_STOP;
    }
    return out;
}

int duties_pass(duties *d, session *s, double now)
{
    int out = health_pass(d, s, now);
    if (now - d->last_handoff >= 1.0) {
        d->last_handoff = now;
        handoff(d, s, now);
    }
    session_config c;
    if (reload_box_take(d->box, &c)) {
        GError *err = NULL;
        if (session_apply_config(s, &c, now, &err)) {
            d->st.reloads++;
            log_info("SIGHUP: preset reloaded (%s mode, temperature %.2f)",
                     session_mode_name(c.mode), c.sampling.temperature);
            out |= DUTIES_RELOADED;
        } else {
            d->st.reload_errors++;
            log_error("SIGHUP: preset not applied: %s", err->message);
            g_clear_error(&err);
        }
    }
    return out;
}

gboolean duties_finish(duties *d, session *s, double end, GError **err)
{
    if (!d->rec) return TRUE;
    handoff(d, s, end);
    d->st.record_errors = recorder_errors(d->rec);
    rotate_stats rs;
    gboolean ok = recorder_close(d->rec, end, &rs, err);
    d->st.files_done = rs.files_done;
    d->st.files_deleted = rs.files_deleted;
    d->rec = NULL;
    return ok;
}

void duties_get_stats(const duties *d, duties_stats *st)
{
    *st = d->st;
    if (d->rec) st->record_errors = recorder_errors(d->rec);
}

void duties_get_health(const duties *d, health_stats *st) { health_get_stats(d->h, st); }
