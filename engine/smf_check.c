/* smf_check.c — validates the chunk and event structure of raw Standard MIDI
 * File bytes, walking every event of every track once, and builds the tempo
 * map (ticks -> seconds). The rules are listed in smf_check.h.
 *
 * Every read is bounds-checked against the end of its chunk before it is made,
 * so no input can make this code read outside the buffer; each error names
 * the file, the track (1-based) and the byte offset of the problem. */
#include <stdarg.h>
#include <string.h>
#include "error.h"
#include "smf_check.h"

/* ---------------------------------------------------------------- errors */

static gboolean fail(GError **err, int code, const char *path, size_t offset,
                     const char *fmt, ...) G_GNUC_PRINTF(5, 6);

/* Sets *err to "PATH: problem (offset N)"; always returns FALSE.
 * offset == SIZE_MAX leaves the offset out. */
static gboolean fail(GError **err, int code, const char *path, size_t offset,
                     const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *what = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    char *name = g_filename_display_name(path);
    if (offset == SIZE_MAX)
        g_set_error(err, CN_ERROR, code, "%s: %s", name, what);
    else
        g_set_error(err, CN_ERROR, code, "%s: %s (offset %zu)", name, what, offset);
    g_free(name);
    g_free(what);
    return FALSE;
}

#define NO_OFFSET SIZE_MAX

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static unsigned be16(const uint8_t *p) { return (unsigned)p[0] << 8 | p[1]; }

/* ---------------------------------------------------------------- the walk */

typedef struct {
    const char *path;
    const uint8_t *buf;
    size_t len;
    GError **err;
    cn_smf_event_fn fn;
    void *user;
    GArray *tempo_events; /* cn_smf_tempo with .seconds unused, file order */
    uint64_t nevents;
    uint64_t max_tick;
} walker;

/* Reads a variable-length quantity (7 bits a byte, high bit = more follows, at
 * most 4 bytes, so < 2^28) at *p, not past `end`. `what` names it in errors. */
static gboolean read_vlq(walker *w, int track, size_t *p, size_t end, uint32_t *out,
                         const char *what)
{
    size_t start = *p;
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) {
        if (*p >= end)
            return fail(w->err, CN_ERR_FORMAT, w->path, start,
                        "track %d: %s runs past end of its chunk", track + 1, what);
        uint8_t b = w->buf[(*p)++];
        v = v << 7 | (b & 0x7F);
        if (!(b & 0x80)) {
            *out = v;
            return TRUE;
        }
    }
    return fail(w->err, CN_ERR_FORMAT, w->path, start,
                "track %d: %s is a variable-length quantity longer than 4 bytes", track + 1,
                what);
}

/* Number of data bytes after a channel status byte. */
static int channel_data_bytes(uint8_t status)
{
    uint8_t kind = status & 0xF0;
    return (kind == 0xC0 || kind == 0xD0) ? 1 : 2;
}

/* Walks the events of one MTrk chunk whose data spans [start, end). */
static gboolean walk_track(walker *w, int track, size_t start, size_t end)
{
    const uint8_t *buf = w->buf;
    size_t p = start;
    uint64_t tick = 0;
    uint8_t running = 0; /* last channel status of this track; 0 = none yet */

    for (;;) {
        if (p >= end)
            return fail(w->err, CN_ERR_FORMAT, w->path, p,
                        "track %d ends without an End-Of-Track event", track + 1);
        uint32_t delta;
        if (!read_vlq(w, track, &p, end, &delta, "delta time"))
            return FALSE;
        tick += delta;
        if (tick > CN_SMF_MAX_TICKS)
            return fail(w->err, CN_ERR_UNSUPPORTED, w->path, p,
                        "track %d: delta times add up to %" G_GUINT64_FORMAT
                        " ticks, an absurd length",
                        track + 1, tick);
        if (p >= end)
            return fail(w->err, CN_ERR_FORMAT, w->path, p,
                        "track %d: chunk ends after a delta time, without an event", track + 1);

        cn_smf_event ev = { .tick = tick, .track = track, .offset = p };
        uint8_t status = buf[p];
        if (status < 0x80) {
            if (!running)
                return fail(w->err, CN_ERR_FORMAT, w->path, p,
                            "track %d: data byte 0x%02x where an event should start, "
                            "with no running status",
                            track + 1, status);
            status = running; /* running status: this byte is the first data byte */
        } else {
            p++;
        }
        ev.status = status;

        if (status < 0xF0) { /* channel message */
            int n = channel_data_bytes(status);
            uint8_t d[2] = { 0, 0 };
            for (int i = 0; i < n; i++) {
                if (p >= end)
                    return fail(w->err, CN_ERR_FORMAT, w->path, ev.offset,
                                "track %d: channel message 0x%02x runs past end of its chunk",
                                track + 1, status);
                if (buf[p] & 0x80)
                    return fail(w->err, CN_ERR_FORMAT, w->path, p,
                                "track %d: status byte 0x%02x inside channel message 0x%02x",
                                track + 1, buf[p], status);
                d[i] = buf[p++];
            }
            ev.d1 = d[0];
            ev.d2 = d[1];
            running = status;
        } else if (status == 0xFF) { /* meta event: type, length, payload */
            if (p >= end)
                return fail(w->err, CN_ERR_FORMAT, w->path, ev.offset,
                            "track %d: meta event runs past end of its chunk", track + 1);
            ev.meta = buf[p++];
            if (ev.meta & 0x80)
                return fail(w->err, CN_ERR_FORMAT, w->path, ev.offset,
                            "track %d: meta event type 0x%02x is not valid (must be < 0x80)",
                            track + 1, ev.meta);
            uint32_t mlen;
            if (!read_vlq(w, track, &p, end, &mlen, "meta event length"))
                return FALSE;
            if (mlen > end - p)
                return fail(w->err, CN_ERR_FORMAT, w->path, ev.offset,
                            "track %d: meta event 0x%02x length %u runs past end of its chunk",
                            track + 1, ev.meta, mlen);
            ev.data = buf + p;
            ev.len = mlen;
            p += mlen;
            if (ev.meta == 0x51) { /* tempo: 24-bit us per quarter note */
                if (mlen != 3)
                    return fail(w->err, CN_ERR_FORMAT, w->path, ev.offset,
                                "track %d: tempo event of length %u (must be 3)", track + 1,
                                mlen);
                uint32_t us = (uint32_t)ev.data[0] << 16 | (uint32_t)ev.data[1] << 8 | ev.data[2];
                if (us == 0)
                    return fail(w->err, CN_ERR_FORMAT, w->path, ev.offset,
                                "track %d: tempo of 0 us per quarter note", track + 1);
                cn_smf_tempo t = { .tick = tick, .us_per_qn = us };
                g_array_append_val(w->tempo_events, t);
            }
        } else if (status == 0xF0 || status == 0xF7) { /* sysex / escape: length, payload */
            uint32_t slen;
            if (!read_vlq(w, track, &p, end, &slen, "sysex length"))
                return FALSE;
            if (slen > end - p)
                return fail(w->err, CN_ERR_FORMAT, w->path, ev.offset,
                            "track %d: sysex length %u runs past end of its chunk", track + 1,
                            slen);
            ev.data = buf + p;
            ev.len = slen;
            p += slen;
        } else {
            return fail(w->err, CN_ERR_FORMAT, w->path, ev.offset,
                        "track %d: status byte 0x%02x is not allowed in a MIDI file", track + 1,
                        status);
        }

        w->nevents++;
        if (status == 0xFF && ev.meta == 0x2F) {
            if (ev.len != 0)
                return fail(w->err, CN_ERR_FORMAT, w->path, ev.offset,
                            "track %d: End-Of-Track event of length %u (must be 0)", track + 1,
                            ev.len);
            if (w->fn)
                w->fn(&ev, w->user);
            if (tick > w->max_tick)
                w->max_tick = tick;
            return TRUE; /* bytes after End-Of-Track inside the chunk are ignored */
        }
        if (w->fn)
            w->fn(&ev, w->user);
    }
}

/* ---------------------------------------------------------------- tempo map */

static gint cmp_tempo_tick(gconstpointer a, gconstpointer b, gpointer unused)
{
    (void)unused;
    const cn_smf_tempo *x = a, *y = b;
    return (x->tick > y->tick) - (x->tick < y->tick);
}

/* Builds info->tempo from the tempo events in file order. g_qsort_with_data is
 * stable, so of several tempo events at one tick the last in file order wins. */
static GArray *tempo_map_build(GArray *events, int ppqn)
{
    g_qsort_with_data(events->data, (gint)events->len, sizeof(cn_smf_tempo), cmp_tempo_tick,
                      NULL);
    GArray *map = g_array_new(FALSE, FALSE, sizeof(cn_smf_tempo));
    cn_smf_tempo first = { .tick = 0, .seconds = 0.0, .us_per_qn = CN_SMF_DEFAULT_TEMPO };
    g_array_append_val(map, first);
    for (guint i = 0; i < events->len; i++) {
        const cn_smf_tempo *t = &g_array_index(events, cn_smf_tempo, i);
        cn_smf_tempo *last = &g_array_index(map, cn_smf_tempo, map->len - 1);
        if (t->tick == last->tick) {
            last->us_per_qn = t->us_per_qn;
            continue;
        }
        cn_smf_tempo next = {
            .tick = t->tick,
            .seconds = last->seconds + (double)(t->tick - last->tick) * last->us_per_qn /
                                           (1e6 * ppqn),
            .us_per_qn = t->us_per_qn,
        };
        g_array_append_val(map, next);
    }
    return map;
}

double cn_smf_seconds(const cn_smf_info *info, uint64_t tick)
{
    const cn_smf_tempo *map = (const cn_smf_tempo *)(void *)info->tempo->data;
    guint lo = 0, hi = info->tempo->len; /* find the last segment with map[i].tick <= tick */
    while (hi - lo > 1) {
        guint mid = lo + (hi - lo) / 2;
        if (map[mid].tick <= tick)
            lo = mid;
        else
            hi = mid;
    }
    return map[lo].seconds + (double)(tick - map[lo].tick) * map[lo].us_per_qn /
                                 (1e6 * info->ppqn);
}

void cn_smf_info_clear(cn_smf_info *info)
{
    if (info->tempo)
        g_array_free(info->tempo, TRUE);
    memset(info, 0, sizeof *info);
}

/* ---------------------------------------------------------------- the file */

static gboolean printable_id(const uint8_t *id)
{
    for (int i = 0; i < 4; i++)
        if (id[i] < 0x20 || id[i] > 0x7E)
            return FALSE;
    return TRUE;
}

/* Header checks; on success sets *format, *ntracks, *ppqn, *pos (first chunk). */
static gboolean check_header(const char *path, const uint8_t *buf, size_t len, int *format,
                             int *ntracks, int *ppqn, size_t *pos, GError **err)
{
    if (len == 0)
        return fail(err, CN_ERR_FORMAT, path, NO_OFFSET, "empty file, not a MIDI file");
    if (len > CN_SMF_MAX_BYTES)
        return fail(err, CN_ERR_UNSUPPORTED, path, NO_OFFSET,
                    "file is %zu bytes, more than the %zu MiB limit", len,
                    CN_SMF_MAX_BYTES >> 20);
    if (len >= 12 && memcmp(buf, "RIFF", 4) == 0 && memcmp(buf + 8, "RMID", 4) == 0)
        return fail(err, CN_ERR_UNSUPPORTED, path, NO_OFFSET,
                    "RIFF-wrapped MIDI (RMID) is not supported; extract the MThd data");
    if (memcmp(buf, "MThd", len < 4 ? len : 4) != 0) {
        uint8_t b[4] = { 0 };
        memcpy(b, buf, len < 4 ? len : 4);
        return fail(err, CN_ERR_FORMAT, path, NO_OFFSET,
                    "not a MIDI file (starts with bytes %02x %02x %02x %02x, not \"MThd\")",
                    b[0], b[1], b[2], b[3]);
    }
    if (len < 14)
        return fail(err, CN_ERR_TRUNCATED, path, NO_OFFSET,
                    "file ends inside its MThd header (%zu bytes, need 14)", len);
    uint32_t hlen = be32(buf + 4);
    if (hlen < 6)
        return fail(err, CN_ERR_FORMAT, path, 4, "MThd length %u (must be at least 6)", hlen);
    if (hlen > len - 8)
        return fail(err, CN_ERR_TRUNCATED, path, 4, "MThd length %u runs past end of file", hlen);
    *format = (int)be16(buf + 8);
    *ntracks = (int)be16(buf + 10);
    unsigned division = be16(buf + 12);
    if (*format == 2)
        return fail(err, CN_ERR_UNSUPPORTED, path, 8,
                    "format 2 (independent sequences) is not supported");
    if (*format > 2)
        return fail(err, CN_ERR_FORMAT, path, 8, "format %d (must be 0 or 1)", *format);
    if (*ntracks == 0)
        return fail(err, CN_ERR_FORMAT, path, 10, "header declares no tracks");
    if (*format == 0 && *ntracks != 1)
        return fail(err, CN_ERR_FORMAT, path, 10,
                    "format 0 file declares %d tracks (must be 1)", *ntracks);
    if (division & 0x8000)
        return fail(err, CN_ERR_UNSUPPORTED, path, 12,
                    "SMPTE time division (%d frames/s, %u ticks per frame) is not supported",
                    -(int)(int8_t)(division >> 8), division & 0xFF);
    if (division == 0)
        return fail(err, CN_ERR_FORMAT, path, 12, "division of 0 ticks per quarter note");
    *ppqn = (int)division;
    *pos = 8 + (size_t)hlen;
    return TRUE;
}

gboolean cn_smf_check(const char *path, const uint8_t *buf, size_t len, cn_smf_event_fn fn,
                      void *user, cn_smf_info *info, GError **err)
{
    memset(info, 0, sizeof *info);
    int format = 0, ntracks = 0, ppqn = 0;
    size_t pos = 0;
    if (!check_header(path, buf, len, &format, &ntracks, &ppqn, &pos, err))
        return FALSE;

    walker w = { .path = path, .buf = buf, .len = len, .err = err, .fn = fn, .user = user,
                 .tempo_events = g_array_new(FALSE, FALSE, sizeof(cn_smf_tempo)) };
    gboolean ok = TRUE;
    int track = 0;
    while (ok && track < ntracks) {
        if (pos == len) {
            ok = fail(err, CN_ERR_TRUNCATED, path, pos,
                      "header declares %d tracks but the file ends after %d", ntracks, track);
            break;
        }
        if (len - pos < 8) {
            ok = fail(err, CN_ERR_TRUNCATED, path, pos,
                      "file ends inside the header of track %d's chunk", track + 1);
            break;
        }
        const uint8_t *id = buf + pos;
        uint32_t clen = be32(buf + pos + 4);
        gboolean is_track = memcmp(id, "MTrk", 4) == 0;
        if (!is_track && !printable_id(id)) {
            ok = fail(err, CN_ERR_FORMAT, path, pos,
                      "expected the chunk of track %d, found bytes %02x %02x %02x %02x",
                      track + 1, id[0], id[1], id[2], id[3]);
            break;
        }
        if (clen > len - pos - 8) {
            if (is_track)
                ok = fail(err, CN_ERR_TRUNCATED, path, pos,
                          "track %d chunk length %u runs past end of file", track + 1, clen);
            else
                ok = fail(err, CN_ERR_TRUNCATED, path, pos,
                          "chunk \"%.4s\" length %u runs past end of file", (const char *)id,
                          clen);
            break;
        }
        if (is_track) {
            ok = walk_track(&w, track, pos + 8, pos + 8 + clen);
            track++;
        } /* else: an unknown chunk type, skipped as the spec asks */
        pos += 8 + (size_t)clen;
    }

    if (ok) {
        info->format = format;
        info->ntracks = ntracks;
        info->ppqn = ppqn;
        info->nevents = w.nevents;
        info->max_tick = w.max_tick;
        info->tempo = tempo_map_build(w.tempo_events, ppqn);
        info->seconds = cn_smf_seconds(info, w.max_tick);
        if (!(info->seconds <= CN_SMF_MAX_SECONDS)) {
            ok = fail(err, CN_ERR_UNSUPPORTED, path, NO_OFFSET,
                      "lasts %.0f s, more than the %.0f h limit (absurd delta times?)",
                      info->seconds, CN_SMF_MAX_SECONDS / 3600);
            cn_smf_info_clear(info);
        }
    }
    g_array_free(w.tempo_events, TRUE);
    return ok;
}
