/* train_backend.c — choosing a trainer backend, and the CPU one: the
 * train_model (train_model.c, OpenBLAS) with AdamW on the host. The step is
 * exactly the CPU loop's sequence (zero grads, forward, backward, norm, clip,
 * AdamW), so CPU runs stay bitwise what they were; a batch of K micro-batches
 * does forward and backward K times before the one update. */
#include <stdlib.h>
#include <string.h>
#include "train_backend.h"
#include "error.h"

typedef struct {
    train_model m; /* its params are the backend's params */
} cpu_impl;

static gboolean cpu_step(train_backend *b, const uint16_t *in, const int *tg, int B, int T,
                         const train_optim_cfg *o, float lr, long t, float *loss, double *norm,
                         GError **err)
{
    train_model *m = &((cpu_impl *)b->impl)->m;
    int K = train_micro_batches(b, B, err);
    if (!K) return FALSE;
    int mb = B / K;
    size_t rows = (size_t)mb * T;
    train_model_zero_grad(m);
    double sum = 0.0;
    for (int k = 0; k < K; k++) { /* backward adds to the gradients */
        float l = train_model_forward(m, in + k * rows, tg + k * rows, mb, T);
        train_model_backward(m, in + k * rows, tg + k * rows, mb, T);
        sum += l;
    }
    *loss = K == 1 ? (float)sum : (float)(sum / K);
    *norm = train_grad_norm(m->grads, m->n_params) / K;
    train_adamw_update(m->params, m->grads, b->mom, b->vel, b->mask, m->n_params, o, lr,
                       train_clip_scale(o, *norm) / (float)K, t);
    return TRUE;
}

int train_micro_batches(const train_backend *b, int B, GError **err)
{
    if (B <= b->B) return 1;
    if (B % b->B == 0) return B / b->B;
    g_set_error(err, CN_ERROR, CN_ERR_ARG, "a batch of %d rows is not a multiple of %d", B, b->B);
    return 0;
}

static gboolean cpu_loss(train_backend *b, const uint16_t *in, const int *tg, int B, int T,
                         float *loss, GError **err)
{
    *loss = train_model_forward(&((cpu_impl *)b->impl)->m, in, tg, B, T);
    return TRUE;
}

static gboolean cpu_nothing(train_backend *b, GError **err)
{
    return TRUE; /* the host arrays are the state */
}

static void cpu_free(train_backend *b)
{
    cpu_impl *c = b->impl;
    if (!c) return;
    train_model_free(&c->m);
    free(c);
    b->impl = NULL;
    b->params = NULL; /* was the model's */
}

void train_backend_view(train_backend *b, train_model *view)
{
    memset(view, 0, sizeof *view);
    view->cfg = b->cfg;
    view->n_params = b->n_params;
    view->params = b->params;
    model_weights_map(&view->w, &b->cfg, b->params);
    view->B = b->B;
    view->T = b->T;
}

gboolean train_backend_new(train_backend *b, const char *device, const model_config *cfg, int B,
                           int T, int threads, GError **err)
{
    memset(b, 0, sizeof *b);
    if (!device) device = "cpu";
    gboolean cuda = strcmp(device, "cuda") == 0;
    if (!cuda && strcmp(device, "cpu") != 0) {
        g_set_error(err, CN_ERROR, CN_ERR_ARG, "--device %s: expected cpu or cuda", device);
        return FALSE;
    }
    if (!model_config_check(cfg, err)) return FALSE;
    b->cfg = *cfg;
    b->B = B;
    b->T = T;
    b->n_params = model_param_count(cfg);
    b->mom = calloc(b->n_params, sizeof(float));
    b->vel = calloc(b->n_params, sizeof(float));
    b->mask = malloc(b->n_params);
    if (!b->mom || !b->vel || !b->mask) {
        g_set_error(err, CN_ERROR, CN_ERR_IO, "train: out of memory for optimizer state");
        train_backend_free(b);
        return FALSE;
    }
    if (cuda) {
        b->name = "cuda";
        b->params = calloc(b->n_params, sizeof(float));
        if (!b->params) {
            g_set_error(err, CN_ERROR, CN_ERR_IO, "train: out of memory for parameters");
            train_backend_free(b);
            return FALSE;
        }
        if (!train_backend_cuda_init(b, err)) {
            train_backend_free(b);
            return FALSE;
        }
    } else {
        b->name = "cpu";
        cpu_impl *c = calloc(1, sizeof *c);
        if (!c) {
            g_set_error(err, CN_ERROR, CN_ERR_IO, "train: out of memory");
            train_backend_free(b);
            return FALSE;
        }
        b->impl = c;
        b->free = cpu_free;
        if (!train_model_new(&c->m, cfg, B, T, threads > 0 ? threads : 1, err)) {
            train_backend_free(b);
            return FALSE;
        }
        b->params = c->m.params;
        b->step = cpu_step;
        b->loss = cpu_loss;
        b->pull = cpu_nothing;
        b->push = cpu_nothing;
        b->description = g_strdup_printf("cpu, %d threads", threads > 0 ? threads : 1);
    }
    train_model view;
    train_backend_view(b, &view);
    train_model_decay_mask(&view, b->mask);
    return TRUE;
}

void train_backend_free(train_backend *b)
{
    if (b->free) b->free(b); /* frees impl (and for the CPU, params with the model) */
    free(b->params);
    free(b->mom);
    free(b->vel);
    free(b->mask);
    g_free(b->description);
    memset(b, 0, sizeof *b);
}
