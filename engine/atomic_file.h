/* atomic_file.h — writing a file so that a crash leaves either the old file or
 * the new one, never half of one: write PATH.tmp, flush, close, rename over
 * PATH. Used by every writer of whole files (weights, checkpoints, logs).
 * Not real-time safe (file I/O). */
#ifndef CONTINUO_ATOMIC_FILE_H
#define CONTINUO_ATOMIC_FILE_H

#include <stdio.h>
#include <glib.h>

typedef struct {
    FILE *f;   /* write into this */
    char *tmp; /* PATH.tmp */
    char *path;
} atomic_file;

/* Opens PATH.tmp for writing ("wb" or "w"). FALSE + err ("PATH.tmp: cannot
 * write: reason"). */
gboolean atomic_file_open(atomic_file *a, const char *path, const char *mode, GError **err);
/* Flushes and closes the file; renames it into place when ok and every step
 * succeeded, else removes PATH.tmp and sets err ("PATH: what failed: reason",
 * what = `what`, e.g. "write failed"). Frees what open allocated. */
gboolean atomic_file_close(atomic_file *a, gboolean ok, const char *what, GError **err);

#endif
