/* train_log.c — CSV training log and the SVG loss-curve picture. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include "train_log.h"
#include "atomic_file.h"
#include "error.h"

gboolean train_log_load(const char *path, long max_step, GArray *rows, GError **err)
{
    gchar *text = NULL;
    GError *e = NULL;
    if (!g_file_get_contents(path, &text, NULL, &e)) {
        if (g_error_matches(e, G_FILE_ERROR, G_FILE_ERROR_NOENT)) {
            g_error_free(e);
            return TRUE;
        }
        g_set_error(err, CN_ERROR, CN_ERR_IO, "%s: %s", path, e->message);
        g_error_free(e);
        return FALSE;
    }
    gchar **lines = g_strsplit(text, "\n", -1);
    for (int i = 1; lines[i]; i++) { /* line 0 is the header */
        if (!lines[i][0]) continue;
        gchar **f = g_strsplit(lines[i], ",", -1);
        if (g_strv_length(f) >= 6) {
            train_log_row r;
            r.step = atol(f[0]);
            r.train_loss = (float)g_ascii_strtod(f[1], NULL);
            r.val_loss = f[2][0] ? (float)g_ascii_strtod(f[2], NULL) : NAN;
            r.lr = (float)g_ascii_strtod(f[3], NULL);
            r.tokens_per_s = (float)g_ascii_strtod(f[4], NULL);
            r.elapsed_s = g_ascii_strtod(f[5], NULL);
            if (r.step <= max_step) g_array_append_val(rows, r);
        }
        g_strfreev(f);
    }
    g_strfreev(lines);
    g_free(text);
    return TRUE;
}

void train_log_append(FILE *f, const train_log_row *r)
{
    char val[32] = "";
    if (!isnan(r->val_loss)) snprintf(val, sizeof val, "%.6f", r->val_loss);
    fprintf(f, "%ld,%.6f,%s,%.6g,%.1f,%.1f\n", r->step, r->train_loss, val, r->lr,
            r->tokens_per_s, r->elapsed_s);
    fflush(f);
}

gboolean train_log_save(const char *path, const GArray *rows, GError **err)
{
    atomic_file af;
    if (!atomic_file_open(&af, path, "w", err)) return FALSE;
    fprintf(af.f, "%s\n", TRAIN_LOG_HEADER);
    for (guint i = 0; i < rows->len; i++) train_log_append(af.f, &g_array_index(rows, train_log_row, i));
    gboolean ok = atomic_file_close(&af, !ferror(af.f), "write failed", err);
    return ok;
}

/* ---- SVG ----------------------------------------------------------------- */

#define W 900
#define H 520
#define ML 70  /* margins, pixels */
#define MR 210
#define MT 40
#define MB 55

static double nice_step(double span, int want)
{
    double raw = span / want, p = pow(10.0, floor(log10(raw)));
    double m = raw / p;
    return (m < 1.5 ? 1 : m < 3.5 ? 2 : m < 7.5 ? 5 : 10) * p;
}

/* The legend and the run's last step, right of the plot box. */
static void plot_legend(GString *s, const GArray *rows, const train_plot_ref *refs, int n_refs,
                        int smooth, const char *const *ref_colors)
{
    guint n = rows->len;
    int ly = MT + 10;
    g_string_append_printf(s, "<line x1=\"%d\" x2=\"%d\" y1=\"%d\" y2=\"%d\" stroke=\"#1f77b4\" "
                           "stroke-width=\"2\"/><text x=\"%d\" y=\"%d\">train (avg %d steps)</text>\n",
                           W - MR + 10, W - MR + 30, ly, ly, W - MR + 35, ly + 4, smooth);
    ly += 20;
    g_string_append_printf(s, "<line x1=\"%d\" x2=\"%d\" y1=\"%d\" y2=\"%d\" stroke=\"#ff7f0e\" "
                           "stroke-width=\"2\"/><text x=\"%d\" y=\"%d\">validation</text>\n",
                           W - MR + 10, W - MR + 30, ly, ly, W - MR + 35, ly + 4);
    for (int i = 0; i < n_refs; i++) {
        ly += 20;
        gchar *esc = g_markup_escape_text(refs[i].name, -1);
        g_string_append_printf(s, "<line x1=\"%d\" x2=\"%d\" y1=\"%d\" y2=\"%d\" stroke=\"%s\" "
                               "stroke-dasharray=\"6 4\"/><text x=\"%d\" y=\"%d\">%s %.3f</text>\n",
                               W - MR + 10, W - MR + 30, ly, ly, ref_colors[i % 4], W - MR + 35,
                               ly + 4, esc, refs[i].value);
        g_free(esc);
    }
    if (n) {
        const train_log_row *last = &g_array_index(rows, train_log_row, n - 1);
        ly += 30;
        g_string_append_printf(s, "<text x=\"%d\" y=\"%d\">step %ld</text>\n", W - MR + 10, ly,
                               last->step);
        g_string_append_printf(s, "<text x=\"%d\" y=\"%d\">%.2f h training</text>\n", W - MR + 10,
                               ly + 16, last->elapsed_s / 3600.0);
    }
}

gboolean train_plot_svg(const char *path, const GArray *rows, long tokens_per_step,
                        const char *title, const train_plot_ref *refs, int n_refs, int smooth,
                        GError **err)
{
    guint n = rows->len;
    GString *s = g_string_new(NULL);
    g_string_append_printf(s, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
                           "font-family=\"sans-serif\" font-size=\"12\">\n"
                           "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n"
                           "<text x=\"%d\" y=\"24\" font-size=\"15\">%s</text>\n", W, H, ML,
                           title ? title : "training");
    double *avg = g_new0(double, n ? n : 1);
    double sum = 0.0;
    for (guint i = 0; i < n; i++) { /* trailing moving average of the train loss */
        sum += g_array_index(rows, train_log_row, i).train_loss;
        if ((int)i >= smooth) sum -= g_array_index(rows, train_log_row, i - smooth).train_loss;
        avg[i] = sum / ((int)i + 1 < smooth ? (int)i + 1 : smooth);
    }
    double xmax = 1.0, ymin = INFINITY, ymax = -INFINITY;
    for (guint i = 0; i < n; i++) {
        const train_log_row *r = &g_array_index(rows, train_log_row, i);
        xmax = fmax(xmax, (double)r->step * tokens_per_step / 1e6);
        if (i >= n / 50) { /* skip the first 2 % (initial loss) when fitting the axis */
            ymin = fmin(ymin, avg[i]);
            ymax = fmax(ymax, avg[i]);
        }
        if (!isnan(r->val_loss)) {
            ymin = fmin(ymin, r->val_loss);
            ymax = fmax(ymax, r->val_loss);
        }
    }
    for (int i = 0; i < n_refs; i++) {
        ymin = fmin(ymin, refs[i].value);
        ymax = fmax(ymax, refs[i].value);
    }
    if (!isfinite(ymin)) { ymin = 0.0; ymax = 6.0; }
    if (ymax - ymin < 0.2) ymax = ymin + 0.2;
    double ys = nice_step(ymax - ymin, 6);
    ymin = floor(ymin / ys) * ys;
    ymax = ceil(ymax / ys) * ys;
    double xs = nice_step(xmax, 6);
    xmax = ceil(xmax / xs) * xs;
    int pw = W - ML - MR, ph = H - MT - MB;
#define PX(x) (ML + (x) / xmax * pw)
#define PY(y) (MT + (ymax - (y)) / (ymax - ymin) * ph)
    /* grid and axes */
    for (double y = ymin; y <= ymax + ys / 2; y += ys)
        g_string_append_printf(s, "<line x1=\"%d\" x2=\"%d\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/>"
                               "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%.2f</text>\n",
                               ML, ML + pw, PY(y), PY(y), ML - 6, PY(y) + 4, y);
    for (double x = 0; x <= xmax + xs / 2; x += xs)
        g_string_append_printf(s, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%d\" y2=\"%d\" stroke=\"#ddd\"/>"
                               "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%g</text>\n",
                               PX(x), PX(x), MT, MT + ph, PX(x), MT + ph + 16, x);
    g_string_append_printf(s, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"none\" "
                           "stroke=\"black\"/>\n", ML, MT, pw, ph);
    g_string_append_printf(s, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">training tokens "
                           "(millions)</text>\n", ML + pw / 2, H - 14);
    g_string_append_printf(s, "<text x=\"16\" y=\"%d\" transform=\"rotate(-90 16 %d)\" "
                           "text-anchor=\"middle\">loss (nats/token)</text>\n", MT + ph / 2,
                           MT + ph / 2);
    /* clip the curves to the plot box */
    g_string_append_printf(s, "<clipPath id=\"box\"><rect x=\"%d\" y=\"%d\" width=\"%d\" "
                           "height=\"%d\"/></clipPath>\n<g clip-path=\"url(#box)\">\n", ML, MT, pw, ph);
    const char *ref_colors[] = {"#999", "#b5a", "#3a3", "#c80"};
    for (int i = 0; i < n_refs; i++)
        g_string_append_printf(s, "<line x1=\"%d\" x2=\"%d\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" "
                               "stroke-dasharray=\"6 4\"/>\n", ML, ML + pw, PY(refs[i].value),
                               PY(refs[i].value), ref_colors[i % 4]);
    if (n) {
        g_string_append(s, "<polyline fill=\"none\" stroke=\"#1f77b4\" stroke-width=\"1.5\" points=\"");
        guint stride = n > 2000 ? n / 2000 : 1;
        for (guint i = 0; i < n; i += stride) {
            const train_log_row *r = &g_array_index(rows, train_log_row, i);
            g_string_append_printf(s, "%.1f,%.1f ", PX((double)r->step * tokens_per_step / 1e6),
                                   PY(avg[i]));
        }
        g_string_append(s, "\"/>\n<polyline fill=\"none\" stroke=\"#ff7f0e\" stroke-width=\"2\" points=\"");
        for (guint i = 0; i < n; i++) {
            const train_log_row *r = &g_array_index(rows, train_log_row, i);
            if (!isnan(r->val_loss))
                g_string_append_printf(s, "%.1f,%.1f ", PX((double)r->step * tokens_per_step / 1e6),
                                       PY(r->val_loss));
        }
        g_string_append(s, "\"/>\n");
        for (guint i = 0; i < n; i++) { /* markers: a single validation must show too */
            const train_log_row *r = &g_array_index(rows, train_log_row, i);
            if (!isnan(r->val_loss))
                g_string_append_printf(s, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"2.5\" fill=\"#ff7f0e\"/>\n",
                                       PX((double)r->step * tokens_per_step / 1e6), PY(r->val_loss));
        }
    }
    g_string_append(s, "</g>\n");
    plot_legend(s, rows, refs, n_refs, smooth, ref_colors);
    g_string_append(s, "</svg>\n");
#undef PX
#undef PY
    g_free(avg);
    GError *e = NULL;
    gboolean ok = g_file_set_contents(path, s->str, (gssize)s->len, &e);
    if (!ok) {
        g_set_error(err, CN_ERROR, CN_ERR_IO, "%s: %s", path, e->message);
        g_error_free(e);
    }
    g_string_free(s, TRUE);
    return ok;
}
