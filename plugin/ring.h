/* ring.h — lock-free single-reader / single-writer ring of fixed-size items.
 *
 * Carries stamped MIDI events between the JACK process thread and the worker
 * (one ring each way) and audio frames from the process thread to the WAV
 * writer. One thread only writes, one thread only reads; neither ever waits.
 *
 * Why not jack_ringbuffer: it moves bytes, so every typed item needs a
 * space check plus one or two copies that may straddle the wrap, and it is
 * tied to libjack while the same ring also serves non-JACK code (tests, the
 * offline tools). This one stores whole items (capacity a power of two) with
 * C11 acquire/release indices, which is all a SPSC queue needs.
 *
 * Real-time safety: ring_new / ring_free allocate (setup only); every other
 * function is wait-free, allocation-free and RT safe. */
#ifndef CONTINUO_RING_H
#define CONTINUO_RING_H

#include <stdbool.h>
#include <stddef.h>

typedef struct ring ring;

/* A ring holding at least `min_items` items of `item_size` bytes each. The
 * storage is zeroed (touched) and, where the system allows, locked in RAM so
 * the RT thread takes no page fault on first use. NULL when out of memory. */
ring *ring_new(size_t item_size, size_t min_items);
void ring_free(ring *r);

size_t ring_capacity(const ring *r); /* items */
size_t ring_count(const ring *r);    /* items ready to read (reader's view) */
size_t ring_space(const ring *r);    /* items that can be written (writer's view) */

/* Writer side: copies one item in; false (nothing written) when full. */
bool ring_push(ring *r, const void *item);
/* Writer side: copies up to n items in; returns how many fit. */
size_t ring_write(ring *r, const void *items, size_t n);

/* Reader side: copies the oldest item out and removes it; false when empty. */
bool ring_pop(ring *r, void *item);
/* Reader side: copies the oldest item out, leaves it in place. */
bool ring_peek(const ring *r, void *item);
/* Reader side: copies up to n items out and removes them; returns how many. */
size_t ring_read(ring *r, void *items, size_t n);

#endif
