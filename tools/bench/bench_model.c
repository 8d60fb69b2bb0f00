/* bench_model.c — `continuo-bench model [--model FILE] [--threads N] [--runs R]`:
 * decode latency (p50/p99/max) at context positions 0, 256, 512 and full,
 * prefill tokens/s, slide cost, peak RSS, for 1 thread and 2; the sgemm
 * GFLOP/s of this machine (512x256x768) and the fraction of it decode and
 * prefill reach; each decode kernel variant's speed. Without --model it
 * benchmarks a random model of the shipped shape (continuo-mkmodel's).
 *
 * Threads: OpenBLAS's (openblas_set_num_threads) serve prefill and the sgemm
 * figure; decode always runs on the calling thread (it is bound by cache
 * bandwidth, and the second core belongs to the audio thread and FluidSynth),
 * so its t2 figures show what OpenBLAS's extra thread costs it, nothing more.
 * Latencies are wall-clock; the *_cpu figures are the thread's CPU time
 * (CLOCK_THREAD_CPUTIME_ID), which leaves out time the scheduler gave to
 * other processes: when they differ a lot the machine was busy.
 * One `name: value unit` line per figure on stdout.
 *
 * --device cuda: the same figures for the GPU decoder (kernels/cuda/decode.cu
 * through cuda_loader_open): decode p50/p99/max at the same positions, with
 * the step replayed as one CUDA graph (decode_cuda_*) and with its kernels
 * launched one by one (decode_cuda_plain_*), prefill of the whole context,
 * a slide, bfloat16 weights at full context, and the largest logit
 * difference from the CPU engine (float32 weights both). Latency is the
 * whole model_forward equivalent as the engine would see it: token upload,
 * launch, logits download, wait. Without a usable GPU: the loader's one
 * line on stderr, exit 1. */
#include <stdio.h>
#include <stdlib.h>
#include <math.h>
#include <string.h>
#include <time.h>
#include <sys/resource.h>
#include <cblas.h>
#include <glib.h>
#include <glib/gstdio.h>
#include "bench.h"
#include "model.h"
#include "model_random.h"
#include "kernels.h"
#include "cuda_loader.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static double cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* sorts v; the q-quantile (nearest rank) */
static double quantile(double *v, int n, double q)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    int i = (int)(q * n + 0.5) - 1;
    return v[i < 0 ? 0 : i >= n ? n - 1 : i];
}

static double median(double *v, int n) { return quantile(v, n, 0.5); }

/* FLOPs of the matrix products for one token (2 per multiply-add). */
static double token_flops(const model_config *c, int ctx)
{
    double d = c->dim, L = c->n_layers, h = c->hidden_dim, V = c->vocab_size;
    return 2.0 * (L * (4 * d * d + 2 * d * h)) + 2.0 * V * d /* logits */
           + L * 4.0 * d * ctx; /* scores and mix over ctx positions */
}

static double sgemm_gflops(int reps)
{
    int T = 512, C = 256, R = 768;
    float *X = g_new(float, (size_t)T * C), *W = g_new(float, (size_t)R * C);
    float *O = g_new(float, (size_t)T * R);
    for (int i = 0; i < T * C; i++) X[i] = (float)(i % 7) * 0.1f;
    for (int i = 0; i < R * C; i++) W[i] = (float)(i % 5) * 0.1f;
    double t[reps];
    kern_matmul(O, X, W, T, R, C);
    for (int r = 0; r < reps; r++) {
        double t0 = now_s();
        kern_matmul(O, X, W, T, R, C);
        t[r] = now_s() - t0;
    }
    g_free(X);
    g_free(W);
    g_free(O);
    return 2.0 * T * C * R / median(t, reps) / 1e9;
}

/* GFLOP/s of one kernel variant's matvec on a 768x256 matrix (fits L2). */
static double matvec_gflops(const kern_cpu *k, int rows, int cols, int reps)
{
    float *W = g_new(float, (size_t)rows * cols), *x = g_new(float, cols), *y = g_new(float, rows);
    for (int i = 0; i < rows * cols; i++) W[i] = (float)(i % 11) * 0.01f;
    for (int i = 0; i < cols; i++) x[i] = 1.0f;
    double t[reps];
    for (int r = 0; r < reps; r++) {
        double t0 = now_s();
        for (int j = 0; j < 10; j++) k->matvec(y, W, x, rows, cols);
        t[r] = (now_s() - t0) / 10;
    }
    g_free(W);
    g_free(x);
    g_free(y);
    return 2.0 * rows * cols / median(t, reps) / 1e9;
}

/* Latency of model_forward with exactly pos tokens already cached: wall
 * clock into lat, thread CPU time into cpu (may be NULL). */
static void decode_at(model_state *s, const int *tokens, int pos, int runs, double *lat, double *cpu)
{
    model_truncate(s, 0);
    if (pos > 0) model_prefill(s, tokens, pos);
    for (int r = 0; r < runs + 5; r++) {
        double c0 = cpu_s(), t0 = now_s();
        model_forward(s, tokens[(pos + r) % 64]);
        double dt = now_s() - t0, dc = cpu_s() - c0;
        model_truncate(s, pos);
        if (r >= 5) { /* the first few warm the caches */
            lat[r - 5] = dt;
            if (cpu) cpu[r - 5] = dc;
        }
    }
}

static void run_threads(model *m, int threads, int runs, const int *tokens, double gemm)
{
    const model_config *c = model_get_config(m);
    openblas_set_num_threads(threads);
    model_state *s = model_state_new(m, NULL);
    int T = c->seq_len;
    int positions[] = {0, 256, 512, T - 1};
    const char *names[] = {"0", "256", "512", "full"};
    double *lat = g_new(double, runs), *cpu = g_new(double, runs);
    for (int i = 0; i < 4; i++) {
        int pos = positions[i];
        if (pos >= T) continue;
        decode_at(s, tokens, pos, runs, lat, cpu);
        double p50 = quantile(lat, runs, 0.5), p99 = quantile(lat, runs, 0.99);
        double mx = lat[runs - 1];
        printf("decode_t%d_pos%s_p50: %.4f ms\n", threads, names[i], p50 * 1e3);
        printf("decode_t%d_pos%s_p99: %.4f ms\n", threads, names[i], p99 * 1e3);
        printf("decode_t%d_pos%s_max: %.4f ms\n", threads, names[i], mx * 1e3);
        printf("decode_t%d_pos%s_cpu_p50: %.4f ms\n", threads, names[i], median(cpu, runs) * 1e3);
        if (i == 0 || i == 3) {
            double gf = token_flops(c, pos + 1) / p50 / 1e9;
            printf("decode_t%d_pos%s_gflops: %.1f GFLOP/s\n", threads, names[i], gf);
            printf("decode_t%d_pos%s_fraction_of_sgemm: %.3f\n", threads, names[i], gf / gemm);
        }
    }
    /* prefill of the whole context from empty */
    int reps = 5;
    double t[reps];
    for (int r = 0; r < reps; r++) {
        model_truncate(s, 0);
        double t0 = now_s();
        model_prefill(s, tokens, T);
        t[r] = now_s() - t0;
    }
    double pt = median(t, reps), flops = 0;
    for (int p = 0; p < T; p++) flops += token_flops(c, p + 1);
    flops -= (T - 1) * 2.0 * c->vocab_size * c->dim; /* prefill computes the last logits only */
    printf("prefill_t%d_%d_tokens: %.2f ms\n", threads, T, pt * 1e3);
    printf("prefill_t%d: %.0f tokens/s\n", threads, T / pt);
    printf("prefill_t%d_gflops: %.1f GFLOP/s\n", threads, flops / pt / 1e9);
    printf("prefill_t%d_fraction_of_sgemm: %.3f\n", threads, flops / pt / 1e9 / gemm);
    /* the cost of one automatic slide (full cache, keep 3/4) */
    for (int r = 0; r < reps; r++) {
        model_truncate(s, 0);
        model_prefill(s, tokens, T);
        double t0 = now_s();
        model_slide(s, T - T / 4);
        t[r] = now_s() - t0;
    }
    printf("slide_t%d: %.3f ms\n", threads, median(t, reps) * 1e3);
    g_free(lat);
    g_free(cpu);
    model_state_free(s);
}

/* Largest logit difference between two models over the same 200 tokens. */
static void logit_error(model *a, model *b, const int *tokens, int n, double *max_abs, double *range)
{
    model_state *sa = model_state_new(a, NULL), *sb = model_state_new(b, NULL);
    int V = model_get_config(a)->vocab_size;
    *max_abs = 0;
    *range = 0;
    for (int i = 0; i < n; i++) {
        float *la = model_forward(sa, tokens[i]), *lb = model_forward(sb, tokens[i]);
        float lo = la[0], hi = la[0];
        for (int v = 0; v < V; v++) {
            double d = fabs((double)la[v] - lb[v]);
            if (d > *max_abs) *max_abs = d;
            lo = la[v] < lo ? la[v] : lo;
            hi = la[v] > hi ? la[v] : hi;
        }
        if (hi - lo > *range) *range = hi - lo;
    }
    model_state_free(sa);
    model_state_free(sb);
}

/* ---- --device cuda ---------------------------------------------------------- */

/* One GPU decoder of m32's weights (float32 payload); NULL + message on stderr. */
static cn_cuda_decoder *cuda_decoder(const cn_cuda_api *api, const model *m32, int bf16)
{
    const model_config *c = model_get_config(m32);
    cn_cuda_decode_shape sh = {.dim = c->dim, .n_layers = c->n_layers, .n_heads = c->n_heads,
                               .hidden_dim = c->hidden_dim, .vocab_size = c->vocab_size,
                               .seq_len = c->seq_len, .tied = c->tied,
                               .rope_theta = c->rope_theta, .n_params = model_param_count(c)};
    cn_cuda_decoder *d = NULL;
    if (api->dec_new(&d, &sh, model_get_f32_params(m32), bf16) != 0) {
        fprintf(stderr, "continuo-bench model: %s\n", api->last_error());
        return NULL;
    }
    return d;
}

/* decode_at for the GPU: latency of one dec_forward with pos tokens cached. */
static gboolean cuda_decode_at(const cn_cuda_api *api, cn_cuda_decoder *d, const int *tokens,
                               int pos, int runs, double *lat)
{
    api->dec_truncate(d, 0);
    if (pos > 0 && api->dec_prefill(d, tokens, pos, NULL) != 0) return FALSE;
    for (int r = 0; r < runs + 5; r++) {
        double t0 = now_s();
        if (api->dec_forward(d, tokens[(pos + r) % 64], NULL) != 0) return FALSE;
        double dt = now_s() - t0;
        api->dec_truncate(d, pos);
        if (r >= 5) lat[r - 5] = dt; /* the first few warm up (and capture the graph) */
    }
    return TRUE;
}

static int bench_cuda(const char *path, const char *label, int runs)
{
    GError *err = NULL;
    const cn_cuda_api *api = cuda_loader_open(&err);
    if (!api) {
        fprintf(stderr, "continuo-bench model: %s\n", err->message);
        g_error_free(err);
        return 1;
    }
    model *m32 = model_load_as(path, MODEL_WEIGHTS_F32, &err);
    if (!m32) {
        fprintf(stderr, "continuo-bench model: %s\n", err->message);
        g_error_free(err);
        return 1;
    }
    const model_config *c = model_get_config(m32);
    int T = c->seq_len, V = c->vocab_size, nt = T > 64 ? T : 64;
    int *tokens = g_new(int, nt);
    for (int i = 0; i < nt; i++) tokens[i] = (i * 37 + 11) % V;
    cn_cuda_device_info info;
    printf("model: %s\n", label);
    printf("model_params: %zu params\n", model_param_count(c));
    printf("model_shape: d%d L%d H%d ff%d V%d T%d\n", c->dim, c->n_layers, c->n_heads,
           c->hidden_dim, c->vocab_size, c->seq_len);
    if (api->device_info(&info) == 0)
        printf("device: cuda %s (%d SMs, sm_%d%d, %.1f GB, runtime %d, driver %d)\n", info.name,
               info.sm_count, info.cc_major, info.cc_minor, info.mem_total / 1e9,
               info.runtime_version, info.driver_version);
    printf("weights_default: f32\n");
    fflush(stdout);

    int rc = 1;
    double *lat = g_new(double, runs);
    cn_cuda_decoder *d = cuda_decoder(api, m32, 0), *db = NULL;
    model_state *s = NULL;
    float *gl = g_new(float, V);
    if (!d) goto out;
    printf("decode_cuda_kernels_per_token: %d kernels\n", api->dec_kernels_per_token(d));
    printf("decode_cuda_graph_launches_per_token: 1 launches\n");
    int positions[] = {0, 256, 512, T - 1};
    const char *names[] = {"0", "256", "512", "full"};
    for (int graph = 1; graph >= 0; graph--) {
        api->dec_set_graph(d, graph);
        const char *mode = graph ? "" : "plain_";
        for (int i = 0; i < 4; i++) {
            if (positions[i] >= T) continue;
            if (!cuda_decode_at(api, d, tokens, positions[i], runs, lat)) goto fail;
            double p50 = quantile(lat, runs, 0.5), p99 = quantile(lat, runs, 0.99);
            printf("decode_cuda_%spos%s_p50: %.4f ms\n", mode, names[i], p50 * 1e3);
            printf("decode_cuda_%spos%s_p99: %.4f ms\n", mode, names[i], p99 * 1e3);
            printf("decode_cuda_%spos%s_max: %.4f ms\n", mode, names[i], lat[runs - 1] * 1e3);
            if (graph && (i == 0 || i == 3))
                printf("decode_cuda_pos%s_gflops: %.1f GFLOP/s\n", names[i],
                       token_flops(c, positions[i] + 1) / p50 / 1e9);
        }
        fflush(stdout);
    }
    api->dec_set_graph(d, 1);
    /* prefill of the whole context from empty */
    enum { reps = 5 };
    double t[reps];
    for (int r = 0; r < reps + 1; r++) {
        api->dec_truncate(d, 0);
        double t0 = now_s();
        if (api->dec_prefill(d, tokens, T, NULL) != 0) goto fail;
        if (r > 0) t[r - 1] = now_s() - t0; /* the first pass warms cuBLAS up */
    }
    double pt = median(t, reps);
    printf("prefill_cuda_%d_tokens: %.2f ms\n", T, pt * 1e3);
    printf("prefill_cuda: %.0f tokens/s\n", T / pt);
    /* one automatic slide's cost (full cache, keep 3/4) */
    for (int r = 0; r < reps; r++) {
        api->dec_truncate(d, 0);
        if (api->dec_prefill(d, tokens, T, NULL) != 0) goto fail;
        double t0 = now_s();
        if (api->dec_slide(d, T - T / 4) != 0) goto fail;
        t[r] = now_s() - t0;
    }
    printf("slide_cuda: %.3f ms\n", median(t, reps) * 1e3);
    fflush(stdout);
    /* bfloat16 weights (rounded as the CPU's), full context */
    db = cuda_decoder(api, m32, 1);
    if (!db) goto out;
    if (!cuda_decode_at(api, db, tokens, T - 1, runs, lat)) goto fail;
    printf("weights_bf16_decode_cuda_posfull_p50: %.4f ms\n", quantile(lat, runs, 0.5) * 1e3);
    printf("weights_bf16_decode_cuda_posfull_p99: %.4f ms\n", quantile(lat, runs, 0.99) * 1e3);
    /* against the CPU engine, float32 weights both, the first 200 tokens */
    s = model_state_new(m32, NULL);
    api->dec_truncate(d, 0);
    double worst = 0, range = 0;
    int n = T < 200 ? T : 200;
    for (int i = 0; i < n; i++) {
        float *cl = model_forward(s, tokens[i]);
        if (api->dec_forward(d, tokens[i], gl) != 0) goto fail;
        float lo = cl[0], hi = cl[0];
        for (int v = 0; v < V; v++) {
            worst = fmax(worst, fabs((double)gl[v] - cl[v]));
            lo = cl[v] < lo ? cl[v] : lo;
            hi = cl[v] > hi ? cl[v] : hi;
        }
        range = fmax(range, hi - lo);
    }
    printf("decode_cuda_logit_max_abs_err_vs_cpu: %.6f (logit range %.3f, %d tokens, f32 weights)\n",
           worst, range, n);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("peak_rss: %.1f MB\n", ru.ru_maxrss / 1024.0);
    rc = 0;
    goto out;
fail:
    fprintf(stderr, "continuo-bench model: %s\n", api->last_error());
out:
    if (d) api->dec_free(d);
    if (db) api->dec_free(db);
    model_state_free(s);
    model_free(m32);
    g_free(gl);
    g_free(lat);
    g_free(tokens);
    return rc;
}

/* Each CPU kernel variant's decode at position 0, and float32 against
 * bfloat16 weights at full context (speed and logit error). */
static void bench_variants(const char *path, const int *tokens, int T, int runs)
{
    int nv;
    const kern_cpu *const *v = kern_cpu_variants(&nv);
    openblas_set_num_threads(1);
    int r = runs / 4 > 10 ? runs / 4 : 10;
    double *lat = g_new(double, r), *cpu = g_new(double, r);
    /* each variant on float32 weights (the BLAS variant has no bfloat16 gemv) */
    model *m32 = model_load_as(path, MODEL_WEIGHTS_F32, NULL);
    for (int k = 0; m32 && k < nv; k++) {
        if (!v[k]->supported()) continue;
        printf("kernel_%s_matvec_768x256_f32: %.1f GFLOP/s\n", v[k]->name, matvec_gflops(v[k], 768, 256, 50));
        /* the whole decode step with this variant (context 0: the matrices) */
        model_state *s = model_state_new(m32, NULL);
        model_state_set_kernel(s, v[k]->name);
        decode_at(s, tokens, 0, r, lat, cpu);
        printf("kernel_%s_decode_f32_pos0_p50: %.4f ms\n", v[k]->name, median(lat, r) * 1e3);
        printf("kernel_%s_decode_f32_pos0_cpu_p50: %.4f ms\n", v[k]->name, median(cpu, r) * 1e3);
        model_state_free(s);
        fflush(stdout);
    }
    /* float32 against bfloat16 weights: speed, and what the rounding costs */
    if (m32) {
        model_state *s = model_state_new(m32, NULL);
        decode_at(s, tokens, T - 1, r, lat, cpu);
        printf("weights_f32_decode_posfull_p50: %.4f ms\n", median(lat, r) * 1e3);
        printf("weights_f32_decode_posfull_cpu_p50: %.4f ms\n", median(cpu, r) * 1e3);
        model_state_free(s);
        model *mb = model_load_as(path, MODEL_WEIGHTS_BF16, NULL);
        s = model_state_new(mb, NULL);
        decode_at(s, tokens, T - 1, r, lat, cpu);
        printf("weights_bf16_decode_posfull_p50: %.4f ms\n", median(lat, r) * 1e3);
        printf("weights_bf16_decode_posfull_cpu_p50: %.4f ms\n", median(cpu, r) * 1e3);
        model_state_free(s);
        double err, range;
        int n = T < 200 ? T : 200;
        logit_error(m32, mb, tokens, n, &err, &range);
        printf("weights_bf16_logit_max_abs_err: %.5f (logit range %.3f, %d tokens)\n", err, range, n);
        model_free(mb);
        model_free(m32);
    }
    g_free(lat);
    g_free(cpu);
}

/* The CPU figures: decode and prefill at 1 and 2 threads (or only
 * `threads`), sgemm, peak RSS, then the weight and kernel variants. */
static int bench_cpu(const char *path, const char *label, int threads, int runs)
{
    GError *err = NULL;
    model *m = model_load(path, &err);
    if (!m) {
        fprintf(stderr, "continuo-bench model: %s\n", err->message);
        g_error_free(err);
        return 1;
    }
    const model_config *c = model_get_config(m);
    int T = c->seq_len;
    int *tokens = g_new(int, T > 64 ? T : 64);
    for (int i = 0; i < (T > 64 ? T : 64); i++) tokens[i] = (i * 37 + 11) % c->vocab_size;

    printf("model: %s\n", label);
    printf("model_params: %zu params\n", model_param_count(c));
    printf("model_shape: d%d L%d H%d ff%d V%d T%d\n", c->dim, c->n_layers, c->n_heads,
           c->hidden_dim, c->vocab_size, c->seq_len);
    printf("kernel_default: %s\n", kern_cpu_default()->name);
    printf("weights_default: %s\n", model_get_weight_type(m) == MODEL_WEIGHTS_BF16 ? "bf16" : "f32");
    fflush(stdout);

    for (int t = 1; t <= 2; t++) {
        if (threads && t != threads) continue;
        openblas_set_num_threads(t);
        double g = sgemm_gflops(30);
        printf("sgemm_512x256x768_t%d: %.1f GFLOP/s\n", t, g);
        run_threads(m, t, runs, tokens, g);
        fflush(stdout);
    }
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("peak_rss: %.1f MB\n", ru.ru_maxrss / 1024.0);
    fflush(stdout);

    /* after the RSS figure: these load more models */
    bench_variants(path, tokens, T, runs);
    model_free(m);
    g_free(tokens);
    return 0;
}

int bench_model(int argc, char **argv)
{
    char *path = NULL;
    char *device = NULL;
    gint threads = 0, runs = 1000;
    GOptionEntry entries[] = {
        {"model", 'm', 0, G_OPTION_ARG_FILENAME, &path, "weights file (default: a random model of the shipped shape)", "FILE"},
        {"device", 'd', 0, G_OPTION_ARG_STRING, &device, "cpu (default) or cuda (the GPU decoder)", "DEV"},
        {"threads", 't', 0, G_OPTION_ARG_INT, &threads, "only this thread count (default: 1 and 2)", "N"},
        {"runs", 'r', 0, G_OPTION_ARG_INT, &runs, "decode samples per position (1000)", "R"},
        {NULL, 0, 0, 0, NULL, NULL, NULL},
    };
    GOptionContext *ctx = g_option_context_new("- model decode/prefill benchmark");
    g_option_context_add_main_entries(ctx, entries, NULL);
    GError *err = NULL;
    gboolean parsed = g_option_context_parse(ctx, &argc, &argv, &err);
    gboolean bad_device = device && strcmp(device, "cpu") && strcmp(device, "cuda");
    if (!parsed || runs < 10 || bad_device) {
        fprintf(stderr, "continuo-bench model: %s\n",
                err ? err->message : bad_device ? "--device must be cpu or cuda" : "--runs must be >= 10");
        g_clear_error(&err);
        g_option_context_free(ctx);
        return 2;
    }
    g_option_context_free(ctx);

    char *tmpdir = NULL, *tmpfile = NULL;
    if (!path) {
        model_config c;
        model_random_default_config(&c);
        tmpdir = g_dir_make_tmp("continuo-bench-XXXXXX", &err);
        if (!tmpdir) {
            fprintf(stderr, "continuo-bench model: %s\n", err->message);
            return 1;
        }
        tmpfile = g_build_filename(tmpdir, "random.bin", NULL);
        float *p = model_random_params(&c, 1, 0.02f);
        gboolean ok = model_file_write(tmpfile, &c, p, &err);
        g_free(p);
        if (!ok) {
            fprintf(stderr, "continuo-bench model: %s\n", err->message);
            return 1;
        }
        path = g_strdup(tmpfile);
    }
    const char *label = tmpfile ? "random (shipped shape)" : path;
    int rc = device && !strcmp(device, "cuda") ? bench_cuda(path, label, runs)
                                               : bench_cpu(path, label, threads, runs);
    if (tmpfile) {
        g_unlink(tmpfile);
        g_rmdir(tmpdir);
    }
    g_free(tmpfile);
    g_free(tmpdir);
    g_free(path);
    g_free(device);
    return rc;
}
