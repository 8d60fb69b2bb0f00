/* train_ckpt.c — write and read training checkpoints (layout in train_ckpt.h). */
#include <stdio.h>
#include <string.h>
#include <errno.h>
#include "train_ckpt.h"
#include "atomic_file.h"
#include "error.h"

G_STATIC_ASSERT(sizeof(train_ckpt_header) <= TRAIN_CKPT_HEADER_SIZE);

static void payload_sha(const float *p, const float *m, const float *v, size_t n, uint8_t out[32])
{
    GChecksum *ck = g_checksum_new(G_CHECKSUM_SHA256);
    g_checksum_update(ck, (const guchar *)p, (gssize)(n * sizeof(float)));
    g_checksum_update(ck, (const guchar *)m, (gssize)(n * sizeof(float)));
    g_checksum_update(ck, (const guchar *)v, (gssize)(n * sizeof(float)));
    gsize len = 32;
    g_checksum_get_digest(ck, out, &len);
    g_checksum_free(ck);
}

gboolean train_ckpt_write(const char *path, train_ckpt_header *h, const float *params,
                          const float *m, const float *v, GError **err)
{
    memcpy(h->magic, TRAIN_CKPT_MAGIC, 8);
    h->version = TRAIN_CKPT_VERSION;
    h->header_size = TRAIN_CKPT_HEADER_SIZE;
    h->n_params = model_param_count(&h->cfg);
    payload_sha(params, m, v, h->n_params, h->sha256);

    atomic_file af;
    if (!atomic_file_open(&af, path, "wb", err)) return FALSE;
    uint8_t block[TRAIN_CKPT_HEADER_SIZE] = {0};
    memcpy(block, h, sizeof *h);
    size_t n = h->n_params;
    gboolean ok = fwrite(block, 1, sizeof block, af.f) == sizeof block &&
                  fwrite(params, sizeof(float), n, af.f) == n &&
                  fwrite(m, sizeof(float), n, af.f) == n && fwrite(v, sizeof(float), n, af.f) == n;
    ok = atomic_file_close(&af, ok, "checkpoint write failed", err);
    return ok;
}

gboolean train_ckpt_read_header(const char *path, train_ckpt_header *h, GError **err)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        g_set_error(err, CN_ERROR, CN_ERR_IO, "%s: %s", path, g_strerror(errno));
        return FALSE;
    }
    size_t got = fread(h, 1, sizeof *h, f);
    fclose(f);
    if (got != sizeof *h) {
        g_set_error(err, CN_ERROR, CN_ERR_TRUNCATED, "%s: shorter than a checkpoint header", path);
        return FALSE;
    }
    if (memcmp(h->magic, TRAIN_CKPT_MAGIC, 8) != 0) {
        g_set_error(err, CN_ERROR, CN_ERR_FORMAT, "%s: not a continuo training checkpoint", path);
        return FALSE;
    }
    if (h->version != TRAIN_CKPT_VERSION || h->header_size != TRAIN_CKPT_HEADER_SIZE) {
        g_set_error(err, CN_ERROR, CN_ERR_VERSION, "%s: checkpoint version %u not supported", path,
                    h->version);
        return FALSE;
    }
    if (!model_config_check(&h->cfg, err)) {
        g_prefix_error(err, "%s: ", path);
        return FALSE;
    }
    if (h->n_params != model_param_count(&h->cfg)) {
        g_set_error(err, CN_ERROR, CN_ERR_FORMAT, "%s: parameter count does not match its config",
                    path);
        return FALSE;
    }
    return TRUE;
}

gboolean train_ckpt_read(const char *path, train_ckpt_header *h, float *params, float *m,
                         float *v, GError **err)
{
    if (!train_ckpt_read_header(path, h, err)) return FALSE;
    FILE *f = fopen(path, "rb");
    if (!f) {
        g_set_error(err, CN_ERROR, CN_ERR_IO, "%s: %s", path, g_strerror(errno));
        return FALSE;
    }
    size_t n = h->n_params;
    gboolean ok = fseek(f, TRAIN_CKPT_HEADER_SIZE, SEEK_SET) == 0 &&
                  fread(params, sizeof(float), n, f) == n && fread(m, sizeof(float), n, f) == n &&
                  fread(v, sizeof(float), n, f) == n;
    char extra;
    if (ok && fread(&extra, 1, 1, f) == 1) ok = FALSE; /* trailing bytes: wrong size */
    fclose(f);
    if (!ok) {
        g_set_error(err, CN_ERROR, CN_ERR_TRUNCATED, "%s: size does not match %zu parameters", path,
                    n);
        return FALSE;
    }
    uint8_t sha[32];
    payload_sha(params, m, v, n, sha);
    if (memcmp(sha, h->sha256, 32) != 0) {
        g_set_error(err, CN_ERROR, CN_ERR_CHECKSUM, "%s: checkpoint checksum mismatch", path);
        return FALSE;
    }
    return TRUE;
}
