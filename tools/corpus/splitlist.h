/* splitlist.h — the file lists that continuo-mkdata and continuo-bench
 * tokens read: a SPLITS.tsv (a header row naming the columns, then one row
 * per file, tab-separated) or a folder scanned for MIDI files.
 *
 * Columns are found by name, so both layouts in ../shared/data work:
 * ASAP's "path kind composer title split split_source" and POP909's
 * "path song_id split". "path" (relative to the data folder) and "split" are
 * required; "kind" is optional. Not real-time safe. */
#ifndef CONTINUO_SPLITLIST_H
#define CONTINUO_SPLITLIST_H

#include <glib.h>

typedef struct {
    char *path;  /* full path: the data folder joined with the row's path */
    char *split; /* e.g. "train", "validation", "test" */
} splitlist_entry;

/* Reads tsv; paths are joined to dir. With kind non-NULL only rows whose
 * kind column equals it are kept; *had_kind (may be NULL) says whether the
 * file has a kind column at all (if not, kind is ignored). Returns a
 * GPtrArray of splitlist_entry* (freed with g_ptr_array_unref), or NULL with
 * one line in *err naming the file (and line) and the problem. */
GPtrArray *splitlist_read(const char *tsv, const char *dir, const char *kind,
                          gboolean *had_kind, GError **err);

/* Every *.mid / *.midi (any case) under dir, recursively, sorted by path,
 * all in split "train". NULL with *err if dir cannot be read. */
GPtrArray *splitlist_scan(const char *dir, GError **err);

#endif
