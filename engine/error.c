/* error.c — the CN_ERROR GError domain. */
#include <string.h>
#include "error.h"

G_DEFINE_QUARK(continuo-error-quark, cn_error)

char *cn_printable(const char *s, size_t max)
{
    GString *out = g_string_new(NULL);
    const char *p = s, *end = s + strlen(s);
    while (p < end) {
        if ((size_t)(p - s) >= max) {
            g_string_append(out, "...");
            break;
        }
        gunichar c = g_utf8_get_char_validated(p, end - p);
        if (c == (gunichar)-1 || c == (gunichar)-2 || c < 0x20 || c == 0x7F ||
            (c >= 0x80 && c < 0xA0)) {
            g_string_append_printf(out, "\\x%02X", (unsigned char)*p);
            p++;
            continue;
        }
        const char *next = g_utf8_next_char(p);
        g_string_append_len(out, p, next - p);
        p = next;
    }
    return g_string_free(out, FALSE);
}
