/* smf_check.h — structural validation of raw Standard MIDI File bytes, the
 * one walk over every event of every track, and the tick -> seconds tempo map.
 *
 * midifile_load reads a file into memory, runs cn_smf_check over the bytes
 * (which calls back once per event as it walks), and turns ticks into seconds
 * with cn_smf_seconds. libsmf 1.3 never reads files: its reader aborts on
 * several malformed inputs and misreads some valid ones (meta events of 128
 * bytes or more; short tempo events), see midifile.c. It is used for writing.
 *
 * What the check accepts (anything else is an error, never a crash):
 *   MThd of length >= 6 (extra bytes skipped, as the spec asks), format 0
 *   (exactly one track) or 1, 1..65535 tracks, PPQN division 1..32767.
 *   Chunks of unknown type (four printable ASCII bytes) before the last
 *   declared MTrk are skipped; bytes after the last declared MTrk are ignored.
 *   Every event of every declared track: delta time as a variable-length
 *   quantity of at most 4 bytes; channel messages 0x80..0xEF with data bytes
 *   < 0x80, running status allowed once a channel status has been seen in the
 *   track (kept across meta and sysex events, a common writer habit the spec
 *   frowns on but which loses nothing); meta (0xFF, type < 0x80) and sysex
 *   (0xF0 / 0xF7) with a length that stays inside the chunk; tempo meta of
 *   exactly 3 bytes and non-zero; End-Of-Track (length 0) present, bytes after
 *   it inside the chunk ignored. System common / real-time bytes (0xF1..0xFE
 *   other than 0xF7 and 0xFF) are not legal SMF events.
 *
 * Error codes (CN_ERROR domain; messages are one line "PATH: problem (offset N)"):
 *   CN_ERR_TRUNCATED    the file ends before its declared content (a chunk longer
 *                       than the file, fewer tracks than MThd declares, short header)
 *   CN_ERR_FORMAT       malformed content (wrong magic, bad header field, stray
 *                       data byte, over-long VLQ, lengths past the chunk, no EOT...)
 *   CN_ERR_UNSUPPORTED  valid but refused: SMPTE division, format 2, RIFF-wrapped
 *                       MIDI, and the size limits below
 *
 * Not real-time safe (allocates). Thread-safe: no global state. */
#ifndef CONTINUO_SMF_CHECK_H
#define CONTINUO_SMF_CHECK_H

#include <stddef.h>
#include <stdint.h>
#include <glib.h>

#define CN_SMF_MAX_BYTES ((size_t)64 << 20)  /* 64 MiB: larger files are refused */
#define CN_SMF_MAX_SECONDS (10.0 * 3600.0)   /* 10 h: a longer track is refused */
#define CN_SMF_MAX_TICKS ((uint64_t)1 << 52) /* per track; keeps ticks exact in a double */
#define CN_SMF_DEFAULT_TEMPO 500000u         /* us per quarter note (120 bpm) until set */

/* One tempo segment: from `tick` on, a quarter note lasts `us_per_qn` us. */
typedef struct {
    uint64_t tick;
    double seconds; /* time of `tick`, seconds from the start of the file */
    uint32_t us_per_qn;
} cn_smf_tempo;

typedef struct {
    int format;        /* 0 or 1 */
    int ntracks;       /* MTrk chunks walked (= the header's count) */
    int ppqn;          /* ticks per quarter note, 1..32767 */
    uint64_t nevents;  /* events walked, meta / sysex / EOT included */
    uint64_t max_tick; /* latest End-Of-Track tick over all tracks */
    double seconds;    /* max_tick through the tempo map: the file's length */
    GArray *tempo;     /* cn_smf_tempo sorted by tick, [0].tick == 0; tempo
                        * events of every track apply (format 1 conductor or not);
                        * of several at one tick the last in file order wins */
} cn_smf_info;

/* One event as the walk sees it, running status resolved. */
typedef struct {
    uint64_t tick;       /* absolute, from the start of its track */
    int track;           /* 0-based */
    size_t offset;       /* file offset of the event's status (or first data) byte */
    uint8_t status;      /* 0x80..0xEF channel, 0xF0 / 0xF7 sysex, 0xFF meta */
    uint8_t meta;        /* meta type when status == 0xFF */
    uint8_t d1, d2;      /* channel data bytes; d2 = 0 for 0xC0 / 0xD0 */
    const uint8_t *data; /* meta / sysex payload (points into the buffer) */
    uint32_t len;        /* payload length in bytes */
} cn_smf_event;

/* Called once per event, tracks in file order, events in track order. It may be
 * called for events of a file that later turns out to be malformed: collect,
 * and keep the result only when cn_smf_check returns TRUE. */
typedef void (*cn_smf_event_fn)(const cn_smf_event *ev, void *user);

/* Check the `len` bytes of `buf` (a whole file). `path` only names the file in
 * messages. `fn` may be NULL. On success fills *info (caller frees it with
 * cn_smf_info_clear) and returns TRUE; otherwise returns FALSE, sets *err and
 * leaves *info empty. Linear in `len`, plus O(T log T) for T tempo events. */
gboolean cn_smf_check(const char *path, const uint8_t *buf, size_t len, cn_smf_event_fn fn,
                      void *user, cn_smf_info *info, GError **err);

/* Seconds from the start of the file at `tick`, through info->tempo (binary
 * search, O(log T)). Exact to double rounding: ticks < 2^52. */
double cn_smf_seconds(const cn_smf_info *info, uint64_t tick);

void cn_smf_info_clear(cn_smf_info *info);

#endif
