/* train_data.c — random training windows and fixed validation windows. */
#include "train_data.h"

void train_window(const tokfile *tf, size_t off, int T, uint16_t *inputs, int *targets)
{
    const uint16_t *w = tf->tokens + off;
    for (int t = 0; t < T; t++) {
        inputs[t] = w[t];
        targets[t] = w[t + 1];
    }
}

void train_batch_random(const tokfile *tf, train_rng *rng, const train_aug *aug, int B, int T,
                        uint16_t *inputs, int *targets)
{
    uint64_t span = tf->n_tokens - (size_t)T; /* offsets 0 .. n - T - 1 */
    uint16_t *w = train_aug_active(aug) ? g_malloc((size_t)(T + 1) * sizeof *w) : NULL;
    for (int b = 0; b < B; b++) {
        size_t off = (size_t)train_rng_below(rng, span);
        uint16_t *in = inputs + (size_t)b * T;
        int *tg = targets + (size_t)b * T;
        if (!w) {
            train_window(tf, off, T, in, tg);
            continue;
        }
        train_aug_window(aug, tf, off, T + 1, train_rng_next(rng), w);
        for (int t = 0; t < T; t++) {
            in[t] = w[t];
            tg[t] = w[t + 1];
        }
    }
    g_free(w);
}

size_t train_val_offset(size_t n_tokens, int T, int i, int n)
{
    size_t last = n_tokens - (size_t)T - 1;
    if (n <= 1) return 0;
    return (size_t)((double)last * i / (n - 1));
}

uint32_t train_data_vocab_id(const char *path, GError **err)
{
    tokfile tf;
    if (!tokfile_open(&tf, path, err)) return 0;
    uint32_t id = tf.vocab_id;
    tokfile_close(&tf);
    return id;
}
