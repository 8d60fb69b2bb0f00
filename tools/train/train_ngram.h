/* train_ngram.h — the n-gram baseline of continuo-eval: interpolated
 * Kneser-Ney (Chen & Goodman 1998, one absolute discount per order,
 * D = n1 / (n1 + 2 n2) from that order's count-of-counts).
 *
 *   P_k(w | h) = max(c_k(h w) - D_k, 0) / c_k(h)
 *                + D_k * N1+(h .) / c_k(h) * P_{k-1}(w | h')     when c_k(h) > 0
 *              = P_{k-1}(w | h')                                  otherwise
 *   P_0(w) = 1 / vocab
 * c_k is the raw count at the highest order and the continuation count
 * N1+(. h w) (distinct left neighbours) below it; h' drops h's oldest token.
 * Contexts never cross a document start: each document (starting with BOS) is
 * left-padded with order-1 pad symbols, as n-gram toolkits do with <s>.
 * Not real-time safe (allocates). */
#ifndef CONTINUO_TRAIN_NGRAM_H
#define CONTINUO_TRAIN_NGRAM_H

#include <stdint.h>
#include <stddef.h>

typedef struct train_ngram train_ngram;

/* Counts every token of tok (n tokens, documents starting with BOS; the BOS
 * tokens themselves are contexts, never predicted). order 1..6, vocab <= 511. */
train_ngram *train_ngram_new(const uint16_t *tok, size_t n, int order, int vocab);
void train_ngram_free(train_ngram *m);
/* -ln P(doc[i] | the up to order-1 tokens before it in the document), where
 * doc points at the document's first token (its BOS) and 0 < i. */
double train_ngram_nll(const train_ngram *m, const uint16_t *doc, size_t i);

#endif
