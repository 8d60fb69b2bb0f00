/* test_model.c — the transformer engine (engine/model.c) against an
 * independent reference, and the weights-file loader against bad files.
 *
 * The reference (ref_*) is a naive double-precision implementation of the
 * architecture comment in model.h, written here from that text: its own
 * rmsnorm, rotary (absolute positions, angles in double), softmax attention
 * over an explicit window of remembered keys/values, tanh GELU. It never calls
 * the engine or the kernels. It applies the engine's two documented storage
 * roundings itself: weights to bfloat16 when the model is loaded as BF16
 * (its own round-to-nearest-even on the bits), and cached keys/values to IEEE
 * half (the compiler's _Float16).
 *
 * Tolerances (logits of size ~1-10), max |diff| <= TOL * (1 + max |ref|):
 *   TOL = 2e-4. Float32 arithmetic alone gives ~5e-6 (seen with a float32
 *   cache); the rest is for a cached value that sits within float rounding of
 *   a half-precision rounding point and so rounds the other way in one of the
 *   two computations (one half ulp, 2^-11 relative, on one element).
 *   The same bound holds for decode vs prefill (float vs float).
 *   truncate + re-decode vs fresh: bitwise equal (same code, same data). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <glib/gstdio.h>
#include <cmocka.h>
#include "model.h"
#include "error.h"
#include "kernels.h"
#include "cuda_loader.h"

#define TOL 2e-4

/* ---- fixtures: tiny models written to a temporary directory -------------- */

typedef struct {
    char *dir;
    char *path;
    model_config c;
    float *params;
    model *m;
    model_weight_type type;
} fixture;

/* deterministic parameters from a small LCG (independent of tools/lib) */
static float lcg_uniform(uint64_t *s)
{
    *s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
    return (float)((double)(*s >> 11) / 9007199254740992.0 * 2.0 - 1.0);
}

static float *make_params(const model_config *c, uint64_t seed)
{
    size_t n = model_param_count(c);
    float *p = g_new(float, n);
    model_weights w;
    model_weights_map(&w, c, p);
    /* big enough weights that attention is far from uniform and GELU is
     * exercised off its linear region */
    for (size_t i = 0; i < n; i++) p[i] = 0.35f * lcg_uniform(&seed);
    size_t L = (size_t)c->n_layers, d = (size_t)c->dim;
    for (size_t i = 0; i < L * d; i++) {
        w.rms_att[i] = 1.0f + 0.3f * lcg_uniform(&seed);
        w.rms_ffn[i] = 1.0f + 0.3f * lcg_uniform(&seed);
    }
    for (size_t i = 0; i < d; i++) w.rms_final[i] = 1.0f + 0.3f * lcg_uniform(&seed);
    return p;
}

static fixture *fixture_new_as(const model_config *c, uint64_t seed, model_weight_type type)
{
    fixture *f = g_new0(fixture, 1);
    f->dir = g_dir_make_tmp("continuo-test-model-XXXXXX", NULL);
    assert_non_null(f->dir);
    f->path = g_build_filename(f->dir, "tiny.bin", NULL);
    f->c = *c;
    f->params = make_params(c, seed);
    GError *err = NULL;
    assert_true(model_file_write(f->path, c, f->params, &err));
    f->type = type;
    f->m = model_load_as(f->path, type, &err);
    if (!f->m) fail_msg("%s", err->message);
    assert_int_equal(model_get_weight_type(f->m), type);
    return f;
}

static fixture *fixture_new(const model_config *c, uint64_t seed)
{
    return fixture_new_as(c, seed, MODEL_WEIGHTS_BF16);
}

static void fixture_free(fixture *f)
{
    model_free(f->m);
    g_unlink(f->path);
    g_rmdir(f->dir);
    g_free(f->path);
    g_free(f->dir);
    g_free(f->params);
    g_free(f);
}

static const model_config tiny_untied = {.dim = 32, .n_layers = 2, .n_heads = 4, .hidden_dim = 48,
                                         .vocab_size = 20, .seq_len = 16, .vocab_id = 1,
                                         .tied = 0, .rope_theta = 10000.0f};
/* head_dim 16 takes the SIMD fast paths; seq_len past one prefill chunk (128) */
static const model_config small_tied = {.dim = 64, .n_layers = 3, .n_heads = 4, .hidden_dim = 96,
                                        .vocab_size = 40, .seq_len = 300, .vocab_id = 1,
                                        .tied = 1, .rope_theta = 500.0f};

/* ---- the independent reference ------------------------------------------- */

typedef struct {
    model_config c;
    float *params;  /* the fixture's, rounded to bfloat16 for a BF16 model */
    model_weights w;
    int n;         /* tokens seen (absolute position of the next one) */
    int start;     /* oldest remembered position (window start) */
    double *K, *V; /* (n_layers, max_tokens, dim), absolute positions */
    int max_tokens;
} ref;

static ref *ref_new(const fixture *f, int max_tokens)
{
    ref *r = g_new0(ref, 1);
    r->c = f->c;
    size_t np = model_param_count(&f->c);
    r->params = g_memdup2(f->params, np * sizeof(float));
    if (f->type == MODEL_WEIGHTS_BF16) {
        /* round to nearest even at bit 16, except the norm gains (kept float32) */
        model_weights w;
        model_weights_map(&w, &f->c, r->params);
        size_t L = (size_t)f->c.n_layers, d = (size_t)f->c.dim;
        float *keep[] = {w.rms_att, w.rms_ffn, w.rms_final};
        size_t keep_n[] = {L * d, L * d, d};
        float saved[2 * L * d + d], *sp = saved;
        for (int k = 0; k < 3; k++) memcpy(sp, keep[k], keep_n[k] * 4), sp += keep_n[k];
        for (size_t i = 0; i < np; i++) {
            uint32_t u;
            memcpy(&u, &r->params[i], 4);
            u = (u + 0x7fff + ((u >> 16) & 1)) & 0xffff0000u;
            memcpy(&r->params[i], &u, 4);
        }
        sp = saved;
        for (int k = 0; k < 3; k++) memcpy(keep[k], sp, keep_n[k] * 4), sp += keep_n[k];
    }
    model_weights_map(&r->w, &f->c, r->params);
    r->max_tokens = max_tokens;
    r->K = g_new0(double, (size_t)f->c.n_layers * max_tokens * f->c.dim);
    r->V = g_new0(double, (size_t)f->c.n_layers * max_tokens * f->c.dim);
    return r;
}

static void ref_free(ref *r)
{
    g_free(r->params);
    g_free(r->K);
    g_free(r->V);
    g_free(r);
}

/* A double rounded to the half float the cache stores: the compiler's
 * _Float16 where it has one (gcc), else through float by kernels.h (checked
 * bit for bit by test_kernels' test_f16_scalar). */
static double round_half(double x)
{
#ifdef __FLT16_MAX__
    return (double)(_Float16)x;
#else
    return kern_f16_to_f32(kern_f32_to_f16((float)x));
#endif
}

static void ref_rmsnorm(double *out, const double *x, const float *g, int n)
{
    double ss = 0;
    for (int i = 0; i < n; i++) ss += x[i] * x[i];
    double k = 1.0 / sqrt(ss / n + 1e-5);
    for (int i = 0; i < n; i++) out[i] = x[i] * k * g[i];
}

/* y(rows) = W(rows, cols) x */
static void ref_matvec(double *y, const float *W, const double *x, int rows, int cols)
{
    for (int i = 0; i < rows; i++) {
        double s = 0;
        for (int j = 0; j < cols; j++) s += (double)W[(size_t)i * cols + j] * x[j];
        y[i] = s;
    }
}

static void ref_rope(double *v, int pos, const model_config *c)
{
    int hd = c->dim / c->n_heads;
    for (int h = 0; h < c->n_heads; h++)
        for (int i = 0; i < hd / 2; i++) {
            double ang = pos * pow(c->rope_theta, -2.0 * i / hd);
            double a = v[h * hd + 2 * i], b = v[h * hd + 2 * i + 1];
            v[h * hd + 2 * i] = a * cos(ang) - b * sin(ang);
            v[h * hd + 2 * i + 1] = a * sin(ang) + b * cos(ang);
        }
}

/* Process one token at absolute position r->n, attending to positions
 * r->start..r->n; logits into out (vocab_size). */
static void ref_step(ref *r, int token, double *out)
{
    const model_config *c = &r->c;
    int d = c->dim, H = c->n_heads, hd = d / H, hid = c->hidden_dim, pos = r->n;
    assert_true(pos < r->max_tokens);
    double x[d], h[d], q[d], a[d], o[d], hb[hid];
    for (int i = 0; i < d; i++) x[i] = r->w.tok_emb[(size_t)token * d + i];
    for (int l = 0; l < c->n_layers; l++) {
        double *K = r->K + ((size_t)l * r->max_tokens) * d, *V = r->V + ((size_t)l * r->max_tokens) * d;
        ref_rmsnorm(h, x, r->w.rms_att + l * d, d);
        ref_matvec(q, r->w.wq + (size_t)l * d * d, h, d, d);
        ref_matvec(K + (size_t)pos * d, r->w.wk + (size_t)l * d * d, h, d, d);
        ref_matvec(V + (size_t)pos * d, r->w.wv + (size_t)l * d * d, h, d, d);
        ref_rope(q, pos, c);
        ref_rope(K + (size_t)pos * d, pos, c);
        for (int i = 0; i < d; i++) { /* the cache stores half floats */
            K[(size_t)pos * d + i] = round_half(K[(size_t)pos * d + i]);
            V[(size_t)pos * d + i] = round_half(V[(size_t)pos * d + i]);
        }
        for (int hh = 0; hh < H; hh++) {
            int nt = pos - r->start + 1;
            double sc[nt], mx = -INFINITY, sum = 0;
            for (int t = 0; t < nt; t++) {
                double s = 0;
                for (int j = 0; j < hd; j++) s += q[hh * hd + j] * K[(size_t)(r->start + t) * d + hh * hd + j];
                sc[t] = s / sqrt((double)hd);
                if (sc[t] > mx) mx = sc[t];
            }
            for (int t = 0; t < nt; t++) sum += (sc[t] = exp(sc[t] - mx));
            for (int j = 0; j < hd; j++) {
                double s = 0;
                for (int t = 0; t < nt; t++) s += sc[t] / sum * V[(size_t)(r->start + t) * d + hh * hd + j];
                a[hh * hd + j] = s;
            }
        }
        ref_matvec(o, r->w.wo + (size_t)l * d * d, a, d, d);
        for (int i = 0; i < d; i++) x[i] += o[i];
        ref_rmsnorm(h, x, r->w.rms_ffn + l * d, d);
        ref_matvec(hb, r->w.w1 + (size_t)l * hid * d, h, hid, d);
        for (int i = 0; i < hid; i++) {
            double u = hb[i];
            hb[i] = 0.5 * u * (1.0 + tanh(sqrt(2.0 / M_PI) * (u + 0.044715 * u * u * u)));
        }
        ref_matvec(o, r->w.w2 + (size_t)l * d * hid, hb, d, hid);
        for (int i = 0; i < d; i++) x[i] += o[i];
    }
    ref_rmsnorm(h, x, r->w.rms_final, d);
    ref_matvec(out, r->w.wcls, h, c->vocab_size, d);
    r->n++;
}

/* max |a - b| against the tolerance scaled by the reference's size */
static void assert_close(const float *got, const double *want, int n, double tol, const char *what,
                         int step)
{
    double mx = 0, scale = 0;
    for (int i = 0; i < n; i++) {
        mx = fmax(mx, fabs(got[i] - want[i]));
        scale = fmax(scale, fabs(want[i]));
    }
    if (mx > tol * (1.0 + scale))
        fail_msg("%s, step %d: max |diff| %.3g > %.3g (max |logit| %.3g)", what, step, mx,
                 tol * (1.0 + scale), scale);
}

static void assert_close_f(const float *got, const float *want, int n, double tol, const char *what,
                           int step)
{
    double w[n];
    for (int i = 0; i < n; i++) w[i] = want[i];
    assert_close(got, w, n, tol, what, step);
}

static int token_at(int i, int vocab) { return (i * 7 + 3 + (i * i) % 5) % vocab; }

/* ---- engine vs reference ------------------------------------------------- */

static void check_against_reference(const model_config *c, int steps, const char *kernel,
                                    model_weight_type type)
{
    fixture *f = fixture_new_as(c, 42, type);
    GError *err = NULL;
    model_state *s = model_state_new(f->m, &err);
    assert_non_null(s);
    if (kernel && !model_state_set_kernel(s, kernel)) {
        model_state_free(s);
        fixture_free(f);
        return; /* this CPU lacks the variant */
    }
    ref *r = ref_new(f, steps);
    double want[c->vocab_size];
    for (int i = 0; i < steps; i++) {
        int tok = token_at(i, c->vocab_size);
        float *got = model_forward(s, tok);
        ref_step(r, tok, want);
        char what[64];
        snprintf(what, sizeof what, "decode vs reference (%s, %s)", model_state_kernel(s),
                 type == MODEL_WEIGHTS_BF16 ? "bf16" : "f32");
        assert_close(got, want, c->vocab_size, TOL, what, i);
    }
    /* the logits must not be near-uniform, or the check proves little */
    double lo = want[0], hi = want[0];
    for (int i = 0; i < c->vocab_size; i++) lo = fmin(lo, want[i]), hi = fmax(hi, want[i]);
    assert_true(hi - lo > 1.0);
    ref_free(r);
    model_state_free(s);
    fixture_free(f);
}

static void test_reference_tiny(void **st)
{
    int n;
    const kern_cpu *const *v = kern_cpu_variants(&n);
    for (int i = 0; i < n; i++)
        for (int t = MODEL_WEIGHTS_F32; t <= MODEL_WEIGHTS_BF16; t++)
            check_against_reference(&tiny_untied, tiny_untied.seq_len, v[i]->name, t);
}

static void test_reference_small(void **st)
{
    int n;
    const kern_cpu *const *v = kern_cpu_variants(&n);
    for (int i = 0; i < n; i++)
        for (int t = MODEL_WEIGHTS_F32; t <= MODEL_WEIGHTS_BF16; t++)
            check_against_reference(&small_tied, 70, v[i]->name, t);
}

/* ---- decode vs prefill --------------------------------------------------- */

static void test_prefill_matches_decode(void **st)
{
    const model_config *cs[] = {&tiny_untied, &small_tied, &tiny_untied, &small_tied};
    for (int k = 0; k < 4; k++) {
        const model_config *c = cs[k];
        fixture *f = fixture_new_as(c, 7, k < 2 ? MODEL_WEIGHTS_BF16 : MODEL_WEIGHTS_F32);
        model_state *dec = model_state_new(f->m, NULL), *pre = model_state_new(f->m, NULL);
        int steps = c->seq_len, V = c->vocab_size;
        int tokens[steps];
        for (int i = 0; i < steps; i++) tokens[i] = token_at(i, V);
        float *dl = g_new(float, (size_t)steps * V);
        for (int i = 0; i < steps; i++) memcpy(dl + (size_t)i * V, model_forward(dec, tokens[i]), V * sizeof(float));
        /* every position: one prefill of the first i+1 tokens */
        for (int i = 0; i < steps; i++) {
            model_truncate(pre, 0);
            float *pl = model_prefill(pre, tokens, i + 1);
            assert_int_equal(model_state_len(pre), i + 1);
            assert_close_f(pl, dl + (size_t)i * V, V, TOL, "prefill vs decode", i);
        }
        /* prefill continuing a decoded prefix, and in uneven pieces */
        model_truncate(pre, 0);
        int at = 0, piece = 1;
        while (at < steps) {
            int n = piece < steps - at ? piece : steps - at;
            float *pl = model_prefill(pre, tokens + at, n);
            at += n;
            assert_close_f(pl, dl + (size_t)(at - 1) * V, V, TOL, "prefill pieces vs decode", at - 1);
            piece = piece * 3 + 1;
        }
        g_free(dl);
        model_state_free(dec);
        model_state_free(pre);
        fixture_free(f);
    }
}

/* ---- truncate ------------------------------------------------------------ */

static void test_truncate_redecode(void **st)
{
    fixture *f = fixture_new(&small_tied, 9);
    int V = f->c.vocab_size;
    model_state *a = model_state_new(f->m, NULL), *b = model_state_new(f->m, NULL);
    /* a: 40 tokens, then roll back to 17 and decode a different continuation */
    for (int i = 0; i < 40; i++) model_forward(a, token_at(i, V));
    model_truncate(a, 17);
    assert_int_equal(model_state_len(a), 17);
    /* b: the same final sequence from scratch */
    for (int i = 0; i < 17; i++) model_forward(b, token_at(i, V));
    for (int i = 17; i < 50; i++) {
        int tok = (i * 11 + 5) % V;
        float *la = model_forward(a, tok);
        float *lb = model_forward(b, tok);
        if (memcmp(la, lb, V * sizeof(float))) fail_msg("truncate+re-decode differs at step %d", i);
    }
    /* truncating past the end is a no-op; to 0 restarts */
    model_truncate(a, 1000);
    assert_int_equal(model_state_len(a), 50);
    model_truncate(a, 0);
    model_truncate(b, 0);
    for (int i = 0; i < 5; i++)
        assert_memory_equal(model_forward(a, i), model_forward(b, i), V * sizeof(float));
    model_state_free(a);
    model_state_free(b);
    fixture_free(f);
}

/* ---- sliding ------------------------------------------------------------- */

/* The documented promise: after a slide the engine's logits equal those of an
 * unlimited model at absolute positions whose attention window starts at the
 * oldest kept token (keys/values as first computed). */
static void test_slide_matches_window(void **st)
{
    const model_config *c = &tiny_untied;
    fixture *f = fixture_new(c, 11);
    int V = c->vocab_size, T = c->seq_len, steps = 100;
    model_state *s = model_state_new(f->m, NULL);
    model_state *p = model_state_new(f->m, NULL);
    ref *r = ref_new(f, steps);
    double want[V];
    int keep = T - T / 4; /* the documented default */
    for (int i = 0; i < steps; i++) {
        int tok = token_at(i, V);
        if (i == 37) { /* an explicit slide between automatic ones */
            model_slide(s, 5);
            r->start = r->n - 5;
        } else if (r->n - r->start == T) {
            r->start = r->n - keep; /* what forward does when full */
        }
        float *got = model_forward(s, tok);
        ref_step(r, tok, want);
        assert_true(model_state_len(s) <= T);
        assert_int_equal(model_state_len(s), r->n - r->start);
        assert_close(got, want, V, TOL, "slid cache vs windowed reference", i);
    }
    /* prefill slides at the same points as decode */
    model_state *d = model_state_new(f->m, NULL);
    int tokens[steps];
    for (int i = 0; i < steps; i++) tokens[i] = token_at(i, V);
    float last[V];
    for (int i = 0; i < steps; i++) memcpy(last, model_forward(d, tokens[i]), sizeof last);
    assert_close_f(model_prefill(p, tokens, steps), last, V, TOL, "prefill past the context", steps);
    assert_int_equal(model_state_len(p), model_state_len(d));
    /* a custom keep, and slide(0) empties */
    model_state_set_slide_keep(d, 3);
    for (int i = 0; i < 2 * T; i++) {
        int before = model_state_len(d);
        model_forward(d, 1);
        assert_int_equal(model_state_len(d), before == T ? 4 : before + 1);
    }
    model_slide(d, 0);
    assert_int_equal(model_state_len(d), 0);
    ref_free(r);
    model_state_free(s);
    model_state_free(p);
    model_state_free(d);
    fixture_free(f);
}

/* Many slides: a key re-rotated over and over keeps matching the reference
 * (error does not grow with the number of slides). */
static void test_slide_many(void **st)
{
    const model_config *c = &tiny_untied;
    fixture *f = fixture_new(c, 13);
    int V = c->vocab_size, T = c->seq_len, steps = 600;
    model_state *s = model_state_new(f->m, NULL);
    model_state_set_slide_keep(s, T - 1); /* slide by one: most re-rotations per key */
    ref *r = ref_new(f, steps);
    double want[V];
    for (int i = 0; i < steps; i++) {
        if (r->n - r->start == T) r->start = r->n - (T - 1);
        float *got = model_forward(s, token_at(i * 3, V));
        ref_step(r, token_at(i * 3, V), want);
        assert_close(got, want, V, TOL, "600 one-step slides vs windowed reference", i);
    }
    ref_free(r);
    model_state_free(s);
    fixture_free(f);
}

/* ---- bad files ----------------------------------------------------------- */

/* model_set_device: cpu, an unknown name, and cuda: usable here, or refused
 * with the loader's one line (no GPU, no library) and the model left on cpu */
static void test_device(void **st)
{
    fixture *f = fixture_new(&tiny_untied, 3);
    GError *err = NULL;
    assert_string_equal(model_get_device(f->m), "cpu");
    assert_true(model_set_device(f->m, "cpu", &err));
    assert_false(model_set_device(f->m, "tpu", &err));
    assert_int_equal(err->code, CN_ERR_ARG);
    assert_non_null(strstr(err->message, "unknown device"));
    g_clear_error(&err);

    GError *lerr = NULL;
    const cn_cuda_api *api = cuda_loader_open(&lerr);
    gboolean ok = model_set_device(f->m, "cuda", &err);
    if (api) {
        assert_true(ok);
        assert_string_equal(model_get_device(f->m), "cuda");
    } else {
        printf("  --device cuda refused: %s\n", err->message);
        assert_false(ok);
        assert_true(g_str_has_prefix(err->message, "--device cuda: "));
        assert_null(strchr(err->message, '\n'));
        assert_string_equal(err->message, lerr->message);
        assert_string_equal(model_get_device(f->m), "cpu");
        model_state *s = model_state_new(f->m, &err); /* still a working CPU state */
        assert_non_null(s);
        assert_string_not_equal(model_state_kernel(s), "cuda");
        model_state_free(s);
        g_clear_error(&err);
        g_clear_error(&lerr);
    }
    fixture_free(f);
}

static char *file_bytes(const char *path, gsize *len)
{
    char *b = NULL;
    assert_true(g_file_get_contents(path, &b, len, NULL));
    return b;
}

static void expect_error(const char *path, int code, const char *what)
{
    GError *err = NULL;
    model *m = model_load(path, &err);
    if (m) {
        model_free(m);
        fail_msg("%s: loaded", what);
    }
    assert_non_null(err);
    if (!g_error_matches(err, CN_ERROR, code))
        fail_msg("%s: error code %d, want %d (%s)", what, err->code, code, err->message);
    /* one line that names the file */
    assert_true(g_str_has_prefix(err->message, path));
    assert_null(strchr(err->message, '\n'));
    g_error_free(err);
}

static void write_bytes(const char *path, const char *b, gsize len)
{
    assert_true(g_file_set_contents(path, b, (gssize)len, NULL));
}

static void test_bad_files(void **st)
{
    fixture *f = fixture_new(&tiny_untied, 3);
    gsize len;
    char *good = file_bytes(f->path, &len);
    char *bad = g_build_filename(f->dir, "bad.bin", NULL);
    char *buf = g_memdup2(good, len);

    /* every truncation inside the header, and some in the payload */
    for (gsize n = 0; n < MODEL_HEADER_SIZE; n++) {
        write_bytes(bad, good, n);
        expect_error(bad, CN_ERR_TRUNCATED, "header truncation");
    }
    gsize cuts[] = {MODEL_HEADER_SIZE, MODEL_HEADER_SIZE + 1, MODEL_HEADER_SIZE + 4 * 7,
                    (MODEL_HEADER_SIZE + len) / 2, len - 1};
    for (size_t i = 0; i < G_N_ELEMENTS(cuts); i++) {
        write_bytes(bad, good, cuts[i]);
        expect_error(bad, CN_ERR_TRUNCATED, "payload truncation");
    }
    /* trailing garbage */
    char *longer = g_malloc0(len + 3);
    memcpy(longer, good, len);
    write_bytes(bad, longer, len + 3);
    expect_error(bad, CN_ERR_FORMAT, "trailing bytes");
    g_free(longer);

    /* a bit flip anywhere in the payload: checksum */
    gsize flips[] = {MODEL_HEADER_SIZE, MODEL_HEADER_SIZE + 1000, len / 2 + 3, len - 1};
    for (size_t i = 0; i < G_N_ELEMENTS(flips); i++) {
        memcpy(buf, good, len);
        buf[flips[i]] ^= (char)(1 << (i % 8));
        write_bytes(bad, buf, len);
        expect_error(bad, CN_ERR_CHECKSUM, "payload bit flip");
    }
    /* a bit flip in the header's checksum field */
    memcpy(buf, good, len);
    buf[offsetof(model_file_header, sha256) + 5] ^= 0x10;
    write_bytes(bad, buf, len);
    expect_error(bad, CN_ERR_CHECKSUM, "sha256 field bit flip");

    /* bit flips in the header fields that the payload size pins down.
     * (seq_len, vocab_id and rope_theta are not pinned: format v1's checksum
     * covers the payload only, so a flip there is only caught when it makes
     * the config invalid.) */
    struct { size_t off; int bit; int code; const char *what; } hf[] = {
        {offsetof(model_file_header, magic) + 3, 0, CN_ERR_FORMAT, "magic"},
        {offsetof(model_file_header, version), 1, CN_ERR_VERSION, "version"},
        {offsetof(model_file_header, header_size), 0, CN_ERR_FORMAT, "header_size"},
        {offsetof(model_file_header, config.dim), 3, CN_ERR_FORMAT, "dim"},
        {offsetof(model_file_header, config.n_layers), 0, CN_ERR_FORMAT, "n_layers"},
        {offsetof(model_file_header, config.n_heads), 1, CN_ERR_FORMAT, "n_heads"},
        {offsetof(model_file_header, config.n_heads) + 3, 7, CN_ERR_FORMAT, "n_heads sign"},
        {offsetof(model_file_header, config.hidden_dim), 2, CN_ERR_FORMAT, "hidden_dim"},
        {offsetof(model_file_header, config.vocab_size), 0, CN_ERR_FORMAT, "vocab_size"},
        {offsetof(model_file_header, config.seq_len) + 3, 7, CN_ERR_FORMAT, "seq_len sign"},
        {offsetof(model_file_header, config.tied), 0, CN_ERR_FORMAT, "tied"},
        {offsetof(model_file_header, config.rope_theta) + 3, 7, CN_ERR_FORMAT, "rope_theta sign"},
        {offsetof(model_file_header, dtype), 0, CN_ERR_UNSUPPORTED, "dtype"},
        {offsetof(model_file_header, param_count), 4, CN_ERR_FORMAT, "param_count"},
        {offsetof(model_file_header, param_count) + 7, 7, CN_ERR_FORMAT, "param_count top"},
        {offsetof(model_file_header, payload_bytes), 2, CN_ERR_FORMAT, "payload_bytes"},
        {offsetof(model_file_header, payload_bytes) + 7, 7, CN_ERR_FORMAT, "payload_bytes top"},
    };
    for (size_t i = 0; i < G_N_ELEMENTS(hf); i++) {
        memcpy(buf, good, len);
        buf[hf[i].off] ^= (char)(1 << hf[i].bit);
        write_bytes(bad, buf, len);
        expect_error(bad, hf[i].code, hf[i].what);
    }

    /* wrong version, spelled out */
    memcpy(buf, good, len);
    uint32_t v2 = 2;
    memcpy(buf + offsetof(model_file_header, version), &v2, 4);
    write_bytes(bad, buf, len);
    expect_error(bad, CN_ERR_VERSION, "version 2");

    /* foreign files: a MIDI header, a short text, random bytes */
    static const char midi[] = "MThd\0\0\0\6\0\1\0\2\1\340MTrk";
    write_bytes(bad, midi, sizeof midi);
    expect_error(bad, CN_ERR_FORMAT, "MIDI file");
    write_bytes(bad, "abc", 3);
    expect_error(bad, CN_ERR_FORMAT, "short text");
    uint64_t seed = 5;
    for (gsize i = 0; i < len; i++) buf[i] = (char)(lcg_uniform(&seed) * 127);
    write_bytes(bad, buf, len);
    expect_error(bad, CN_ERR_FORMAT, "random bytes");

    /* an empty file is called empty, not truncated */
    write_bytes(bad, "", 0);
    GError *e0 = NULL;
    assert_null(model_load(bad, &e0));
    assert_non_null(strstr(e0->message, "empty file (0 bytes)"));
    g_clear_error(&e0);

    /* missing file, directory */
    char *missing = g_build_filename(f->dir, "missing.bin", NULL);
    expect_error(missing, CN_ERR_IO, "missing file");
    expect_error(f->dir, CN_ERR_IO, "directory");

    /* and the good bytes still load */
    write_bytes(bad, good, len);
    GError *err = NULL;
    model *m = model_load(bad, &err);
    assert_non_null(m);
    assert_memory_equal(model_get_config(m), &f->c, sizeof f->c);
    model_free(m);

    g_unlink(bad);
    g_free(missing);
    g_free(bad);
    g_free(buf);
    g_free(good);
    fixture_free(f);
}

/* The memory a config may ask beyond its file: seq_len up to
 * MODEL_MAX_SEQ_LEN, and a KV cache up to MODEL_MAX_CACHE_BYTES, counted here
 * from the layout model.c documents (keys transposed with rows padded to 32
 * positions, plus 32 more when a row is a multiple of 4 KiB; values
 * unpadded; half floats). */
static void test_config_memory_limits(void **st)
{
    model_config c = {.dim = 256, .n_layers = 6, .n_heads = 8, .hidden_dim = 768,
                      .vocab_size = 396, .seq_len = 1000, .vocab_id = 1, .tied = 1,
                      .rope_theta = 10000.0f};
    assert_int_equal(model_cache_bytes(&c), (size_t)6 * 256 * (1024 + 1000) * 2);
    c.seq_len = 2048; /* a 4096-byte key row: padded by 32 more */
    assert_int_equal(model_cache_bytes(&c), (size_t)6 * 256 * (2080 + 2048) * 2);
    GError *err = NULL;
    c.seq_len = MODEL_MAX_SEQ_LEN;
    assert_true(model_config_check(&c, &err));
    c.seq_len = 1 << 20; /* what a valid file asked for: 12 GiB of cache */
    assert_false(model_config_check(&c, &err));
    assert_non_null(strstr(err->message, "seq_len out of range"));
    g_clear_error(&err);
    /* within the seq_len limit, over the cache limit: 16 x 1024 x 65536 x 4 B */
    c.dim = 1024;
    c.n_layers = 16;
    c.seq_len = MODEL_MAX_SEQ_LEN;
    assert_false(model_config_check(&c, &err));
    assert_non_null(strstr(err->message, "KV cache"));
    g_clear_error(&err);
    c.seq_len = 16384; /* 16 x 1024 x (16416 + 16384) x 2 B = 1025 MiB: fits */
    assert_true(model_config_check(&c, &err));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reference_tiny),
        cmocka_unit_test(test_reference_small),
        cmocka_unit_test(test_prefill_matches_decode),
        cmocka_unit_test(test_truncate_redecode),
        cmocka_unit_test(test_slide_matches_window),
        cmocka_unit_test(test_slide_many),
        cmocka_unit_test(test_bad_files),
        cmocka_unit_test(test_config_memory_limits),
        cmocka_unit_test(test_device),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
