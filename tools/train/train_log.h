/* train_log.h — the training log (CSV) and its picture (SVG).
 *
 * CSV columns: step,train_loss,val_loss,lr,tokens_per_s,elapsed_s
 * (losses in nats/token; val_loss empty on steps without a validation;
 * elapsed_s counts training wall time over all sessions). */
#ifndef CONTINUO_TRAIN_LOG_H
#define CONTINUO_TRAIN_LOG_H

#include <stdio.h>
#include <glib.h>

typedef struct {
    long step;
    float train_loss;
    float val_loss;     /* NAN when not measured at this step */
    float lr;
    float tokens_per_s;
    double elapsed_s;
} train_log_row;

#define TRAIN_LOG_HEADER "step,train_loss,val_loss,lr,tokens_per_s,elapsed_s"

/* Reads the rows of an existing log with step <= max_step into rows
 * (GArray of train_log_row). A missing file gives no rows and TRUE. */
gboolean train_log_load(const char *path, long max_step, GArray *rows, GError **err);
/* Writes header + rows (tmp + rename). */
gboolean train_log_save(const char *path, const GArray *rows, GError **err);
/* Appends one row to an open log file and flushes it. */
void train_log_append(FILE *f, const train_log_row *r);

/* A horizontal reference line on the plot (a baseline), e.g. "unigram" 4.1. */
typedef struct {
    const char *name;
    double value;
} train_plot_ref;

/* Writes an SVG of train loss (moving average over `smooth` steps) and
 * validation loss against training tokens, with reference lines. */
gboolean train_plot_svg(const char *path, const GArray *rows, long tokens_per_step,
                        const char *title, const train_plot_ref *refs, int n_refs, int smooth,
                        GError **err);

#endif
