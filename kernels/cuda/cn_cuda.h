/* cn_cuda.h — the CUDA backend's whole interface: one versioned table of
 * function pointers, exported by build/lib/libcontinuo-cuda.so through ONE
 * function (CN_CUDA_ENTRY) and fetched at run time by engine/cuda_loader.c.
 * Plain C, shared by both sides: no program links CUDA, so every binary
 * starts on a machine without a driver (ggml's backend tables are the model).
 *
 * Conventions for every entry:
 *   - returns 0 on success, -1 on failure; after a failure last_error() gives
 *     ONE line naming the call and the CUDA/cuBLAS error (thread-local, valid
 *     until the next failing call on that thread). The loader turns it into a
 *     GError.
 *   - pointers named h_* are HOST memory;
 *     the library copies them to and from the device itself.
 *   - shapes: row-major, N = B * T rows (batch row b, position t at row
 *     b * T + t), C = dim, H = hidden_dim, NH = heads, V = vocab; weights are
 *     (out, in) as in engine/model.h. The maths of each entry is the one of
 *     its CPU reference in tools/train/train_layers.c / train_optim.c (named
 *     beside it); where the reference ACCUMULATES (+=) into an output, so does
 *     the entry (the in/out array is uploaded first), and where it is noted
 *     "writes", the CPU caller zeroes first and the device just writes.
 * Nothing here is real-time safe: setup, training and decode only (decode's
 * entries say otherwise where it matters). The per-kernel entries for tests
 * are a separate table: cn_cuda_test.h.
 * Change anything below (fields, order, meaning) => bump CN_CUDA_ABI. */
#ifndef CONTINUO_CN_CUDA_H
#define CONTINUO_CN_CUDA_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define CN_CUDA_ABI 4
#define CN_CUDA_ENTRY "cn_cuda_get_api"   /* const cn_cuda_api *cn_cuda_get_api(void) */
#define CN_CUDA_LIB_NAME "libcontinuo-cuda.so"

typedef struct {
    char name[256];        /* e.g. "NVIDIA H100 80GB HBM3" */
    int sm_count;          /* streaming multiprocessors */
    int cc_major, cc_minor;/* compute capability */
    size_t mem_total;      /* bytes of device memory */
    size_t mem_free;       /* bytes free when asked */
    int runtime_version;   /* cudaRuntimeGetVersion, e.g. 13000 */
    int driver_version;    /* cudaDriverGetVersion */
} cn_cuda_device_info;

/* Model shape for training (engine/model.h's model_config, the fields the
 * device needs) and the batch shape the activations are sized for. */
typedef struct {
    int dim, n_layers, n_heads, hidden_dim, vocab_size, tied;
    float rope_theta;
    int B, T;              /* largest batch; forward/backward accept smaller */
    size_t n_params;       /* model_param_count(): checked against the library's own count */
} cn_cuda_train_shape;

/* AdamW hyperparameters (train_optim.h's train_optim_cfg, the step's part). */
typedef struct {
    float beta1, beta2, eps, weight_decay;
} cn_cuda_adamw_cfg;

typedef struct cn_cuda_trainer cn_cuda_trainer; /* opaque: params, grads, moments, activations */

/* Decode (kernels/cuda/decode.cu): engine/model.h's model_config, the fields
 * the device needs, for a model loaded from a weights file. */
typedef struct {
    int dim, n_layers, n_heads, hidden_dim, vocab_size, seq_len, tied;
    float rope_theta;
    size_t n_params;       /* model_param_count(): checked against the library's own count */
} cn_cuda_decode_shape;

typedef struct cn_cuda_decoder cn_cuda_decoder; /* opaque: device weights, KV cache, graph */

typedef struct cn_cuda_api {
    uint32_t abi;          /* CN_CUDA_ABI: FIRST field, checked by the loader */
    uint32_t size;         /* sizeof(cn_cuda_api) as the library was built */

    /* ---- common: kernels/cuda/cn_cuda.cu -------------------------------- */
    const char *(*last_error)(void);
    /* Finds a usable GPU (cudaGetDeviceCount > 0, device 0 set, a context made,
     * cuBLAS handle created). Idempotent. Fails with
     * "no usable GPU (cudaGetDeviceCount: <cuda error text>, error <n>)" or
     * "no usable GPU (cudaGetDeviceCount: 0 devices)". Every other entry needs it. */
    int (*init)(void);
    int (*device_info)(cn_cuda_device_info *out);
    /* Waits for the device; reports an asynchronous error left by an earlier
     * launch (kernels are launched without waiting). */
    int (*sync)(void);

    /* ---- training: owned by kernels/cuda/train_model.cu ---------------- */
    /* Allocates params/grads/AdamW moments (zero) and activations for shape. */
    int (*train_new)(cn_cuda_trainer **out, const cn_cuda_train_shape *shape);
    void (*train_free)(cn_cuda_trainer *tr);
    /* Uploads n_params floats each; h_m / h_v may be NULL (moments := 0);
     * h_decay_mask (n_params bytes, train_model_decay_mask) is kept for AdamW. */
    int (*train_set_state)(cn_cuda_trainer *tr, const float *h_params, const float *h_m,
                           const float *h_v, const uint8_t *h_decay_mask);
    /* Downloads what is asked (any pointer may be NULL). */
    int (*train_get_state)(cn_cuda_trainer *tr, float *h_params, float *h_m, float *h_v,
                           float *h_grads);
    /* train_model_forward: tokens (B, T), targets (B, T) (< 0: not scored; NULL:
     * logits only, *loss = 0). *loss = mean over scored rows (nats/token). */
    int (*train_forward)(cn_cuda_trainer *tr, const uint16_t *h_tokens, const int *h_targets,
                         int B, int T, float *loss);
    /* train_model_zero_grad + train_model_backward of the last forward
     * (same tokens, targets, B, T): grads := d mean loss / d params. */
    int (*train_backward)(cn_cuda_trainer *tr, const uint16_t *h_tokens, const int *h_targets,
                          int B, int T);
    /* train_grad_norm: global L2 norm of the gradients (accumulated in double). */
    int (*train_grad_norm)(cn_cuda_trainer *tr, double *norm);
    /* train_adamw_update on the device, t = 1-based step. */
    int (*train_adamw)(cn_cuda_trainer *tr, const cn_cuda_adamw_cfg *cfg, float lr,
                       float grad_scale, long t);
    /* Per-position losses (N floats, nats; 0 where not scored) and
     * probabilities (N, V) of the last forward with targets; either may be NULL. */
    int (*train_get_outputs)(cn_cuda_trainer *tr, float *h_losses, float *h_probs, int B, int T);

    /* ---- decode: owned by kernels/cuda/decode.cu ------------------------
     * The decode helper adds its entries below this line (additively; bump
     * CN_CUDA_ABI). Available to it: init, device_info, sync, last_error above,
     * and kernels/cuda/cn_cuda_internal.cuh (error macros, cuBLAS handle,
     * shared forward kernels). decode.cu fills its entries in
     * extern "C" cn_cuda_decode_fill(cn_cuda_api *) (declared weak there;
     * cn_cuda.cu calls it when decode.cu is linked in). */
    /* A decoder: one model's weights on the device (float32, or bfloat16 when
     * bf16 != 0, rounded as model.c's MODEL_WEIGHTS_BF16), a half-float KV
     * cache (seq_len slots, like the CPU's) and one run state with the
     * CPU model's position semantics (model_state_*). h_params: the weights
     * file's float32 payload, n_params floats in model_weights order. Same
     * maths as engine/model.c; see decode.cu. A decoder is used by one
     * thread at a time. None of these is real-time safe (they wait for the GPU). */
    int (*dec_new)(cn_cuda_decoder **out, const cn_cuda_decode_shape *shape,
                   const float *h_params, int bf16);
    void (*dec_free)(cn_cuda_decoder *d);
    /* model_forward: appends token at position len (sliding first when the
     * cache is full); h_logits (vocab_size floats, host) may be NULL. */
    int (*dec_forward)(cn_cuda_decoder *d, int token, float *h_logits);
    /* model_prefill: appends n tokens (batched, cuBLAS); the last one's logits. */
    int (*dec_prefill)(cn_cuda_decoder *d, const int *h_tokens, int n, float *h_logits);
    /* model_truncate / model_slide / model_state_len / model_state_position /
     * model_state_set_slide_keep, same meanings. */
    void (*dec_truncate)(cn_cuda_decoder *d, int n);
    int (*dec_slide)(cn_cuda_decoder *d, int keep);
    int (*dec_len)(const cn_cuda_decoder *d);
    int64_t (*dec_position)(const cn_cuda_decoder *d);
    void (*dec_set_slide_keep)(cn_cuda_decoder *d, int keep);
    /* on != 0 (the default): dec_forward replays one captured CUDA graph per
     * token; 0: launches the same kernels one by one (for comparison). */
    void (*dec_set_graph)(cn_cuda_decoder *d, int on);
    /* Kernels in one decode step (each a launch without the graph). */
    int (*dec_kernels_per_token)(const cn_cuda_decoder *d);

    /* ---- training, continued (train_model.cu) ---------------------------- */
    /* train_backward without the zeroing: grads += d mean loss / d params
     * (gradient accumulation over micro-batches). */
    int (*train_backward_add)(cn_cuda_trainer *tr, const uint16_t *h_tokens, const int *h_targets,
                              int B, int T);
} cn_cuda_api;

typedef const cn_cuda_api *(*cn_cuda_get_api_fn)(void);

#ifdef __cplusplus
}
#endif

#endif
