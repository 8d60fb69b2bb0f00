/* soak.h — the installation on a virtual clock: a solo session driven by
 * the shipped session driver (plugin/driver.h) with the shipped duties
 * (plugin/duties.h: the health watch, the rotating recorder on its thread),
 * pass after pass as the live hosts run it, but as fast as the model allows:
 * the host table is a virtual clock whose output is the meter below. Shared by the soak test
 * (tests/test_soak.c, one simulated hour) and `continuo-bench soak`
 * (tools/bench/bench_soak.c, N hours).
 *
 * Every figure is measured on the released events themselves, by code apart
 * from engine/health.c (the test compares the two). Not real-time safe. */
#ifndef CONTINUO_SOAK_H
#define CONTINUO_SOAK_H

#include <stdbool.h>
#include <glib.h>
#include "health.h"
#include "model.h"
#include "session.h"

typedef struct {
    const model *m;
    session_config session;   /* mode is forced to solo */
    health_config health;
    bool use_health;          /* FALSE: watch only, never respond */
    double seconds;           /* simulated time */
    double dt;                /* s between passes (0.01) */
    double horizon;           /* s handed out ahead of each pass (0.02) */
    const char *record_dir;   /* NULL: no rotating recorder */
    double file_seconds;      /* rotation period (3600) */
    int keep_files;           /* (168) */
    double window;            /* s: note density is measured per window (60) */
    bool keep_pitches;        /* keep every model note-on's pitch (pitches) */
    double poison_every;      /* s: make the logits look non-finite this often (0: never;
                               * tests the session's recovery) */
    void (*progress)(double simulated, void *arg); /* every simulated minute; may be NULL */
    void *progress_arg;
} soak_config;

void soak_config_defaults(soak_config *c);

typedef struct {
    double seconds;             /* simulated */
    long passes, notes, events;
    /* start: after the first simulated minute; end: after the last pass, before
     * the shutdown writes the last file (a one-off peak, on the main thread's
     * heap while the recorder thread's own heap held the earlier writes) */
    long rss_start_kb, rss_end_kb, rss_max_kb;
    double longest_silence;     /* s with no model note sounding */
    int longest_repeat;         /* notes (see health.h for the definition) */
    double density_min, density_max; /* notes per second over a window (full windows) */
    double longest_note;        /* s */
    int hanging;                /* notes still on after the shutdown, or offs without ons */
    int order_errors;           /* events released out of time order or before their pass */
    session_stats session;
    health_stats health;
    long health_silence, health_loop, health_relax, health_crowd;
    long files_written, files_deleted;
    GArray *pitches;            /* guint8, when keep_pitches (free with g_array_free) */
} soak_result;

/* Runs it; FALSE + err if setup or the recorder failed. */
gboolean soak_run(const soak_config *c, soak_result *r, GError **err);

/* Resident set size of this process in KiB (/proc/self/statm); 0 if unknown. */
long soak_rss_kb(void);

#endif
