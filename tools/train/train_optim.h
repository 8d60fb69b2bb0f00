/* train_optim.h — AdamW, the learning-rate schedule and gradient clipping.
 * Training code: no allocation, but never called from a real-time thread. */
#ifndef CONTINUO_TRAIN_OPTIM_H
#define CONTINUO_TRAIN_OPTIM_H

#include <stdint.h>
#include <stddef.h>

typedef struct {
    float lr;           /* peak learning rate */
    float lr_min_frac;  /* cosine decays to lr * lr_min_frac */
    int warmup;         /* steps of linear warmup from 0 */
    int total_steps;    /* length of the schedule (cosine ends here, then stays at the floor) */
    float beta1, beta2, eps;
    float weight_decay; /* decoupled, applied where the mask says so */
    float grad_clip;    /* global L2 norm; <= 0: no clipping */
} train_optim_cfg;

/* Learning rate at step (0-based): linear warmup to lr over `warmup` steps,
 * then cosine from lr to lr * lr_min_frac at total_steps. */
float train_lr_at(const train_optim_cfg *o, long step);

/* A schedule whose length changed during a run: from from_step on, the
 * cosine runs from from_lr down to lr * lr_min_frac at total_steps, so the
 * lr is continuous where the length changed. from_step 0: no change. */
typedef struct {
    int32_t from_step;
    float from_lr;
} train_lr_restart;

/* The lr at step of the schedule o changed as r says (r NULL or from_step 0:
 * train_lr_at). Steps before r->from_step get the unchanged schedule. */
float train_lr_sched(const train_optim_cfg *o, const train_lr_restart *r, long step);

/* Sets the schedule's length to total at step (a resume with another
 * --steps): during the warmup only total_steps changes (the warmup does not
 * depend on it); after it, *r restarts the cosine at step from the lr the
 * schedule has there. Nothing when total is the length already. */
void train_lr_set_total(train_optim_cfg *o, train_lr_restart *r, long step, int total);

/* Global L2 norm of g (n floats), accumulated in double. */
double train_grad_norm(const float *g, size_t n);

/* One AdamW step, t = 1-based step count (bias correction). grad_scale
 * multiplies every gradient (clipping). m, v: moments, n floats each. */
void train_adamw_update(float *params, const float *grads, float *m, float *v,
                        const uint8_t *decay_mask, size_t n, const train_optim_cfg *o, float lr,
                        float grad_scale, long t);

#endif
