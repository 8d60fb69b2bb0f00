/* test_kernels.c — every kernel variant this CPU supports (decode and the
 * batched prefill entries: matmul, prefill_attend) against the portable one,
 * the portable one against naive double loops, and kern_matmul (OpenBLAS)
 * against naive double loops. Variants the CPU lacks are skipped (and say so).
 *
 * Tolerance: normalized error max|got - want| / max(|want|) <= 1e-5 for float
 * results (float32 sums of <= 1024 terms: a few 1e-7 expected), 1e-6
 * absolute + relative for elementwise GELU. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <glib.h>
#include "kernels.h"

#define NTOL 1e-5

static float uni(uint64_t *s)
{
    *s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
    return (float)((double)(*s >> 11) / 9007199254740992.0 * 2.0 - 1.0);
}

static float *rnd(size_t n, uint64_t seed, float scale)
{
    float *p = g_new(float, n ? n : 1);
    for (size_t i = 0; i < n; i++) p[i] = scale * uni(&seed);
    return p;
}

static double norm_err(const float *got, const float *want, int n)
{
    double mx = 0, sc = 1e-30;
    for (int i = 0; i < n; i++) {
        if (isnan(got[i])) return INFINITY;
        mx = fmax(mx, fabs((double)got[i] - want[i]));
        sc = fmax(sc, fabs(want[i]));
    }
    return mx / sc;
}

static void check(double e, double tol, const char *what, const char *variant, int a, int b)
{
    if (!(e <= tol)) fail_msg("%s [%s] (%d, %d): normalized error %.3g > %.3g", what, variant, a, b, e, tol);
}

static const struct { int rows, cols; } shapes[] = {
    {1, 1}, {3, 5}, {4, 16}, {5, 17}, {7, 33}, {16, 255}, {37, 70},
    {256, 256}, {768, 256}, {256, 768}, {396, 256}, {13, 1000},
};

/* the portable matvec against double loops */
static void test_portable_matvec(void **st)
{
    for (size_t s = 0; s < G_N_ELEMENTS(shapes); s++) {
        int R = shapes[s].rows, C = shapes[s].cols;
        float *W = rnd((size_t)R * C, 1 + s, 1.0f), *x = rnd(C, 100 + s, 1.0f), y[R], want[R];
        const kern_cpu *p = kern_cpu_by_name("portable");
        p->matvec(y, W, x, R, C);
        for (int i = 0; i < R; i++) {
            double a = 0;
            for (int j = 0; j < C; j++) a += (double)W[(size_t)i * C + j] * x[j];
            want[i] = (float)a;
        }
        check(norm_err(y, want, R), NTOL, "portable matvec vs double", "portable", R, C);
        g_free(W);
        g_free(x);
    }
}

static void test_variants_matvec(void **st)
{
    int nv;
    const kern_cpu *const *v = kern_cpu_variants(&nv);
    const kern_cpu *ref = kern_cpu_by_name("portable");
    int ran = 0;
    for (int k = 0; k < nv; k++) {
        if (!v[k]->supported()) {
            printf("skip: %s not supported on this CPU\n", v[k]->name);
            continue;
        }
        ran++;
        for (size_t s = 0; s < G_N_ELEMENTS(shapes); s++) {
            int R = shapes[s].rows, C = shapes[s].cols;
            float *W = rnd((size_t)R * C, 1 + s, 1.0f), *x = rnd(C, 100 + s, 1.0f);
            uint16_t *Wb = g_new(uint16_t, (size_t)R * C);
            for (size_t i = 0; i < (size_t)R * C; i++) Wb[i] = kern_f32_to_bf16(W[i]);
            float y[R], want[R];
            ref->matvec(want, W, x, R, C);
            v[k]->matvec(y, W, x, R, C);
            check(norm_err(y, want, R), NTOL, "matvec", v[k]->name, R, C);
            ref->matvec_bf16(want, Wb, x, R, C);
            v[k]->matvec_bf16(y, Wb, x, R, C);
            check(norm_err(y, want, R), NTOL, "matvec_bf16", v[k]->name, R, C);
            g_free(W);
            g_free(Wb);
            g_free(x);
        }
    }
    assert_true(ran >= 2); /* portable and blas at least */
}

/* Half conversions independent of kernels.h: decoding from the fields by
 * ldexp; encoding by the compiler's _Float16 where it has one (gcc; clang 14
 * has none on x86-64), else by kern_f32_to_f16, which test_f16_scalar checks
 * against the decoder at every half and at the rounding ties. */
static double h2d(uint16_t u)
{
    int e = (u >> 10) & 31, m = u & 1023;
    double v = e == 31 ? (m ? NAN : INFINITY) : e ? ldexp(1024 + m, e - 25) : ldexp(m, -24);
    return u & 0x8000 ? -v : v;
}

static uint16_t *to_half(const float *x, size_t n)
{
    uint16_t *h = g_new(uint16_t, n);
    for (size_t i = 0; i < n; i++) {
#ifdef __FLT16_MAX__
        _Float16 v = (_Float16)x[i];
        memcpy(&h[i], &v, 2);
#else
        h[i] = kern_f32_to_f16(x[i]);
#endif
    }
    return h;
}

/* attention (half-float caches): every variant against portable, and
 * portable against double */
static void attend_double(float *out, const float *q, const uint16_t *kt, const uint16_t *v, int n,
                          int ld, int H, int hd)
{
    int dim = H * hd;
    for (int h = 0; h < H; h++) {
        double s[n], mx = -INFINITY, sum = 0;
        for (int t = 0; t < n; t++) {
            double a = 0;
            for (int j = 0; j < hd; j++)
                a += (double)q[h * hd + j] * (double)h2d(kt[(size_t)(h * hd + j) * ld + t]);
            s[t] = a / sqrt((double)hd);
            mx = fmax(mx, s[t]);
        }
        for (int t = 0; t < n; t++) sum += (s[t] = exp(s[t] - mx));
        for (int j = 0; j < hd; j++) {
            double a = 0;
            for (int t = 0; t < n; t++) a += s[t] / sum * h2d(v[(size_t)t * dim + h * hd + j]);
            out[h * hd + j] = (float)a;
        }
    }
}

static void test_attend(void **st)
{
    static const struct { int H, hd; } heads[] = {{8, 32}, {4, 16}, {2, 8}, {3, 6}, {1, 64}, {2, 48}};
    static const int ns[] = {1, 2, 5, 15, 16, 17, 31, 32, 33, 63, 64, 65, 200, 1024};
    int nv;
    const kern_cpu *const *v = kern_cpu_variants(&nv);
    const kern_cpu *ref = kern_cpu_by_name("portable");
    for (size_t a = 0; a < G_N_ELEMENTS(heads); a++)
        for (size_t b = 0; b < G_N_ELEMENTS(ns); b++) {
            int H = heads[a].H, hd = heads[a].hd, n = ns[b], dim = H * hd, ld = n + 16;
            /* scale 3: scores of a few units, a peaked softmax */
            float *q = rnd(dim, 7 + a, 3.0f), *ktf = rnd((size_t)dim * ld, 11 + b, 1.0f);
            float *vvf = rnd((size_t)n * dim, 13 + a * b, 1.0f);
            uint16_t *kt = to_half(ktf, (size_t)dim * ld), *vv = to_half(vvf, (size_t)n * dim);
            g_free(ktf);
            g_free(vvf);
            float want[dim], got[dim], dbl[dim];
            float *att0 = g_new0(float, (size_t)H * ld), *att1 = g_new0(float, (size_t)H * ld);
            ref->attend(want, att0, q, kt, vv, n, ld, H, hd);
            attend_double(dbl, q, kt, vv, n, ld, H, hd);
            check(norm_err(want, dbl, dim), NTOL, "portable attend vs double", "portable", n, hd);
            for (int k = 0; k < nv; k++) {
                if (!v[k]->supported()) continue;
                v[k]->attend(got, att1, q, kt, vv, n, ld, H, hd);
                check(norm_err(got, want, dim), NTOL, "attend", v[k]->name, n, hd);
                for (int h = 0; h < H; h++) /* probabilities left in att */
                    check(norm_err(att1 + (size_t)h * ld, att0 + (size_t)h * ld, n), NTOL,
                          "attend probabilities", v[k]->name, n, hd);
            }
            g_free(q);
            g_free(kt);
            g_free(vv);
            g_free(att0);
            g_free(att1);
        }
}

static void test_gelu_softmax(void **st)
{
    int nv;
    const kern_cpu *const *v = kern_cpu_variants(&nv);
    int n = 1003; /* not a multiple of any vector width */
    float *x = g_new(float, n), *want = g_new(float, n), *got = g_new(float, n);
    for (int i = 0; i < n; i++) x[i] = -12.0f + 24.0f * i / (n - 1);
    x[0] = -100.0f, x[1] = 100.0f, x[2] = 0.0f, x[3] = -1e-3f;
    for (int i = 0; i < n; i++) {
        double u = x[i];
        want[i] = (float)(0.5 * u * (1.0 + tanh(sqrt(2.0 / M_PI) * (u + 0.044715 * u * u * u))));
    }
    for (int k = 0; k < nv; k++) {
        if (!v[k]->supported()) continue;
        memcpy(got, x, n * sizeof(float));
        v[k]->gelu(got, n);
        for (int i = 0; i < n; i++)
            if (!(fabs(got[i] - want[i]) <= 1e-6 * (1.0 + fabs(want[i]))))
                fail_msg("gelu [%s] at x=%g: %.9g, want %.9g", v[k]->name, x[i], got[i], want[i]);
        /* softmax rows, two rows with ld > n */
        int ld = 520, nn = 509;
        float *rows = rnd(2 * ld, 99, 20.0f), *ref = g_memdup2(rows, 2 * ld * sizeof(float));
        for (int r = 0; r < 2; r++) {
            double mx = -INFINITY, sum = 0;
            for (int t = 0; t < nn; t++) mx = fmax(mx, ref[r * ld + t]);
            for (int t = 0; t < nn; t++) sum += exp(ref[r * ld + t] - mx);
            for (int t = 0; t < nn; t++) ref[r * ld + t] = (float)(exp(ref[r * ld + t] - mx) / sum);
        }
        v[k]->softmax_rows(rows, 2, nn, ld);
        for (int r = 0; r < 2; r++) {
            check(norm_err(rows + r * ld, ref + r * ld, nn), NTOL, "softmax", v[k]->name, r, nn);
            assert_memory_equal(rows + r * ld + nn, ref + r * ld + nn, (ld - nn) * sizeof(float));
        }
        g_free(rows);
        g_free(ref);
    }
    g_free(x);
    g_free(want);
    g_free(got);
}

/* conversions must be bit-exact against the portable ones (all round to
 * nearest even), including halves' subnormals, infinities and NaN */
static void test_conversions(void **st)
{
    int nv;
    const kern_cpu *const *v = kern_cpu_variants(&nv);
    int n = 4099;
    float *x = g_new(float, n), *y0 = g_new(float, n), *y1 = g_new(float, n);
    uint16_t *h0 = g_new(uint16_t, n), *h1 = g_new(uint16_t, n), *b = g_new(uint16_t, n);
    uint64_t seed = 1;
    for (int i = 0; i < n; i++) {
        float e = ldexpf(1.0f, (int)(uni(&seed) * 30)); /* 2^-30 .. 2^30 */
        x[i] = uni(&seed) * e;
        b[i] = (uint16_t)(i * 40503u);
    }
    x[0] = 65504.0f, x[1] = 65520.0f, x[2] = -1e9f, x[3] = 6e-8f, x[4] = INFINITY, x[5] = NAN;
    const kern_cpu *p = kern_cpu_by_name("portable");
    p->f32_to_f16(h0, x, n);
    assert_int_equal(h0[0], 0x7bff);
    assert_int_equal(h0[1], 0x7c00);
    p->f16_to_f32(y0, h0, n);
    for (int i = 6; i < n; i++)
        if (fabsf(x[i]) < 65504.0f && fabsf(x[i]) > 6.2e-5f && !(fabsf(y0[i] - x[i]) <= fabsf(x[i]) * 4.9e-4f))
            fail_msg("half round trip of %g gave %g", x[i], y0[i]);
    for (int k = 0; k < nv; k++) {
        if (!v[k]->supported()) continue;
        v[k]->f32_to_f16(h1, x, n);
        assert_memory_equal(h1, h0, n * sizeof *h0);
        v[k]->f16_to_f32(y1, h0, n);
        assert_memory_equal(y1, y0, n * sizeof *y0);
        p->bf16_to_f32(y0, b, n);
        v[k]->bf16_to_f32(y1, b, n);
        assert_memory_equal(y1, y0, n * sizeof *y0);
        p->f16_to_f32(y0, h0, n);
    }
    g_free(x);
    g_free(y0);
    g_free(y1);
    g_free(h0);
    g_free(h1);
    g_free(b);
}

/* batched matmul: portable against double loops, every variant against portable */
static void test_matmul(void **st)
{
    static const int dims[][3] = {{1, 5, 7}, {17, 33, 9}, {128, 256, 256}, {64, 768, 256}, {3, 1000, 13}};
    int nv;
    const kern_cpu *const *v = kern_cpu_variants(&nv);
    const kern_cpu *ref = kern_cpu_by_name("portable");
    for (size_t s = 0; s < G_N_ELEMENTS(dims); s++) {
        int T = dims[s][0], R = dims[s][1], C = dims[s][2];
        float *X = rnd((size_t)T * C, 3 + s, 1.0f), *W = rnd((size_t)R * C, 5 + s, 1.0f);
        float *out = g_new(float, (size_t)T * R), *want = g_new(float, (size_t)T * R);
        float *dbl = g_new(float, (size_t)T * R);
        for (int t = 0; t < T; t++)
            for (int r = 0; r < R; r++) {
                double a = 0;
                for (int c = 0; c < C; c++) a += (double)X[(size_t)t * C + c] * W[(size_t)r * C + c];
                dbl[(size_t)t * R + r] = (float)a;
            }
        ref->matmul(want, X, W, T, R, C);
        check(norm_err(want, dbl, T * R), NTOL, "portable matmul vs double", "portable", T, R);
        kern_matmul(out, X, W, T, R, C);
        check(norm_err(out, dbl, T * R), NTOL, "kern_matmul vs double", "blas", T, R);
        for (int k = 0; k < nv; k++) {
            if (!v[k]->supported()) continue;
            memset(out, 0xff, (size_t)T * R * sizeof(float)); /* NaN: every element must be written */
            v[k]->matmul(out, X, W, T, R, C);
            check(norm_err(out, want, T * R), NTOL, "matmul", v[k]->name, T, R);
        }
        g_free(X);
        g_free(W);
        g_free(out);
        g_free(want);
        g_free(dbl);
    }
}

/* prefill attention: portable row r against attend_double over p0 + r + 1
 * slots (independent), every variant against portable */
static void test_prefill_attend(void **st)
{
    static const struct { int H, hd; } heads[] = {{8, 32}, {4, 16}, {3, 6}, {2, 48}};
    static const struct { int p0, n; } runs[] = {{0, 1}, {0, 7}, {5, 1}, {3, 17}, {0, 128}, {200, 64}, {900, 100}};
    int nv;
    const kern_cpu *const *v = kern_cpu_variants(&nv);
    const kern_cpu *ref = kern_cpu_by_name("portable");
    for (size_t a = 0; a < G_N_ELEMENTS(heads); a++)
        for (size_t b = 0; b < G_N_ELEMENTS(runs); b++) {
            int H = heads[a].H, hd = heads[a].hd, dim = H * hd, p0 = runs[b].p0, n = runs[b].n;
            int end = p0 + n, ld = end + 16;
            float *q = rnd((size_t)n * dim, 17 + a, 3.0f), *ktf = rnd((size_t)dim * ld, 19 + b, 1.0f);
            float *vvf = rnd((size_t)end * dim, 23 + a * b, 1.0f);
            uint16_t *kt = to_half(ktf, (size_t)dim * ld), *vv = to_half(vvf, (size_t)end * dim);
            g_free(ktf);
            g_free(vvf);
            float *want = g_new(float, (size_t)n * dim), *got = g_new(float, (size_t)n * dim);
            float *dbl = g_new(float, (size_t)n * dim);
            float *scratch = g_new(float, kern_prefill_scratch(n, ld, dim));
            ref->prefill_attend(want, scratch, q, kt, vv, p0, n, ld, H, hd);
            for (int r = 0; r < n; r++)
                attend_double(dbl + (size_t)r * dim, q + (size_t)r * dim, kt, vv, p0 + r + 1, ld, H, hd);
            check(norm_err(want, dbl, n * dim), NTOL, "portable prefill_attend vs double", "portable", p0, n);
            for (int k = 0; k < nv; k++) {
                if (!v[k]->supported()) continue;
                memset(got, 0xff, (size_t)n * dim * sizeof(float));
                v[k]->prefill_attend(got, scratch, q, kt, vv, p0, n, ld, H, hd);
                check(norm_err(got, want, n * dim), NTOL, "prefill_attend", v[k]->name, p0, n);
            }
            g_free(q);
            g_free(kt);
            g_free(vv);
            g_free(want);
            g_free(got);
            g_free(dbl);
            g_free(scratch);
        }
}

/* The scalar half conversions: every half decodes to the value its fields
 * say (computed here with ldexp) and encodes back to itself; floats round to
 * nearest even at the stated edges; and, where the compiler has _Float16,
 * both directions agree bit for bit with it over all halves and a stride of
 * the float space. */
static void test_f16_scalar(void **st)
{
    for (uint32_t h = 0; h < 65536; h++) {
        double want = h2d((uint16_t)h);
        float got = kern_f16_to_f32((uint16_t)h);
        if (isnan(want)) {
            assert_true(isnan(got));
            assert_true(isnan(kern_f16_to_f32(kern_f32_to_f16(got))));
            continue;
        }
        assert_true((double)got == want);
        assert_true(!!signbit(got) == !!(h & 0x8000));
        assert_int_equal(kern_f32_to_f16(got), h);
    }
    assert_int_equal(kern_f32_to_f16(65504.0f), 0x7bff);
    assert_int_equal(kern_f32_to_f16(65519.99f), 0x7bff);
    assert_int_equal(kern_f32_to_f16(65520.0f), 0x7c00); /* tie to even: inf */
    assert_int_equal(kern_f32_to_f16(-1e30f), 0xfc00);
    assert_int_equal(kern_f32_to_f16(0x1p-25f), 0x0000);  /* tie to even: zero */
    assert_int_equal(kern_f32_to_f16(0x1.000002p-25f), 0x0001);
    assert_int_equal(kern_f32_to_f16(0x3p-25f), 0x0002);  /* 1.5 ulp: tie, up to even */
    assert_int_equal(kern_f32_to_f16(1.0f + 0x1p-11f), 0x3c00); /* tie, even stays */
    assert_int_equal(kern_f32_to_f16(1.0f + 0x3p-11f), 0x3c02); /* tie, odd rounds up */
#ifdef __FLT16_MAX__
    for (uint32_t h = 0; h < 65536; h++) {
        union { uint16_t u; _Float16 f; } r = {(uint16_t)h};
        float a = kern_f16_to_f32((uint16_t)h), b = (float)r.f;
        assert_true(memcmp(&a, &b, 4) == 0 || (isnan(a) && isnan(b)));
    }
    for (uint64_t x = 0; x <= 0xffffffffu; x += 997) {
        union { uint32_t u; float f; } v = {(uint32_t)x};
        union { _Float16 f; uint16_t u; } r = {(_Float16)v.f};
        uint16_t got = kern_f32_to_f16(v.f);
        if (isnan(v.f)) assert_true((got & 0x7fff) > 0x7c00);
        else if (got != r.u) fail_msg("f32 %08x: got %04x, _Float16 %04x", v.u, got, r.u);
    }
#endif
}

static void test_bf16_and_dispatch(void **st)
{
    /* round to nearest even on the dropped 16 bits */
    assert_int_equal(kern_f32_to_bf16(1.0f), 0x3f80);
    union { uint32_t u; float f; } a = {0x3f808000u}, b = {0x3f818000u}, c = {0x3f808001u};
    assert_int_equal(kern_f32_to_bf16(a.f), 0x3f80); /* tie, even stays */
    assert_int_equal(kern_f32_to_bf16(b.f), 0x3f82); /* tie, odd rounds up */
    assert_int_equal(kern_f32_to_bf16(c.f), 0x3f81); /* above the tie */
    assert_true(isnan(kern_bf16_to_f32(kern_f32_to_bf16(NAN))));
    assert_true(kern_bf16_to_f32(0x3f80) == 1.0f);

    const kern_cpu *d = kern_cpu_default();
    assert_non_null(d);
    assert_true(d->supported());
    assert_null(kern_cpu_by_name("no-such-variant"));
    setenv("CONTINUO_KERNEL", "portable", 1);
    assert_string_equal(kern_cpu_default()->name, "portable");
    setenv("CONTINUO_KERNEL", "no-such-variant", 1); /* unknown: ignored */
    assert_ptr_equal(kern_cpu_default(), d);
    unsetenv("CONTINUO_KERNEL");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_portable_matvec),
        cmocka_unit_test(test_variants_matvec),
        cmocka_unit_test(test_attend),
        cmocka_unit_test(test_gelu_softmax),
        cmocka_unit_test(test_conversions),
        cmocka_unit_test(test_matmul),
        cmocka_unit_test(test_prefill_attend),
        cmocka_unit_test(test_f16_scalar),
        cmocka_unit_test(test_bf16_and_dispatch),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
