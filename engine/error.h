/* error.h — the one error mechanism: GLib's GError in the CN_ERROR domain.
 * Setup and file code returns gboolean (TRUE = ok) and fills a GError whose
 * message is one line that names the file (or object) and the problem. */
#ifndef CONTINUO_ERROR_H
#define CONTINUO_ERROR_H

#include <glib.h>

#define CN_ERROR (cn_error_quark())
GQuark cn_error_quark(void);

typedef enum {
    CN_ERR_IO = 1,      /* cannot open / read / write / mmap */
    CN_ERR_FORMAT,      /* malformed content (bad header, bad chunk, garbage) */
    CN_ERR_TRUNCATED,   /* file ends before its declared content */
    CN_ERR_UNSUPPORTED, /* valid but not handled (SMPTE division, foreign vocabulary) */
    CN_ERR_VERSION,     /* wrong format version */
    CN_ERR_CHECKSUM,    /* payload does not match its checksum */
    CN_ERR_ARG,         /* bad argument / option */
    CN_ERR_JACK,        /* JACK server or client problem */
    CN_ERR_SYNTH,       /* FluidSynth / SoundFont problem */
} cn_error_code;

/* Text from a file or the user, made safe to echo in a one-line message:
 * control bytes (ESC, BEL, CR, NUL ...) and bytes that are not UTF-8 become
 * \xHH, and more than max bytes are cut with "...". Newly allocated. */
char *cn_printable(const char *s, size_t max);

#endif
