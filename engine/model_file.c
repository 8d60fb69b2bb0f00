/* model_file.c — the weights file: config checks, tensor map (the layout
 * itself is kernels/weights_layout.h), writing.
 * Loading (mmap + validation) lives in model.c. Not real-time safe. */
#include <stdio.h>
#include <string.h>
#include <errno.h>
#include "model.h"
#include "error.h"

gboolean model_config_check(const model_config *c, GError **err)
{
    const char *why = NULL;
    if (c->dim <= 0 || c->dim > 8192) why = "dim out of range 1..8192";
    else if (c->n_layers <= 0 || c->n_layers > 256) why = "n_layers out of range 1..256";
    else if (c->n_heads <= 0 || c->dim % c->n_heads) why = "n_heads does not divide dim";
    else if ((c->dim / c->n_heads) % 2) why = "head_dim must be even (rotary pairs)";
    else if (c->hidden_dim <= 0 || c->hidden_dim > 65536) why = "hidden_dim out of range";
    else if (c->vocab_size <= 0 || c->vocab_size > 65536) why = "vocab_size out of range";
    else if (c->seq_len <= 0 || c->seq_len > 1 << 20) why = "seq_len out of range";
    else if (c->tied != 0 && c->tied != 1) why = "tied must be 0 or 1";
    else if (!(c->rope_theta > 1.0f && c->rope_theta < 1e9f)) why = "rope_theta out of range";
    if (why) {
        g_set_error(err, CN_ERROR, CN_ERR_FORMAT, "bad model config: %s", why);
        return FALSE;
    }
    return TRUE;
}

size_t model_param_count(const model_config *c)
{
    return weights_layout((size_t)c->dim, (size_t)c->n_layers, (size_t)c->hidden_dim,
                          (size_t)c->vocab_size, c->tied, NULL, NULL);
}

void model_weights_map(model_weights *w, const model_config *c, float *p)
{
    size_t d = (size_t)c->dim, L = (size_t)c->n_layers, h = (size_t)c->hidden_dim;
    size_t v = (size_t)c->vocab_size;
    int tied = c->tied;
#define MAP(name, n, kind) \
    w->name = p;           \
    p += (n);
    WEIGHTS_TENSORS(MAP)
#undef MAP
    if (tied) w->wcls = w->tok_emb;
}

gboolean model_file_write(const char *path, const model_config *c, const float *params,
                          GError **err)
{
    if (!model_config_check(c, err)) return FALSE;
    model_file_header hd;
    memset(&hd, 0, sizeof hd);
    memcpy(hd.magic, MODEL_MAGIC, 8);
    hd.version = MODEL_VERSION;
    hd.header_size = MODEL_HEADER_SIZE;
    hd.config = *c;
    hd.dtype = 0;
    hd.param_count = model_param_count(c);
    hd.payload_bytes = hd.param_count * sizeof(float);

    GChecksum *ck = g_checksum_new(G_CHECKSUM_SHA256);
    g_checksum_update(ck, (const guchar *)params, (gssize)hd.payload_bytes);
    gsize len = sizeof hd.sha256;
    g_checksum_get_digest(ck, hd.sha256, &len);
    g_checksum_free(ck);

    /* Write to a temporary name, then rename: a crash never leaves a half file
     * under the real name (the trainer overwrites checkpoints in place). */
    char *tmp = g_strdup_printf("%s.tmp", path);
    FILE *f = fopen(tmp, "wb");
    if (!f) {
        g_set_error(err, CN_ERROR, CN_ERR_IO, "%s: cannot write: %s", tmp, g_strerror(errno));
        g_free(tmp);
        return FALSE;
    }
    uint8_t block[MODEL_HEADER_SIZE] = {0};
    G_STATIC_ASSERT(sizeof(model_file_header) <= MODEL_HEADER_SIZE);
    memcpy(block, &hd, sizeof hd);
    gboolean ok = fwrite(block, 1, sizeof block, f) == sizeof block &&
                  fwrite(params, 1, hd.payload_bytes, f) == hd.payload_bytes;
    ok = (fclose(f) == 0) && ok;
    if (ok && rename(tmp, path) != 0) ok = FALSE;
    if (!ok) {
        g_set_error(err, CN_ERROR, CN_ERR_IO, "%s: write failed: %s", path, g_strerror(errno));
        remove(tmp);
    }
    g_free(tmp);
    return ok;
}
