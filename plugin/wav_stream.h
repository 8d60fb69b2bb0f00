/* wav_stream.h — a 16-bit PCM WAV file written progressively: the header is
 * written first with zero sizes and patched on close, so a recording that
 * is cut short is still a valid file up to its last flush.
 *
 * Not real-time safe (file I/O): feed it from a non-RT thread that drains
 * the RT thread's audio ring. */
#ifndef CONTINUO_WAV_STREAM_H
#define CONTINUO_WAV_STREAM_H

#include <stddef.h>
#include <stdint.h>
#include <glib.h>

typedef struct wav_stream wav_stream;

wav_stream *wav_stream_open(const char *path, uint32_t rate, int channels, GError **err);
/* Appends frames of interleaved float samples (clipped to [-1, 1]). */
gboolean wav_stream_write(wav_stream *w, const float *samples, size_t frames, GError **err);
/* Patches the sizes into the header (so the file is valid as it stands). */
gboolean wav_stream_flush(wav_stream *w, GError **err);
uint64_t wav_stream_frames(const wav_stream *w);
/* Flushes, closes and frees (w may be NULL). */
gboolean wav_stream_close(wav_stream *w, GError **err);

#endif
