/* fuzz_weights.c — libFuzzer target: the weights loader (engine/model_file.c)
 * and a run state of what it accepts. The first byte picks the mode:
 *  even: the bytes are the file (model_load must refuse with an error or
 *        give a model whose run state computes);
 *  odd:  the next bytes give a shape (dim, layers, heads, hidden, vocab,
 *        seq_len, tied: small, possibly invalid), a file of that shape is
 *        written with random weights (model_file_write), and the rest of
 *        the input overwrites bytes of it at offsets the input chooses; then
 *        it is loaded. Either way a model that loads runs a prefill and a few
 *        forward steps whose logits must be finite when the file was not
 *        altered. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <math.h>
#include <glib.h>
#include "model.h"
#include "model_random.h"

static void run(const char *path, gboolean pristine)
{
    GError *err = NULL;
    model *m = model_load(path, &err);
    if (!m) {
        if (!err || pristine) abort(); /* a file we wrote whole must load */
        g_error_free(err);
        return;
    }
    const model_config *c = model_get_config(m);
    if (model_cache_bytes(c) <= (64u << 20)) {
        model_state *s = model_state_new(m, &err);
        if (!s) abort();
        int toks[5] = {0, 1, 2, 3, 4};
        for (int i = 0; i < 5; i++) toks[i] %= c->vocab_size;
        float *lg = model_prefill(s, toks, 5);
        for (int step = 0; step < 3 && lg; step++) lg = model_forward(s, step % c->vocab_size);
        if (pristine && lg)
            for (int i = 0; i < c->vocab_size; i++)
                if (!isfinite(lg[i])) abort();
        model_state_free(s);
    }
    model_free(m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char path[64];
    if (!path[0]) snprintf(path, sizeof path, "/tmp/fuzz-weights-%d.bin", (int)getpid());
    if (size < 1) return 0;
    if (!(data[0] & 1)) {
        FILE *f = fopen(path, "wb");
        if (!f || fwrite(data + 1, 1, size - 1, f) != size - 1) abort();
        fclose(f);
        run(path, FALSE);
        return 0;
    }
    if (size < 8) return 0;
    model_config c;
    model_random_default_config(&c);
    c.n_heads = 1 + data[3] % 4;
    c.dim = c.n_heads * 2 * (1 + data[1] % 8); /* may be made odd below */
    if (data[7] & 0x80) c.dim += 1;
    c.n_layers = data[2] % 4;  /* 0 is invalid */
    c.hidden_dim = 1 + data[4] % 64;
    c.vocab_size = 1 + data[5] % 64;
    c.seq_len = data[6] % 40; /* 0 is invalid */
    c.tied = data[7] & 1;
    float *p = model_random_params(&c, data[7], 0.5f);
    GError *err = NULL;
    gboolean ok = model_file_write(path, &c, p, &err);
    g_free(p);
    if (!ok) {
        if (!err) abort();
        g_error_free(err);
        return 0;
    }
    gboolean pristine = size <= 8;
    FILE *f = fopen(path, "r+b");
    if (!f) abort();
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    for (size_t i = 8; i + 2 < size; i += 3) { /* (offset lo, offset hi, byte) */
        long off = (long)(data[i] | data[i + 1] << 8) % len;
        fseek(f, off, SEEK_SET);
        fputc(data[i + 2], f);
    }
    fclose(f);
    run(path, pristine);
    return 0;
}
