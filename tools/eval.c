/* eval.c — continuo-eval: how well a model predicts a token file, beside
 * baselines anyone can recompute.
 *
 *   continuo-eval MODEL.bin TOKENS.bin [--train TRAIN.bin] [--order 3] [--max-tokens N]
 *
 * Prints `name: value unit` lines. The model is scored document by document
 * (a document starts with BOS; the BOS itself is never scored): a document
 * longer than the model's context is covered by windows of `context` tokens
 * advancing by context/2, each scoring only the tokens not scored by an
 * earlier window, so every token is predicted from min(its position in the
 * document, context/2 .. context) tokens of that document and never from
 * another document. Baselines, trained on --train and scored on exactly the
 * same tokens: unigram with add-one smoothing, and an interpolated
 * Kneser-Ney n-gram (tools/train/train_ngram.h) whose context is likewise cut
 * at the document start. Per-note figures divide the total NLL by the
 * number of NOTE_ON tokens scored. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <glib.h>
#include "train_model.h"
#include "train_ngram.h"
#include "train_eval.h"
#include "tokfile.h"
#include "token.h"
#include "token_v2.h"

/* The baselines' NLL summed over the scored tokens of docs: a unigram and
 * an interpolated Kneser-Ney n-gram, both counted on the train file. */
static void baseline_nll(const tokfile *tr, const tokfile *tf, GArray *docs, int order, int V,
                         double *uni, double *kn)
{
    /* unigram over predicted tokens (everything but BOS), add-one smoothing */
    double *cnt = g_new0(double, V);
    double total = 0;
    for (size_t i = 0; i < tr->n_tokens; i++)
        if (tr->tokens[i] != TOK_BOS && tr->tokens[i] < V) {
            cnt[tr->tokens[i]] += 1;
            total += 1;
        }
    train_ngram *ng = train_ngram_new(tr->tokens, tr->n_tokens, order, V);
    double u = 0, k_n = 0;
    for (guint k = 0; k < docs->len; k++) {
        train_eval_doc d = g_array_index(docs, train_eval_doc, k);
        for (size_t i = d.start + 1; i < d.end; i++) {
            int t = tf->tokens[i];
            u -= log((cnt[t] + 1.0) / (total + V));
            k_n += train_ngram_nll(ng, tf->tokens + d.start, i - d.start);
        }
    }
    train_ngram_free(ng);
    g_free(cnt);
    *uni = u;
    *kn = k_n;
}

/* One model's NLL as nats per token, per note and per second of music. */
static void print_nll(const char *name, double nll, long scored, long notes, double music_s)
{
    printf("%s_nll: %.4f nats/token\n", name, nll / scored);
    printf("%s_nll_per_note: %.4f nats/note\n", name, notes ? nll / notes : NAN);
    printf("%s_nll_per_second: %.3f nats/s\n", name, music_s > 0 ? nll / music_s : NAN);
}

int main(int argc, char **argv)
{
    gchar *train_path = NULL;
    gint order = 3, batch = 4, threads = 2;
    gint64 max_tokens = 0;
    gboolean no_model = FALSE;
    GOptionEntry entries[] = {
        {"no-model", 0, 0, G_OPTION_ARG_NONE, &no_model, "baselines only: the one argument is TOKENS.bin", NULL},
        {"train", 0, 0, G_OPTION_ARG_FILENAME, &train_path, "train split for the baselines", "FILE"},
        {"order", 0, 0, G_OPTION_ARG_INT, &order, "n-gram order of the Kneser-Ney baseline (3: best of 2..6 on the ASAP validation split)", "N"},
        {"batch", 0, 0, G_OPTION_ARG_INT, &batch, "windows per forward pass (4)", "B"},
        {"threads", 0, 0, G_OPTION_ARG_INT, &threads, "threads (2)", "N"},
        {"max-tokens", 0, 0, G_OPTION_ARG_INT64, &max_tokens, "only the documents in the first N tokens", "N"},
        {NULL, 0, 0, 0, NULL, NULL, NULL},
    };
    GError *err = NULL;
    GOptionContext *oc = g_option_context_new("MODEL.bin TOKENS.bin - NLL per token and baselines");
    g_option_context_add_main_entries(oc, entries, NULL);
    if (!g_option_context_parse(oc, &argc, &argv, &err) || argc != (no_model ? 2 : 3)) {
        fprintf(stderr, "continuo-eval: %s\n", err ? err->message : "usage: continuo-eval MODEL.bin TOKENS.bin [--train TRAIN.bin]");
        return 2;
    }
    g_option_context_free(oc);
    if (order < 1 || order > 6 || batch < 1) {
        fprintf(stderr, "continuo-eval: --order must be 1..6 and --batch >= 1\n");
        return 2;
    }
    const char *model_path = no_model ? NULL : argv[1], *tok_path = argv[no_model ? 1 : 2];
    tokfile tf;
    if (!tokfile_open(&tf, tok_path, &err)) {
        fprintf(stderr, "continuo-eval: %s\n", err->message);
        return 1;
    }
    size_t n_eval = max_tokens > 0 && (size_t)max_tokens < tf.n_tokens ? (size_t)max_tokens : tf.n_tokens;
    GArray *docs = train_eval_docs(tf.tokens, n_eval);
    long scored = 0, notes = 0, shift_units = 0;
    for (guint k = 0; k < docs->len; k++) {
        train_eval_doc d = g_array_index(docs, train_eval_doc, k);
        for (size_t i = d.start + 1; i < d.end; i++) {
            int t = tf.tokens[i];
            scored++;
            notes += tok2_is_note_on(t); /* both roles in v2 */
            if (tok_is_shift(t)) shift_units += t - TOK_TIME_SHIFT;
        }
    }
    /* per second of music: the NLL of a vocabulary spread over the time the
     * tokens cover, comparable across vocabularies (per token is not) */
    double music_s = shift_units * TOK_TIME_STEP;
    printf("tokens_file: %zu tokens\n", tf.n_tokens);
    printf("documents: %u docs\n", docs->len);
    printf("scored_tokens: %ld tokens\n", scored);
    printf("scored_notes: %ld notes\n", notes);
    printf("scored_music: %.1f s\n", music_s);
    int V = tok_vocab_size((int)tf.vocab_id);

    if (model_path) {
        model_config cfg;
        train_model m;
        if (!train_model_read_config(model_path, &cfg, &err)) {
            fprintf(stderr, "continuo-eval: %s\n", err->message);
            return 1;
        }
        if ((int)tf.vocab_id != cfg.vocab_id) {
            fprintf(stderr, "continuo-eval: %s uses vocabulary %u, the model %d\n", tok_path,
                    tf.vocab_id, cfg.vocab_id);
            return 1;
        }
        if (!train_model_new(&m, &cfg, batch, cfg.seq_len, threads, &err) ||
            !train_model_load_params(&m, model_path, &err)) {
            fprintf(stderr, "continuo-eval: %s\n", err->message);
            return 1;
        }
        V = cfg.vocab_size;
        gint64 t0 = g_get_monotonic_time();
        GArray *wins = train_eval_windows(docs, cfg.seq_len);
        train_eval_sum sum = {0};
        train_eval_model(&m, tf.tokens, wins, &sum);
        double secs = (g_get_monotonic_time() - t0) / 1e6;
        g_assert(sum.tokens == scored && sum.notes == notes);
        printf("model_context: %d tokens\n", cfg.seq_len);
        printf("model_nll: %.4f nats/token\n", sum.nll / scored);
        printf("model_perplexity: %.3f\n", exp(sum.nll / scored));
        printf("model_nll_per_note: %.4f nats/note\n", notes ? sum.nll / notes : NAN);
        printf("model_nll_per_second: %.3f nats/s\n", music_s > 0 ? sum.nll / music_s : NAN);
        printf("model_eval_speed: %.0f tokens/s\n", scored / secs);
        g_array_free(wins, TRUE);
        train_model_free(&m);
    }

    if (train_path) {
        tokfile tr;
        if (!tokfile_open(&tr, train_path, &err)) {
            fprintf(stderr, "continuo-eval: %s\n", err->message);
            return 1;
        }
        double uni, kn;
        baseline_nll(&tr, &tf, docs, order, V, &uni, &kn);
        print_nll("unigram", uni, scored, notes, music_s);
        char kname[16];
        snprintf(kname, sizeof kname, "kn%d", order);
        print_nll(kname, kn, scored, notes, music_s);
        tokfile_close(&tr);
    }
    g_array_free(docs, TRUE);
    tokfile_close(&tf);
    g_free(train_path);
    return 0;
}
