/* piano_roll.c — two note lists as an SVG piano roll (see piano_roll.h). */
#include <math.h>
#include <stdio.h>
#include "error.h"
#include "piano_roll.h"

#define PX_PER_S 40.0
#define PX_PER_KEY 4.0
#define MARGIN_L 40.0
#define MARGIN_T 28.0
#define MARGIN_B 30.0

static void pitch_range(const mm_note *a, int na, const mm_note *b, int nb, int *lo, int *hi)
{
    *lo = 127;
    *hi = 0;
    for (int i = 0; i < na; i++) { *lo = MIN(*lo, a[i].pitch); *hi = MAX(*hi, a[i].pitch); }
    for (int i = 0; i < nb; i++) { *lo = MIN(*lo, b[i].pitch); *hi = MAX(*hi, b[i].pitch); }
    if (*lo > *hi) { *lo = 48; *hi = 72; }
    *lo = MAX(0, *lo - 2);
    *hi = MIN(127, *hi + 2);
}

static void notes_svg(GString *s, const mm_note *n, int count, double t0, double t1, int hi,
                      const char *colour)
{
    for (int i = 0; i < count; i++) {
        double on = MAX(n[i].on, t0), off = MIN(n[i].off, t1);
        if (off < on) continue;
        double w = MAX((off - on) * PX_PER_S, 1.0);
        g_string_append_printf(s, "<rect x='%.1f' y='%.1f' width='%.1f' height='%.1f' fill='%s' "
                               "fill-opacity='%.2f'/>\n", MARGIN_L + (on - t0) * PX_PER_S,
                               MARGIN_T + (hi - n[i].pitch) * PX_PER_KEY, w, PX_PER_KEY,
                               colour, 0.35 + 0.65 * n[i].velocity / 127.0);
    }
}

gboolean piano_roll_write_svg(const char *path, const mm_note *a, int na, const mm_note *b,
                              int nb, const piano_roll_opts *o, GError **err)
{
    int lo, hi;
    pitch_range(a, na, b, nb, &lo, &hi);
    double w = MARGIN_L + (o->t1 - o->t0) * PX_PER_S + 10, plot_h = (hi - lo + 1) * PX_PER_KEY;
    double h = MARGIN_T + plot_h + MARGIN_B;
    GString *s = g_string_new(NULL);
    g_string_append_printf(s, "<svg xmlns='http://www.w3.org/2000/svg' width='%.0f' height='%.0f' "
                           "font-family='sans-serif' font-size='11'>\n"
                           "<rect width='100%%' height='100%%' fill='white'/>\n", w, h);
    for (int p = lo; p <= hi; p++) /* the C of each octave */
        if (p % 12 == 0)
            g_string_append_printf(s, "<line x1='%.0f' x2='%.0f' y1='%.1f' y2='%.1f' stroke='#ddd'/>"
                                   "<text x='2' y='%.1f'>C%d</text>\n", MARGIN_L, w - 10,
                                   MARGIN_T + (hi - p + 1) * PX_PER_KEY,
                                   MARGIN_T + (hi - p + 1) * PX_PER_KEY,
                                   MARGIN_T + (hi - p + 1) * PX_PER_KEY, p / 12 - 1);
    for (int t = (int)ceil(o->t0); t <= (int)floor(o->t1); t++) {
        double x = MARGIN_L + (t - o->t0) * PX_PER_S;
        g_string_append_printf(s, "<line x1='%.1f' x2='%.1f' y1='%.0f' y2='%.1f' stroke='%s'/>\n",
                               x, x, MARGIN_T, MARGIN_T + plot_h, t % 5 ? "#f0f0f0" : "#ccc");
        if (t % 5 == 0)
            g_string_append_printf(s, "<text x='%.1f' y='%.1f' text-anchor='middle'>%d s</text>\n",
                                   x, MARGIN_T + plot_h + 14, t);
    }
    notes_svg(s, a, na, o->t0, o->t1, hi, "#1f5fbf");
    notes_svg(s, b, nb, o->t0, o->t1, hi, "#e0661a");
    if (o->split >= o->t0)
        g_string_append_printf(s, "<line x1='%.1f' x2='%.1f' y1='%.0f' y2='%.1f' stroke='black' "
                               "stroke-dasharray='4 3'/>\n", MARGIN_L + (o->split - o->t0) * PX_PER_S,
                               MARGIN_L + (o->split - o->t0) * PX_PER_S, MARGIN_T, MARGIN_T + plot_h);
    gchar *title = g_markup_escape_text(o->title ? o->title : "", -1);
    g_string_append_printf(s, "<text x='%.0f' y='16'>%s — <tspan fill='#1f5fbf'>%s</tspan>, "
                           "<tspan fill='#e0661a'>%s</tspan></text>\n</svg>\n", MARGIN_L, title,
                           o->label_a, o->label_b);
    g_free(title);
    GError *e = NULL;
    gboolean ok = g_file_set_contents(path, s->str, (gssize)s->len, &e);
    if (!ok) {
        g_set_error(err, CN_ERROR, CN_ERR_IO, "%s", e->message);
        g_error_free(e);
    }
    g_string_free(s, TRUE);
    return ok;
}
