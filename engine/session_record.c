/* session_record.c — the jam's recording: every event input or released
 * (appended by session_input and session_take_due), trimmed from the front
 * by a rotating recorder, and written to Standard MIDI Files that never
 * leave a note hanging. A Standard MIDI File we write holds at most
 * CN_SMF_MAX_SECONDS (10 h: our reader, smf_check.c, refuses longer ones), so
 * a longer recording is cut into parts of that length, the way the rotating
 * recorder cuts (rotate_held_*): PATH, then PATH-2, PATH-3 ... (before a .mid
 * suffix). Not real-time safe. */
#include <math.h>
#include <string.h>
#include "session_internal.h"
#include "error.h"
#include "midifile.h"
#include "rotate.h"
#include "smf_check.h"

const GArray *session_recording(const session *s) { return s->rec; }

void session_recording_drop(session *s, guint n)
{
    g_array_remove_range(s->rec, 0, MIN(n, s->rec->len));
}

/* PATH for part 1, PATH-K (before a ".mid" suffix, any case) for part K. */
static char *part_path(const char *path, guint k)
{
    if (k <= 1) return g_strdup(path);
    size_t n = strlen(path);
    size_t stem = n >= 4 && g_ascii_strcasecmp(path + n - 4, ".mid") == 0 ? n - 4 : n;
    return g_strdup_printf("%.*s-%u%s", (int)stem, path, k, path + stem);
}

/* Part k of the sorted events [from, to), which lie in [start, start + len):
 * what part k-1 left held struck at 0, times made relative to start, what is
 * still held ended at `end` - start. *held carries on to the next part. */
static GArray *part_events(const GArray *ev, guint from, guint to, double start, double end,
                           rotate_held *held)
{
    GArray *out = cn_events_new();
    rotate_held_strike(held, 0.0, out);
    for (guint i = from; i < to; i++) {
        cn_event e = g_array_index(ev, cn_event, i);
        e.time = MAX(e.time - start, 0.0);
        g_array_append_val(out, e);
    }
    rotate_held_scan(held, ev, from, to);
    rotate_held_end(held, end - start, out);
    return out;
}

gboolean session_save_recording(const session *s, const char *path, double now, GError **err)
{
    GArray *ev = cn_events_new();
    g_array_append_vals(ev, s->rec->data, s->rec->len);
    cn_events_sort(ev);
    double end = isfinite(now) ? MAX(now, 0.0) : 0.0;
    if (ev->len) end = MAX(end, g_array_index(ev, cn_event, ev->len - 1).time);
    const double len = CN_SMF_MAX_SECONDS;
    guint parts = end > len ? (guint)ceil(end / len) : 1;
    rotate_held held = {0};
    GString *failed = g_string_new(NULL), *written = g_string_new(NULL);
    guint from = 0, n_written = 0;
    for (guint k = 1; k <= parts; k++) {
        double start = (k - 1) * len, stop = k == parts ? end : k * len;
        guint to = from;
        while (to < ev->len && (k == parts || g_array_index(ev, cn_event, to).time < stop)) to++;
        GArray *part = part_events(ev, from, to, start, stop, &held);
        char *p = part_path(path, k);
        GError *perr = NULL;
        if (part->len == 0 && k > 1) {
            /* a silent stretch past the last event: nothing to keep */
        } else if (midifile_save(p, part, TRUE, &perr)) {
            g_string_append_printf(written, "%s%s", n_written++ ? ", " : "", p);
        } else {
            g_string_append_printf(failed, "%s%s", failed->len ? "; " : "", perr->message);
            g_clear_error(&perr);
        }
        g_free(p);
        g_array_free(part, TRUE);
        from = to;
    }
    if (parts > 1 && n_written > 0 && failed->len == 0)
        g_printerr("recording: %.0f s is longer than the %.0f h one MIDI file holds: written as "
                   "%u files: %s\n", end, len / 3600, n_written, written->str);
    gboolean ok = failed->len == 0;
    if (!ok)
        g_set_error(err, CN_ERROR, CN_ERR_IO, "%s%s%s", failed->str,
                    n_written ? "; written: " : "; nothing written", written->str);
    g_string_free(failed, TRUE);
    g_string_free(written, TRUE);
    g_array_free(ev, TRUE);
    return ok;
}
