/* soak.c — the solo session for simulated hours (see soak.h). */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "driver.h"
#include "duties.h"
#include "error.h"
#include "log.h"
#include "rotate.h"
#include "session_debug.h"
#include "soak.h"

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
 * the host: a virtual clock for the session driver (plugin/driver.h) */

typedef struct {
    const soak_config *c;
    soak_result *r;
    meter mt;
    double now; /* the pass's time */
} soak_host;

static double host_next(void *ctx, double *until)
{
    soak_host *h = ctx;
    *until = h->now + h->c->horizon;
    return h->now;
}

static bool host_pop(void *ctx, cn_event *e) { return false; } /* solo: nobody plays */

static size_t host_space(void *ctx) { return SIZE_MAX; }

static bool host_push(void *ctx, const cn_event *e)
{
    soak_host *h = ctx;
    meter_event(&h->mt, h->r, e, h->now);
    h->r->events++;
    return true;
}

/* The duties as the installation runs them: the health watch (responding or
 * only watching) and, with a folder, the rotating recorder on its thread. */
static duties *soak_duties(const soak_config *c, const session_config *sc, rotate_config *rc,
                           GError **err)
{
    duties_config dc;
    duties_config_defaults(&dc, sc);
    dc.use_health = c->use_health;
    dc.health = c->health;
    dc.health.channel = sc->model_channel;
    if (c->record_dir) {
        rotate_config_defaults(rc);
        rc->dir = c->record_dir;
        rc->prefix = "soak";
        rc->file_seconds = c->file_seconds;
        rc->keep_files = c->keep_files;
        dc.rotate = rc;
    }
    return duties_new(&dc, err);
}

static void soak_minute(const soak_config *c, soak_result *r, double now)
{
    long rss = soak_rss_kb();
    if (r->rss_start_kb == 0) r->rss_start_kb = rss;
    if (rss > r->rss_max_kb) r->rss_max_kb = rss;
    if (c->progress) c->progress(now, c->progress_arg);
}

/* After the shutdown: what the meter and the duties saw. */
static gboolean soak_results(soak_host *h, session *s, duties *d, GError **err)
{
    soak_result *r = h->r;
    double now = h->now;
    if (h->mt.sounding == 0 && now - h->mt.silence_from > r->longest_silence) /* a silence at the end */
        r->longest_silence = now - h->mt.silence_from;
    for (int p = 0; p < 128; p++) r->hanging += h->mt.down[p];
    gboolean ok = duties_finish(d, s, now, err);
    duties_stats ds;
    duties_get_stats(d, &ds);
    r->health_silence = ds.health_silence;
    r->health_loop = ds.health_loop;
    r->health_crowd = ds.health_crowd;
    r->health_relax = ds.health_relax;
    duties_get_health(d, &r->health);
    if (h->c->record_dir) {
        r->files_written = ds.files_done + 1;
        r->files_deleted = ds.files_deleted;
    }
    r->seconds = now;
    if (r->rss_end_kb > r->rss_max_kb) r->rss_max_kb = r->rss_end_kb;
    if (r->rss_start_kb == 0) r->rss_start_kb = r->rss_end_kb;
    if (r->density_min == INFINITY) r->density_min = 0;
    session_get_stats(s, &r->session);
    return ok;
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
    rotate_config rc;
    duties *d = soak_duties(c, &sc, &rc, err);
    if (!d) {
        session_free(s);
        return FALSE;
    }
    /* health responses are counted in the result, not logged line by line */
    log_level level = log_get_level();
    if (level == CN_LOG_INFO) log_set_level(CN_LOG_WARN);
    soak_host h = {c, r, {.channel = sc.model_channel, .period_max = c->health.loop_period_max,
                          .last_time = -INFINITY}, 0};
    driver_host dh = {&h, host_next, host_pop, NULL, host_space, host_push, NULL};
    driver_config dcfg = {.duties = d};
    driver *drv = driver_new(&dh, &dcfg);
    double next_minute = 60;
    long steps = (long)ceil(c->seconds / c->dt);
    for (long i = 0; i <= steps; i++) {
        h.now = i * c->dt;
        if (c->poison_every > 0 && i > 0 &&
            floor(h.now / c->poison_every) > floor((h.now - c->dt) / c->poison_every))
            session_debug_poison(s);
        driver_pass(drv, s); /* a broken model is counted in the session's stats */
        meter_window(&h.mt, r, h.now, c->window);
        /* without a recorder the recording goes nowhere: memory stays flat */
        if (!c->record_dir && i % 100 == 0) session_recording_drop(s, session_recording(s)->len);
        if (h.now >= next_minute) {
            soak_minute(c, r, h.now);
            next_minute += 60;
        }
        r->passes++;
    }
    r->rss_end_kb = soak_rss_kb(); /* before the shutdown's one-off write of the last file */
    driver_finish(drv, s); /* shutdown as the host does it: panic, every note-off out */
    gboolean ok = soak_results(&h, s, d, err);
    log_set_level(level);
    driver_free(drv);
    duties_free(d);
    session_free(s);
    return ok;
}
