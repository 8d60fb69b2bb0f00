/* events.c — helpers on GArrays of cn_event. */
#include "events.h"

static gint cmp_time(gconstpointer a, gconstpointer b, gpointer unused)
{
    (void)unused;
    const cn_event *x = a, *y = b;
    return (x->time > y->time) - (x->time < y->time);
}

void cn_events_sort(GArray *events)
{
    /* g_qsort_with_data is documented stable (GLib >= 2.32): equal times keep
     * their order, so a note-off written before a note-on at the same time stays so. */
    g_qsort_with_data(events->data, (gint)events->len, sizeof(cn_event), cmp_time, NULL);
}

const char *cn_event_type_name(uint8_t type)
{
    switch (type) {
    case CN_EV_NOTE_ON: return "on";
    case CN_EV_NOTE_OFF: return "off";
    case CN_EV_CC: return "cc";
    case CN_EV_PROGRAM: return "pc";
    default: return "?";
    }
}
