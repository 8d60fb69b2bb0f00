/* mkmodel.c — continuo-mkmodel: write a random-initialized weights file of a
 * given shape (for tests, benchmarks, and until the trained model lands). */
#include <stdio.h>
#include "model.h"
#include "model_random.h"
#include "error.h"
#include "train_widen.h"

int main(int argc, char **argv)
{
    model_config c;
    model_random_default_config(&c);
    char *out = NULL;
    gint seed = 1;
    gdouble std = 0.02, theta = c.rope_theta;
    gboolean untied = FALSE;
    char *widen = NULL;
    GOptionEntry entries[] = {
        {"output", 'o', 0, G_OPTION_ARG_FILENAME, &out, "weights file to write (required)", "FILE"},
        {"dim", 0, 0, G_OPTION_ARG_INT, &c.dim, "model width (256)", "N"},
        {"layers", 0, 0, G_OPTION_ARG_INT, &c.n_layers, "layers (6)", "N"},
        {"heads", 0, 0, G_OPTION_ARG_INT, &c.n_heads, "attention heads (8)", "N"},
        {"hidden", 0, 0, G_OPTION_ARG_INT, &c.hidden_dim, "MLP width (768)", "N"},
        {"vocab", 0, 0, G_OPTION_ARG_INT, &c.vocab_size, "vocabulary size (396)", "N"},
        {"vocab-id", 0, 0, G_OPTION_ARG_INT, &c.vocab_id, "token encoding id (1)", "N"},
        {"seq-len", 0, 0, G_OPTION_ARG_INT, &c.seq_len, "context length (1024)", "N"},
        {"theta", 0, 0, G_OPTION_ARG_DOUBLE, &theta, "rotary base (10000)", "X"},
        {"untied", 0, 0, G_OPTION_ARG_NONE, &untied, "separate output head (default: tied)", NULL},
        {"seed", 0, 0, G_OPTION_ARG_INT, &seed, "random seed (1)", "S"},
        {"std", 0, 0, G_OPTION_ARG_DOUBLE, &std, "standard deviation of the weights (0.02)", "X"},
        {"widen-from", 0, 0, G_OPTION_ARG_FILENAME, &widen, "instead: widen this v1 model to token vocabulary v2 (a warm start for v2 training: each v2 token's rows copied from its v1 equivalent, controls random)", "V1.bin"},
        {NULL, 0, 0, 0, NULL, NULL, NULL},
    };
    GOptionContext *ctx = g_option_context_new("- write a random-initialized continuo model file");
    g_option_context_add_main_entries(ctx, entries, NULL);
    GError *err = NULL;
    if (!g_option_context_parse(ctx, &argc, &argv, &err) || !out || argc > 1) {
        fprintf(stderr, "continuo-mkmodel: %s\n", err ? err->message : "usage: continuo-mkmodel -o FILE [options]");
        g_clear_error(&err);
        g_option_context_free(ctx);
        return 2;
    }
    g_option_context_free(ctx);
    if (widen) {
        gboolean ok = train_widen_to_v2(widen, out, (guint32)seed, &err);
        if (!ok) fprintf(stderr, "continuo-mkmodel: %s\n", err->message);
        else fprintf(stderr, "continuo-mkmodel: wrote %s (%s widened to vocabulary v2)\n", out, widen);
        g_clear_error(&err);
        g_free(widen);
        g_free(out);
        return ok ? 0 : 1;
    }
    c.tied = untied ? 0 : 1;
    c.rope_theta = (float)theta;
    if (!model_config_check(&c, &err)) {
        fprintf(stderr, "continuo-mkmodel: %s\n", err->message);
        g_error_free(err);
        return 2;
    }
    float *p = model_random_params(&c, (guint32)seed, (float)std);
    gboolean ok = model_file_write(out, &c, p, &err);
    g_free(p);
    if (!ok) {
        fprintf(stderr, "continuo-mkmodel: %s\n", err->message);
        g_error_free(err);
        return 1;
    }
    fprintf(stderr, "continuo-mkmodel: wrote %s (%zu parameters)\n", out, model_param_count(&c));
    g_free(out);
    return 0;
}
