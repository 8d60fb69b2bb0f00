/* train_ckpt.h — training checkpoints: everything a resumed run needs to
 * continue exactly where an uninterrupted one would be.
 *
 * File layout (little-endian, this machine's struct layout), version 1:
 *   bytes 0..1023: train_ckpt_header, zero-padded to 1024
 *   then 3 * n_params float32: parameters (the weights-file payload order of
 *   engine/model.h), AdamW first moments m, second moments v.
 * The SHA-256 of that payload is in the header. Written to PATH.tmp, then
 * renamed over PATH, so a crash never leaves a half-written checkpoint. */
#ifndef CONTINUO_TRAIN_CKPT_H
#define CONTINUO_TRAIN_CKPT_H

#include <stdint.h>
#include <glib.h>
#include "model.h"
#include "train_optim.h"
#include "train_rng.h"

#define TRAIN_CKPT_MAGIC "CNTNCKP1"
#define TRAIN_CKPT_VERSION 1
#define TRAIN_CKPT_HEADER_SIZE 1024

/* The recipe: fixed when a run starts, kept in its checkpoints. */
typedef struct {
    int32_t B, T;         /* batch rows (per micro-batch), window length (tokens) */
    int32_t val_every;    /* steps between validation losses */
    int32_t val_windows;  /* fixed validation windows (of T tokens) */
    uint64_t seed;        /* init and data order */
    train_optim_cfg optim;
} train_hparams;

/* More of the recipe, in the header after the fields above, where a
 * checkpoint without them holds the padding's zeros: read as one
 * micro-batch, no augmentation, the unchanged schedule. */
typedef struct {
    int32_t accum;     /* micro-batches of B rows per optimizer step (0: 1) */
    int32_t transpose; /* augmentation (train_aug.h): +-semitones */
    float stretch;     /* augmentation: +-fraction of time */
    train_lr_restart lr_restart; /* where a changed schedule length picked up */
} train_hparams_more;

static inline int train_accum(const train_hparams_more *m)
{
    return m->accum > 1 ? m->accum : 1;
}

typedef struct {
    char magic[8];
    uint32_t version;
    uint32_t header_size;
    model_config cfg;
    train_hparams hp;
    int64_t step;        /* optimizer steps done */
    int64_t tokens_seen; /* training tokens consumed (step * B * T) */
    double elapsed_s;    /* wall seconds of training over all sessions */
    float best_val;      /* best validation loss so far (nats/token), INFINITY = none */
    float last_val;
    int64_t best_step;
    train_rng rng;       /* data sampler state after `step` batches */
    uint64_t n_params;
    uint8_t sha256[32];  /* of params, m, v */
    train_hparams_more more;
} train_ckpt_header;

/* Writes header h (magic, version, n_params and checksum are filled here)
 * and the three arrays. */
gboolean train_ckpt_write(const char *path, train_ckpt_header *h, const float *params,
                          const float *m, const float *v, GError **err);
/* Reads only the header (checks magic and version). */
gboolean train_ckpt_read_header(const char *path, train_ckpt_header *h, GError **err);
/* Reads header and arrays (each n_params floats, n_params from the header,
 * which must equal model_param_count(&h->cfg)); verifies the checksum. */
gboolean train_ckpt_read(const char *path, train_ckpt_header *h, float *params, float *m,
                         float *v, GError **err);

#endif
