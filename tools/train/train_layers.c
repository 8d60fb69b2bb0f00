/* train_layers.c — forward/backward pairs of the transformer layers (see
 * train_layers.h for the conventions), plus the small pthread helper that
 * splits the non-matmul loops over the cores. */
#include <math.h>
#include <string.h>
#include <pthread.h>
#include <stdint.h>
#include <stdatomic.h>
#include <cblas.h>
#include "train_layers.h"
#include "kernels.h"

/* ---- threads ------------------------------------------------------------- */

/* A persistent pool: the workers live for the whole process, so OpenBLAS
 * (called single-threaded inside the chunks) keeps its per-thread buffers and
 * nothing spins between calls. One job at a time (the trainer is one thread).
 *
 * A job of n items is cut into CHUNKS_PER_THREAD * nt fixed chunks that the
 * threads take in turn from a shared counter: on a shared machine a thread
 * that is descheduled for a while no longer holds the others at the barrier,
 * they take its chunks. Which thread computes a chunk does not change its
 * numbers (each chunk's arithmetic is fixed by (n, nt)), so results stay
 * bitwise reproducible. */
#define CHUNKS_PER_THREAD 4

typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t go, done;
    int n_workers;      /* threads started (tid 1..n_workers) */
    long generation;    /* bumped per job */
    int pending;        /* workers still running the current job */
    void (*fn)(void *ctx, int lo, int hi, int tid);
    void *ctx;
    int n, n_chunks;
    int nt_active;      /* threads tid < nt_active take chunks */
    atomic_int next;    /* next chunk to take */
} par_pool;

static par_pool pool = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER,
                        PTHREAD_COND_INITIALIZER, 0, 0, 0, NULL, NULL, 0, 0, 0, 0};

/* Takes chunks until none is left. */
static void par_run(int tid)
{
    for (;;) {
        int c = atomic_fetch_add(&pool.next, 1);
        if (c >= pool.n_chunks) return;
        int lo = (int)((long)pool.n * c / pool.n_chunks);
        int hi = (int)((long)pool.n * (c + 1) / pool.n_chunks);
        if (hi > lo) pool.fn(pool.ctx, lo, hi, tid);
    }
}

static void *pool_worker(void *arg)
{
    int tid = (int)(intptr_t)arg;
    long seen = 0;
    pthread_mutex_lock(&pool.mu);
    for (;;) {
        while (pool.generation == seen) pthread_cond_wait(&pool.go, &pool.mu);
        seen = pool.generation;
        pthread_mutex_unlock(&pool.mu);
        if (tid < pool.nt_active) par_run(tid); /* job fields are stable until pending is 0 */
        pthread_mutex_lock(&pool.mu);
        if (--pool.pending == 0) pthread_cond_signal(&pool.done);
    }
    return NULL;
}

void train_par_for(int n, int nt, void (*fn)(void *ctx, int lo, int hi, int tid), void *ctx)
{
    if (nt > TRAIN_MAX_THREADS) nt = TRAIN_MAX_THREADS;
    if (nt > n) nt = n;
    if (nt <= 1) {
        if (n > 0) fn(ctx, 0, n, 0);
        return;
    }
    pthread_mutex_lock(&pool.mu);
    while (pool.n_workers < nt - 1) {
        pthread_t th;
        if (pthread_create(&th, NULL, pool_worker, (void *)(intptr_t)(pool.n_workers + 1)) != 0)
            break;
        pthread_detach(th);
        pool.n_workers++;
    }
    /* every started worker joins (tid <= n_workers); callers size per-thread
     * scratch for nt threads, so only tids < nt may run: extra workers wait */
    int workers = pool.n_workers < nt - 1 ? pool.n_workers : nt - 1;
    pool.fn = fn;
    pool.ctx = ctx;
    pool.n = n;
    pool.n_chunks = n < CHUNKS_PER_THREAD * nt ? n : CHUNKS_PER_THREAD * nt;
    atomic_store(&pool.next, 0);
    pool.pending = pool.n_workers;
    pool.nt_active = workers + 1;
    pool.generation++;
    pthread_cond_broadcast(&pool.go);
    pthread_mutex_unlock(&pool.mu);
    par_run(0);
    pthread_mutex_lock(&pool.mu);
    while (pool.pending > 0) pthread_cond_wait(&pool.done, &pool.mu);
    pthread_mutex_unlock(&pool.mu);
}

/* ---- embedding ----------------------------------------------------------- */

void train_embed_forward(float *out, const uint16_t *tokens, const float *emb, int N, int C)
{
    for (int n = 0; n < N; n++) memcpy(out + (size_t)n * C, emb + (size_t)tokens[n] * C, C * sizeof(float));
}

void train_embed_backward(float *demb, const float *dout, const uint16_t *tokens, int N, int C)
{
    for (int n = 0; n < N; n++) {
        float *d = demb + (size_t)tokens[n] * C;
        const float *g = dout + (size_t)n * C;
        for (int i = 0; i < C; i++) d[i] += g[i];
    }
}

/* ---- rmsnorm ------------------------------------------------------------- */

typedef struct {
    float *out, *rstd;
    const float *inp, *w;
    int C;
} rms_ctx;

static void rms_rows(void *p, int lo, int hi, int tid)
{
    rms_ctx *c = p;
    for (int n = lo; n < hi; n++) {
        const float *x = c->inp + (size_t)n * c->C;
        float *o = c->out + (size_t)n * c->C;
        double ss = 0.0;
        for (int i = 0; i < c->C; i++) ss += (double)x[i] * x[i];
        float r = 1.0f / sqrtf((float)(ss / c->C) + TRAIN_RMS_EPS);
        for (int i = 0; i < c->C; i++) o[i] = x[i] * r * c->w[i];
        c->rstd[n] = r;
    }
}

void train_rmsnorm_forward(float *out, float *rstd, const float *inp, const float *w, int N,
                           int C, int nt)
{
    rms_ctx c = {out, rstd, inp, w, C};
    train_par_for(N, nt, rms_rows, &c);
}

void train_rmsnorm_backward(float *dinp, float *dw, const float *dout, const float *inp,
                            const float *w, const float *rstd, int N, int C)
{
    /* y_i = w_i x_i r, r = (mean x^2 + eps)^-1/2:
     * dx_j = r (w_j dy_j - x_j r^2 mean_i(w_i dy_i x_i)), dw_i += dy_i x_i r */
    for (int n = 0; n < N; n++) {
        const float *x = inp + (size_t)n * C, *dy = dout + (size_t)n * C;
        float *dx = dinp + (size_t)n * C;
        float r = rstd[n];
        double dot = 0.0;
        for (int i = 0; i < C; i++) dot += (double)w[i] * dy[i] * x[i];
        float m = (float)(dot / C) * r * r;
        for (int i = 0; i < C; i++) {
            dx[i] += r * (w[i] * dy[i] - x[i] * m);
            dw[i] += dy[i] * x[i] * r;
        }
    }
}

/* ---- matmul -------------------------------------------------------------- */

typedef struct {
    float *out;
    const float *a, *b;
    int N, C, OC;
} mm_ctx;

static void mm_fwd_rows(void *p, int lo, int hi, int tid)
{
    mm_ctx *c = p;
    kern_matmul(c->out + (size_t)lo * c->OC, c->a + (size_t)lo * c->C, c->b, hi - lo, c->OC, c->C);
}

void train_matmul_forward(float *out, const float *inp, const float *w, int N, int C, int OC,
                          int nt)
{
    mm_ctx c = {out, inp, w, N, C, OC};
    train_par_for(N, nt, mm_fwd_rows, &c);
}

/* dinp rows [lo, hi) += dout[lo:hi] @ w */
static void mm_bwd_inp_rows(void *p, int lo, int hi, int tid)
{
    mm_ctx *c = p;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, hi - lo, c->C, c->OC, 1.0f,
                c->a + (size_t)lo * c->OC, c->OC, c->b, c->C, 1.0f, c->out + (size_t)lo * c->C,
                c->C);
}

/* dw rows [lo, hi) += dout[:, lo:hi]^T @ inp */
static void mm_bwd_w_rows(void *p, int lo, int hi, int tid)
{
    mm_ctx *c = p;
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, hi - lo, c->C, c->N, 1.0f, c->a + lo,
                c->OC, c->b, c->C, 1.0f, c->out + (size_t)lo * c->C, c->C);
}

void train_matmul_backward(float *dinp, float *dw, const float *dout, const float *inp,
                           const float *w, int N, int C, int OC, int nt)
{
    /* dinp(N, C) += dout(N, OC) @ w(OC, C): split over rows of N;
     * dw(OC, C) += dout^T @ inp(N, C): split over rows of OC (no reduction across threads) */
    if (dinp) {
        mm_ctx c = {dinp, dout, w, N, C, OC};
        train_par_for(N, nt, mm_bwd_inp_rows, &c);
    }
    mm_ctx c = {dw, dout, inp, N, C, OC};
    train_par_for(OC, nt, mm_bwd_w_rows, &c);
}

/* ---- rotary -------------------------------------------------------------- */

void train_rope_tables(float *cos_t, float *sin_t, int T, int head_dim, float theta)
{
    int half = head_dim / 2;
    for (int t = 0; t < T; t++)
        for (int i = 0; i < half; i++) {
            double freq = pow((double)theta, -2.0 * i / head_dim);
            double a = t * freq;
            cos_t[t * half + i] = (float)cos(a);
            sin_t[t * half + i] = (float)sin(a);
        }
}

typedef struct {
    float *x;
    const float *cos_t, *sin_t;
    int T, C, NH;
    float sign; /* +1 forward, -1 backward (rotate by -angle) */
} rope_ctx;

static void rope_rows(void *p, int lo, int hi, int tid)
{
    rope_ctx *c = p;
    int hd = c->C / c->NH, half = hd / 2;
    for (int n = lo; n < hi; n++) {
        int t = n % c->T;
        const float *cs = c->cos_t + (size_t)t * half, *sn = c->sin_t + (size_t)t * half;
        float *row = c->x + (size_t)n * c->C;
        for (int h = 0; h < c->NH; h++) {
            float *v = row + h * hd;
            for (int i = 0; i < half; i++) {
                float x0 = v[2 * i], x1 = v[2 * i + 1];
                float co = cs[i], si = c->sign * sn[i];
                v[2 * i] = x0 * co - x1 * si;
                v[2 * i + 1] = x0 * si + x1 * co;
            }
        }
    }
}

void train_rope_forward(float *x, const float *cos_t, const float *sin_t, int B, int T, int C,
                        int NH, int nt)
{
    rope_ctx c = {x, cos_t, sin_t, T, C, NH, 1.0f};
    train_par_for(B * T, nt, rope_rows, &c);
}

void train_rope_backward(float *dx, const float *cos_t, const float *sin_t, int B, int T, int C,
                         int NH, int nt)
{
    /* The rotation is orthogonal: its transpose is the rotation by -angle. */
    rope_ctx c = {dx, cos_t, sin_t, T, C, NH, -1.0f};
    train_par_for(B * T, nt, rope_rows, &c);
}

/* ---- attention ----------------------------------------------------------- */

typedef struct {
    float *out, *att, *dq, *dk, *dv, *scratch;
    const float *dout, *q, *k, *v, *att_in;
    int B, T, C, NH;
} att_ctx;

/* Items are (b, h) pairs; each thread owns whole pairs, so no two threads write
 * the same output element. OpenBLAS runs single-threaded (train_model_new sets it). */
/* Rows are processed in blocks of ATT_BLOCK queries: block [r0, r1) only needs
 * keys 0..r1-1, so the causal upper triangle is (mostly) never computed. */
#define ATT_BLOCK 64

static void att_fwd_items(void *p, int lo, int hi, int tid)
{
    att_ctx *c = p;
    int T = c->T, C = c->C, hd = C / c->NH;
    float scale = 1.0f / sqrtf((float)hd);
    for (int it = lo; it < hi; it++) {
        int b = it / c->NH, h = it % c->NH;
        size_t off = (size_t)b * T * C + (size_t)h * hd;
        const float *Q = c->q + off, *K = c->k + off, *V = c->v + off;
        float *P = c->att + (size_t)it * T * T, *O = c->out + off;
        for (int r0 = 0; r0 < T; r0 += ATT_BLOCK) {
            int r1 = r0 + ATT_BLOCK < T ? r0 + ATT_BLOCK : T;
            float *Pb = P + (size_t)r0 * T;
            /* S[r0:r1, 0:r1] = scale * Q[r0:r1] K[0:r1]^T */
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, r1 - r0, r1, hd, scale,
                        Q + (size_t)r0 * C, C, K, C, 0.0f, Pb, T);
            for (int i = r0; i < r1; i++) {
                float *row = P + (size_t)i * T;
                float mx = row[0];
                for (int j = 1; j <= i; j++) mx = row[j] > mx ? row[j] : mx;
                float sum = 0.0f;
                for (int j = 0; j <= i; j++) {
                    row[j] = expf(row[j] - mx);
                    sum += row[j];
                }
                float inv = 1.0f / sum;
                for (int j = 0; j <= i; j++) row[j] *= inv;
                /* zeros up to the block's end only: nothing reads P[i][j >= r1] */
                for (int j = i + 1; j < r1; j++) row[j] = 0.0f;
            }
            /* O[r0:r1] = P[r0:r1, 0:r1] V[0:r1] */
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, r1 - r0, hd, r1, 1.0f, Pb, T,
                        V, C, 0.0f, O + (size_t)r0 * C, C);
        }
    }
}

void train_attention_forward(float *out, float *att, const float *q, const float *k,
                             const float *v, int B, int T, int C, int NH, int nt)
{
    att_ctx c = {.out = out, .att = att, .q = q, .k = k, .v = v, .B = B, .T = T, .C = C, .NH = NH};
    train_par_for(B * NH, nt, att_fwd_items, &c);
}

static void att_bwd_items(void *p, int lo, int hi, int tid)
{
    att_ctx *c = p;
    int T = c->T, C = c->C, hd = C / c->NH;
    float scale = 1.0f / sqrtf((float)hd);
    float *dP = c->scratch + (size_t)tid * T * T; /* this thread's (T, T) */
    for (int it = lo; it < hi; it++) {
        int b = it / c->NH, h = it % c->NH;
        size_t off = (size_t)b * T * C + (size_t)h * hd;
        const float *P = c->att_in + (size_t)it * T * T;
        const float *Q = c->q + off, *K = c->k + off, *V = c->v + off, *dO = c->dout + off;
        float *dQ = c->dq + off, *dK = c->dk + off, *dV = c->dv + off;
        for (int r0 = 0; r0 < T; r0 += ATT_BLOCK) {
            int r1 = r0 + ATT_BLOCK < T ? r0 + ATT_BLOCK : T, m = r1 - r0;
            const float *Pb = P + (size_t)r0 * T;
            float *dPb = dP + (size_t)r0 * T;
            /* dP[r0:r1, 0:r1] = dO[r0:r1] V[0:r1]^T ; dV[0:r1] += P[r0:r1, 0:r1]^T dO[r0:r1] */
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, r1, hd, 1.0f,
                        dO + (size_t)r0 * C, C, V, C, 0.0f, dPb, T);
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, r1, hd, m, 1.0f, Pb, T,
                        dO + (size_t)r0 * C, C, 1.0f, dV, C);
            /* softmax backward: dS_ij = P_ij (dP_ij - sum_k P_ik dP_ik), j <= i */
            for (int i = r0; i < r1; i++) {
                const float *pr = P + (size_t)i * T;
                float *dr = dP + (size_t)i * T;
                float dot = 0.0f;
                for (int j = 0; j <= i; j++) dot += pr[j] * dr[j];
                for (int j = 0; j <= i; j++) dr[j] = pr[j] * (dr[j] - dot);
                for (int j = i + 1; j < r1; j++) dr[j] = 0.0f;
            }
            /* dQ[r0:r1] += scale dS K[0:r1] ; dK[0:r1] += scale dS^T Q[r0:r1] */
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, hd, r1, scale, dPb, T, K, C,
                        1.0f, dQ + (size_t)r0 * C, C);
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, r1, hd, m, scale, dPb, T,
                        Q + (size_t)r0 * C, C, 1.0f, dK, C);
        }
    }
}

void train_attention_backward(float *dq, float *dk, float *dv, float *scratch, const float *dout,
                              const float *att, const float *q, const float *k, const float *v,
                              int B, int T, int C, int NH, int nt)
{
    att_ctx c = {.dq = dq, .dk = dk, .dv = dv, .scratch = scratch, .dout = dout, .att_in = att,
                 .q = q, .k = k, .v = v, .B = B, .T = T, .C = C, .NH = NH};
    train_par_for(B * NH, nt, att_bwd_items, &c);
}

/* ---- gelu ---------------------------------------------------------------- */

#define GELU_S 0.7978845608028654f /* sqrt(2/pi) */

typedef struct {
    float *out;
    const float *inp, *dout;
} gelu_ctx;

/* 0.5 x (1 + tanh(u)) = x sigmoid(2u): one expf instead of tanhf (libm's
 * tanhf goes through expm1f and was the trainer's hottest scalar loop). */
static void gelu_fwd_range(void *p, int lo, int hi, int tid)
{
    gelu_ctx *c = p;
    for (int i = lo; i < hi; i++) {
        float x = c->inp[i];
        float u = GELU_S * (x + 0.044715f * x * x * x);
        c->out[i] = x / (1.0f + expf(-2.0f * u));
    }
}

/* d/dx = 0.5 (1 + t) + 0.5 x (1 - t^2) u', t = tanh(u) = 2 sg - 1, sg = sigmoid(2u):
 *      = sg + 2 x sg (1 - sg) u' */
static void gelu_bwd_range(void *p, int lo, int hi, int tid)
{
    gelu_ctx *c = p;
    for (int i = lo; i < hi; i++) {
        float x = c->inp[i];
        float u = GELU_S * (x + 0.044715f * x * x * x);
        float sg = 1.0f / (1.0f + expf(-2.0f * u));
        float du = GELU_S * (1.0f + 3.0f * 0.044715f * x * x);
        c->out[i] += (sg + 2.0f * x * sg * (1.0f - sg) * du) * c->dout[i];
    }
}

void train_gelu_forward(float *out, const float *inp, int n, int nt)
{
    gelu_ctx c = {out, inp, NULL};
    train_par_for(n, nt, gelu_fwd_range, &c);
}

void train_gelu_backward(float *dinp, const float *inp, const float *dout, int n, int nt)
{
    gelu_ctx c = {dinp, inp, dout};
    train_par_for(n, nt, gelu_bwd_range, &c);
}

/* ---- softmax cross-entropy ----------------------------------------------- */

typedef struct {
    float *losses, *probs, *dlogits;
    const float *logits, *probs_in;
    const int *targets;
    float scale;
    int V;
} xent_ctx;

static void xent_fwd_rows(void *p, int lo, int hi, int tid)
{
    xent_ctx *c = p;
    int V = c->V;
    for (int n = lo; n < hi; n++) {
        const float *l = c->logits + (size_t)n * V;
        float *pr = c->probs + (size_t)n * V;
        float mx = l[0];
        for (int i = 1; i < V; i++) mx = l[i] > mx ? l[i] : mx;
        int t = c->targets[n];
        float lt = t >= 0 ? l[t] : 0.0f; /* read before probs (may alias logits) overwrite it */
        double sum = 0.0;
        for (int i = 0; i < V; i++) {
            pr[i] = expf(l[i] - mx);
            sum += pr[i];
        }
        float inv = (float)(1.0 / sum);
        for (int i = 0; i < V; i++) pr[i] *= inv;
        /* -log p computed from the logits (not log of a rounded prob) */
        c->losses[n] = t >= 0 ? (float)(log(sum) - (double)(lt - mx)) : 0.0f;
    }
}

float train_xent_forward(float *losses, float *probs, const float *logits, const int *targets,
                         int N, int V, int nt)
{
    xent_ctx c = {.losses = losses, .probs = probs, .logits = logits, .targets = targets, .V = V};
    train_par_for(N, nt, xent_fwd_rows, &c);
    double sum = 0.0;
    int cnt = 0;
    for (int n = 0; n < N; n++)
        if (targets[n] >= 0) {
            sum += losses[n];
            cnt++;
        }
    return cnt ? (float)(sum / cnt) : 0.0f;
}

static void xent_bwd_rows(void *p, int lo, int hi, int tid)
{
    xent_ctx *c = p;
    int V = c->V;
    for (int n = lo; n < hi; n++) {
        int t = c->targets[n];
        if (t < 0) continue;
        const float *pr = c->probs_in + (size_t)n * V;
        float *d = c->dlogits + (size_t)n * V;
        for (int i = 0; i < V; i++) d[i] += (pr[i] - (i == t ? 1.0f : 0.0f)) * c->scale;
    }
}

void train_xent_backward(float *dlogits, const float *probs, const int *targets, float scale,
                         int N, int V, int nt)
{
    xent_ctx c = {.dlogits = dlogits, .probs_in = probs, .targets = targets, .scale = scale, .V = V};
    train_par_for(N, nt, xent_bwd_rows, &c);
}
