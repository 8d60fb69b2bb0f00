/* train_backend_cuda.c — the CUDA trainer backend: the same step as the CPU
 * one (train_backend.c), run by libcontinuo-cuda.so's trainer
 * (kernels/cuda/train_model.cu) with params, grads, moments and activations
 * on the device. Plain C: the library comes through engine/cuda_loader.h,
 * so this file builds (and fails cleanly at run time) without CUDA. */
#include <stdlib.h>
#include <string.h>
#include "train_backend.h"
#include "cuda_loader.h"
#include "error.h"

typedef struct {
    const cn_cuda_api *api;
    cn_cuda_trainer *tr;
} cuda_impl;

/* The library's last error as this call's one line. */
static gboolean fail(train_backend *b, GError **err, const char *what)
{
    cuda_impl *c = b->impl;
    g_set_error(err, CN_ERROR, CN_ERR_IO, "cuda trainer: %s: %s", what, c->api->last_error());
    return FALSE;
}

static gboolean cuda_step(train_backend *b, const uint16_t *in, const int *tg, int B, int T,
                          const train_optim_cfg *o, float lr, long t, float *loss, double *norm,
                          GError **err)
{
    cuda_impl *c = b->impl;
    const cn_cuda_api *api = c->api;
    int K = train_micro_batches(b, B, err);
    if (!K) return FALSE;
    int mb = B / K;
    size_t rows = (size_t)mb * T;
    double sum = 0.0;
    for (int k = 0; k < K; k++) { /* the first backward sets the gradients, the others add */
        float l = 0.0f;
        if (api->train_forward(c->tr, in + k * rows, tg + k * rows, mb, T, &l) != 0)
            return fail(b, err, "forward");
        int (*bwd)(cn_cuda_trainer *, const uint16_t *, const int *, int, int) =
            k == 0 ? api->train_backward : api->train_backward_add;
        if (bwd(c->tr, in + k * rows, tg + k * rows, mb, T) != 0) return fail(b, err, "backward");
        sum += l;
    }
    *loss = K == 1 ? (float)sum : (float)(sum / K);
    if (api->train_grad_norm(c->tr, norm) != 0) return fail(b, err, "grad norm");
    *norm /= K;
    cn_cuda_adamw_cfg ac = {o->beta1, o->beta2, o->eps, o->weight_decay};
    if (api->train_adamw(c->tr, &ac, lr, train_clip_scale(o, *norm) / (float)K, t) != 0)
        return fail(b, err, "adamw");
    return TRUE;
}

static gboolean cuda_loss(train_backend *b, const uint16_t *in, const int *tg, int B, int T,
                          float *loss, GError **err)
{
    cuda_impl *c = b->impl;
    if (c->api->train_forward(c->tr, in, tg, B, T, loss) != 0) return fail(b, err, "forward");
    return TRUE;
}

static gboolean cuda_pull(train_backend *b, GError **err)
{
    cuda_impl *c = b->impl;
    if (c->api->train_get_state(c->tr, b->params, b->mom, b->vel, NULL) != 0)
        return fail(b, err, "copying the state to the host");
    return TRUE;
}

static gboolean cuda_push(train_backend *b, GError **err)
{
    cuda_impl *c = b->impl;
    if (c->api->train_set_state(c->tr, b->params, b->mom, b->vel, b->mask) != 0)
        return fail(b, err, "copying the state to the device");
    return TRUE;
}

static void cuda_free(train_backend *b)
{
    cuda_impl *c = b->impl;
    if (!c) return;
    if (c->tr) c->api->train_free(c->tr);
    free(c);
    b->impl = NULL;
}

gboolean train_backend_cuda_init(train_backend *b, GError **err)
{
    const cn_cuda_api *api = cuda_loader_open(err);
    if (!api) return FALSE;
    cuda_impl *c = calloc(1, sizeof *c);
    if (!c) {
        g_set_error(err, CN_ERROR, CN_ERR_IO, "cuda trainer: out of memory");
        return FALSE;
    }
    c->api = api;
    b->impl = c;
    b->free = cuda_free;
    const model_config *m = &b->cfg;
    cn_cuda_train_shape s = {
        .dim = m->dim, .n_layers = m->n_layers, .n_heads = m->n_heads,
        .hidden_dim = m->hidden_dim, .vocab_size = m->vocab_size, .tied = m->tied,
        .rope_theta = m->rope_theta, .B = b->B, .T = b->T, .n_params = b->n_params,
    };
    if (api->train_new(&c->tr, &s) != 0) return fail(b, err, "allocating on the device");
    b->step = cuda_step;
    b->loss = cuda_loss;
    b->pull = cuda_pull;
    b->push = cuda_push;
    cn_cuda_device_info di;
    if (api->device_info(&di) == 0)
        b->description = g_strdup_printf("cuda, %s, %d SMs, %.1f GB", di.name, di.sm_count,
                                         di.mem_total / 1e9);
    else
        b->description = g_strdup("cuda");
    return TRUE;
}
