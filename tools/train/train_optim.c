/* train_optim.c — AdamW (Loshchilov & Hutter: decoupled weight decay),
 * warmup + cosine learning rate, global-norm gradient clipping. */
#include <math.h>
#include "train_optim.h"

float train_lr_at(const train_optim_cfg *o, long step)
{
    if (o->warmup > 0 && step < o->warmup) return o->lr * (float)(step + 1) / (float)o->warmup;
    float floor_lr = o->lr * o->lr_min_frac;
    if (step >= o->total_steps) return floor_lr;
    double span = (double)(o->total_steps - o->warmup);
    double frac = span > 0 ? (double)(step - o->warmup) / span : 1.0;
    return floor_lr + (float)(0.5 * (1.0 + cos(M_PI * frac))) * (o->lr - floor_lr);
}

float train_lr_sched(const train_optim_cfg *o, const train_lr_restart *r, long step)
{
    if (!r || r->from_step <= 0 || step < r->from_step) return train_lr_at(o, step);
    float floor_lr = o->lr * o->lr_min_frac;
    if (step >= o->total_steps) return floor_lr;
    double frac = (double)(step - r->from_step) / (double)(o->total_steps - r->from_step);
    return floor_lr + (float)(0.5 * (1.0 + cos(M_PI * frac))) * (r->from_lr - floor_lr);
}

void train_lr_set_total(train_optim_cfg *o, train_lr_restart *r, long step, int total)
{
    if (total == o->total_steps) return;
    if (step >= o->warmup && step > 0) {
        float now = train_lr_sched(o, r, step);
        *r = (train_lr_restart){.from_step = (int32_t)step, .from_lr = now};
    }
    o->total_steps = total;
}

double train_grad_norm(const float *g, size_t n)
{
    double s = 0.0;
    for (size_t i = 0; i < n; i++) s += (double)g[i] * g[i];
    return sqrt(s);
}

void train_adamw_update(float *params, const float *grads, float *m, float *v,
                        const uint8_t *decay_mask, size_t n, const train_optim_cfg *o, float lr,
                        float grad_scale, long t)
{
    float b1 = o->beta1, b2 = o->beta2;
    float c1 = 1.0f - powf(b1, (float)t), c2 = 1.0f - powf(b2, (float)t);
    for (size_t i = 0; i < n; i++) {
        float g = grads[i] * grad_scale;
        m[i] = b1 * m[i] + (1.0f - b1) * g;
        v[i] = b2 * v[i] + (1.0f - b2) * g * g;
        float mh = m[i] / c1, vh = v[i] / c2;
        float wd = decay_mask[i] ? o->weight_decay * params[i] : 0.0f;
        params[i] -= lr * (mh / (sqrtf(vh) + o->eps) + wd);
    }
}
