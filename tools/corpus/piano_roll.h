/* piano_roll.h — a piano roll of two note lists as an SVG file (text, no
 * library): the first list (primer or performer) and the second (the model)
 * in two colours, time in seconds across, pitch upward, a line where the
 * model's part begins. Not real-time safe. */
#ifndef CONTINUO_PIANO_ROLL_H
#define CONTINUO_PIANO_ROLL_H

#include <glib.h>
#include "music_metrics.h"

typedef struct {
    const char *title;
    const char *label_a, *label_b; /* legend, e.g. "primer", "model" */
    double t0, t1;                 /* s shown */
    double split;                  /* s: a vertical line here (< t0: none) */
} piano_roll_opts;

gboolean piano_roll_write_svg(const char *path, const mm_note *a, int na, const mm_note *b,
                              int nb, const piano_roll_opts *o, GError **err);

#endif
