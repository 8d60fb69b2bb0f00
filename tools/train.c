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

int main(int argc, char **argv)
{
    gchar *train = NULL, *val = NULL, *out = NULL, *resume = NULL, *init = NULL, *device = NULL;
    gchar **refs_s = NULL;
    gint dim = 256, layers = 6, heads = 8, hidden = 768, ctx = 1024, tied = 0;
    gint batch = -1, window = -1, steps = -1, warmup = -1, val_every = -1, val_windows = -1;
    gint threads = 2, ckpt_every = 0, stop_at = 0;
    gint64 seed = -1;
    gdouble lr = NAN, min_lr = NAN, wd = NAN, clip = NAN, ckpt_minutes = 5.0, max_minutes = 0.0;
    gboolean quiet = FALSE, plot_only = FALSE;
    GOptionEntry entries[] = {
        {"plot-only", 0, 0, G_OPTION_ARG_NONE, &plot_only, "only redraw OUT/curves.svg from OUT/log.csv", NULL},
        {"train", 0, 0, G_OPTION_ARG_FILENAME, &train, "training token file", "FILE"},
        {"val", 0, 0, G_OPTION_ARG_FILENAME, &val, "validation token file", "FILE"},
        {"out", 0, 0, G_OPTION_ARG_FILENAME, &out, "output folder (checkpoints, weights, log)", "DIR"},
        {"resume", 0, 0, G_OPTION_ARG_FILENAME, &resume, "continue from a checkpoint", "CKPT"},
        {"init", 0, 0, G_OPTION_ARG_FILENAME, &init, "start from these weights (fine-tuning)", "MODEL"},
        {"dim", 0, 0, G_OPTION_ARG_INT, &dim, "model width (256)", "N"},
        {"layers", 0, 0, G_OPTION_ARG_INT, &layers, "layers (6)", "N"},
        {"heads", 0, 0, G_OPTION_ARG_INT, &heads, "attention heads (8)", "N"},
        {"hidden", 0, 0, G_OPTION_ARG_INT, &hidden, "MLP width (768)", "N"},
        {"ctx", 0, 0, G_OPTION_ARG_INT, &ctx, "model context, tokens (1024)", "N"},
        {"tied", 0, 0, G_OPTION_ARG_INT, &tied, "1: output head shares the embedding (0)", "0|1"},
        {"batch", 0, 0, G_OPTION_ARG_INT, &batch, "windows per step (8)", "B"},
        {"window", 0, 0, G_OPTION_ARG_INT, &window, "tokens per window (= ctx)", "T"},
        {"steps", 0, 0, G_OPTION_ARG_INT, &steps, "length of the lr schedule in steps (20000)", "N"},
        {"lr", 0, 0, G_OPTION_ARG_DOUBLE, &lr, "peak learning rate (1e-3)", "X"},
        {"min-lr-frac", 0, 0, G_OPTION_ARG_DOUBLE, &min_lr, "final lr / peak lr (0.1)", "X"},
        {"warmup", 0, 0, G_OPTION_ARG_INT, &warmup, "warmup steps (200)", "N"},
        {"wd", 0, 0, G_OPTION_ARG_DOUBLE, &wd, "AdamW weight decay (0.1)", "X"},
        {"clip", 0, 0, G_OPTION_ARG_DOUBLE, &clip, "gradient clip, global norm (1.0)", "X"},
        {"seed", 0, 0, G_OPTION_ARG_INT64, &seed, "init and data seed (1)", "N"},
        {"val-every", 0, 0, G_OPTION_ARG_INT, &val_every, "steps between validations (250)", "N"},
        {"val-windows", 0, 0, G_OPTION_ARG_INT, &val_windows, "validation windows (64)", "N"},
        {"threads", 0, 0, G_OPTION_ARG_INT, &threads, "threads (2)", "N"},
        {"device", 0, 0, G_OPTION_ARG_STRING, &device, "where to train: cpu or cuda (cpu)", "cpu|cuda"},
        {"ckpt-minutes", 0, 0, G_OPTION_ARG_DOUBLE, &ckpt_minutes, "minutes between checkpoints (5)", "X"},
        {"ckpt-every", 0, 0, G_OPTION_ARG_INT, &ckpt_every, "also checkpoint every N steps", "N"},
        {"stop-at", 0, 0, G_OPTION_ARG_INT, &stop_at, "stop (with a checkpoint) at this step", "N"},
        {"max-minutes", 0, 0, G_OPTION_ARG_DOUBLE, &max_minutes, "stop (with a checkpoint) after this many minutes", "X"},
        {"ref", 0, 0, G_OPTION_ARG_STRING_ARRAY, &refs_s, "baseline line on the plot (repeatable)", "NAME=NATS"},
        {"quiet", 'q', 0, G_OPTION_ARG_NONE, &quiet, "no progress lines", NULL},
        {NULL},
    };
    GError *err = NULL;
    GOptionContext *oc = g_option_context_new("- train the continuo transformer");
    g_option_context_add_main_entries(oc, entries, NULL);
    if (!g_option_context_parse(oc, &argc, &argv, &err)) {
        fprintf(stderr, "continuo-train: %s\n", err->message);
        return 2;
    }
    g_option_context_free(oc);
    train_plot_ref refs[4];
    int n_refs = 0;
    for (int i = 0; refs_s && refs_s[i] && n_refs < 4; i++) {
        char *eq = strchr(refs_s[i], '=');
        if (!eq) continue;
        *eq = 0;
        refs[n_refs++] = (train_plot_ref){refs_s[i], g_ascii_strtod(eq + 1, NULL)};
    }
    if (plot_only && out) {
        /* tokens per step come from the checkpoint when there is one */
        char *log = g_build_filename(out, "log.csv", NULL), *svg = g_build_filename(out, "curves.svg", NULL);
        char *ck = g_build_filename(out, "ckpt.bin", NULL);
        train_ckpt_header h;
        long tps = train_ckpt_read_header(ck, &h, NULL) ? (long)h.hp.B * h.hp.T : 4096;
        GArray *rows = g_array_new(FALSE, FALSE, sizeof(train_log_row));
        gboolean ok = train_log_load(log, G_MAXLONG, rows, &err) &&
                      train_plot_svg(svg, rows, tps, "continuo training", refs, n_refs, 50, &err);
        if (!ok) fprintf(stderr, "continuo-train: %s\n", err->message);
        else printf("%s\n", svg);
        return ok ? 0 : 1;
    }
    if (!train || !out) {
        fprintf(stderr, "continuo-train: --train and --out are required (see --help)\n");
        return 2;
    }
    gboolean cuda = device && strcmp(device, "cuda") == 0;
    if (device && !cuda && strcmp(device, "cpu") != 0) {
        fprintf(stderr, "continuo-train: --device %s: expected cpu or cuda\n", device);
        return 2;
    }
    /* before anything else: no GPU is one line and exit 1 */
    if (cuda && !cuda_loader_open(&err)) {
        fprintf(stderr, "continuo-train: %s\n", err->message);
        return 1;
    }

    /* the data's vocabulary sizes a new model and must match a given one */
    uint32_t vocab_id = train_data_vocab_id(train, &err);
    uint32_t val_vocab = vocab_id && val ? train_data_vocab_id(val, &err) : vocab_id;
    if (!vocab_id || !val_vocab) {
        fprintf(stderr, "continuo-train: %s\n", err->message);
        return 1;
    }
    if (val_vocab != vocab_id) {
        fprintf(stderr, "continuo-train: %s uses vocabulary %u, %s vocabulary %u\n", train,
                vocab_id, val, val_vocab);
        return 1;
    }

    train_opts o;
    memset(&o, 0, sizeof o);
    train_hparams *hp = &o.hp;
    if (resume) {
        train_ckpt_header h;
        if (!train_ckpt_read_header(resume, &h, &err)) {
            fprintf(stderr, "continuo-train: %s\n", err->message);
            return 1;
        }
        o.cfg = h.cfg;
        *hp = h.hp;
        if (batch > 0 || window > 0 || seed >= 0)
            fprintf(stderr, "continuo-train: --batch/--window/--seed ignored on resume (fixed by "
                            "the checkpoint)\n");
    } else {
        if (init) {
            if (!train_model_read_config(init, &o.cfg, &err)) {
                fprintf(stderr, "continuo-train: %s\n", err->message);
                return 1;
            }
        } else {
            o.cfg = (model_config){.dim = dim, .n_layers = layers, .n_heads = heads,
                                   .hidden_dim = hidden, .vocab_size = tok_vocab_size((int)vocab_id),
                                   .seq_len = ctx, .vocab_id = (int)vocab_id, .tied = tied,
                                   .rope_theta = 10000.0f};
        }
        *hp = (train_hparams){.B = 8, .T = o.cfg.seq_len, .val_every = 250, .val_windows = 64,
                              .seed = 1,
                              .optim = {.lr = 1e-3f, .lr_min_frac = 0.1f, .warmup = 200,
                                        .total_steps = 20000, .beta1 = 0.9f, .beta2 = 0.95f,
                                        .eps = 1e-8f, .weight_decay = 0.1f, .grad_clip = 1.0f}};
        if (batch > 0) hp->B = batch;
        if (window > 0) hp->T = window;
        if (seed >= 0) hp->seed = (uint64_t)seed;
    }
    if (o.cfg.vocab_id != (int)vocab_id || o.cfg.vocab_size < tok_vocab_size((int)vocab_id)) {
        fprintf(stderr, "continuo-train: the model uses vocabulary %d (%d tokens), %s vocabulary %u\n",
                o.cfg.vocab_id, o.cfg.vocab_size, train, vocab_id);
        return 1;
    }
    /* recipe options that may change on resume (e.g. a longer schedule) */
    GString *over = g_string_new(NULL);
#define OVERRIDE_I(v, field, name) if (v >= 0) { if (resume && field != v) g_string_append_printf(over, " %s %d", name, v); field = v; }
#define OVERRIDE_F(v, field, name) if (!isnan(v)) { if (resume && field != (float)v) g_string_append_printf(over, " %s %g", name, v); field = (float)v; }
    OVERRIDE_I(steps, hp->optim.total_steps, "--steps");
    OVERRIDE_I(warmup, hp->optim.warmup, "--warmup");
    OVERRIDE_I(val_every, hp->val_every, "--val-every");
    OVERRIDE_I(val_windows, hp->val_windows, "--val-windows");
    OVERRIDE_F(lr, hp->optim.lr, "--lr");
    OVERRIDE_F(min_lr, hp->optim.lr_min_frac, "--min-lr-frac");
    OVERRIDE_F(wd, hp->optim.weight_decay, "--wd");
    OVERRIDE_F(clip, hp->optim.grad_clip, "--clip");
    if (over->len) fprintf(stderr, "continuo-train: resuming with a changed recipe:%s\n", over->str);
    g_string_free(over, TRUE);

    o.train_path = train;
    o.val_path = val;
    o.out_dir = out;
    o.resume_path = resume;
    o.init_path = init;
    o.threads = threads;
    o.device = cuda ? "cuda" : "cpu";
    o.ckpt_minutes = ckpt_minutes;
    o.ckpt_every = ckpt_every;
    o.stop_at = stop_at;
    o.max_minutes = max_minutes;
    o.quiet = quiet;
    o.refs = refs;
    o.n_refs = n_refs;

    openblas_set_num_threads(threads);
    double fpt = train_flops_per_token(&o.cfg, hp->T);
    if (cuda) {
        /* the CPU's sgemm peak says nothing about the GPU: FLOPs only */
        fprintf(stderr, "train_flops_per_token: %.1f MFLOP\n", fpt / 1e6);
    } else {
        double peak = sgemm_peak();
        fprintf(stderr, "sgemm_512x256x768: %.1f GFLOP/s (%d threads)\n", peak, threads);
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
    g_strfreev(refs_s);
    g_free(train);
    g_free(val);
    g_free(out);
    g_free(resume);
    g_free(init);
    g_free(device);
    return ok ? 0 : 1;
}
