/* rtqueue.h — the RT output queue of the JACK client (plugin/jack) and the
 * LV2 plugin (plugin/lv2): the model's events handed over by the worker
 * (through a ring), held sorted by frame until their cycle, taken out in
 * order when due (x42 mididelay style: offset = frame - cycle start, 0 and
 * counted late when the frame has passed), and the synth rendered in slices
 * split at those events' offsets.
 *
 * REAL-TIME SAFE: rtqueue_insert, rtqueue_take_due, rtqueue_clear,
 * rtqueue_count, rt_render_split and rt_render_synth allocate nothing, take
 * no lock and do no I/O (the queue is allocated, touched and locked in
 * memory by rtqueue_new). rtqueue_new and rtqueue_free are setup code.
 * One thread (the RT thread) uses a queue. */
#ifndef CONTINUO_RTQUEUE_H
#define CONTINUO_RTQUEUE_H

#include <stdbool.h>
#include <stdint.h>
#include "midi_msg.h"
#include "synth.h"

typedef struct rtqueue rtqueue;

/* Room for `capacity` events. NULL when out of memory. Not RT safe. */
rtqueue *rtqueue_new(int capacity);
void rtqueue_free(rtqueue *q);

/* Inserts after every event of equal or earlier frame (equal frames keep
 * the worker's order). false when full. RT safe. */
bool rtqueue_insert(rtqueue *q, const rt_event *ev);
int rtqueue_count(const rtqueue *q);
bool rtqueue_full(const rtqueue *q);
/* Forgets every event held. RT safe. */
void rtqueue_clear(rtqueue *q);

/* Called for each event taken: its offset in the cycle (0 when late) and how
 * late it is (frames before the cycle start; 0 when on time). */
typedef void (*rtqueue_emit)(void *arg, const rt_event *ev, uint32_t offset, uint64_t late_by);

/* Takes the events with frame < until, in frame order, calling emit for
 * each; `cycle` is the first frame of the cycle (offsets are from it).
 * Returns how many. RT safe (emit must be too). */
int rtqueue_take_due(rtqueue *q, uint64_t cycle, uint64_t until, rtqueue_emit emit, void *arg);

/* ---- rendering split at event offsets ----------------------------------- */

/* An event inside one cycle, `offset` frames from its start. */
typedef struct {
    uint32_t offset;
    uint8_t type, channel, a, b; /* cn_event fields */
} rt_slot;

/* Renders [0, nframes) in slices: render(arg, from, frames) up to each
 * event's offset, then event(arg, slot); the two lists are each sorted by
 * offset and merged (a's first at equal offsets); offsets past nframes
 * apply at the end. RT safe (the callbacks must be too). */
void rt_render_split(const rt_slot *a, int na, const rt_slot *b, int nb, uint32_t nframes,
                     void (*render)(void *arg, uint32_t from, uint32_t frames),
                     void (*event)(void *arg, const rt_slot *s), void *arg);

/* rt_render_split into a synth: synth_render into l/r, synth_event. RT safe. */
void rt_render_synth(synth *syn, float *l, float *r, uint32_t nframes, const rt_slot *a, int na,
                     const rt_slot *b, int nb);

#endif
