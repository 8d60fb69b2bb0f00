/* midifile.c — Standard MIDI Files <-> time-sorted GArrays of cn_event.
 *
 * Reading: the whole file is read into memory (at most CN_SMF_MAX_BYTES),
 * checked and walked by cn_smf_check (smf_check.c), and its ticks turned into
 * seconds through the file's tempo map. libsmf 1.3 is not used to read: it
 * aborts the process (failed asserts) on a track chunk longer than the file,
 * a track without End-Of-Track and a bad sysex length, and even on files a
 * checker passes it goes wrong: it reads a meta event's length as one byte (a
 * text or copyright event of 128 bytes or more derails it, and it silently
 * drops the rest of the track), and it reads past a tempo event shorter than
 * 3 bytes. The checker's walk already decodes every event, so it is the reader.
 *
 * Writing goes through libsmf (we build every event it sees, so none of the
 * above applies): format 1, 960 ticks per quarter note at a fixed 500000 us
 * per quarter note, so one tick is 1/1920 s (~0.52 ms). Ticks are computed
 * here by rounding (libsmf's smf_track_add_event_seconds truncates), so a
 * saved time is off by at most half a tick, 0.26 ms. libsmf logs through GLib
 * in the "libsmf" domain: while it runs, its messages are captured (never
 * printed) and the first one goes into the GError. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <smf.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <glib/gstdio.h>
#include "error.h"
#include "midifile.h"
#include "read_file.h"
#include "smf_check.h"

/* ---------------------------------------------------------------- reading */

/* cn_smf_check callback: keeps notes, CCs and program changes, with the tick
 * (exact in a double, ticks < 2^52) in .time until the tempo map is known. */
static void collect_event(const cn_smf_event *ev, void *user)
{
    GArray *out = user;
    if (ev->status >= 0xF0)
        return; /* meta, sysex */
    cn_event e = { .time = (double)ev->tick, .channel = ev->status & 0x0F, .a = ev->d1,
                   .b = ev->d2 };
    switch (ev->status & 0xF0) {
    case 0x80: e.type = CN_EV_NOTE_OFF; break;
    case 0x90: e.type = ev->d2 ? CN_EV_NOTE_ON : CN_EV_NOTE_OFF; break;
    case 0xB0: e.type = CN_EV_CC; break;
    case 0xC0: e.type = CN_EV_PROGRAM; e.b = 0; break;
    default: return; /* poly / channel pressure, pitch bend */
    }
    g_array_append_val(out, e);
}

GArray *midifile_load(const char *path, GError **err)
{
    size_t len = 0;
    uint8_t *buf = cn_read_file(path, CN_SMF_MAX_BYTES, &len, err);
    if (!buf)
        return NULL;
    GArray *events = cn_events_new();
    cn_smf_info info;
    gboolean ok = cn_smf_check(path, buf, len, collect_event, events, &info, err);
    g_free(buf);
    if (!ok) {
        g_array_free(events, TRUE);
        return NULL;
    }
    for (guint i = 0; i < events->len; i++) {
        cn_event *e = &g_array_index(events, cn_event, i);
        e->time = cn_smf_seconds(&info, (uint64_t)e->time);
    }
    cn_smf_info_clear(&info);
    cn_events_sort(events); /* merges the tracks; equal times keep file order */
    return events;
}

/* ---------------------------------------------------------------- writing */

#define SAVE_PPQN 960
#define SAVE_US_PER_QN 500000
#define SAVE_TICKS_PER_SECOND (SAVE_PPQN * 1e6 / SAVE_US_PER_QN) /* 1920 */

/* First message libsmf logged in this thread during the current save. A
 * thread-local, so that concurrent saves in several threads (each with its
 * handler installed) cannot mix up or race on each other's messages. */
static __thread char *smf_log_message;

static void smf_log_capture(const gchar *domain, GLogLevelFlags level, const gchar *message,
                            gpointer unused)
{
    (void)domain; (void)level; (void)unused;
    if (!smf_log_message)
        smf_log_message = g_strdup(message);
}

static const char *smf_log_text(void)
{
    return smf_log_message ? smf_log_message : "no detail";
}

static gboolean check_event(const char *name, guint i, const cn_event *e, GError **err)
{
    const char *bad = NULL;
    if (!isfinite(e->time) || e->time < 0 || e->time > CN_SMF_MAX_SECONDS)
        bad = "time outside 0 .. 36000 s";
    else if (e->type < CN_EV_NOTE_ON || e->type > CN_EV_PROGRAM)
        bad = "unknown type";
    else if (e->channel > 15)
        bad = "channel > 15";
    else if (e->a > 127 || (e->type != CN_EV_PROGRAM && e->b > 127))
        bad = "data byte > 127";
    if (!bad)
        return TRUE;
    g_set_error(err, CN_ERROR, CN_ERR_ARG,
                "%s: cannot save event %u (time %g s, type %d, channel %d, %d, %d): %s", name, i,
                e->time, e->type, e->channel, e->a, e->b, bad);
    return FALSE;
}

/* Builds the libsmf song: a conductor track with the tempo, then one track
 * (or one per used channel, in channel order) holding `sorted`. */
static smf_t *build_smf(const char *name, const GArray *sorted, gboolean split, GError **err)
{
    smf_t *smf = smf_new();
    if (!smf || smf_set_ppqn(smf, SAVE_PPQN) != 0)
        goto fail;
    smf_track_t *conductor = smf_track_new();
    if (!conductor)
        goto fail;
    smf_add_track(smf, conductor);
    uint8_t tempo[6] = { 0xFF, 0x51, 3, SAVE_US_PER_QN >> 16, (SAVE_US_PER_QN >> 8) & 0xFF,
                         SAVE_US_PER_QN & 0xFF };
    smf_event_t *te = smf_event_new_from_pointer(tempo, sizeof tempo);
    if (!te)
        goto fail;
    smf_track_add_event_pulses(conductor, te, 0);

    smf_track_t *track_of[16] = { 0 };
    gboolean used[16] = { 0 };
    for (guint i = 0; i < sorted->len; i++)
        used[g_array_index(sorted, cn_event, i).channel] = TRUE;
    smf_track_t *single = NULL;
    for (int c = 0; c < 16; c++) {
        if (split && !used[c])
            continue;
        if (!split && single) {
            track_of[c] = single;
            continue;
        }
        track_of[c] = smf_track_new();
        if (!track_of[c])
            goto fail;
        smf_add_track(smf, track_of[c]);
        single = track_of[c];
    }
    if (!single) { /* split with no events: still one (empty) event track */
        single = smf_track_new();
        if (!single)
            goto fail;
        smf_add_track(smf, single);
    }

    int last = 0;
    for (guint i = 0; i < sorted->len; i++) {
        const cn_event *e = &g_array_index(sorted, cn_event, i);
        int ticks = (int)llround(e->time * SAVE_TICKS_PER_SECOND);
        int ch = e->channel;
        smf_event_t *ev = NULL;
        switch (e->type) {
        case CN_EV_NOTE_ON: ev = smf_event_new_from_bytes(0x90 | ch, e->a, e->b); break;
        case CN_EV_NOTE_OFF: ev = smf_event_new_from_bytes(0x80 | ch, e->a, e->b); break;
        case CN_EV_CC: ev = smf_event_new_from_bytes(0xB0 | ch, e->a, e->b); break;
        case CN_EV_PROGRAM: ev = smf_event_new_from_bytes(0xC0 | ch, e->a, -1); break;
        }
        if (!ev)
            goto fail;
        /* libsmf appends an event whose tick equals the track's last one, so
         * equal-time events keep their (sorted, stable) order in the file. */
        smf_track_add_event_pulses(track_of[ch], ev, ticks);
        if (ticks > last)
            last = ticks;
    }
    for (int t = 1; t <= smf->number_of_tracks; t++)
        if (smf_track_add_eot_pulses(smf_get_track_by_number(smf, t), last) != 0)
            goto fail;
    if (smf_set_format(smf, 1) != 0)
        goto fail;
    return smf;
fail:
    g_set_error(err, CN_ERROR, CN_ERR_IO, "%s: cannot build the MIDI data (libsmf: %s)", name,
                smf_log_text());
    if (smf)
        smf_delete(smf);
    return NULL;
}

/* Flushes a written file to disk, so that the rename publishes whole data. */
static gboolean sync_file(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return FALSE;
    gboolean ok = fsync(fd) == 0;
    close(fd);
    return ok;
}

gboolean midifile_save(const char *path, const GArray *events, gboolean split_by_channel,
                       GError **err)
{
    char *name = g_filename_display_name(path);
    for (guint i = 0; i < events->len; i++)
        if (!check_event(name, i, &g_array_index(events, cn_event, i), err)) {
            g_free(name);
            return FALSE;
        }

    GArray *sorted = cn_events_new();
    g_array_append_vals(sorted, events->data, events->len);
    cn_events_sort(sorted);

    guint handler = g_log_set_handler("libsmf",
                                      G_LOG_LEVEL_MASK | G_LOG_FLAG_FATAL | G_LOG_FLAG_RECURSION,
                                      smf_log_capture, NULL);
    gboolean ok = FALSE;
    char *tmp = g_strconcat(path, ".tmp", NULL);
    smf_t *smf = build_smf(name, sorted, split_by_channel, err);
    if (smf) {
        /* Write PATH.tmp, flush it, then rename: a crash leaves either the old
         * file or the new one, never half of one. */
        if (smf_save(smf, tmp) != 0) {
            g_set_error(err, CN_ERROR, CN_ERR_IO, "%s: cannot write %s (libsmf: %s)", name, tmp,
                        smf_log_text());
        } else if (!sync_file(tmp)) {
            int e = errno;
            g_set_error(err, CN_ERROR, CN_ERR_IO, "%s: cannot flush %s: %s", name, tmp,
                        g_strerror(e));
        } else if (g_rename(tmp, path) != 0) {
            int e = errno;
            g_set_error(err, CN_ERROR, CN_ERR_IO, "%s: cannot rename %s into place: %s", name,
                        tmp, g_strerror(e));
        } else {
            ok = TRUE;
        }
        if (!ok)
            g_unlink(tmp);
        smf_delete(smf);
    }
    g_log_remove_handler("libsmf", handler);
    g_free(smf_log_message);
    smf_log_message = NULL;
    g_free(tmp);
    g_array_free(sorted, TRUE);
    g_free(name);
    return ok;
}
