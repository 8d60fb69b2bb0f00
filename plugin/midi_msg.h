/* midi_msg.h — raw MIDI bytes <-> the fields of a cn_event, and the event
 * that crosses the RT boundary stamped in frames instead of seconds.
 *
 * All functions are inline, allocation-free and real-time safe. */
#ifndef CONTINUO_MIDI_MSG_H
#define CONTINUO_MIDI_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "events.h"

/* A cn_event as the JACK side sees it: `frame` is an absolute JACK frame
 * (64-bit, unwrapped: the low 32 bits equal jack_nframes_t frame times). */
typedef struct {
    uint64_t frame;
    uint8_t type;    /* cn_event_type */
    uint8_t channel; /* 0..15 */
    uint8_t a, b;
} rt_event;

/* A tempo sync item, RT thread -> worker (plugin/jack/jack_process.c): a MIDI
 * clock message heard on midi_in, or the JACK transport's position at a
 * cycle start. */
enum { RT_SYNC_CLOCK = 1, RT_SYNC_TRANSPORT = 2 };
typedef struct {
    uint64_t frame;       /* absolute frame at which it holds */
    uint8_t kind;         /* RT_SYNC_* */
    uint8_t byte;         /* clock: 0xF8 tick, 0xFA start, 0xFB continue, 0xFC stop, 0xF2 */
    uint16_t spp;         /* 0xF2 song position, in sixteenths */
    bool valid;           /* transport: BBT present (a timebase master runs) */
    bool rolling;         /* transport: rolling */
    int32_t bar;          /* transport: bar, 0-based */
    double bpm, beats_per_bar, bar_beat; /* transport; bar_beat 0-based, fractional */
} rt_sync;

/* MIDI clock messages: 0xF8/0xFA/0xFB/0xFC (one byte) and 0xF2 song
 * position (*spp in sixteenths). FALSE for anything else. */
static inline bool midi_msg_clock(const uint8_t *buf, size_t len, uint8_t *byte, uint16_t *spp)
{
    if (len < 1) return false;
    *spp = 0;
    switch (buf[0]) {
    case 0xf8: case 0xfa: case 0xfb: case 0xfc:
        *byte = buf[0];
        return true;
    case 0xf2:
        if (len < 3) return false;
        *byte = 0xf2;
        *spp = (uint16_t)((buf[1] & 0x7f) | ((buf[2] & 0x7f) << 7));
        return true;
    default:
        return false;
    }
}

/* Parses one short channel message (running status is not used by JACK).
 * Note-on with velocity 0 becomes NOTE_OFF. Returns false for anything not
 * representable as a cn_event (sysex, pitch bend, aftertouch, realtime). */
static inline bool midi_msg_parse(const uint8_t *buf, size_t len, uint8_t *type,
                                  uint8_t *channel, uint8_t *a, uint8_t *b)
{
    if (len < 2 || buf[0] < 0x80 || buf[0] >= 0xf0) return false;
    uint8_t kind = buf[0] & 0xf0;
    *channel = buf[0] & 0x0f;
    *a = buf[1] & 0x7f;
    *b = len >= 3 ? (buf[2] & 0x7f) : 0;
    switch (kind) {
    case 0x90:
        if (len < 3) return false;
        *type = *b ? CN_EV_NOTE_ON : CN_EV_NOTE_OFF;
        return true;
    case 0x80:
        if (len < 3) return false;
        *type = CN_EV_NOTE_OFF;
        return true;
    case 0xb0:
        if (len < 3) return false;
        *type = CN_EV_CC;
        return true;
    case 0xc0:
        *type = CN_EV_PROGRAM;
        *b = 0;
        return true;
    default:
        return false;
    }
}

/* Writes the message for an event into out[3]; returns its length (0 for an
 * unknown type). Note-offs are sent as 0x80 with velocity 64. */
static inline size_t midi_msg_encode(uint8_t type, uint8_t channel, uint8_t a, uint8_t b,
                                     uint8_t out[3])
{
    uint8_t ch = channel & 0x0f;
    switch (type) {
    case CN_EV_NOTE_ON: out[0] = 0x90 | ch; out[1] = a & 0x7f; out[2] = (b & 0x7f) ? (b & 0x7f) : 1; return 3;
    case CN_EV_NOTE_OFF: out[0] = 0x80 | ch; out[1] = a & 0x7f; out[2] = 64; return 3;
    case CN_EV_CC: out[0] = 0xb0 | ch; out[1] = a & 0x7f; out[2] = b & 0x7f; return 3;
    case CN_EV_PROGRAM: out[0] = 0xc0 | ch; out[1] = a & 0x7f; return 2;
    default: return 0;
    }
}

#endif
