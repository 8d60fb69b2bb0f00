/* rtqueue.c — the RT output queue and the split render (see rtqueue.h). */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include "rtqueue.h"

struct rtqueue {
    int n, cap;
    rt_event *ev; /* cap, sorted by frame, equal frames in arrival order */
};

rtqueue *rtqueue_new(int capacity)
{
    rtqueue *q = calloc(1, sizeof *q);
    rt_event *ev = calloc((size_t)capacity, sizeof *ev);
    if (!q || !ev || capacity <= 0) {
        free(q);
        free(ev);
        return NULL;
    }
    /* touched by calloc's zeroing; locked where allowed: no page fault in RT */
    memset(ev, 0, (size_t)capacity * sizeof *ev);
    (void)mlock(ev, (size_t)capacity * sizeof *ev);
    (void)mlock(q, sizeof *q);
    q->cap = capacity;
    q->ev = ev;
    return q;
}

void rtqueue_free(rtqueue *q)
{
    if (!q) return;
    free(q->ev);
    free(q);
}

bool rtqueue_insert(rtqueue *q, const rt_event *ev)
{
    if (q->n >= q->cap) return false;
    int i = q->n;
    while (i > 0 && q->ev[i - 1].frame > ev->frame) {
        q->ev[i] = q->ev[i - 1];
        i--;
    }
    q->ev[i] = *ev;
    q->n++;
    return true;
}

int rtqueue_count(const rtqueue *q) { return q->n; }
bool rtqueue_full(const rtqueue *q) { return q->n >= q->cap; }
void rtqueue_clear(rtqueue *q) { q->n = 0; }

int rtqueue_take_due(rtqueue *q, uint64_t cycle, uint64_t until, rtqueue_emit emit, void *arg)
{
    int k = 0;
    for (; k < q->n && q->ev[k].frame < until; k++) {
        const rt_event *e = &q->ev[k];
        bool late = e->frame < cycle;
        emit(arg, e, late ? 0 : (uint32_t)(e->frame - cycle), late ? cycle - e->frame : 0);
    }
    if (k > 0) {
        memmove(q->ev, q->ev + k, (size_t)(q->n - k) * sizeof *q->ev);
        q->n -= k;
    }
    return k;
}

void rt_render_split(const rt_slot *a, int na, const rt_slot *b, int nb, uint32_t nframes,
                     void (*render)(void *arg, uint32_t from, uint32_t frames),
                     void (*event)(void *arg, const rt_slot *s), void *arg)
{
    uint32_t done = 0;
    int ia = 0, ib = 0;
    while (ia < na || ib < nb) {
        const rt_slot *s = (ib >= nb || (ia < na && a[ia].offset <= b[ib].offset)) ? &a[ia++]
                                                                                 : &b[ib++];
        uint32_t at = s->offset < nframes ? s->offset : nframes;
        if (at > done) {
            render(arg, done, at - done);
            done = at;
        }
        event(arg, s);
    }
    if (done < nframes) render(arg, done, nframes - done);
}

typedef struct {
    synth *syn;
    float *l, *r;
} synth_target;

static void synth_slice(void *arg, uint32_t from, uint32_t frames)
{
    synth_target *t = arg;
    synth_render(t->syn, t->l + from, t->r + from, (int)frames);
}

static void synth_slot_event(void *arg, const rt_slot *s)
{
    synth_target *t = arg;
    cn_event ev = {0, s->type, s->channel, s->a, s->b};
    synth_event(t->syn, &ev);
}

void rt_render_synth(synth *syn, float *l, float *r, uint32_t nframes, const rt_slot *a, int na,
                     const rt_slot *b, int nb)
{
    synth_target t = {syn, l, r};
    rt_render_split(a, na, b, nb, nframes, synth_slice, synth_slot_event, &t);
}
