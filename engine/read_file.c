/* read_file.c — see read_file.h. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "error.h"
#include "read_file.h"

/* Reads fd to its end, at most max bytes (one more byte read tells "over"). */
static uint8_t *read_fd(int fd, const char *name, size_t max, size_t hint, size_t *len,
                        GError **err)
{
    size_t cap = (hint ? hint : 65536) + 1, got = 0;
    if (cap > max + 1) cap = max + 1;
    uint8_t *buf = g_malloc(cap + 1);
    for (;;) {
        if (got == cap) {
            if (cap == max + 1) break;
            cap = cap * 2 > max + 1 ? max + 1 : cap * 2;
            buf = g_realloc(buf, cap + 1);
        }
        ssize_t n = read(fd, buf + got, cap - got);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            int e = errno;
            g_set_error(err, CN_ERROR, CN_ERR_IO, "%s: read error: %s", name, g_strerror(e));
            g_free(buf);
            return NULL;
        }
        if (n == 0) break;
        got += (size_t)n;
    }
    if (got > max) {
        g_set_error(err, CN_ERROR, CN_ERR_UNSUPPORTED, "%s: more than %zu MiB (the limit)", name,
                    max >> 20);
        g_free(buf);
        return NULL;
    }
    buf[got] = 0;
    *len = got;
    return buf;
}

uint8_t *cn_read_file(const char *path, size_t max_bytes, size_t *len, GError **err)
{
    if (!strcmp(path, "-")) return read_fd(STDIN_FILENO, "stdin", max_bytes, 0, len, err);
    char *name = g_filename_display_name(path);
    uint8_t *buf = NULL;
    /* O_NONBLOCK: a FIFO or device given by mistake cannot block the open */
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    struct stat st;
    if (fd < 0) {
        int e = errno;
        g_set_error(err, CN_ERROR, CN_ERR_IO, "%s: cannot open: %s", name, g_strerror(e));
    } else if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        g_set_error(err, CN_ERROR, CN_ERR_IO, "%s: not a regular file", name);
    } else if ((uint64_t)st.st_size > max_bytes) {
        g_set_error(err, CN_ERROR, CN_ERR_UNSUPPORTED,
                    "%s: file is %lld bytes, more than the %zu MiB limit", name,
                    (long long)st.st_size, max_bytes >> 20);
    } else {
        buf = read_fd(fd, name, max_bytes, (size_t)st.st_size, len, err);
    }
    if (fd >= 0) close(fd);
    g_free(name);
    return buf;
}

gboolean cn_read_keyfile(GKeyFile *kf, const char *path, GError **err)
{
    size_t len = 0;
    char *text = (char *)cn_read_file(path, (size_t)1 << 20, &len, err);
    if (!text) return FALSE;
    char *name = cn_printable(path, 200);
    gboolean ok = FALSE;
    if (memchr(text, 0, len) || !g_utf8_validate(text, (gssize)len, NULL)) {
        g_set_error(err, CN_ERROR, CN_ERR_FORMAT, "%s: not a text file (a preset is UTF-8 text)",
                    name);
    } else {
        GError *e = NULL;
        ok = g_key_file_load_from_data(kf, text, len, G_KEY_FILE_NONE, &e);
        if (!ok) {
            char *msg = cn_printable(e->message, 160);
            g_set_error(err, CN_ERROR, CN_ERR_FORMAT, "%s: %s", name, msg);
            g_free(msg);
            g_error_free(e);
        }
    }
    g_free(name);
    g_free(text);
    return ok;
}
