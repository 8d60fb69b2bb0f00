/* events.h — the timed MIDI event, the one currency between hosts, files,
 * the tokenizer and the session.
 *
 * Times are absolute, in seconds, as double (a day is 86400 s; double keeps
 * sub-microsecond resolution for years). Hosts convert frames <-> seconds at
 * their edge; the engine never reads a wall clock.
 *
 * Lists of events are GLib GArrays of cn_event (g_array_new(FALSE, FALSE,
 * sizeof(cn_event))), kept in time order; equal times keep insertion order. */
#ifndef CONTINUO_EVENTS_H
#define CONTINUO_EVENTS_H

#include <stdint.h>
#include <glib.h>

typedef enum {
    CN_EV_NOTE_ON = 1,  /* a = pitch 0..127, b = velocity 1..127 */
    CN_EV_NOTE_OFF = 2, /* a = pitch, b = release velocity (ignored) */
    CN_EV_CC = 3,       /* a = controller 0..127, b = value 0..127 (CC64 = sustain) */
    CN_EV_PROGRAM = 4,  /* a = program 0..127 */
} cn_event_type;

typedef struct {
    double time;     /* seconds, absolute */
    uint8_t type;    /* cn_event_type */
    uint8_t channel; /* 0..15 */
    uint8_t a, b;
} cn_event;

#define CN_CC_SUSTAIN 64
#define CN_CC_ALL_SOUND_OFF 120
#define CN_CC_ALL_NOTES_OFF 123

static inline GArray *cn_events_new(void)
{
    return g_array_new(FALSE, FALSE, sizeof(cn_event));
}

/* A short name of a cn_event_type for text listings: "on", "off", "cc",
 * "pc"; "?" for any other value. */
const char *cn_event_type_name(uint8_t type);

/* Stable sort by time (insertion order kept for equal times). */
void cn_events_sort(GArray *events);

#endif
