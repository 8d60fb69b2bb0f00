/* train_loop.c — the training loop: batches, AdamW steps, validation,
 * the CSV log, checkpoints (time- and step-based) and stopping. The maths
 * runs in a trainer backend (train_backend.h: CPU or CUDA); everything else
 * here is the same for both. */
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <cblas.h>
#include "train_loop.h"
#include "train_backend.h"
#include "train_data.h"
#include "train_optim.h"
#include "error.h"

static volatile sig_atomic_t stop_flag;

void train_request_stop(void)
{
    stop_flag = 1;
}

/* The validation windows, B at a time, through fwd (a model's or a
 * backend's forward); NAN in *out when fwd fails (err set). */
typedef gboolean (*val_fwd_fn)(void *ctx, const uint16_t *in, const int *tg, int nb, int T,
                               float *loss, GError **err);

static gboolean val_loss_with(val_fwd_fn fwd, void *ctx, const tokfile *tf, int n_windows, int B,
                              int T, double *out, GError **err)
{
    uint16_t *in = malloc((size_t)B * T * sizeof *in);
    int *tg = malloc((size_t)B * T * sizeof *tg);
    double sum = 0.0;
    long cnt = 0;
    gboolean ok = TRUE;
    for (int i0 = 0; i0 < n_windows && ok; i0 += B) {
        int nb = n_windows - i0 < B ? n_windows - i0 : B;
        for (int b = 0; b < nb; b++)
            train_window(tf, train_val_offset(tf->n_tokens, T, i0 + b, n_windows), T,
                         in + (size_t)b * T, tg + (size_t)b * T);
        float loss = 0.0f;
        ok = fwd(ctx, in, tg, nb, T, &loss, err);
        sum += (double)loss * nb * T;
        cnt += (long)nb * T;
    }
    free(in);
    free(tg);
    *out = ok && cnt ? sum / cnt : NAN;
    return ok;
}

static gboolean model_fwd(void *ctx, const uint16_t *in, const int *tg, int nb, int T,
                          float *loss, GError **err)
{
    *loss = train_model_forward(ctx, in, tg, nb, T);
    return TRUE;
}

static gboolean backend_fwd(void *ctx, const uint16_t *in, const int *tg, int nb, int T,
                            float *loss, GError **err)
{
    train_backend *b = ctx;
    return b->loss(b, in, tg, nb, T, loss, err);
}

double train_val_loss(train_model *m, const tokfile *tf, int n_windows, int B, int T)
{
    double v;
    val_loss_with(model_fwd, m, tf, n_windows, B, T, &v, NULL);
    return v;
}

typedef struct {
    const train_opts *o;
    train_backend be; /* the model, its gradients and optimizer state (CPU or GPU) */
    train_hparams hp;
    train_hparams_more more;
    train_aug aug;
    tokfile train, val;
    gboolean have_val;
    train_ckpt_header h; /* step, rng, timing: the live state */
    GArray *rows;
    FILE *log;
    char *p_ckpt, *p_model, *p_best, *p_log, *p_svg;
} run;

static gboolean write_checkpoint(run *r, GError **err)
{
    /* the same file whichever backend trained: a CUDA checkpoint resumes on
     * the CPU and the other way round */
    if (!r->be.pull(&r->be, err)) return FALSE;
    r->h.cfg = r->be.cfg;
    r->h.hp = r->hp;
    r->h.more = r->more;
    if (!train_ckpt_write(r->p_ckpt, &r->h, r->be.params, r->be.mom, r->be.vel, err)) return FALSE;
    if (!model_file_write(r->p_model, &r->be.cfg, r->be.params, err)) return FALSE;
    char *title = g_strdup_printf("continuo: d%d L%d h%d ctx%d, %.1fM params",
                                  r->be.cfg.dim, r->be.cfg.n_layers, r->be.cfg.hidden_dim,
                                  r->hp.T, r->be.n_params / 1e6);
    GError *e = NULL;
    if (!train_plot_svg(r->p_svg, r->rows, (long)r->hp.B * r->hp.T * train_accum(&r->more), title, r->o->refs,
                        r->o->n_refs, 50, &e)) {
        /* a picture that fails to write must not stop training */
        fprintf(stderr, "train: %s\n", e->message);
        g_error_free(e);
    }
    g_free(title);
    return TRUE;
}

static void run_free(run *r)
{
    train_backend_free(&r->be);
    if (r->train.tokens) tokfile_close(&r->train);
    if (r->have_val) tokfile_close(&r->val);
    if (r->rows) g_array_free(r->rows, TRUE);
    if (r->log) fclose(r->log);
    g_free(r->p_ckpt);
    g_free(r->p_model);
    g_free(r->p_best);
    g_free(r->p_log);
    g_free(r->p_svg);
}

static gboolean run_setup(run *r, const train_opts *o, GError **err)
{
    r->o = o;
    r->hp = o->hp;
    r->more = o->more;
    model_config cfg = o->cfg;
    if (o->resume_path) {
        train_ckpt_header ch;
        if (!train_ckpt_read_header(o->resume_path, &ch, err)) return FALSE;
        if (memcmp(&ch.cfg, &cfg, sizeof cfg) != 0) {
            g_set_error(err, CN_ERROR, CN_ERR_ARG, "%s: model config differs from the one asked for",
                        o->resume_path);
            return FALSE;
        }
    }
    if (r->hp.T > cfg.seq_len) {
        g_set_error(err, CN_ERROR, CN_ERR_ARG, "window T=%d longer than the model context %d",
                    r->hp.T, cfg.seq_len);
        return FALSE;
    }
    if (!tokfile_open(&r->train, o->train_path, err)) return FALSE;
    r->aug = (train_aug){.transpose = r->more.transpose, .stretch = r->more.stretch,
                         .vocab_id = r->train.vocab_id};
    if ((long)r->train.n_tokens <= r->hp.T + 1) {
        g_set_error(err, CN_ERROR, CN_ERR_ARG, "%s: %zu tokens, fewer than one window of %d",
                    o->train_path, r->train.n_tokens, r->hp.T + 1);
        return FALSE;
    }
    if (o->val_path) {
        if (!tokfile_open(&r->val, o->val_path, err)) return FALSE;
        r->have_val = TRUE;
        if ((long)r->val.n_tokens <= r->hp.T + 1) {
            g_set_error(err, CN_ERROR, CN_ERR_ARG, "%s: fewer tokens than one window", o->val_path);
            return FALSE;
        }
    }
    if (!train_backend_new(&r->be, o->device, &cfg, r->hp.B, r->hp.T,
                           o->threads > 0 ? o->threads : 1, err))
        return FALSE;

    if (o->resume_path) {
        if (!train_ckpt_read(o->resume_path, &r->h, r->be.params, r->be.mom, r->be.vel, err))
            return FALSE;
    } else {
        memset(&r->h, 0, sizeof r->h);
        train_model view; /* the backend's host params, seen as a model */
        train_backend_view(&r->be, &view);
        train_model_init(&view, r->hp.seed);
        if (o->init_path && !train_model_load_params(&view, o->init_path, err)) return FALSE;
        /* the data order comes from the seed too, on a separate stream from the init */
        train_rng_seed(&r->h.rng, r->hp.seed ^ 0x5eed0da7a0000000ULL);
        r->h.best_val = r->h.last_val = INFINITY;
        r->h.best_step = -1;
    }
    if (!r->be.push(&r->be, err)) return FALSE;

    if (g_mkdir_with_parents(o->out_dir, 0755) != 0) {
        g_set_error(err, CN_ERROR, CN_ERR_IO, "%s: cannot create: %s", o->out_dir, g_strerror(errno));
        return FALSE;
    }
    r->p_ckpt = g_build_filename(o->out_dir, "ckpt.bin", NULL);
    r->p_model = g_build_filename(o->out_dir, "model.bin", NULL);
    r->p_best = g_build_filename(o->out_dir, "model-best.bin", NULL);
    r->p_log = g_build_filename(o->out_dir, "log.csv", NULL);
    r->p_svg = g_build_filename(o->out_dir, "curves.svg", NULL);
    /* The log keeps the rows up to the resumed step: rows a crashed process
     * wrote after its last checkpoint are dropped, the resumed run redoes them. */
    r->rows = g_array_new(FALSE, FALSE, sizeof(train_log_row));
    if (o->resume_path && !train_log_load(r->p_log, r->h.step, r->rows, err)) return FALSE;
    if (!train_log_save(r->p_log, r->rows, err)) return FALSE;
    r->log = fopen(r->p_log, "a");
    if (!r->log) {
        g_set_error(err, CN_ERROR, CN_ERR_IO, "%s: %s", r->p_log, g_strerror(errno));
        return FALSE;
    }
    return TRUE;
}

gboolean train_run(const train_opts *o, GError **err)
{
    run r;
    memset(&r, 0, sizeof r);
    if (!run_setup(&r, o, err)) {
        run_free(&r);
        return FALSE;
    }
    train_hparams *hp = &r.hp;
    int B = hp->B, T = hp->T, K = train_accum(&r.more), KB = K * B;
    long end = hp->optim.total_steps;
    if (o->stop_at > 0 && o->stop_at < end) end = o->stop_at;
    uint16_t *in = malloc((size_t)KB * T * sizeof *in);
    int *tg = malloc((size_t)KB * T * sizeof *tg);
    gint64 t_start = g_get_monotonic_time(), t_ckpt = t_start;
    double compute_s = 0.0; /* this session: seconds in training steps (no validation) */
    long steps0 = (long)r.h.step;
    double elapsed0 = r.h.elapsed_s;
    gboolean ok = TRUE;
    if (!o->quiet)
        fprintf(stderr, "train: %.2fM params, B=%d x %d T=%d, step %ld -> %ld of %d, %s\n",
                r.be.n_params / 1e6, B, K, T, (long)r.h.step, end, hp->optim.total_steps,
                r.be.description);

    while (r.h.step < end && !stop_flag) {
        gint64 t0 = g_get_monotonic_time();
        train_batch_random(&r.train, &r.h.rng, &r.aug, KB, T, in, tg);
        float lr = train_lr_sched(&hp->optim, &r.more.lr_restart, r.h.step), loss = 0.0f;
        double norm = 0.0;
        if (!r.be.step(&r.be, in, tg, KB, T, &hp->optim, lr, r.h.step + 1, &loss, &norm, err)) {
            ok = FALSE;
            break;
        }
        r.h.step++;
        r.h.tokens_seen += (int64_t)KB * T;
        gint64 t1 = g_get_monotonic_time();
        float tok_s = (float)((double)KB * T / ((t1 - t0) / 1e6));
        compute_s += (t1 - t0) / 1e6;

        float val = NAN;
        /* not at stop_at: a resumed run must log exactly what an uninterrupted one does */
        gboolean last = r.h.step == hp->optim.total_steps;
        if (r.have_val && hp->val_every > 0 && (r.h.step % hp->val_every == 0 || last)) {
            double vl;
            if (!val_loss_with(backend_fwd, &r.be, &r.val, hp->val_windows, B, T, &vl, err)) {
                ok = FALSE;
                break;
            }
            val = (float)vl;
            r.h.last_val = val;
            if (val < r.h.best_val) {
                r.h.best_val = val;
                r.h.best_step = r.h.step;
                if (!r.be.pull(&r.be, err) ||
                    !model_file_write(r.p_best, &r.be.cfg, r.be.params, err)) {
                    ok = FALSE;
                    break;
                }
            }
        }
        gint64 now = g_get_monotonic_time();
        r.h.elapsed_s = elapsed0 + (now - t_start) / 1e6;
        train_log_row row = {r.h.step, loss, val, lr, tok_s, r.h.elapsed_s};
        g_array_append_val(r.rows, row);
        train_log_append(r.log, &row);
        if (!o->quiet && (r.h.step % 10 == 0 || !isnan(val) || r.h.step == 1))
            fprintf(stderr, "step %6ld  loss %.4f  %s%.4f  lr %.2e  |g| %.3f  %.0f tok/s  %.0f s\n",
                    (long)r.h.step, loss, isnan(val) ? "" : "val ", isnan(val) ? 0.0 : val, lr,
                    norm, tok_s, r.h.elapsed_s);

        gboolean due = (o->ckpt_every > 0 && r.h.step % o->ckpt_every == 0) ||
                       (o->ckpt_minutes > 0 && (now - t_ckpt) / 6e7 >= o->ckpt_minutes);
        gboolean stop = o->max_minutes > 0 && (now - t_start) / 6e7 >= o->max_minutes;
        if (due && r.h.step < end && !stop && !stop_flag) {
            if (!write_checkpoint(&r, err)) {
                ok = FALSE;
                break;
            }
            t_ckpt = g_get_monotonic_time();
        }
        if (stop) break;
    }
    if (ok) {
        ok = write_checkpoint(&r, err);
        long done = (long)r.h.step - steps0;
        if (done > 0 && compute_s > 0) {
            double tps = (double)done * KB * T / compute_s;
            fprintf(stderr, "train_tokens_per_s: %.0f tokens/s (this session, %ld steps, steps only)\n",
                    tps, done);
            if (o->flops_per_token > 0 && o->peak_gflops > 0)
                fprintf(stderr, "train_sgemm_peak_share: %.0f %% (%.1f of %.1f GFLOP/s)\n",
                        100.0 * tps * o->flops_per_token / 1e9 / o->peak_gflops,
                        tps * o->flops_per_token / 1e9, o->peak_gflops);
            else if (o->flops_per_token > 0) /* a GPU: no CPU sgemm peak to set it beside */
                fprintf(stderr, "train_gflops: %.1f GFLOP/s (%s)\n",
                        tps * o->flops_per_token / 1e9, r.be.name);
        }
        if (ok && (!o->quiet || stop_flag)) /* a stop request always says where it stopped */
            fprintf(stderr, "train: checkpoint at step %ld (%s)%s\n", (long)r.h.step, r.p_ckpt,
                    stop_flag ? " after a stop request" : "");
    }
    free(in);
    free(tg);
    run_free(&r);
    return ok;
}
