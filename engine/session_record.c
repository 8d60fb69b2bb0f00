/* session_record.c — the jam's recording: every event input or released
 * (appended by session_input and session_take_due), trimmed from the front
 * by a rotating recorder, and written to a Standard MIDI File that never
 * leaves a note hanging. Not real-time safe. */
#include <math.h>
#include "session_internal.h"
#include "midifile.h"

const GArray *session_recording(const session *s) { return s->rec; }

void session_recording_drop(session *s, guint n)
{
    g_array_remove_range(s->rec, 0, MIN(n, s->rec->len));
}

gboolean session_save_recording(const session *s, const char *path, double now, GError **err)
{
    const GArray *rec = session_recording(s);
    GArray *ev = cn_events_new();
    g_array_append_vals(ev, rec->data, rec->len);
    cn_events_sort(ev);
    /* What is still down at the end: note-ons minus note-offs per (channel,
     * pitch) (a repeated note-on counts twice), and sustain pedals. */
    guint16 down[16][128] = {{0}};
    bool pedal[16] = {false};
    double end = isfinite(now) ? now : 0.0;
    for (guint i = 0; i < ev->len; i++) {
        const cn_event *e = &g_array_index(ev, cn_event, i);
        int c = e->channel & 15, p = e->a & 127;
        if (e->time > end) end = e->time;
        if (e->type == CN_EV_NOTE_ON && e->b > 0) down[c][p]++;
        else if ((e->type == CN_EV_NOTE_ON || e->type == CN_EV_NOTE_OFF) && down[c][p]) down[c][p]--;
        else if (e->type == CN_EV_CC && e->a == CN_CC_SUSTAIN) pedal[c] = e->b >= 64;
    }
    for (int c = 0; c < 16; c++) {
        for (int p = 0; p < 128; p++)
            for (; down[c][p]; down[c][p]--) {
                cn_event off = {.time = end, .type = CN_EV_NOTE_OFF, .channel = (uint8_t)c,
                                .a = (uint8_t)p, .b = 0};
                g_array_append_val(ev, off);
            }
        if (pedal[c]) {
            cn_event up = {.time = end, .type = CN_EV_CC, .channel = (uint8_t)c,
                           .a = CN_CC_SUSTAIN, .b = 0};
            g_array_append_val(ev, up);
        }
    }
    gboolean ok = midifile_save(path, ev, TRUE, err);
    g_array_free(ev, TRUE);
    return ok;
}
