/* model_file.c — the weights file: config checks, tensor map (the layout
 * itself is kernels/weights_layout.h), loading (mmap, validation, the copy
 * into memory described at the top of model.c) and writing. Running the
 * loaded model is model.c. Not real-time safe. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include "model_internal.h"
#include "atomic_file.h"
#include "error.h"
#include "kernels.h"

gboolean model_config_check(const model_config *c, GError **err)
{
    const char *why = NULL;
    if (c->dim <= 0 || c->dim > 8192) why = "dim out of range 1..8192";
    else if (c->n_layers <= 0 || c->n_layers > 256) why = "n_layers out of range 1..256";
    else if (c->n_heads <= 0 || c->dim % c->n_heads) why = "n_heads does not divide dim";
    else if ((c->dim / c->n_heads) % 2) why = "head_dim must be even (rotary pairs)";
    else if (c->hidden_dim <= 0 || c->hidden_dim > 65536) why = "hidden_dim out of range";
    else if (c->vocab_size <= 0 || c->vocab_size > 65536) why = "vocab_size out of range";
    else if (c->seq_len <= 0 || c->seq_len > MODEL_MAX_SEQ_LEN)
        why = "seq_len out of range 1.." G_STRINGIFY(MODEL_MAX_SEQ_LEN);
    else if (c->tied != 0 && c->tied != 1) why = "tied must be 0 or 1";
    else if (!(c->rope_theta > 1.0f && c->rope_theta < 1e9f)) why = "rope_theta out of range";
    else if (model_cache_bytes(c) > MODEL_MAX_CACHE_BYTES) {
        g_set_error(err, CN_ERROR, CN_ERR_FORMAT,
                    "bad model config: its KV cache (%d layers x dim %d x seq_len %d) needs %zu "
                    "MiB per run state, more than the %zu MiB limit", c->n_layers, c->dim,
                    c->seq_len, model_cache_bytes(c) >> 20, MODEL_MAX_CACHE_BYTES >> 20);
        return FALSE;
    }
    if (why) {
        g_set_error(err, CN_ERROR, CN_ERR_FORMAT, "bad model config: %s", why);
        return FALSE;
    }
    return TRUE;
}

size_t model_cache_bytes(const model_config *c)
{
    size_t rows = (size_t)c->n_layers * (size_t)c->dim; /* (layer, dim) */
    return rows * (model_key_ld((size_t)c->seq_len) + (size_t)c->seq_len) * sizeof(uint16_t);
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
    WEIGHTS_MAP_W_FROM_P()
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

    atomic_file af;
    if (!atomic_file_open(&af, path, "wb", err)) return FALSE;
    uint8_t block[MODEL_HEADER_SIZE] = {0};
    G_STATIC_ASSERT(sizeof(model_file_header) <= MODEL_HEADER_SIZE);
    memcpy(block, &hd, sizeof hd);
    gboolean ok = fwrite(block, 1, sizeof block, af.f) == sizeof block &&
                  fwrite(params, 1, hd.payload_bytes, af.f) == hd.payload_bytes;
    ok = atomic_file_close(&af, ok, "write failed", err);
    return ok;
}

/* ----------------------------------------------------------------------------
 * loading */

static gboolean load_fail(GError **err, const char *path, int code, const char *fmt, ...)
    G_GNUC_PRINTF(4, 5);
static gboolean load_fail(GError **err, const char *path, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    g_set_error(err, CN_ERROR, code, "%s: %s", path, msg);
    g_free(msg);
    return FALSE;
}

/* Every header field against the spec and the file size; the payload is not touched. */
static gboolean header_check(const model_file_header *h, uint64_t file_size, const char *path,
                             GError **err)
{
    if (memcmp(h->magic, MODEL_MAGIC, 8))
        return load_fail(err, path, CN_ERR_FORMAT, "not a continuo model file (bad magic)");
    if (h->version != MODEL_VERSION)
        return load_fail(err, path, CN_ERR_VERSION, "format version %u, this build reads version %d",
                         h->version, MODEL_VERSION);
    if (h->header_size != MODEL_HEADER_SIZE)
        return load_fail(err, path, CN_ERR_FORMAT, "header_size %u, expected %d", h->header_size,
                         MODEL_HEADER_SIZE);
    GError *e = NULL;
    if (!model_config_check(&h->config, &e)) {
        load_fail(err, path, CN_ERR_FORMAT, "%s", e->message);
        g_error_free(e);
        return FALSE;
    }
    if (h->dtype != 0)
        return load_fail(err, path, CN_ERR_UNSUPPORTED, "dtype %u not supported (0 = float32)",
                         h->dtype);
    uint64_t want = model_param_count(&h->config);
    if (h->param_count != want)
        return load_fail(err, path, CN_ERR_FORMAT,
                         "param_count %" G_GUINT64_FORMAT " does not match the config (%" G_GUINT64_FORMAT ")",
                         (guint64)h->param_count, (guint64)want);
    if (h->payload_bytes != want * sizeof(float))
        return load_fail(err, path, CN_ERR_FORMAT,
                         "payload_bytes %" G_GUINT64_FORMAT " is not param_count * 4",
                         (guint64)h->payload_bytes);
    uint64_t total = MODEL_HEADER_SIZE + h->payload_bytes;
    if (file_size < total)
        return load_fail(err, path, CN_ERR_TRUNCATED,
                         "truncated: %" G_GUINT64_FORMAT " bytes, the header declares %" G_GUINT64_FORMAT,
                         (guint64)file_size, (guint64)total);
    if (file_size > total)
        return load_fail(err, path, CN_ERR_FORMAT,
                         "%" G_GUINT64_FORMAT " trailing bytes after the payload",
                         (guint64)(file_size - total));
    return TRUE;
}

/* Memory on 2 MB pages where the kernel allows (THP "madvise" mode). */
static void *huge_alloc(size_t bytes)
{
    size_t align = (size_t)2 << 20, size = (bytes + align - 1) & ~(align - 1);
    void *p = NULL;
    if (posix_memalign(&p, align, size ? size : align)) return NULL;
    madvise(p, size, MADV_HUGEPAGE);
    return p;
}

static model_weight_type resolve_type(model_weight_type t)
{
    if (t != MODEL_WEIGHTS_AUTO) return t;
    const char *env = getenv("CONTINUO_WEIGHTS");
    if (env && !strcmp(env, "f32")) return MODEL_WEIGHTS_F32;
    return MODEL_WEIGHTS_BF16;
}

/* Copy (float32) or round (bfloat16) the payload into m->block. */
static gboolean build_weights(model *m, const float *payload, size_t count)
{
    const model_config *c = &m->config;
    model_weights w; /* offsets into the payload, via a map on the payload itself */
    model_weights_map(&w, c, (float *)payload);
    size_t L = (size_t)c->n_layers, d = (size_t)c->dim;
    m->norms = g_new(float, 2 * L * d + d);
    memcpy(m->norms, w.rms_att, L * d * sizeof(float));
    memcpy(m->norms + L * d, w.rms_ffn, L * d * sizeof(float));
    memcpy(m->norms + 2 * L * d, w.rms_final, d * sizeof(float));
    m->rms_att = m->norms;
    m->rms_ffn = m->norms + L * d;
    m->rms_final = m->norms + 2 * L * d;

    const float *src[] = {w.tok_emb, w.wq, w.wk, w.wv, w.wo, w.w1, w.w2, w.wcls};
    mat *dst[] = {&m->tok_emb, &m->wq, &m->wk, &m->wv, &m->wo, &m->w1, &m->w2, &m->wcls};
    if (m->type == MODEL_WEIGHTS_F32) {
        float *b = huge_alloc(count * sizeof(float));
        if (!b) return FALSE;
        memcpy(b, payload, count * sizeof(float));
        for (size_t i = 0; i < G_N_ELEMENTS(src); i++) dst[i]->f = b + (src[i] - payload);
        m->block = b;
    } else {
        uint16_t *b = huge_alloc(count * sizeof(uint16_t));
        if (!b) return FALSE;
        for (size_t i = 0; i < count; i++) b[i] = kern_f32_to_bf16(payload[i]);
        for (size_t i = 0; i < G_N_ELEMENTS(src); i++) dst[i]->b = b + (src[i] - payload);
        m->block = b;
    }
    return TRUE;
}

model *model_load_as(const char *path, model_weight_type type, GError **err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        load_fail(err, path, CN_ERR_IO, "cannot open: %s", g_strerror(errno));
        return NULL;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        load_fail(err, path, CN_ERR_IO, "not a regular file");
        close(fd);
        return NULL;
    }
    uint64_t size = (uint64_t)st.st_size;
    if (size < MODEL_HEADER_SIZE) {
        /* Short files: a prefix of our magic means a cut-off model file. */
        char head[8] = {0};
        ssize_t got = pread(fd, head, size < 8 ? size : 8, 0);
        close(fd);
        if (size == 0)
            load_fail(err, path, CN_ERR_TRUNCATED, "empty file (0 bytes), not a model");
        else if (got >= 0 && !memcmp(head, MODEL_MAGIC, (size_t)got))
            load_fail(err, path, CN_ERR_TRUNCATED,
                      "truncated: %" G_GUINT64_FORMAT " bytes, shorter than the %d-byte header",
                      (guint64)size, MODEL_HEADER_SIZE);
        else
            load_fail(err, path, CN_ERR_FORMAT, "not a continuo model file (bad magic)");
        return NULL;
    }
    void *map = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (map == MAP_FAILED) {
        load_fail(err, path, CN_ERR_IO, "cannot mmap: %s", g_strerror(errno));
        return NULL;
    }
    model_file_header h;
    memcpy(&h, map, sizeof h);
    if (!header_check(&h, size, path, err)) {
        munmap(map, size);
        return NULL;
    }
    madvise(map, size, MADV_SEQUENTIAL);

    const guchar *payload = (const guchar *)map + MODEL_HEADER_SIZE;
    GChecksum *ck = g_checksum_new(G_CHECKSUM_SHA256);
    /* g_checksum_update takes a gssize: feed it in bounded pieces */
    for (uint64_t off = 0; off < h.payload_bytes; off += 1u << 30) {
        uint64_t len = h.payload_bytes - off < (1u << 30) ? h.payload_bytes - off : (1u << 30);
        g_checksum_update(ck, payload + off, (gssize)len);
    }
    uint8_t digest[32];
    gsize dlen = sizeof digest;
    g_checksum_get_digest(ck, digest, &dlen);
    g_checksum_free(ck);
    if (memcmp(digest, h.sha256, 32)) {
        load_fail(err, path, CN_ERR_CHECKSUM, "payload does not match its SHA-256 (corrupted file)");
        munmap(map, size);
        return NULL;
    }

    model *m = g_new0(model, 1);
    m->path = g_strdup(path);
    m->config = h.config;
    m->type = resolve_type(type);
    /* the payload sits at offset 256 of a page-aligned mapping: float-aligned */
    gboolean ok = build_weights(m, (const float *)(const void *)payload, (size_t)h.param_count);
    munmap(map, size); /* everything needed is copied: the file's pages leave our RSS */
    if (!ok) {
        load_fail(err, path, CN_ERR_IO, "out of memory for the weights");
        model_free(m);
        return NULL;
    }
    return m;
}

model *model_load(const char *path, GError **err)
{
    return model_load_as(path, MODEL_WEIGHTS_AUTO, err);
}

void model_free(model *m)
{
    if (!m) return;
    free(m->block);
    g_free(m->norms);
    g_free(m->path);
    g_free(m);
}

const model_config *model_get_config(const model *m) { return &m->config; }
model_weight_type model_get_weight_type(const model *m) { return m->type; }
const float *model_get_f32_params(const model *m)
{
    /* build_weights copied the whole payload, in file order, into block */
    return m->type == MODEL_WEIGHTS_F32 ? (const float *)m->block : NULL;
}
