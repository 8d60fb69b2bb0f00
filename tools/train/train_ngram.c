/* train_ngram.c — interpolated Kneser-Ney n-gram model (see train_ngram.h),
 * counts in small open-addressing hash tables keyed by packed n-grams. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <glib.h>
#include "train_ngram.h"
#include "token.h"

#define MAX_ORDER 6
#define PAD_SYM 1023u /* left padding before a document: outside every vocabulary */
#define TOK_BITS 10
#define KEY_USED (1ULL << 63) /* keys are never 0, the empty-slot marker */

/* ---- hash table: uint64 key -> uint32 value ------------------------------ */

typedef struct {
    uint64_t *keys;
    uint32_t *vals;
    size_t cap, n; /* cap: power of two */
} htab;

static uint64_t hmix(uint64_t k)
{
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdULL;
    k ^= k >> 33;
    k *= 0xc4ceb9fe1a85ec53ULL;
    return k ^ (k >> 33);
}

static void htab_init(htab *h, size_t cap)
{
    h->cap = cap;
    h->n = 0;
    h->keys = g_new0(uint64_t, cap);
    h->vals = g_new0(uint32_t, cap);
}

static void htab_free(htab *h)
{
    g_free(h->keys);
    g_free(h->vals);
}

static size_t htab_slot(const htab *h, uint64_t key)
{
    size_t i = hmix(key) & (h->cap - 1);
    while (h->keys[i] && h->keys[i] != key) i = (i + 1) & (h->cap - 1);
    return i;
}

static void htab_add(htab *h, uint64_t key, uint32_t delta)
{
    key |= KEY_USED;
    if (2 * (h->n + 1) > h->cap) { /* keep the load under 1/2 */
        htab old = *h;
        htab_init(h, old.cap * 2);
        for (size_t i = 0; i < old.cap; i++)
            if (old.keys[i]) {
                size_t j = htab_slot(h, old.keys[i]);
                h->keys[j] = old.keys[i];
                h->vals[j] = old.vals[i];
                h->n++;
            }
        htab_free(&old);
    }
    size_t i = htab_slot(h, key);
    if (!h->keys[i]) {
        h->keys[i] = key;
        h->n++;
    }
    h->vals[i] += delta;
}

static uint32_t htab_get(const htab *h, uint64_t key)
{
    size_t i = htab_slot(h, key | KEY_USED);
    return h->keys[i] ? h->vals[i] : 0;
}

/* ---- the model ------------------------------------------------------------ */

struct train_ngram {
    int order, vocab;
    htab cnt[MAX_ORDER + 1];   /* k-gram -> raw (k == order) or continuation count */
    htab ctx_sum[MAX_ORDER + 1];   /* (k-1)-gram context h -> sum_w cnt[k](h w) */
    htab ctx_types[MAX_ORDER + 1]; /* h -> N1+(h .) */
    double D[MAX_ORDER + 1];
};

/* Token j of the gram ending at doc[i] (j = 0 oldest .. k-1 = doc[i]), padded. */
static uint64_t pack_gram(const uint16_t *doc, size_t i, int k)
{
    uint64_t p = 0;
    for (int j = 0; j < k; j++) {
        long idx = (long)i - (k - 1) + j;
        uint64_t t = idx < 0 ? PAD_SYM : doc[idx];
        p |= t << (TOK_BITS * j);
    }
    return p;
}

static uint64_t ctx_of(uint64_t gram, int k)
{
    return k > 1 ? gram & ((1ULL << (TOK_BITS * (k - 1))) - 1) : 0;
}

train_ngram *train_ngram_new(const uint16_t *tok, size_t n, int order, int vocab)
{
    g_return_val_if_fail(order >= 1 && order <= MAX_ORDER && vocab <= (int)PAD_SYM, NULL);
    train_ngram *m = g_new0(train_ngram, 1);
    m->order = order;
    m->vocab = vocab;
    for (int k = 1; k <= order; k++) {
        htab_init(&m->cnt[k], 1024);
        htab_init(&m->ctx_sum[k], 1024);
        htab_init(&m->ctx_types[k], 1024);
    }
    /* raw counts of the highest order, document by document */
    size_t start = 0;
    for (size_t i = 0; i < n; i++) {
        if (tok[i] == TOK_BOS) {
            start = i;
            continue; /* BOS starts a document: never predicted */
        }
        htab_add(&m->cnt[order], pack_gram(tok + start, i - start, order), 1);
    }
    /* continuation counts: each distinct k-gram adds 1 to its (k-1)-suffix */
    for (int k = order; k >= 2; k--) {
        const htab *h = &m->cnt[k];
        for (size_t i = 0; i < h->cap; i++)
            if (h->keys[i]) htab_add(&m->cnt[k - 1], (h->keys[i] & ~KEY_USED) >> TOK_BITS, 1);
    }
    /* context totals, types and the discount of each order */
    for (int k = 1; k <= order; k++) {
        const htab *h = &m->cnt[k];
        double n1 = 0, n2 = 0;
        for (size_t i = 0; i < h->cap; i++) {
            if (!h->keys[i]) continue;
            uint64_t ctx = ctx_of(h->keys[i] & ~KEY_USED, k);
            uint32_t c = h->vals[i];
            htab_add(&m->ctx_sum[k], ctx, c);
            htab_add(&m->ctx_types[k], ctx, 1);
            n1 += c == 1;
            n2 += c == 2;
        }
        m->D[k] = n1 + 2 * n2 > 0 ? n1 / (n1 + 2 * n2) : 0.75;
        if (m->D[k] <= 0.0 || m->D[k] >= 1.0) m->D[k] = 0.75;
    }
    return m;
}

void train_ngram_free(train_ngram *m)
{
    if (!m) return;
    for (int k = 1; k <= m->order; k++) {
        htab_free(&m->cnt[k]);
        htab_free(&m->ctx_sum[k]);
        htab_free(&m->ctx_types[k]);
    }
    g_free(m);
}

double train_ngram_nll(const train_ngram *m, const uint16_t *doc, size_t i)
{
    double p = 1.0 / m->vocab;
    for (int k = 1; k <= m->order; k++) {
        uint64_t g = pack_gram(doc, i, k), h = ctx_of(g, k);
        uint32_t cs = htab_get(&m->ctx_sum[k], h);
        if (!cs) continue; /* unseen context: keep the lower order's estimate */
        double c = htab_get(&m->cnt[k], g), types = htab_get(&m->ctx_types[k], h);
        p = fmax(c - m->D[k], 0.0) / cs + m->D[k] * types / cs * p;
    }
    return -log(p);
}
