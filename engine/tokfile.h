/* tokfile.h — token files written by continuo-mkdata, read by the trainer
 * and continuo-eval.
 *
 * Layout (little-endian):
 *   offset 0   char[8]  magic "CNTNTOK1"
 *          8   uint32   version (1)
 *          12  uint32   vocab_id (1: token.h, 2: token_v2.h)
 *          16  uint64   n_tokens
 *          24  uint32   n_docs (documents; each starts with a BOS token)
 *          28  uint32   reserved (0)
 *          32  uint16   tokens[n_tokens]
 * The file size must be exactly 32 + 2 * n_tokens. */
#ifndef CONTINUO_TOKFILE_H
#define CONTINUO_TOKFILE_H

#include <stdint.h>
#include <stddef.h>
#include <glib.h>

#define TOKFILE_MAGIC "CNTNTOK1"
#define TOKFILE_VERSION 1
#define TOKFILE_HEADER_SIZE 32

typedef struct {
    uint16_t *tokens; /* n_tokens (mmapped, read-only) */
    size_t n_tokens;
    uint32_t n_docs;
    uint32_t vocab_id;
    void *map;        /* private */
    size_t map_size;  /* private */
} tokfile;

/* Open and validate (magic, version, a known vocabulary id, size, every
 * token < that vocabulary's size, tok_vocab_size). */
gboolean tokfile_open(tokfile *tf, const char *path, GError **err);
void tokfile_close(tokfile *tf);
/* Write n tokens (documents already separated by BOS) of vocabulary
 * vocab_id; tokfile_write writes vocabulary 1. */
gboolean tokfile_write_vocab(const char *path, const uint16_t *tokens, size_t n, uint32_t n_docs,
                             uint32_t vocab_id, GError **err);
gboolean tokfile_write(const char *path, const uint16_t *tokens, size_t n, uint32_t n_docs,
                       GError **err);

#endif
