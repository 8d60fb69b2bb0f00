/* atomic_file.c — see atomic_file.h. */
#include <errno.h>
#include <stdio.h>
#include "atomic_file.h"
#include "error.h"

gboolean atomic_file_open(atomic_file *a, const char *path, const char *mode, GError **err)
{
    a->path = g_strdup(path);
    a->tmp = g_strdup_printf("%s.tmp", path);
    a->f = fopen(a->tmp, mode);
    if (a->f) return TRUE;
    g_set_error(err, CN_ERROR, CN_ERR_IO, "%s: cannot write: %s", a->tmp, g_strerror(errno));
    g_free(a->tmp);
    g_free(a->path);
    a->tmp = a->path = NULL;
    return FALSE;
}

gboolean atomic_file_close(atomic_file *a, gboolean ok, const char *what, GError **err)
{
    int e = ok ? 0 : errno;
    if (fflush(a->f) != 0 && ok) ok = FALSE, e = errno;
    if (fclose(a->f) != 0 && ok) ok = FALSE, e = errno;
    if (ok && rename(a->tmp, a->path) != 0) ok = FALSE, e = errno;
    if (!ok) {
        g_set_error(err, CN_ERROR, CN_ERR_IO, "%s: %s: %s", a->path, what,
                    e ? g_strerror(e) : "short write");
        remove(a->tmp);
    }
    g_free(a->tmp);
    g_free(a->path);
    a->f = NULL;
    a->tmp = a->path = NULL;
    return ok;
}
