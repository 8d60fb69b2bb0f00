/* model.h — the decoder-only transformer: config, weights, run state, forward.
 *
 * Architecture (shared by the engine's forward and the trainer, tools/train):
 *   x = tok_emb[token]
 *   per layer l:
 *     h = rmsnorm(x) * rms_att[l]                      eps = 1e-5
 *     q = wq[l] h, k = wk[l] h, v = wv[l] h             (dim) each
 *     rotary on q and k, per head, pairs (2i, 2i+1) of the head's slice,
 *       angle = pos * rope_theta^(-2i/head_dim)
 *     a = softmax(q.k / sqrt(head_dim)) over cached positions <= pos, times v
 *     x += wo[l] a
 *     h = rmsnorm(x) * rms_ffn[l]
 *     x += w2[l] gelu(w1[l] h)                          gelu: tanh approximation
 *   logits = wcls (rmsnorm(x) * rms_final)             wcls = tok_emb when tied
 * No biases. Matrices are row-major (out, in): y = W x means y[i] = sum_j W[i*in + j] x[j].
 *
 * Weights file (little-endian), version 1:
 *   bytes 0..255: model_file_header (below), zero-padded to 256
 *   then the payload: the tensors of kernels/weights_layout.h in its order, float32
 *   (dtype 0) with no gaps. Its size must equal payload_bytes and its SHA-256
 *   must equal sha256. Every field is checked against the file before use. */
#ifndef CONTINUO_MODEL_H
#define CONTINUO_MODEL_H

#include <stdint.h>
#include <stddef.h>
#include <glib.h>
#include "weights_layout.h"

#define MODEL_MAGIC "CNTNUOW1" /* 8 bytes, no terminator in the file */
#define MODEL_VERSION 1
#define MODEL_HEADER_SIZE 256

typedef struct {
    int32_t dim;        /* model width */
    int32_t n_layers;
    int32_t n_heads;    /* head_dim = dim / n_heads, must be even */
    int32_t hidden_dim; /* MLP width */
    int32_t vocab_size;
    int32_t seq_len;    /* context length = KV cache length (positions) */
    int32_t vocab_id;   /* token encoding (1 = performance v1, see token.h) */
    int32_t tied;       /* 1: output head is tok_emb; 0: separate wcls */
    float rope_theta;   /* 10000 */
} model_config;

typedef struct {
    char magic[8];
    uint32_t version;
    uint32_t header_size;  /* 256 */
    model_config config;
    uint32_t dtype;        /* 0 = float32 */
    uint32_t reserved0;
    uint64_t param_count;  /* number of parameters (floats) */
    uint64_t payload_bytes;
    uint8_t sha256[32];    /* of the payload */
} model_file_header;

/* One pointer per tensor into a single contiguous block, named and ordered
 * as WEIGHTS_TENSORS (kernels/weights_layout.h, with the shapes); wcls ==
 * tok_emb when tied (not stored twice). */
typedef struct {
#define MODEL_WEIGHTS_FIELD(name, n, kind) float *name;
    WEIGHTS_TENSORS(MODEL_WEIGHTS_FIELD)
#undef MODEL_WEIGHTS_FIELD
} model_weights;

/* Limits on what a model file may ask of memory beyond its own size: the
 * context, and the KV cache one run state holds (model_cache_bytes). */
#define MODEL_MAX_SEQ_LEN 65536
#define MODEL_MAX_CACHE_BYTES ((size_t)2 << 30) /* 2 GiB per run state */

/* Validates a config (positive sizes, even head_dim, sane limits, the two
 * limits above). */
gboolean model_config_check(const model_config *c, GError **err);
/* Bytes of the KV cache (keys and values, half floats, padded rows) of one
 * CPU run state of config c. */
size_t model_cache_bytes(const model_config *c);
/* Number of floats in the payload for config c. */
size_t model_param_count(const model_config *c);
/* Points every tensor of w into base (param_count floats), in file order. */
void model_weights_map(model_weights *w, const model_config *c, float *base);

/* Write a weights file from a param block (used by the trainer and tools). */
gboolean model_file_write(const char *path, const model_config *c, const float *params,
                          GError **err);

/* ---- loading and running (engine/model.c; owned by the engine work) ------
 * A loaded model (mmapped, read-only, shareable between threads) and a run
 * state (activations + KV cache, one per generating stream). The run state
 * holds a token count `n`: the cache holds positions 0..n-1. None of these
 * is real-time safe except where noted; all are safe on a worker thread
 * after model_state_new (no allocation in forward/truncate/slide). */
typedef struct model model;
typedef struct model_state model_state;

/* mmap + validate every header field against the file and the checksum. */
model *model_load(const char *path, GError **err);
void model_free(model *m);
const model_config *model_get_config(const model *m);

model_state *model_state_new(const model *m, GError **err);
void model_state_free(model_state *s);
/* Tokens currently in the cache (the next position to be written). */
int model_state_len(const model_state *s);
/* Append one token at position len (sliding first when the cache is full);
 * returns logits (vocab_size), valid until the next call. */
float *model_forward(model_state *s, int token);
/* Append n tokens (batched, OpenBLAS); returns the logits of the last one. */
float *model_prefill(model_state *s, const int *tokens, int n);
/* Forget positions >= n (rollback of a speculated continuation). */
void model_truncate(model_state *s, int n);
/* Drop the oldest cached positions, keeping the newest `keep`; see model.c
 * for how positions stay valid. */
void model_slide(model_state *s, int keep);

/* ---- additions (engine/model.c) ---------------------------------------- */
/* How a loaded model keeps its matrices in memory. AUTO: the environment
 * variable CONTINUO_WEIGHTS ("f32" or "bf16") if set, else BF16, measured
 * faster here (decode is memory-bound; see model.c). BF16 rounds every
 * matrix to bfloat16 at load time (norm gains stay float32); decode and
 * prefill then use the same rounded weights. */
typedef enum {
    MODEL_WEIGHTS_AUTO = 0,
    MODEL_WEIGHTS_F32,
    MODEL_WEIGHTS_BF16,
} model_weight_type;
model *model_load_as(const char *path, model_weight_type type, GError **err);
model_weight_type model_get_weight_type(const model *m);
/* Positions an automatic slide (cache full in forward/prefill) keeps;
 * default 3/4 of seq_len. Call from the thread that runs the state. */
void model_state_set_slide_keep(model_state *s, int keep);
/* Absolute position of the next token: tokens ever appended, minus those
 * rolled back by model_truncate (slides do not change it). */
int64_t model_state_position(const model_state *s);
/* The decode kernel variant in use ("avx512", "avx2", "blas", "portable";
 * "cuda" on the GPU); set_kernel picks another CPU variant by name, FALSE
 * when unknown or unsupported here, or when the state runs on cuda. */
const char *model_state_kernel(const model_state *s);
gboolean model_state_set_kernel(model_state *s, const char *name);
/* Where the run states of a model compute: "cpu" (the default: the CPU
 * kernels, the reference) or "cuda" (kernels/cuda's decoder, reached through
 * engine/cuda_loader.c: every state made afterwards uploads the weights, in
 * the model's weight type, and keeps its KV cache on the GPU; same calls,
 * same position semantics, logits equal to the CPU's up to float32
 * summation order). Call before model_state_new: states made earlier keep
 * their device. FALSE with one line in err (CN_ERROR) for an unknown name,
 * or for cuda without a usable library and GPU (the loader's line, e.g.
 * "--device cuda: no usable GPU (...)"). On cuda, a GPU failure after start
 * is logged once and the state's logits become NaN from then on (callers
 * already treat non-finite logits as a broken model). */
gboolean model_set_device(model *m, const char *device, GError **err);
const char *model_get_device(const model *m);

/* The float32 payload (model_param_count floats, model_weights order) of a
 * model loaded as MODEL_WEIGHTS_F32; NULL for BF16. For backends that keep
 * their own copy of the weights (kernels/cuda: uploaded to the GPU). */
const float *model_get_f32_params(const model *m);

#endif
