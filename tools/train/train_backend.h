/* train_backend.h — the seam between the training loop (train_loop.c) and
 * where the maths runs: the CPU (train_model.c, OpenBLAS) or the GPU
 * (libcontinuo-cuda.so through engine/cuda_loader.h). The loop, its data
 * order, schedule, logging, validation and checkpoints are the same for
 * both; a backend only does a step, a loss, and keeps the state.
 *
 * State: params (the weights-file payload), AdamW moments mom and vel,
 * n_params floats each, in HOST arrays owned by the backend. For the CPU
 * they are the state itself; for CUDA they are mirrors: pull() makes them
 * current (device -> host, before writing a checkpoint or weights), push()
 * sends them to the device (after a resume or an init wrote them).
 * Not real-time safe: training only. */
#ifndef CONTINUO_TRAIN_BACKEND_H
#define CONTINUO_TRAIN_BACKEND_H

#include <stdint.h>
#include <glib.h>
#include "model.h"
#include "train_model.h"
#include "train_optim.h"

typedef struct train_backend train_backend;
struct train_backend {
    const char *name;   /* "cpu" or "cuda" */
    char *description;  /* one line for the log: threads, or the GPU's name */
    model_config cfg;
    int B, T;           /* largest batch */
    size_t n_params;
    float *params, *mom, *vel; /* host, n_params each (see above) */
    uint8_t *mask;      /* weight-decay mask (train_model_decay_mask) */
    void *impl;

    /* One optimizer step on a batch: forward (mean loss of scored targets),
     * backward, global grad norm (before clipping) into *norm, clipping to
     * o->grad_clip, AdamW at learning rate lr with 1-based step t. A batch of
     * more rows than the backend's B (a multiple of it: train_micro_batches)
     * is K micro-batches of B: their gradients are summed, then divided by K
     * (the mean loss of the whole batch when every micro-batch scores the same
     * count of targets, as training windows do); *loss is the micro-batches'
     * mean loss. */
    gboolean (*step)(train_backend *b, const uint16_t *tokens, const int *targets, int B, int T,
                     const train_optim_cfg *o, float lr, long t, float *loss, double *norm,
                     GError **err);
    /* Forward only: mean loss over scored targets (nats/token). */
    gboolean (*loss)(train_backend *b, const uint16_t *tokens, const int *targets, int B, int T,
                     float *loss, GError **err);
    gboolean (*pull)(train_backend *b, GError **err);
    gboolean (*push)(train_backend *b, GError **err);
    void (*free)(train_backend *b);
};

/* device: "cpu" (or NULL) or "cuda". threads: the CPU's loops (cuda: unused).
 * Host state starts zeroed; the caller fills it (init, weights, checkpoint)
 * and calls push(). Fails with one line (for cuda: the loader's). */
gboolean train_backend_new(train_backend *b, const char *device, const model_config *cfg, int B,
                           int T, int threads, GError **err);
void train_backend_free(train_backend *b);

/* Micro-batches for a batch of B rows: 1 when B fits the backend's batch,
 * B / b->B when it is a multiple of it, else 0 with *err set. */
int train_micro_batches(const train_backend *b, int B, GError **err);

/* A train_model that views the backend's host params (no activations):
 * for train_model_init, train_model_load_params and train_model_decay_mask. */
void train_backend_view(train_backend *b, train_model *view);

/* Gradient scale for clipping to o->grad_clip (1 when off or under). */
static inline float train_clip_scale(const train_optim_cfg *o, double norm)
{
    return o->grad_clip > 0 && norm > o->grad_clip ? (float)(o->grad_clip / norm) : 1.0f;
}

/* The CUDA backend (train_backend_cuda.c); the host arrays, mask, cfg, B, T,
 * n_params are set up by train_backend_new before it is called. */
gboolean train_backend_cuda_init(train_backend *b, GError **err);

#endif
