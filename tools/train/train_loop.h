/* train_loop.h — one training run: start (fresh, from --init weights, or
 * from a checkpoint), step, validate, log, checkpoint, stop.
 *
 * Files written in out_dir (each replaced atomically, tmp + rename):
 *   ckpt.bin        training checkpoint (train_ckpt.h): resume with it
 *   model.bin       current weights, engine format (engine/model.h)
 *   model-best.bin  weights at the best validation loss so far
 *   log.csv         one row per step (train_log.h)
 *   curves.svg      the loss curves
 * The validation loss is the mean NLL over val_windows windows of T tokens at
 * fixed, evenly spaced offsets of the validation file, every position scored
 * (a window may start mid-document or cross a document start). It tracks
 * progress cheaply; continuo-eval's per-document figure over the whole file is
 * the one to set beside baselines and published numbers.
 * One optimizer step takes accum micro-batches of B windows (train_accum):
 * the same step as one batch of accum * B windows, drawn in the same order,
 * while the device holds activations for B only.
 * Not real-time safe. */
#ifndef CONTINUO_TRAIN_LOOP_H
#define CONTINUO_TRAIN_LOOP_H

#include <glib.h>
#include "model.h"
#include "train_ckpt.h"
#include "train_model.h"
#include "tokfile.h"
#include "train_log.h"

typedef struct {
    const char *train_path;  /* token file (tokfile.h) */
    const char *val_path;    /* token file; NULL: no validation */
    const char *out_dir;
    const char *resume_path; /* checkpoint to continue: cfg must equal its config; hp and more
                                are used as given (callers pass the checkpoint's, maybe
                                overridden: train_lr_set_total for another length) */
    const char *init_path;   /* weights file to start from (fine-tuning); fresh optimizer */
    model_config cfg;        /* model shape for a fresh run */
    train_hparams hp;        /* recipe for a fresh run */
    train_hparams_more more; /* its accumulation, augmentation and schedule change */
    int threads;             /* threads for OpenBLAS and the other loops */
    const char *device;      /* trainer backend: "cpu" (or NULL) or "cuda" (train_backend.h) */
    double ckpt_minutes;     /* wall minutes between checkpoints (<= 0: off) */
    long ckpt_every;         /* steps between checkpoints (0: off) */
    long stop_at;            /* stop after this many total steps (0: end of schedule) */
    double max_minutes;      /* stop after this many wall minutes in this process (0: none) */
    int quiet;               /* no progress lines on stderr */
    double flops_per_token;  /* for the progress lines' share of the sgemm peak (0: not shown) */
    double peak_gflops;      /* measured sgemm GFLOP/s */
    const train_plot_ref *refs; /* baselines drawn on curves.svg */
    int n_refs;
} train_opts;

/* Runs until the schedule ends, stop_at, max_minutes, or train_request_stop();
 * always writes a checkpoint before returning TRUE. */
gboolean train_run(const train_opts *o, GError **err);

/* Async-signal-safe: asks the running loop to checkpoint and return after
 * the current step. */
void train_request_stop(void);

/* Mean loss (nats/token) of the model over n_windows fixed windows of T
 * tokens of tf (train_val_offset), batched B at a time. */
double train_val_loss(train_model *m, const tokfile *tf, int n_windows, int B, int T);

#endif
