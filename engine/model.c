/* model.c — running the transformer of model.h: decode one token, prefill a
 * run, truncate, slide (on the CPU kernels, or the CUDA decoder). Loading is
 * model_file.c; what it builds is described here.
 *
 * Memory (why it looks like this): single-token decode reads every weight
 * once per token, so on this machine it is bound by cache bandwidth, not
 * arithmetic (L3 streams ~100 GB/s up to ~8 MB, ~50 GB/s at 28 MB, DRAM
 * ~30 GB/s). So the loader copies the matrices out of the file mapping into
 * an anonymous block on 2 MB pages (no TLB misses while streaming 4 K pages),
 * by default rounded to bfloat16 (8 MB instead of 16 for the shipped shape),
 * and the KV cache holds IEEE half floats (6 MB at full context instead of 12).
 * Decode converts on the fly; prefill converts each matrix to float32 before
 * its sgemm, so both paths compute with the same rounded numbers.
 *
 * Caches (one run state per generating stream, allocated once):
 *   key_t (n_layers, dim, ld)      half; keys transposed: key_t[l][i][t] is
 *                                  element i of the key in cache slot t
 *                                  (ld = seq_len padded), so decode scores are
 *                                  unit-stride vector FMAs over slots.
 *   value (n_layers, seq_len, dim) half; one row per slot.
 * Values are clamped to +-65504 before rounding to half (no infinities).
 *
 * Positions and sliding. Rotary embedding makes q.k depend only on the
 * difference of the two positions: R(a)q . R(b)k = q . R(b-a)k. Every token
 * has an absolute position (tokens appended since the state was made, less
 * those rolled back), an int64 that never wraps; cache slot t holds the token
 * at absolute position offset + t. A slide drops the oldest slots, moves the
 * rest down (memmove) and adds the count to offset; keys are not touched, so
 * a slide adds no rounding at all. Attention stays right because queries and
 * keys are both rotated at their absolute positions and only differences
 * matter. The angles are the one place where precision could run out: after
 * days of play the position is ~1e7..1e8, and pos * freq in float32 would
 * have lost every digit below 1 rad. So each angle is computed in double,
 * (double)pos * freq_i, and reduced by sin/cos in double: its error is about
 * pos * 1e-16 rad (1e-6 rad after 1e10 tokens, i.e. years of playing at 100
 * tokens/s), far below the float32 rounding of the rotated vectors.
 *
 * What the slid cache promises (tests/test_model.c checks it against an
 * independent reference): every later token attends to exactly the kept
 * slots, with the keys and values they were given when first computed (those
 * saw their own, longer, context): the logits equal those of an unlimited
 * model whose attention is restricted to that window.
 * model_forward/model_prefill slide automatically when the cache is full,
 * keeping slide_keep slots (default 3/4 of seq_len: one memmove per seq_len/4
 * tokens instead of one per token). Decode and prefill slide at the same token
 * counts, so they agree.
 *
 * Not real-time safe (file I/O, allocation) except model_forward,
 * model_prefill, model_truncate and model_slide, which allocate nothing. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include "model_internal.h"
#include "error.h"
#include "kernels.h"
#include "cuda_loader.h"

#define PREFILL_CHUNK 128 /* tokens per batched pass: (chunk, hidden) floats fit in L2 */
#define HALF_MAX 65504.0f

struct model_state {
    const model *m;
    const kern_cpu *k;
    /* on cuda: every call below goes to the decoder (the CPU buffers are not
     * allocated; logits receives the decoder's) */
    const cn_cuda_api *cu;
    cn_cuda_decoder *dec;
    gboolean dec_failed; /* a GPU call failed: logits are NaN from now on */
    int n;          /* tokens in the cache: slots 0..n-1 */
    int64_t offset; /* absolute position of slot 0 */
    int ld;         /* row stride of key_t and att (>= seq_len) */
    int slide_keep; /* slots an automatic slide keeps */
    double *freq;   /* (head_dim/2) rotary frequencies theta^(-2i/head_dim) */
    float *rc, *rs; /* (head_dim/2) cos, sin at rope_pos */
    int64_t rope_pos;
    /* decode activations */
    float *x;       /* (dim) residual stream */
    float *xb;      /* (dim) */
    float *xb2;     /* (dim) */
    float *q;       /* (dim) */
    float *kv;      /* (dim) the new key or value before it goes into the cache */
    uint16_t *kh;   /* (dim) the new key as half floats */
    float *hb;      /* (hidden_dim) */
    float *att;     /* (n_heads, ld) */
    float *logits;  /* (vocab_size) */
    /* caches, half floats */
    uint16_t *key_t; /* (n_layers, dim, ld) */
    uint16_t *value; /* (n_layers, seq_len, dim) */
    /* prefill: activations of PREFILL_CHUNK rows and float32 scratch */
    float *px, *pxb, *pq, *pk, *pv, *pout; /* (chunk, dim) */
    float *phb;     /* (chunk, hidden_dim) */
    float *wbuf;    /* one matrix converted to float32: max(dim, hidden, vocab) * dim */
    float *pscratch; /* kern_prefill_scratch(chunk, ld, dim) for prefill_attend */
};

/* ----------------------------------------------------------------------------
 * the device: cpu, or cuda (kernels/cuda's decoder through engine/cuda_loader) */

gboolean model_set_device(model *m, const char *device, GError **err)
{
    if (!device || !strcmp(device, "cpu")) {
        m->device = MODEL_DEVICE_CPU;
        return TRUE;
    }
    if (strcmp(device, "cuda")) {
        g_set_error(err, CN_ERROR, CN_ERR_ARG, "--device %s: unknown device (cpu or cuda)", device);
        return FALSE;
    }
    if (!cuda_loader_open(err)) return FALSE;
    m->device = MODEL_DEVICE_CUDA;
    return TRUE;
}

const char *model_get_device(const model *m)
{
    return m->device == MODEL_DEVICE_CUDA ? "cuda" : "cpu";
}

/* The float32 payload the decoder uploads: the model's own copy (F32), or
 * its bfloat16 tensors widened (exactly) with the float32 gains put back. */
static float *f32_payload(const model *m)
{
    const model_config *c = &m->config;
    size_t n = model_param_count(c), L = (size_t)c->n_layers, d = (size_t)c->dim;
    float *p = g_try_new(float, n);
    if (!p) return NULL;
    if (m->type == MODEL_WEIGHTS_F32) {
        memcpy(p, m->block, n * sizeof(float));
        return p;
    }
    const uint16_t *b = m->block;
    for (size_t i = 0; i < n; i++) p[i] = kern_bf16_to_f32(b[i]);
    model_weights w;
    model_weights_map(&w, c, p);
    memcpy(w.rms_att, m->rms_att, L * d * sizeof(float));
    memcpy(w.rms_ffn, m->rms_ffn, L * d * sizeof(float));
    memcpy(w.rms_final, m->rms_final, d * sizeof(float));
    return p;
}

static gboolean cuda_state_init(model_state *s, GError **err)
{
    const model_config *c = &s->m->config;
    s->cu = cuda_loader_open(err);
    if (!s->cu) return FALSE;
    cn_cuda_decode_shape shape = {
        .dim = c->dim, .n_layers = c->n_layers, .n_heads = c->n_heads,
        .hidden_dim = c->hidden_dim, .vocab_size = c->vocab_size, .seq_len = c->seq_len,
        .tied = c->tied, .rope_theta = c->rope_theta, .n_params = model_param_count(c),
    };
    float *params = f32_payload(s->m);
    if (!params) {
        g_set_error(err, CN_ERROR, CN_ERR_IO, "model state: out of memory for the weights");
        return FALSE;
    }
    int rc = s->cu->dec_new(&s->dec, &shape, params, s->m->type == MODEL_WEIGHTS_BF16);
    g_free(params);
    if (rc) {
        g_set_error(err, CN_ERROR, CN_ERR_UNSUPPORTED, "--device cuda: %s", s->cu->last_error());
        return FALSE;
    }
    s->cu->dec_set_slide_keep(s->dec, s->slide_keep);
    return TRUE;
}

/* After a decoder call (failed != 0: it, or an earlier one, failed): the
 * logits, NaN once anything failed; the first failure is printed once. */
static float *cuda_done(model_state *s, int failed)
{
    if (failed && !s->dec_failed) {
        g_printerr("model: --device cuda failed: %s\n", s->cu->last_error());
        s->dec_failed = TRUE;
    }
    if (s->dec_failed)
        for (int i = 0; i < s->m->config.vocab_size; i++) s->logits[i] = NAN;
    return s->logits;
}

/* ----------------------------------------------------------------------------
 * run state */

/* Zeroed, 64-byte aligned; NULL when memory is short (or n * size
 * overflows): the caller reports, nothing aborts. Freed with free(). */
static void *zalloc(size_t n, size_t size)
{
    void *p = NULL;
    if (n == 0) n = 1;
    if (size && n > SIZE_MAX / size) return NULL;
    if (posix_memalign(&p, 64, n * size)) return NULL;
    return memset(p, 0, n * size);
}

model_state *model_state_new(const model *m, GError **err)
{
    const model_config *c = &m->config;
    model_state *s = g_new0(model_state, 1);
    s->m = m;
    s->k = kern_cpu_default();
    s->slide_keep = c->seq_len - (c->seq_len / 4 > 0 ? c->seq_len / 4 : 1);
    if (m->device == MODEL_DEVICE_CUDA) {
        s->logits = zalloc((size_t)c->vocab_size, sizeof(float));
        if (!s->logits) g_set_error(err, CN_ERROR, CN_ERR_IO, "model state: out of memory");
        if (!s->logits || !cuda_state_init(s, err)) {
            model_state_free(s);
            return NULL;
        }
        return s;
    }
    size_t d = (size_t)c->dim, L = (size_t)c->n_layers, T = (size_t)c->seq_len;
    size_t hd = (size_t)(c->dim / c->n_heads), h = (size_t)c->hidden_dim, V = (size_t)c->vocab_size;
    size_t ld = model_key_ld(T);
    s->ld = (int)ld;
    s->freq = g_new(double, hd / 2);
    for (size_t i = 0; i < hd / 2; i++)
        s->freq[i] = pow((double)c->rope_theta, -2.0 * (double)i / (double)hd);
    s->rc = zalloc(hd / 2, sizeof(float));
    s->rs = zalloc(hd / 2, sizeof(float));
    s->rope_pos = -1;

    s->x = zalloc(d, sizeof(float));
    s->xb = zalloc(d, sizeof(float));
    s->xb2 = zalloc(d, sizeof(float));
    s->q = zalloc(d, sizeof(float));
    s->kv = zalloc(d, sizeof(float));
    s->kh = zalloc(d, sizeof(uint16_t));
    s->hb = zalloc(h, sizeof(float));
    s->att = zalloc((size_t)c->n_heads * ld, sizeof(float));
    s->logits = zalloc(V, sizeof(float));
    s->key_t = zalloc(L * d * ld, sizeof(uint16_t));
    s->value = zalloc(L * T * d, sizeof(uint16_t));
    s->px = zalloc(PREFILL_CHUNK * d, sizeof(float));
    s->pxb = zalloc(PREFILL_CHUNK * d, sizeof(float));
    s->pq = zalloc(PREFILL_CHUNK * d, sizeof(float));
    s->pk = zalloc(PREFILL_CHUNK * d, sizeof(float));
    s->pv = zalloc(PREFILL_CHUNK * d, sizeof(float));
    s->pout = zalloc(PREFILL_CHUNK * d, sizeof(float));
    s->phb = zalloc(PREFILL_CHUNK * h, sizeof(float));
    size_t rows = d > h ? d : h;
    rows = rows > V ? rows : V;
    s->wbuf = zalloc(rows * d, sizeof(float));
    s->pscratch = zalloc(kern_prefill_scratch(PREFILL_CHUNK, (int)ld, (int)d), sizeof(float));
    void *bufs[] = {s->rc, s->rs, s->x, s->xb, s->xb2, s->q, s->kv, s->kh, s->hb, s->att,
                    s->logits, s->key_t, s->value, s->px, s->pxb, s->pq, s->pk, s->pv,
                    s->pout, s->phb, s->wbuf, s->pscratch};
    size_t missing = 0;
    for (size_t i = 0; i < G_N_ELEMENTS(bufs); i++) missing += !bufs[i];
    if (missing) {
        g_set_error(err, CN_ERROR, CN_ERR_IO,
                    "model state: out of memory (the KV cache alone is %zu MiB: %d layers x "
                    "dim %d x context %d)", model_cache_bytes(c) >> 20, c->n_layers, c->dim,
                    c->seq_len);
        model_state_free(s);
        return NULL;
    }
    return s;
}

void model_state_free(model_state *s)
{
    if (!s) return;
    if (s->dec) s->cu->dec_free(s->dec);
    void *bufs[] = {s->rc, s->rs, s->x, s->xb, s->xb2, s->q, s->kv, s->kh, s->hb, s->att,
                    s->logits, s->key_t, s->value, s->px, s->pxb, s->pq, s->pk, s->pv,
                    s->pout, s->phb, s->wbuf, s->pscratch};
    for (size_t i = 0; i < G_N_ELEMENTS(bufs); i++) free(bufs[i]);
    g_free(s->freq);
    g_free(s);
}

int model_state_len(const model_state *s) { return s->dec ? s->cu->dec_len(s->dec) : s->n; }

int64_t model_state_position(const model_state *s)
{
    return s->dec ? s->cu->dec_position(s->dec) : s->offset + s->n;
}

const char *model_state_kernel(const model_state *s) { return s->dec ? "cuda" : s->k->name; }

gboolean model_state_set_kernel(model_state *s, const char *name)
{
    const kern_cpu *k = kern_cpu_by_name(name);
    if (!k || s->dec) return FALSE;
    s->k = k;
    return TRUE;
}

void model_state_set_slide_keep(model_state *s, int keep)
{
    int T = s->m->config.seq_len;
    s->slide_keep = keep < 0 ? 0 : keep >= T ? T - 1 : keep;
    if (s->dec) s->cu->dec_set_slide_keep(s->dec, s->slide_keep);
}

/* ----------------------------------------------------------------------------
 * the layers' pieces */

/* out = x / rms(x) * w, eps 1e-5 (out may alias x) */
static void rmsnorm(float *out, const float *x, const float *w, int n)
{
    float ss = 0.0f;
    for (int i = 0; i < n; i++) ss += x[i] * x[i];
    float r = 1.0f / sqrtf(ss / (float)n + 1e-5f);
    for (int i = 0; i < n; i++) out[i] = x[i] * r * w[i];
}

/* Rotary embedding at absolute position pos on one (dim) vector, every head,
 * pairs (2i, 2i+1). Angles in double (see the top of the file). */
static void rope(model_state *s, float *v, int64_t pos)
{
    int hd = s->m->config.dim / s->m->config.n_heads, half = hd / 2;
    if (pos != s->rope_pos) {
        for (int i = 0; i < half; i++) {
            double sn, cs;
            sincos((double)pos * s->freq[i], &sn, &cs);
            s->rc[i] = (float)cs;
            s->rs[i] = (float)sn;
        }
        s->rope_pos = pos;
    }
    const float *cs = s->rc, *sn = s->rs;
    for (int h = 0; h < s->m->config.n_heads; h++) {
        float *p = v + h * hd;
        for (int i = 0; i < half; i++) {
            float a = p[2 * i], b = p[2 * i + 1];
            p[2 * i] = a * cs[i] - b * sn[i];
            p[2 * i + 1] = a * sn[i] + b * cs[i];
        }
    }
}

static void add(float *x, const float *y, int n)
{
    for (int i = 0; i < n; i++) x[i] += y[i];
}

/* the cache holds half floats: keep values finite */
static void clamp_half(float *x, int n)
{
    for (int i = 0; i < n; i++) x[i] = x[i] > HALF_MAX ? HALF_MAX : x[i] < -HALF_MAX ? -HALF_MAX : x[i];
}

/* y(rows) = W[off ..](rows, cols) x with the matrix's own precision */
static void mv(const model_state *s, float *y, mat W, size_t off, const float *x, int rows, int cols)
{
    if (W.b) s->k->matvec_bf16(y, W.b + off, x, rows, cols);
    else s->k->matvec(y, W.f + off, x, rows, cols);
}

/* rows*cols floats of W from off, as float32 (converted into wbuf if bf16) */
static const float *wf32(model_state *s, mat W, size_t off, int rows, int cols)
{
    if (W.f) return W.f + off;
    s->k->bf16_to_f32(s->wbuf, W.b + off, rows * cols);
    return s->wbuf;
}

static void embed(const model_state *s, float *x, int token)
{
    int d = s->m->config.dim;
    mat E = s->m->tok_emb;
    if (E.b) s->k->bf16_to_f32(x, E.b + (size_t)token * d, d);
    else memcpy(x, E.f + (size_t)token * d, (size_t)d * sizeof(float));
}

/* ----------------------------------------------------------------------------
 * decode */

float *model_forward(model_state *s, int token)
{
    const model *m = s->m;
    const model_config *c = &m->config;
    const kern_cpu *k = s->k;
    g_return_val_if_fail(token >= 0 && token < c->vocab_size, NULL);
    if (s->dec) return cuda_done(s, s->dec_failed || s->cu->dec_forward(s->dec, token, s->logits));
    if (s->n >= c->seq_len) model_slide(s, s->slide_keep);
    int slot = s->n, d = c->dim, hdim = c->hidden_dim, ld = s->ld;
    int64_t pos = s->offset + slot;
    size_t dd = (size_t)d * d, hd_ = (size_t)hdim * d;

    embed(s, s->x, token);
    for (int l = 0; l < c->n_layers; l++) {
        uint16_t *kt = s->key_t + (size_t)l * d * ld;
        uint16_t *val = s->value + (size_t)l * c->seq_len * d;
        rmsnorm(s->xb, s->x, m->rms_att + (size_t)l * d, d);
        mv(s, s->q, m->wq, l * dd, s->xb, d, d);
        mv(s, s->kv, m->wk, l * dd, s->xb, d, d);
        rope(s, s->q, pos);
        rope(s, s->kv, pos);
        clamp_half(s->kv, d);
        k->f32_to_f16(s->kh, s->kv, d);
        for (int i = 0; i < d; i++) kt[(size_t)i * ld + slot] = s->kh[i];
        mv(s, s->kv, m->wv, l * dd, s->xb, d, d);
        clamp_half(s->kv, d);
        k->f32_to_f16(val + (size_t)slot * d, s->kv, d);
        k->attend(s->xb2, s->att, s->q, kt, val, slot + 1, ld, c->n_heads, d / c->n_heads);
        mv(s, s->xb, m->wo, l * dd, s->xb2, d, d);
        add(s->x, s->xb, d);
        rmsnorm(s->xb, s->x, m->rms_ffn + (size_t)l * d, d);
        mv(s, s->hb, m->w1, l * hd_, s->xb, hdim, d);
        k->gelu(s->hb, hdim);
        mv(s, s->xb, m->w2, l * hd_, s->hb, d, hdim);
        add(s->x, s->xb, d);
    }
    rmsnorm(s->x, s->x, m->rms_final, d);
    mv(s, s->logits, m->wcls, 0, s->x, c->vocab_size, d);
    s->n = slot + 1;
    return s->logits;
}

/* ----------------------------------------------------------------------------
 * prefill: rows of up to PREFILL_CHUNK tokens through the batched kernels */

static void prefill_chunk(model_state *s, const int *tokens, int n)
{
    const model *m = s->m;
    const model_config *c = &m->config;
    const kern_cpu *k = s->k;
    int p0 = s->n, d = c->dim, hdim = c->hidden_dim, ld = s->ld, H = c->n_heads;
    int hd = d / H, end = p0 + n;
    size_t dd = (size_t)d * d, hd_ = (size_t)hdim * d;

    for (int r = 0; r < n; r++) embed(s, s->px + (size_t)r * d, tokens[r]);
    for (int l = 0; l < c->n_layers; l++) {
        uint16_t *kt = s->key_t + (size_t)l * d * ld;
        uint16_t *val = s->value + (size_t)l * c->seq_len * d;
        for (int r = 0; r < n; r++)
            rmsnorm(s->pxb + (size_t)r * d, s->px + (size_t)r * d, m->rms_att + (size_t)l * d, d);
        k->matmul(s->pq, s->pxb, wf32(s, m->wq, l * dd, d, d), n, d, d);
        k->matmul(s->pk, s->pxb, wf32(s, m->wk, l * dd, d, d), n, d, d);
        k->matmul(s->pv, s->pxb, wf32(s, m->wv, l * dd, d, d), n, d, d);
        for (int r = 0; r < n; r++) {
            rope(s, s->pq + (size_t)r * d, s->offset + p0 + r);
            rope(s, s->pk + (size_t)r * d, s->offset + p0 + r);
        }
        clamp_half(s->pk, n * d);
        clamp_half(s->pv, n * d);
        k->f32_to_f16(val + (size_t)p0 * d, s->pv, n * d);
        for (int r = 0; r < n; r++) {
            k->f32_to_f16(s->kh, s->pk + (size_t)r * d, d);
            for (int i = 0; i < d; i++) kt[(size_t)i * ld + p0 + r] = s->kh[i];
        }
        k->prefill_attend(s->pout, s->pscratch, s->pq, kt, val, p0, n, ld, H, hd);
        k->matmul(s->pxb, s->pout, wf32(s, m->wo, l * dd, d, d), n, d, d);
        add(s->px, s->pxb, n * d);
        for (int r = 0; r < n; r++)
            rmsnorm(s->pxb + (size_t)r * d, s->px + (size_t)r * d, m->rms_ffn + (size_t)l * d, d);
        k->matmul(s->phb, s->pxb, wf32(s, m->w1, l * hd_, hdim, d), n, hdim, d);
        k->gelu(s->phb, n * hdim);
        k->matmul(s->pxb, s->phb, wf32(s, m->w2, l * hd_, d, hdim), n, d, hdim);
        add(s->px, s->pxb, n * d);
    }
    /* only the last token's logits are wanted */
    float *last = s->px + (size_t)(n - 1) * d;
    rmsnorm(last, last, m->rms_final, d);
    mv(s, s->logits, m->wcls, 0, last, c->vocab_size, d);
    s->n = end;
}

float *model_prefill(model_state *s, const int *tokens, int n)
{
    const model_config *c = &s->m->config;
    g_return_val_if_fail(n > 0, NULL);
    for (int i = 0; i < n; i++) g_return_val_if_fail(tokens[i] >= 0 && tokens[i] < c->vocab_size, NULL);
    if (s->dec) return cuda_done(s, s->dec_failed || s->cu->dec_prefill(s->dec, tokens, n, s->logits));
    for (int i = 0; i < n;) {
        if (s->n >= c->seq_len) model_slide(s, s->slide_keep);
        int todo = n - i;
        if (todo > PREFILL_CHUNK) todo = PREFILL_CHUNK;
        if (todo > c->seq_len - s->n) todo = c->seq_len - s->n;
        prefill_chunk(s, tokens + i, todo);
        i += todo;
    }
    return s->logits;
}

/* ----------------------------------------------------------------------------
 * rollback and sliding */

void model_truncate(model_state *s, int n)
{
    if (n < 0) n = 0;
    if (s->dec) s->cu->dec_truncate(s->dec, n);
    else if (n < s->n) s->n = n;
}

void model_slide(model_state *s, int keep)
{
    const model_config *c = &s->m->config;
    if (s->dec) {
        cuda_done(s, s->dec_failed || s->cu->dec_slide(s->dec, keep));
        return;
    }
    if (keep < 0) keep = 0;
    if (keep >= s->n) return;
    int shift = s->n - keep, d = c->dim, ld = s->ld;
    for (int l = 0; l < c->n_layers; l++) {
        uint16_t *kt = s->key_t + (size_t)l * d * ld;
        for (int i = 0; i < d; i++)
            memmove(kt + (size_t)i * ld, kt + (size_t)i * ld + shift, (size_t)keep * sizeof(uint16_t));
        uint16_t *val = s->value + (size_t)l * c->seq_len * d;
        memmove(val, val + (size_t)shift * d, (size_t)keep * d * sizeof(uint16_t));
    }
    s->offset += shift;
    s->n = keep;
}
