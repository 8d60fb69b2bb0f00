/* read_file.h — reading a whole input file with the same rules everywhere
 * (MIDI files, token lists): a regular file or standard input ("-"), at most
 * max_bytes, refused with one line otherwise, so /dev/zero, a FIFO or a huge
 * file never hangs the program or eats the memory. Not real-time safe. */
#ifndef CONTINUO_READ_FILE_H
#define CONTINUO_READ_FILE_H

#include <stddef.h>
#include <stdint.h>
#include <glib.h>

/* The limit of a text input (a token list): 64 MiB, like a MIDI file. */
#define CN_TEXT_MAX_BYTES ((size_t)64 << 20)

/* The file's bytes (g_free them) and *len; one extra 0 byte after them (not
 * counted), so text can be read as a C string. "-" reads stdin up to the
 * same limit. NULL + err: "NAME: cannot open: why", "NAME: not a regular
 * file", "NAME: more than N MiB (the limit)". */
uint8_t *cn_read_file(const char *path, size_t max_bytes, size_t *len, GError **err);

/* A preset (GLib key file) read with these rules: a regular file of at most
 * 1 MiB that is text (UTF-8, no NUL byte); errors quote what they echo with
 * cn_printable, so a binary file or one full of escape codes gives one
 * readable line. FALSE + err ("PATH: not a text file", "PATH: line 3: ..."). */
gboolean cn_read_keyfile(GKeyFile *kf, const char *path, GError **err);

#endif
