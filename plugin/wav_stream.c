/* wav_stream.c — progressive 16-bit PCM WAV writer (RIFF, little-endian).
 * Layout: "RIFF" size "WAVE", "fmt " chunk (16 bytes, PCM), "data" size. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include "error.h"
#include "wav_stream.h"

#define WAV_HEADER_BYTES 44

struct wav_stream {
    FILE *f;
    char *path;
    uint32_t rate;
    int channels;
    uint64_t frames;
};

static void put16(uint8_t *p, uint16_t v) { p[0] = v & 0xff; p[1] = v >> 8; }
static void put32(uint8_t *p, uint32_t v) { for (int i = 0; i < 4; i++) p[i] = (v >> (8 * i)) & 0xff; }

static void wav_header(const wav_stream *w, uint8_t h[WAV_HEADER_BYTES])
{
    uint64_t data = w->frames * (uint64_t)w->channels * 2;
    if (data > 0xffffffffu - 36) data = 0xffffffffu - 36; /* RIFF's 4 GiB limit */
    memcpy(h, "RIFF", 4);
    put32(h + 4, (uint32_t)(36 + data));
    memcpy(h + 8, "WAVEfmt ", 8);
    put32(h + 16, 16);
    put16(h + 20, 1); /* PCM */
    put16(h + 22, (uint16_t)w->channels);
    put32(h + 24, w->rate);
    put32(h + 28, w->rate * (uint32_t)w->channels * 2); /* bytes per second */
    put16(h + 32, (uint16_t)(w->channels * 2));          /* bytes per frame */
    put16(h + 34, 16);
    memcpy(h + 36, "data", 4);
    put32(h + 40, (uint32_t)data);
}

wav_stream *wav_stream_open(const char *path, uint32_t rate, int channels, GError **err)
{
    FILE *f = fopen(path, "wb");
    if (!f) {
        g_set_error(err, CN_ERROR, CN_ERR_IO, "%s: cannot write: %s", path, g_strerror(errno));
        return NULL;
    }
    wav_stream *w = g_new0(wav_stream, 1);
    w->f = f;
    w->path = g_strdup(path);
    w->rate = rate;
    w->channels = channels;
    uint8_t h[WAV_HEADER_BYTES];
    wav_header(w, h);
    if (fwrite(h, 1, sizeof h, f) != sizeof h) {
        g_set_error(err, CN_ERROR, CN_ERR_IO, "%s: cannot write the header", path);
        fclose(f);
        g_free(w->path);
        g_free(w);
        return NULL;
    }
    return w;
}

gboolean wav_stream_write(wav_stream *w, const float *samples, size_t frames, GError **err)
{
    int16_t buf[2048];
    size_t n = frames * (size_t)w->channels, done = 0;
    while (done < n) {
        size_t k = n - done < 2048 ? n - done : 2048;
        for (size_t i = 0; i < k; i++) {
            float s = samples[done + i];
            s = s > 1.f ? 1.f : s < -1.f ? -1.f : s;
            buf[i] = (int16_t)lrintf(s * 32767.f);
        }
        /* WAV is little-endian, as is every machine we build for */
        if (fwrite(buf, sizeof buf[0], k, w->f) != k) {
            g_set_error(err, CN_ERROR, CN_ERR_IO, "%s: write failed: %s", w->path, g_strerror(errno));
            return FALSE;
        }
        done += k;
    }
    w->frames += frames;
    return TRUE;
}

gboolean wav_stream_flush(wav_stream *w, GError **err)
{
    uint8_t h[WAV_HEADER_BYTES];
    wav_header(w, h);
    long pos = ftell(w->f);
    if (fseek(w->f, 0, SEEK_SET) != 0 || fwrite(h, 1, sizeof h, w->f) != sizeof h ||
        fseek(w->f, pos, SEEK_SET) != 0 || fflush(w->f) != 0) {
        g_set_error(err, CN_ERROR, CN_ERR_IO, "%s: cannot update the header: %s", w->path,
                    g_strerror(errno));
        return FALSE;
    }
    return TRUE;
}

uint64_t wav_stream_frames(const wav_stream *w) { return w->frames; }

gboolean wav_stream_close(wav_stream *w, GError **err)
{
    if (!w) return TRUE;
    gboolean ok = wav_stream_flush(w, err);
    if (fclose(w->f) != 0 && ok) {
        g_set_error(err, CN_ERROR, CN_ERR_IO, "%s: close failed: %s", w->path, g_strerror(errno));
        ok = FALSE;
    }
    g_free(w->path);
    g_free(w);
    return ok;
}
