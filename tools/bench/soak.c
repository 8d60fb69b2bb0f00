/* soak.c — the solo session for simulated hours (see soak.h). */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "error.h"
#include "rotate.h"
#include "session_debug.h"
#include "soak.h"

#define TAKE_CAP 64

void soak_config_defaults(soak_config *c)
{
    memset(c, 0, sizeof *c);
    session_config_defaults(&c->session);
    c->session.mode = SESSION_SOLO;
    health_config_defaults(&c->health, &c->session);
    c->use_health = true;
    c->seconds = 3600;
    c->dt = 0.01;
    c->horizon = 0.02;
    c->file_seconds = 3600;
    c->keep_files = 168;
    c->window = 60;
}

long soak_rss_kb(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    if (!f) return 0;
    long size = 0, resident = 0;
    if (fscanf(f, "%ld %ld", &size, &resident) != 2) resident = 0;
    fclose(f);
    return resident * (sysconf(_SC_PAGESIZE) / 1024);
}

/* ---------------------------------------------------------------------------
 * the independent measures, over released events */

typedef struct {
    int channel;
    bool down[128];
    double on_time[128];
    int sounding;
    double silence_from;
    int run[HEALTH_PERIOD_MAX + 1];
    guint8 hist[HEALTH_PERIOD_MAX];
    long n_notes;
    int period_max;
    double win_start;
    long win_notes;
    double last_time;
} meter;

static void meter_event(meter *mt, soak_result *r, const cn_event *e, double now)
{
    if (e->time < mt->last_time - 1e-9 || e->time < now - 1e-9) r->order_errors++;
    mt->last_time = e->time;
    if ((e->channel & 15) != mt->channel) return;
    int p = e->a & 127;
    if (e->type == CN_EV_NOTE_ON && e->b > 0) {
        if (mt->down[p]) r->hanging++; /* a second on without an off */
        if (mt->sounding == 0 && e->time - mt->silence_from > r->longest_silence)
            r->longest_silence = e->time - mt->silence_from;
        mt->down[p] = true;
        mt->on_time[p] = e->time;
        mt->sounding++;
        r->notes++;
        /* repetition: runs per period, over a ring of the last pitches */
        for (int k = 1; k <= mt->period_max; k++) {
            bool same = mt->n_notes >= k && mt->hist[(mt->n_notes - k) % HEALTH_PERIOD_MAX] == p;
            mt->run[k] = same ? mt->run[k] + 1 : 0;
            if (mt->run[k] > 0 && mt->run[k] + k > r->longest_repeat) r->longest_repeat = mt->run[k] + k;
        }
        mt->hist[mt->n_notes % HEALTH_PERIOD_MAX] = (guint8)p;
        mt->n_notes++;
        guint8 pitch = (guint8)p;
        if (r->pitches) g_array_append_val(r->pitches, pitch);
        mt->win_notes++;
    } else if (e->type == CN_EV_NOTE_OFF || e->type == CN_EV_NOTE_ON) {
        if (!mt->down[p]) {
            r->hanging++; /* an off without an on */
            return;
        }
        mt->down[p] = false;
        if (e->time - mt->on_time[p] > r->longest_note) r->longest_note = e->time - mt->on_time[p];
        if (--mt->sounding == 0) mt->silence_from = e->time;
    }
}

static void meter_window(meter *mt, soak_result *r, double now, double window)
{
    while (now - mt->win_start >= window) {
        double d = mt->win_notes / window;
        if (d < r->density_min) r->density_min = d;
        if (d > r->density_max) r->density_max = d;
        mt->win_start += window;
        mt->win_notes = 0;
    }
}

/* ---------------------------------------------------------------------------
 * the run */

gboolean soak_run(const soak_config *c, soak_result *r, GError **err)
{
    memset(r, 0, sizeof *r);
    r->density_min = INFINITY;
    if (c->keep_pitches) r->pitches = g_array_new(FALSE, FALSE, 1);
    session_config sc = c->session;
    sc.mode = SESSION_SOLO;
    session *s = session_new(&sc, c->m, err);
    if (!s) return FALSE;
    health_config hc = c->health;
    hc.channel = sc.model_channel;
    health *h = health_new(&hc);
    rotator *rot = NULL;
    if (c->record_dir) {
        rotate_config rc;
        rotate_config_defaults(&rc);
        rc.dir = c->record_dir;
        rc.prefix = "soak";
        rc.file_seconds = c->file_seconds;
        rc.keep_files = c->keep_files;
        rot = rotate_new(&rc, err);
        if (!rot) {
            health_free(h);
            session_free(s);
            return FALSE;
        }
    }
    meter mt = {.channel = sc.model_channel, .period_max = hc.loop_period_max,
                .last_time = -INFINITY};
    cn_event take[TAKE_CAP];
    gboolean ok = TRUE;
    double now = 0, next_minute = 60;
    long steps = (long)ceil(c->seconds / c->dt);
    for (long i = 0; i <= steps && ok; i++) {
        now = i * c->dt;
        /* the host's pass: release, generate (worker.c's order) */
        int n;
        while ((n = session_take_due(s, now, now + c->horizon, take, TAKE_CAP)) > 0)
            for (int k = 0; k < n; k++) {
                meter_event(&mt, r, &take[k], now);
                health_observe(h, &take[k]);
                r->events++;
            }
        if (c->poison_every > 0 && i > 0 &&
            floor(now / c->poison_every) > floor((now - c->dt) / c->poison_every))
            session_debug_poison(s);
        session_step(s, now);
        int done = c->use_health ? health_check(h, s, now) : 0;
        if (done & HEALTH_SILENCE) r->health_silence++;
        if (done & HEALTH_LOOP) r->health_loop++;
        if (done & HEALTH_CROWD) r->health_crowd++;
        if (done & HEALTH_RELAX) r->health_relax++;
        meter_window(&mt, r, now, c->window);
        /* the recorder drains the session's recording, keeping memory flat */
        const GArray *rec = session_recording(s);
        if (rec->len >= 256 || (i % 100) == 0) {
            guint len = rec->len;
            if (rot) rotate_add(rot, (const cn_event *)rec->data, len);
            session_recording_drop(s, len);
            if (rot) ok = rotate_poll(rot, now, err);
        }
        long rss = 0;
        if (now >= next_minute) {
            rss = soak_rss_kb();
            if (r->rss_start_kb == 0) r->rss_start_kb = rss;
            if (rss > r->rss_max_kb) r->rss_max_kb = rss;
            if (c->progress) c->progress(now, c->progress_arg);
            next_minute += 60;
        }
        r->passes++;
    }
    /* shutdown as the host does it: panic, every note-off out */
    session_panic(s, now);
    int n;
    while ((n = session_take_due(s, now, INFINITY, take, TAKE_CAP)) > 0)
        for (int k = 0; k < n; k++) {
            meter_event(&mt, r, &take[k], now);
            health_observe(h, &take[k]);
            r->events++;
        }
    if (mt.sounding == 0 && now - mt.silence_from > r->longest_silence) /* a silence at the end */
        r->longest_silence = now - mt.silence_from;
    for (int p = 0; p < 128; p++) r->hanging += mt.down[p];
    if (ok && rot) {
        const GArray *rec = session_recording(s);
        rotate_add(rot, (const cn_event *)rec->data, rec->len);
        session_recording_drop(s, rec->len);
        ok = rotate_close(rot, now, err);
        rotate_stats rs;
        rotate_get_stats(rot, &rs);
        r->files_written = rs.files_done + 1;
        r->files_deleted = rs.files_deleted;
    }
    r->seconds = now;
    r->rss_end_kb = soak_rss_kb();
    if (r->rss_end_kb > r->rss_max_kb) r->rss_max_kb = r->rss_end_kb;
    if (r->rss_start_kb == 0) r->rss_start_kb = r->rss_end_kb;
    if (r->density_min == INFINITY) r->density_min = 0;
    session_get_stats(s, &r->session);
    health_get_stats(h, &r->health);
    rotate_free(rot);
    health_free(h);
    session_free(s);
    return ok;
}
