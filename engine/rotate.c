/* rotate.c — hourly (or any period) .mid files from a long recording, with
 * checkpoints and pruning. See rotate.h for the rules. */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <glib/gstdio.h>
#include "error.h"
#include "midifile.h"
#include "rotate.h"

struct rotator {
    char *dir, *prefix;
    rotate_config cfg;
    GArray *cur;        /* cn_event, absolute times, arrival order */
    double file_start;  /* session time of the current file's time 0 */
    double last_write;  /* session time of the last checkpoint or cut */
    bool dirty;         /* events added since the last write */
    long seq;           /* current file number */
    char *path;
    rotate_stats st;
};

void rotate_config_defaults(rotate_config *c)
{
    memset(c, 0, sizeof *c);
    c->dir = ".";
    c->prefix = "continuo";
    c->file_seconds = 3600;
    c->checkpoint_seconds = 60;
    c->keep_files = 168;
    c->keep_bytes = (guint64)1 << 30;
    c->start = 0;
}

/* ---------------------------------------------------------------------------
 * file names */

/* The number in PREFIX-NNNNNN.mid, or -1 if name is not one of ours. */
static long file_number(const rotator *r, const char *name)
{
    size_t pl = strlen(r->prefix);
    if (strncmp(name, r->prefix, pl) || name[pl] != '-') return -1;
    const char *d = name + pl + 1;
    char *end = NULL;
    if (*d < '0' || *d > '9') return -1;
    long v = strtol(d, &end, 10);
    if (!end || strcmp(end, ".mid") || end - d < 6) return -1;
    return v;
}

static void set_path(rotator *r)
{
    g_free(r->path);
    char name[64];
    snprintf(name, sizeof name, "-%06ld.mid", r->seq);
    char *base = g_strconcat(r->prefix, name, NULL);
    r->path = g_build_filename(r->dir, base, NULL);
    g_free(base);
}

typedef struct {
    long num;
    guint64 bytes;
    char *path;
} file_info;

static gint cmp_file(gconstpointer a, gconstpointer b)
{
    long x = ((const file_info *)a)->num, y = ((const file_info *)b)->num;
    return (x > y) - (x < y);
}

/* Our closed files in dir (not the current one), oldest first. */
static GArray *list_files(rotator *r)
{
    GArray *files = g_array_new(FALSE, FALSE, sizeof(file_info));
    GDir *d = g_dir_open(r->dir, 0, NULL);
    if (!d) return files;
    const char *name;
    while ((name = g_dir_read_name(d))) {
        long num = file_number(r, name);
        if (num < 0 || num == r->seq) continue;
        file_info fi = {num, 0, g_build_filename(r->dir, name, NULL)};
        GStatBuf sb;
        if (g_stat(fi.path, &sb) == 0) fi.bytes = (guint64)sb.st_size;
        g_array_append_val(files, fi);
    }
    g_dir_close(d);
    g_array_sort(files, cmp_file);
    return files;
}

static void free_files(GArray *files)
{
    for (guint i = 0; i < files->len; i++) g_free(g_array_index(files, file_info, i).path);
    g_array_free(files, TRUE);
}

/* Deletes the oldest closed files until the limits hold (the current file
 * counts as one file; its size is unknown until it closes, so not counted). */
static void prune(rotator *r)
{
    GArray *files = list_files(r);
    guint64 bytes = 0;
    for (guint i = 0; i < files->len; i++) bytes += g_array_index(files, file_info, i).bytes;
    guint first = 0;
    while (first < files->len &&
           ((int)(files->len - first) + 1 > r->cfg.keep_files || bytes > r->cfg.keep_bytes)) {
        file_info *fi = &g_array_index(files, file_info, first);
        if (g_unlink(fi->path) == 0) r->st.files_deleted++;
        bytes -= fi->bytes;
        first++;
    }
    r->st.files_kept = (int)(files->len - first);
    r->st.bytes_kept = bytes;
    free_files(files);
}

/* ---------------------------------------------------------------------------
 * writing */

void rotate_held_scan(rotate_held *h, const GArray *ev, guint from, guint to)
{
    for (guint i = from; i < to; i++) {
        const cn_event *e = &g_array_index(ev, cn_event, i);
        int c = e->channel & 15, p = e->a & 127;
        if (e->type == CN_EV_NOTE_ON && e->b > 0) {
            h->down[c][p]++;
            h->vel[c][p] = e->b;
        } else if ((e->type == CN_EV_NOTE_ON || e->type == CN_EV_NOTE_OFF) && h->down[c][p]) {
            h->down[c][p]--;
        } else if (e->type == CN_EV_CC && e->a == CN_CC_SUSTAIN) {
            h->pedal[c] = e->b >= 64;
        }
    }
}

void rotate_held_end(const rotate_held *h, double t, GArray *out)
{
    for (int c = 0; c < 16; c++) {
        for (int p = 0; p < 128; p++)
            for (int k = 0; k < h->down[c][p]; k++) {
                cn_event off = {t, CN_EV_NOTE_OFF, (uint8_t)c, (uint8_t)p, 0};
                g_array_append_val(out, off);
            }
        if (h->pedal[c]) {
            cn_event up = {t, CN_EV_CC, (uint8_t)c, CN_CC_SUSTAIN, 0};
            g_array_append_val(out, up);
        }
    }
}

void rotate_held_strike(const rotate_held *h, double t, GArray *out)
{
    for (int c = 0; c < 16; c++) {
        if (h->pedal[c]) {
            cn_event down = {t, CN_EV_CC, (uint8_t)c, CN_CC_SUSTAIN, 127};
            g_array_append_val(out, down);
        }
        for (int p = 0; p < 128; p++)
            for (int k = 0; k < h->down[c][p]; k++) {
                cn_event on = {t, CN_EV_NOTE_ON, (uint8_t)c, (uint8_t)p,
                               h->vel[c][p] ? h->vel[c][p] : 64};
                g_array_append_val(out, on);
            }
    }
}

/* Writes the first n events of sorted `ev` to the current path, times
 * relative to the file start, with what is still down ended at `end`. */
static gboolean write_file(rotator *r, const GArray *ev, guint n, double end, GError **err)
{
    rotate_held h = {0};
    rotate_held_scan(&h, ev, 0, n);
    GArray *out = cn_events_new();
    g_array_set_size(out, n);
    for (guint i = 0; i < n; i++) {
        cn_event e = g_array_index(ev, cn_event, i);
        e.time = MAX(e.time - r->file_start, 0.0);
        if (e.time > end - r->file_start) end = e.time + r->file_start;
        g_array_index(out, cn_event, i) = e;
    }
    rotate_held_end(&h, MAX(end - r->file_start, 0.0), out);
    gboolean ok = midifile_save(r->path, out, TRUE, err);
    g_array_free(out, TRUE);
    if (ok) r->st.writes++;
    return ok;
}

/* Ends the current file at t = file_start + file_seconds and starts the
 * next one there, carrying over what is down. */
static gboolean cut(rotator *r, GError **err)
{
    double t = r->file_start + r->cfg.file_seconds;
    cn_events_sort(r->cur);
    guint n = 0;
    while (n < r->cur->len && g_array_index(r->cur, cn_event, n).time < t) n++;
    rotate_held h = {0};
    rotate_held_scan(&h, r->cur, 0, n);
    if (n > 0) {
        if (!write_file(r, r->cur, n, t, err)) return FALSE;
        r->st.files_done++;
    }
    GArray *next = cn_events_new();
    rotate_held_strike(&h, t, next);
    bool carried = next->len > 0;
    if (n < r->cur->len) /* an empty GArray's data is NULL: no offset on it */
        g_array_append_vals(next, &g_array_index(r->cur, cn_event, n), r->cur->len - n);
    g_array_free(r->cur, TRUE);
    r->cur = next;
    r->file_start = t;
    r->last_write = t;
    r->dirty = carried || next->len > 0;
    if (n > 0) { /* an empty period leaves no file, and keeps its number */
        r->seq++;
        set_path(r);
        prune(r);
    }
    return TRUE;
}

/* ---------------------------------------------------------------------------
 * API */

rotator *rotate_new(const rotate_config *c, GError **err)
{
    if (!(c->file_seconds > 0 && c->file_seconds <= 36000) || c->keep_files < 1 ||
        !c->prefix || !*c->prefix || strchr(c->prefix, '/')) {
        g_set_error(err, CN_ERROR, CN_ERR_ARG,
                    "recording rotation: file length must be in (0, 36000] s, keep at least "
                    "one file, and the prefix must be a plain name");
        return NULL;
    }
    const char *dir = c->dir && *c->dir ? c->dir : ".";
    if (g_mkdir_with_parents(dir, 0755) != 0) {
        g_set_error(err, CN_ERROR, CN_ERR_IO, "%s: cannot create the recording folder: %s", dir,
                    g_strerror(errno));
        return NULL;
    }
    rotator *r = g_new0(rotator, 1);
    r->cfg = *c;
    r->dir = g_strdup(dir);
    r->prefix = g_strdup(c->prefix);
    r->cfg.dir = r->dir;
    r->cfg.prefix = r->prefix;
    r->cur = cn_events_new();
    r->file_start = r->last_write = c->start;
    r->seq = -1; /* list_files skips nothing yet */
    GArray *files = list_files(r);
    r->seq = files->len ? g_array_index(files, file_info, files->len - 1).num + 1 : 0;
    free_files(files);
    set_path(r);
    return r;
}

void rotate_free(rotator *r)
{
    if (!r) return;
    g_array_free(r->cur, TRUE);
    g_free(r->dir);
    g_free(r->prefix);
    g_free(r->path);
    g_free(r);
}

void rotate_add(rotator *r, const cn_event *ev, guint n)
{
    if (n == 0) return;
    guint at = r->cur->len;
    g_array_append_vals(r->cur, ev, n);
    for (guint i = at; i < r->cur->len; i++) {
        cn_event *e = &g_array_index(r->cur, cn_event, i);
        if (!(e->time >= r->file_start)) e->time = r->file_start; /* NaN too */
    }
    r->dirty = true;
}

gboolean rotate_poll(rotator *r, double now, GError **err)
{
    while (now >= r->file_start + r->cfg.file_seconds)
        if (!cut(r, err)) return FALSE;
    if (r->dirty && r->cfg.checkpoint_seconds > 0 &&
        now - r->last_write >= r->cfg.checkpoint_seconds && r->cur->len > 0) {
        cn_events_sort(r->cur);
        if (!write_file(r, r->cur, r->cur->len, now, err)) return FALSE;
        r->last_write = now;
        r->dirty = false;
    }
    return TRUE;
}

gboolean rotate_close(rotator *r, double now, GError **err)
{
    if (!rotate_poll(r, now, err)) return FALSE;
    if (r->cur->len == 0 || !r->dirty) return TRUE;
    cn_events_sort(r->cur);
    if (!write_file(r, r->cur, r->cur->len, now, err)) return FALSE;
    r->last_write = now;
    r->dirty = false;
    return TRUE;
}

const char *rotate_current_path(const rotator *r) { return r->path; }

void rotate_get_stats(const rotator *r, rotate_stats *st)
{
    *st = r->st;
    st->events = (long)r->cur->len;
}
