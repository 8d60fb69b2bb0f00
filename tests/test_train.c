/* test_train.c — the trainer's maths: every layer's backward and the whole
 * tiny model's gradient against central finite differences of an independent
 * double-precision reference forward (written here, naive loops), plus a tiny
 * model that learns a synthetic token pattern to near-zero loss.
 *
 * Tolerance for gradients: the float32 analytic gradient g and the double
 * finite difference f (step 1e-6, truncation error ~1e-12) must agree as
 *   max_i |g_i - f_i| <= 1e-4 * max(max_i |f_i|, 1e-2)
 * (float32 rounding of the forward/backward gives errors around 1e-6
 * relative; a wrong formula gives errors of order 1). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "train_layers.h"
#include "train_model.h"
#include "train_rng.h"
#include "train_optim.h"

#define GRAD_TOL 1e-4
#define FD_H 1e-6

/* ---- double-precision references (independent of train_layers.c) --------- */

static void ref_rmsnorm(double *out, const double *x, const double *w, int N, int C)
{
    for (int n = 0; n < N; n++) {
        double ss = 0;
        for (int i = 0; i < C; i++) ss += x[n * C + i] * x[n * C + i];
        double r = 1.0 / sqrt(ss / C + 1e-5);
        for (int i = 0; i < C; i++) out[n * C + i] = x[n * C + i] * r * w[i];
    }
}

static void ref_matmul(double *out, const double *x, const double *w, int N, int C, int OC)
{
    for (int n = 0; n < N; n++)
        for (int o = 0; o < OC; o++) {
            double s = 0;
            for (int i = 0; i < C; i++) s += x[n * C + i] * w[o * C + i];
            out[n * OC + o] = s;
        }
}

/* model.h: per head, pairs (2i, 2i+1), angle = pos * theta^(-2i/head_dim) */
static void ref_rope(double *x, int B, int T, int C, int NH, double theta)
{
    int hd = C / NH;
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++)
            for (int h = 0; h < NH; h++)
                for (int i = 0; i < hd / 2; i++) {
                    double a = t * pow(theta, -2.0 * i / hd);
                    double *v = x + ((size_t)(b * T + t) * C + h * hd + 2 * i);
                    double x0 = v[0], x1 = v[1];
                    v[0] = x0 * cos(a) - x1 * sin(a);
                    v[1] = x0 * sin(a) + x1 * cos(a);
                }
}

static void ref_attention(double *out, const double *q, const double *k, const double *v, int B,
                          int T, int C, int NH)
{
    int hd = C / NH;
    double *s = malloc(sizeof(double) * T);
    for (int b = 0; b < B; b++)
        for (int h = 0; h < NH; h++)
            for (int i = 0; i < T; i++) {
                const double *qi = q + (size_t)(b * T + i) * C + h * hd;
                double mx = -1e300, sum = 0;
                for (int j = 0; j <= i; j++) {
                    const double *kj = k + (size_t)(b * T + j) * C + h * hd;
                    double d = 0;
                    for (int e = 0; e < hd; e++) d += qi[e] * kj[e];
                    s[j] = d / sqrt((double)hd);
                    if (s[j] > mx) mx = s[j];
                }
                for (int j = 0; j <= i; j++) sum += (s[j] = exp(s[j] - mx));
                double *o = out + (size_t)(b * T + i) * C + h * hd;
                for (int e = 0; e < hd; e++) {
                    double acc = 0;
                    for (int j = 0; j <= i; j++) acc += s[j] / sum * v[(size_t)(b * T + j) * C + h * hd + e];
                    o[e] = acc;
                }
            }
    free(s);
}

static double ref_gelu1(double x)
{
    return 0.5 * x * (1 + tanh(sqrt(2 / M_PI) * (x + 0.044715 * x * x * x)));
}

static double ref_xent(const double *logits, const int *tg, int N, int V)
{
    double tot = 0;
    int cnt = 0;
    for (int n = 0; n < N; n++) {
        if (tg[n] < 0) continue;
        double mx = -1e300, s = 0;
        for (int i = 0; i < V; i++) mx = fmax(mx, logits[n * V + i]);
        for (int i = 0; i < V; i++) s += exp(logits[n * V + i] - mx);
        tot += log(s) + mx - logits[n * V + tg[n]];
        cnt++;
    }
    return tot / cnt;
}

/* ---- helpers ----------------------------------------------------------- */

static train_rng rng;

static void randf(float *p, int n, float scale)
{
    for (int i = 0; i < n; i++) p[i] = scale * (float)train_rng_normal(&rng);
}

static double *to_d(const float *p, int n)
{
    double *d = malloc(sizeof(double) * n);
    for (int i = 0; i < n; i++) d[i] = p[i];
    return d;
}

/* Compares the analytic gradient g (float) with the finite difference of
 * loss() over every entry of x (double, perturbed in place). */
typedef double (*loss_fn)(void *ctx);

static void check_grad(const char *what, const float *g, double *x, int n, loss_fn f, void *ctx)
{
    double maxf = 0, maxerr = 0;
    for (int i = 0; i < n; i++) {
        double keep = x[i];
        x[i] = keep + FD_H;
        double lp = f(ctx);
        x[i] = keep - FD_H;
        double lm = f(ctx);
        x[i] = keep;
        double fd = (lp - lm) / (2 * FD_H);
        maxf = fmax(maxf, fabs(fd));
        maxerr = fmax(maxerr, fabs(fd - g[i]));
    }
    double tol = GRAD_TOL * fmax(maxf, 1e-2);
    print_message("  %-28s max|fd| %.3e  max err %.3e  (tol %.1e)\n", what, maxf, maxerr, tol);
    assert_true(maxf > 0);
    assert_true(maxerr <= tol);
}

/* ---- per-layer tests ------------------------------------------------------ */

enum { B = 2, T = 5, C = 8, NH = 2, OC = 6, HH = 12, V = 7, NT = 2 };
#define N (B * T)

typedef struct {
    double *x, *w, *r;
    double *q, *k, *v;
    int *tg;
} lctx;

static double l_rmsnorm(void *p)
{
    lctx *c = p;
    double out[N * C], s = 0;
    ref_rmsnorm(out, c->x, c->w, N, C);
    for (int i = 0; i < N * C; i++) s += out[i] * c->r[i];
    return s;
}

static void test_rmsnorm(void **state)
{
    (void)state;
    float x[N * C], w[C], r[N * C], out[N * C], rstd[N], dx[N * C] = {0}, dw[C] = {0};
    randf(x, N * C, 1.0f);
    randf(w, C, 1.0f);
    randf(r, N * C, 1.0f);
    train_rmsnorm_forward(out, rstd, x, w, N, C, NT);
    train_rmsnorm_backward(dx, dw, r, x, w, rstd, N, C);
    lctx c = {.x = to_d(x, N * C), .w = to_d(w, C), .r = to_d(r, N * C)};
    double ref[N * C];
    ref_rmsnorm(ref, c.x, c.w, N, C);
    for (int i = 0; i < N * C; i++) assert_true(fabs(ref[i] - out[i]) < 1e-5);
    check_grad("rmsnorm dinp", dx, c.x, N * C, l_rmsnorm, &c);
    check_grad("rmsnorm dweight", dw, c.w, C, l_rmsnorm, &c);
    free(c.x); free(c.w); free(c.r);
}

static double l_matmul(void *p)
{
    lctx *c = p;
    double out[N * OC], s = 0;
    ref_matmul(out, c->x, c->w, N, C, OC);
    for (int i = 0; i < N * OC; i++) s += out[i] * c->r[i];
    return s;
}

static void test_matmul(void **state)
{
    (void)state;
    float x[N * C], w[OC * C], r[N * OC], out[N * OC], dx[N * C] = {0}, dw[OC * C] = {0};
    randf(x, N * C, 1.0f);
    randf(w, OC * C, 1.0f);
    randf(r, N * OC, 1.0f);
    train_matmul_forward(out, x, w, N, C, OC, NT);
    train_matmul_backward(dx, dw, r, x, w, N, C, OC, NT);
    lctx c = {.x = to_d(x, N * C), .w = to_d(w, OC * C), .r = to_d(r, N * OC)};
    double ref[N * OC];
    ref_matmul(ref, c.x, c.w, N, C, OC);
    for (int i = 0; i < N * OC; i++) assert_true(fabs(ref[i] - out[i]) < 1e-5);
    check_grad("matmul dinp", dx, c.x, N * C, l_matmul, &c);
    check_grad("matmul dweight", dw, c.w, OC * C, l_matmul, &c);
    free(c.x); free(c.w); free(c.r);
}

static double l_rope(void *p)
{
    lctx *c = p;
    double y[N * C], s = 0;
    memcpy(y, c->x, sizeof y);
    ref_rope(y, B, T, C, NH, 10000.0);
    for (int i = 0; i < N * C; i++) s += y[i] * c->r[i];
    return s;
}

static void test_rope(void **state)
{
    (void)state;
    float x[N * C], r[N * C], y[N * C], cs[T * C / NH / 2], sn[T * C / NH / 2];
    randf(x, N * C, 1.0f);
    randf(r, N * C, 1.0f);
    train_rope_tables(cs, sn, T, C / NH, 10000.0f);
    memcpy(y, x, sizeof y);
    train_rope_forward(y, cs, sn, B, T, C, NH, NT);
    float dx[N * C];
    memcpy(dx, r, sizeof dx); /* backward is in place on the gradient */
    train_rope_backward(dx, cs, sn, B, T, C, NH, NT);
    lctx c = {.x = to_d(x, N * C), .r = to_d(r, N * C)};
    double ref[N * C];
    memcpy(ref, c.x, sizeof ref);
    ref_rope(ref, B, T, C, NH, 10000.0);
    for (int i = 0; i < N * C; i++) assert_true(fabs(ref[i] - y[i]) < 1e-5);
    check_grad("rope dinp", dx, c.x, N * C, l_rope, &c);
    free(c.x); free(c.r);
}

static double l_att(void *p)
{
    lctx *c = p;
    double out[N * C], s = 0;
    ref_attention(out, c->q, c->k, c->v, B, T, C, NH);
    for (int i = 0; i < N * C; i++) s += out[i] * c->r[i];
    return s;
}

static void test_attention(void **state)
{
    (void)state;
    float q[N * C], k[N * C], v[N * C], r[N * C], out[N * C];
    float att[B * NH * T * T], scratch[NT * T * T];
    float dq[N * C] = {0}, dk[N * C] = {0}, dv[N * C] = {0};
    randf(q, N * C, 1.0f);
    randf(k, N * C, 1.0f);
    randf(v, N * C, 1.0f);
    randf(r, N * C, 1.0f);
    train_attention_forward(out, att, q, k, v, B, T, C, NH, NT);
    train_attention_backward(dq, dk, dv, scratch, r, att, q, k, v, B, T, C, NH, NT);
    lctx c = {.r = to_d(r, N * C), .q = to_d(q, N * C), .k = to_d(k, N * C), .v = to_d(v, N * C)};
    double ref[N * C];
    ref_attention(ref, c.q, c.k, c.v, B, T, C, NH);
    for (int i = 0; i < N * C; i++) assert_true(fabs(ref[i] - out[i]) < 1e-5);
    check_grad("attention dq", dq, c.q, N * C, l_att, &c);
    check_grad("attention dk", dk, c.k, N * C, l_att, &c);
    check_grad("attention dv", dv, c.v, N * C, l_att, &c);
    free(c.r); free(c.q); free(c.k); free(c.v);
}

/* Attention with a window longer than the 64-row block, so the blocked path
 * (several row blocks, partial causal blocks) is exercised. Checked against
 * the double reference for the forward and a sampled set of gradients. */
static void test_attention_blocks(void **state)
{
    (void)state;
    enum { b2 = 1, t2 = 150, c2 = 8, nh2 = 2 };
    int n = b2 * t2 * c2;
    float *q = malloc(4 * n), *k = malloc(4 * n), *v = malloc(4 * n), *r = malloc(4 * n);
    float *out = malloc(4 * n), *att = malloc(4 * b2 * nh2 * t2 * t2), *scr = malloc(4 * NT * t2 * t2);
    float *dq = calloc(n, 4), *dk = calloc(n, 4), *dv = calloc(n, 4);
    randf(q, n, 1.0f); randf(k, n, 1.0f); randf(v, n, 1.0f); randf(r, n, 1.0f);
    train_attention_forward(out, att, q, k, v, b2, t2, c2, nh2, NT);
    train_attention_backward(dq, dk, dv, scr, r, att, q, k, v, b2, t2, c2, nh2, NT);
    double *qd = to_d(q, n), *kd = to_d(k, n), *vd = to_d(v, n), *rd = to_d(r, n);
    double *ref = malloc(8 * n);
    ref_attention(ref, qd, kd, vd, b2, t2, c2, nh2);
    double maxe = 0;
    for (int i = 0; i < n; i++) maxe = fmax(maxe, fabs(ref[i] - out[i]));
    assert_true(maxe < 1e-5);
    /* gradient of sum(out * r) w.r.t. a sample of q, k, v entries */
    double maxf = 0, maxerr = 0;
    double *xs[3] = {qd, kd, vd};
    float *gs[3] = {dq, dk, dv};
    for (int which = 0; which < 3; which++)
        for (int s = 0; s < 40; s++) {
            int i = (int)train_rng_below(&rng, n);
            double keep = xs[which][i], l[2];
            for (int sign = 0; sign < 2; sign++) {
                xs[which][i] = keep + (sign ? -FD_H : FD_H);
                ref_attention(ref, qd, kd, vd, b2, t2, c2, nh2);
                l[sign] = 0;
                for (int j = 0; j < n; j++) l[sign] += ref[j] * rd[j];
            }
            xs[which][i] = keep;
            double fd = (l[0] - l[1]) / (2 * FD_H);
            maxf = fmax(maxf, fabs(fd));
            maxerr = fmax(maxerr, fabs(fd - gs[which][i]));
        }
    print_message("  attention T=150 (blocks)     max|fd| %.3e  max err %.3e\n", maxf, maxerr);
    assert_true(maxerr <= GRAD_TOL * fmax(maxf, 1e-2));
    free(q); free(k); free(v); free(r); free(out); free(att); free(scr);
    free(dq); free(dk); free(dv); free(qd); free(kd); free(vd); free(rd); free(ref);
}

static double l_gelu(void *p)
{
    lctx *c = p;
    double s = 0;
    for (int i = 0; i < N * HH; i++) s += ref_gelu1(c->x[i]) * c->r[i];
    return s;
}

static void test_gelu(void **state)
{
    (void)state;
    float x[N * HH], r[N * HH], y[N * HH], dx[N * HH] = {0};
    randf(x, N * HH, 2.0f);
    randf(r, N * HH, 1.0f);
    train_gelu_forward(y, x, N * HH, NT);
    train_gelu_backward(dx, x, r, N * HH, NT);
    lctx c = {.x = to_d(x, N * HH), .r = to_d(r, N * HH)};
    for (int i = 0; i < N * HH; i++) assert_true(fabs(ref_gelu1(c.x[i]) - y[i]) < 1e-5);
    check_grad("gelu dinp", dx, c.x, N * HH, l_gelu, &c);
    free(c.x); free(c.r);
}

static double l_xent(void *p)
{
    lctx *c = p;
    return ref_xent(c->x, c->tg, N, V);
}

static void test_xent(void **state)
{
    (void)state;
    float logits[N * V], probs[N * V], losses[N], dl[N * V] = {0};
    int tg[N];
    randf(logits, N * V, 2.0f);
    int cnt = 0;
    for (int n = 0; n < N; n++) {
        tg[n] = n == 3 ? -1 : (int)train_rng_below(&rng, V); /* one unscored row */
        cnt += tg[n] >= 0;
    }
    float loss = train_xent_forward(losses, probs, logits, tg, N, V, NT);
    train_xent_backward(dl, probs, tg, 1.0f / cnt, N, V, NT);
    lctx c = {.x = to_d(logits, N * V), .tg = tg};
    assert_true(fabs(ref_xent(c.x, tg, N, V) - loss) < 1e-5);
    check_grad("cross-entropy dlogits", dl, c.x, N * V, l_xent, &c);
    free(c.x);
}

static void test_embed(void **state)
{
    (void)state;
    /* linear, so the gradient is exact: demb[t] = sum of dout rows with token t */
    uint16_t tok[N];
    float emb[V * C], out[N * C], r[N * C], d[V * C] = {0};
    for (int n = 0; n < N; n++) tok[n] = (uint16_t)train_rng_below(&rng, V);
    randf(emb, V * C, 1.0f);
    randf(r, N * C, 1.0f);
    train_embed_forward(out, tok, emb, N, C);
    train_embed_backward(d, r, tok, N, C);
    for (int n = 0; n < N; n++)
        for (int i = 0; i < C; i++) assert_true(out[n * C + i] == emb[tok[n] * C + i]);
    for (int t = 0; t < V; t++)
        for (int i = 0; i < C; i++) {
            double s = 0;
            for (int n = 0; n < N; n++)
                if (tok[n] == t) s += r[n * C + i];
            assert_true(fabs(s - d[t * C + i]) < 1e-5);
        }
}

/* ---- whole model --------------------------------------------------------- */

typedef struct {
    model_config cfg;
    double *p; /* params, weights-file layout */
    const uint16_t *tok;
    const int *tg;
    int b, t;
} mctx;

/* Offsets of each tensor in the parameter block, via model_weights_map. */
static void offsets(const model_config *cfg, size_t off[11])
{
    model_weights w;
    float *base = (float *)(uintptr_t)16; /* never dereferenced */
    model_weights_map(&w, cfg, base);
    float *ptrs[11] = {w.tok_emb, w.rms_att, w.wq, w.wk, w.wv, w.wo, w.rms_ffn, w.w1, w.w2,
                       w.rms_final, w.wcls};
    for (int i = 0; i < 11; i++) off[i] = (size_t)(ptrs[i] - base);
}

static double ref_model_loss(void *p)
{
    mctx *m = p;
    const model_config *c = &m->cfg;
    int d = c->dim, L = c->n_layers, h = c->hidden_dim, v = c->vocab_size, nh = c->n_heads;
    int n = m->b * m->t;
    size_t o[11];
    offsets(c, o);
    const double *P = m->p;
    double *x = malloc(8 * n * d), *hb = malloc(8 * n * d), *q = malloc(8 * n * d),
           *k = malloc(8 * n * d), *vv = malloc(8 * n * d), *a = malloc(8 * n * d),
           *tmp = malloc(8 * n * d), *f = malloc(8 * n * h), *lg = malloc(8 * n * v);
    for (int i = 0; i < n; i++)
        for (int j = 0; j < d; j++) x[i * d + j] = P[o[0] + m->tok[i] * d + j];
    for (int l = 0; l < L; l++) {
        ref_rmsnorm(hb, x, P + o[1] + l * d, n, d);
        ref_matmul(q, hb, P + o[2] + (size_t)l * d * d, n, d, d);
        ref_matmul(k, hb, P + o[3] + (size_t)l * d * d, n, d, d);
        ref_matmul(vv, hb, P + o[4] + (size_t)l * d * d, n, d, d);
        ref_rope(q, m->b, m->t, d, nh, c->rope_theta);
        ref_rope(k, m->b, m->t, d, nh, c->rope_theta);
        ref_attention(a, q, k, vv, m->b, m->t, d, nh);
        ref_matmul(tmp, a, P + o[5] + (size_t)l * d * d, n, d, d);
        for (int i = 0; i < n * d; i++) x[i] += tmp[i];
        ref_rmsnorm(hb, x, P + o[6] + l * d, n, d);
        ref_matmul(f, hb, P + o[7] + (size_t)l * h * d, n, d, h);
        for (int i = 0; i < n * h; i++) f[i] = ref_gelu1(f[i]);
        ref_matmul(tmp, f, P + o[8] + (size_t)l * d * h, n, h, d);
        for (int i = 0; i < n * d; i++) x[i] += tmp[i];
    }
    ref_rmsnorm(hb, x, P + o[9], n, d);
    ref_matmul(lg, hb, P + o[10], n, d, v);
    double loss = ref_xent(lg, m->tg, n, v);
    free(x); free(hb); free(q); free(k); free(vv); free(a); free(tmp); free(f); free(lg);
    return loss;
}

static void model_grad_check(int tied)
{
    model_config cfg = {.dim = 8, .n_layers = 2, .n_heads = 2, .hidden_dim = 12, .vocab_size = 11,
                        .seq_len = 8, .vocab_id = 1, .tied = tied, .rope_theta = 10000.0f};
    int b = 2, t = 6;
    train_model m;
    assert_true(train_model_new(&m, &cfg, b, t, NT, NULL));
    train_model_init(&m, 7);
    /* perturb the norm gains away from 1 so their gradients are generic; use a
     * larger init scale so every path carries a gradient well above rounding */
    for (size_t i = 0; i < m.n_params; i++) m.params[i] *= 10.0f;
    size_t L = cfg.n_layers, d = cfg.dim;
    for (size_t i = 0; i < L * d; i++) {
        m.w.rms_att[i] = 1.0f + 0.3f * (float)train_rng_normal(&rng);
        m.w.rms_ffn[i] = 1.0f + 0.3f * (float)train_rng_normal(&rng);
    }
    for (size_t i = 0; i < d; i++) m.w.rms_final[i] = 1.0f + 0.3f * (float)train_rng_normal(&rng);
    uint16_t tok[12];
    int tg[12];
    for (int i = 0; i < b * t; i++) {
        tok[i] = (uint16_t)train_rng_below(&rng, cfg.vocab_size);
        tg[i] = i == 4 ? -1 : (int)train_rng_below(&rng, cfg.vocab_size);
    }
    train_model_zero_grad(&m);
    float loss = train_model_forward(&m, tok, tg, b, t);
    train_model_backward(&m, tok, tg, b, t);
    mctx c = {cfg, to_d(m.params, (int)m.n_params), tok, tg, b, t};
    double ref = ref_model_loss(&c);
    print_message("  tiny model (tied=%d): %zu params, loss float %.7f double %.7f\n", tied,
                  m.n_params, loss, ref);
    assert_true(fabs(ref - loss) < 1e-5 * fmax(1.0, ref));
    check_grad(tied ? "whole model, tied head" : "whole model", m.grads, c.p, (int)m.n_params,
               ref_model_loss, &c);
    free(c.p);
    train_model_free(&m);
}

static void test_model_grad(void **state)
{
    (void)state;
    model_grad_check(0);
}

static void test_model_grad_tied(void **state)
{
    (void)state;
    model_grad_check(1);
}

/* A tiny model learns a deterministic pattern (a cycle of period 7 over
 * 20 tokens with a BOS-separated phase): after 300 AdamW steps the loss on
 * the pattern must be under 0.05 nats/token (chance is ln 20 = 3.0). */
static void test_learns_pattern(void **state)
{
    (void)state;
    model_config cfg = {.dim = 32, .n_layers = 2, .n_heads = 4, .hidden_dim = 64,
                        .vocab_size = 20, .seq_len = 32, .vocab_id = 1, .tied = 0,
                        .rope_theta = 10000.0f};
    int b = 8, t = 32;
    train_model m;
    assert_true(train_model_new(&m, &cfg, b, t, NT, NULL));
    train_model_init(&m, 3);
    float *mom = calloc(m.n_params, 4), *vel = calloc(m.n_params, 4);
    uint8_t *mask = malloc(m.n_params);
    train_model_decay_mask(&m, mask);
    train_optim_cfg o = {.lr = 3e-3f, .lr_min_frac = 0.1f, .warmup = 20, .total_steps = 300,
                         .beta1 = 0.9f, .beta2 = 0.95f, .eps = 1e-8f, .weight_decay = 0.01f,
                         .grad_clip = 1.0f};
    static const int cycle[7] = {3, 9, 4, 15, 9, 2, 6}; /* 9 repeats: needs 2 tokens of context */
    uint16_t tok[8 * 33];
    int tg[8 * 32];
    uint16_t in[8 * 32];
    float loss = 99.0f;
    for (int step = 0; step < 300; step++) {
        for (int r = 0; r < b; r++) {
            int phase = (int)train_rng_below(&rng, 7);
            for (int i = 0; i <= t; i++) tok[r * 33 + i] = (uint16_t)cycle[(phase + i) % 7];
            for (int i = 0; i < t; i++) {
                in[r * t + i] = tok[r * 33 + i];
                tg[r * t + i] = i < 2 ? -1 : tok[r * 33 + i + 1]; /* first 2: ambiguous */
            }
        }
        train_model_zero_grad(&m);
        loss = train_model_forward(&m, in, tg, b, t);
        train_model_backward(&m, in, tg, b, t);
        double norm = train_grad_norm(m.grads, m.n_params);
        float scale = norm > o.grad_clip ? (float)(o.grad_clip / norm) : 1.0f;
        train_adamw_update(m.params, m.grads, mom, vel, mask, m.n_params, &o, train_lr_at(&o, step),
                           scale, step + 1);
        if (step == 0) print_message("  pattern: step 0 loss %.4f\n", loss);
    }
    print_message("  pattern: step 300 loss %.4f\n", loss);
    assert_true(loss < 0.05f);
    free(mom); free(vel); free(mask);
    train_model_free(&m);
}

static void test_lr_schedule(void **state)
{
    (void)state;
    train_optim_cfg o = {.lr = 1.0f, .lr_min_frac = 0.1f, .warmup = 10, .total_steps = 110};
    assert_true(fabsf(train_lr_at(&o, 0) - 0.1f) < 1e-6f);   /* (0+1)/10 */
    assert_true(fabsf(train_lr_at(&o, 9) - 1.0f) < 1e-6f);
    assert_true(fabsf(train_lr_at(&o, 10) - 1.0f) < 1e-6f);  /* cosine starts at the peak */
    assert_true(fabsf(train_lr_at(&o, 60) - 0.55f) < 1e-6f); /* halfway: (1 + 0.1) / 2 */
    assert_true(fabsf(train_lr_at(&o, 110) - 0.1f) < 1e-6f);
    assert_true(fabsf(train_lr_at(&o, 500) - 0.1f) < 1e-6f);
}

int main(void)
{
    train_rng_seed(&rng, 12345);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rmsnorm),
        cmocka_unit_test(test_matmul),
        cmocka_unit_test(test_rope),
        cmocka_unit_test(test_attention),
        cmocka_unit_test(test_attention_blocks),
        cmocka_unit_test(test_gelu),
        cmocka_unit_test(test_xent),
        cmocka_unit_test(test_embed),
        cmocka_unit_test(test_model_grad),
        cmocka_unit_test(test_model_grad_tied),
        cmocka_unit_test(test_learns_pattern),
        cmocka_unit_test(test_lr_schedule),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
