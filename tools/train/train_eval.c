/* train_eval.c — document-aware sliding-window scoring (see train_eval.h). */
#include "train_eval.h"
#include "token.h"
#include "token_v2.h"

GArray *train_eval_docs(const uint16_t *tok, size_t n)
{
    GArray *docs = g_array_new(FALSE, FALSE, sizeof(train_eval_doc));
    size_t s = 0;
    for (size_t i = 1; i <= n; i++)
        if (i == n || tok[i] == TOK_BOS) {
            train_eval_doc d = {s, i};
            if (i - s >= 2) g_array_append_val(docs, d);
            s = i;
        }
    return docs;
}

GArray *train_eval_windows(const GArray *docs, int ctx)
{
    GArray *w = g_array_new(FALSE, FALSE, sizeof(train_eval_window));
    int stride = ctx / 2 > 0 ? ctx / 2 : 1;
    for (guint k = 0; k < docs->len; k++) {
        train_eval_doc d = g_array_index(docs, train_eval_doc, k);
        size_t s = d.start, scored = d.start; /* last index already scored (the BOS: done) */
        for (;;) {
            size_t e = s + (size_t)ctx < d.end ? s + (size_t)ctx : d.end;
            train_eval_window win = {s, (int)(e - s), (int)(scored - s)};
            g_array_append_val(w, win);
            scored = e - 1;
            if (e == d.end) break;
            s += (size_t)stride;
        }
    }
    return w;
}

void train_eval_model(train_model *m, const uint16_t *tok, const GArray *windows,
                      train_eval_sum *sum)
{
    int B = m->B, T = m->T;
    uint16_t *in = g_new(uint16_t, (size_t)B * T);
    int *tg = g_new(int, (size_t)B * T);
    for (guint w0 = 0; w0 < windows->len; w0 += B) {
        int nb = (int)(windows->len - w0 < (guint)B ? windows->len - w0 : (guint)B);
        for (int b = 0; b < nb; b++) {
            train_eval_window w = g_array_index(windows, train_eval_window, w0 + b);
            for (int j = 0; j < T; j++) {
                size_t idx = (size_t)b * T + j;
                in[idx] = j < w.len ? tok[w.start + j] : TOK_PAD;
                tg[idx] = (j >= w.lo && j < w.len - 1) ? tok[w.start + j + 1] : -1;
            }
        }
        /* short windows are padded at the end: causal attention keeps the
         * padding out of every scored row */
        train_model_forward(m, in, tg, nb, T);
        for (int i = 0; i < nb * T; i++)
            if (tg[i] >= 0) {
                sum->nll += m->acts.losses[i];
                sum->tokens++;
                sum->notes += tok2_is_note_on(tg[i]); /* both roles in v2 */
            }
    }
    g_free(in);
    g_free(tg);
}
