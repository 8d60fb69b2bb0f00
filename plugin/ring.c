/* ring.c — the lock-free SPSC ring (see ring.h for why and the rules).
 *
 * head and tail are free-running item counters (never wrapped; size_t does
 * not overflow in practice: 2^64 items), masked on access. The writer owns
 * tail, the reader owns head; each publishes its counter with a release store
 * after touching the slots and reads the other's with an acquire load, so a
 * reader never sees a slot before its bytes are written. */
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include "ring.h"

struct ring {
    _Alignas(64) atomic_size_t tail; /* items written (writer) */
    _Alignas(64) atomic_size_t head; /* items read (reader) */
    _Alignas(64) size_t mask;        /* capacity - 1 */
    size_t item_size;                /* bytes */
    unsigned char *buf;              /* capacity * item_size bytes */
    size_t bytes;
    bool locked;
};

ring *ring_new(size_t item_size, size_t min_items)
{
    if (item_size == 0 || min_items == 0) return NULL;
    size_t cap = 1;
    while (cap < min_items) cap <<= 1;
    ring *r = aligned_alloc(64, sizeof *r);
    if (!r) return NULL;
    memset(r, 0, sizeof *r);
    r->bytes = cap * item_size;
    r->buf = malloc(r->bytes);
    if (!r->buf) {
        free(r);
        return NULL;
    }
    memset(r->buf, 0, r->bytes); /* touch every page now, not in the RT thread */
    r->locked = mlock(r->buf, r->bytes) == 0 && mlock(r, sizeof *r) == 0;
    r->mask = cap - 1;
    r->item_size = item_size;
    atomic_init(&r->head, 0);
    atomic_init(&r->tail, 0);
    return r;
}

void ring_free(ring *r)
{
    if (!r) return;
    if (r->locked) {
        munlock(r->buf, r->bytes);
        munlock(r, sizeof *r);
    }
    free(r->buf);
    free(r);
}

size_t ring_capacity(const ring *r) { return r->mask + 1; }

size_t ring_count(const ring *r)
{
    size_t tail = atomic_load_explicit(&((ring *)r)->tail, memory_order_acquire);
    size_t head = atomic_load_explicit(&((ring *)r)->head, memory_order_relaxed);
    return tail - head;
}

size_t ring_space(const ring *r)
{
    size_t head = atomic_load_explicit(&((ring *)r)->head, memory_order_acquire);
    size_t tail = atomic_load_explicit(&((ring *)r)->tail, memory_order_relaxed);
    return r->mask + 1 - (tail - head);
}

/* Copies n items between the ring slot `index` onwards and flat memory,
 * splitting at the wrap. to_ring selects the direction. */
static void ring_copy(const ring *r, size_t index, void *flat, size_t n, bool to_ring)
{
    size_t cap = r->mask + 1, at = index & r->mask;
    size_t first = n < cap - at ? n : cap - at;
    unsigned char *slot = r->buf + at * r->item_size, *mem = flat;
    if (to_ring) {
        memcpy(slot, mem, first * r->item_size);
        memcpy(r->buf, mem + first * r->item_size, (n - first) * r->item_size);
    } else {
        memcpy(mem, slot, first * r->item_size);
        memcpy(mem + first * r->item_size, r->buf, (n - first) * r->item_size);
    }
}

size_t ring_write(ring *r, const void *items, size_t n)
{
    size_t tail = atomic_load_explicit(&r->tail, memory_order_relaxed);
    size_t head = atomic_load_explicit(&r->head, memory_order_acquire);
    size_t space = r->mask + 1 - (tail - head);
    if (n > space) n = space;
    if (n == 0) return 0;
    ring_copy(r, tail, (void *)items, n, true);
    atomic_store_explicit(&r->tail, tail + n, memory_order_release);
    return n;
}

bool ring_push(ring *r, const void *item) { return ring_write(r, item, 1) == 1; }

static size_t ring_read_impl(ring *r, void *items, size_t n, bool consume)
{
    size_t head = atomic_load_explicit(&r->head, memory_order_relaxed);
    size_t tail = atomic_load_explicit(&r->tail, memory_order_acquire);
    size_t avail = tail - head;
    if (n > avail) n = avail;
    if (n == 0) return 0;
    ring_copy(r, head, items, n, false);
    if (consume) atomic_store_explicit(&r->head, head + n, memory_order_release);
    return n;
}

size_t ring_read(ring *r, void *items, size_t n) { return ring_read_impl(r, items, n, true); }
bool ring_pop(ring *r, void *item) { return ring_read_impl(r, item, 1, true) == 1; }
bool ring_peek(const ring *r, void *item) { return ring_read_impl((ring *)r, item, 1, false) == 1; }
