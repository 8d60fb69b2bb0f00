/* rotate.h — long recordings cut into one Standard MIDI File per period
 * (an hour by default), with bounded disk use: the installation records
 * for days, and a power cut must lose at most the last checkpoint.
 *
 * Files are DIR/PREFIX-NNNNNN.mid, NNNNNN counting up across restarts (the
 * next number after the highest already in DIR). Each file is complete on
 * its own: times start at 0 at the file's start; notes (and sustain pedals)
 * still down at its end are ended there, and struck again at time 0 of the
 * next file, so no file holds a note-on without its note-off or the reverse.
 * The current file is rewritten every checkpoint interval (a minute by
 * default) and at the cut, each time through midifile_save (PATH.tmp, fsync,
 * rename): a crash leaves the previous complete version. After each cut the
 * oldest files are deleted until at most keep_files files and keep_bytes
 * bytes remain (the current file always stays).
 *
 * Times are the session's seconds (the host's clock); the rotator never
 * reads a clock. Memory: the events of the current file only.
 * Not real-time safe (allocation, file I/O); one thread at a time. */
#ifndef CONTINUO_ROTATE_H
#define CONTINUO_ROTATE_H

#include <glib.h>
#include "events.h"

typedef struct {
    const char *dir;           /* created if absent */
    const char *prefix;        /* "continuo" */
    double file_seconds;       /* length of one file (3600) */
    double checkpoint_seconds; /* the current file is rewritten this often (60; <= 0: only at cuts) */
    int keep_files;            /* most files kept, current included (168 = a week of hours) */
    guint64 keep_bytes;        /* most bytes kept (1 GiB) */
    double start;              /* session time at which the first file starts (0) */
} rotate_config;

void rotate_config_defaults(rotate_config *c);

typedef struct rotator rotator;

/* Creates dir, finds the next file number. NULL + err naming the folder. */
rotator *rotate_new(const rotate_config *c, GError **err);
/* Writes nothing (call rotate_close first to keep the last part). */
void rotate_free(rotator *r);

/* Events heard or played (any order, times >= the current file's start;
 * earlier ones are clamped to it). Cheap: appends. */
void rotate_add(rotator *r, const cn_event *ev, guint n);

/* Cuts the files whose period ended before `now`, checkpoints the current
 * file when its interval has passed, prunes old files. Events with
 * time >= a cut go to the next file. Returns FALSE (err: the file and the
 * problem) if a write failed; the events stay and the next poll retries. */
gboolean rotate_poll(rotator *r, double now, GError **err);

/* Writes the current file one last time, its sounding notes ended at
 * max(now, its last event). */
gboolean rotate_close(rotator *r, double now, GError **err);

/* Path of the file being written (owned by r). */
const char *rotate_current_path(const rotator *r);

/* ---- what is held at a cut (also used by session_save_recording) ----------
 * A recording cut at time t is two complete files when the notes and pedals
 * still down at t are ended there (rotate_held_end) and struck again at the
 * next file's time 0 (rotate_held_strike). */
typedef struct {
    guint16 down[16][128]; /* note-ons minus note-offs per (channel, pitch) */
    uint8_t vel[16][128];  /* velocity of the latest note-on */
    gboolean pedal[16];    /* sustain (CC64 >= 64) */
} rotate_held;
/* Adds events [from, to) of ev (time order) to h (zero it first). */
void rotate_held_scan(rotate_held *h, const GArray *ev, guint from, guint to);
/* Appends to out a note-off for each held note and a pedal-up for each
 * pedal down, all at time t. */
void rotate_held_end(const rotate_held *h, double t, GArray *out);
/* Appends to out a pedal-down and a note-on (its latest velocity) for each
 * held pedal and note, all at time t. */
void rotate_held_strike(const rotate_held *h, double t, GArray *out);

typedef struct {
    long files_done;     /* files closed by a cut */
    long files_deleted;  /* pruned */
    long writes;         /* midifile_save calls (checkpoints and cuts) */
    long events;         /* events in the current file */
    guint64 bytes_kept;  /* size of the closed files still on disk (after the last prune) */
    int files_kept;      /* closed files still on disk */
} rotate_stats;
void rotate_get_stats(const rotator *r, rotate_stats *st);

#endif
