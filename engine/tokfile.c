/* tokfile.c — read (mmap) and write token files; layout in tokfile.h. */
#include <stdio.h>
#include <string.h>
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include "tokfile.h"
#include "token_v2.h"
#include "error.h"

typedef struct {
    char magic[8];
    uint32_t version;
    uint32_t vocab_id;
    uint64_t n_tokens;
    uint32_t n_docs;
    uint32_t reserved;
} tokfile_header;
G_STATIC_ASSERT(sizeof(tokfile_header) == TOKFILE_HEADER_SIZE);

gboolean tokfile_open(tokfile *tf, const char *path, GError **err)
{
    memset(tf, 0, sizeof *tf);
    int fd = open(path, O_RDONLY);
    if (fd < 0) {
        g_set_error(err, CN_ERROR, CN_ERR_IO, "%s: %s", path, g_strerror(errno));
        return FALSE;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || st.st_size < TOKFILE_HEADER_SIZE) {
        g_set_error(err, CN_ERROR, CN_ERR_TRUNCATED, "%s: too short for a token file header",
                    path);
        close(fd);
        return FALSE;
    }
    void *map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (map == MAP_FAILED) {
        g_set_error(err, CN_ERROR, CN_ERR_IO, "%s: mmap: %s", path, g_strerror(errno));
        return FALSE;
    }
    tokfile_header h;
    memcpy(&h, map, sizeof h);
    const char *why = NULL;
    int code = CN_ERR_FORMAT;
    if (memcmp(h.magic, TOKFILE_MAGIC, 8)) why = "not a continuo token file (bad magic)";
    else if (h.version != TOKFILE_VERSION) { why = "unsupported token file version"; code = CN_ERR_VERSION; }
    else if (!tok_vocab_size((int)h.vocab_id)) { why = "foreign vocabulary id"; code = CN_ERR_UNSUPPORTED; }
    else if (h.n_tokens > ((uint64_t)st.st_size - TOKFILE_HEADER_SIZE) / 2) {
        why = "file shorter than its token count"; code = CN_ERR_TRUNCATED;
    } else if ((uint64_t)st.st_size != TOKFILE_HEADER_SIZE + 2 * h.n_tokens)
        why = "trailing bytes after the tokens";
    if (!why) {
        const uint16_t *t = (const uint16_t *)((const char *)map + TOKFILE_HEADER_SIZE);
        int size = tok_vocab_size((int)h.vocab_id);
        for (uint64_t i = 0; i < h.n_tokens; i++)
            if (t[i] >= size) { why = "token id out of the vocabulary"; break; }
    }
    if (why) {
        g_set_error(err, CN_ERROR, code, "%s: %s", path, why);
        munmap(map, (size_t)st.st_size);
        return FALSE;
    }
    tf->map = map;
    tf->map_size = (size_t)st.st_size;
    tf->tokens = (uint16_t *)((char *)map + TOKFILE_HEADER_SIZE);
    tf->n_tokens = h.n_tokens;
    tf->n_docs = h.n_docs;
    tf->vocab_id = h.vocab_id;
    return TRUE;
}

void tokfile_close(tokfile *tf)
{
    if (tf->map) munmap(tf->map, tf->map_size);
    memset(tf, 0, sizeof *tf);
}

gboolean tokfile_write(const char *path, const uint16_t *tokens, size_t n, uint32_t n_docs,
                       GError **err)
{
    return tokfile_write_vocab(path, tokens, n, n_docs, TOK_VOCAB_ID, err);
}

gboolean tokfile_write_vocab(const char *path, const uint16_t *tokens, size_t n, uint32_t n_docs,
                             uint32_t vocab_id, GError **err)
{
    tokfile_header h = {.version = TOKFILE_VERSION, .vocab_id = vocab_id,
                        .n_tokens = n, .n_docs = n_docs};
    memcpy(h.magic, TOKFILE_MAGIC, 8);
    char *tmp = g_strdup_printf("%s.tmp", path);
    FILE *f = fopen(tmp, "wb");
    gboolean ok = f && fwrite(&h, sizeof h, 1, f) == 1 && fwrite(tokens, 2, n, f) == n;
    if (f) ok = (fclose(f) == 0) && ok;
    if (ok) ok = rename(tmp, path) == 0;
    if (!ok) {
        g_set_error(err, CN_ERROR, CN_ERR_IO, "%s: cannot write: %s", path, g_strerror(errno));
        remove(tmp);
    }
    g_free(tmp);
    return ok;
}
