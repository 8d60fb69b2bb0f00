/* cmd_info.c — `continuo info MODEL`: load a weights file with full
 * validation (model_load checks every header field and the SHA-256) and
 * print its header. Exit 0 when the file is valid, 1 when not, 2 on usage. */
#include <stdio.h>
#include <string.h>
#include "commands.h"
#include "model.h"
#include "token.h"
#include "token_v2.h"

static const char *vocab_name(int id)
{
    return id == TOK_VOCAB_ID    ? "performance v1"
           : id == TOK2_VOCAB_ID ? "performance v2: performer/model roles, density/dynamics controls"
                                 : "unknown";
}

int cmd_info(int argc, char **argv)
{
    if (argc != 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        fprintf(argc == 2 ? stdout : stderr, "usage: continuo info MODEL\n"
                "  prints a weights file's header after checking it and its SHA-256\n");
        return argc == 2 ? 0 : 2;
    }
    const char *path = argv[1];
    GError *err = NULL;
    model *m = model_load(path, &err);
    if (!m) {
        fprintf(stderr, "continuo info: %s\n", err->message);
        g_error_free(err);
        return 1;
    }
    /* the header once more, for the fields the engine API does not expose */
    model_file_header h;
    FILE *f = fopen(path, "rb");
    gboolean got = f && fread(&h, sizeof h, 1, f) == 1;
    if (f) fclose(f);
    const model_config *c = model_get_config(m);
    printf("file: %s\n", path);
    printf("format: version %u, dtype float32\n", got ? h.version : MODEL_VERSION);
    printf("vocabulary: %d (%s)\n", c->vocab_id, vocab_name(c->vocab_id));
    printf("dim: %d\n", c->dim);
    printf("layers: %d\n", c->n_layers);
    printf("heads: %d (head_dim %d)\n", c->n_heads, c->dim / c->n_heads);
    printf("hidden_dim: %d\n", c->hidden_dim);
    printf("vocab_size: %d\n", c->vocab_size);
    printf("context: %d tokens\n", c->seq_len);
    printf("output head: %s\n", c->tied ? "tied to the token embedding" : "separate");
    printf("rope_theta: %g\n", c->rope_theta);
    printf("parameters: %zu\n", model_param_count(c));
    printf("size: %zu bytes (%.1f MB)\n", MODEL_HEADER_SIZE + model_param_count(c) * sizeof(float),
           (MODEL_HEADER_SIZE + model_param_count(c) * sizeof(float)) / 1e6);
    printf("checksum: ok");
    if (got) {
        printf(" (sha256 ");
        for (int i = 0; i < 32; i++) printf("%02x", h.sha256[i]);
        printf(")");
    }
    printf("\n");
    if (!tok_vocab_size(c->vocab_id))
        fprintf(stderr, "continuo info: %s: vocabulary id %d is not one this build knows\n", path,
                c->vocab_id);
    model_free(m);
    return 0;
}
