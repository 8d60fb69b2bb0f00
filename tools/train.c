/* train.c — continuo-train: train (or fine-tune, or resume training) the
 * engine's transformer on token files from continuo-mkdata.
 *
 *   continuo-train --train TRAIN.bin --val VAL.bin --out DIR [shape/recipe options]
 *   continuo-train --resume DIR/ckpt.bin --train TRAIN.bin --val VAL.bin --out DIR
 *   continuo-train --init presets/continuo.bin --train MINE.bin --out DIR --steps 500 --lr 1e-4
 *   continuo-train --plot-only --out DIR [--ref NAME=NATS ...]   (redraw DIR/curves.svg)
 *   continuo-train --device cuda ...   (train on the GPU: kernels/cuda, same loop and files;
 *                                       checkpoints move freely between cpu and cuda)
 *
 * On resume the model shape and the recipe come from the checkpoint; recipe
 * options given on the command line override it (say so on stderr).
 * SIGINT / SIGTERM: finish the current step, write a checkpoint, exit 0.
 * Outputs: see tools/train/train_loop.h. */
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cblas.h>
#include <glib.h>
#include "train_loop.h"
#include "train_model.h"
#include "kernels.h"
#include "cuda_loader.h"
#include "token_v2.h"
#include "train_data.h"

static void on_signal(int sig)
{
    (void)sig;
    train_request_stop();
}

/* Best of a few runs of sgemm 512x256x768 (the design's reference shape), in
 * GFLOP/s, with the threads this process trains with. */
static double sgemm_peak(void)
{
    int M = 512, K = 256, Nn = 768;
    float *x = malloc((size_t)M * K * 4), *w = malloc((size_t)Nn * K * 4),
          *o = malloc((size_t)M * Nn * 4);
    for (int i = 0; i < M * K; i++) x[i] = (float)(((long)i * 7919) % 1000) / 1000.0f - 0.5f;
    for (int i = 0; i < Nn * K; i++) w[i] = (float)(((long)i * 104729) % 1000) / 1000.0f - 0.5f;
    double best = 1e30;
    for (int r = 0; r < 30; r++) {
        gint64 t0 = g_get_monotonic_time();
        kern_matmul(o, x, w, M, Nn, K);
        double dt = (g_get_monotonic_time() - t0) / 1e6;
        if (r > 2 && dt < best) best = dt;
    }
    free(x);
    free(w);
    free(o);
    return 2.0 * M * K * Nn / best / 1e9;
}

/* Training FLOPs per token: 3x the forward (the backward does two matmuls
 * per forward matmul). Attention is counted as computed: query blocks of 64
 * rows against the keys up to the block's end (train_layers.c), about
 * 2 * dim * (T + 64) per token and layer for scores and values together. */
static double train_flops_per_token(const model_config *c, int T)
{
    double C = c->dim, H = c->hidden_dim, V = c->vocab_size, L = c->n_layers;
    double fwd = L * (2.0 * (4 * C * C + 2 * C * H) + 2.0 * C * (T + 64)) + 2.0 * C * V;
    return 3.0 * fwd;
}

/* --plot-only: OUT/curves.svg redrawn from OUT/log.csv. */
static int plot_only_run(const char *out, const train_plot_ref *refs, int n_refs)
{
    GError *err = NULL;
    /* tokens per step come from the checkpoint when there is one */
    char *log = g_build_filename(out, "log.csv", NULL), *svg = g_build_filename(out, "curves.svg", NULL);
    char *ck = g_build_filename(out, "ckpt.bin", NULL);
    train_ckpt_header h;
    long tps = train_ckpt_read_header(ck, &h, NULL) ? (long)h.hp.B * h.hp.T * train_accum(&h.more)
                                                    : 4096;
    GArray *rows = g_array_new(FALSE, FALSE, sizeof(train_log_row));
    gboolean ok = train_log_load(log, G_MAXLONG, rows, &err) &&
                  train_plot_svg(svg, rows, tps, "continuo training", refs, n_refs, 50, &err);
    if (!ok) fprintf(stderr, "continuo-train: %s\n", err->message);
    else printf("%s\n", svg);
    return ok ? 0 : 1;
}

/* The model config and the fixed hyperparameters: from a checkpoint when
 * resuming (*step: its step), else from --init's weights or `fresh`, with the
 * recipe's defaults and the given batch/window/seed. FALSE + err if a file
 * cannot be read. */
static gboolean start_recipe(train_opts *o, long *step, const char *resume, const char *init,
                             const model_config *fresh, int batch, int window, gint64 seed,
                             GError **err)
{
    train_hparams *hp = &o->hp;
    *step = 0;
    if (resume) {
        train_ckpt_header h;
        if (!train_ckpt_read_header(resume, &h, err)) {
            return FALSE;
        }
        o->cfg = h.cfg;
        *hp = h.hp;
        o->more = h.more;
        *step = (long)h.step;
        if (batch > 0 || window > 0 || seed >= 0)
            fprintf(stderr, "continuo-train: --batch/--window/--seed ignored on resume (fixed by "
                            "the checkpoint)\n");
    } else {
        if (init) {
            if (!train_model_read_config(init, &o->cfg, err)) {
                return FALSE;
            }
        } else {
            o->cfg = *fresh;
        }
        *hp = (train_hparams){.B = 8, .T = o->cfg.seq_len, .val_every = 250, .val_windows = 64,
                              .seed = 1,
                              .optim = {.lr = 1e-3f, .lr_min_frac = 0.1f, .warmup = 200,
                                        .total_steps = 20000, .beta1 = 0.9f, .beta2 = 0.95f,
                                        .eps = 1e-8f, .weight_decay = 0.1f, .grad_clip = 1.0f}};
        if (batch > 0) hp->B = batch;
        if (window > 0) hp->T = window;
        if (seed >= 0) hp->seed = (uint64_t)seed;
    }
    return TRUE;
}

/* The command line. */
typedef struct {
    gchar *train, *val, *out, *resume, *init, *device;
    gchar **refs_s;
    gint dim, layers, heads, hidden, ctx, tied;
    gint batch, window, steps, warmup, val_every, val_windows, accum, transpose;
    gint threads, ckpt_every, stop_at;
    gint64 seed;
    gdouble lr, min_lr, wd, clip, ckpt_minutes, max_minutes, stretch;
    gboolean quiet, plot_only;
} train_cli;

/* Parses the options into c (defaults first). FALSE: bad usage (said). */
static gboolean parse_cli(int *argc, char ***argv, train_cli *c)
{
    *c = (train_cli){.dim = 256, .layers = 6, .heads = 8, .hidden = 768, .ctx = 1024,
                     .batch = -1, .window = -1, .steps = -1, .warmup = -1, .val_every = -1,
                     .val_windows = -1, .threads = 2, .seed = -1, .lr = NAN, .min_lr = NAN,
                     .wd = NAN, .clip = NAN, .ckpt_minutes = 5.0, .accum = -1, .transpose = -1,
                     .stretch = NAN};
    GOptionEntry entries[] = {
        {"plot-only", 0, 0, G_OPTION_ARG_NONE, &c->plot_only, "only redraw OUT/curves.svg from OUT/log.csv", NULL},
        {"train", 0, 0, G_OPTION_ARG_FILENAME, &c->train, "training token file", "FILE"},
        {"val", 0, 0, G_OPTION_ARG_FILENAME, &c->val, "validation token file", "FILE"},
        {"out", 0, 0, G_OPTION_ARG_FILENAME, &c->out, "output folder (checkpoints, weights, log)", "DIR"},
        {"resume", 0, 0, G_OPTION_ARG_FILENAME, &c->resume, "continue from a checkpoint", "CKPT"},
        {"init", 0, 0, G_OPTION_ARG_FILENAME, &c->init, "start from these weights (fine-tuning)", "MODEL"},
        {"dim", 0, 0, G_OPTION_ARG_INT, &c->dim, "model width (256)", "N"},
        {"layers", 0, 0, G_OPTION_ARG_INT, &c->layers, "layers (6)", "N"},
        {"heads", 0, 0, G_OPTION_ARG_INT, &c->heads, "attention heads (8)", "N"},
        {"hidden", 0, 0, G_OPTION_ARG_INT, &c->hidden, "MLP width (768)", "N"},
        {"ctx", 0, 0, G_OPTION_ARG_INT, &c->ctx, "model context, tokens (1024)", "N"},
        {"tied", 0, 0, G_OPTION_ARG_INT, &c->tied, "1: output head shares the embedding (0)", "0|1"},
        {"batch", 0, 0, G_OPTION_ARG_INT, &c->batch, "windows per step (8)", "B"},
        {"window", 0, 0, G_OPTION_ARG_INT, &c->window, "tokens per window (= ctx)", "T"},
        {"accum", 0, 0, G_OPTION_ARG_INT, &c->accum, "micro-batches of B windows per step (1)", "K"},
        {"transpose", 0, 0, G_OPTION_ARG_INT, &c->transpose, "transpose each window by -N..N semitones (0)", "N"},
        {"stretch", 0, 0, G_OPTION_ARG_DOUBLE, &c->stretch, "stretch each window's time by -P..P % (0)", "P"},
        {"steps", 0, 0, G_OPTION_ARG_INT, &c->steps, "length of the lr schedule in steps (20000); "
                                                     "on resume the cosine continues from the lr at the resumed step", "N"},
        {"lr", 0, 0, G_OPTION_ARG_DOUBLE, &c->lr, "peak learning rate (1e-3)", "X"},
        {"min-lr-frac", 0, 0, G_OPTION_ARG_DOUBLE, &c->min_lr, "final lr / peak lr (0.1)", "X"},
        {"warmup", 0, 0, G_OPTION_ARG_INT, &c->warmup, "warmup steps (200)", "N"},
        {"wd", 0, 0, G_OPTION_ARG_DOUBLE, &c->wd, "AdamW weight decay (0.1)", "X"},
        {"clip", 0, 0, G_OPTION_ARG_DOUBLE, &c->clip, "gradient clip, global norm (1.0)", "X"},
        {"seed", 0, 0, G_OPTION_ARG_INT64, &c->seed, "init and data seed (1)", "N"},
        {"val-every", 0, 0, G_OPTION_ARG_INT, &c->val_every, "steps between validations (250)", "N"},
        {"val-windows", 0, 0, G_OPTION_ARG_INT, &c->val_windows, "validation windows (64)", "N"},
        {"threads", 0, 0, G_OPTION_ARG_INT, &c->threads, "threads (2)", "N"},
        {"device", 0, 0, G_OPTION_ARG_STRING, &c->device, "where to train: cpu or cuda (cpu)", "cpu|cuda"},
        {"ckpt-minutes", 0, 0, G_OPTION_ARG_DOUBLE, &c->ckpt_minutes, "minutes between checkpoints (5)", "X"},
        {"ckpt-every", 0, 0, G_OPTION_ARG_INT, &c->ckpt_every, "also checkpoint every N steps", "N"},
        {"stop-at", 0, 0, G_OPTION_ARG_INT, &c->stop_at, "stop (with a checkpoint) at this step", "N"},
        {"max-minutes", 0, 0, G_OPTION_ARG_DOUBLE, &c->max_minutes, "stop (with a checkpoint) after this many minutes", "X"},
        {"ref", 0, 0, G_OPTION_ARG_STRING_ARRAY, &c->refs_s, "baseline line on the plot (repeatable)", "NAME=NATS"},
        {"quiet", 'q', 0, G_OPTION_ARG_NONE, &c->quiet, "no progress lines", NULL},
        {NULL, 0, 0, 0, NULL, NULL, NULL},
    };
    GError *err = NULL;
    GOptionContext *oc = g_option_context_new("- train the continuo transformer");
    g_option_context_add_main_entries(oc, entries, NULL);
    if (!g_option_context_parse(oc, argc, argv, &err)) {
        fprintf(stderr, "continuo-train: %s\n", err->message);
        return FALSE;
    }
    g_option_context_free(oc);
    return TRUE;
}

/* The recipe options of the command line over o's recipe (a resume's: say
 * what changed; --steps continues the cosine from the resumed step's lr).
 * FALSE: a bad value (said). */
static gboolean apply_recipe_options(train_opts *o, const train_cli *c, long resume_step)
{
    /* recipe options that may change on c->resume (e.g. a longer schedule) */
    GString *over = g_string_new(NULL);
#define OVERRIDE_I(v, field, name) if (v >= 0) { if (c->resume && field != v) g_string_append_printf(over, " %s %d", name, v); field = v; }
#define OVERRIDE_F(v, field, name) if (!isnan(v)) { if (c->resume && field != (float)v) g_string_append_printf(over, " %s %g", name, v); field = (float)v; }
    if (c->steps >= 0 && c->resume && c->steps != o->hp.optim.total_steps) {
        float lr0 = train_lr_sched(&o->hp.optim, &o->more.lr_restart, resume_step);
        train_lr_set_total(&o->hp.optim, &o->more.lr_restart, resume_step, c->steps);
        g_string_append_printf(over, " --steps %d (lr %.3g at step %ld, cosine from there)", c->steps,
                               lr0, resume_step);
    } else if (c->steps >= 0) {
        o->hp.optim.total_steps = c->steps;
    }
    if (c->stretch < 0 || c->stretch >= 50) {
        fprintf(stderr, "continuo-train: --stretch %g: expected 0 <= P < 50 (percent)\n", c->stretch);
        g_string_free(over, TRUE);
        return FALSE;
    }
    int transpose = c->transpose > 127 ? 127 : c->transpose;
    OVERRIDE_I(c->accum, o->more.accum, "--accum");
    OVERRIDE_I(transpose, o->more.transpose, "--transpose");
    OVERRIDE_F(c->stretch / 100.0, o->more.stretch, "--stretch/100");
    OVERRIDE_I(c->warmup, o->hp.optim.warmup, "--warmup");
    OVERRIDE_I(c->val_every, o->hp.val_every, "--val-every");
    OVERRIDE_I(c->val_windows, o->hp.val_windows, "--val-windows");
    OVERRIDE_F(c->lr, o->hp.optim.lr, "--lr");
    OVERRIDE_F(c->min_lr, o->hp.optim.lr_min_frac, "--min-lr-frac");
    OVERRIDE_F(c->wd, o->hp.optim.weight_decay, "--wd");
    OVERRIDE_F(c->clip, o->hp.optim.grad_clip, "--clip");
    if (over->len) fprintf(stderr, "continuo-train: resuming with a changed recipe:%s\n", over->str);
    g_string_free(over, TRUE);
    return TRUE;
}

int main(int argc, char **argv)
{
    train_cli c;
    if (!parse_cli(&argc, &argv, &c)) return 2;
    GError *err = NULL;
    train_plot_ref refs[4];
    int n_refs = 0;
    for (int i = 0; c.refs_s && c.refs_s[i] && n_refs < 4; i++) {
        char *eq = strchr(c.refs_s[i], '=');
        if (!eq) continue;
        *eq = 0;
        refs[n_refs++] = (train_plot_ref){c.refs_s[i], g_ascii_strtod(eq + 1, NULL)};
    }
    if (c.plot_only && c.out) return plot_only_run(c.out, refs, n_refs);
    if (!c.train || !c.out) {
        fprintf(stderr, "continuo-train: --train and --out are required (see --help)\n");
        return 2;
    }
    gboolean cuda = c.device && strcmp(c.device, "cuda") == 0;
    if (c.device && !cuda && strcmp(c.device, "cpu") != 0) {
        fprintf(stderr, "continuo-train: --device %s: expected cpu or cuda\n", c.device);
        return 2;
    }
    /* before anything else: no GPU is one line and exit 1 */
    if (cuda && !cuda_loader_open(&err)) {
        fprintf(stderr, "continuo-train: %s\n", err->message);
        return 1;
    }

    /* the data's vocabulary sizes a new model and must match a given one */
    uint32_t vocab_id = train_data_vocab_id(c.train, &err);
    uint32_t val_vocab = vocab_id && c.val ? train_data_vocab_id(c.val, &err) : vocab_id;
    if (!vocab_id || !val_vocab) {
        fprintf(stderr, "continuo-train: %s\n", err->message);
        return 1;
    }
    if (val_vocab != vocab_id) {
        fprintf(stderr, "continuo-train: %s uses vocabulary %u, %s vocabulary %u\n", c.train,
                vocab_id, c.val, val_vocab);
        return 1;
    }

    train_opts o;
    memset(&o, 0, sizeof o);
    train_hparams *hp = &o.hp;
    model_config fresh = {.dim = c.dim, .n_layers = c.layers, .n_heads = c.heads, .hidden_dim = c.hidden,
                          .vocab_size = tok_vocab_size((int)vocab_id), .seq_len = c.ctx,
                          .vocab_id = (int)vocab_id, .tied = c.tied, .rope_theta = 10000.0f};
    long resume_step;
    if (!start_recipe(&o, &resume_step, c.resume, c.init, &fresh, c.batch, c.window, c.seed, &err)) {
        fprintf(stderr, "continuo-train: %s\n", err->message);
        return 1;
    }
    if (o.cfg.vocab_id != (int)vocab_id || o.cfg.vocab_size < tok_vocab_size((int)vocab_id)) {
        fprintf(stderr, "continuo-train: the model uses vocabulary %d (%d tokens), %s vocabulary %u\n",
                o.cfg.vocab_id, o.cfg.vocab_size, c.train, vocab_id);
        return 1;
    }
    if (!apply_recipe_options(&o, &c, resume_step)) return 2;

    o.train_path = c.train;
    o.val_path = c.val;
    o.out_dir = c.out;
    o.resume_path = c.resume;
    o.init_path = c.init;
    o.threads = c.threads;
    o.device = cuda ? "cuda" : "cpu";
    o.ckpt_minutes = c.ckpt_minutes;
    o.ckpt_every = c.ckpt_every;
    o.stop_at = c.stop_at;
    o.max_minutes = c.max_minutes;
    o.quiet = c.quiet;
    o.refs = refs;
    o.n_refs = n_refs;

    openblas_set_num_threads(c.threads);
    double fpt = train_flops_per_token(&o.cfg, hp->T);
    if (cuda) {
        /* the CPU's sgemm peak says nothing about the GPU: FLOPs only */
        fprintf(stderr, "train_flops_per_token: %.1f MFLOP\n", fpt / 1e6);
    } else {
        double peak = sgemm_peak();
        fprintf(stderr, "sgemm_512x256x768: %.1f GFLOP/s (%d threads)\n", peak, c.threads);
        fprintf(stderr, "train_flops_per_token: %.1f MFLOP (tokens/s at the sgemm peak: %.0f)\n",
                fpt / 1e6, peak * 1e9 / fpt);
        o.peak_gflops = peak;
    }
    o.flops_per_token = fpt;

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    gboolean ok = train_run(&o, &err);
    if (!ok) fprintf(stderr, "continuo-train: %s\n", err->message);
    g_strfreev(c.refs_s);
    g_free(c.train);
    g_free(c.val);
    g_free(c.out);
    g_free(c.resume);
    g_free(c.init);
    g_free(c.device);
    return ok ? 0 : 1;
}
